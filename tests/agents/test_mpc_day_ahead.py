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
from agents.oracle import OraclePolicy, OracleScopeError
from agents.oracle.demand_response import DR_BASELINE_COLUMN
from vpp_gym.core import ALL_NAMES, I_DA, I_DR_NEED, I_DR_P

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


V1_DR: dict[str, Any] = {  # the demand-response rules proposed as the v1 defaults
    **DA,
    "data.ancillary.dr_event_rule": "scarcity",
    "markets.demand_response.baseline": "similar_days",
    "markets.demand_response.payment": "band",
}


def test_mpc_reads_the_announced_events_and_baseline_only() -> None:
    """Two days from test day 10 (its day 1, test day 11, has a valley-filling event), announcement at 09:00.
    At the bid step for day 0 (the gate, 10:00 of day -1) MPC plans with day 0's events and baseline exactly and
    none of day 1's (0); at the dispatch step of 08:45 still none of day 1's; at that of 09:00 all of them."""
    env = gym.make("vpp_gym/Joint-v0", overrides={**V1_DR, "time.episode_hours": 48})
    u = env.unwrapped
    u.reset(seed=0, options={"split": "test", "day": 10})
    sch = u.params.schedule
    mpc = MpcPolicy(env, seed=0)
    mpc.reset()
    exo, baseline = u.episode.exo[0], u.episode.dr_baseline_mw[0]
    assert not exo[:96, I_DR_NEED].any() and exo[96:, I_DR_NEED].min() == -2.0
    targets = np.arange(192)
    k_dispatch = {int(sch.interval[k]): k for k in np.flatnonzero(~sch.bid[:-1])}
    for k, seen in ((0, 96), (k_dispatch[35], 96), (k_dispatch[36], 192)):
        out = mpc.announced_events(k, targets, np.full((192, len(ALL_NAMES)), 7.0))
        assert out.shape == (192, len(ALL_NAMES) + 1)  # the baseline: DR_BASELINE_COLUMN
        for col in (I_DR_NEED, I_DR_P):
            np.testing.assert_array_equal(out[:seen, col], exo[:seen, col])
            np.testing.assert_array_equal(out[seen:, col], 0.0)
        np.testing.assert_array_equal(out[:seen, DR_BASELINE_COLUMN], baseline[:seen])
        np.testing.assert_array_equal(out[seen:, DR_BASELINE_COLUMN], 0.0)
        np.testing.assert_array_equal(out[:, I_DA], 7.0)  # the other columns are left as forecast
    plan_rows = mpc.day_ahead_forecast(0, 0, 192)
    assert plan_rows.shape == (192, len(ALL_NAMES) + 1) and not plan_rows[96:, I_DR_NEED].any()


def test_mpc_still_refuses_the_similar_days_baseline_on_the_hour_ahead_timeline() -> None:
    hour_ahead = {k: v for k, v in V1_DR.items() if k != "markets.energy.timeline"}
    with pytest.raises(OracleScopeError, match="announced with the D-1 invitation"):
        MpcPolicy(gym.make("vpp_gym/Joint-v0", overrides=hour_ahead))


@pytest.mark.slow
def test_mpc_earns_demand_response_with_the_announced_baseline_and_the_oracle_beats_it() -> None:
    """Joint on the day-ahead timeline with the scarcity events, the similar-days baseline and the payment band,
    on train day 135 (peak shaving 18:00-20:00, 2 MW at 2000 CNY/MWh). MPC (re-planning every 48 dispatch
    steps) bids for the event it sees announced and is paid for its response; the oracle earns at least as much.
    Measured: MPC profit 13550.7, DR cash 5333.3 (the band's cap, as the oracle's); oracle profit 22176.5."""
    env = gym.make("vpp_gym/Joint-v0", overrides=V1_DR)
    options = {"split": "train", "day": 135}
    mpc = run_episode(env, MpcPolicy(env, replan_every=48, seed=0), seed=0, options=options)
    need = env.unwrapped.episode.exo[0, :, I_DR_NEED]
    assert need.max() == 2.0  # an event day
    oracle = run_episode(env, OraclePolicy(env), seed=0, options=options)
    assert mpc["demand_response.cash"] > 0.0 and oracle["demand_response.cash"] > 0.0
    assert oracle["profit"] >= mpc["profit"] - REL * abs(oracle["profit"]), (oracle["profit"], mpc["profit"])


def test_lookahead_cuts_the_dispatch_forecasts_to_the_given_intervals() -> None:
    """``lookahead_steps``: the error model's forecasts for the first intervals only, the rest seasonal-naive;
    a look-ahead past the day's end is MPC itself, bit for bit."""
    env = gym.make("vpp_gym/Arbitrage-v1")
    full = run_episode(env, MpcPolicy(env, replan_every=4, seed=3), seed=1, options={"day": 2})
    past_end = run_episode(env, MpcPolicy(env, replan_every=4, seed=3, lookahead_steps=500), seed=1, options={"day": 2})
    assert past_end == full
    mpc = MpcPolicy(env, replan_every=4, seed=3, lookahead_steps=8)
    env.reset(seed=1, options={"day": 2})
    p = env.unwrapped.params
    k = int(np.flatnonzero(~p.schedule.bid)[0]) + 10  # a dispatch step, interval 10
    out = mpc.day_ahead_forecast(k, 10, 40)
    naive = MpcPolicy(env, replan_every=4, seed=3, lookahead_steps=1).day_ahead_forecast(k, 10, 40)
    np.testing.assert_array_equal(out[8:], naive[8:])  # beyond the look-ahead: the same seasonal-naive rows
    assert not np.array_equal(out[1:8], naive[1:8])  # within it: the error model's forecasts
    with pytest.raises(ValueError, match="lookahead_steps"):
        MpcPolicy(gym.make("vpp_gym/Arbitrage-v0"), lookahead_steps=8)


def test_mpc_obs_plans_on_the_observations_forecasts() -> None:
    """``observed_forecasts``: the leads the observation carries are its values (in the series' units); the
    registered ``mpc_obs`` looks no further than the observation at dispatch, and plays a whole day."""
    env = gym.make("vpp_gym/Arbitrage-v1")
    mpc = registry.make_policy("mpc_obs", env, seed=3)
    assert isinstance(mpc, MpcPolicy) and mpc.lookahead_steps == env.unwrapped.params.horizon
    obs, info = env.reset(seed=1, options={"day": 2})
    p = env.unwrapped.params
    names = list(env.unwrapped.observation_names)
    mpc.reset()
    for _ in range(int(np.flatnonzero(~p.schedule.bid)[0]) + 5):  # into the dispatch steps
        obs, _r, _te, _tr, info = env.step(mpc.act(obs, info))
    mpc.act(obs, info)
    t = int(env.unwrapped.live()[1].t)
    out = mpc.forecast(t, 12)
    for col in ("price_rt_per_mwh", "pv_cf", "load_pu"):
        want = [obs[names.index(f"{col}[t+{h}]")] * p.obs_scale(col) for h in range(p.horizon)]
        np.testing.assert_allclose(out[: p.horizon, ALL_NAMES.index(col)], want, rtol=1e-6)
    tot = run_episode(env, registry.make_policy("mpc_obs", env, seed=3), seed=1, options={"day": 2})
    passive = run_episode(env, registry.make_policy("passive", env), seed=1, options={"day": 2})
    assert tot["profit"] > passive["profit"]
