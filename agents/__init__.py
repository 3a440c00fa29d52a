"""The agent runtime (SDK) and built-in specialist agents. Not implemented yet: see the issues."""

__all__: list[str] = []
