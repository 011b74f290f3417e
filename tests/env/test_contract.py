"""Contract tests over every registered task id: checkers, determinism, bounds, pickling, vector envs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import vpp_gym

TASK_IDS = list(vpp_gym.TASKS)
ROOT = Path(__file__).resolve().parents[2]


def make(env_id: str, **kwargs):
    return gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_gymnasium_checker(env_id: str) -> None:
    env = make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning is a failure
        warnings.filterwarnings("ignore", ".*is out of date", DeprecationWarning)  # v0 ids warn
        gym_check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.rl
@pytest.mark.parametrize("env_id", TASK_IDS)
def test_sb3_checker(env_id: str) -> None:
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning is a failure
        warnings.filterwarnings("ignore", ".*is out of date", DeprecationWarning)  # v0 ids warn
        sb3_env_checker.check_env(make(env_id).unwrapped, warn=True)


def _rollout(env: gym.Env, seed: int, steps: int, action_seed: int = 123):
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    out = [obs]
    rewards, infos = [], []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        out.append(obs)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return np.array(out), np.array(rewards), infos


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_same_seed_same_trajectory_bit_for_bit(env_id: str) -> None:
    obs_a, rew_a, info_a = _rollout(make(env_id), seed=7, steps=250)
    obs_b, rew_b, info_b = _rollout(make(env_id), seed=7, steps=250)
    assert obs_a.tobytes() == obs_b.tobytes()
    assert rew_a.tobytes() == rew_b.tobytes()
    assert info_a == info_b
    obs_c, _, _ = _rollout(make(env_id), seed=8, steps=250)
    assert obs_a.shape != obs_c.shape or not np.array_equal(obs_a, obs_c)


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_observations_inside_declared_space_over_long_rollouts(env_id: str) -> None:
    env = make(env_id)
    space = env.observation_space
    rng = np.random.default_rng(0)
    for episode in range(40):
        split = ("train", "val", "test")[episode % 3]
        obs, _ = env.reset(seed=episode, options={"split": split})
        done = False
        while not done:
            assert space.contains(obs), (episode, obs[~((obs >= space.low) & (obs <= space.high))])
            # extreme actions push the state to its bounds more often than uniform ones
            a = rng.choice([-1.0, 1.0], size=env.action_space.shape) * rng.uniform(0.5, 1.0, env.action_space.shape)
            obs, _r, terminated, truncated, _i = env.step(a.astype(np.float32))
            done = terminated or truncated
        assert space.contains(obs)


@pytest.mark.parametrize("env_id", TASK_IDS)
def test_pickled_env_continues_identically(env_id: str) -> None:
    env = make(env_id).unwrapped
    env.reset(seed=3)
    rng = np.random.default_rng(1)
    for _ in range(10):
        env.step(rng.uniform(-1, 1, env.action_space.shape))
    clone = pickle.loads(pickle.dumps(env))
    actions = rng.uniform(-1, 1, (30, env.action_space.shape[0]))
    for a in actions:
        o1, r1, *_ = env.step(a)
        o2, r2, *_ = clone.step(a)
        assert np.array_equal(o1, o2) and r1 == r2


def _make_fn(env_id: str):
    def _f():
        # spawned workers start a fresh interpreter: the module prefix imports (and registers) vpp_gym
        return gym.make(f"vpp_gym:{env_id}")

    return _f


@pytest.mark.slow
@pytest.mark.rl
@pytest.mark.parametrize("env_id", TASK_IDS)
def test_vector_wrappers_sb3_and_gymnasium(env_id: str) -> None:
    vec_env = pytest.importorskip("stable_baselines3.common.vec_env")
    fns = [_make_fn(env_id) for _ in range(2)]
    expected = None
    for vec in (vec_env.DummyVecEnv(fns), vec_env.SubprocVecEnv(fns, start_method="spawn")):
        vec.seed(5)
        obs = vec.reset()
        acts = np.zeros((2, *vec.action_space.shape), dtype=np.float32)
        for _ in range(5):
            obs, rewards, _dones, _infos = vec.step(acts)
        assert obs.shape == (2, *vec.observation_space.shape)
        assert np.isfinite(rewards).all()
        if expected is None:
            expected = obs
        else:
            assert np.array_equal(obs, expected)  # same seeds, process boundary changes nothing
        vec.close()
    avec = gym.vector.AsyncVectorEnv(fns, context="spawn")
    obs, _ = avec.reset(seed=[5, 6])
    for _ in range(5):
        obs, rewards, _term, _trunc, _infos = avec.step(np.zeros((2, *avec.single_action_space.shape), np.float32))
    assert obs.shape == (2, *avec.single_observation_space.shape)
    avec.close()


def test_make_with_module_prefix_in_fresh_interpreter() -> None:
    code = (
        "import gymnasium as gym; env = gym.make('vpp_gym:vpp_gym/Arbitrage-v0'); "
        "obs, _ = env.reset(seed=0); print(env.observation_space.contains(obs))"
    )
    # the checkout under test, from any working directory (installed or not)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_episode_ends_after_configured_steps_and_step_after_end_fails() -> None:
    env = make(
        "vpp_gym/Arbitrage-v0",
        time={"interval_minutes": 60, "episode_hours": 24},
        forecast={"horizon_steps": 6},
        markets={"energy": {"da_lead_steps": 2}},
        resources={"flex_load": {"shift_window_h": 4}},
    )
    env.reset(seed=0)
    a = np.zeros(env.action_space.shape, np.float32)
    flags = [env.step(a)[2] for _ in range(24)]
    assert flags == [False] * 23 + [True]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(a)
