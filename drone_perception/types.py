"""Value types that flow between the stages of the stack.

Every type is a frozen dataclass whose numpy fields are validated (shape, dtype, finiteness where it
matters) on construction, with an error that names the field, the expected and the actual shape.
Arrays are copied and made read-only, so no stage can mutate another stage's data.

Conventions (see DESIGN.md): SI units, the unit and frame are in the field name. World frame NED
(x north, y east, z down; origin at home, on the ground, so altitude above ground is ``-z``).
Camera optical frame ``_cam``: x right, y down, z forward. Time ``stamp_s`` is monotonic seconds.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from drone_perception.errors import InvalidValueError

FloatArray = npt.NDArray[np.float64]


def _array(
    name: str,
    value: Any,
    shape: tuple[int | None, ...],
    dtype: type | np.dtype[Any],
    *,
    finite: bool = False,
) -> np.ndarray:
    """Copy ``value`` into a read-only array of ``dtype`` and check its shape (``None`` = any size)."""
    if type(value) is np.ndarray and value.dtype == dtype and _shape_ok(value.shape, shape):
        # fast path (the common case: hot, ~26 calls per control period): same checks, no conversion
        arr = value.copy(order="K")
        if finite and not _all_finite(arr):
            raise InvalidValueError(f"{name}: contains NaN or infinite values: {arr.tolist()}")
        arr.setflags(write=False)
        return arr
    try:
        arr = np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"{name}: cannot convert to {np.dtype(dtype).name} array: {exc}") from exc
    if not _shape_ok(arr.shape, shape):
        expected = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise InvalidValueError(f"{name}: expected shape {expected}, got {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise InvalidValueError(f"{name}: contains NaN or infinite values: {arr.tolist()}")
    arr.setflags(write=False)
    return arr


def _shape_ok(got: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    """``got`` has ``want``'s rank and size on every axis where ``want`` is not ``None``."""
    if got == want:  # (the common case: a fully given shape)
        return True
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want))


#: Up to this many elements :func:`_all_finite` tests Python floats (a numpy ufunc call costs ~3 us).
_SCALAR_FINITE_MAX = 64


def _all_finite(arr: np.ndarray) -> bool:
    """``np.isfinite(arr).all()`` for a float or integer array, cheaper for a few elements."""
    if arr.size <= _SCALAR_FINITE_MAX and arr.dtype.kind in "fiub":
        return all(map(math.isfinite, arr.ravel().tolist()))
    return bool(np.isfinite(arr).all())


def _finite_scalar(name: str, value: float) -> float:
    out = float(value)
    if not math.isfinite(out):
        raise InvalidValueError(f"{name}: must be finite, got {value!r}")
    return out


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


# --------------------------------------------------------------------------------------------------
# Camera


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels. ``size_wh_px`` is (width, height) of the image."""

    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    size_wh_px: tuple[int, int]

    def __post_init__(self) -> None:
        for name in ("fx_px", "fy_px"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise InvalidValueError(f"{name}: must be a positive finite focal length, got {v!r}")
        w, h = self.size_wh_px
        if w <= 0 or h <= 0:
            raise InvalidValueError(f"size_wh_px: must be positive, got {self.size_wh_px!r}")

    @classmethod
    def from_hfov(cls, hfov_rad: float, size_wh_px: tuple[int, int]) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre, horizontal field of view ``hfov_rad``."""
        if not 0.05 < hfov_rad < math.pi - 0.05:
            raise InvalidValueError(f"hfov_rad: must be in (0.05, pi-0.05), got {hfov_rad!r}")
        w, h = size_wh_px
        f = (w / 2.0) / math.tan(hfov_rad / 2.0)
        return cls(fx_px=f, fy_px=f, cx_px=w / 2.0, cy_px=h / 2.0, size_wh_px=(int(w), int(h)))

    @property
    def K(self) -> FloatArray:
        return np.array(
            [[self.fx_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]], dtype=np.float64
        )

    @property
    def hfov_rad(self) -> float:
        return 2.0 * math.atan2(self.size_wh_px[0] / 2.0, self.fx_px)


