"""Pure arithmetic of the peers benchmark: percentiles, per-step times, duplicates, ratios."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Duplicates", "count_duplicates", "per_step", "percentile", "ratio"]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of ``values``.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside (0, 1].
    """
    if not values:
        raise ValueError("no values to take a percentile of")
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} must be in (0, 1]")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least the first
    return ordered[int(rank) - 1]


def per_step(stamps: Iterable[Sequence[float]]) -> list[float]:
    """Seconds between consecutive steps of each event (its first to last step time / gaps).

    The gap between two step bodies is what a system spends making one step's result durable
    and starting the next: its per-step overhead.
    """
    found = []
    for times in stamps:
        if len(times) >= 2:
            found.append((times[-1] - times[0]) / (len(times) - 1))
    return found


@dataclass(frozen=True, slots=True)
class Duplicates:
    """What a run did more than once."""

    ids: int  # distinct event ids with an output
    side_effects: int  # sink lines beyond one per distinct id in the sink
    outputs: int  # output records beyond one per distinct id
    missing: int  # expected ids with no output


def count_duplicates(
    sink_lines: Iterable[str], output_ids: Iterable[str], expected: Iterable[str]
) -> Duplicates:
    """Count repeated side effects and outputs, and ids that never got an output."""
    sink = Counter(line for line in sink_lines if line)
    outputs = Counter(output_ids)
    return Duplicates(
        ids=len(outputs),
        side_effects=sum(sink.values()) - len(sink),
        outputs=sum(outputs.values()) - len(outputs),
        missing=len(set(expected) - set(outputs)),
    )


def ratio(peer: float, longboat: float) -> str:
    """The peer's figure over Longboat's, e.g. ``"7.9x"``; ``"-"`` when Longboat's is zero."""
    return f"{peer / longboat:.1f}x" if longboat else "-"
