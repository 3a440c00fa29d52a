"""Policy gateway between agents and their memory and tools. Not implemented yet: see the issues."""

__all__: list[str] = []
