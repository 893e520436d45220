"""Time series and geometry the checks and plots share, pulled out of a :class:`FlightLog`.

All positions NED metres (z down, so height above home is ``-z``); fence polygons are (north, east).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.record import topics
from drone_perception.record.reader import FlightLog

#: MAVLink messages that carry a motion setpoint.
SETPOINT_MESSAGES = frozenset({"SET_POSITION_TARGET_LOCAL_NED", "SET_POSITION_TARGET_GLOBAL_INT",
                               "SET_ATTITUDE_TARGET"})
#: Links that are a simulator (closed loop allowed untethered, charter item 7).
SIM_LINKS = frozenset({"sim", "sitl", "direct", "simulation", "gazebo"})


def vec(value: Any, n: int = 3) -> np.ndarray:
    """A float array from a JSON list (``None`` -> NaN); all-NaN when the value is missing/malformed."""
    try:
        arr = np.array([np.nan if v is None else v for v in value], dtype=float)
    except (TypeError, ValueError):
        return np.full(n, np.nan)
    return arr if arr.shape == (n,) else np.full(n, np.nan)


class StepSeries:
    """A piecewise-constant signal: the value at ``t`` is the latest sample at or before ``t``."""

    def __init__(self, samples: list[tuple[float, Any]]) -> None:
        self.stamps = [s for s, _ in samples]
        self.values = [v for _, v in samples]

    def at(self, t: float, default: Any = None) -> Any:
        i = bisect.bisect_right(self.stamps, t) - 1
        return self.values[i] if i >= 0 else default

    def __len__(self) -> int:
        return len(self.stamps)


@dataclass(frozen=True)
class Context:
    """What every check needs to know about the run (from /meta, /fence and the operator)."""

    meta: dict[str, Any] | None
    fence: dict[str, Any] | None
    safety: dict[str, Any] | None
    link: str | None
    tethered: bool | None
    engaged: StepSeries  # operator engaged AND dead-man live, from /operator/input (else /control/safe)
    engaged_source: str

    @property
    def standoff_m(self) -> float | None:
        v = (self.safety or {}).get("min_standoff_m")
        return float(v) if isinstance(v, (int, float)) else None

    def cap(self, name: str) -> float | None:
        v = (self.safety or {}).get(name)
        return float(v) if isinstance(v, (int, float)) else None

    @property
    def is_sim(self) -> bool:
        """A simulator link: a known simulator link name, or a MAVLink link whose /meta says the peer is a
        simulator (``sim --link mavlink`` and ``run --sitl`` write ``"simulator": true``; live runs never do)."""
        if self.link is not None and self.link.lower() in SIM_LINKS:
            return True
        return bool((self.meta or {}).get("simulator") is True)


def build_context(log: FlightLog) -> Context:
    meta = log.first(topics.META)
    fence = log.first(topics.FENCE)
    config = (meta or {}).get("config") if isinstance((meta or {}).get("config"), dict) else None
    safety = config.get("safety") if config and isinstance(config.get("safety"), dict) else None
    if fence is None and config and isinstance(config.get("fence"), dict):
        fence = config["fence"]
    link = (meta or {}).get("link")
    tethered = (meta or {}).get("tethered")
    if tethered is None and fence is not None:
        tethered = fence.get("tethered")
    op = log.get(topics.OPERATOR)
    if op:
        engaged = StepSeries([(s, bool(m.get("engaged")) and bool(m.get("deadman_ok", True))) for s, m in op])
        source = "operator input (engaged and dead-man live)"
    else:
        engaged = StepSeries([(s, bool(m.get("engaged"))) for s, m in log.get(topics.SAFE) if "engaged" in m])
        source = "governor's engaged flag (no operator input recorded)"
    return Context(meta, fence, safety, str(link) if link is not None else None,
                   bool(tethered) if tethered is not None else None, engaged, source)


#: A setpoint whose velocity (m/s) and yaw rate (rad/s) are all below this is a hold (zero velocity).
HOLD_TOLERANCE = 1e-6


@dataclass(frozen=True)
class SentSetpoint:
    stamp_s: float
    velocity_ned_mps: np.ndarray
    yaw_rate_radps: float
    expires_at_s: float | None
    payload: dict[str, Any]

    @property
    def is_motion(self) -> bool:
        """Not a hold: the governor's verdict when the record carries it (/control/safe), else (a MAVLink
        setpoint) a finite velocity or yaw rate above :data:`HOLD_TOLERANCE`."""
        verdict = self.payload.get("verdict")
        if isinstance(verdict, str):
            return verdict != "hold"
        parts = [*self.velocity_ned_mps.tolist(), self.yaw_rate_radps]
        return any(math.isfinite(x) and abs(x) > HOLD_TOLERANCE for x in parts)


def sent_setpoints(log: FlightLog) -> tuple[list[SentSetpoint], str]:
    """Every motion setpoint that left the stack, and where that knowledge comes from.

    With a MAVLink link the bridge records each message on /mavlink/out. Without any /mavlink/out
    messages (direct simulation link), the /control/safe commands with ``sent`` (or, lacking that
    key, ``engaged``) true are the ones the pipeline handed to the vehicle.
    """
    out = log.get(topics.MAVLINK_OUT)
    if out:
        sps = []
        for s, m in out:
            if m.get("msg_type") not in SETPOINT_MESSAGES:
                continue
            f = m.get("fields") or {}
            v = vec([f.get("vx"), f.get("vy"), f.get("vz")])
            yr = f.get("yaw_rate")
            exp = m.get("expires_at_s")
            sps.append(SentSetpoint(s, v, float(yr) if isinstance(yr, (int, float)) else math.nan,
                                    float(exp) if isinstance(exp, (int, float)) else None, m))
        return sps, "MAVLink messages sent (/mavlink/out)"
    sps = []
    for s, m in log.get(topics.SAFE):
        if not bool(m.get("sent", m.get("engaged", False))):
            continue
        cmd = m.get("command") or {}
        exp = m.get("expires_at_s")
        yr = cmd.get("yaw_rate_radps")
        sps.append(SentSetpoint(s, vec(cmd.get("velocity_ned_mps")),
                                float(yr) if isinstance(yr, (int, float)) else math.nan,
                                float(exp) if isinstance(exp, (int, float)) else None, m))
    return sps, "governor commands marked sent/engaged (/control/safe; no /mavlink/out recorded)"


# -------------------------------------------------------------------------------------------- geometry


def distance_to_bodies_m(point_ned_m: np.ndarray, feet_ned_m: np.ndarray,
                         height_m: float = PERSON_HEIGHT_M) -> np.ndarray:
    """3D distance from a point to each person's body: a vertical segment from the foot point up
    ``height_m`` (i.e. z from ``foot_z - height_m`` to ``foot_z`` in NED). Shape (M,)."""
    feet = np.asarray(feet_ned_m, dtype=float).reshape(-1, 3)
    p = np.asarray(point_ned_m, dtype=float)
    horiz = np.hypot(feet[:, 0] - p[0], feet[:, 1] - p[1])
    top_z = feet[:, 2] - height_m
    dz = np.where(p[2] < top_z, top_z - p[2], np.where(p[2] > feet[:, 2], p[2] - feet[:, 2], 0.0))
    return np.hypot(horiz, dz)


def polygon_signed_distance_m(point_ne: np.ndarray, polygon_ne: np.ndarray) -> float:
    """Distance from ``point_ne`` to the polygon's boundary, positive inside, negative outside."""
    poly = np.asarray(polygon_ne, dtype=float).reshape(-1, 2)
    p = np.asarray(point_ne, dtype=float)
    a, b = poly, np.roll(poly, -1, axis=0)
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
    nearest = a + t[:, None] * ab
    d = float(np.min(np.hypot(*(nearest - p).T)))
    inside = False
    for (x1, y1), (x2, y2) in zip(a, b):
        if (y1 > p[1]) != (y2 > p[1]) and p[0] < (x2 - x1) * (p[1] - y1) / (y2 - y1) + x1:
            inside = not inside
    return d if inside else -d


