"""Safety envelope configuration: standoff, speed/acceleration caps, timeouts and the geofence."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drone_perception.config import limits as L


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SafetyConfig(_Strict):
    """Charter items 1, 3, 4 and 5 (speed part). Every value is bounded by ``limits``."""

    min_standoff_m: float = Field(10.0, ge=L.HARD_MIN_STANDOFF_M, le=200.0,
                                  description="3D distance kept from every person (floor 5 m).")
    max_horizontal_speed_mps: float = Field(5.0, gt=0.0, le=L.HARD_MAX_HORIZONTAL_SPEED_MPS)
    max_vertical_speed_mps: float = Field(2.0, gt=0.0, le=L.HARD_MAX_VERTICAL_SPEED_MPS)
    max_accel_mps2: float = Field(3.0, gt=0.0, le=L.HARD_MAX_ACCEL_MPS2,
                                  description="Acceleration cap on commanded velocity changes.")
    braking_decel_mps2: float = Field(2.5, gt=0.0, le=L.HARD_MAX_ACCEL_MPS2,
                                      description="Deceleration assumed when computing stopping distance.")
    max_yaw_rate_radps: float = Field(0.8, gt=0.0, le=L.HARD_MAX_YAW_RATE_RADPS)
    command_latency_s: float = Field(0.25, ge=0.0, le=2.0,
                                     description="Camera-to-actuation latency added to the stopping budget.")
    autopilot_command_timeout_s: float = Field(
        1.0, ge=0.0, le=5.0,
        description="How long the autopilot keeps flying the last setpoint after the stream stops "
        "(ArduPilot GUID_TIMEOUT, PX4 COM_OF_LOSS_T). Included in the stopping budget.")
    command_ttl_s: float = Field(0.2, gt=0.0, le=L.HARD_MAX_COMMAND_TTL_S,
                                 description="Each command expires this long after it was made.")
    stale_input_s: float = Field(0.5, gt=0.0, le=5.0,
                                 description="Vehicle state or perception older than this -> hold.")
    subject_lost_timeout_s: float = Field(2.0, ge=0.0, le=30.0,
                                          description="Subject unseen this long -> hold.")
    hold_to_mode_request_s: float = Field(3.0, ge=0.5, le=60.0,
                                          description="Hold lasting this long while engaged -> request BRAKE.")
    unobserved_speed_mps: float = Field(0.5, ge=0.0, le=L.HARD_MAX_UNOBSERVED_SPEED_MPS,
                                        description="Speed cap into directions the camera has not observed.")
    person_uncertainty_growth_mps: float = Field(
        2.5, ge=0.5, le=12.0,
        description="How fast the position uncertainty of an unseen person grows (a person's top speed).")
    forget_person_after_s: float = Field(30.0, ge=5.0, le=600.0,
                                         description="Unseen people are dropped from memory after this.")

    @model_validator(mode="after")
    def _braking_within_accel(self) -> SafetyConfig:
        if self.braking_decel_mps2 > self.max_accel_mps2:
            raise ValueError(
                f"braking_decel_mps2={self.braking_decel_mps2} exceeds max_accel_mps2={self.max_accel_mps2}: "
                "the governor cannot assume braking harder than the vehicle is allowed to accelerate")
        return self


def _segments_cross(p1: tuple[float, float], p2: tuple[float, float],
                    q1: tuple[float, float], q2: tuple[float, float]) -> bool:
    def orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def check_simple_polygon(points: list[tuple[float, float]]) -> None:
    """Raise ``ValueError`` unless ``points`` is a simple polygon (>= 3 vertices, non-zero area,
    no self-intersection)."""
    n = len(points)
    if n < 3:
        raise ValueError(f"needs at least 3 vertices, got {n}")
    for i in range(n):
        a1, a2 = points[i], points[(i + 1) % n]
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or j == (i + 1) % n:
                continue  # adjacent edges share a vertex
            if _segments_cross(a1, a2, points[j], points[(j + 1) % n]):
                raise ValueError(f"is not simple: edge {i} crosses edge {j}")
    area2 = sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
                for i in range(n))
    if abs(area2) < 1e-6:
        raise ValueError("has zero area")


class FenceConfig(_Strict):
    """Charter item 5 and 7. Polygon vertices are (north_m, east_m) relative to home.
    Altitudes are heights above home (positive up)."""

    polygon_ne_m: tuple[tuple[float, float], ...] = Field(
        ((-150.0, -150.0), (-150.0, 150.0), (150.0, 150.0), (150.0, -150.0)))
    altitude_floor_m: float = Field(3.0, ge=L.HARD_MIN_FLOOR_M, le=L.HARD_MAX_CEILING_M)
    altitude_ceiling_m: float = Field(40.0, gt=0.0, le=L.HARD_MAX_CEILING_M)
    tethered: bool = Field(False, description="The vehicle is on a tether; closed loop on real hardware "
                           "requires it (charter item 7).")
    tether_length_m: float | None = Field(None, gt=0.0, le=500.0)
    tether_anchor_ne_m: tuple[float, float] = (0.0, 0.0)

    @field_validator("polygon_ne_m")
    @classmethod
    def _simple(cls, v: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        try:
            check_simple_polygon([tuple(p) for p in v])  # type: ignore[misc]
        except ValueError as exc:
            raise ValueError(f"polygon_ne_m {exc}") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> FenceConfig:
        if self.altitude_ceiling_m <= self.altitude_floor_m + 2.0:
            raise ValueError(
                f"altitude_ceiling_m={self.altitude_ceiling_m} must exceed altitude_floor_m="
                f"{self.altitude_floor_m} by more than 2 m")
        if self.tethered and self.tether_length_m is None:
            raise ValueError("tethered=true requires tether_length_m (it becomes a fence radius)")
        return self
