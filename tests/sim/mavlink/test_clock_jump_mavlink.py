"""Clock jumps on the MAVLink loop (issue 13 item 1): the companion's clock (the bridge's and the stack's) jumps
ahead of the vehicle's and the ground station's. Every report the bridge holds is suddenly that much older: past
the dead-man or the heartbeat timeout it disengages to a hold and sends nothing more (fail closed); a short jump
is absorbed and follow goes on."""

from __future__ import annotations

import math

import pytest

from sim.campaign.family import MAVLINK_FAULTS, NOMINAL, Case, Fault
from sim.campaign.faults import clock_jump_s, schedule_companion_faults
from sim.runners.campaign_case import run_case
from sim.runners.parts import CompanionClock


class _Vehicle:
    time_s = 0.0

    def step(self, dt_s: float) -> None:
        self.time_s += dt_s


def test_the_companion_clock_jumps_at_its_onset_and_the_ground_station_clock_does_not() -> None:
    from sim.runners.lockstep import LockstepClock

    vehicle = _Vehicle()
    gcs_clock = LockstepClock(vehicle, 0.01)  # type: ignore[arg-type]
    companion = CompanionClock(gcs_clock)
    schedule_companion_faults(companion, Fault("clock_jump", 2.0, 0.5, 1.0), handover_s=10.0)
    vehicle.time_s = 11.99
    assert companion() == gcs_clock() == 11.99
    vehicle.time_s = 12.0
    assert gcs_clock() == 12.0 and companion() == pytest.approx(12.0 + clock_jump_s(Fault("clock_jump", 0, 0, 1.0)))
    assert clock_jump_s(Fault("clock_jump", 0, 0, 1.0)) == 5.0
    with pytest.raises(ValueError, match="jump_s"):
        companion.jump(-1.0, at_s=0.0)  # a monotonic clock never goes back
    with pytest.raises(ValueError, match="jump_s"):
        companion.jump(math.nan, at_s=0.0)


def test_other_faults_leave_the_companion_clock_alone() -> None:
    vehicle = _Vehicle()
    from sim.runners.lockstep import LockstepClock

    companion = CompanionClock(LockstepClock(vehicle, 0.01))  # type: ignore[arg-type]
    schedule_companion_faults(companion, Fault("link_drop", 2.0, 0.5, 1.0), handover_s=0.0)
    vehicle.time_s = 100.0
    assert companion() == 100.0


@pytest.mark.slow
@pytest.mark.parametrize("magnitude", [0.0, 1.0])  # 0.2 s (absorbed) and 5 s (past every timeout)
def test_a_clock_jump_on_the_mavlink_loop_fails_closed_or_is_absorbed(magnitude: float) -> None:
    u = (MAVLINK_FAULTS.index("clock_jump") + 0.5) / len(MAVLINK_FAULTS)
    onset_s = 5.0
    case = Case("walk", 7, {**NOMINAL, "fault": u, "fault_onset_s": onset_s, "fault_duration_s": 6.0,
                            "fault_magnitude": magnitude}, "mavlink")
    row = run_case(case, "t")
    assert row["fault"] == "clock_jump" and row["loop"] == "mavlink"
    assert row["margins"]["standoff_m"] > 0 and row["margins"]["fence_m"] > 0
    assert row["margins"]["disengaged_commands"] == 0
    periods_before = onset_s * 20  # the control rate is 20 Hz
    if magnitude == 0.0:
        assert row["motion_commands"] > 4 * periods_before  # follow went on through the jump
    else:
        # 5 s ahead: the ground station's heartbeat (the dead-man) and the autopilot's are both stale at once; the
        # bridge disengages to a hold at the jump and no motion command goes out after it
        assert 0 < row["motion_commands"] <= periods_before
    assert run_case(case, "t")["trace_hash"] == row["trace_hash"]


def test_the_sitl_fault_jumps_the_companion_clock_once_at_its_world_time() -> None:
    """The real-SITL runner's clock jump (``SitlFaults.clock_jump``): the companion's clock jumps at the first period
    whose world time reaches the onset, once; a backward or absurd jump is refused."""
    from sim.runners.sitl import SitlFaults

    companion = CompanionClock(lambda: 100.0)
    jumps: list[float] = []
    at = SitlFaults(clock_jump=(8.0, 5.0)).clock_switch(companion, on_jump=lambda: jumps.append(companion()))
    at(7.95)
    assert companion() == 100.0 and jumps == []
    at(8.0)
    at(9.0)
    assert companion() == 105.0 and jumps == [105.0]
    for bad in ((8.0, -1.0), (-1.0, 5.0), (8.0, 600.0)):
        with pytest.raises(ValueError, match="clock_jump"):
            SitlFaults(clock_jump=bad)
