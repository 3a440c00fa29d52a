"""A restarted worker takes the records fetched while it opened, or seeks when they fall short."""

from __future__ import annotations

from longboat.agents._runner import hand_over
from longboat.kafka import ConsumedRecord


def _records(*offsets: int) -> list[ConsumedRecord]:
    return [
        ConsumedRecord(
            topic="in", partition=0, offset=o, key=None, value=b"", headers=(), timestamp_ms=0
        )
        for o in offsets
    ]


def test_early_records_from_start_are_submitted_without_a_seek() -> None:
    """Records fetched from before ``start`` on are handed over from ``start``; no seek."""
    submitted: list[int] = []
    seeks: list[int] = []
    hand_over(
        _records(48, 49, 50, 52, 53),
        50,
        submit=lambda r: submitted.append(r.offset),
        seek=seeks.append,
    )
    assert submitted == [50, 52, 53]
    assert seeks == []


def test_nothing_fetched_early_means_a_seek_to_start() -> None:
    """With no early records the worker's partition is read from ``start`` by a seek."""
    submitted: list[int] = []
    seeks: list[int] = []
    hand_over([], 7, submit=lambda r: submitted.append(r.offset), seek=seeks.append)
    assert (submitted, seeks) == ([], [7])


def test_early_records_past_start_are_not_trusted() -> None:
    """Early records that begin after ``start`` could miss some: seek, submit none of them."""
    submitted: list[int] = []
    seeks: list[int] = []
    hand_over(_records(9, 10), 7, submit=lambda r: submitted.append(r.offset), seek=seeks.append)
    assert (submitted, seeks) == ([], [7])


def test_early_records_all_before_start_mean_a_seek() -> None:
    """Early records that end before ``start`` leave the fetcher before it too: seek, none run."""
    submitted: list[int] = []
    seeks: list[int] = []
    hand_over(_records(40, 41), 50, submit=lambda r: submitted.append(r.offset), seek=seeks.append)
    assert (submitted, seeks) == ([], [50])
