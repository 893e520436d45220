"""Safety envelope configuration: standoff, speed/acceleration caps, timeouts and the geofence."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drone_perception.config import limits as L


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SafetyConfig(_Strict):
    """Charter items 1, 3, 4 and 5 (speed part). Every value is bounded by ``limits``."""

    min_standoff_m: float = Field(
        10.0, ge=L.HARD_MIN_STANDOFF_M, le=200.0,
        description="Smallest 3D distance (m) kept from every detected person, subject and bystanders, measured "
        "to a 2 m vertical body; hard floor 5 m (charter item 1). Raising it keeps the vehicle farther from "
        "people and makes the governor cut closing speed earlier; lowering it lets the vehicle come closer. "
        "follow.distance_m / height_m must leave room for it or the governor keeps limiting the follow.")
    max_horizontal_speed_mps: float = Field(
        5.0, gt=0.0, le=L.HARD_MAX_HORIZONTAL_SPEED_MPS,
        description="Cap (m/s) on the horizontal speed (norm of north and east) the governor lets through, in "
        "any direction; hard maximum 12 m/s. Raising it keeps up with a faster subject but lengthens every "
        "stopping distance; lowering it slows every manoeuvre, backing away from a runner included.")
    max_vertical_speed_mps: float = Field(
        2.0, gt=0.0, le=L.HARD_MAX_VERTICAL_SPEED_MPS,
        description="Cap (m/s) on the vertical speed, up or down (NED: down positive); hard maximum 4 m/s. "
        "Raising it lets the vehicle climb away faster from a person running underneath it (the escape the "
        "governor uses) and lengthens vertical stopping; lowering it slows climbs and descents.")
    max_accel_mps2: float = Field(
        3.0, gt=0.0, le=L.HARD_MAX_ACCEL_MPS2,
        description="Cap (m/s^2) on how fast the governor lets the commanded velocity change from one command "
        "to the next; the reductions demanded by people and the fence are not slowed by it. Hard maximum "
        "6 m/s^2 and never below braking_decel_mps2. Raising it makes the vehicle more agile; lowering it "
        "gives smoother motion that reacts later.")
    braking_decel_mps2: float = Field(
        2.5, gt=0.0, le=L.HARD_MAX_ACCEL_MPS2,
        description="Deceleration (m/s^2) the governor assumes the vehicle achieves when braking, used for "
        "every stopping distance; at most max_accel_mps2. Raising it assumes harder braking: shorter "
        "stopping distances and faster approach allowed (only safe if the airframe really brakes that hard); "
        "lowering it is conservative: the vehicle slows down earlier near people and the fence.")
    braking_jerk_mps3: float = Field(
        5.0, ge=0.5, le=50.0,
        description="Jerk (m/s^3) with which the autopilot ramps up its braking: it reaches braking_decel_mps2 "
        "only after braking_decel_mps2 / braking_jerk_mps3 s, which the governor adds to every stopping "
        "horizon. ArduCopter's position controller ramps at PSC_JERK_XY (default 5 m/s^3); measured on the "
        "real ArduCopter SITL, a 1.66 m/s follow coasted 3.14 m after a dead companion, more than the 2.96 m "
        "the governor budgeted without this term. Raising it assumes a sharper brake (shorter budget); lowering "
        "it is conservative.")
    max_yaw_rate_radps: float = Field(
        0.8, gt=0.0, le=L.HARD_MAX_YAW_RATE_RADPS,
        description="Cap (rad/s) on the commanded yaw rate, either sign (positive = clockwise seen from above); "
        "hard maximum 1.5 rad/s. Raising it turns the camera faster to a subject crossing the view; "
        "lowering it gives steadier footage but a fast subject may leave the image.")
    command_latency_s: float = Field(
        0.25, ge=0.0, le=2.0,
        description="Camera-to-actuation latency (s): the governor evaluates every constraint where the vehicle "
        "will be after it, and adds it to the stopping budget. Raising it is conservative (slower near "
        "people and the fence); lowering it below the real latency lets the vehicle overshoot the boundary.")
    autopilot_command_timeout_s: float = Field(
        1.0, ge=0.1, le=5.0,
        description="How long (s) the autopilot keeps flying the last setpoint after the stream stops "
        "(ArduPilot GUID_TIMEOUT, PX4 COM_OF_LOSS_T). Included in the stopping budget; it must be at least "
        "link.guided_timeout_s (the value the bridge writes to the autopilot) or the config is refused. "
        "Raising it is conservative (the governor allows less closing speed); lowering it below what the "
        "autopilot really does lets the vehicle coast past the point the governor planned to stop at.")
    command_ttl_s: float = Field(
        0.2, gt=0.0, le=L.HARD_MAX_COMMAND_TTL_S,
        description="Lifetime (s) of each command: it expires this long after it was made (``expires_at_s``) "
        "and the bridge never sends it later; hard maximum 0.5 s. Part of the stopping budget. Raising it "
        "tolerates more loop jitter but lengthens the budget (slower near people); lowering it shortens the "
        "budget, but a command that expires before the bridge sends it is dropped (the vehicle holds).")
    stale_input_s: float = Field(
        0.5, gt=0.0, le=5.0,
        description="Vehicle state, perception or a proposed command older than this (s), or newer by as much "
        "(a clock fault) -> HOLD. Raising it tolerates a slower or jittery camera and link but acts on older "
        "data; lowering it holds sooner when perception or telemetry lags.")
    subject_lost_timeout_s: float = Field(
        2.0, ge=0.0, le=30.0,
        description="Subject unseen this long (s, on top of stale_input_s) -> its estimate is invalid and the "
        "governor holds. Raising it keeps following a predicted subject through longer occlusions; lowering "
        "it holds sooner after the subject disappears.")
    hold_to_mode_request_s: float = Field(
        3.0, ge=0.5, le=60.0,
        description="A HOLD lasting this long (s) while engaged -> the stack requests BRAKE from the autopilot. "
        "Raising it gives perception longer to recover before the mode changes; lowering it escalates to "
        "the autopilot sooner.")
    unobserved_speed_mps: float = Field(
        0.5, ge=0.0, le=L.HARD_MAX_UNOBSERVED_SPEED_MPS,
        description="Cap (m/s) on horizontal speed into directions the camera has not recently observed (e.g. "
        "backing away); hard maximum 1.5 m/s. Raising it repositions faster into space where an unseen person "
        "may stand; lowering it is safer but makes backing away slower.")
    design_person_speed_mps: float = Field(
        8.0, ge=2.5, le=12.0,
        description="Design person speed (m/s): the fastest a person is assumed to run (default: a sprinting "
        "adult). An unseen person may be anywhere within this speed times the time since last seen, moving at "
        "up to it in any direction: the people memory grows their disc at it and the governor lets that disc "
        "close on the vehicle at it. The envelope check refuses a follow offset that such a person could reach "
        "(follow.height_m below the ground-safe height). Raising it keeps the vehicle farther from where people "
        "were last seen; lowering it below what people really run lets an unseen person be closer than assumed.")
    forget_person_after_s: float = Field(
        30.0, ge=5.0, le=600.0,
        description="Unseen people are dropped from memory after this (s). Raising it remembers them longer "
        "(their uncertainty disc keeps growing and can block the vehicle); lowering it forgets them sooner, "
        "while they may still be nearby out of view.")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "person_uncertainty_growth_mps" in data:
            raise ValueError("person_uncertainty_growth_mps was renamed design_person_speed_mps (default 8 m/s, a "
                             "sprinting adult): it now bounds the memory, the governor and the envelope check")
        return data

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
        ((-150.0, -150.0), (-150.0, 150.0), (150.0, 150.0), (150.0, -150.0)),
        description="Fence polygon: vertices (north_m, east_m) in metres relative to home, either winding, at "
        "least 3, no self-crossing. The governor keeps the predicted stopping point inside it; with "
        "link.upload_fence it is also the autopilot's fence. Enlarging it gives the follow more room; "
        "shrinking it keeps the vehicle closer to home.")
    altitude_floor_m: float = Field(
        3.0, ge=L.HARD_MIN_FLOOR_M, le=L.HARD_MAX_CEILING_M,
        description="Lowest allowed height (m above home, positive up) of the predicted stopping point; hard "
        "floor 2 m, and more than 2 m below altitude_ceiling_m. Raising it keeps the vehicle higher above "
        "people and obstacles; lowering it allows lower shots.")
    altitude_ceiling_m: float = Field(
        40.0, gt=0.0, le=L.HARD_MAX_CEILING_M,
        description="Highest allowed height (m above home, positive up) of the predicted stopping point; hard "
        "maximum 120 m. Raising it leaves more room to climb away from a person; lowering it keeps the "
        "vehicle lower (airspace) and removes some of that escape room.")
    tethered: bool = Field(False, description="The vehicle is on a tether; closed loop on real hardware "
                           "requires it (charter item 7) and then tether_length_m is required. False: closed "
                           "loop runs only against a simulator.")
    tether_length_m: float | None = Field(
        None, gt=0.0, le=500.0,
        description="Tether length (m). When set, the predicted stopping point is kept inside a sphere of this "
        "radius (slant range) around tether_anchor_ne_m; None = no tether sphere. Raising it gives more room "
        "(never beyond the real tether); lowering it keeps the vehicle closer to the anchor.")
    tether_anchor_ne_m: tuple[float, float] = Field(
        (0.0, 0.0),
        description="Tether anchor on the ground: (north_m, east_m) in metres relative to home; the centre of "
        "the tether sphere. Moving it moves the whole allowed sphere.")

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
