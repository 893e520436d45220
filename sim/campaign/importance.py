"""Importance-sampled failure probability (issue 13 item 3), for when plain Monte Carlo finds no failure.

The nominal distribution ``p`` of a campaign is uniform on the unit cube of the family's parameters
(``family.RANGES``; the scenario in turn and the seed are drawn the same way under both distributions, so they
cancel in the weights). The proposal ``q`` is the cross-entropy search's final Gaussian, truncated to the cube
(so its density is exact, unlike clipping), mixed with ``p`` itself ("defensive" importance sampling, Hesterberg
1995): ``q = alpha p + (1 - alpha) N_trunc(mean, sigma)``; with one search per invariant, :class:`MixtureProposal`
takes the equal mixture of their Gaussians in place of the one. Each weight ``w = p / q`` is then at most ``1 / alpha``,
so no single case can dominate the estimate, whatever the search learnt.

The estimate of P(margin < 0) is ``mean(w * failed)`` over cases drawn from ``q``, with its standard error and
the effective sample size ``(sum w)^2 / sum w^2`` (Kish). With no failure the estimate is 0, which says little;
so beside it the self-normalised estimator (``sum w 1[margin < level] / sum w``, bounded by 1) gives
P(margin < level) for a few positive levels (how close the cases came, weighted back to the nominal
distribution), and a conservative bound for P(fail): the Clopper-Pearson bound for
0 failures in ``n`` draws of ``q``, times the largest weight ``1 / alpha`` (every failing point would have weight
at most that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import truncnorm

from sim.campaign.stats import upper_bound

#: Share of the nominal distribution in the defensive mixture (weights <= 1 / ALPHA).
ALPHA = 0.2


@dataclass(frozen=True)
class Proposal:
    """``alpha`` nominal (uniform on the cube, the scenario uniform) + ``1 - alpha`` of a product distribution:
    a truncated normal on each ``active`` coordinate, uniform on the others, the scenario drawn with
    ``scenario_p`` (None: uniform). (With 19 parameters, a proposal narrowed in every coordinate makes every
    weight but the defensive draws' vanish, an effective sample size of the uniform share alone; only the
    coordinates the search really moved are narrowed, :func:`active_coordinates`.)"""

    mean: np.ndarray
    sigma: np.ndarray
    alpha: float = ALPHA
    active: np.ndarray | None = None
    scenario_p: np.ndarray | None = None

    def _mask(self) -> np.ndarray:
        return np.ones(len(self.mean), bool) if self.active is None else np.asarray(self.active, bool)

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return (0.0 - self.mean) / self.sigma, (1.0 - self.mean) / self.sigma

    def _scenarios(self) -> np.ndarray:
        return np.array([1.0]) if self.scenario_p is None else np.asarray(self.scenario_p, dtype=np.float64)

    def sample_with_scenarios(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points of the cube and the index of each one's scenario (in ``scenario_p``'s order)."""
        a, b = self._bounds()
        d = len(self.mean)
        gauss = truncnorm.rvs(a, b, loc=self.mean, scale=self.sigma, size=(n, d), random_state=rng)
        gauss = np.where(self._mask()[None, :], gauss, rng.uniform(0.0, 1.0, (n, d)))
        uniform = rng.uniform(0.0, 1.0, (n, d))
        pick = rng.random(n) < self.alpha
        sp = self._scenarios()
        scen = np.where(pick, rng.integers(0, len(sp), n), rng.choice(len(sp), size=n, p=sp / sp.sum()))
        return np.where(pick[:, None], uniform, gauss), scen

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.sample_with_scenarios(rng, n)[0]

    def density(self, u: np.ndarray, scenario: np.ndarray | None = None) -> np.ndarray:
        """The proposal's density at ``u`` (and scenario index), relative to the nominal one's scenario share."""
        a, b = self._bounds()
        pdf = truncnorm.pdf(u, a, b, loc=self.mean, scale=self.sigma)
        g = np.prod(np.where(self._mask()[None, :], pdf, 1.0), axis=1)
        sp = self._scenarios()
        share = np.ones(len(u)) if scenario is None else (sp / sp.sum())[np.asarray(scenario)] * len(sp)
        return self.alpha + (1.0 - self.alpha) * share * g

    def weights(self, u: np.ndarray, scenario: np.ndarray | None = None) -> np.ndarray:
        """``p(u, s) / q(u, s)``; p = 1 on the cube times a uniform scenario."""
        return 1.0 / self.density(np.atleast_2d(u), scenario)


