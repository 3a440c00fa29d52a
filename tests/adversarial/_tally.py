"""Counts of what the adversarial suite tried and what the services answered.

``pytest tests/adversarial -s`` prints them at the end of each module: docs/security.md quotes
the figures.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["TALLY", "record", "report"]

TALLY: Counter[tuple[str, str]] = Counter()


def record(surface: str, outcome: int | str) -> None:
    """Count one input tried on ``surface`` and what came of it (status code or outcome)."""
    TALLY[surface, str(outcome)] += 1


def report() -> str:
    """The tally as lines ``surface  outcome  count``."""
    return "\n".join(f"{s:<28} {o:<14} {n}" for (s, o), n in sorted(TALLY.items()))
