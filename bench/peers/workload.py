"""The one workload every system runs, in the standard library only (the peers import it too).

An input record's value is ``{"id": ..., "sent": ...}`` (the data of a binary-mode CloudEvent, so
Longboat reads the same bytes as the peers). Each system runs three durable steps per event:
``receive`` and ``finish`` return the wall-clock time they ran at, ``side_effect`` appends the
event id to a sink file (one line per execution, so re-executions show as duplicate lines)
and returns its time too. The output record carries the id and the three step times.
"""

from __future__ import annotations

import json
import os
import time

__all__ = [
    "STEPS",
    "Environment",
    "event_id",
    "output_value",
    "receive",
    "side_effect",
]

STEPS = 3  # durable steps per event


class Environment:
    """The variables the driver hands a worker process (``PEER_*``)."""

    def __init__(self) -> None:
        """Read them; a missing one is a driver bug, so it raises ``KeyError``."""
        self.bootstrap = os.environ["PEER_BOOTSTRAP"]
        self.input = os.environ["PEER_INPUT"]
        self.output = os.environ["PEER_OUTPUT"]
        self.sink = os.environ["PEER_SINK"]
        self.group = os.environ["PEER_GROUP"]


def event_id(value: bytes) -> str:
    """The id of an input record."""
    return str(json.loads(value)["id"])


def receive(_event_id: str) -> float:
    """Step 1 (and step 3): the time the step ran at."""
    return time.time()


def side_effect(sink: str, event: str) -> float:
    """Step 2: append the id to the sink file (a line per execution); the time it ran at."""
    with open(sink, "a", encoding="utf-8") as file:
        file.write(event + "\n")
    return time.time()


def output_value(event: str, stamps: list[float]) -> bytes:
    """The output record's value: the id and the three step times."""
    return json.dumps({"id": event, "stamps": stamps}).encode()
