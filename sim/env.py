"""Gymnasium environment ``PersonFollow-v0``: fly the simulated multicopter to film a person from a distance.

Observation (float32, 14): subject position relative to the vehicle (NED m, 3; from simulated detections: a
noisy truth-based fix while the subject is detected, held while it is not), vehicle velocity (NED m/s, 3),
sin/cos of the vehicle yaw (2), subject detected this step (0/1), seconds since the subject was last detected
(clipped to 60), nearest other person relative to the vehicle (NED m, 3; last detected position) and whether
such a person has been seen (0/1).

Action (float32, 4): velocity north, east, down (m/s, +down) and yaw rate (rad/s, + = north towards east),
bounded by the stack's configured speed and yaw-rate limits.

Safety layer: before the action reaches the simulated autopilot, the env removes any closing speed towards any
person's body (a 2 m vertical segment), counting the person's own velocity, beyond what still lets the vehicle
stop outside ``min_standoff_m`` at ``braking_decel_mps2`` after the response lag (so it backs away from a person
walking at it), and any descent near the altitude floor. It uses ground truth and
is deliberately simple. TODO: route actions through the stack's ``drone_perception.control.governor.
SafetyGovernor`` (with perceived people, not truth) once it is available; this clip is a stand-in.

Reward per step: +0.5 while the subject is detected, minus 0.05 per metre of horizontal-distance error to the
follow distance and of height error to the follow height, minus a small action-magnitude cost; -10 and the
episode ends if the vehicle gets within ``min_standoff_m`` of anyone anyway. Episodes are truncated at the
scenario's duration. ``reset(seed=..., options={"scenario": name})``; all randomness comes from ``np_random``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from drone_perception.config import StackConfig
from drone_perception.config.limits import PERSON_HEIGHT_M
from drone_perception.types import VelocityCommand
from sim.scenarios import DEFAULT_SCENARIO, get_scenario
from sim.sensors import DetectionModelParams, simulate_detections
from sim.world import World

OBS_DIM = 14
_POS_LIMIT_M = 500.0
_VEL_LIMIT_MPS = 20.0
_SINCE_LIMIT_S = 60.0
#: Extra distance (m) the env's safety clip keeps beyond the standoff: a person accelerating to a sprint gains
#: about velocity_time_constant_s x 8 m/s = 2.8 m on the lagging vehicle.
SAFETY_MARGIN_M = 3.5
#: Position noise (1 sigma, m) of the env's truth-based subject fix.
FIX_SIGMA_M = 0.3


class PersonFollowEnv(gym.Env[np.ndarray, np.ndarray]):
    metadata = {"render_modes": [], "render_fps": 20}  # noqa: RUF012 (gymnasium declares it this way)

    def __init__(self, scenario: str = DEFAULT_SCENARIO, config: StackConfig | None = None,
                 detection_params: DetectionModelParams | None = None, render_mode: str | None = None) -> None:
        get_scenario(scenario)  # unknown names fail here, not at reset
        self.scenario = scenario
        self.config = config or StackConfig.model_validate({})
        self.detection_params = detection_params or DetectionModelParams()
        self.render_mode = render_mode
        s = self.config.safety
        high_act = np.array([s.max_horizontal_speed_mps, s.max_horizontal_speed_mps, s.max_vertical_speed_mps,
                             s.max_yaw_rate_radps], dtype=np.float32)
        self._act_box = spaces.Box(-high_act, high_act, dtype=np.float32)
        self.action_space = self._act_box
        high_obs = np.array([_POS_LIMIT_M] * 3 + [_VEL_LIMIT_MPS] * 3 + [1.0, 1.0, 1.0, _SINCE_LIMIT_S]
                            + [_POS_LIMIT_M] * 3 + [1.0], dtype=np.float32)
        low_obs = -high_obs
        low_obs[8] = low_obs[9] = low_obs[13] = 0.0
        self._obs_box = spaces.Box(low_obs, high_obs, dtype=np.float32)
        self.observation_space = self._obs_box
        self.dt_s = 1.0 / self.config.control_rate_hz
        self._world: World | None = None
        self._duration_s = 0.0

    # --- gymnasium API ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        name = (options or {}).get("scenario", self.scenario)
        spec = get_scenario(name)
        self._world = spec.build(self.np_random, self.config)
        self._stack_config = self._world.stack_config(self.config)
        self._duration_s = spec.duration_s
        self._subject_fix: np.ndarray | None = None
        self._subject_seen_s = -math.inf
        self._other_fix: dict[int, np.ndarray] = {}
        visible = self._sense()
        return self._observation(visible), self._info(visible, clipped=False)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        world = self._require_world()
        act = np.clip(np.asarray(action, dtype=np.float64), self._act_box.low, self._act_box.high)
        safe_vel, clipped = self._safety_clip(act[:3])
        world.command(VelocityCommand(safe_vel, float(act[3]), world.t_s))
        world.step(self.dt_s)
        visible = self._sense()
        sep_min, _ = world.min_separation_m()
        standoff = self._stack_config.safety.min_standoff_m
        reward = self._reward(visible, act)
        terminated = bool(sep_min < standoff or world.vehicle.on_ground)
        if terminated:
            reward -= 10.0
        truncated = bool(world.t_s >= self._duration_s - 1e-9)
        return self._observation(visible), float(reward), terminated, truncated, self._info(visible, clipped)

    # --- internals -------------------------------------------------------------------------------------
    def _require_world(self) -> World:
        if self._world is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        return self._world

    def _sense(self) -> bool:
        world = self._require_world()
        _, gt_ids = simulate_detections(world, world.camera_model(), self.np_random, self.detection_params)
        seen = set(gt_ids.tolist())
        for person in world.people:
            if person.id in seen:
                fix = person.position_ned_m + np.append(self.np_random.normal(0.0, FIX_SIGMA_M, 2), 0.0)
                if person.is_subject:
                    self._subject_fix = fix
                    self._subject_seen_s = world.t_s
                else:
                    self._other_fix[person.id] = fix
        return world.subject.id in seen

    def _observation(self, visible: bool) -> np.ndarray:
        world = self._require_world()
        veh = world.vehicle
        pos = veh.position_ned_m
        obs = np.zeros(OBS_DIM)
        if self._subject_fix is not None:
            obs[0:3] = self._subject_fix - pos
        obs[3:6] = veh.velocity_ned_mps
        obs[6], obs[7] = math.sin(veh.yaw_rad), math.cos(veh.yaw_rad)
        obs[8] = float(visible)
        obs[9] = min(world.t_s - self._subject_seen_s, _SINCE_LIMIT_S)
        if self._other_fix:
            rel = min((fix - pos for fix in self._other_fix.values()), key=lambda r: float(r[:2] @ r[:2]))
            obs[10:13] = rel
            obs[13] = 1.0
        return np.clip(obs, self._obs_box.low, self._obs_box.high).astype(np.float32)

    def _safety_clip(self, velocity_ned_mps: np.ndarray) -> tuple[np.ndarray, bool]:
        """Remove closing speed towards any person beyond the stopping budget (ground truth; see module doc)."""
        world = self._require_world()
        s = self._stack_config.safety
        fence = self._stack_config.fence
        veh_pos = world.vehicle.position_ned_m
        veh_vel = world.vehicle.velocity_ned_mps
        lag_s = s.command_latency_s + world.vehicle.params.velocity_time_constant_s + self.dt_s
        vel = velocity_ned_mps.copy()
        clipped = False
        for _ in range(2):  # a second pass catches a clip towards one person that closed on another
            for person in world.people:
                foot = person.position_ned_m
                closest = foot.copy()
                closest[2] = min(max(veh_pos[2], foot[2] - PERSON_HEIGHT_M), foot[2])
                gap = closest - veh_pos
                dist = float(np.linalg.norm(gap))
                if dist < 1e-6:
                    continue
                u = gap / dist
                # Closing speeds count the person's own velocity: a person walking at us closes too.
                closing = float((vel - person.velocity_ned_mps) @ u)
                closing_now = float((veh_vel - person.velocity_ned_mps) @ u)
                budget = dist - s.min_standoff_m - SAFETY_MARGIN_M - max(closing_now, closing, 0.0) * lag_s
                allowed = math.sqrt(2.0 * s.braking_decel_mps2 * budget) if budget > 0.0 else 0.0
                if closing > allowed:
                    vel -= (closing - allowed) * u
                    clipped = True
        alt = -float(veh_pos[2])
        if alt < fence.altitude_floor_m + 1.0 and vel[2] > 0.0:
            vel[2], clipped = 0.0, True
        if alt > fence.altitude_ceiling_m - 1.0 and vel[2] < 0.0:
            vel[2], clipped = 0.0, True
        return vel, clipped

    def _reward(self, visible: bool, action: np.ndarray) -> float:
        world = self._require_world()
        follow = self._stack_config.follow
        veh = world.vehicle.position_ned_m
        subj = world.subject.position_ned_m
        horiz = math.hypot(veh[0] - subj[0], veh[1] - subj[1])
        height = -(veh[2] - subj[2])
        return (0.5 * float(visible) - 0.05 * abs(horiz - follow.distance_m) - 0.05 * abs(height - follow.height_m)
                - 0.001 * float(action @ action))

    def _info(self, visible: bool, clipped: bool) -> dict[str, Any]:
        world = self._require_world()
        sep_min, _ = world.min_separation_m()
        return {"t_s": world.t_s, "min_separation_m": sep_min, "subject_visible": visible,
                "safety_clipped": clipped, "fence_margin_m": world.fence_margin_m()}