@dataclass(frozen=True)
class MixtureProposal:
    """``alpha`` nominal + ``1 - alpha`` of an equal mixture of ``components`` (one per falsification search, each
    a :class:`Proposal` whose own ``alpha`` is ignored): the density is the mixture's, so the weights stay exact
    (a mixture of proposals is itself a proposal; every weight is still at most ``1 / alpha``)."""

    components: tuple[Proposal, ...]
    alpha: float = ALPHA

    def __post_init__(self) -> None:
        if not self.components:
            raise ValueError("MixtureProposal: no component")

    def _parts(self) -> list[Proposal]:
        return [Proposal(c.mean, c.sigma, 0.0, c.active, c.scenario_p) for c in self.components]

    def sample_with_scenarios(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points and scenario indices: nominal with probability ``alpha``, else a component drawn evenly."""
        parts = self._parts()
        d = len(parts[0].mean)
        pick = rng.random(n) < self.alpha
        which = rng.integers(0, len(parts), n)
        n_scen = len(parts[0]._scenarios())
        points = rng.uniform(0.0, 1.0, (n, d))
        scen = rng.integers(0, n_scen, n)
        for k, part in enumerate(parts):
            rows = np.flatnonzero(~pick & (which == k))
            if rows.size:
                points[rows], scen[rows] = part.sample_with_scenarios(rng, rows.size)
        return points, scen

    def density(self, u: np.ndarray, scenario: np.ndarray | None = None) -> np.ndarray:
        parts = self._parts()
        mix = np.mean([part.density(u, scenario) for part in parts], axis=0)
        return self.alpha + (1.0 - self.alpha) * mix

    def weights(self, u: np.ndarray, scenario: np.ndarray | None = None) -> np.ndarray:
        """``p(u, s) / q(u, s)``; p = 1 on the cube times a uniform scenario."""
        return 1.0 / self.density(np.atleast_2d(u), scenario)


def active_coordinates(mean: np.ndarray, sigma: np.ndarray, elite: int, z: float = 2.0) -> np.ndarray:
    """Coordinates the search moved: the elite mean more than ``z`` standard errors of a uniform elite mean
    (0.289 / sqrt(elite)) from the centre. (A small spread alone says little: a few elite cases always have
    one.)"""
    se = (1.0 / np.sqrt(12.0)) / np.sqrt(max(elite, 1))
    return np.abs(np.asarray(mean) - 0.5) > z * se


def estimate(weights: np.ndarray, margins: np.ndarray, levels: tuple[float, ...] = (0.5, 1.0, 2.0),
             confidence: float = 0.95, alpha: float = ALPHA) -> dict[str, Any]:
    """The weighted estimate of P(margin < 0) (and of P(margin < level) per level), its standard error, the
    effective sample size and, with no failure, the conservative bound of the module docstring."""
    w, m = np.asarray(weights, dtype=np.float64), np.asarray(margins, dtype=np.float64)
    n = len(w)
    if n == 0:
        return {"cases": 0}

    def p_below(level: float) -> tuple[float, float]:
        x = w * (m < level)
        return float(x.mean()), float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")

    def p_below_normalised(level: float) -> float:  # bounded by 1 (slightly biased; the usual report beside ESS)
        return float(np.sum(w * (m < level)) / np.sum(w))

    p, se = p_below(0.0)
    k = int(np.sum(m < 0.0))
    out: dict[str, Any] = {
        "cases": n, "failures_under_proposal": k, "p_fail": p, "std_error": se,
        "effective_sample_size": round(float(w.sum() ** 2 / np.sum(w**2)), 1),
        "max_weight": round(float(w.max()), 3),
        "p_fail_self_normalised": round(p_below_normalised(0.0), 6),
        "p_margin_below": {f"{lv:g}": round(p_below_normalised(lv), 6) for lv in levels},
    }
    if k == 0:
        out["p_fail_upper_bound"] = round(min(1.0, upper_bound(0, n, confidence) / alpha), 6)
    return out


__all__ = ["ALPHA", "MixtureProposal", "Proposal", "active_coordinates", "estimate"]
