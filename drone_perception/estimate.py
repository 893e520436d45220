"""The subject's position and velocity in NED: a constant-velocity Kalman filter with explicit time.

State ``x = [n, e, d, vn, ve, vd]`` (metres, metres per second, NED: north, east, down), accessed through
the named slices :data:`POS` and :data:`VEL`. Measurements are foot positions in NED (3,) with a full 3x3
covariance, e.g. from :func:`drone_perception.geometry.locate_people`.

Process noise is continuous white acceleration (its discretisation over ``dt`` is exact, so a 10 Hz and a
30 Hz camera give the same filter): horizontal spectral density ``accel_sigma_mps2**2`` per second.

Vertical: people walk on the ground, so the down axis gets a much smaller acceleration noise
(``vertical_accel_sigma_mps2``, default 0.1 m/s^2) and a small initial vertical-velocity uncertainty.
We keep the vertical axis in the model (rather than clamping ``d``) because the ground under a person is
not exactly flat and the measurements say where it is; the small process noise keeps ``vd`` near zero.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt

from drone_perception.errors import DronePerceptionError, InvalidValueError
from drone_perception.types import TargetEstimate

LOG = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Position block of the state (n, e, d in metres).
POS = slice(0, 3)
#: Velocity block of the state (vn, ve, vd in m/s).
VEL = slice(3, 6)
STATE_DIM = 6
#: Measurement matrix: the filter observes the position block.
H_POS = np.hstack([np.eye(3), np.zeros((3, 3))])
#: Floor added to the initial position variance (m^2), so a singular measurement covariance still gives a
#: positive-definite P.
_INIT_VAR_FLOOR_M2 = 1e-6
#: Initial vertical-velocity standard deviation (m/s): people on the ground barely move vertically.
_INIT_VERTICAL_VELOCITY_SIGMA_MPS = 0.2


class NotInitializedError(DronePerceptionError):
    """The filter has no state yet (no measurement since construction or :meth:`SubjectFilter.reset`)."""


def _check_positive(name: str, value: float, upper: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and 0.0 < v <= upper):
        raise InvalidValueError(f"{name}: must be in (0, {upper}], got {value!r}")
    return v


def _check_measurement(z_ned_m: npt.ArrayLike, R_ned_m2: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    z = np.array(z_ned_m, dtype=np.float64)
    R = np.array(R_ned_m2, dtype=np.float64)
    if z.shape != (3,):
        raise InvalidValueError(f"z_ned_m: expected shape (3,), got {z.shape}")
    if R.shape != (3, 3):
        raise InvalidValueError(f"R_ned_m2: expected shape (3, 3), got {R.shape}")
    if _is_clearly_valid_measurement(z, R):
        return z, 0.5 * (R + R.T)
    if not np.all(np.isfinite(z)):
        raise InvalidValueError(f"z_ned_m: must be finite, got {z.tolist()}")
    if not np.all(np.isfinite(R)):
        raise InvalidValueError("R_ned_m2: contains NaN or infinite values")
    scale = max(1.0, float(np.max(np.abs(R))))
    if not np.allclose(R, R.T, atol=1e-9 * scale):
        raise InvalidValueError("R_ned_m2: must be symmetric")
    min_eig = float(np.linalg.eigvalsh(R).min())
    if min_eig < -1e-9 * scale:
        raise InvalidValueError(f"R_ned_m2: must be positive semi-definite, min eigenvalue {min_eig:.3g}")
    return z, 0.5 * (R + R.T)


def _is_clearly_valid_measurement(z: FloatArray, R: FloatArray) -> bool:
    """Cheap scalar test that ``(z (3,), R (3, 3))`` passes every check of :func:`_check_measurement`.

    True only when z and R are finite, R meets the same symmetry tolerance as ``np.allclose(R, R.T,
    atol=1e-9 * scale)`` and its Cholesky factorisation has positive pivots (then R is positive definite
    up to rounding far below the ``-1e-9 * scale`` eigenvalue tolerance). False means "not sure": the
    caller runs the full checks, which raise the detailed errors.
    """
    z0, z1, z2 = z.tolist()
    (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = R.tolist()
    if not all(math.isfinite(v) for v in (z0, z1, z2, a00, a01, a02, a10, a11, a12, a20, a21, a22)):
        return False
    scale = max(1.0, abs(a00), abs(a01), abs(a02), abs(a10), abs(a11), abs(a12), abs(a20), abs(a21), abs(a22))
    atol = 1e-9 * scale
    for x, y in ((a01, a10), (a02, a20), (a12, a21)):  # allclose(R, R.T): both orderings (rtol 1e-5)
        if abs(x - y) > atol + 1e-5 * abs(y) or abs(y - x) > atol + 1e-5 * abs(x):
            return False
    # Cholesky of the symmetrised matrix: all pivots > 0 <=> positive definite.
    s01, s02, s12 = 0.5 * (a01 + a10), 0.5 * (a02 + a20), 0.5 * (a12 + a21)
    if not a00 > 0.0:
        return False
    l10, l20 = s01 / a00, s02 / a00
    d1 = a11 - l10 * s01
    if not d1 > 0.0:
        return False
    l21 = (s12 - l10 * s02) / d1
    d2 = a22 - l20 * s02 - l21 * (s12 - l10 * s02)
    return d2 > 0.0


def _check_stamp(stamp_s: float) -> float:
    t = float(stamp_s)
    if not math.isfinite(t):
        raise InvalidValueError(f"stamp_s: must be finite, got {stamp_s!r}")
    return t


class SubjectFilter:
    """Constant-velocity Kalman filter of the locked subject's foot point in NED.

    Parameters (keyword only):

    ``accel_sigma_mps2``: horizontal acceleration noise (white-noise spectral density
      ``accel_sigma_mps2**2`` m^2/s^3). Raise it for agile subjects (the estimate follows turns faster but
      is noisier); lower it for a smoother, laggier estimate. Range (0, 50].
    ``init_velocity_sigma_mps``: horizontal velocity standard deviation at initialisation (the subject may
      already be moving). Range (0, 50].
    ``lost_timeout_s``: the estimate is reported invalid once no measurement arrived for longer than this
      (the prediction keeps running and its covariance keeps growing). Range (0, 60].
    ``vertical_accel_sigma_mps2``: acceleration noise of the down axis (people stay on the ground).
      Range (0, 50].
    """

    def __init__(
        self,
        *,
        accel_sigma_mps2: float = 1.5,
        init_velocity_sigma_mps: float = 3.0,
        lost_timeout_s: float = 2.0,
        vertical_accel_sigma_mps2: float = 0.1,
    ) -> None:
        self.accel_sigma_mps2 = _check_positive("accel_sigma_mps2", accel_sigma_mps2, 50.0)
        self.init_velocity_sigma_mps = _check_positive(
            "init_velocity_sigma_mps", init_velocity_sigma_mps, 50.0
        )
        self.lost_timeout_s = _check_positive("lost_timeout_s", lost_timeout_s, 60.0)
        self.vertical_accel_sigma_mps2 = _check_positive(
            "vertical_accel_sigma_mps2", vertical_accel_sigma_mps2, 50.0
        )
        self._q_psd = np.array([self.accel_sigma_mps2**2] * 2 + [self.vertical_accel_sigma_mps2**2])
        self._transition_cache: dict[float, tuple[FloatArray, FloatArray]] = {}
        self.reset()

    # ----------------------------------------------------------------------------------------- state

    def reset(self) -> None:
        """Forget everything: the next measurement initialises the filter."""
        self._x: FloatArray | None = None
        self._P: FloatArray | None = None
        self._stamp_s: float | None = None
        self._last_update_s: float | None = None
        self._track_id = -1
        self._innovation: FloatArray | None = None
        self._innovation_cov: FloatArray | None = None
        self._predict_cache: tuple[FloatArray, FloatArray, float, float, FloatArray, FloatArray] | None = None

    @property
    def initialized(self) -> bool:
        return self._x is not None

    @property
    def x(self) -> FloatArray:
        """Copy of the state ``[n, e, d, vn, ve, vd]`` (m, m/s, NED)."""
        return self._require()[0].copy()

    @property
    def P(self) -> FloatArray:
        """Copy of the 6x6 state covariance (m^2, m^2/s, m^2/s^2)."""
        return self._require()[1].copy()

    @property
    def position_ned_m(self) -> FloatArray:
        return self._require()[0][POS].copy()

    @property
    def velocity_ned_mps(self) -> FloatArray:
        return self._require()[0][VEL].copy()

    @property
    def stamp_s(self) -> float | None:
        """Time the state refers to (None before initialisation)."""
        return self._stamp_s

    @property
    def last_update_s(self) -> float | None:
        """Time of the last accepted measurement (None before initialisation)."""
        return self._last_update_s

    @property
    def track_id(self) -> int:
        return self._track_id

    @property
    def last_innovation(self) -> FloatArray | None:
        """Innovation ``z - H x_prior`` (m, NED) of the last update, or None."""
        return None if self._innovation is None else self._innovation.copy()

    @property
    def last_innovation_cov(self) -> FloatArray | None:
        """Innovation covariance ``S = H P_prior H^T + R`` (m^2) of the last update, or None."""
        return None if self._innovation_cov is None else self._innovation_cov.copy()

    def _require(self) -> tuple[FloatArray, FloatArray, float]:
        if self._x is None or self._P is None or self._stamp_s is None:
            raise NotInitializedError("SubjectFilter: no state; initialize() or step() with a measurement")
        return self._x, self._P, self._stamp_s

    # ----------------------------------------------------------------------------------------- model

    def transition(self, dt_s: float) -> tuple[FloatArray, FloatArray]:
        """``(F, Q)`` of the constant-velocity model over ``dt_s`` seconds (continuous white acceleration)."""
        F, Q = self._transition_cached(float(dt_s))
        return F.copy(), Q.copy()

    def _transition_cached(self, dt_s: float) -> tuple[FloatArray, FloatArray]:
        """:meth:`transition` for the last few ``dt_s`` (the control period repeats): read-only arrays."""
        hit = self._transition_cache.get(dt_s)
        if hit is None:
            hit = self._transition_uncached(dt_s)
            for arr in hit:
                arr.setflags(write=False)
            if len(self._transition_cache) >= 8:
                self._transition_cache.clear()
            self._transition_cache[dt_s] = hit
        return hit

    def _transition_uncached(self, dt_s: float) -> tuple[FloatArray, FloatArray]:
        F = np.eye(STATE_DIM)
        F[POS, VEL] = dt_s * np.eye(3)
        q = np.diag(self._q_psd)
        Q = np.zeros((STATE_DIM, STATE_DIM))
        Q[POS, POS] = q * dt_s**3 / 3.0
        Q[POS, VEL] = q * dt_s**2 / 2.0
        Q[VEL, POS] = q * dt_s**2 / 2.0
        Q[VEL, VEL] = q * dt_s
        return F, Q

    def _predicted(self, stamp_s: float) -> tuple[FloatArray, FloatArray]:
        x, P, t0 = self._require()
        t = _check_stamp(stamp_s)
        dt = t - t0
        if dt < 0.0:
            raise InvalidValueError(f"stamp_s: must not go back in time; got {t} before filter stamp {t0}")
        # The pipeline asks for the prediction to the same stamp twice (lock gate, then predict_to): reuse it
        # while the state arrays are the very same objects (they are replaced, never mutated in place).
        c = self._predict_cache
        if c is not None and c[0] is x and c[1] is P and c[2] == t0 and c[3] == t:
            return c[4], c[5]
        F, Q = self._transition_cached(dt)
        P_new = F @ P @ F.T + Q
        x_pred, P_pred = F @ x, 0.5 * (P_new + P_new.T)
        self._predict_cache = (x, P, t0, t, x_pred, P_pred)
        return x_pred, P_pred

    # ----------------------------------------------------------------------------------------- steps

    def initialize(self, stamp_s: float, z_ned_m: npt.ArrayLike, R_ned_m2: npt.ArrayLike) -> None:
        """Start from a measurement: position ``z`` with covariance ``R``, velocity zero with the configured
        initial uncertainty."""
        self._initialize_checked(_check_stamp(stamp_s), *_check_measurement(z_ned_m, R_ned_m2))

    def _initialize_checked(self, t: float, z: FloatArray, R: FloatArray) -> None:
        x = np.zeros(STATE_DIM)
        x[POS] = z
        P = np.zeros((STATE_DIM, STATE_DIM))
        P[POS, POS] = R + _INIT_VAR_FLOOR_M2 * np.eye(3)
        P[VEL, VEL] = np.diag([self.init_velocity_sigma_mps**2] * 2 + [_INIT_VERTICAL_VELOCITY_SIGMA_MPS**2])
        self._x, self._P, self._stamp_s, self._last_update_s = x, P, t, t
        self._innovation, self._innovation_cov = None, None

    def predict_to(self, stamp_s: float) -> None:
        """Advance the state to ``stamp_s`` (seconds, monotonic; must not be before the filter stamp)."""
        x, P = self._predicted(stamp_s)
        self._x, self._P, self._stamp_s = x, P, float(stamp_s)

    def update(self, z_ned_m: npt.ArrayLike, R_ned_m2: npt.ArrayLike) -> None:
        """Fuse a position measurement taken at the filter stamp (call :meth:`predict_to` first).

        Rejects NaN, wrongly shaped, asymmetric or non-PSD input with ``InvalidValueError`` and leaves the
        state untouched. The covariance update uses the Joseph form (stays symmetric positive definite).
        """
        self._require()
        self._update_checked(*_check_measurement(z_ned_m, R_ned_m2))

    def _update_checked(self, z: FloatArray, R: FloatArray) -> None:
        x, P, t = self._require()
        y = z - H_POS @ x
        S = H_POS @ P @ H_POS.T + R
        K = np.linalg.solve(S, H_POS @ P).T  # P H^T S^-1, S symmetric
        I_KH = np.eye(STATE_DIM) - K @ H_POS
        P_new = I_KH @ P @ I_KH.T + K @ R @ K.T
        self._x = x + K @ y
        self._P = 0.5 * (P_new + P_new.T)
        self._innovation, self._innovation_cov = y, S
        self._last_update_s = t

    def mahalanobis2(self, z_ned_m: npt.ArrayLike, R_ned_m2: npt.ArrayLike) -> float:
        """Squared Mahalanobis distance of a measurement from the current prediction (at the filter stamp),
        for gating a re-acquisition: compare with a chi-square quantile with 3 degrees of freedom."""
        x, P, _ = self._require()
        z, R = _check_measurement(z_ned_m, R_ned_m2)
        y = z - H_POS @ x
        S = H_POS @ P @ H_POS.T + R
        return float(y @ np.linalg.solve(S, y))

    def predicted_position(self, stamp_s: float) -> tuple[FloatArray, FloatArray]:
        """``(position_ned_m (3,), cov_ned_m2 (3, 3))`` predicted to ``stamp_s``; the state is unchanged."""
        x, P = self._predicted(stamp_s)
        return x[POS].copy(), P[POS, POS].copy()

    def is_lost(self, stamp_s: float) -> bool:
        """True when no measurement arrived for more than ``lost_timeout_s`` before ``stamp_s``."""
        if self._last_update_s is None:
            return True
        return float(stamp_s) - self._last_update_s > self.lost_timeout_s

    def step(
        self,
        stamp_s: float,
        track_id: int,
        measurement: tuple[npt.ArrayLike, npt.ArrayLike] | None,
    ) -> TargetEstimate:
        """Predict to ``stamp_s``, update with ``measurement = (z_ned_m, R_ned_m2)`` if given, and report.

        A new ``track_id`` (the operator chose another subject) resets the filter first. The estimate is
        ``valid`` only when the filter is initialised and the last measurement is at most
        ``lost_timeout_s`` old. Bad input raises ``InvalidValueError`` before anything changes.
        """
        t = _check_stamp(stamp_s)
        checked = None if measurement is None else _check_measurement(*measurement)
        same_subject = track_id == self._track_id
        if self.initialized and self._stamp_s is not None and t < self._stamp_s and same_subject:
            raise InvalidValueError(f"stamp_s: must not go back in time; got {t} before {self._stamp_s}")
        if track_id != self._track_id:
            if self.initialized:
                LOG.info("subject changed from track %d to %d: filter reset", self._track_id, track_id)
            self.reset()
            self._track_id = int(track_id)
        if not self.initialized:
            if checked is None:
                return TargetEstimate.invalid(t, track_id=int(track_id))
            self._initialize_checked(t, *checked)
        else:
            self.predict_to(t)
            if checked is not None:
                self._update_checked(*checked)
        x, P, _ = self._require()
        return TargetEstimate(
            track_id=int(track_id),
            position_ned_m=x[POS],
            velocity_ned_mps=x[VEL],
            cov_ned_m2=P[POS, POS],
            stamp_s=t,
            valid=not self.is_lost(t),
        )


__all__ = ["H_POS", "POS", "STATE_DIM", "VEL", "NotInitializedError", "SubjectFilter"]
