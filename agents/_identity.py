"""Run ids, step fingerprints and canonical JSON: the idempotency-key contract.

THESE FORMATS MUST NEVER CHANGE. Run ids and step fingerprints are stored in journals, passed
to tools and payment providers as idempotency keys, and compared on replay after an upgrade.
Changing a byte here makes every in-flight run look new (its steps would run again) and breaks
deduplication at every provider. ``tests/unit/test_identity.py`` pins known values.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from longboat.errors import UsageError

__all__ = [
    "canonical_json",
    "fork_marker",
    "fork_run_id",
    "fork_transactional_id",
    "run_id",
    "step_fingerprint",
]

_SEP = b"\x1f"  # ASCII unit separator: cannot occur in topic or group names.


def run_id(group: str, topic: str, partition: int, offset: int) -> str:
    """The id of the run that processes one input record (32 hex characters).

    Derived only from where the record sits, so a replay of the same record after a crash or
    rebalance gets the same id, and a different record never does.
    """
    material = _SEP.join(
        [group.encode(), topic.encode(), str(partition).encode(), str(offset).encode()]
    )
    return hashlib.sha256(b"longboat.run.v1" + _SEP + material).hexdigest()[:32]


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8, no NaN.

    Raises:
        UsageError: The value is not JSON-serialisable (name the step argument to fix).
    """
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as e:
        raise UsageError(f"not JSON-serialisable: {e}") from e


def step_fingerprint(name: str, args_json: str, previous: str) -> str:
    """``sha256(name ‖ canonical_json(args) ‖ previous fingerprint)`` as 64 hex characters.

    The first step of a run chains from the run id, so equal calls in different runs differ,
    and a step's key depends on every step before it.
    """
    material = _SEP.join([name.encode(), args_json.encode(), previous.encode()])
    return hashlib.sha256(material).hexdigest()


def fork_run_id(parent_run_id: str, ordinal: int) -> str:
    """The id of the ``ordinal``-th fork (from 1) of run ``parent_run_id`` (32 hex characters).

    Counted per parent, so a second fork after a second fix gets a new id (and fresh keys).
    """
    material = _SEP.join([parent_run_id.encode(), str(ordinal).encode()])
    return hashlib.sha256(b"longboat.fork.v1" + _SEP + material).hexdigest()[:32]


def fork_marker(fork_id: str, previous: str) -> str:
    """The fingerprint a fork's step N chains from: ``previous`` mixed with the fork id.

    A virtual ``longboat.fork`` step (never journalled): every step from N on gets a
    fingerprint, hence an idempotency key, that the parent run never used.
    """
    return step_fingerprint("longboat.fork", canonical_json([fork_id]), previous)


def fork_transactional_id(group: str, fork_id: str) -> str:
    """``<group>.fork.<fork id>``: the fencing identity of one fork's output transaction."""
    return f"{group}.fork.{fork_id}"
