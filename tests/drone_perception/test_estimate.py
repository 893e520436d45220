"""Tests for drone_perception.estimate.SubjectFilter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_perception.errors import InvalidValueError
from drone_perception.estimate import POS, VEL, NotInitializedError, SubjectFilter

R1 = np.diag([0.25, 0.25, 0.01])


class TextbookKF:
    """Oracle: the filter written out the plain textbook way (standard-form covariance update, explicit
    inverse), with the same model as SubjectFilter (continuous white-noise acceleration)."""

    def __init__(self, q_diag: np.ndarray, init_vel_var: np.ndarray) -> None:
        self.q = q_diag
        self.init_vel_var = init_vel_var
        self.x = np.zeros(6)
        self.P = np.zeros((6, 6))
        self.t = 0.0

    def init(self, t: float, z: np.ndarray, R: np.ndarray) -> None:
        self.x = np.concatenate([z, np.zeros(3)])
        self.P = np.zeros((6, 6))
        self.P[:3, :3] = R + 1e-6 * np.eye(3)
        self.P[3:, 3:] = np.diag(self.init_vel_var)
        self.t = t

    def predict(self, t: float) -> None:
        dt = t - self.t
        F = np.block([[np.eye(3), dt * np.eye(3)], [np.zeros((3, 3)), np.eye(3)]])
        q = np.diag(self.q)
        Q = np.block([[q * dt**3 / 3, q * dt**2 / 2], [q * dt**2 / 2, q * dt]])
        self.x = F @ self.x
        self.P = F @ self.P @ F.T + Q
        self.t = t

    def update(self, z: np.ndarray, R: np.ndarray) -> None:
        H = np.hstack([np.eye(3), np.zeros((3, 3))])
        S = H @ self.P @ H.T + R
        K = self.P @ H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - H @ self.x)
        self.P = (np.eye(6) - K @ H) @ self.P


def random_cov(rng: np.random.Generator) -> np.ndarray:
    A = rng.normal(size=(3, 3)) * rng.uniform(0.05, 2.0)
    return A @ A.T + 0.01 * np.eye(3)


def test_oracle_matches_textbook_over_2000_random_steps() -> None:
    rng = np.random.default_rng(7)
    f = SubjectFilter(accel_sigma_mps2=1.2, init_velocity_sigma_mps=2.5, vertical_accel_sigma_mps2=0.1)
    oracle = TextbookKF(np.array([1.2**2, 1.2**2, 0.1**2]), np.array([2.5**2, 2.5**2, 0.2**2]))
    t = 10.0
    truth = np.array([20.0, -5.0, 0.0])
    z, R = truth + rng.normal(size=3), random_cov(rng)
    f.initialize(t, z, R)
    oracle.init(t, z, R)
    ours, theirs = [], []
    for _ in range(2000):
        t += float(rng.uniform(0.0, 0.3))
        truth = truth + rng.normal(scale=0.1, size=3)
        f.predict_to(t)
        oracle.predict(t)
        if rng.uniform() < 0.7:
            R = random_cov(rng)
            z = truth + rng.multivariate_normal(np.zeros(3), R)
            f.update(z, R)
            oracle.update(z, R)
        ours.append(np.concatenate([f.x, f.P.ravel()]))
        theirs.append(np.concatenate([oracle.x, oracle.P.ravel()]))
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-9, atol=1e-9)


def test_constant_velocity_converges() -> None:
    rng = np.random.default_rng(1)
    f = SubjectFilter(accel_sigma_mps2=0.2)  # a steady walker: low manoeuvre noise
    v_true = np.array([1.2, -0.8, 0.0])
    p0 = np.array([30.0, 10.0, 0.0])
    R = np.diag([0.3**2, 0.3**2, 0.05**2])
    vel_err, vel_nees = [], []
    for k in range(300):  # 15 s at 20 Hz
        t = 0.05 * k
        z = p0 + v_true * t + rng.multivariate_normal(np.zeros(3), R)
        est = f.step(t, 3, (z, R))
        e = est.velocity_ned_mps - v_true
        vel_err.append(np.linalg.norm(e[:2]))
        vel_nees.append(e @ np.linalg.solve(f.P[VEL, VEL], e))
    assert est.valid and est.track_id == 3
    assert vel_err[0] > 1.0 and np.mean(vel_err[-50:]) < 0.15
    err = est.position_ned_m - (p0 + v_true * t)
    assert np.linalg.norm(err) < 0.3
    # the reported covariances are consistent with the errors (not wildly over/under-confident)
    assert err @ np.linalg.solve(est.cov_ned_m2, err) < 16.0
    assert np.mean(vel_nees[-100:]) < 3.0 * 3  # 3 dof: mean NEES ~3 when consistent
    assert abs(f.x[VEL][2]) < 0.15  # vertical velocity stays near zero (vertical process noise is small)


def test_default_tuning_velocity_error_within_reported_sigma() -> None:
    rng = np.random.default_rng(2)
    f = SubjectFilter()
    v_true = np.array([-2.0, 1.0, 0.0])
    R = np.diag([0.3**2, 0.3**2, 0.05**2])
    errs, sig = [], []
    for k in range(400):
        t = 0.05 * k
        f.step(t, 1, (v_true * t + rng.multivariate_normal(np.zeros(3), R), R))
        if k > 100:
            errs.append(f.x[VEL][0] - v_true[0])
            sig.append(math.sqrt(f.P[VEL, VEL][0, 0]))
    rms = math.sqrt(np.mean(np.square(errs)))
    assert 0.3 * np.mean(sig) < rms < 2.0 * np.mean(sig)
    assert abs(np.mean(errs)) < 0.2


def test_noise_free_constant_velocity_is_exact_in_the_limit() -> None:
    f = SubjectFilter()
    v = np.array([2.0, 1.0, 0.0])
    for k in range(400):
        t = 0.1 * k
        f.step(t, 1, (v * t, 1e-4 * np.eye(3)))
    np.testing.assert_allclose(f.x[VEL], v, atol=1e-3)
    np.testing.assert_allclose(f.x[POS], v * t, atol=1e-3)


@pytest.mark.parametrize("rate_hz", [5.0, 30.0])
def test_explicit_dt_rates_give_consistent_estimates(rate_hz: float) -> None:
    """The same motion sampled at 5 Hz and 30 Hz gives the same velocity estimate (dt is explicit)."""
    rng = np.random.default_rng(int(rate_hz))
    v = np.array([1.5, 0.5, 0.0])
    R = np.diag([0.2**2, 0.2**2, 0.02**2])
    f = SubjectFilter(accel_sigma_mps2=0.2)
    n = int(20.0 * rate_hz)
    for k in range(n + 1):
        t = k / rate_hz
        f.step(t, 1, (v * t + rng.multivariate_normal(np.zeros(3), R), R))
    assert np.linalg.norm(f.x[VEL] - v) < 0.1
    assert f.stamp_s == pytest.approx(20.0)


def test_extra_prediction_steps_change_nothing() -> None:
    """Measurements at 5 Hz; one filter also steps (without measurement) at 30 Hz in between: same result."""
    rng = np.random.default_rng(3)
    a, b = SubjectFilter(), SubjectFilter()
    R = np.diag([0.2**2, 0.2**2, 0.02**2])
    for k in range(0, 61):
        t = k / 30.0
        z = np.array([1.0, 2.0, 0.0]) * t + rng.normal(scale=0.2, size=3)
        if k % 6 == 0:
            a.step(t, 1, (z, R))
            b.step(t, 1, (z, R))
        else:
            b.step(t, 1, None)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a.P, b.P, rtol=1e-9, atol=1e-9)


def test_predict_is_rate_independent() -> None:
    """Without measurements, one 1 s prediction equals ten 0.1 s predictions (exact discretisation)."""
    a, b = SubjectFilter(), SubjectFilter()
    for f in (a, b):
        f.initialize(0.0, [1.0, 2.0, 0.0], R1)
    a.predict_to(1.0)
    for k in range(1, 11):
        b.predict_to(0.1 * k)
    np.testing.assert_allclose(a.x, b.x, atol=1e-12)
    np.testing.assert_allclose(a.P, b.P, rtol=1e-12, atol=1e-12)


def test_covariance_grows_while_unobserved_and_becomes_invalid_after_timeout() -> None:
    f = SubjectFilter(lost_timeout_s=2.0)
    est = f.step(0.0, 5, ([10.0, 0.0, 0.0], R1))
    assert est.valid
    traces = []
    for k in range(1, 60):
        t = 0.1 * k
        est = f.step(t, 5, None)
        traces.append(np.trace(est.cov_ned_m2))
        assert est.valid == (t <= 2.0 + 1e-12)
    assert np.all(np.diff(traces) > 0)
    assert np.all(np.isfinite(est.position_ned_m))
    # a measurement brings it back
    est = f.step(6.0, 5, ([10.0, 0.0, 0.0], R1))
    assert est.valid and np.trace(est.cov_ned_m2) < traces[-1]


def test_never_initialised_is_invalid_and_subject_change_resets() -> None:
    f = SubjectFilter()
    est = f.step(0.0, 2, None)
    assert not est.valid and not f.initialized and np.all(np.isnan(est.position_ned_m))
    f.step(1.0, 2, ([5.0, 5.0, 0.0], R1))
    f.step(1.5, 2, ([5.5, 5.0, 0.0], R1))
    est = f.step(2.0, 9, ([50.0, -5.0, 0.0], R1))  # another subject: starts fresh
    assert est.track_id == 9
    np.testing.assert_allclose(est.position_ned_m, [50.0, -5.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(est.velocity_ned_mps, 0.0)
    f.reset()
    assert not f.initialized and f.last_innovation is None


@pytest.mark.parametrize(
    ("z", "R", "match"),
    [
        ([np.nan, 0.0, 0.0], R1, "z_ned_m"),
        ([0.0, 0.0], R1, "z_ned_m"),
        ([0.0, 0.0, 0.0], np.full((3, 3), np.nan), "R_ned_m2"),
        ([0.0, 0.0, 0.0], -np.eye(3), "positive semi-definite"),
        ([0.0, 0.0, 0.0], np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "symmetric"),
        ([0.0, 0.0, 0.0], np.eye(2), "R_ned_m2"),
    ],
)
def test_bad_measurement_rejected_without_state_change(z, R, match) -> None:  # type: ignore[no-untyped-def]
    f = SubjectFilter()
    f.step(0.0, 1, ([1.0, 2.0, 0.0], R1))
    f.predict_to(0.5)
    x0, P0, t0 = f.x, f.P, f.stamp_s
    with pytest.raises(InvalidValueError, match=match):
        f.update(z, R)
    with pytest.raises(InvalidValueError, match=match):
        f.step(1.0, 1, (z, R))
    with pytest.raises(InvalidValueError, match=match):
        f.mahalanobis2(z, R)
    np.testing.assert_array_equal(f.x, x0)
    np.testing.assert_array_equal(f.P, P0)
    assert f.stamp_s == t0


@pytest.mark.parametrize("stamp", [0.4, math.nan, math.inf])
def test_bad_stamp_rejected(stamp: float) -> None:
    f = SubjectFilter()
    f.step(0.5, 1, ([1.0, 2.0, 0.0], R1))
    x0 = f.x
    with pytest.raises(InvalidValueError, match="stamp_s"):
        f.predict_to(stamp)
    with pytest.raises(InvalidValueError, match="stamp_s"):
        f.step(stamp, 1, None)
    with pytest.raises(InvalidValueError, match="stamp_s"):
        f.predicted_position(stamp)
    np.testing.assert_array_equal(f.x, x0)
    assert f.stamp_s == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"accel_sigma_mps2": 0.0}, "accel_sigma_mps2"),
        ({"accel_sigma_mps2": math.nan}, "accel_sigma_mps2"),
        ({"init_velocity_sigma_mps": -1.0}, "init_velocity_sigma_mps"),
        ({"lost_timeout_s": 0.0}, "lost_timeout_s"),
        ({"lost_timeout_s": 1e6}, "lost_timeout_s"),
        ({"vertical_accel_sigma_mps2": -0.1}, "vertical_accel_sigma_mps2"),
    ],
)
def test_bad_parameters(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SubjectFilter(**kwargs)


def test_uninitialised_methods_raise() -> None:
    f = SubjectFilter()
    for call in (lambda: f.predict_to(1.0), lambda: f.update([0, 0, 0], R1), lambda: f.x,
                 lambda: f.mahalanobis2([0, 0, 0], R1), lambda: f.predicted_position(1.0)):
        with pytest.raises(NotInitializedError):
            call()


def test_predicted_position_does_not_mutate_and_mahalanobis_gates() -> None:
    f = SubjectFilter()
    v = np.array([1.0, 0.0, 0.0])
    for k in range(50):
        f.step(0.1 * k, 1, (v * 0.1 * k, R1))
    x0, P0 = f.x, f.P
    pos, cov = f.predicted_position(f.stamp_s + 1.0)
    np.testing.assert_array_equal(f.x, x0)
    np.testing.assert_array_equal(f.P, P0)
    np.testing.assert_allclose(pos, x0[POS] + x0[VEL] * 1.0)
    assert np.all(np.linalg.eigvalsh(cov - P0[POS, POS]) > 0)
    near = f.mahalanobis2(x0[POS] + [0.2, 0.0, 0.0], R1)
    far = f.mahalanobis2(x0[POS] + [8.0, 0.0, 0.0], R1)
    assert near < 7.81 < far  # chi-square(3) 95 %


def test_innovation_is_inspectable() -> None:
    f = SubjectFilter()
    f.step(0.0, 1, ([0.0, 0.0, 0.0], R1))
    f.step(0.1, 1, ([1.0, 0.0, 0.0], R1))
    np.testing.assert_allclose(f.last_innovation, [1.0, 0.0, 0.0])
    S = f.last_innovation_cov
    assert S is not None and np.all(np.linalg.eigvalsh(S) > 0)


@settings(max_examples=30, deadline=None)
@given(
    dts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30),
    seen=st.lists(st.booleans(), min_size=30, max_size=30),
)
def test_covariance_stays_symmetric_positive_definite(dts: list[float], seen: list[bool]) -> None:
    f = SubjectFilter()
    t = 0.0
    f.step(t, 1, ([0.0, 0.0, 0.0], R1))
    for dt, s in zip(dts, seen):
        t += dt
        f.step(t, 1, ([0.1, 0.0, 0.0], R1) if s else None)
        P = f.P
        np.testing.assert_allclose(P, P.T, atol=1e-12)
        assert np.linalg.eigvalsh(P).min() > 0