def fence_margin_m(point_ned_m: np.ndarray, fence: dict[str, Any]) -> tuple[float, str]:
    """Smallest margin (m, negative = outside) of a point against polygon, altitude floor/ceiling and
    the tether radius, and which of them it is."""
    p = np.asarray(point_ned_m, dtype=float)
    if not np.all(np.isfinite(p)):
        return math.nan, "position unknown"
    margins: list[tuple[float, str]] = []
    poly = fence.get("polygon_ne_m")
    if poly:
        margins.append((polygon_signed_distance_m(p[:2], np.asarray(poly, float)), "polygon"))
    height = -p[2]
    if isinstance(fence.get("altitude_floor_m"), (int, float)):
        margins.append((height - float(fence["altitude_floor_m"]), "altitude floor"))
    if isinstance(fence.get("altitude_ceiling_m"), (int, float)):
        margins.append((float(fence["altitude_ceiling_m"]) - height, "altitude ceiling"))
    if fence.get("tethered") and isinstance(fence.get("tether_length_m"), (int, float)):
        anchor = vec(fence.get("tether_anchor_ne_m") or [0.0, 0.0], 2)
        margins.append((float(fence["tether_length_m"]) - float(np.hypot(*(p[:2] - anchor))), "tether radius"))
    if not margins:
        return math.nan, "no fence geometry"
    return min(margins, key=lambda m: m[0])
