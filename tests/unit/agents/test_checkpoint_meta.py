"""Committed-offset metadata: completed-ahead offsets and the journal floor round-trip."""

from __future__ import annotations

from longboat.agents._checkpoint_meta import MAX_UNCOMMITTED, CheckpointMeta


def test_round_trip_with_ranges() -> None:
    """Offsets above the position come back exactly; consecutive ones are written as ranges."""
    meta = CheckpointMeta(frozenset({103, 104, 105, 109, 200}), journal_floor=77)
    text = meta.encode(100)
    assert '"a":"3-5,9,100"' in text
    assert CheckpointMeta.decode(text, 100) == meta


def test_empty_and_foreign_metadata_mean_nothing_known() -> None:
    """Metadata from other tools (or none) decodes to no done-ahead offsets and no floor."""
    assert CheckpointMeta.decode("", 5) == CheckpointMeta(frozenset(), None)
    assert CheckpointMeta.decode("written by another tool", 5) == CheckpointMeta(frozenset(), None)
    assert CheckpointMeta.decode('{"a": "x-y"}', 5) == CheckpointMeta(frozenset(), None)


def test_worst_case_fits_kafka_metadata_limit() -> None:
    """Every other offset done across the whole uncommitted span still fits in 4096 bytes."""
    ahead = frozenset(range(1, MAX_UNCOMMITTED, 2))
    assert len(CheckpointMeta(ahead, 10**12).encode(0)) <= 4096
