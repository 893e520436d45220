"""Falsification search over a scenario family (issue 13 item 3): the cross-entropy method (CEM, as in
O'Kelly et al. 2018 for rare-event search) over the family's continuous parameters, beside random search at the
same budget.

One search per safety invariant (:data:`OBJECTIVES`: the standoff margin, the fence margin), as falsification is
run per requirement (ARCH-COMP): a single search on the smaller of the two margins settles on whichever plateau is
lowest everywhere (the fence margin of ``leave_fence``, held by design about 0.5 m inside the fence) and never
hunts the other. :func:`run_searches` gives the searches their generations in turn, so they share the budget;
:func:`compare` reports each invariant's worst margin over *all* of a search's cases (random's and CEM's alike).

The parameters are normalised to [0, 1] (``family.RANGES``); CEM keeps an independent Gaussian per parameter,
truncated to [0, 1] (so its density is exact for importance sampling, :mod:`sim.campaign.importance`), draws a
generation, keeps the ``elite`` share with the lowest margins and refits the mean and spread to them (with a
floor on the spread so the search does not collapse). It also learns the scenario: a categorical distribution,
refit (smoothed, with a floor) to the elite's scenarios, so the search spends its budget where the margins are
smallest instead of in turn. The seed is drawn from the search's generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.campaign.family import RANGES, Case, params_at, unit_point
from sim.campaign.importance import Proposal, active_coordinates

#: Lowest spread (normalised units) CEM keeps per parameter.
MIN_SIGMA = 0.05
#: Lowest probability CEM keeps per scenario, as a share of the uniform one (1 / number of scenarios).
MIN_SCENARIO_P = 0.1


#: The invariants falsification hunts, one search each (metres; < 0 = broken).
OBJECTIVES = ("standoff_m", "fence_m")


def safety_margin(row: dict[str, Any]) -> float:
    """The worst of the standoff and fence margins (m; < 0 = broken; any command while disengaged counts as 0)."""
    m = row["margins"]
    return float(min(m["standoff_m"], m["fence_m"], 0.0 if m["disengaged_commands"] < 0 else np.inf))


def objective_margin(row: dict[str, Any], objective: str) -> float:
    """What a search on ``objective`` minimises: that invariant's margin (``worst``: :func:`safety_margin`)."""
    return safety_margin(row) if objective == "worst" else float(row["margins"][objective])


@dataclass
class CrossEntropySearch:
    """Generations of ``generation`` cases; ``elite`` share refits the sampling distribution to the cases with the
    lowest ``objective`` margin (an invariant of :data:`OBJECTIVES`, or ``worst``: :func:`safety_margin`)."""

    scenarios: list[str]
    seed: int
    generation: int = 20
    elite: float = 0.2
    loop: str = "direct"
    objective: str = "worst"
    mean: np.ndarray = field(init=False)
    sigma: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.objective not in (*OBJECTIVES, "worst"):
            raise ValueError(f"objective {self.objective!r}: expected one of {', '.join(OBJECTIVES)} or worst")
        self.rng = np.random.default_rng(self.seed)
        self.mean = np.full(len(RANGES), 0.5)
        self.sigma = np.full(len(RANGES), 0.3)
        #: Probability of each scenario: the search also learns which scenario comes closest to breaking.
        self.scenario_p = np.full(len(self.scenarios), 1.0 / len(self.scenarios))

    def proposal(self, alpha: float = 0.0, *, only_moved: bool = False, min_sigma: float = 0.0) -> Proposal:
        """The current sampling distribution (``alpha`` > 0: mixed with the nominal one; ``only_moved``: narrowed
        only in the coordinates the search moved, uniform in the others; spreads at least ``min_sigma``)."""
        active = (active_coordinates(self.mean, self.sigma, max(2, round(self.elite * self.generation)))
                  if only_moved else None)
        return Proposal(self.mean.copy(), np.maximum(self.sigma, min_sigma), alpha, active, self.scenario_p.copy())

    def cases_at(self, points: np.ndarray, scenarios: np.ndarray) -> list[Case]:
        return [Case(self.scenarios[int(s)], int(self.rng.integers(0, 2**31 - 1)), params_at(u), self.loop)
                for u, s in zip(points, scenarios, strict=True)]

    def draw(self, n: int) -> list[Case]:
        return self.cases_at(*self.proposal().sample_with_scenarios(self.rng, n))

    def update(self, cases: list[Case], margins: list[float]) -> None:
        order = np.argsort(margins)
        keep = order[: max(2, round(self.elite * len(cases)))]
        u = np.array([unit_point(cases[i].params) for i in keep])
        self.mean = np.clip(u.mean(axis=0), 0.0, 1.0)
        self.sigma = np.maximum(u.std(axis=0), MIN_SIGMA)
        counts = np.bincount([self.scenarios.index(cases[i].scenario) for i in keep], minlength=len(self.scenarios))
        p = 0.5 * self.scenario_p + 0.5 * counts / counts.sum()  # smoothed; never below the floor
        p = np.maximum(p, MIN_SCENARIO_P / len(self.scenarios))
        self.scenario_p = p / p.sum()


