"""Fit the simulator's detection model (``sim.sensing.sensors``) to the shipped detector's measured recall by
person height, and plot the fit against the measurement.

    .venv/bin/python tools/fit_sim_profile.py MEASURED.json models/sim_profile_fit.json models/sim_profile_fit.png

MEASURED.json: ``{"mean_height_px": [...], "recall": [...], "n": [...], "image_width_px": 1920,
"detector_input_width_px": 960}`` (recall of people at least half visible per height bin, as
``tools/eval_mot17_mini.py`` measures it on 1080p MOT17 frames). The model: nothing under ``h_min`` input px is
found; above it the miss probability is ``floor + (p0 - floor) * exp(-(h - h_min) / scale)``. Weighted least
squares over the bins (weights: people per bin), grid search.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def fit(h_in: np.ndarray, recall: np.ndarray, n: np.ndarray) -> tuple[float, float, float, float, float]:
    best: tuple[float, float, float, float, float] | None = None
    for h_min in np.arange(10.0, 40.0, 1.0):
        for p0 in np.arange(0.3, 1.0001, 0.02):
            for scale in np.arange(3.0, 80.0, 1.0):
                pm = np.where(h_in < h_min, 1.0, 0.0 + (p0 - 0.0) * np.exp(-(h_in - h_min) / scale))
                err = float(np.sum(n * ((1.0 - pm) - recall) ** 2))
                if best is None or err < best[0]:
                    best = (err, float(h_min), float(p0), float(scale), 0.0)
    assert best is not None
    return best


def main(src: str, out_json: str, out_png: str) -> None:
    d = json.loads(Path(src).read_text())
    k = d["detector_input_width_px"] / d["image_width_px"]
    h_in = np.array(d["mean_height_px"]) * k
    r, n = np.array(d["recall"]), np.array(d["n"])
    err, h_min, p0, scale, floor = fit(h_in, r, n)
    model = lambda h: np.where(h < h_min, 0.0, 1.0 - (floor + (p0 - floor) * np.exp(-(h - h_min) / scale)))  # noqa: E731
    result = {"input_px": {"min_box_height": h_min, "miss_prob_at_min_height": round(p0, 3),
                           "miss_height_scale": scale, "floor": floor}, "weighted_sq_error": round(err, 4),
              "bins": [{"height_input_px": round(float(h), 1), "n": int(c), "measured": float(m),
                        "model": round(float(model(h)), 3)} for h, c, m in zip(h_in, n, r)], "source": src}
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    hh = np.linspace(0, max(h_in) * 1.1, 300)
    ax.plot(hh, model(hh), label="simulator profile (fit)")
    ax.errorbar(h_in, r, yerr=np.sqrt(np.maximum(r * (1 - r), 1e-3) / n), fmt="o", label="measured (MOT17-mini)")
    ax.set_xlabel("person height in the detector input (px)")
    ax.set_ylabel("recall (IoU 0.5)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    print(json.dumps(result["input_px"]))


if __name__ == "__main__":
    main(*sys.argv[1:4])
