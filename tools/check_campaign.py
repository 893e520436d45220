"""Gate a campaign for CI: exit 1 when any case broke a safety invariant (standoff, fence, commands after
disengage) or failed its mission without the envelope's mission warnings having foreseen it; else 0.

    .venv/bin/python tools/check_campaign.py runs/campaign/ci

A foreseen mission failure (a configuration the loader warns about: a follow offset the fixed camera cannot
see, a subject too small for the detector) is reported but does not fail the gate: the campaign draws every
legal configuration, and the warning is the product's answer for those.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SAFETY = ("standoff_m", "fence_m", "disengaged_commands")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[0]) / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"check_campaign: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    inv = summary["invariants"]
    broken = {k: inv[k]["failures"] for k in SAFETY if inv[k]["failures"]}
    unforeseen = summary.get("mission_failures_unforeseen", [])
    n = summary["cases"]
    for k in SAFETY:
        print(f"{k:20s} {inv[k]['failures']}/{n} failed; < {inv[k]['upper_bound']:.4f} at 95 %; worst margin "
              f"{inv[k]['worst_margin']}")
    print(f"mission failures: {inv['mission']['failures']}/{n}, {summary.get('mission_failures_foreseen', 0)} "
          f"foreseen by the envelope's warnings, unforeseen: {', '.join(unforeseen) or 'none'}")
    if broken or unforeseen:
        print(f"check_campaign: FAIL (safety {broken or 'ok'}; unforeseen mission failures {len(unforeseen)})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
