"""MPC on the day-ahead timeline: between the oracle and the passive reference on every task, bids on the
gate's information only, bids what it plans, re-plans at each bid block and every ``replan_every`` dispatch steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents import registry
from agents.base import run_episode
from agents.mpc import MpcPolicy

Perturb = Callable[[Any, dict[str, int], int], Any]
"""The ``perturb`` fixture of the root conftest.py (:func:`conftest.perturbed_series`)."""

REL = 1e-6
DA: dict[str, Any] = {"markets.energy.timeline": "day_ahead"}
DAY0 = {"split": "test", "day": 0}
TASKS = ("Arbitrage", "LowCarbon", "Regulation", "Joint")


@pytest.mark.parametrize("task", [pytest.param(t, marks=pytest.mark.slow) if t == "Joint" else t for t in TASKS])
def test_oracle_beats_mpc_beats_passive_on_the_default_test_day(task: str) -> None:
    """Measured on test day 0 (oracle / MPC / passive): Arbitrage -7748.5 / -12458.8 / -13410.6, LowCarbon
    7439.2 / 2727.2 / 1897.5, Regulation -2159.5 / -6893.1 / -14272.3, Joint 10743.5 / 5872.9 / 1235.9."""
    env = gym.make(f"vpp_gym/{task}-v0", overrides=DA)
    profit = {}
    for name in ("oracle", "mpc", "passive"):
        policy = registry.make_policy(name, env, seed=0)  # MPC: the registry's default re-planning (every 4)
        profit[name] = run_episode(env, policy, seed=0, options=DAY0)["profit"]
    assert profit["oracle"] >= profit["mpc"] - REL * abs(profit["oracle"]), profit
    assert profit["mpc"] >= profit["passive"], profit


@pytest.mark.parametrize("day", [0, 1])
def test_bids_use_only_what_is_known_at_the_gate(day: int, perturb: Perturb) -> None:
    """Two copies of a two-day scenario differ in everything realised at or after the gate of ``day`` (and in the
    day-ahead prices published after it); both envs are stepped with the first MPC's actions. The second
    MPC (same seed) bids exactly as the first at every bid step of ``day``, though its dispatch plans
    before the gate already differ (they read the nowcasts, realised values plus errors)."""
    envs = [gym.make("vpp_gym/Arbitrage-v0", overrides={**DA, "time.episode_hours": 48}).unwrapped for _ in range(2)]
    p = envs[0].params
    sch = p.schedule
    options = {"split": "train", "day": 3}
    envs[0].reset(seed=5, options=options)
    start = int(envs[0].episode.start[0])
    n, g = sch.day_steps, sch.gate_step
    gate = start + (day - 1) * n + g  # the gate of `day`: g intervals into the day before it
    envs[1].series = perturb(envs[0].series, {"price_da_per_mwh": start + day * n}, gate)
    obs = [env.reset(seed=5, options=options)[0] for env in envs]
    mpcs = [MpcPolicy(env, replan_every=4, seed=0) for env in envs]
    for m in mpcs:
        m.reset()
    bid_steps = np.flatnonzero(sch.bid[:-1] & (sch.interval[:-1] // n == day))
    compared, differed = 0, 0
    for k in range(int(bid_steps[-1]) + 1):
        acts = [m.act(o, {}) for m, o in zip(mpcs, obs, strict=True)]
        if k in bid_steps:
            np.testing.assert_array_equal(acts[0], acts[1], err_msg=f"bid step {k}")
            compared += 1
        else:
            differed += not np.array_equal(acts[0], acts[1])
        obs = [env.step(acts[0])[0] for env in envs]
    assert compared == n
    if day == 1:
        assert differed > 0  # the perturbation is visible to the dispatch plans: the test can fail


def test_mpc_bids_its_plan_and_replans_on_schedule() -> None:
    env = gym.make("vpp_gym/Regulation-v0", overrides=DA)
    u = env.unwrapped
    p = u.params
    mpc = MpcPolicy(env, replan_every=4, seed=0)
    mpc.reset()
    obs, info = env.reset(seed=0, options=DAY0)
    for _ in range(p.schedule.day_steps):  # the bid block of day 0
        obs, *_, info = env.step(mpc.act(obs, info))
    plan = mpc._plan  # the plan of the bid block: its awards are what the bid steps obtained
    assert plan is not None and mpc.solves == 1
    np.testing.assert_allclose(np.asarray(u.state.da_mw)[:96], plan.setpoints["da"], atol=1e-5)
    ring = np.asarray(u.state.aw_mw).reshape(len(p.open_products), -1)[:, :96]
    for j, prod in enumerate(p.open_products):
        np.testing.assert_allclose(ring[j], plan.setpoints[f"{prod}_accepted"], atol=1e-5)
    done = False
    while not done:
        obs, _r, term, trunc, info = env.step(mpc.act(obs, info))
        done = term or trunc
    assert mpc.solves == 1 + 96 // 4 - 1  # the bid block, then every 4 dispatch steps (t = 4, 8, ..., 92)
