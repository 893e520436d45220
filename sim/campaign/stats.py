"""Clopper-Pearson bounds: with k failures in n independent cases, the failure probability is below
``upper_bound(k, n)`` with the given confidence (0 failures in n: about 3/n at 95 %)."""

from __future__ import annotations

from scipy.stats import beta


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided upper Clopper-Pearson bound of a binomial proportion (1.0 when n == 0)."""
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    return float(beta.ppf(confidence, k + 1, n - k))


def lower_bound(k: int, n: int, confidence: float = 0.95) -> float:
    if n <= 0 or k <= 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, k, n - k + 1))


__all__ = ["lower_bound", "upper_bound"]
