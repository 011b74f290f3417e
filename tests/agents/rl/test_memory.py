"""The plan memory (:mod:`agents.rl.memory`): its rows by hand, the teachers' notes, and a trained run that reloads."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the tasks)
from agents.rl.demo import teacher_episodes
from agents.rl.memory import MEMORY_NAMES, MemorySpec, PlanMemory, augment_episodes
from vpp_gym.validation import ConfigError

# a two-interval day: bid steps for intervals 0 and 1, then their dispatch steps
SPEC = MemorySpec(
    steps=4,
    intervals=2,
    bid=(True, True, False, False),
    interval=(0, 1, 0, 1),
    dt_h=0.25,
    e_max_mwh=4.0,
    e_min_mwh=0.4,
    e_high_mwh=3.6,
    eta_charge=0.95,
    eta_discharge=0.95,
    p_charge_max_mw=2.0,
    p_discharge_max_mw=2.0,
    n_obs=4,
    i_progress=0,
    i_soc=1,
    i_price=2,
    i_battery=0,
    i_price_leads=(2, 3),  # the forecasts of the interval and the next one
    windows=((1, 2),),  # the mean bid-time forecast of the next interval
)


def _obs(k: int, soc: float, price: float, next_price: float = 0.0) -> np.ndarray:
    return np.array([[k / SPEC.steps, soc, price, next_price]], dtype=np.float64)


def test_rows_worked_by_hand() -> None:
    mem = PlanMemory(SPEC)
    # bid step of interval 0: energy observed 0.5 x 4 = 2 MWh; note +0.5 = discharge 1 MW for 0.25 h.
    # The window (the next interval) shows the forecast of interval 1 seen at this bid step: 0.7
    np.testing.assert_allclose(mem.observe(_obs(0, 0.5, 1.2, 0.7))[0, 4:], [0.5, 0.0, 1.2, 0.7])
    mem.record(np.array([[0.5]]))
    e1 = 2.0 - 1.0 / 0.95 * 0.25  # 1.736842 MWh
    # bid step of interval 1: the planned energy after interval 0; the mean of the two lead-0 prices;
    # no interval after 1: the window is empty (0)
    np.testing.assert_allclose(mem.observe(_obs(1, 0.5, 0.8, 9.0))[0, 4:], [e1 / 4.0, 0.0, 1.0, 0.0])
    mem.record(np.array([[-1.0]]))  # charge 2 MW
    e2 = e1 + 2.0 * 0.95 * 0.25
    # dispatch: each interval shows its note and its planned energy; the bid steps' mean price stays,
    # and interval 0's window is interval 1's latest bid-time forecast (0.8, seen at its own bid step)
    np.testing.assert_allclose(mem.observe(_obs(2, 0.47, 3.0, 4.0))[0, 4:], [0.5, 0.5, 1.0, 0.8])
    mem.record(np.array([[0.9]]))  # a dispatch action is not a note
    np.testing.assert_allclose(mem.observe(_obs(3, 0.41, 2.0))[0, 4:], [e1 / 4.0, -1.0, 1.0, 0.0])
    mem.record(np.array([[0.0]]))
    np.testing.assert_allclose(mem.terminal(_obs(3, 0.4, 2.0))[0, 4:], [e2 / 4.0, 0.0, 1.0, 0.0])
    # a new episode (step 0) starts from its own observed energy, with no notes
    np.testing.assert_allclose(mem.observe(_obs(0, 0.2, 5.0))[0, 4:], [0.2, 0.0, 5.0, 0.0])
    mem.record(np.array([[1.0]]))  # 2 MW from 0.8 MWh would go below e_min: the plan stops there
    assert mem.observe(_obs(1, 0.2, 5.0))[0, 4] == pytest.approx(0.4 / 4.0)


def test_batch_rows_are_independent_and_the_offline_rows_are_the_streamed_ones() -> None:
    rng = np.random.default_rng(3)
    E = 5
    obs = np.zeros((E, SPEC.steps + 1, SPEC.n_obs))
    obs[:, :, 0] = np.minimum(np.arange(SPEC.steps + 1), SPEC.steps - 1) / SPEC.steps
    obs[:, :, 1:] = rng.uniform(0.1, 0.9, size=(E, SPEC.steps + 1, 3))
    actions = rng.uniform(-1.0, 1.0, size=(E, SPEC.steps, 1))
    offline = augment_episodes(SPEC, obs, actions)
    for e in range(E):  # each episode alone, step by step
        mem = PlanMemory(SPEC)
        for k in range(SPEC.steps):
            np.testing.assert_allclose(mem.observe(obs[e, k][None])[0], offline[e, k])
            mem.record(actions[e, k][None])
        np.testing.assert_allclose(mem.terminal(obs[e, -1][None])[0], offline[e, -1])


def test_notes_leave_the_teachers_play_unchanged() -> None:
    """The env ignores a bid step's battery component: the teachers' notes change nothing else."""
    for env_id, teacher in (("vpp_gym/Joint-v1", "rule"), ("vpp_gym/Arbitrage-v1", "mpc")):
        envs = [gym.make(env_id, split="train") for _ in range(2)]
        spec = MemorySpec.from_env(envs[0])
        plain = teacher_episodes(envs, teacher, [1, 2], [3, 9])
        noted = teacher_episodes(envs, teacher, [1, 2], [3, 9], notes=True)
        np.testing.assert_array_equal(plain[0], noted[0])  # observations
        np.testing.assert_array_equal(plain[2], noted[2])  # rewards
        bid = np.asarray(spec.bid)
        others = np.ones(plain[1].shape[-1], dtype=bool)
        others[spec.i_battery] = False
        np.testing.assert_array_equal(plain[1][:, :, others], noted[1][:, :, others])
        np.testing.assert_array_equal(plain[1][:, ~bid], noted[1][:, ~bid])
        assert np.abs(noted[1][:, bid, spec.i_battery]).max() > 0.1, f"{teacher} wrote no notes"
        # a note is what the teacher plans: on average it is close to what it then dispatches
        dispatch = [int(np.flatnonzero(~bid & (np.asarray(spec.interval) == i))[0]) for i in spec.interval[:96]]
        gap = np.abs(noted[1][:, :96, spec.i_battery] - noted[1][:, dispatch, spec.i_battery]).mean()
        assert gap < 0.25, (teacher, gap)


def test_memory_needs_a_day_ahead_task_with_a_battery() -> None:
    with pytest.raises(ConfigError, match=r"agent\.memory: plan: .*hour-ahead"):
        MemorySpec.from_env(gym.make("vpp_gym/Arbitrage-v0"))
    with pytest.raises(ConfigError, match=r"agent\.memory: plan: .*no battery"):
        MemorySpec.from_env(gym.make("vpp_gym/Joint-v1", overrides={"resources.battery": None}))


def test_bad_memory_settings_are_errors_naming_the_key() -> None:
    from agents.rl.config import PpoConfig

    with pytest.raises(ConfigError, match=r"agent\.bc_policy"):
        PpoConfig(memory="plan", bc_episodes=4, bc_policy="oracle")
    with pytest.raises(ConfigError, match=r"agent\.dagger_rounds"):
        PpoConfig(memory="plan", bc_episodes=4, dagger_rounds=1)


@pytest.mark.rl
@pytest.mark.slow
def test_a_memory_run_reloads_and_reproduces_its_validation_profit(tiny_clone_run: Any) -> None:
    pytest.importorskip("stable_baselines3")
    from agents.rl.policy import RlPolicy
    from agents.rl.train import evaluate_days

    cfg, run = tiny_clone_run("mem", memory="plan")
    manifest = json.loads((run / "best" / "manifest.json").read_text())
    env = gym.make("vpp_gym/Arbitrage-v1", split="val")
    spec = MemorySpec.from_env(env)
    assert manifest["memory"] == spec.to_record()
    assert manifest["spaces"]["observation_shape"] == [spec.n_obs + len(MEMORY_NAMES) + len(spec.windows)]
    policy = RlPolicy.load(run, "best", env)
    assert policy.memory is not None
    rows = evaluate_days(policy.act, cfg, "val", cfg.eval.days)
    best = json.loads((run / "summary.json").read_text())["best_val_profit"]
    assert np.mean([r["profit"] for r in rows]) == pytest.approx(best, rel=1e-9)
    # the memory's rows are the policy's own: a single observation and its batch give one action
    obs, _ = env.reset(seed=5, options={"day": 0})
    policy.reset()
    single = policy.act(obs)
    policy.reset()
    np.testing.assert_array_equal(single, policy.act(obs[None])[0])
    assert dataclasses.asdict(policy.memory.spec) == dataclasses.asdict(spec)
    # another battery, the same observation rows: the memory would plan with the wrong sizes
    bigger = gym.make("vpp_gym/Arbitrage-v1", split="val", overrides={"resources.battery.e_max_mwh": 8.0})
    with pytest.raises(ConfigError, match="e_max_mwh"):
        RlPolicy.load(run, "best", bigger)
