"""Constant-velocity Kalman filters used by the tracker, with explicit ``dt_s`` (never frames).

:class:`BoxKalmanFilter` tracks a box in the image: state ``[cx_px, cy_px, w_px, h_px, vcx_pxps, vcy_pxps,
vw_pxps, vh_pxps]`` (centre, width, height and their rates in pixels per second), measurement
``[cx_px, cy_px, w_px, h_px]``. As in ByteTrack, noise scales with the box height so one tuning serves
near and far people; unlike ByteTrack the process noise is that of a white-noise acceleration integrated
over ``dt_s`` seconds, so a 10 Hz and a 30 Hz camera give consistent filters.

:class:`GroundKalmanFilter` tracks a person's foot point on the ground: state ``[n_m, e_m, vn_mps, ve_mps]``
(NED north/east and their rates), measurement ``[n_m, e_m]`` with a full 2x2 covariance.

Both filters operate on batches: ``x`` is (N, D), ``P`` is (N, D, D); nothing is mutated in place, every
method returns new arrays, so the caller's state stays inspectable (prior and posterior).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from drone_perception.errors import InvalidValueError

#: Names of the box-filter state components, in order (no magic indices elsewhere).
BOX_STATE = ("cx_px", "cy_px", "w_px", "h_px", "vcx_pxps", "vcy_pxps", "vw_pxps", "vh_pxps")
#: Names of the ground-filter state components, in order.
GROUND_STATE = ("n_m", "e_m", "vn_mps", "ve_mps")


def _check_dt(dt_s: float) -> float:
    dt = float(dt_s)
    if not (math.isfinite(dt) and 0.0 <= dt <= 60.0):
        raise InvalidValueError(f"dt_s: must be finite and in [0, 60] s, got {dt_s!r}")
    return dt


def _cv_matrices(dim: int, dt_s: float, accel_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transition F (2d x 2d) and per-item process noise Q (N, 2d, 2d) of a constant-velocity model
    driven by white acceleration noise of std ``accel_std`` (N, dim) in state units per s^2."""
    F, base = _cv_unit(dim, dt_s)
    q = accel_std**2  # (N, dim)
    # base[i, j] is non-zero only where i and j refer to the same axis (i % dim == j % dim), so scaling its
    # rows by that axis' variance gives every block; the factors dt^4/4, dt^3/2 are exact (powers of 2).
    Q = base[None] * np.concatenate([q, q], axis=1)[:, :, None]
    return F, Q


