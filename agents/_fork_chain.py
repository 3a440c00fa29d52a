"""A fork's fingerprint chain: the parent's before step N, fresh from step N on.

The fork itself (``_fork.py``) and an offline replay of a fork's trace (``_replay.py``) must
chain alike, or the replay reports a divergence at the fork's step N that is not one.
"""

from __future__ import annotations

from dataclasses import dataclass

from longboat.agents._identity import fork_marker
from longboat.agents._trace import TraceHeader

__all__ = ["ForkChain"]


@dataclass(frozen=True, slots=True)
class ForkChain:
    """Where a fork's fingerprints chain from: its parent's run id, then its own marker."""

    parent_run_id: str
    from_step: int
    fork_id: str

    @classmethod
    def of(cls, header: TraceHeader) -> ForkChain | None:
        """The chain of the run ``header`` describes, if it is a fork."""
        if header.forked_from is None or header.fork_from_step is None:
            return None
        return cls(header.forked_from, header.fork_from_step, header.run_id)

    def previous(self, index: int, previous_fp: str) -> str:
        """The fingerprint step ``index`` (from 0) chains from, instead of ``previous_fp``."""
        if index == 0:
            # The parent's chain: steps before N get the parent's fingerprints (served).
            previous_fp = self.parent_run_id
        if index == self.from_step - 1:
            # From N on, keys the parent never used: a provider cannot answer with its result.
            previous_fp = fork_marker(self.fork_id, previous_fp)
        return previous_fp
