"""Oracle test: the scalar fast acceptance of a measurement never accepts what the full numpy checks reject."""

from __future__ import annotations

import numpy as np
import pytest

from drone_perception import estimate as est
from drone_perception.errors import InvalidValueError


def _full_check_passes(z: np.ndarray, R: np.ndarray) -> bool:
    scale = max(1.0, float(np.max(np.abs(R)))) if np.all(np.isfinite(R)) else 1.0
    return bool(
        np.all(np.isfinite(z)) and np.all(np.isfinite(R)) and np.allclose(R, R.T, atol=1e-9 * scale)
        and np.linalg.eigvalsh(R).min() >= -1e-9 * scale
    )


def _random_measurement(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    z = rng.normal(0.0, 50.0, 3)
    kind = rng.integers(0, 5)
    A = rng.normal(0.0, 10.0 ** rng.uniform(-3, 2), (3, 3))
    R = A @ A.T
    if kind == 1:  # indefinite
        R = R - np.eye(3) * rng.uniform(0.0, 2.0) * np.linalg.eigvalsh(R).max()
    elif kind == 2:  # slightly asymmetric
        R = R + rng.normal(0.0, 10.0 ** rng.uniform(-12, -2), (3, 3))
    elif kind == 3:  # singular (rank 1 or 2)
        v = rng.normal(size=(3, int(rng.integers(1, 3))))
        R = v @ v.T
    elif kind == 4:  # non-finite
        R[rng.integers(0, 3), rng.integers(0, 3)] = rng.choice([np.nan, np.inf])
    return z, R


@pytest.mark.parametrize("seed", range(20))
def test_fast_acceptance_implies_full_checks_pass(seed: int) -> None:
    rng = np.random.default_rng(seed)
    accepted = 0
    for _ in range(200):
        z, R = _random_measurement(rng)
        fast = est._is_clearly_valid_measurement(z, R)
        if fast:
            accepted += 1
            assert _full_check_passes(z, R), (z, R)
        # and _check_measurement as a whole keeps the full checks' verdict
        try:
            est._check_measurement(z, R)
            passed = True
        except InvalidValueError:
            passed = False
        assert passed == _full_check_passes(z, R)
    assert accepted > 0


@pytest.mark.parametrize("seed", range(5))
def test_reused_prediction_matches_fresh_filter(seed: int) -> None:
    """Asking for the prediction first (as the pipeline does) leaves the filter bit-identical."""
    rng = np.random.default_rng(seed)
    asked, plain = est.SubjectFilter(), est.SubjectFilter()
    for k in range(30):
        t = 0.05 * k
        meas = None if rng.random() < 0.2 else (rng.normal(0.0, 5.0, 3), np.diag(rng.uniform(0.1, 2.0, 3)))
        if asked.initialized:
            pos, cov = asked.predicted_position(t)
            F, Q = plain.transition(t - plain.stamp_s)  # the prediction written out, from the other filter
            P = F @ plain.P @ F.T + Q
            np.testing.assert_array_equal(pos, (F @ plain.x)[:3])
            np.testing.assert_array_equal(cov, (0.5 * (P + P.T))[:3, :3])
            pos[:] = np.nan  # callers' copies are theirs: mutating one must not touch the filter
        a = asked.step(t, 1, meas)
        p = plain.step(t, 1, meas)
        np.testing.assert_array_equal(a.position_ned_m, p.position_ned_m)
        np.testing.assert_array_equal(a.cov_ned_m2, p.cov_ned_m2)
