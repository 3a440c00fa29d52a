"""Workflow coordinator (faust-streaming app). Not implemented yet: see the issues."""

__all__: list[str] = []