def rotation_ned_from_cam(yaw_rad: float, pitch_rad: float) -> FloatArray:
    """Rotation taking optical-frame vectors to NED for a stabilised gimbal (no roll).

    ``yaw_rad``: heading of the optical axis, 0 = north, positive towards east.
    ``pitch_rad``: elevation of the optical axis, 0 = horizontal, **negative = looking down**
    (the MAVLink gimbal convention).
    """
    cy, sy = math.cos(yaw_rad), math.sin(yaw_rad)
    cp, sp = math.cos(pitch_rad), math.sin(pitch_rad)
    z_fwd = np.array([cp * cy, cp * sy, -sp])
    x_right = np.array([-sy, cy, 0.0])
    y_down = np.cross(z_fwd, x_right)
    return np.column_stack([x_right, y_down, z_fwd])


@dataclass(frozen=True)
class CameraModel:
    """Where the camera is and where it looks, at one instant.

    ``R_ned_from_cam`` maps optical-frame directions to NED; ``position_ned_m`` is the optical centre.
    Build it from gimbal angles with :meth:`from_gimbal`.
    """

    intrinsics: CameraIntrinsics
    R_ned_from_cam: FloatArray
    position_ned_m: FloatArray
    yaw_rad: float = 0.0
    pitch_rad: float = 0.0

    def __post_init__(self) -> None:
        R = _array("R_ned_from_cam", self.R_ned_from_cam, (3, 3), np.float64, finite=True)
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise InvalidValueError("R_ned_from_cam: not a proper rotation matrix")
        _set(self, "R_ned_from_cam", R)
        _set(self, "position_ned_m", _array("position_ned_m", self.position_ned_m, (3,), np.float64, finite=True))

    @classmethod
    def from_gimbal(
        cls, intrinsics: CameraIntrinsics, position_ned_m: npt.ArrayLike, yaw_rad: float, pitch_rad: float
    ) -> CameraModel:
        return cls(
            intrinsics=intrinsics,
            R_ned_from_cam=rotation_ned_from_cam(yaw_rad, pitch_rad),
            position_ned_m=np.asarray(position_ned_m, dtype=np.float64),
            yaw_rad=float(yaw_rad),
            pitch_rad=float(pitch_rad),
        )


@dataclass(frozen=True)
class Frame:
    """One camera image. ``image`` is uint8 H x W x 3, BGR (OpenCV order)."""

    image: np.ndarray
    stamp_s: float
    seq: int
    camera: CameraModel

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            got = (
                f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            )
            raise InvalidValueError(f"image: expected uint8 array of shape (H, W, 3), got {got}")
        if img.shape[0] == 0 or img.shape[1] == 0:
            raise InvalidValueError(f"image: empty image of shape {img.shape}")
        _set(self, "stamp_s", _finite_scalar("stamp_s", self.stamp_s))


# --------------------------------------------------------------------------------------------------
# Perception


