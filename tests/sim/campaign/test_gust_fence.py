"""The 10,000-case campaign's closest fence call (case 5ee2f23cd871 at e3c7bd7: leave_fence, 7.1 m/s wind, 2.2 m/s
gusts, no fault, 0.06 m from the fence) with its gusts raised to the family's maximum, 3 m/s: the vehicle crossed
the fence by 0.10 m with the fixed 0.5 m margin. The governor now widens the margin by the vehicle's recent
tracking error (``SafetyGovernor.disturbance_allowance_m``)."""

from __future__ import annotations

import pytest

from sim.campaign.family import Case
from sim.runners.campaign_case import run_case

PARAMS = {"bystander_bearing_rad": 2.3657, "bystander_mode": 0.0394, "bystander_range_m": 15.4191,
          "bystander_speed_mps": 2.4838, "bystander_start_s": 15.4922, "bystanders": 2.1825,
          "design_person_speed_mps": 6.0629, "detector_miss_scale": 1.2017, "fault": 0.1018,
          "fault_duration_s": 6.5317, "fault_magnitude": 0.1908, "fault_onset_s": 8.1612, "follow_distance_m": 17.1102,
          "gust_mps": 2.2215, "height_margin_m": 1.2406, "max_horizontal_speed_mps": 7.827, "min_standoff_m": 8.1357,
          "wind_dir_rad": 5.0677, "wind_mps": 7.1492}


@pytest.mark.parametrize("gust_mps", [2.2215, 3.0])
def test_gusts_do_not_carry_the_vehicle_out_of_the_fence(gust_mps: float) -> None:
    row = run_case(Case("leave_fence", 457907502, {**PARAMS, "gust_mps": gust_mps}), "t")
    assert row["fault"] == "none"
    # was 0.06 m and -0.10 m; now about 0.55 m: the 0.5 m margin is kept despite the gusts
    assert row["margins"]["fence_m"] >= 0.3, row["margins"]
    assert row["margins"]["standoff_m"] > 0 and row["margins"]["mission"] > 0 and row["motion_commands"] > 400
