"""Model <-> record value for the system topics that do not carry envelopes.

``lb.registry``, ``lb.memory``, ``lb.memory.audit``, ``lb.tools.ledger``, ``lb.decisions``,
``lb.policies`` and ``lb.journal.<agent>`` hold one pydantic model per record value, as JSON.
Each of those models is owned by the component that writes it and has one
:class:`RecordCodec`, which the writer and every reader use; nobody calls
``model_dump_json``/``model_validate_json`` on a system-topic value by hand.

Readers must survive records they cannot parse. Compacted topics keep a junk record forever,
so a reader that raised on one would fail on every start from then on. :meth:`RecordCodec.decode`
therefore never raises: a record it cannot decode is logged once (``record_skipped`` with its
``topic``, ``partition``, ``offset`` and ``error_type``), counted, and answered with ``None``.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError
from structlog.typing import FilteringBoundLogger

from longboat._logging import get_logger
from longboat._serde import describe_errors

__all__ = ["RawRecord", "RecordCodec", "log_record_skipped"]

M = TypeVar("M")

_log = get_logger("records")


class RawRecord(Protocol):
    """What the codec needs of a Kafka record (``longboat.kafka.ConsumedRecord`` has it)."""

    @property
    def topic(self) -> str:
        """The topic it was read from."""

    @property
    def partition(self) -> int:
        """Its partition."""

    @property
    def offset(self) -> int:
        """Its offset."""

    @property
    def value(self) -> bytes | None:
        """Its value; ``None`` for a tombstone."""


class RecordCodec(Generic[M]):
    """Encodes one system-topic model to a record value and decodes values back.

    Example::

        AGENT_RECORDS = RecordCodec(AgentRecord)
        await producer.send(topic, AGENT_RECORDS.encode(record), key=...)
        record = AGENT_RECORDS.decode(consumed)  # None: tombstone, or skipped and logged
    """

    def __init__(
        self,
        shape: type[M] | TypeAdapter[M],
        *,
        name: str | None = None,
        exclude_none: bool = False,
    ) -> None:
        """Create the codec.

        Args:
            shape: The model (or a ``TypeAdapter`` of a discriminated union of models).
            name: What the records are called in logs; the model's name by default.
            exclude_none: Leave ``None`` fields out when encoding (only for models whose
                optional fields all default to ``None``: the value then decodes the same).
        """
        self._adapter: TypeAdapter[M] = (
            shape if isinstance(shape, TypeAdapter) else TypeAdapter(shape)
        )
        self.name = name or getattr(shape, "__name__", "record")
        self._exclude_none = exclude_none
        self.skipped = 0

    def encode(self, value: M) -> bytes:
        """The record value of ``value`` (UTF-8 JSON)."""
        return self._adapter.dump_json(value, exclude_none=self._exclude_none)

    def decode_value(self, value: bytes) -> M:
        """Decode a record value, raising on anything that is not a valid ``M``.

        For values that do not come from a topic read (a file, a test). Readers of topics use
        :meth:`decode`, which never raises.

        Raises:
            ValueError: The value is not JSON of this model's shape; the message says where.
        """
        try:
            return self._adapter.validate_json(value)
        except ValidationError as e:
            raise ValueError(f"not a valid {self.name}: {describe_errors(e)}") from e

    def decode(self, record: RawRecord) -> M | None:
        """The model in ``record``; ``None`` for a tombstone or a record that cannot be decoded.

        A record that cannot be decoded is logged as ``record_skipped`` and counted in
        :attr:`skipped`; it is never raised to the read loop. Tombstones are not errors (they
        delete a key of a compacted topic): callers that care check ``record.value is None``.
        """
        if record.value is None:
            return None
        try:
            return self._adapter.validate_json(record.value)
        except ValidationError as e:
            self._skip(record, e)
            return None

    def _skip(self, record: RawRecord, error: ValidationError) -> None:
        self.skipped += 1
        log_record_skipped(
            _log, record, error, model=self.name, reason=describe_errors(error)[:300]
        )


def log_record_skipped(
    log: FilteringBoundLogger, record: RawRecord, error: Exception, **fields: object
) -> None:
    """Log a record a reader could not use and skipped: ``record_skipped``, where it is and why.

    Every reader that survives junk logs it this one way, so one query finds them all.
    """
    log.warning(
        "record_skipped",
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error_type=type(error).__name__,
        **fields,
    )
