"""Agent registry: identities, versions, status. Not implemented yet: see the issues."""

__all__: list[str] = []
