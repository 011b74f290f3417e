"""SAC demonstrations: the replay buffer holds the teacher's real episodes, checked against a re-run."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.base import run_episode
from agents.rl.config import load_experiment
from agents.rl.demo import episode_seed, fill_replay_buffer
from agents.rl.train import build_model, make_train_env
from agents.rule import PriceThresholdPolicy
from vpp_gym.validation import ConfigError

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.rl

CFG = {
    "name": "demo",
    "env_id": "vpp_gym/Arbitrage-v0",
    "algo": "sac",
    "seed": 3,
    "agent": {"net_arch": [16], "buffer_size": 1000, "n_steps": 4, "demo_episodes": 4, "demo_policy": "rule"},
    "train": {"n_envs": 2},
}


def test_buffer_holds_the_teachers_episodes_and_the_normaliser_saw_them() -> None:
    cfg, _ = load_experiment(mapping=CFG)
    venv = make_train_env(cfg)
    model = build_model(cfg, venv, None)
    count0 = venv.obs_rms.count
    stats = fill_replay_buffer(model, venv, cfg)
    buf = model.replay_buffer
    steps = 96  # one Arbitrage day at 15 minutes
    assert stats["transitions"] == 4 * steps and buf.pos == 2 * steps  # two lockstep rounds of 2 sub-envs
    assert len(set(stats["days"])) == 4

    env = gym.make(cfg.env_id, split="train")
    for k in range(4):
        col, rows = k % 2, slice((k // 2) * steps, (k // 2 + 1) * steps)
        # the independent re-run: the public episode runner, same day, seed and policy
        totals = run_episode(
            env, PriceThresholdPolicy(env), seed=episode_seed(cfg.seed, k), options={"day": stats["days"][k]}
        )
        assert float(buf.rewards[rows, col].sum()) == pytest.approx(totals["reward"], rel=1e-5)
        first, _ = env.reset(seed=episode_seed(cfg.seed, k), options={"day": stats["days"][k]})
        np.testing.assert_array_equal(buf.observations[rows, col][0], first)
        # consecutive: each stored next observation is the following row's observation
        np.testing.assert_array_equal(buf.next_observations[rows, col][:-1], buf.observations[rows, col][1:])
        assert buf.dones[rows, col].tolist() == [0.0] * (steps - 1) + [1.0]
    assert stats["mean_profit"] == pytest.approx(1e3 * buf.rewards[: 2 * steps].sum() / 4, rel=1e-5)

    # the return normaliser (normalize.reward defaults to true) saw the discounted running returns
    rewards = buf.rewards[: 2 * steps].astype(np.float64).reshape(2, steps, 2)  # round, step, sub-env
    returns = np.zeros_like(rewards)
    for t in range(steps):
        returns[:, t] = rewards[:, t] + (cfg.agent.gamma * returns[:, t - 1] if t else 0.0)
    assert venv.ret_rms.count == pytest.approx(count0 + len(returns.ravel()))
    assert venv.ret_rms.var == pytest.approx(returns.var(), rel=1e-3)
    # the observation normaliser was updated with exactly the stored observations
    seen = buf.observations[: 2 * steps].reshape(-1, buf.observations.shape[-1]).astype(np.float64)
    assert venv.obs_rms.count == pytest.approx(count0 + len(seen))
    np.testing.assert_allclose(venv.obs_rms.mean, seen.mean(axis=0), rtol=1e-6, atol=1e-6)


def test_bad_demonstration_settings_are_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"agent\.demo_episodes: got 3, expected a multiple of train\.n_envs \(2\)"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "demo_episodes": 3}})
    cfg, _ = load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "demo_episodes": 12}})
    venv = make_train_env(cfg)
    with pytest.raises(ConfigError, match=r"12 episodes are 1,152 transitions, more than agent\.buffer_size \(1,000\)"):
        fill_replay_buffer(build_model(cfg, venv, None), venv, cfg)
    # MPC cannot plan against competitor stacks (price-maker clearing); the oracle can
    cfg, _ = load_experiment(
        mapping={
            **CFG,
            "scenario": str(ROOT / "configs" / "markets" / "autonomous.yaml"),
            "agent": {**CFG["agent"], "demo_policy": "mpc", "demo_episodes": 2},
        }
    )
    venv = make_train_env(cfg)
    with pytest.raises(ConfigError, match=r"agent\.demo_policy: mpc cannot play this scenario \(competitor stacks"):
        fill_replay_buffer(build_model(cfg, venv, None), venv, cfg)
    with pytest.raises(ConfigError, match=r"agent\.demo_policy"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "demo_policy": "ppo"}})


def test_resume_seals_the_interrupted_episodes_so_n_step_returns_stop_there() -> None:
    from agents.rl.train import seal_open_episodes

    cfg, _ = load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "demo_episodes": 0, "gamma": 0.5}})
    venv = make_train_env(cfg)
    buf = build_model(cfg, venv, None).replay_buffer  # n_steps 4
    obs = np.zeros((2, venv.observation_space.shape[0]), dtype=np.float32)
    act, rew, no = np.zeros((2, 5), dtype=np.float32), np.ones(2, dtype=np.float32), np.zeros(2)
    infos = [{}, {}]

    def fill(rows: int) -> None:
        for _ in range(rows):
            buf.add(obs, obs, act, rew, no, infos)

    fill(10)  # interrupted mid-episode at row 9
    seal_open_episodes(buf)
    fill(5)  # the resumed run's new episodes
    # from row 7 the 4-step return stops at row 9: 1 + 0.5 + 0.25, bootstrapped with 0.5 ** 3
    sample = buf._get_samples(np.array([7]), env=None)
    assert float(sample.rewards) == pytest.approx(1.75) and float(sample.discounts) == pytest.approx(0.125)
    assert float(sample.dones) == 0.0  # a time-out, not a terminal state: the critic still bootstraps
    sample = buf._get_samples(np.array([10]), env=None)  # the new episodes run the full 4 steps
    assert float(sample.rewards) == pytest.approx(1.875) and float(sample.discounts) == pytest.approx(0.0625)
