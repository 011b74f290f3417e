"""SAC's behaviour cloning: the actor's deterministic action is fitted to the teacher's, checked on a re-run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.rl.config import load_experiment
from agents.rl.demo import demo_days, fill_replay_buffer
from agents.rl.pretrain import BC_STREAM, BOUND_GAP, bc_seed, behaviour_clone, squashed_clone_error, warm_up_critics
from agents.rl.train import build_model, make_train_env, train
from agents.rule import PriceThresholdPolicy
from vpp_gym.validation import ConfigError, ConfigWarning

pytestmark = pytest.mark.rl

CFG = {
    "name": "sac_bc",
    "env_id": "vpp_gym/Arbitrage-v0",
    "algo": "sac",
    "seed": 5,
    "agent": {
        "net_arch": [64, 64],
        "buffer_size": 2000,
        "learning_starts": 0,
        "log_std_init": -3.0,
        "bc_episodes": 4,
        "bc_epochs": 200,
    },
    "train": {"n_envs": 2, "total_timesteps": 192, "eval_every_steps": 192, "checkpoint_every_steps": 0},
    "normalize": {"reward": False},
    "eval": {"days": 2},
}


def _teacher_episode(cfg, k: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Cloning episode ``k`` played again by the public rule policy, outside the cloning code."""
    env = gym.make(cfg.env_id, split="train")
    day = int(demo_days(cfg.seed, BC_STREAM, cfg.agent.bc_episodes, len(env.unwrapped.episode_starts["train"]))[k])
    obs, info = env.reset(seed=bc_seed(cfg.seed, k), options={"day": day})
    teacher = PriceThresholdPolicy(env)
    teacher.reset()
    states, actions, done = [], [], False
    while not done:
        act = np.clip(teacher.act(obs, info), -1.0, 1.0)
        states.append(obs)
        actions.append(act)
        obs, _r, term, trunc, info = env.step(act)
        done = term or trunc
    return np.array(states), np.array(actions)


def test_sac_clone_plays_the_teachers_actions_on_its_states() -> None:
    cfg, _ = load_experiment(mapping=CFG)
    venv = make_train_env(cfg)
    model = build_model(cfg, venv, None)
    states, actions = _teacher_episode(cfg, 1)
    assert states.shape == (96, venv.observation_space.shape[0])

    def played() -> np.ndarray:  # what the trained agent plays: deterministic, on normalised observations
        return model.predict(venv.normalize_obs(states), deterministic=True)[0]

    fresh = np.abs(played() - actions)
    record = behaviour_clone(model, venv, cfg)
    err = np.abs(played() - actions)
    assert record["transitions"] == 4 * 96 and "value_mse" not in record
    # The rule is piecewise constant in the observation (a price above or below a threshold), the
    # clone a smooth function of 4 days: a step near a threshold may be missed, so the bounds are on
    # the typical step and on 9 steps in 10, not on every step. 0.05 of the box's half-width is 5 %
    # of the battery's power. Where the rule acts (|action| > 0.1; it mostly plays 0, where even the
    # fresh actor, tanh of a mean near 0, is right), the clone's error is a small part of the fresh one.
    active = np.abs(actions) > 0.1
    stats = (
        np.median(err),
        np.quantile(err, 0.9),
        active.sum(),
        np.mean(err[active] ** 2),
        np.mean(fresh[active] ** 2),
    )
    assert np.median(err) < 0.05 and np.quantile(err, 0.9) < 0.15, stats
    assert active.sum() >= 20 and np.mean(err[active] ** 2) < 0.1 * np.mean(fresh[active] ** 2), stats
    # where the rule plays a bound (full charge or discharge), the clone plays about 1 - BOUND_GAP:
    # the error stops pulling at that edge, so the typical step settles there, not beyond (0.89 before
    # the pre-tanh error at the bounds)
    at_bound = np.abs(actions) == 1.0
    assert at_bound.any() and np.median(err[at_bound]) < 2 * BOUND_GAP, np.median(err[at_bound])
    # the log std layer is untouched: still -3 in every state (log_std_init)
    import torch

    with torch.no_grad():
        x = torch.as_tensor(venv.normalize_obs(states), dtype=torch.float32)
        _mean, log_std, _ = model.policy.actor.get_action_dist_params(x)
    np.testing.assert_allclose(log_std.numpy(), -3.0)


def test_squashed_clone_error_by_hand() -> None:
    import torch

    edge = float(np.arctanh(0.99))  # 2.6467
    pre = torch.tensor([3.0, 1.0, -3.0, -2.0, 0.5, 0.0])
    target = torch.tensor([1.0, 1.0, -1.0, -1.0, 0.2, -0.5])
    # beyond the upper edge: 0; short of it: 1 - edge (pre-tanh); beyond the lower edge: 0; short: -2 + edge;
    # inside: tanh(pre) - target
    want = [0.0, 1.0 - edge, 0.0, -2.0 + edge, np.tanh(0.5) - 0.2, 0.5]
    np.testing.assert_allclose(squashed_clone_error(pre, target).numpy(), want, atol=1e-6)


