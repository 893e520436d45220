"""#12: the holes an adversarial search found under the default config, each flown as a deterministic regression
on ground truth (the simulator's people and vehicle, not the stack's estimates). Each failed before the fixes
(figures from the issue, on the old defaults: follow height 10 m, 2.5 m/s person growth, unseen velocity
credited, 1 px cut-box margin, no position check, 5 cm fence margin and holds that drifted):

- chaser_from_behind (item 1): 7.9 m of a 10 m standoff;  sprinter_ahead (item 2): 8.8 m;
- bystander_off_path (item 3, the detector's box jitter): 9.93 m;  walk_toward under a noisy detector (item 4):
  8.1-8.4 m;  a 12 m GPS glitch inward at the fence (item 5): fence breached by 8.6-11.2 m;
- gusty_fence (item 6): fence margin -0.05 to -0.27 m;  unseen_chaser (item 8): 8.0 m.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drone_perception.config import StackConfig, load_config_text
from drone_perception.control import limits as L
from sim.runners.direct import run_scenario
from sim.runners.lockstep import MavlinkScenarioLoop
from sim.sensing.sensors import DetectionModelParams
from sim.world.scenarios import REGRESSION_SCENARIOS, SCENARIOS

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(REGRESSION_SCENARIOS))
def test_the_regressions_keep_the_standoff_and_the_fence(name: str, seed: int) -> None:
    r = run_scenario(name, StackConfig(), seed=seed, keep_trajectory=False)
    assert r.min_separation_any_m >= r.standoff_m, r.summary()
    assert r.min_fence_margin_m >= 0.0, r.summary()
    assert r.sent_while_disengaged == 0
    # and they did their job: the subject was followed while the bystander ran at the vehicle (detected in
    # 56-79 % of the periods with the calibrated detector profile)
    assert r.mission_failures == [], r.mission_failures
    assert r.subject_in_view_share > 0.5


@pytest.mark.parametrize("params", [DetectionModelParams(box_jitter_rel=0.15),
                                    DetectionModelParams(miss_prob_floor=0.8)], ids=["jitter_15pct", "misses_80pct"])
def test_a_noisy_detector_keeps_the_standoff(params: DetectionModelParams) -> None:
    """Item 4: tracks that are never confirmed are sightings all the same, and at the ground-safe height a
    hold is safe against anyone on the ground. (The mission suffers, and the summary says so: with 80 % misses
    the subject is in view 3 % of the time and seed 0 sends nothing but holds, a mission failure.)"""
    for seed in (0, 1):
        r = run_scenario("walk_toward", StackConfig(), seed=seed, detection_params=params, keep_trajectory=False)
        assert r.min_separation_any_m >= r.standoff_m, r.summary()
        assert r.safety_passed, r.safety_failures


def test_a_gps_glitch_at_the_fence_is_not_believed() -> None:
    """Item 5, through the MAVLink loop: while the vehicle holds at the leave_fence edge the reported position
    jumps 12 m inward (south) for 20 s. The jump is not believed (hold, gate position_jump, BRAKE), so the
    vehicle does not fly out on the glitched estimate."""
    with MavlinkScenarioLoop("leave_fence", StackConfig(), seed=0, keep_trajectory=False) as loop:
        loop.launch()
        while loop.world.t_s < 45.0:
            loop.step()
        loop.vehicle.inject_gps_glitch((-12.0, 0.0, 0.0), duration_s=20.0)
        while loop.world.t_s < 70.0:
            loop.step()
        r = loop.result()
    assert r.interventions.get(L.POSITION_JUMP, 0) > 0, r.interventions
    assert r.min_fence_margin_m >= 0.0, r.summary()
    assert r.min_separation_any_m >= r.standoff_m


def _documented_configs() -> list[tuple[str, str]]:
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for k, block in enumerate(re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)):
            out.append((f"{path.name}#{k}", block))
    return out


@pytest.mark.parametrize(("where", "text"), _documented_configs(), ids=[w for w, _ in _documented_configs()])
def test_every_documented_config_keeps_the_standoff_and_the_fence_in_every_scenario(where: str, text: str) -> None:
    """Every config the README and docs show loads (the envelope check) and keeps the standoff and the fence in
    every built-in scenario (seed 0)."""
    config = load_config_text(text)
    for name in sorted(SCENARIOS):
        r = run_scenario(name, config, seed=0, keep_trajectory=False)
        assert r.passed, (where, name, r.failures)
