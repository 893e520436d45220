"""The stack flies the real ArduCopter SITL (``../shared/sitl``: the autopilot's own flight code), not only our
simulated vehicle: launch, connect, GUID_TIMEOUT written and read back, the fence uploaded and verified, the crew
arms and takes off, follow engages and the subject is followed at the standoff; and the faults: a stalled
pipeline, a dead companion, a dropped link, a jump of the companion's clock, the released dead-man, the pilot's
mode switch, a breach of the autopilot's own fence.

SITL listens on all interfaces, so every run is inside a fresh network namespace with nothing but loopback
(``unshare -n``, as root, as CI runs). Skipped, saying why, where the binary or namespaces are not available.
Each run takes about 20 s of wall time plus the scenario's duration: SITL needs ~42 s of its own clock before its
EKF uses GPS, and the job runs that boot ten times faster (SIM_SPEEDUP; ``DP_SITL_BOOT_SPEEDUP=1``: all in real time,
about 55 s plus the scenario), back to real time before the crew arms.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SITL_DIR = Path(os.environ.get("DRONE_PERCEPTION_SITL_DIR", ROOT.parent / "shared" / "sitl" / "ardupilot"))
JOB = Path(__file__).with_name("real_sitl_job.py")


def _namespaces_ok() -> str | None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare/ip not installed"
    res = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=10)
    return None if res.returncode == 0 else f"cannot make a network namespace: {res.stderr.decode().strip()}"


def _skip_reason() -> str | None:
    if not (SITL_DIR / "arducopter").is_file():
        return f"no ArduCopter SITL binary at {SITL_DIR} (set DRONE_PERCEPTION_SITL_DIR)"
    return _namespaces_ok()


@pytest.mark.sitl
@pytest.mark.parametrize("topology", ["bare", "mavproxy"])
def test_the_stack_follows_with_the_real_arducopter(topology: str) -> None:
    s = _run_job(topology, "walk", 20)
    print(json.dumps({k: s[k] for k in ("mission", "safety", "min_separation_any_m", "wall_s")}))
    # Mission: it did its job (engaged, moved, saw the subject), not only "nothing bad happened".
    assert s["mission"]["verdict"] == "pass", s["mission"]
    assert s["mission"]["engaged_share"] > 0.8
    assert s["mission"]["motion_commands"] > 200  # 20 s at 20 Hz, less the first engaged periods
    assert s["subject_in_view_share"] > 0.6  # the calibrated detector profile: ~75 % of the periods
    assert s["mission"]["follow_distance_error_m"]["max"] < 6.0
    # Safety, measured on the simulator's truth of people against the autopilot's reported pose.
    assert s["safety"]["verdict"] == "pass" and s["sent_while_disengaged"] == 0
    assert s["min_separation_any_m"] >= s["standoff_m"]
    assert s["min_fence_margin_m"] > 0.0


def _run_job(topology: str, scenario: str, duration_s: float, fault: str = "",
             speedup: float = 1.0, config: dict | None = None) -> dict:  # type: ignore[type-arg]
    why = _skip_reason()
    if why is not None:
        pytest.skip(f"real SITL not run: {why}")
    args = [sys.executable, str(JOB), str(SITL_DIR), topology, scenario, str(duration_s)] + ([fault] if fault else [])
    job = " ".join(shlex.quote(a) for a in args)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DP_SITL_SPEEDUP": str(speedup)}
    if config is not None:
        env["DP_CONFIG"] = json.dumps(config)
    res = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {job}"], capture_output=True,
                         text=True, timeout=400, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    boot = summary.get("boot_speedup")
    if boot is not None:  # SITL booted faster than real time; it must fly in real time from before the arming
        assert boot["error"] is None and boot["real_time_after_launch_s"] is not None, boot
        assert boot["real_time_after_launch_s"] <= summary["armed_after_launch_s"], summary
    return summary  # type: ignore[no-any-return]


@pytest.mark.sitl
def test_a_stalled_pipeline_sends_one_hold_and_the_real_autopilot_brakes() -> None:
    s = _run_job("bare", "walk", 16, "stall:8")
    f = s["fault"]
    print(json.dumps(f))
    assert f["setpoints_after_fault"] == 1 and f["first_setpoints_after_fault"] == [[0.0, 0.0, 0.0]]
    assert f["mode_requests"] == ["BRAKE"] and f["modes"][-1] == "BRAKE"  # accepted by ArduCopter
    assert s["safety"]["verdict"] == "pass"


@pytest.mark.sitl
def test_a_dead_companion_coasts_no_further_than_the_governor_budgets() -> None:
    """Nothing is sent after the companion dies; ArduCopter's GUID_TIMEOUT (written and read back by the
    bridge) stops the vehicle, within the stopping distance the governor assumed for that speed."""

    s = _run_job("bare", "walk", 16, "dead:8")
    f = s["fault"]
    budget_m = _coast_budget_m(max(f["speed_at_fault_mps"], f["last_command_mps"]))
    print(json.dumps({**f, "budget_m": budget_m}))
    assert f["setpoints_after_fault"] == 0 and f["mode_requests"] == []
    assert f["speed_at_fault_mps"] > 0.8  # it was following when the companion died
    assert f["coast_m"] <= budget_m
    assert s["safety"]["verdict"] == "pass"


def _coast_budget_m(speed_mps: float) -> float:
    """How far the governor budgets the vehicle to run on after its last setpoint (``speed_mps``: the faster of
    that setpoint and the vehicle then; the autopilot keeps flying the setpoint): the command horizon (latency,
    command lifetime, the autopilot's setpoint timeout, the brake's ramp) at that speed, then braking at the
    rate it assumes (the governor's ``stopping_point``)."""
    from drone_perception.config import StackConfig
    from drone_perception.control.governor import SafetyGovernor

    cfg = StackConfig()
    gov = SafetyGovernor(cfg.safety, cfg.fence)
    return speed_mps * gov.horizon_s + speed_mps * speed_mps / (2.0 * gov.decel_mps2)


@pytest.mark.sitl
def test_a_dropped_link_disengages_and_follow_does_not_resume_when_it_returns() -> None:
    """The stack's link to the real autopilot carries nothing either way for 5 s from 8 s (a relay between the
    bridge and SITL drops every byte; neither socket closes). The bridge notices within its link timeouts and
    disengages; the autopilot stops on its own GUID_TIMEOUT within the governor's coast budget (the bridge's hold
    is lost too); when the link returns nothing moves the vehicle again: the bridge never re-sends a command by
    itself and only the operator re-engages."""
    from drone_perception.config import StackConfig

    s = _run_job("bare", "walk", 20, "linkdrop:8:5")
    f = s["fault"]
    within_s = StackConfig().link.heartbeat_timeout_s + 0.3  # one period and a late read of margin
    budget_m = _coast_budget_m(max(f["speed_at_fault_mps"], f["last_command_mps"]))
    print(json.dumps({**f, "budget_m": budget_m}))
    assert f["dropped_bytes"]["to_client"] > 0 and f["dropped_bytes"]["to_upstream"] > 0  # a real cut, both ways
    assert f["link_lost_after_s"] is not None and f["link_lost_after_s"] <= within_s, f
    assert f["disengage_after_s"] is not None and f["disengage_after_s"] <= within_s, f
    assert "link lost" in f["disengage_reason"]
    assert f["motion_after_disengage"] == 0 and f["engaged_again"] == 0
    # It coasted on the last setpoint that got through, as after a dead companion.
    assert f["speed_at_fault_mps"] > 0.8  # it was following when the link dropped
    assert f["coast_m"] <= budget_m
    assert f["modes"][-1] == "GUIDED" and f["mode_requests"] == []  # no failsafe: GUID_TIMEOUT stopped it
    # The link came back and still nothing moved it, although the subject walked on.
    assert f["link_back_after_s"] is not None and f["link_back_after_s"] < 2.0
    assert f["motion_sent_after_restore"] == 0
    assert f["max_speed_after_restore_mps"] < 0.3
    assert f["subject_gap_growth_after_restore_m"] > 3.0
    assert s["safety"]["verdict"] == "pass" and s["sent_while_disengaged"] == 0


@pytest.mark.sitl
def test_a_companion_clock_jump_disengages_at_once_and_the_real_autopilot_holds() -> None:
    """From 8 s the companion's clock (the bridge's and the stack's) reads 5 s ahead of the autopilot's and the
    crew's: a suspended or resynchronised process. Every heartbeat the bridge holds is suddenly 5 s old, past the
    dead-man's 1.5 s: it disengages in the first period on the new clock, sends one hold and nothing more, and the
    real ArduCopter stops within the governor's coast budget. Follow does not resume by itself."""
    s = _run_job("bare", "walk", 16, "clockjump:8:5")
    f = s["fault"]
    budget_m = _coast_budget_m(max(f["speed_at_fault_mps"], f["last_command_mps"]))
    print(json.dumps({**f, "budget_m": budget_m}))
    assert f["jump_s"] == 5.0 and f["speed_at_fault_mps"] > 0.8  # it was following when the clock jumped
    assert f["disengage_after_s"] is not None and f["disengage_after_s"] <= 0.1, f  # the same period
    assert "dead-man lost" in f["disengage_reason"] or "link lost" in f["disengage_reason"]
    assert f["setpoints_after_fault"] == 1 and f["first_setpoints_after_fault"] == [[0.0, 0.0, 0.0]]
    assert f["motion_after_disengage"] == 0 and f["engaged_again"] == 0
    assert f["coast_m"] <= budget_m
    assert f["modes"][-1] == "GUIDED" and f["mode_requests"] == []
    assert s["mission"]["verdict"] == "pass"  # it followed before the jump
    assert s["safety"]["verdict"] == "pass" and s["sent_while_disengaged"] == 0


#: The RC dead-man: the pilot holds channel 7 (the crew's RC override, re-sent every 0.5 s as ArduPilot drops an
#: override unheard for RC_OVERRIDE_TIME); the ground-station heartbeat is not a dead-man then.
RC_DEADMAN = {"link": {"deadman_rc_channel": 7, "deadman_gcs_heartbeat": False}}


@pytest.mark.sitl
@pytest.mark.parametrize(("fault", "within_s", "reason", "config"), [
    ("deadman:8", 1.5 + 0.2, "ground-station heartbeat", None),  # the GCS dead-man times out at 1.5 s
    ("deadman:8", 0.3, "RC channel 7", RC_DEADMAN),  # measured 0.05 s: the next RC_CHANNELS message
    ("mode:8", 1.0 + 0.3, "mode", None),  # at most one 1 Hz HEARTBEAT later
], ids=["gcs_deadman", "rc_deadman", "pilot_mode"])
def test_the_operator_takes_control_back_at_once(fault: str, within_s: float, reason: str,
                                                 config: dict | None) -> None:  # type: ignore[type-arg]
    """A released dead-man (the crew's heartbeat stops, or the pilot lets go of the RC switch) or the pilot's
    mode switch at the ground station disengages follow on the real autopilot with one hold; no motion command
    is sent after it."""
    s = _run_job("bare", "walk", 14, fault, config=config)
    f = s["fault"]
    print(json.dumps(f))
    assert f["disengage_after_s"] is not None and f["disengage_after_s"] <= within_s, f
    assert reason in f["disengage_reason"]
    assert f["motion_after_disengage"] == 0
    if fault.startswith("mode"):
        assert f["modes"][-1] == "LOITER"
    assert s["safety"]["verdict"] == "pass" and s["sent_while_disengaged"] == 0


#: ArduCopter FENCE_ACTION -> the mode it selects on a breach with a good position estimate (as in SITL): 1 RTL
#: (or LAND), 2 LAND, 3 SMART_RTL (or RTL, LAND), 4 BRAKE (or LAND), 5 SMART_RTL (or LAND).
FENCE_ACTION_MODE = {1: "RTL", 2: "LAND", 3: "SMART_RTL", 4: "BRAKE", 5: "SMART_RTL"}


@pytest.mark.sitl
def test_a_breach_of_the_autopilots_own_fence_is_handled_by_its_fence_action() -> None:
    """The autopilot's fence as a second layer: the fence uploaded to ArduCopter (read back and verified by the
    bridge) ends at the start point's northing, tighter than the stack's own 300 m square that the governor keeps,
    and the crew turns ArduCopter's fence avoidance off (AVOID_ENABLE 0; with it on, measured, the autopilot itself
    holds the vehicle FENCE_MARGIN short of its fence and nothing is breached). The follow takes the vehicle
    through that fence: ArduCopter's own FENCE_ACTION changes the mode, and the stack disengages at once and
    sends nothing that moves the vehicle after it."""
    s = _run_job("bare", "walk", 22, "fence:0")
    f, p = s["fault"], s["autopilot_params"]
    print(json.dumps({**f, "autopilot_params": p}))
    assert p["FENCE_ENABLE"] == 1 and int(p["FENCE_TYPE"]) & 4 and p["AVOID_ENABLE"] == 0  # polygon fence on
    assert f["mode_after_breach"] == FENCE_ACTION_MODE[int(p["FENCE_ACTION"])], f
    assert "Polygon fence breached" in f["statustext"]
    assert -1.0 <= f["north_at_mode_change_m"] - f["fence_north_m"] <= 3.0  # at that fence's line, not elsewhere
    assert f["disengage_after_mode_change_s"] is not None and f["disengage_after_mode_change_s"] <= 1.0 + 0.3
    assert f["mode_after_breach"] in f["disengage_reason"]
    assert f["motion_after_disengage"] == 0 and f["engaged_again"] == 0
    assert f["mode_requests"] == []  # the autopilot chose the mode, not the stack
    assert s["min_fence_margin_m"] > 0.0  # the stack's own fence was never at risk
    assert s["safety"]["verdict"] == "pass" and s["sent_while_disengaged"] == 0


@pytest.mark.sitl
@pytest.mark.sitl_alone  # at 5x its control rate needs a core: beside two other flights it fell to 16.7 Hz
def test_the_stack_follows_on_the_sitls_clock_faster_than_real_time() -> None:
    """SITL at SIM_SPEEDUP 5 from the hand-over, the stack, the crew and the world on its clock: the autopilot's own
    clock (ATTITUDE time_boot_ms) ran 5 times the wall clock, the stack's clock followed it (not the wall clock
    times 5), the control loop kept its rate on that clock, and the run did its job safely, as in real time."""
    s = _run_job("bare", "walk", 30, speedup=5.0)
    c = s["sitl_clock"]
    print(json.dumps({"sitl_clock": c, **{k: s[k] for k in ("mission", "safety", "min_separation_any_m", "wall_s")}}))
    assert c["speedup_set"] == 5.0 and abs(c["speedup_reached"] - 5.0) < 0.25, c
    assert c["wall_s"] < c["autopilot_s"] / 4.0  # it really flew faster than real time
    assert c["followed_autopilot"] and abs(c["stack_s"] - c["autopilot_s"]) < 0.3, c  # on the autopilot's clock
    assert c["loop_hz"] > 0.85 * 20.0, c  # the control rate held on the autopilot's clock (19.3-20.0 measured)
    assert s["mission"]["verdict"] == "pass" and s["mission"]["engaged_share"] > 0.8, s["mission"]
    assert s["mission"]["motion_commands"] > 400 and s["subject_in_view_share"] > 0.6
    assert s["safety"]["verdict"] == "pass" and s["sent_while_disengaged"] == 0
    assert s["min_separation_any_m"] >= s["standoff_m"]
