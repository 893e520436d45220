"""Per scenario x seed figures of the built-in scenarios on ground truth: min separation, standoff, subject in
view, mission and safety verdicts, engaged share, mean follow-distance error, min fence margin.

    .venv/bin/python tools/scenario_table.py [CONFIG.yaml] [--mavlink] [--seeds=3]

Direct loop by default, the MAVLink lock-step loop with --mavlink; two worker processes. Exit 1 if any run failed.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from drone_perception.config import StackConfig, load_config_text
from sim.world.scenarios import SCENARIOS

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
MAVLINK = "--mavlink" in sys.argv
SEEDS = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--seeds=")), 3)
CONFIG_TEXT = Path(ARGS[0]).read_text(encoding="utf-8") if ARGS else ""


def one(job: tuple[str, int]) -> tuple[object, ...]:
    name, seed = job
    cfg = load_config_text(CONFIG_TEXT) if CONFIG_TEXT else StackConfig()
    if MAVLINK:
        from sim.runners.lockstep import run_mavlink_scenario as run
    else:
        from sim.runners.direct import run_scenario as run  # type: ignore[assignment]
    s = run(name, cfg, seed=seed, keep_trajectory=False).summary()
    m = s["mission"]
    err = (m.get("follow_distance_error_m") or {}).get("mean")
    return (name, seed, s["min_separation_any_m"], s["standoff_m"], s["subject_in_view_share"], m["verdict"],
            s["safety"]["verdict"], m["engaged_share"], err, s["min_fence_margin_m"])


def main() -> int:
    jobs = [(n, k) for n in SCENARIOS for k in range(SEEDS)]
    t0 = time.time()
    with ProcessPoolExecutor(2) as ex:
        rows = list(ex.map(one, jobs))
    bad = 0
    print(f"{'scenario':20s} seed minsep  stand inview mission safety engaged ferr_mean fence")
    for r in rows:
        failed = not (r[5] == "pass" and r[6] == "pass")
        bad += failed
        err = "None" if r[8] is None else f"{r[8]:.2f}"
        print(f"{r[0]:20s} {r[1]:4d} {r[2]:6.2f} {r[3]:6.1f} {r[4]:6.2f} {r[5]:7s} {r[6]:6s} {r[7]:6.2f} "
              f"{err:>7} {r[9]:6.2f}" + ("  <-- FAIL" if failed else ""))
    print(f"failures: {bad}/{len(rows)}  wall {time.time() - t0:.0f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
