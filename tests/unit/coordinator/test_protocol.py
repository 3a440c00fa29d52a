"""The coordinator's messages: one serde each, and no CloudEvents type declared twice."""

from __future__ import annotations

import ast
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from longboat import Envelope
from longboat.coordinator import (
    HistoryEntry,
    SignalData,
    history_entry_of,
    history_event,
    signal_event,
    signal_of,
)
from longboat.coordinator._machine import SignalReceived, TimerFired
from longboat.coordinator._protocol import (
    CoordinatorEvent,
    coordinator_event,
    coordinator_event_of,
)
from longboat.errors import EventError

REPO = Path(__file__).resolve().parents[3]
_TYPE = re.compile(r"^longboat\.[a-z_]+(\.[a-z_]+)*$")


def test_signal_round_trips_and_a_bad_one_names_the_field() -> None:
    """signal_event writes what signal_of reads; a wrong signal is an EventError naming it."""
    signal = SignalData(signal="approve", by="ops", note="ok")
    assert signal_of(signal_event("c-1", signal)) == ("c-1", signal)
    assert signal_of(Envelope(type="other", source="/x")) is None
    bad = signal_event("c-1", signal).model_copy(update={"data": {"signal": "maybe", "by": "x"}})
    with pytest.raises(EventError, match="signal"):
        signal_of(bad)


def test_coordinator_events_and_history_round_trip() -> None:
    """The router's and timer loop's events and the history entries read back as written."""
    body = CoordinatorEvent(event=SignalReceived(signal="cancel", by="ops"))
    assert coordinator_event_of(coordinator_event("w", body)) == ("w", body)
    fired = CoordinatorEvent(event=TimerFired(step_id="s", purpose="timer", token="s:timer"))
    assert coordinator_event_of(coordinator_event("w", fired))[1] == fired
    with pytest.raises(EventError, match="expected"):
        coordinator_event_of(Envelope(type="longboat.other", source="/x", workflowid="w"))
    entry = HistoryEntry(type="TaskDispatched", data={"step": "a"})
    written = history_event("w", entry)
    assert (written.subject, history_entry_of(written)) == ("TaskDispatched", entry)
    assert history_entry_of(Envelope(type="x", source="/x")) is None


def _declared_types() -> Counter[str]:
    """Every ``longboat.*`` event type declared as a constant or passed as ``type=``."""
    found: Counter[str] = Counter()
    root = REPO / "longboat"
    files = (Path(d) / f for d, _, fs in os.walk(root, followlinks=True) for f in fs)
    for path in (f for f in files if f.suffix == ".py"):
        tree = ast.parse(path.read_text())
        constants = [
            node.value
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant)
        ]
        keywords = [
            kw.value
            for call in ast.walk(tree)
            if isinstance(call, ast.Call)
            for kw in call.keywords
            if kw.arg == "type" and isinstance(kw.value, ast.Constant)
        ]
        for value in (*constants, *keywords):
            assert isinstance(value, ast.Constant)
            if isinstance(value.value, str) and _TYPE.match(value.value):
                found[value.value] += 1
    return found


def test_no_event_type_is_declared_twice() -> None:
    """Writer and reader share one constant: a second declaration of a type string fails."""
    declared = _declared_types()
    assert "longboat.task.completed" in declared  # the scan sees the contracts
    assert [t for t, n in declared.items() if n > 1] == []
