"""The clock of a sped-up SITL run: the wall clock until the speed-up, then that many times faster, never
jumping at the change; a rate that is not a positive number is refused."""

from __future__ import annotations

import time

import pytest

from sim.runners.sitl import SitlClock


def test_the_clock_runs_at_its_rate_and_is_continuous_across_a_change() -> None:
    clock = SitlClock()
    a = clock()
    assert abs(a - time.monotonic()) < 0.01  # the wall clock before any speed-up
    clock.set_rate(5.0)
    b, wall_b = clock(), time.monotonic()
    assert 0.0 <= b - a < 0.01  # no jump at the change
    time.sleep(0.1)
    c, wall_c = clock(), time.monotonic()
    assert c - b == pytest.approx(5.0 * (wall_c - wall_b), abs=0.01)
    target = clock() + 0.5  # half a second of the sped-up clock is a tenth of one of the wall clock
    t0 = time.monotonic()
    clock.sleep_until(target)
    assert clock() >= target and time.monotonic() - t0 < 0.3


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_rate_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        SitlClock().set_rate(rate)
