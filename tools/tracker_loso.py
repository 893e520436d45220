"""Issue 11 item 6, held out: were the tracker's tuned thresholds chosen on the sequences they are scored on?

Leave-one-sequence-out over a grid of (high_threshold, low_threshold): for each sequence, pick the grid point with
the best mean MOTA + IDF1 over the *other* sequences and report what it scores on the held-out one. Input: the JSON
files ``tools/eval_tracker_mot.py --out`` wrote, one per grid point (their ``meta.overrides`` name the point).

    for hi in 0.2 0.3 0.4 0.5 0.6; do for lo in 0.05 0.1; do
      .venv/bin/python tools/eval_tracker_mot.py /tmp/h4data/MOT15-public --no-cli-row \
          --set high_threshold=$hi --set low_threshold=$lo --out /tmp/loso/h${hi}_l${lo}.json; done; done
    .venv/bin/python tools/tracker_loso.py /tmp/loso/*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    runs: dict[str, dict] = {}
    for path in args.runs:
        d = json.loads(path.read_text())
        o = d["meta"]["overrides"]
        runs[f"high {o.get('high_threshold')} low {o.get('low_threshold')}"] = d["results"]["ours"]
    seqs = sorted(s for s in next(iter(runs.values())) if s != "OVERALL")

    def score(r: dict, ss: list[str]) -> float:
        return sum(r[s]["mota"] + r[s]["idf1"] for s in ss) / len(ss)

    n_obj = fp = fn = sw = 0.0
    print(f"{len(runs)} grid points; sequence: the point chosen on the others -> held-out MOTA / IDF1")
    idf1 = []
    for held in seqs:
        best = max(runs, key=lambda k: score(runs[k], [s for s in seqs if s != held]))
        r = runs[best][held]
        n_obj += r["num_misses"] / (1.0 - r["recall"])
        fp, fn, sw = fp + r["num_false_positives"], fn + r["num_misses"], sw + r["num_switches"]
        idf1.append(r["idf1"])
        print(f"  {held:16s} {best:22s} -> {100 * r['mota']:5.1f} / {100 * r['idf1']:5.1f}")
    mota = 100 * (1 - (fp + fn + sw) / n_obj)
    print(f"held out, overall MOTA {mota:.1f}, mean IDF1 {100 * sum(idf1) / len(idf1):.1f}")
    print(f"chosen on all sequences: {max(runs, key=lambda k: score(runs[k], seqs))}")


if __name__ == "__main__":
    main()
