"""Scenario families: each built-in scenario with its seed and the configuration drawn across the legal envelope.

A case is ``(scenario, seed, params)``; ``params`` are plain floats so that a case is a JSON line, hashes to an
id and replays exactly. Drawn per case (uniform, from the campaign's own generator):

- ``min_standoff_m`` in [5, 20] (the hard floor to twice the default);
- ``height_margin_m`` in [0, 6]: the follow height above the envelope's minimum (standoff + body + 0.5 m), so
  every drawn config is legal by construction (``config.envelope``);
- ``follow_distance_m`` in [8, 30];
- ``design_person_speed_mps`` in [6, 10];
- ``max_horizontal_speed_mps`` in [3, 8];
- ``detector_miss_scale`` in [0.7, 1.6]: the calibrated detector profile's miss height scale times this (a
  weaker or stronger detector than the measured one).

Not yet drawn (issue 13 item 1, left for the next slice): people counts, speeds, headings, trees, wind, and the
fault classes (link loss, latency, dropouts, GPS glitch, stalls, corrupt frames, clock jumps).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drone_perception.config import StackConfig, config_from_dict
from drone_perception.config.envelope import min_follow_height_m

#: (name, low, high) of every drawn parameter.
RANGES: tuple[tuple[str, float, float], ...] = (
    ("min_standoff_m", 5.0, 20.0),
    ("height_margin_m", 0.0, 6.0),
    ("follow_distance_m", 8.0, 30.0),
    ("design_person_speed_mps", 6.0, 10.0),
    ("max_horizontal_speed_mps", 3.0, 8.0),
    ("detector_miss_scale", 0.7, 1.6),
)


@dataclass(frozen=True)
class Case:
    scenario: str
    seed: int
    params: dict[str, float]

    def key(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "seed": self.seed, "params": self.params}

    def case_id(self, code_version: str) -> str:
        """12 hex of sha256(code version, scenario, seed, params): the same case on the same code, the same id."""
        blob = json.dumps({"code": code_version, **self.key()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def config(self) -> StackConfig:
        """The stack configuration of this case (legal by construction: the envelope check passes)."""
        p = self.params
        standoff = p["min_standoff_m"]
        height = min_follow_height_m(standoff) + p["height_margin_m"]
        return config_from_dict({
            "safety": {"min_standoff_m": standoff, "design_person_speed_mps": p["design_person_speed_mps"],
                       "max_horizontal_speed_mps": p["max_horizontal_speed_mps"]},
            # rounded up to the mm: rounding down could leave it under the envelope's minimum
            "follow": {"height_m": math.ceil(height * 1000.0) / 1000.0, "distance_m": p["follow_distance_m"]},
            "fence": {"altitude_ceiling_m": max(40.0, round(height + 10.0, 1))},
        })


def draw_cases(scenarios: list[str], episodes: int, seed: int) -> list[Case]:
    """``episodes`` cases, scenarios in turn, parameters uniform in :data:`RANGES` (independent of the pool)."""
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(episodes):
        params = {name: round(float(rng.uniform(lo, hi)), 4) for name, lo, hi in RANGES}
        cases.append(Case(scenarios[k % len(scenarios)], int(rng.integers(0, 2**31 - 1)), params))
    return cases


__all__ = ["RANGES", "Case", "draw_cases"]
