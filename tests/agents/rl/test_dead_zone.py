"""The battery dead zone (:mod:`agents.rl.actions`): its map and cloning targets by hand, its errors, and a
trained run whose reloaded policy plays exactly what the trainer validated."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the tasks)
from agents.rl.actions import DeadZone
from vpp_gym.validation import ConfigError


def test_the_map_and_the_cloning_targets_by_hand() -> None:
    dz = DeadZone(index=1, width=0.4)
    u = np.array([[0.9, 0.2, 0.0], [-2.0, -0.4, 0.3], [0.1, 0.7, 0.0], [0.0, -1.3, 0.0], [0.0, 1.0, 0.0]])
    got = dz.to_env(u)
    # battery: inside [-0.4, 0.4] idle; 0.7 -> (0.7 - 0.4) / 0.6 = 0.5; beyond the box clipped to the bound first
    np.testing.assert_allclose(got[:, 1], [0.0, 0.0, 0.5, -1.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(got[:, [0, 2]], np.clip(u[:, [0, 2]], -1, 1))  # other components only clipped
    labels = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, -1.0, 0.0], [0.0, -0.25, 1.5]])
    targets, idle = dz.clone_targets(labels)
    # 0.5 -> 0.4 + 0.5 * 0.6 = 0.7; -1 stays the bound; -0.25 -> -(0.4 + 0.25 * 0.6) = -0.55
    np.testing.assert_allclose(targets[:, 1], [0.0, 0.7, -1.0, -0.55], atol=1e-7)
    np.testing.assert_array_equal(idle, [True, False, False, False])
    np.testing.assert_allclose(dz.to_env(targets), np.clip(labels, -1, 1), atol=1e-6)  # the targets play the labels


def test_idle_and_all_out_are_exact_for_every_width() -> None:
    for width in np.linspace(0.01, 0.95, 95):
        dz = DeadZone(0, float(width))
        u = np.array([[1.0], [-1.0], [width], [-width], [-0.5 * width], [1.5]], dtype=np.float32)
        got = dz.to_env(u)[:, 0]
        np.testing.assert_array_equal(got, [1.0, -1.0, 0.0, 0.0, 0.0, 1.0])
        np.testing.assert_array_equal(np.signbit(got), [False, True, False, False, False, False])  # no -0.0


def test_the_training_env_gets_the_mapped_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("stable_baselines3")
    from agents.rl.actions import find_dead_zone
    from agents.rl.config import load_experiment
    from agents.rl.train import make_train_env

    cfg, _ = load_experiment(
        mapping={
            "name": "dz",
            "env_id": "vpp_gym/Arbitrage-v1",
            "algo": "ppo",
            "agent": {"battery_dead_zone": 0.4},
            "train": {"n_envs": 2},
        }
    )
    venv = make_train_env(cfg)
    assert find_dead_zone(venv) == DeadZone(4, 0.4)
    inner = venv
    while "dead_zone" not in vars(inner):
        inner = inner.venv
    seen: list[np.ndarray] = []
    step_async = inner.venv.step_async
    monkeypatch.setattr(inner.venv, "step_async", lambda a: (seen.append(a.copy()), step_async(a))[1])
    venv.reset()
    u = np.zeros((2, 12), dtype=np.float32)
    u[:, 4] = [0.7, -0.3]
    u[:, 0] = 0.7
    venv.step(u)
    np.testing.assert_allclose(seen[0][:, 4], [0.5, 0.0], atol=1e-7)  # once: (0.7 - 0.4) / 0.6; inside the zone
    np.testing.assert_array_equal(seen[0][:, 0], u[:, 0])


def test_the_cloning_error_of_an_idle_step_is_only_the_excess_over_the_zone() -> None:
    torch = pytest.importorskip("torch")
    from agents.rl.pretrain import clone_error

    mean = torch.tensor([[0.3, 0.3], [-0.6, 0.5], [1.4, 1.4], [0.2, -0.9]])
    target = torch.tensor([[0.0, 0.0], [0.0, 0.7], [1.0, 0.2], [0.0, -1.0]])
    idle = torch.tensor([[True, False], [True, False], [False, False], [True, False]])
    err = clone_error(mean, target, -1.0, 1.0, idle, 0.4)
    expected = [[0.0, 0.3], [0.2, -0.2], [0.0, 1.2], [0.0, 0.1]]  # idle: max(|m| - 0.4, 0); bounds: shortfall only
    np.testing.assert_allclose(err.numpy(), expected, atol=1e-6)


def test_bad_settings_are_errors_naming_the_key() -> None:
    from agents.rl.config import PpoConfig

    with pytest.raises(ConfigError, match=r"agent\.battery_dead_zone"):
        PpoConfig(battery_dead_zone=1.0)
    with pytest.raises(ConfigError, match=r"agent\.battery_dead_zone"):
        PpoConfig(battery_dead_zone=-0.1)
    with pytest.raises(ConfigError, match=r"agent\.battery_dead_zone.*memory: plan"):
        PpoConfig(battery_dead_zone=0.3, memory="plan")
    with pytest.raises(ConfigError, match=r"agent\.battery_dead_zone: .*no battery"):
        DeadZone.from_env(gym.make("vpp_gym/Joint-v1", overrides={"resources.battery": None}), 0.3)
    assert DeadZone.from_env(gym.make("vpp_gym/Arbitrage-v1"), 0.3).index == 4  # the battery's component
    names = gym.make("vpp_gym/Arbitrage-v1").unwrapped.action_names
    assert DeadZone.from_record({"component": "battery", "index": 4, "width": 0.3}, "m", names) == DeadZone(4, 0.3)
    for bad in (
        None,
        {"component": "battery", "index": "4", "width": 0.3},
        {"component": "battery", "index": True, "width": 0.3},
        {"component": "battery", "index": 3, "width": 0.3},  # not the battery's component
        {"component": "battery", "index": 99, "width": 0.3},
        {"component": "battery", "index": 4, "width": 1.5},
        {"component": "battery", "index": 4, "width": 0.3, "extra": 1},
    ):
        with pytest.raises(ConfigError, match=r"manifest\.json: 'dead_zone' .*damaged"):
            DeadZone.from_record(bad, "manifest.json", names)


@pytest.mark.rl
@pytest.mark.slow
def test_a_dead_zone_run_reloads_and_reproduces_its_validation_profit(tiny_clone_run: Any) -> None:
    pytest.importorskip("stable_baselines3")
    from agents.rl.policy import RlPolicy
    from agents.rl.train import evaluate_days

    cfg, run = tiny_clone_run("dz", battery_dead_zone=0.4)
    manifest = json.loads((run / "best" / "manifest.json").read_text())
    assert manifest["dead_zone"] == {"component": "battery", "index": 4, "width": 0.4}
    env = gym.make("vpp_gym/Arbitrage-v1", split="val")
    policy = RlPolicy.load(run, "best", env)
    assert policy.dead_zone == DeadZone(4, 0.4)
    rows = evaluate_days(policy.act, cfg, "val", cfg.eval.days)
    best = json.loads((run / "summary.json").read_text())["best_val_profit"]
    assert np.mean([r["profit"] for r in rows]) == pytest.approx(best, rel=1e-9)
    # the policy's battery is the model's through the zone
    obs, _ = env.reset(seed=5, options={"day": 0})
    x = policy.normalizer.normalize_obs(obs[None].astype(np.float32))
    raw = policy.model.predict(x, deterministic=True)[0][0]
    np.testing.assert_array_equal(policy.act(obs), DeadZone(4, 0.4).to_env(raw))
    # a damaged record is an error before anything is played; a removed one is not a model without a zone
    unit = run / "best"
    for record in (
        {"component": "battery", "index": 3, "width": 0.4},
        None,
        {"component": "battery", "index": 4, "width": 0.3},
        "removed",
    ):
        changed = dict(manifest, dead_zone=record)
        if record == "removed":
            del changed["dead_zone"]
        (unit / "manifest.json").write_text(json.dumps(changed))
        with pytest.raises(ConfigError, match=r"damaged|one of the two files was changed"):
            RlPolicy.check(run, "best")
