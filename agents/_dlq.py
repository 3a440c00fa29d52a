"""Dead letters: records an agent could not process, with why, and their replay."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from longboat import Envelope, EnvelopeSerde, KafkaSettings, get_logger, log_record_skipped
from longboat.agents._outputs import OutputRecord, output_of
from longboat.errors import EventError, LongboatError, UsageError
from longboat.kafka import ConsumedRecord, TransactionalProducer, read_to_end

_log = get_logger("agents.dlq")

__all__ = [
    "DLQ_TYPE",
    "REPLAYED_TYPE",
    "DeadLetter",
    "DeadLetterEntry",
    "dead_letter_output",
    "list_dead_letters",
    "replay_dead_letters",
]

DLQ_TYPE = "longboat.dlq.record"
REPLAYED_TYPE = "longboat.dlq.replayed"


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


class DeadLetter(BaseModel):
    """Why a record failed, and the record itself (bytes kept exactly, base64)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: str
    run_id: str
    error_type: str
    error_code: str
    message: str
    retryable: bool
    attempts: int
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    value: str | None
    headers: list[tuple[str, str]]

    @classmethod
    def of(
        cls, agent: str, run_id: str, record: ConsumedRecord, error: BaseException, attempts: int
    ) -> DeadLetter:
        """Describe ``record``'s failure with ``error``."""
        return cls(
            agent=agent,
            run_id=run_id,
            error_type=type(error).__name__,
            error_code=error.code if isinstance(error, LongboatError) else "unhandled",
            message=str(error)[:4000],
            retryable=bool(getattr(error, "retryable", False)),
            attempts=attempts,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp_ms,
            key=_b64(record.key),
            value=_b64(record.value),
            headers=[(name, _b64(value) or "") for name, value in record.headers],
        )


def dead_letter_output(
    serde: EnvelopeSerde, dlq_topic: str, letter: DeadLetter, record: ConsumedRecord
) -> OutputRecord:
    """The DLQ record for ``letter`` (keyed like the original, so replays keep key order)."""
    event = Envelope(
        type=DLQ_TYPE,
        source=f"longboat/agent/{letter.agent}",
        subject=record.coordinates,
        data=letter.model_dump(mode="json"),
    )
    return output_of(serde, dlq_topic, event, record.key)


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    """A dead letter as listed: its DLQ event id and time, and whether it was replayed."""

    id: str
    time: datetime
    letter: DeadLetter
    replayed: bool


async def list_dead_letters(kafka: KafkaSettings, topic: str) -> list[DeadLetterEntry]:
    """Every dead letter on ``topic``, oldest first per partition, marked if replayed."""
    serde = EnvelopeSerde()
    letters: list[tuple[Envelope, DeadLetter]] = []
    replayed: set[str] = set()
    async for raw in read_to_end(kafka, topic):
        try:
            event = serde.decode(raw.value, raw.headers)
            if event.type == REPLAYED_TYPE and isinstance(event.data, dict):
                replayed.add(str(event.data.get("dlq_id")))
            elif event.type == DLQ_TYPE:
                letters.append((event, DeadLetter.model_validate(event.data)))
        except (EventError, ValidationError) as e:
            # Not ours (a DLQ topic may be shared with other tools) or damaged: listed nowhere.
            log_record_skipped(_log, raw, e)
    return [DeadLetterEntry(e.id, e.time, letter, e.id in replayed) for e, letter in letters]


async def replay_dead_letters(
    kafka: KafkaSettings, topic: str, *, ids: set[str] | None
) -> list[DeadLetterEntry]:
    """Put dead letters back on their original topic, byte for byte, and mark them replayed.

    Args:
        kafka: Connection settings.
        topic: The DLQ topic.
        ids: The DLQ event ids to replay; ``None`` replays every one not replayed yet.

    Raises:
        UsageError: An id is unknown or was already replayed.
    """
    entries = await list_dead_letters(kafka, topic)
    by_id = {e.id: e for e in entries}
    if ids is None:
        chosen = [e for e in entries if not e.replayed]
    else:
        unknown = sorted(ids - by_id.keys())
        if unknown:
            raise UsageError(
                f"no dead letter with id {', '.join(unknown)} on {topic} (see `longboat dlq list`)"
            )
        chosen = [by_id[i] for i in sorted(ids)]
        done = [e.id for e in chosen if e.replayed]
        if done:
            raise UsageError(f"dead letter {', '.join(done)} was already replayed")
    serde = EnvelopeSerde()
    # One transaction: a record is back on its topic if and only if it is marked replayed.
    async with (
        TransactionalProducer(kafka, transactional_id=f"longboat.dlq-replay.{topic}") as producer,
        producer.transaction(),
    ):
        for entry in chosen:
            letter = entry.letter
            headers = [(name, _unb64(value) or b"") for name, value in letter.headers]
            await producer.send(
                letter.topic, _unb64(letter.value), key=_unb64(letter.key), headers=headers
            )
            marker = Envelope(type=REPLAYED_TYPE, source="longboat-cli", data={"dlq_id": entry.id})
            encoded = serde.encode(marker)
            await producer.send(
                topic, encoded.value, key=_unb64(letter.key), headers=encoded.headers
            )
    return chosen
