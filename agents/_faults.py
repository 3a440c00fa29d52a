"""Fault points for chaos tests: kill this process (SIGKILL) at a named point.

``LONGBOAT_AGENT__FAULTS="checkpoint.before_commit@3,step.after_run"`` kills the process the
3rd time the runtime reaches ``checkpoint.before_commit`` (or the 1st time it reaches
``step.after_run``). Empty (the default) costs one dict lookup per point. Points:

- ``step.after_run`` — a step's function returned; its completion is not journalled yet
  (the step is *in doubt* on restart).
- ``run.after_handler`` — the handler returned; the run's outputs are not committed yet.
- ``checkpoint.before_commit`` — inside the transaction: outputs and offsets sent, not committed.
- ``checkpoint.after_commit`` — the transaction committed.
"""

from __future__ import annotations

import os
import signal

from longboat.errors import ConfigError

__all__ = ["POINTS", "FaultPlan"]

POINTS = frozenset(
    {"step.after_run", "run.after_handler", "checkpoint.before_commit", "checkpoint.after_commit"}
)


class FaultPlan:
    """Which fault points fire, and on which hit."""

    def __init__(self, spec: str = "") -> None:
        """Parse ``point[@n],...``.

        Raises:
            ConfigError: An unknown point or a bad count (the message lists the valid points).
        """
        self._fire_at: dict[str, int] = {}
        self._hits: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, count = item.partition("@")
            if name not in POINTS:
                raise ConfigError(
                    f"LONGBOAT_AGENT__FAULTS: unknown fault point {name!r}; use one of "
                    + ", ".join(sorted(POINTS))
                )
            if count and not (count.isdigit() and int(count) >= 1):
                raise ConfigError(
                    f"LONGBOAT_AGENT__FAULTS: {item!r}: the count after @ must be >= 1"
                )
            self._fire_at[name] = int(count or 1)

    def reached(self, point: str) -> None:
        """Count a visit to ``point``; SIGKILL this process if the plan says so."""
        if point not in self._fire_at:
            return
        self._hits[point] = self._hits.get(point, 0) + 1
        if self._hits[point] == self._fire_at[point]:
            os.kill(os.getpid(), signal.SIGKILL)