@functools.lru_cache(maxsize=32)
def _cv_unit(dim: int, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Read-only ``(F, Q1)``: the transition and the process noise for unit acceleration variance."""
    F = np.eye(2 * dim)
    F[:dim, dim:] = dt_s * np.eye(dim)
    eye = np.eye(dim)
    base = np.block([[eye * (dt_s**4 / 4.0), eye * (dt_s**3 / 2.0)], [eye * (dt_s**3 / 2.0), eye * dt_s**2]])
    F.setflags(write=False)
    base.setflags(write=False)
    return F, base


def _kf_update(
    x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Batched linear update with H = [I 0] (position part of a CV state). Joseph form for P."""
    S = P[:, :dim, :dim] + R
    K = np.linalg.solve(S, P[:, :, :dim].transpose(0, 2, 1)).transpose(0, 2, 1)  # (N, 2d, dim) = P H^T S^-1
    innov = z - x[:, :dim]
    x_new = x + np.einsum("nij,nj->ni", K, innov)  # (not K @ innov: einsum's rounding is kept on purpose)
    eye = np.eye(2 * dim)
    IKH = np.repeat(eye[None], K.shape[0], axis=0)
    IKH[:, :, :dim] = eye[:, :dim] - K  # I - K H with H = [I 0]
    P_new = IKH @ P @ IKH.transpose(0, 2, 1) + K @ R @ K.transpose(0, 2, 1)
    return x_new, 0.5 * (P_new + P_new.transpose(0, 2, 1))


@dataclass(frozen=True)
class BoxKalmanFilter:
    """Box filter parameters (all relative to the box height, so they hold at any distance).

    ``meas_std_per_h``: 1-sigma measurement noise of centre/size, as a fraction of the box height
    (raise it for jittery detectors: smoother but slower to follow). ``accel_std_per_h``: white-acceleration
    noise in box heights per s^2 (raise it for agile motion or a shaky camera: follows faster, gates wider).
    ``init_vel_std_per_h``: initial velocity uncertainty in box heights per s.
    """

    meas_std_per_h: float = 0.05
    accel_std_per_h: float = 1.0
    init_vel_std_per_h: float = 1.0

    def __post_init__(self) -> None:
        for name in ("meas_std_per_h", "accel_std_per_h", "init_vel_std_per_h"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 < v <= 100.0):
                raise InvalidValueError(f"{name}: must be in (0, 100], got {v!r}")

    @staticmethod
    def xyxy_to_z(xyxy_px: np.ndarray) -> np.ndarray:
        """(N, 4) x1,y1,x2,y2 -> (N, 4) cx, cy, w, h (pixels)."""
        b = np.asarray(xyxy_px, dtype=np.float64).reshape(-1, 4)
        wh = b[:, 2:4] - b[:, 0:2]
        return np.concatenate([b[:, 0:2] + wh / 2.0, wh], axis=1)

    @staticmethod
    def x_to_xyxy(x: np.ndarray) -> np.ndarray:
        """(N, 8) state -> (N, 4) x1,y1,x2,y2 (pixels). Width and height are clipped at 1 px."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, 8)
        half = np.maximum(x[:, 2:4], 1.0) / 2.0
        return np.concatenate([x[:, 0:2] - half, x[:, 0:2] + half], axis=1)

    def _meas_cov(self, h_px: np.ndarray) -> np.ndarray:
        s = (self.meas_std_per_h * np.maximum(h_px, 1.0)) ** 2
        R = np.zeros((h_px.shape[0], 16))
        R[:, ::5] = s[:, None]  # the diagonal of each 4x4
        return R.reshape(-1, 4, 4)

    def initiate(self, xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State (N, 8) and covariance (N, 8, 8) for new tracks from boxes (N, 4); velocities zero."""
        z = self.xyxy_to_z(xyxy_px)
        n = z.shape[0]
        x = np.zeros((n, 8))
        x[:, :4] = z
        h = np.maximum(z[:, 3], 1.0)
        std = np.column_stack(
            [np.repeat((2.0 * self.meas_std_per_h * h)[:, None], 4, axis=1),
             np.repeat((self.init_vel_std_per_h * h)[:, None], 4, axis=1)]
        )
        P = np.zeros((n, 8, 8))
        P[:, np.arange(8), np.arange(8)] = std**2
        return x, P

    def predict(self, x: np.ndarray, P: np.ndarray, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Prior after ``dt_s`` seconds (constant velocity)."""
        dt = _check_dt(dt_s)
        h = np.maximum(np.asarray(x)[:, 3], 1.0)
        F, Q = _cv_matrices(4, dt, np.repeat((self.accel_std_per_h * h)[:, None], 4, axis=1))
        x_new = x @ F.T
        P_new = F[None] @ P @ F.T[None] + Q
        return x_new, P_new

    def update(self, x: np.ndarray, P: np.ndarray, xyxy_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior after measuring boxes (N, 4) for the N states (row-aligned)."""
        z = self.xyxy_to_z(xyxy_px)
        return _kf_update(np.asarray(x, float), np.asarray(P, float), z, self._meas_cov(z[:, 3]), 4)


@dataclass(frozen=True)
class GroundKalmanFilter:
    """Foot-point filter on the ground plane (NED north/east).

    ``accel_std_mps2``: white-acceleration noise of a walking person (raise it for runners: the gate
    widens and the filter follows turns faster). ``init_vel_std_mps``: initial speed uncertainty.
    """

    accel_std_mps2: float = 1.5
    init_vel_std_mps: float = 2.0

    def __post_init__(self) -> None:
        for name in ("accel_std_mps2", "init_vel_std_mps"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 < v <= 100.0):
                raise InvalidValueError(f"{name}: must be in (0, 100], got {v!r}")

    def initiate(self, pos_ne_m: np.ndarray, cov_ne_m2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State (N, 4), covariance (N, 4, 4) from positions (N, 2) with covariances (N, 2, 2)."""
        pos = np.asarray(pos_ne_m, float).reshape(-1, 2)
        n = pos.shape[0]
        x = np.zeros((n, 4))
        x[:, :2] = pos
        P = np.zeros((n, 4, 4))
        P[:, :2, :2] = np.asarray(cov_ne_m2, float).reshape(n, 2, 2)
        P[:, 2, 2] = P[:, 3, 3] = self.init_vel_std_mps**2
        return x, P

    def predict(self, x: np.ndarray, P: np.ndarray, dt_s: float) -> tuple[np.ndarray, np.ndarray]:
        dt = _check_dt(dt_s)
        n = np.asarray(x).shape[0]
        F, Q = _cv_matrices(2, dt, np.full((n, 2), self.accel_std_mps2))
        return x @ F.T, F[None] @ P @ F.T[None] + Q

    def update(
        self, x: np.ndarray, P: np.ndarray, pos_ne_m: np.ndarray, cov_ne_m2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return _kf_update(
            np.asarray(x, float), np.asarray(P, float), np.asarray(pos_ne_m, float).reshape(-1, 2),
            np.asarray(cov_ne_m2, float).reshape(-1, 2, 2), 2,
        )


def mahalanobis2_ne(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> np.ndarray:
    """Pairwise squared Mahalanobis distances (A, B) between 2-D Gaussians (means (A,2)/(B,2), covs
    (A,2,2)/(B,2,2)) using the summed covariance. NaN rows give +inf."""
    a = np.asarray(mean_a, float).reshape(-1, 2)
    b = np.asarray(mean_b, float).reshape(-1, 2)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    ca, cb = np.asarray(cov_a, float), np.asarray(cov_b, float)
    if a.shape[0] * b.shape[0] <= _SCALAR_MAX_PAIRS and ca.shape == (a.shape[0], 2, 2) and cb.shape == (
        b.shape[0], 2, 2
    ):
        return _mahalanobis2_ne_scalar(a, ca, b, cb)
    return _mahalanobis2_ne_numpy(a, cov_a, b, cov_b)


#: Up to this many (A x B) pairs :func:`mahalanobis2_ne` runs in plain Python (numpy overhead dominates).
_SCALAR_MAX_PAIRS = 16


def _mahalanobis2_ne_scalar(a: np.ndarray, cov_a: np.ndarray, b: np.ndarray, cov_b: np.ndarray) -> np.ndarray:
    """:func:`mahalanobis2_ne` pair by pair with Python floats (same operation order as the numpy path)."""
    ca = cov_a.reshape(-1, 4).tolist()
    cb = cov_b.reshape(-1, 4).tolist()
    out = []
    for (an, ae), (p00, p01, p10, p11) in zip(a.tolist(), ca):
        row = []
        for (bn, be), (q00, q01, q10, q11) in zip(b.tolist(), cb):
            s00, s01, s10, s11 = p00 + q00, p01 + q01, p10 + q10, p11 + q11
            d0, d1 = bn - an, be - ae
            det = s00 * s11 - s01 * s10
            num = s11 * (d0 * d0) - 2.0 * s01 * d0 * d1 + s00 * (d1 * d1)
            if det > 0.0:
                d2 = num / det
                row.append(d2 if d2 - d2 == 0.0 else math.inf)
            else:
                row.append(math.inf)
        out.append(row)
    return np.array(out, dtype=np.float64).reshape(a.shape[0], b.shape[0])


def _mahalanobis2_ne_numpy(
    a: np.ndarray, cov_a: np.ndarray, b: np.ndarray, cov_b: np.ndarray
) -> np.ndarray:
    """:func:`mahalanobis2_ne` vectorised (means already (A, 2) and (B, 2), both non-empty)."""
    S = np.asarray(cov_a, float)[:, None] + np.asarray(cov_b, float)[None, :]  # (A, B, 2, 2)
    d = b[None, :, :] - a[:, None, :]
    det = S[..., 0, 0] * S[..., 1, 1] - S[..., 0, 1] * S[..., 1, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        d2 = (S[..., 1, 1] * d[..., 0] ** 2 - 2.0 * S[..., 0, 1] * d[..., 0] * d[..., 1]
              + S[..., 0, 0] * d[..., 1] ** 2) / det
    d2 = np.where(np.isfinite(d2) & (det > 0), d2, np.inf)
    return np.asarray(d2)
