"""What a checkpoint stores in the committed offset's metadata, atomically with the outputs.

``{"v":1,"a":"3-5,9","jf":1234}``:

- ``a`` — input offsets *above* the committed offset whose runs already completed (their
  outputs are in the same transaction), as ranges relative to the committed offset. With
  key-ordered parallelism a later record can finish before an earlier one; after a crash the
  new owner skips these instead of running them twice.
- ``jf`` — the journal offset from which the new owner must read to see every step record of
  every run not yet completed ("journal floor").

Kafka keeps at most ``offset.metadata.max.bytes`` (default 4096) of metadata, so the span of
uncommitted offsets a partition may hold is bounded (``MAX_UNCOMMITTED``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["MAX_UNCOMMITTED", "CheckpointMeta"]

# Worst case (every other offset done) is ~4 characters per offset: 1000 fits well in 4096.
MAX_UNCOMMITTED = 1000


@dataclass(frozen=True, slots=True)
class CheckpointMeta:
    """Completed-ahead offsets and the journal floor of one committed position."""

    done_ahead: frozenset[int]
    journal_floor: int | None

    def encode(self, position: int) -> str:
        """The metadata string for committed offset ``position``."""
        body: dict[str, object] = {"v": 1, "a": _ranges(o - position for o in self.done_ahead)}
        if self.journal_floor is not None:
            body["jf"] = self.journal_floor
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str, position: int) -> CheckpointMeta:
        """Parse metadata written by :meth:`encode`; anything else means "nothing known"."""
        try:
            body = json.loads(text) if text else {}
            ahead = frozenset(position + d for d in _parse_ranges(str(body.get("a", ""))))
            floor = body.get("jf")
            return cls(ahead, int(floor) if floor is not None else None)
        except (ValueError, TypeError, AttributeError):
            return cls(frozenset(), None)


def _ranges(deltas: Iterable[int]) -> str:
    parts: list[str] = []
    ordered = sorted(deltas)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _parse_ranges(text: str) -> list[int]:
    values: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        values.extend(range(int(low), int(high or low) + 1))
    return values
