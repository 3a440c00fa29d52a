"""The system-topic record codec: one serde per model, and readers that survive junk."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from longboat import RecordCodec, configure_logging
from longboat.agents._journal import JOURNAL_RECORDS, JournalRecord
from longboat.gateway import POLICY_RECORDS, GatewayPolicyStatus, PolicyBundle
from longboat.registry import AGENT_RECORDS, AgentRecord

JUNK = [b"not json", b'{"agent_id": 7}', b"", b"[1, 2]", b"\xff\xfe", b'{"kind": "nope"}']
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes | None


def test_round_trip_keeps_the_model() -> None:
    """What a writer encodes, a reader decodes to an equal model."""
    record = AgentRecord(agent_id="triage", versions={}, updated_at=NOW)
    value = AGENT_RECORDS.encode(record)
    assert AGENT_RECORDS.decode(Record("lb.registry", 0, 1, value)) == record
    assert AGENT_RECORDS.decode_value(value) == record


def test_union_codec_decodes_each_kind() -> None:
    """lb.policies holds bundles and gateway statuses; the codec tells them apart by kind."""
    bundle = PolicyBundle(
        name="longboat",
        digest="sha256:x",
        modules={"a.rego": "package a"},
        data={},
        published_at=NOW,
    )
    status = GatewayPolicyStatus(
        gateway="gw", bundle="longboat", digest=None, loaded_at=NOW, ok=True
    )
    for value in (bundle, status):
        decoded = POLICY_RECORDS.decode(Record("lb.policies", 0, 0, POLICY_RECORDS.encode(value)))
        assert decoded == value


def test_exclude_none_still_round_trips() -> None:
    """Journal records leave None fields out and still decode to the same record."""
    record = JournalRecord(
        state="started",
        agent="a",
        run_id="r",
        topic="t",
        partition=0,
        offset=3,
        index=0,
        name="s",
        fp="f",
        time=NOW,
    )
    value = JOURNAL_RECORDS.encode(record)
    assert b"error" not in value
    assert JOURNAL_RECORDS.decode(Record("lb.journal.a", 0, 0, value)) == record


@pytest.mark.parametrize("value", JUNK)
def test_junk_is_skipped_logged_and_counted(value: bytes) -> None:
    """A record that is not the model gives None, one record_skipped warning and a count."""
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    codec = RecordCodec(AgentRecord)
    assert codec.decode(Record("lb.registry", 2, 41, value)) is None
    assert codec.skipped == 1
    (line,) = [json.loads(x) for x in out.getvalue().splitlines()]
    assert line["event"] == "record_skipped"
    assert (line["topic"], line["partition"], line["offset"]) == ("lb.registry", 2, 41)
    assert line["error_type"] == "ValidationError"
    assert line["level"] == "warning"


def test_tombstone_is_not_junk() -> None:
    """A tombstone decodes to None without a warning or a count (it deletes a compacted key)."""
    codec = RecordCodec(AgentRecord)
    assert codec.decode(Record("lb.registry", 0, 0, None)) is None
    assert codec.skipped == 0


def test_decode_value_raises_a_clear_error() -> None:
    """Outside a topic read, a bad value raises ValueError naming the model and the field."""
    with pytest.raises(ValueError, match="not a valid AgentRecord: agent_id"):
        AGENT_RECORDS.decode_value(
            b'{"agent_id": 7, "versions": {}, "updated_at": "2025-01-01T00:00:00Z"}'
        )
