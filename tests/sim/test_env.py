"""Gymnasium env: passes the env checker, is registered, deterministic under a seed, and the governor holds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim
from drone_perception.errors import UnknownScenarioError
from sim.env import PersonFollowEnv


def test_check_env_passes():
    with pytest.warns(UserWarning, match="symmetric and normalized"):  # physical units on purpose
        check_env(PersonFollowEnv().unwrapped)


def test_registered_and_reimport_is_harmless():
    import importlib

    importlib.reload(sim)
    env = gym.make(sim.ENV_ID)
    assert isinstance(env.unwrapped, PersonFollowEnv)
    env.close()


def rollout(seed, scenario="walk", steps=60):
    env = PersonFollowEnv()
    obs, _ = env.reset(seed=seed, options={"scenario": scenario})
    env.action_space.seed(seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append(np.append(obs, reward))
        if terminated or truncated:
            break
    return out


@pytest.mark.parametrize("scenario", ["walk", "bystander_crossing"])
def test_same_seed_identical_rollouts_different_seed_differs(scenario):
    a, b, c = rollout(5, scenario), rollout(5, scenario), rollout(6, scenario)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("scenario", ["walk_toward", "sprint_toward"])
def test_safety_clip_keeps_the_standoff_when_flying_at_the_subject(scenario):
    env = PersonFollowEnv()
    obs, _ = env.reset(seed=0, options={"scenario": scenario})
    min_sep = np.inf
    clipped = False
    for _ in range(300):
        rel = obs[0:3].astype(float)
        rel[2] = 0.0
        # Full speed straight at the subject and down: the worst an agent can ask for.
        action = np.append(5.0 * rel / max(np.linalg.norm(rel), 1e-6), 0.0).astype(np.float32)
        action[2] = 2.0
        obs, _, terminated, truncated, info = env.step(action)
        min_sep = min(min_sep, info["min_separation_m"])
        clipped |= info["safety_clipped"]
        assert not terminated
        if truncated:
            break
    assert clipped
    assert min_sep >= env.config.safety.min_standoff_m


def test_unknown_scenario_raises():
    with pytest.raises(UnknownScenarioError):
        PersonFollowEnv(scenario="nope")


def test_step_before_reset_raises():
    with pytest.raises(gym.error.ResetNeeded):
        PersonFollowEnv().step(np.zeros(4, np.float32))
