"""Box and ground Kalman filters: oracle comparison with a plain single-track filter, dt consistency."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.errors import InvalidValueError
from drone_perception.track.kalman import BoxKalmanFilter, GroundKalmanFilter, mahalanobis2_ne


def _oracle_box_step(kf: BoxKalmanFilter, x, P, dt, z):
    """Textbook single-track KF, written independently (no batching, plain matrix algebra)."""
    F = np.eye(8)
    for i in range(4):
        F[i, i + 4] = dt
    h = max(x[3], 1.0)
    q = (kf.accel_std_per_h * h) ** 2
    G = np.zeros((8, 4))
    G[:4] = np.eye(4) * dt**2 / 2
    G[4:] = np.eye(4) * dt
    Q = G @ G.T * q
    x = F @ x
    P = F @ P @ F.T + Q
    H = np.hstack([np.eye(4), np.zeros((4, 4))])
    R = np.eye(4) * (kf.meas_std_per_h * max(z[3], 1.0)) ** 2
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    x = x + K @ (z - H @ x)
    P = (np.eye(8) - K @ H) @ P
    return x, P


def test_box_filter_matches_oracle_over_many_steps() -> None:
    kf = BoxKalmanFilter()
    rng = np.random.default_rng(3)
    box = np.array([[100.0, 200.0, 140.0, 300.0]])
    x, P = kf.initiate(box)
    xo, Po = x[0].copy(), P[0].copy()
    for k in range(2000):
        dt = float(rng.uniform(0.01, 0.2))
        zb = box + rng.normal(0, 3, (1, 4)) + k * 0.5
        x, P = kf.predict(x, P, dt)
        x, P = kf.update(x, P, zb)
        xo, Po = _oracle_box_step(kf, xo, Po, dt, kf.xyxy_to_z(zb)[0])
        assert np.allclose(x[0], xo, rtol=1e-6, atol=1e-6)
    assert np.allclose(P[0], Po, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0))
def test_prediction_mean_is_additive_in_dt(a: float, b: float) -> None:
    kf = GroundKalmanFilter()
    x = np.array([[1.0, 2.0, 0.5, -1.0]])
    P = np.tile(np.eye(4), (1, 1, 1))
    x1, P1 = kf.predict(*kf.predict(x, P, a), b)
    x2, _ = kf.predict(x, P, a + b)
    assert np.allclose(x1, x2)
    # covariance stays symmetric positive definite
    assert np.allclose(P1, np.swapaxes(P1, 1, 2))
    assert np.all(np.linalg.eigvalsh(P1) > 0)


@pytest.mark.parametrize("dt_s", [-0.1, float("nan"), float("inf"), 61.0])
def test_bad_dt_is_rejected(dt_s: float) -> None:
    kf = BoxKalmanFilter()
    x, P = kf.initiate(np.array([[0.0, 0.0, 10.0, 20.0]]))
    with pytest.raises(InvalidValueError, match="dt_s"):
        kf.predict(x, P, dt_s)


@pytest.mark.parametrize(
    ("field", "value"), [("meas_std_per_h", 0.0), ("accel_std_per_h", -1.0), ("init_vel_std_per_h", np.nan)]
)
def test_bad_parameters_are_rejected(field: str, value: float) -> None:
    with pytest.raises(InvalidValueError, match=field):
        BoxKalmanFilter(**{field: value})


def test_update_does_not_mutate_inputs() -> None:
    kf = BoxKalmanFilter()
    x, P = kf.initiate(np.array([[0.0, 0.0, 10.0, 20.0]]))
    x0, P0 = x.copy(), P.copy()
    kf.update(x, P, np.array([[1.0, 1.0, 11.0, 21.0]]))
    assert np.array_equal(x, x0) and np.array_equal(P, P0)


def test_mahalanobis_is_inf_for_nan_and_matches_direct_formula() -> None:
    a = np.array([[0.0, 0.0], [np.nan, 0.0]])
    ca = np.array([np.eye(2), np.eye(2)])
    b = np.array([[3.0, 4.0]])
    cb = np.array([np.eye(2)])
    d2 = mahalanobis2_ne(a, ca, b, cb)
    assert d2[0, 0] == pytest.approx(25.0 / 2.0)
    assert np.isinf(d2[1, 0])
