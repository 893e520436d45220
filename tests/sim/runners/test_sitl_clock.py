"""The clock of a sped-up SITL run: the wall clock until the speed-up, then that many times faster, never
jumping at the change; a rate that is not a positive number is refused."""

from __future__ import annotations

import itertools
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


class _FakeTime:
    """Wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += max(0.0, s)


@pytest.fixture
def wall(monkeypatch):
    fake = _FakeTime()
    monkeypatch.setattr("sim.runners.sitl.time", fake)
    return fake


def test_a_followed_clock_runs_at_the_autopilots_pace_not_the_asked_rate(wall) -> None:
    """SIM_SPEEDUP 5 asked, but the SITL only manages 4x: the clock (the world's and the stack's) runs at 4x."""
    clock = SitlClock()
    clock.set_rate(5.0)
    ap = {"ms": 50_000}
    clock.follow(lambda: ap["ms"])
    start = clock()
    for _ in range(200):  # 2 s of wall time, a report every 10 ms of it
        wall.now += 0.01
        ap["ms"] += 40
        clock()
    assert clock() - start == pytest.approx(8.0, abs=0.1)  # 4x, not 5x


def test_a_followed_clock_runs_at_most_the_horizon_past_the_last_report_then_free(wall) -> None:
    clock = SitlClock()
    clock.set_rate(5.0)
    clock.follow(lambda: 1000)
    t0 = clock()
    wall.now += 0.3  # no new report for 0.3 s of wall time (1.5 s at the rate)
    assert clock() - t0 == pytest.approx(SitlClock.FOLLOW_HORIZON_S)
    wall.now += 0.5  # 0.8 s: running free at the rate again, so every timeout measured on it still expires
    assert clock() - t0 == pytest.approx(SitlClock.FOLLOW_HORIZON_S + 0.3 * 5.0)


def test_a_followed_clock_never_runs_backwards_and_survives_a_reboot(wall) -> None:
    clock = SitlClock()
    clock.set_rate(2.0)
    ap = {"ms": 10_000}
    clock.follow(lambda: ap["ms"])
    readings = [clock()]
    for ms in (10_100, 10_050, 10_200, 300, 400):  # a late duplicate, then the autopilot reboots
        ap["ms"] = ms
        wall.now += 0.05
        readings.append(clock())
    assert all(b >= a for a, b in itertools.pairwise(readings))
    assert readings[-1] - readings[-2] == pytest.approx(0.1, abs=1e-9)  # on the rebooted clock's pace
