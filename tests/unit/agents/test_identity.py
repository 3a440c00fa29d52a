"""The idempotency-key contract: run ids, fingerprints, journal partitions, txn ids pinned."""

from __future__ import annotations

import pytest

from longboat.agents import canonical_json, run_id, step_fingerprint
from longboat.agents._identity import fork_marker, fork_run_id, fork_transactional_id
from longboat.agents._journal import journal_partition
from longboat.agents._partition import transactional_id
from longboat.errors import UsageError
from longboat.kafka import TopicPartition

FORK_ID = "34a4395dc2ef2b4849a82861d257b115"


def test_run_id_is_pinned() -> None:
    """run_id(group, topic, partition, offset) never changes: journals and providers key on it."""
    assert (
        run_id("lb.agent.triage", "claims.submitted", 3, 1042) == "a0671e30e04a8c66bb6d6afaf661383b"
    )


def test_run_id_depends_on_every_coordinate() -> None:
    """Changing any coordinate gives another run id."""
    base = run_id("g", "t", 0, 0)
    assert (
        len(
            {
                base,
                run_id("h", "t", 0, 0),
                run_id("g", "u", 0, 0),
                run_id("g", "t", 1, 0),
                run_id("g", "t", 0, 1),
            }
        )
        == 5
    )
    assert run_id("g", "t1", 0, 0) != run_id("g", "t", 10, 0)


def test_step_fingerprint_is_pinned_and_chained() -> None:
    """fp = sha256(name ‖ canonical args ‖ previous fp): pinned value, and the chain matters."""
    first = step_fingerprint("charge", canonical_json([120, {"b": 1, "a": 2}]), "r" * 32)
    assert first == "7fb925fe2ee6af5446903f1a319f35176152a3a0666ca5152bf63ca3693ca54e"
    assert step_fingerprint("charge", canonical_json([120, {"b": 1, "a": 2}]), first) != first
    assert step_fingerprint("refund", canonical_json([120, {"b": 1, "a": 2}]), "r" * 32) != first


def test_canonical_json_is_order_independent_and_strict() -> None:
    """Key order and whitespace do not change canonical JSON; NaN and objects are refused."""
    assert canonical_json({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'
    with pytest.raises(UsageError, match="JSON"):
        canonical_json(float("nan"))
    with pytest.raises(UsageError, match="JSON"):
        canonical_json(object())


def test_journal_partition_and_transactional_id_are_pinned() -> None:
    """Where a partition's journal lives and its fencing identity never change."""
    assert journal_partition("claims.submitted", 3, 12) == 5
    assert (
        transactional_id("lb.agent.triage", TopicPartition("claims.submitted", 3))
        == "lb.agent.triage.claims.submitted.3"
    )


def test_fingerprint_matches_its_documented_formula() -> None:
    """The fingerprint is exactly sha256 over name, args and previous fp, unit-separated."""
    import hashlib

    expected = hashlib.sha256(b"llm\x1f[1]\x1fprev").hexdigest()
    assert step_fingerprint("llm", "[1]", "prev") == expected


def test_fork_formats_are_pinned() -> None:
    """Fork ids, the fork marker and a fork's transactional id never change."""
    parent = "a0671e30e04a8c66bb6d6afaf661383b"
    assert fork_run_id(parent, 1) == FORK_ID
    assert fork_run_id(parent, 2) != fork_run_id(parent, 1)
    assert fork_marker(FORK_ID, "f" * 64) == step_fingerprint(
        "longboat.fork", canonical_json([FORK_ID]), "f" * 64
    )
    assert fork_transactional_id("lb.agent.triage", FORK_ID) == f"lb.agent.triage.fork.{FORK_ID}"
