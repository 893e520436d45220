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
  weaker or stronger detector than the measured one);
- bystanders added to the scenario's own people (:mod:`sim.campaign.perturb`): ``bystanders`` in [0, 5)
  (floored: 0-4 people), where they start (``bystander_range_m`` from the subject's start, ``bystander_bearing_rad``;
  the others spread round the circle), what they do from ``bystander_start_s`` on (``bystander_mode``: stand,
  cross, or run at the vehicle's ground point) and how fast (``bystander_speed_mps`` up to 7 m/s, faster than
  the subject ever moves);
- trees that bystanders hide behind (:mod:`sim.campaign.perturb`): the first ``hidden_bystanders`` in [0, 5)
  (floored, at most the bystanders there are) each start behind a tree of ``tree_radius_m`` and ``tree_height_m``,
  ``tree_gap_m`` in front of them on the line to the vehicle's start, added to the scenario's own trees;
- wind added to the scenario's own: mean ``wind_mps`` from ``wind_dir_rad``, gusts ``gust_mps`` (1-sigma);
- one fault (:mod:`sim.campaign.faults`): ``fault`` in [0, 1) picks the class from the loop's list
  (:data:`DIRECT_FAULTS` or :data:`MAVLINK_FAULTS`, "none" included), from ``fault_onset_s`` for
  ``fault_duration_s``, of strength ``fault_magnitude`` in [0, 1] (what that means is per class).

A case also names its ``loop``: ``direct`` (the in-process autopilot) or ``mavlink`` (the lock-step MAVLink loop:
the real bridge against the simulated ArduCopter).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

from drone_perception.config import StackConfig, config_from_dict
from drone_perception.config.envelope import min_follow_height_m
from drone_perception.errors import InvalidValueError

#: (name, low, high) of every drawn parameter.
RANGES: tuple[tuple[str, float, float], ...] = (
    ("min_standoff_m", 5.0, 20.0),
    ("height_margin_m", 0.0, 6.0),
    ("follow_distance_m", 8.0, 30.0),
    ("design_person_speed_mps", 6.0, 10.0),
    ("max_horizontal_speed_mps", 3.0, 8.0),
    ("detector_miss_scale", 0.7, 1.6),
    ("bystanders", 0.0, 4.999),
    ("bystander_range_m", 3.0, 40.0),
    ("bystander_bearing_rad", 0.0, 6.2832),
    ("bystander_speed_mps", 0.5, 7.0),
    ("bystander_mode", 0.0, 0.999),
    ("bystander_start_s", 0.0, 30.0),
    ("wind_mps", 0.0, 8.0),
    ("wind_dir_rad", 0.0, 6.2832),
    ("gust_mps", 0.0, 3.0),
    ("fault", 0.0, 0.999),
    ("fault_onset_s", 2.0, 40.0),
    ("fault_duration_s", 0.2, 10.0),
    ("fault_magnitude", 0.0, 1.0),
    ("hidden_bystanders", 0.0, 4.999),
    ("tree_radius_m", 0.5, 3.0),
    ("tree_height_m", 4.0, 15.0),
    ("tree_gap_m", 0.5, 5.0),
)

#: The value of each drawn parameter that changes nothing: the default configuration, no bystanders, no added
#: wind, no fault (where a shrunk case should end up; also what an older case without the parameter means).
NOMINAL: dict[str, float] = {
    "min_standoff_m": 10.0, "height_margin_m": 0.0, "follow_distance_m": 15.0, "design_person_speed_mps": 8.0,
    "max_horizontal_speed_mps": 5.0, "detector_miss_scale": 1.0, "bystanders": 0.0, "bystander_range_m": 20.0,
    "bystander_bearing_rad": 0.0, "bystander_speed_mps": 1.4, "bystander_mode": 0.0, "bystander_start_s": 0.0,
    "wind_mps": 0.0, "wind_dir_rad": 0.0, "gust_mps": 0.0, "fault": 0.0, "fault_onset_s": 2.0,
    "fault_duration_s": 0.2, "fault_magnitude": 0.0, "hidden_bystanders": 0.0, "tree_radius_m": 1.0,
    "tree_height_m": 8.0, "tree_gap_m": 1.0,
}

#: Fault classes per loop (``fault`` in [0, 1) indexes these). The direct loop has no link to break. On the
#: MAVLink loop a clock jump moves the companion's clock (the bridge's and the stack's) ahead of the vehicle's.
DIRECT_FAULTS = ("none", "detector_dropout", "false_positives", "corrupt_frames", "gps_glitch",
                 "stalled_pipeline", "dead_companion", "clock_jump")
MAVLINK_FAULTS = ("none", "detector_dropout", "false_positives", "corrupt_frames", "gps_glitch",
                  "stalled_pipeline", "dead_companion", "link_drop", "packet_loss", "latency", "malformed_mavlink",
                  "clock_jump")
LOOPS = ("direct", "mavlink")