@dataclass(frozen=True)
class Detections:
    """Detector output for one frame: parallel arrays, boxes as ``xyxy_px`` (x1, y1, x2, y2)."""

    xyxy_px: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    stamp_s: float

    def __post_init__(self) -> None:
        xyxy = _array("xyxy_px", self.xyxy_px, (None, 4), np.float32, finite=True)
        n = xyxy.shape[0]
        conf = _array("confidence", self.confidence, (n,), np.float32, finite=True)
        cls = _array("class_id", self.class_id, (n,), np.int32)
        if n and (np.any(xyxy[:, 2] < xyxy[:, 0]) or np.any(xyxy[:, 3] < xyxy[:, 1])):
            raise InvalidValueError("xyxy_px: boxes must have x2 >= x1 and y2 >= y1")
        _set(self, "xyxy_px", xyxy)
        _set(self, "confidence", conf)
        _set(self, "class_id", cls)
        _set(self, "stamp_s", _finite_scalar("stamp_s", self.stamp_s))

    @classmethod
    def empty(cls, stamp_s: float) -> Detections:
        return cls(
            xyxy_px=np.zeros((0, 4), np.float32),
            confidence=np.zeros((0,), np.float32),
            class_id=np.zeros((0,), np.int32),
            stamp_s=stamp_s,
        )

    def __len__(self) -> int:
        return int(self.xyxy_px.shape[0])

    def select(self, mask: npt.ArrayLike) -> Detections:
        """A new ``Detections`` holding the rows picked by a boolean mask or index array."""
        idx = np.asarray(mask)
        return Detections(self.xyxy_px[idx], self.confidence[idx], self.class_id[idx], self.stamp_s)


class TrackState(enum.IntEnum):
    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2  # not matched this frame; position predicted


@dataclass(frozen=True)
class Tracks:
    """Tracker output. ``position_ned_m`` is NaN where the ground position is unknown;
    ``position_sigma_m`` is the 1-sigma horizontal uncertainty of that position (NaN when unknown)."""

    track_id: np.ndarray
    xyxy_px: np.ndarray
    state: np.ndarray
    age_s: np.ndarray
    position_ned_m: np.ndarray
    position_sigma_m: np.ndarray
    stamp_s: float
    confidence: np.ndarray | None = None

    def __post_init__(self) -> None:
        tid = _array("track_id", self.track_id, (None,), np.int64)
        n = tid.shape[0]
        _set(self, "track_id", tid)
        _set(self, "xyxy_px", _array("xyxy_px", self.xyxy_px, (n, 4), np.float32))
        _set(self, "state", _array("state", self.state, (n,), np.int8))
        _set(self, "age_s", _array("age_s", self.age_s, (n,), np.float64))
        _set(self, "position_ned_m", _array("position_ned_m", self.position_ned_m, (n, 3), np.float64))
        _set(self, "position_sigma_m", _array("position_sigma_m", self.position_sigma_m, (n,), np.float64))
        conf = self.confidence
        _set(
            self,
            "confidence",
            _array("confidence", np.ones(n) if conf is None else conf, (n,), np.float32),
        )
        if n > 1 and len(set(tid.tolist())) != n:
            raise InvalidValueError(f"track_id: ids must be unique, got {tid.tolist()}")
        _set(self, "stamp_s", _finite_scalar("stamp_s", self.stamp_s))

    @classmethod
    def empty(cls, stamp_s: float) -> Tracks:
        return cls(
            track_id=np.zeros((0,), np.int64),
            xyxy_px=np.zeros((0, 4), np.float32),
            state=np.zeros((0,), np.int8),
            age_s=np.zeros((0,)),
            position_ned_m=np.zeros((0, 3)),
            position_sigma_m=np.zeros((0,)),
            stamp_s=stamp_s,
        )

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def index_of(self, track_id: int) -> int | None:
        hits = np.flatnonzero(self.track_id == track_id)
        return int(hits[0]) if hits.size else None


