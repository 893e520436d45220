"""Gymnasium environment ``PersonFollow-v0``: fly the simulated multicopter to film a person from a distance.

Observation (float32, 14): subject position relative to the vehicle (NED m, 3; from simulated detections: a
noisy truth-based fix while the subject is detected, held while it is not), vehicle velocity (NED m/s, 3),
sin/cos of the vehicle yaw (2), subject detected this step (0/1), seconds since the subject was last detected
(clipped to 60), nearest other person relative to the vehicle (NED m, 3; last detected position) and whether
such a person has been seen (0/1).

Action (float32, 4): velocity north, east, down (m/s, +down) and yaw rate (rad/s, + = north towards east),
bounded by the stack's configured speed and yaw-rate limits.

Safety layer: every action goes through the stack's own ``SafetyGovernor`` (standoff with stopping budget, caps,
geofence on the stopping point, unobserved-direction cap) before it reaches the simulated autopilot, exactly as
in the closed loop; a learning agent can never command what the governor would refuse. The people it protects
are ground truth with a small position uncertainty (``FIX_SIGMA_M``): the env trains the follow policy, not
perception.

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
from drone_perception.control.governor import GovernorInput, SafetyGovernor
from drone_perception.geometry import observed_sector
from drone_perception.types import OperatorInput, People, TargetEstimate, VelocityCommand, Verdict
from sim.sensing.sensors import DetectionModelParams, simulate_detections
from sim.world.scenarios import DEFAULT_SCENARIO, get_scenario
from sim.world.world import World

OBS_DIM = 14
_POS_LIMIT_M = 500.0
_VEL_LIMIT_MPS = 20.0
_SINCE_LIMIT_S = 60.0
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
        self._governor = SafetyGovernor(self._stack_config.safety, self._stack_config.fence,
                                        self._stack_config.camera)
        self._duration_s = spec.duration_s
        self._subject_fix: np.ndarray | None = None
        self._subject_seen_s = -math.inf
        self._other_fix: dict[int, np.ndarray] = {}
        visible = self._sense()
        return self._observation(visible), self._info(visible, clipped=False)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        world = self._require_world()
        act = np.clip(np.asarray(action, dtype=np.float64), self._act_box.low, self._act_box.high)
        safe, clipped = self._safety_clip(act)
        world.command(safe)
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

    def _safety_clip(self, action: np.ndarray) -> tuple[VelocityCommand, bool]:
        """Pass the action through the stack's own SafetyGovernor (people from ground truth; see module doc)."""
        world = self._require_world()
        now = world.t_s
        feet = world.people_feet_ned_m()
        n = feet.shape[0]
        vel = np.array([p.velocity_ned_mps for p in world.people]).reshape(n, 3)
        is_subject = np.array([p.is_subject for p in world.people], dtype=bool)
        people = People(feet, vel, np.full(n, FIX_SIGMA_M), np.full(n, now), is_subject, now)
        subj = world.subject
        estimate = TargetEstimate(subj.id, subj.position_ned_m, subj.velocity_ned_mps,
                                  np.eye(3) * FIX_SIGMA_M**2, now, True)
        camera = world.camera_model()
        proposed = VelocityCommand(np.asarray(action[:3], dtype=np.float64), float(action[3]), now)
        out = self._governor.step(GovernorInput(
            now_s=now, proposed=proposed, vehicle=world.vehicle_state(), people=people, subject=estimate,
            operator=OperatorInput(True, True, subj.id, now), perception_stamp_s=now,
            observed_sector=observed_sector(camera)))
        return out.safe.command, out.safe.verdict is not Verdict.PASS

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
