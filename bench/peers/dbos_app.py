"""The workload on DBOS Transact (run in the DBOS environment): ``python -m bench.peers.dbos_app``.

``@DBOS.kafka_consumer`` starts a workflow per record (its id is the record's topic, partition
and offset, so a redelivered record is not run twice); the three workload steps are
``@DBOS.step``s and a fourth step produces the output (outside a step it would be produced
again when a recovered workflow re-runs). Default settings; ``PEER_DB_URL`` picks the system
database (SQLite or Postgres). Not type-checked: dbos and confluent-kafka live in their own
environment (pyproject's mypy excludes this file).
"""

from __future__ import annotations

import os
import threading

from confluent_kafka import Producer
from dbos import DBOS, KafkaMessage

from bench.peers import workload

ENV = workload.Environment()
DBOS(config={"name": "peer", "system_database_url": os.environ["PEER_DB_URL"]})
_producer = Producer({"bootstrap.servers": ENV.bootstrap, "linger.ms": 0})


@DBOS.step()
def receive(event: str) -> float:
    return workload.receive(event)


@DBOS.step()
def side_effect(event: str) -> float:
    return workload.side_effect(ENV.sink, event)


@DBOS.step()
def produce(event: str, stamps: list[float]) -> None:
    _producer.produce(ENV.output, workload.output_value(event, stamps), key=event.encode())
    _producer.flush()


@DBOS.kafka_consumer({"bootstrap.servers": ENV.bootstrap, "group.id": ENV.group}, [ENV.input])
@DBOS.workflow()
def consume(message: KafkaMessage) -> None:
    event = workload.event_id(message.value)
    stamps = [receive(event), side_effect(event), receive(event)]
    produce(event, stamps)


if __name__ == "__main__":
    DBOS.launch()
    threading.Event().wait()