@dataclass(frozen=True)
class Fault:
    """One fault of a case: ``kind`` from ``start_s`` (world time) for ``duration_s``, strength in [0, 1]."""

    kind: str
    start_s: float
    duration_s: float
    magnitude: float

    def active(self, t_s: float) -> bool:
        return self.kind != "none" and self.start_s <= t_s < self.start_s + self.duration_s


@dataclass(frozen=True)
class Case:
    scenario: str
    seed: int
    params: dict[str, float]
    loop: str = "direct"

    def key(self) -> dict[str, Any]:
        key: dict[str, Any] = {"scenario": self.scenario, "seed": self.seed, "params": self.params}
        if self.loop != "direct":  # direct cases keep the ids they had before the MAVLink loop came in
            key["loop"] = self.loop
        return key

    def param(self, name: str) -> float:
        """The drawn value, or the nominal one for a case drawn before the parameter existed."""
        return float(self.params.get(name, NOMINAL[name]))

    def fault(self) -> Fault:
        kinds = MAVLINK_FAULTS if self.loop == "mavlink" else DIRECT_FAULTS
        kind = kinds[min(int(self.param("fault") * len(kinds)), len(kinds) - 1)]
        return Fault(kind, self.param("fault_onset_s"), self.param("fault_duration_s"), self.param("fault_magnitude"))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Case:
        """The case of a manifest row."""
        return cls(row["scenario"], int(row["seed"]), {k: float(v) for k, v in row["params"].items()},
                   row.get("loop", "direct"))

    def case_id(self, code_version: str) -> str:
        """12 hex of sha256(code version, scenario, seed, params): the same case on the same code, the same id."""
        blob = json.dumps({"code": code_version, **self.key()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def config(self) -> StackConfig:
        """The stack configuration of this case (legal by construction: the envelope check passes)."""
        p = self.param
        standoff = p("min_standoff_m")
        height = min_follow_height_m(standoff) + p("height_margin_m")
        return config_from_dict({
            "safety": {"min_standoff_m": standoff, "design_person_speed_mps": p("design_person_speed_mps"),
                       "max_horizontal_speed_mps": p("max_horizontal_speed_mps")},
            # rounded up to the mm: rounding down could leave it under the envelope's minimum
            "follow": {"height_m": math.ceil(height * 1000.0) / 1000.0, "distance_m": p("follow_distance_m")},
            "fence": {"altitude_ceiling_m": max(40.0, round(height + 10.0, 1))},
        })


def params_at(u: Sequence[float] | np.ndarray) -> dict[str, float]:
    """The parameters at ``u`` in the unit cube (one coordinate per :data:`RANGES` entry), rounded to 4 places."""
    return {name: round(float(lo + float(x) * (hi - lo)), 4) for (name, lo, hi), x in zip(RANGES, u, strict=True)}


def unit_point(params: dict[str, float]) -> np.ndarray:
    """The inverse of :func:`params_at` (missing parameters at their nominal value)."""
    return np.array([(float(params.get(name, NOMINAL[name])) - lo) / (hi - lo) for name, lo, hi in RANGES])


def draw_cases(scenarios: list[str], episodes: int, seed: int, *, sampler: str = "random",
               loop: str = "direct") -> list[Case]:
    """``episodes`` cases, scenarios in turn, parameters over :data:`RANGES` (independent of the pool):
    ``random`` (uniform Monte Carlo), or a scrambled low-discrepancy sequence (``sobol``, ``halton``: better
    coverage of the parameter space for the same budget; the Clopper-Pearson bound then is approximate, as the
    points are not independent). Each case's seed is drawn from the campaign's generator."""
    if loop not in LOOPS:
        raise InvalidValueError(f"loop {loop!r}: expected one of {', '.join(LOOPS)}")
    rng = np.random.default_rng(seed)
    if sampler in ("sobol", "halton"):
        engine = (qmc.Sobol(len(RANGES), scramble=True, seed=rng) if sampler == "sobol"
                  else qmc.Halton(len(RANGES), scramble=True, seed=rng))
        with warnings.catch_warnings():  # balanced at powers of two; other budgets still cover well
            warnings.filterwarnings("ignore", message="The balance properties", category=UserWarning)
            points = engine.random(episodes)
    elif sampler != "random":
        raise InvalidValueError(f"sampler {sampler!r}: expected random, sobol or halton")
    cases = []
    for k in range(episodes):  # a longer campaign with the same seed starts with the shorter one's cases
        u = rng.uniform(0.0, 1.0, len(RANGES)) if sampler == "random" else points[k]
        cases.append(Case(scenarios[k % len(scenarios)], int(rng.integers(0, 2**31 - 1)), params_at(u), loop))
    return cases


__all__ = ["DIRECT_FAULTS", "LOOPS", "MAVLINK_FAULTS", "NOMINAL", "RANGES", "Case", "Fault", "draw_cases",
           "params_at", "unit_point"]
