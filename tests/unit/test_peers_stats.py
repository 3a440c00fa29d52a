"""The arithmetic of the peers benchmark (bench/peers/_stats.py): no I/O, no timing."""

from __future__ import annotations

import pytest

from bench.peers._stats import Duplicates, count_duplicates, per_step, percentile, ratio


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 pick the nearest-rank value; a single value is every percentile."""
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0


@pytest.mark.parametrize(("values", "q"), [([], 0.5), ([1.0], 0.0), ([1.0], 1.5)])
def test_percentile_refuses_what_has_none(values: list[float], q: float) -> None:
    """An empty sample or a quantile outside (0, 1] is refused with a clear error."""
    with pytest.raises(ValueError, match=r"percentile|quantile"):
        percentile(values, q)


def test_per_step_is_the_mean_gap_between_step_times() -> None:
    """Three step times 10 s and 30 s after the first give 15 s a step; one time gives none."""
    assert per_step([[100.0, 110.0, 130.0], [5.0]]) == [15.0]


def test_duplicates_count_repeats_and_missing_ids() -> None:
    """Repeated sink lines and outputs count beyond the first; ids never output are missing."""
    found = count_duplicates(
        ["a", "b", "b", "c", "c", "c", ""], ["a", "b", "b"], expected=["a", "b", "c", "d"]
    )
    assert found == Duplicates(ids=2, side_effects=3, outputs=1, missing=2)


def test_ratio_says_how_many_times_and_survives_zero() -> None:
    """The ratio is one decimal with an x; a zero base gives a dash, not a division error."""
    assert ratio(30.0, 10.0) == "3.0x"
    assert ratio(1.0, 0.0) == "-"
