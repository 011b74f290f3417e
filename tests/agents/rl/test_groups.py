"""Common-random-number groups (:mod:`agents.rl.groups`): returns and baselines by hand, groups sharing their days."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents.rl.groups import group_seeds, leave_one_out, returns_to_go
from vpp_gym.validation import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_returns_to_go_stop_at_episode_starts() -> None:
    rewards = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    starts = np.array([[1, 1], [0, 1], [0, 0]], dtype=np.float32)
    g = returns_to_go(rewards, starts, 0.5)
    # column 0, one episode: 5; 3 + 0.5 x 5 = 5.5; 1 + 0.5 x 5.5 = 3.75
    # column 1, an episode of one step (2), then one of two: 6; 4 + 0.5 x 6 = 7
    np.testing.assert_allclose(g, [[3.75, 2.0], [5.5, 7.0], [5.0, 6.0]])
    with pytest.raises(ConfigError, match=r"agent\.n_steps"):
        returns_to_go(rewards, np.array([[1, 0], [0, 0], [0, 0]]), 0.5)


def test_leave_one_out_by_hand() -> None:
    v = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(leave_one_out(v, 2), [[-1.0, 1.0, -1.0, 1.0]])
    np.testing.assert_allclose(leave_one_out(v, 4), [[1 - 3.0, 2 - 8 / 3, 3 - 7 / 3, 4 - 2.0]])
    # a shift common to a group (the day) cancels out
    np.testing.assert_allclose(leave_one_out(v + np.array([[100.0, 100.0, -7.0, -7.0]]), 2), leave_one_out(v, 2))


def test_group_members_play_the_same_days_with_the_same_draws() -> None:
    from vpp_gym.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env("vpp_gym/Joint-v1", 4, split="train")
    venv._seeds = group_seeds(11, 4, 2)  # as agents.rl.groups.seed_groups sets them
    assert venv._seeds == [11, 11, 12, 12]
    obs = venv.reset()
    rng = np.random.default_rng(0)
    names = venv.get_attr("observation_names")[0]
    exo = [i for i, n in enumerate(names) if "[t+" in n]  # forecasts and signals: none depends on the actions
    days = []
    for _ in range(2 * 192 + 5):  # past two autoresets
        np.testing.assert_array_equal(obs[0, exo], obs[1, exo])
        np.testing.assert_array_equal(obs[2, exo], obs[3, exo])
        obs, _r, dones, infos = venv.step(rng.uniform(-1, 1, size=(4, venv.action_space.shape[0])))
        if dones.any():
            assert dones.all()
            days.append([info.get("episode_totals") is not None for info in infos])
    assert not np.array_equal(obs[0, exo], obs[2, exo])  # the groups play different days
    assert len(days) == 2


def test_training_plays_each_group_on_one_day_and_checks_the_rollout_length(tmp_path: Path) -> None:
    """The run's own env: seeded after the model is built (as training does), the groups still share their days."""
    from agents.rl.config import load_experiment
    from agents.rl.train import build_model, make_train_env, preflight, seed_train_env

    cfg, _ = load_experiment(
        ROOT / "configs/quick/ppo_joint_quick.yaml",
        {"agent.group_size": 4, "train.n_envs": 8, "agent.bc_episodes": 0, "agent.n_steps": 192},
    )
    env = make_train_env(cfg)
    build_model(cfg, env, None)  # SB3 seeds the env with the agent seed here
    seed_train_env(env, cfg, 5)
    obs = env.reset()
    names = env.get_attr("observation_names")[0]
    exo = [i for i, n in enumerate(names) if "[t+" in n]
    for i in (1, 2, 3):
        np.testing.assert_array_equal(obs[0, exo], obs[i, exo])
        np.testing.assert_array_equal(obs[4, exo], obs[4 + i, exo])
    assert not np.array_equal(obs[0, exo], obs[4, exo])
    bad, _ = load_experiment(
        ROOT / "configs/quick/ppo_joint_quick.yaml",
        {"agent.group_size": 4, "train.n_envs": 8, "agent.bc_episodes": 0, "agent.n_steps": 96},
    )
    with pytest.raises(ConfigError, match=r"agent\.n_steps: got 96, expected a multiple of the episode's 192"):
        preflight(bad)