@dataclass(frozen=True)
class People:
    """Every person the governor must keep clear of, seen now or remembered.

    ``position_ned_m``: foot point on the ground (a person is a 2 m vertical body above it).
    ``uncertainty_m``: 1-sigma horizontal position uncertainty, grows while a person is unseen.
    ``last_seen_s``: stamp of the last observation. ``is_subject``: the locked subject.
    """

    position_ned_m: np.ndarray
    velocity_ned_mps: np.ndarray
    uncertainty_m: np.ndarray
    last_seen_s: np.ndarray
    is_subject: np.ndarray
    stamp_s: float

    def __post_init__(self) -> None:
        pos = _array("position_ned_m", self.position_ned_m, (None, 3), np.float64)
        n = pos.shape[0]
        _set(self, "position_ned_m", pos)
        _set(self, "velocity_ned_mps", _array("velocity_ned_mps", self.velocity_ned_mps, (n, 3), np.float64))
        _set(self, "uncertainty_m", _array("uncertainty_m", self.uncertainty_m, (n,), np.float64))
        _set(self, "last_seen_s", _array("last_seen_s", self.last_seen_s, (n,), np.float64))
        _set(self, "is_subject", _array("is_subject", self.is_subject, (n,), np.bool_))
        _set(self, "stamp_s", float(self.stamp_s))

    @classmethod
    def empty(cls, stamp_s: float) -> People:
        return cls(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0), np.zeros(0, bool), stamp_s)

    def __len__(self) -> int:
        return int(self.position_ned_m.shape[0])


@dataclass(frozen=True)
class TargetEstimate:
    """Filtered state of the locked subject in NED. ``cov_ned_m2`` is the 3x3 position covariance.
    ``valid`` is False when there is no usable estimate (no lock, or lost past the timeout)."""

    track_id: int
    position_ned_m: np.ndarray
    velocity_ned_mps: np.ndarray
    cov_ned_m2: np.ndarray
    stamp_s: float
    valid: bool

    def __post_init__(self) -> None:
        _set(self, "position_ned_m", _array("position_ned_m", self.position_ned_m, (3,), np.float64))
        _set(self, "velocity_ned_mps", _array("velocity_ned_mps", self.velocity_ned_mps, (3,), np.float64))
        _set(self, "cov_ned_m2", _array("cov_ned_m2", self.cov_ned_m2, (3, 3), np.float64))
        _set(self, "stamp_s", float(self.stamp_s))

    @classmethod
    def invalid(cls, stamp_s: float, track_id: int = -1) -> TargetEstimate:
        nan3 = np.full(3, np.nan)
        return cls(track_id, nan3, nan3, np.full((3, 3), np.nan), stamp_s, False)


# --------------------------------------------------------------------------------------------------
# Vehicle and operator


@dataclass(frozen=True)
class VehicleState:
    """What the autopilot reports (or the simulator knows).

    ``attitude_rpy_rad``: roll, pitch, yaw (yaw 0 = north, positive east). ``mode`` is the canonical
    upper-case mode name (``GUIDED``, ``OFFBOARD``, ``LOITER``, ``BRAKE``, ``RTL``, ``LAND``, ...).
    ``link_ok`` is False when the telemetry link is down (then every other field is stale).
    """

    position_ned_m: np.ndarray
    velocity_ned_mps: np.ndarray
    attitude_rpy_rad: np.ndarray
    armed: bool
    mode: str
    link_ok: bool
    stamp_s: float

    def __post_init__(self) -> None:
        # NaN is allowed through construction so the governor can see it and fail closed.
        _set(self, "position_ned_m", _array("position_ned_m", self.position_ned_m, (3,), np.float64))
        _set(self, "velocity_ned_mps", _array("velocity_ned_mps", self.velocity_ned_mps, (3,), np.float64))
        _set(self, "attitude_rpy_rad", _array("attitude_rpy_rad", self.attitude_rpy_rad, (3,), np.float64))
        _set(self, "mode", str(self.mode).upper())
        _set(self, "stamp_s", float(self.stamp_s))

    @property
    def is_finite(self) -> bool:
        return all(map(math.isfinite, (*self.position_ned_m.tolist(), *self.velocity_ned_mps.tolist(),
                                       *self.attitude_rpy_rad.tolist(), self.stamp_s)))


#: Modes in which the operator has handed velocity control to the companion computer.
COMPANION_CONTROL_MODES = frozenset({"GUIDED", "OFFBOARD"})