def test_sac_without_cloning_keys_builds_the_sb3_default() -> None:
    """``log_std_init: null`` (the default) leaves SB3's initialisation as it was: same parameters as a plain SAC."""
    import torch
    from stable_baselines3 import SAC

    cfg, _ = load_experiment(mapping={**CFG, "agent": {"net_arch": [16]}})
    venv = make_train_env(cfg)
    ours = build_model(cfg, venv, None)
    plain = SAC(
        "MlpPolicy",
        venv,
        seed=cfg.seed,
        policy_kwargs={"net_arch": {"pi": [16], "qf": [16]}, "activation_fn": torch.nn.ReLU},
    )
    a, b = ours.policy.state_dict(), plain.policy.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sac_run_evaluates_the_clone_at_step_0_and_records_both_pretrainings(tmp_path: Path) -> None:
    cfg, _ = load_experiment(
        mapping={**CFG, "agent": {**CFG["agent"], "bc_epochs": 5, "demo_episodes": 2, "demo_policy": "rule"}}
    )
    run = train(cfg, tmp_path / "run", command="test", progress=False)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["behaviour_cloning"]["episodes"] == 4 and meta["demonstrations"]["episodes"] == 2
    with (run / "curve.csv").open() as fh:
        steps = [int(row["timesteps"]) for row in csv.DictReader(fh)]
    assert steps[0] == 0 and steps[-1] >= 192  # the clone, then SAC


def test_critic_warm_up_moves_only_the_critics_toward_the_td_target() -> None:
    """With gamma 0 the critics' target is the reward itself: after the warm-up Q(s, a) is the stored reward."""
    import torch

    cfg, _ = load_experiment(
        mapping={
            **CFG,
            "agent": {
                "net_arch": [64, 64],
                "buffer_size": 1000,
                "gamma": 0.0,
                "learning_rate": 1e-3,
                "batch_size": 64,
                "demo_episodes": 4,
                "demo_policy": "rule",
            },
        }
    )
    venv = make_train_env(cfg)
    model = build_model(cfg, venv, None)
    fill_replay_buffer(model, venv, cfg)
    actor0 = {k: v.clone() for k, v in model.actor.state_dict().items()}
    ent0 = float(model.log_ent_coef.detach())
    buf, rows = model.replay_buffer, 2 * 96
    obs = torch.as_tensor(venv.normalize_obs(buf.observations[:rows].reshape(-1, buf.obs_shape[0])))
    act = torch.as_tensor(buf.actions[:rows].reshape(-1, buf.action_dim))
    reward = buf.rewards[:rows].reshape(-1)

    def q_error() -> float:
        with torch.no_grad():
            q = model.critic(obs, act)[0].numpy().ravel()
        return float(np.mean(np.abs(q - reward)))

    before = q_error()
    record = warm_up_critics(model, 1500)
    assert record["steps"] == 1500
    # the rewards of a rule day are ~0.01-0.5 (thousand CNY a step); the fit is within a tenth of their spread
    assert q_error() < 0.1 * float(np.std(reward)) and q_error() < 0.2 * before
    assert all(torch.equal(actor0[k], v) for k, v in model.actor.state_dict().items())
    assert float(model.log_ent_coef.detach()) == ent0


def test_normalize_update_false_keeps_the_pretraining_statistics(tmp_path: Path) -> None:
    cfg, _ = load_experiment(
        mapping={**CFG, "agent": {**CFG["agent"], "bc_epochs": 1}, "normalize": {"reward": False, "update": False}}
    )
    venv = make_train_env(cfg)
    model = build_model(cfg, venv, None)
    behaviour_clone(model, venv, cfg)
    mean, count = venv.obs_rms.mean.copy(), venv.obs_rms.count
    assert count > 4 * 96  # the cloning episodes were seen
    model.learn(200)
    assert venv.obs_rms.count == count and np.array_equal(venv.obs_rms.mean, mean)


def test_bad_sac_cloning_settings_are_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"agent\.bc_policy"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "bc_policy": "ppo"}})
    with pytest.raises(ConfigError, match=r"agent\.bc_epochs"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "bc_epochs": 0}})
    with pytest.raises(ConfigError, match=r"agent\.bc_learning_rate"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "bc_learning_rate": 0}})
    with pytest.raises(ConfigError, match=r"agent\.log_std_init"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "log_std_init": 5.0}})
    with pytest.raises(ConfigError, match=r"dagger_rounds"):  # DAgger is PPO's only
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "dagger_rounds": 1}})
    with pytest.raises(ConfigError, match=r"agent\.critic_warmup_steps"):
        load_experiment(mapping={**CFG, "agent": {**CFG["agent"], "critic_warmup_steps": -1}})
    with pytest.warns(ConfigWarning, match=r"agent\.bc_policy.*bc_episodes is 0"):
        load_experiment(mapping={**CFG, "agent": {"bc_policy": "mpc"}})