def per_invariant(scenarios: list[str], seed: int, loop: str = "direct") -> list[CrossEntropySearch]:
    """One search per invariant of :data:`OBJECTIVES`, each with its own generator (seeds ``seed``, ``seed + 1``)."""
    return [CrossEntropySearch(scenarios, seed=seed + k, loop=loop, objective=o) for k, o in enumerate(OBJECTIVES)]


def run_searches(searches: list[CrossEntropySearch], budget: int,
                 evaluate: Callable[[list[Case]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``budget`` cases in all, the searches taking their generations in turn; ``evaluate(cases)`` runs them (e.g.
    through the campaign's pool and manifest) and returns their manifest rows in order. Each search refits to its
    own generations only (on its own objective)."""
    if not searches:
        raise ValueError("run_searches: no search")
    rows: list[dict[str, Any]] = []
    turn = 0
    while len(rows) < budget:
        search = searches[turn % len(searches)]
        turn += 1
        cases = search.draw(min(search.generation, budget - len(rows)))
        got = evaluate(cases)
        rows += got
        search.update(cases, [objective_margin(r, search.objective) for r in got])
    return rows


def run_search(search: CrossEntropySearch, budget: int,
               evaluate: Callable[[list[Case]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One search for ``budget`` cases (:func:`run_searches` with one)."""
    return run_searches([search], budget, evaluate)


def _figures(rows: list[dict[str, Any]], margins: list[float]) -> dict[str, Any]:
    first = next((i + 1 for i, m in enumerate(margins) if m < 0), None)
    worst = int(np.argmin(margins)) if margins else None
    return {"failures": sum(m < 0 for m in margins), "simulations_to_first_failure": first,
            "worst_margin_m": round(margins[worst], 4) if worst is not None else None,
            "worst_case": rows[worst]["id"] if worst is not None else None,
            "worst_scenario": rows[worst]["scenario"] if worst is not None else None}


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Falsification figures of one search's cases: failures found, simulations to the first failure, worst
    margin, on the worst safety margin and (``by_invariant``) on each invariant of :data:`OBJECTIVES`."""
    margins = [safety_margin(r) for r in rows]
    out = {"cases": len(rows), **_figures(rows, margins)}
    worst = int(np.argmin(margins)) if margins else None
    out["worst_params"] = rows[worst]["params"] if worst is not None else None
    out["by_invariant"] = {o: _figures(rows, [objective_margin(r, o) for r in rows]) for o in OBJECTIVES}
    return out


__all__ = ["MIN_SIGMA", "OBJECTIVES", "CrossEntropySearch", "compare", "objective_margin", "per_invariant",
           "run_search", "run_searches", "safety_margin"]