@dataclass(frozen=True)
class OperatorInput:
    """The operator's will, as last received.

    ``engaged``: follow engaged by the operator. ``deadman_ok``: the dead-man signal (RC switch or
    ground-station heartbeat) is live. ``subject_track_id``: the track the operator chose, or None.
    """

    engaged: bool
    deadman_ok: bool
    subject_track_id: int | None
    stamp_s: float


# --------------------------------------------------------------------------------------------------
# Commands


@dataclass(frozen=True)
class VelocityCommand:
    """Velocity setpoint in NED (m/s; positive z is **down**) plus yaw rate (rad/s, positive = clockwise
    seen from above, i.e. north towards east)."""

    velocity_ned_mps: np.ndarray
    yaw_rate_radps: float
    stamp_s: float

    def __post_init__(self) -> None:
        # NaN allowed through construction so the governor sees it and fails closed.
        _set(self, "velocity_ned_mps", _array("velocity_ned_mps", self.velocity_ned_mps, (3,), np.float64))
        _set(self, "yaw_rate_radps", float(self.yaw_rate_radps))
        _set(self, "stamp_s", float(self.stamp_s))

    @classmethod
    def hold(cls, stamp_s: float) -> VelocityCommand:
        return cls(np.zeros(3), 0.0, stamp_s)

    @property
    def is_finite(self) -> bool:
        return all(map(math.isfinite, (*self.velocity_ned_mps.tolist(), self.yaw_rate_radps, self.stamp_s)))


class Verdict(enum.Enum):
    PASS = "pass"  # the proposed command went through unchanged
    LIMITED = "limited"  # the command was modified by one or more limits
    HOLD = "hold"  # zero velocity (fail closed)


class ModeRequest(enum.Enum):
    """Safer modes the stack may *request* from the autopilot on a persistent safety event."""

    BRAKE = "BRAKE"  # ArduPilot BRAKE / PX4 HOLD
    LOITER = "LOITER"
    RTL = "RTL"
    LAND = "LAND"


@dataclass(frozen=True)
class SafeCommand:
    """The governor's decision. ``limits_applied`` names every limit that changed the command (see
    ``drone_perception.control.limits``). The bridge must not send it at or after ``expires_at_s``."""

    command: VelocityCommand
    verdict: Verdict
    limits_applied: frozenset[str]
    expires_at_s: float
    mode_request: ModeRequest | None = None

    def __post_init__(self) -> None:
        if not self.command.is_finite:
            raise InvalidValueError("SafeCommand.command: must be finite (the governor never emits NaN)")
        if not math.isfinite(self.expires_at_s) or self.expires_at_s <= self.command.stamp_s:
            raise InvalidValueError(
                f"expires_at_s: must be finite and after the command stamp {self.command.stamp_s}, "
                f"got {self.expires_at_s}"
            )

    def expired(self, now_s: float) -> bool:
        return now_s >= self.expires_at_s


# --------------------------------------------------------------------------------------------------
# Serialisation for the flight record


def to_jsonable(obj: Any) -> Any:
    """Convert a value type (recursively) into JSON-compatible Python objects.

    numpy arrays become lists (NaN becomes None), enums their value, frozensets sorted lists.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            if f.name == "image":
                continue  # frames are recorded on their own channel, compressed
            out[f.name] = to_jsonable(getattr(obj, f.name))
        return out
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f":
            boxed = obj.astype(object)
            boxed[~np.isfinite(obj)] = None
            return boxed.tolist()
        return obj.tolist()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (frozenset, set)):
        return sorted(to_jsonable(v) for v in obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


__all__ = [
    "COMPANION_CONTROL_MODES",
    "CameraIntrinsics",
    "CameraModel",
    "Detections",
    "Frame",
    "ModeRequest",
    "OperatorInput",
    "People",
    "SafeCommand",
    "TargetEstimate",
    "TrackState",
    "Tracks",
    "VehicleState",
    "VelocityCommand",
    "Verdict",
    "rotation_ned_from_cam",
    "to_jsonable",
]
