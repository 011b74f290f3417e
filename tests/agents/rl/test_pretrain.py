"""PPO's behaviour cloning: the teacher's episodes, the normalisers, the fit, and the run records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.base import PassivePolicy, run_episode
from agents.rl.config import load_experiment
from agents.rl.pretrain import bc_seed, behaviour_clone, clone_error, collect, returns_to_go
from agents.rl.train import build_model, make_train_env, train
from agents.rule import PriceThresholdPolicy
from vpp_gym.validation import ConfigError, ConfigWarning

pytestmark = pytest.mark.rl

CFG = {
    "name": "bc",
    "env_id": "vpp_gym/Arbitrage-v0",
    "algo": "ppo",
    "seed": 5,
    "agent": {"net_arch": [32, 32], "n_steps": 96, "batch_size": 192, "bc_episodes": 3, "bc_epochs": 300},
    "train": {"n_envs": 2, "total_timesteps": 192, "eval_every_steps": 192, "checkpoint_every_steps": 0},
    "eval": {"days": 2},
}


def test_returns_to_go_by_hand() -> None:
    got = returns_to_go(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 4.0]]), 0.5)
    np.testing.assert_allclose(got, [[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3], [1.0, 2.0, 4.0]])


def test_clone_fits_the_teachers_episodes_and_the_normalisers_saw_them() -> None:
    cfg, _ = load_experiment(mapping=CFG)
    obs, actions, rewards, profits, days = collect(cfg, 2)
    assert obs.shape[:2] == (3, 97) and actions.shape[:2] == (3, 96) and rewards.shape == (3, 96)
    # the independent re-run of episode 1: the public episode runner, same day, seed and policy
    env = gym.make(cfg.env_id, split="train")
    totals = run_episode(env, PriceThresholdPolicy(env), seed=bc_seed(cfg.seed, 1), options={"day": int(days[1])})
    assert profits[1] == pytest.approx(totals["profit"], rel=1e-9)
    first, _ = env.reset(seed=bc_seed(cfg.seed, 1), options={"day": int(days[1])})
    np.testing.assert_array_equal(obs[1, 0], first)

    venv = make_train_env(cfg)
    model = build_model(cfg, venv, None)
    states = obs[:, :96].reshape(-1, obs.shape[-1])

    def mse() -> float:
        import torch

        with torch.no_grad():
            x = torch.as_tensor(venv.normalize_obs(states), dtype=torch.float32)
            mean = model.policy.action_net(model.policy.mlp_extractor(model.policy.extract_features(x))[0])
        played = np.clip(mean.numpy(), -1.0, 1.0)  # the env plays the mean clipped to the box
        return float(((played - actions.reshape(len(states), -1)) ** 2).mean())

    count0 = venv.obs_rms.count
    record = behaviour_clone(model, venv, cfg)
    # same episodes again (seeded), and the normalisers saw exactly them
    assert record["transitions"] == 3 * 96 and record["mean_profit"] == pytest.approx(profits.mean())
    assert venv.obs_rms.count == pytest.approx(count0 + len(states))
    np.testing.assert_allclose(venv.obs_rms.mean, states.mean(axis=0), rtol=1e-6, atol=1e-6)
    running = np.zeros_like(rewards, dtype=np.float64)
    for t in range(96):
        running[:, t] = rewards[:, t] + (cfg.agent.gamma * running[:, t - 1] if t else 0.0)
    assert venv.ret_rms.var == pytest.approx(running.var(), rel=1e-3)
    # the fit: the policy's mean reproduces the teacher's actions far better than the fresh policy did
    fresh = float((actions**2).mean())  # a fresh SB3 policy's mean is ~0 (output layer gain 0.01)
    assert mse() == pytest.approx(record["action_mse"], rel=0.5)
    assert mse() < 0.2 * fresh


def test_train_evaluates_the_clone_before_ppo_and_records_it(tmp_path: Path) -> None:
    cfg, _ = load_experiment(mapping=CFG)
    run = train(cfg, tmp_path / "run", command="test", progress=False)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["behaviour_cloning"]["episodes"] == 3 and meta["behaviour_cloning"]["policy"] == "rule"
    with (run / "curve.csv").open() as fh:
        steps = [int(row["timesteps"]) for row in csv.DictReader(fh)]
    assert steps[0] == 0 and steps[-1] >= 192  # the clone, then PPO


def test_bad_cloning_settings_are_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"agent\.bc_policy"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "bc_policy": "ppo"}})
    with pytest.raises(ConfigError, match=r"agent\.bc_epochs"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "bc_epochs": 0}})
    with pytest.warns(ConfigWarning, match=r"agent\.bc_policy.*bc_episodes is 0"):
        load_experiment(mapping={**CFG, "agent": {"bc_policy": "oracle"}})


def test_init_mean_passive_starts_the_policy_at_the_passive_action() -> None:
    cfg, _ = load_experiment(
        mapping={**CFG, "env_id": "vpp_gym/Joint-v1", "agent": {"net_arch": [8], "init_mean": "passive"}}
    )
    venv = make_train_env(cfg)
    model = build_model(cfg, venv, None)
    env = gym.make(cfg.env_id)
    passive = PassivePolicy(env).act(env.reset(seed=0)[0], {})
    assert passive[env.unwrapped.params.action_index["gas"]] == -1.0  # the gas unit's zero action would run it
    obs = np.stack([env.reset(seed=s)[0] for s in range(4)])
    got = model.predict(venv.normalize_obs(obs), deterministic=True)[0]
    np.testing.assert_allclose(got, np.tile(passive, (4, 1)), atol=0.05)  # output layer gain 0.01


def test_clone_error_counts_only_the_shortfall_at_a_bound() -> None:
    import torch

    mean = torch.tensor([1.3, 0.8, -1.4, -0.7, 0.2, 0.2])
    target = torch.tensor([1.0, 1.0, -1.0, -1.0, 0.5, -0.1])
    # beyond the upper bound: 0; short of it: -0.2; beyond the lower bound: 0; short of it: 0.3; inside: mean - target
    np.testing.assert_allclose(clone_error(mean, target).numpy(), [0.0, -0.2, 0.0, 0.3, -0.3, 0.3], atol=1e-6)


def test_dagger_round_plays_the_actor_and_labels_its_states_with_the_teacher() -> None:
    cfg, _ = load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "dagger_rounds": 1, "dagger_episodes": 2}})

    def actor(obs: np.ndarray) -> np.ndarray:  # a policy unlike the teacher: sell 30 %, charge at 50 %
        out = np.zeros((len(obs), 5), dtype=np.float32)
        out[:, 0], out[:, 1] = 0.3, -0.5
        return out

    obs, labels, _rewards, profits, days = collect(cfg, 2, episodes=2, round_=1, actor=actor)
    # the independent re-run: the actor plays episode 1, the rule is asked in every state it reaches
    env = gym.make(cfg.env_id, split="train")
    o, info = env.reset(seed=bc_seed(cfg.seed, 1, 1), options={"day": int(days[1])})
    teacher = PriceThresholdPolicy(env)
    teacher.reset()
    profit, done, t = 0.0, False, 0
    while not done:
        np.testing.assert_array_equal(o, obs[1, t])
        np.testing.assert_array_equal(np.clip(teacher.act(o, info), -1.0, 1.0), labels[1, t])
        o, _r, term, trunc, info = env.step(actor(o[None])[0])
        profit += info["profit"]
        done, t = term or trunc, t + 1
    assert profits[1] == pytest.approx(profit, rel=1e-12)
    # and the whole cloning with one round records the clone's profit on its round's days
    venv = make_train_env(cfg)
    record = behaviour_clone(build_model(cfg, venv, None), venv, cfg)
    assert len(record["dagger_clone_profit"]) == 1 and record["transitions"] == (3 + 2) * 96
    with pytest.raises(ConfigError, match=r"agent\.dagger_rounds: the oracle plans the day from its start"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "bc_policy": "oracle", "dagger_rounds": 1}})
