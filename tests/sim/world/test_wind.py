"""Ornstein-Uhlenbeck gusts: stationary mean, standard deviation and correlation time; calm wind is constant."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drone_perception.errors import InvalidValueError
from sim.world.wind import Wind


@pytest.mark.parametrize(("sigma", "tau", "dt_s"), [(2.0, 3.0, 0.05), (0.5, 1.0, 0.2), (1.0, 5.0, 0.02)])
def test_gust_statistics(sigma, tau, dt_s):
    mean = np.array([1.0, 8.0, 0.0])
    rng = np.random.default_rng(42)
    wind = Wind(mean, sigma, tau, rng=rng)
    n = round(400 * tau / dt_s)  # ~400 correlation times
    samples = np.array([wind.step(dt_s, rng) for _ in range(n)])
    gust = samples - mean
    # Mean and std within a few standard errors (~sigma * sqrt(2 tau / T)).
    se = sigma * math.sqrt(2.0 * tau / (n * dt_s))
    assert np.all(np.abs(gust.mean(axis=0)) < 5 * se)
    assert np.allclose(gust.std(axis=0), sigma, rtol=0.12)
    # Autocorrelation at lag tau is exp(-1).
    lag = round(tau / dt_s)
    rho = np.mean([np.corrcoef(gust[:-lag, i], gust[lag:, i])[0, 1] for i in range(3)])
    assert rho == pytest.approx(math.exp(-1.0), abs=0.08)


def test_per_axis_sigma():
    rng = np.random.default_rng(0)
    wind = Wind((0, 0, 0), (2.0, 1.0, 0.0), 1.0, rng=rng)
    samples = np.array([wind.step(0.1, rng) for _ in range(20000)])
    std = samples.std(axis=0)
    assert std[0] == pytest.approx(2.0, rel=0.15)
    assert std[1] == pytest.approx(1.0, rel=0.15)
    assert std[2] == 0.0


def test_calm_is_constant_and_draws_nothing():
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    wind = Wind((3.0, 0.0, 0.0))
    for _ in range(10):
        assert wind.step(0.05, rng).tolist() == [3.0, 0.0, 0.0]
    assert rng.bit_generator.state == state


def run(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wind = Wind((0, 5, 0), 2.0, 3.0, rng=rng)
    return np.array([wind.step(0.05, rng) for _ in range(100)])


def test_same_seed_same_gusts():
    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"mean_ned_mps": (0, 0)}, "mean_ned_mps"),
    ({"gust_sigma_mps": -1.0}, "gust_sigma_mps"),
    ({"gust_time_constant_s": 0.0}, "gust_time_constant_s"),
])
def test_rejects_bad_parameters(kwargs, field):
    with pytest.raises(InvalidValueError, match=field):
        Wind(**kwargs)
