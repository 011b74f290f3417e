"""The perfect-foresight oracle: simulator-optimizer equivalence, tiny optima solved by hand, scope, orderings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy, OracleScopeError, solve
from vpp_gym import core
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.markets.demand_response import passive_parts_mw
from vpp_gym.ops import SCALAR
from vpp_gym.validation import from_mapping

REL = 1e-6
DAYS = (0, 1, 2)  # test-split days
# Flat carbon price, no allowances, no offsets: LowCarbon-v0's gas unit keeps it a MILP (on/off binaries).
FLAT_CARBON = {"carbon": {"pricing": "flat", "free_allowance_t_per_mwh": 0.0, "ccer_t_per_mwh": 0.0}}


def _close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


# ---------------------------------------------------------------------------------------------------
# 1. Equivalence: replaying the oracle's plan through the env earns exactly the plan's objective
# ---------------------------------------------------------------------------------------------------

# Every day has a deep midday price dip (the real-time price reaches the -100 floor), so curtailing
# wind, and charging the EVs / discharging them by V2G around it, are real decisions.
DIP_DATA = {"synthetic": {"dip_prob": 1.0, "dip_size_per_mwh": 900.0, "days": 60}}
EQUIVALENCE_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "arbitrage": ("vpp_gym/Arbitrage-v0", {}),
    "lowcarbon_flat_milp": ("vpp_gym/LowCarbon-v0", {"markets": FLAT_CARBON}),
    # cheaper fuel (250 instead of 550 per MWh): the gas unit starts, ramps and runs part-loaded
    "lowcarbon_flat_gas_runs": (
        "vpp_gym/LowCarbon-v0",
        {"markets": FLAT_CARBON, "resources": {"gas": {"fuel_cost_per_mwh": 250.0}}},
    ),
    # the default stepped ladder with allowances (1.5 t per MWh served) so large that the VPP ends in
    # surplus, paid on the same ladder (in scope since the episode-end compliance model)
    "lowcarbon_stepped_surplus": ("vpp_gym/LowCarbon-v0", {"markets": {"carbon": {"free_allowance_t_per_mwh": 1.5}}}),
    # a free deviation band that grows with |position| (binaries: agents.oracle.grid.deviation_penalty)
    "arbitrage_deviation_band": (
        "vpp_gym/Arbitrage-v0",
        {
            "markets": {
                "energy": {
                    "deviation_band_share": 0.1,
                    "deviation_band_min_mw": 0.3,
                    "imbalance_penalty_per_mwh": 200.0,
                }
            }
        },
    ),
    "arbitrage_hourly_penalty": (
        "vpp_gym/Arbitrage-v0",
        {
            "time": {"interval_minutes": 60},
            "forecast": {"horizon_steps": 6},
            "markets": {"energy": {"da_lead_steps": 2, "imbalance_penalty_per_mwh": 30.0}},
        },
    ),
    "wind_fixed_ev_v2g": (
        "vpp_gym/Arbitrage-v0",
        {"data": DIP_DATA, "resources": {"wind": {"p_max_mw": 3.0, "curtailable": False}, "ev": {"v2g": True}}},
    ),
    "wind_curtailable_ev_v2g": (
        "vpp_gym/Arbitrage-v0",
        {"data": DIP_DATA, "resources": {"wind": {"p_max_mw": 3.0, "curtailable": True}, "ev": {"v2g": True}}},
    ),
}


@pytest.mark.parametrize("case", list(EQUIVALENCE_CASES))
def test_replaying_the_plan_reproduces_its_profit(case: str) -> None:
    env_id, kwargs = EQUIVALENCE_CASES[case]
    env = gym.make(env_id, **kwargs)
    p = env.unwrapped.params
    policy = OraclePolicy(env)
    plans, wind_avail, day_totals = [], [], []
    for day in DAYS:
        totals = run_episode(env, policy, seed=day, options={"split": "test", "day": day})
        plan = policy.plan
        assert plan is not None
        plans.append(plan)
        day_totals.append(totals)
        if p.cfg.resources.wind is not None:
            wind_avail.append(p.cfg.resources.wind.p_max_mw * env.unwrapped.episode.exo[0][:, core.I_WIND])
        assert totals["steps"] == p.episode_steps
        assert _close(totals["profit"], plan.profit), (case, day, totals["profit"], plan.profit)
        # the same energy flows, not only the same money: held positions and real-time deviations (MWh)
        position, net = plan.setpoints["position"], plan.setpoints["net"]
        assert totals["energy_da.quantity_mwh"] == pytest.approx(position.sum() * p.dt_h, abs=1e-6)
        assert totals["energy_rt.quantity_mwh"] == pytest.approx((net - position).sum() * p.dt_h, abs=1e-6)
    # the configs exercise what they are there for
    if case.startswith("lowcarbon"):
        assert all(plan.mip for plan in plans)  # gas on/off binaries
    if case == "lowcarbon_flat_gas_runs":
        gas = [plan.setpoints["gas"] for plan in plans]
        assert all((g > 0).any() for g in gas)
        assert any(((g > 0.6 + 1e-6) & (g < 2.0 - 1e-6)).any() for g in gas)  # between p_min and p_max
    if case == "lowcarbon_stepped_surplus":
        assert all(t["carbon.cash"] > 0 for t in day_totals)  # a surplus earns money
    if case == "arbitrage_deviation_band":  # deviations inside the band are free, and used
        q, dev = plans[0].setpoints["position"], plans[0].setpoints["net"] - plans[0].setpoints["position"]
        inside = (np.abs(dev) > 1e-6) & (np.abs(dev) <= np.maximum(0.1 * np.abs(q), 0.3) + 1e-6)
        assert all(plan.mip for plan in plans) and inside.any()
    if case == "arbitrage_hourly_penalty":  # deviations happen, so the penalty is in play
        assert any((np.abs(plan.setpoints["net"] - plan.setpoints["position"]) > 1e-6).any() for plan in plans)
    if case.startswith("wind"):
        curtailed = [avail - plan.setpoints["wind"] for avail, plan in zip(wind_avail, plans, strict=True)]
        if case == "wind_fixed_ev_v2g":
            assert all(np.allclose(c, 0.0, atol=1e-9) for c in curtailed)
        else:
            assert any((c > 1e-6).any() for c in curtailed)
        assert any((plan.setpoints["ev"] > 1e-6).any() for plan in plans)  # V2G discharge is used


def test_the_gas_shutdown_plan_replays_exactly_from_float64_actions() -> None:
    """The plan's own float64 actions, stepped directly, earn its profit (the float32 replay is below)."""
    env = gym.make("vpp_gym/LowCarbon-v0", markets=FLAT_CARBON, resources={"gas": {"fuel_cost_per_mwh": 350.0}})
    u = env.unwrapped
    env.reset(seed=0, options={"split": "test", "day": 0})
    plan = solve(u.params, u.episode.exo[0], u.state)
    gas = plan.setpoints["gas"]
    assert ((gas[:-1] > 0) & (gas[1:] == 0)).any()  # the plan shuts the unit down at least once
    total = sum(env.step(a)[4]["profit"] for a in plan.actions)
    assert _close(total, plan.profit, rel=1e-9), (total, plan.profit)


def test_replay_with_a_planned_gas_shutdown_reproduces_the_plan() -> None:
    env = gym.make("vpp_gym/LowCarbon-v0", markets=FLAT_CARBON, resources={"gas": {"fuel_cost_per_mwh": 350.0}})
    policy = OraclePolicy(env)
    totals = run_episode(env, policy, seed=0, options={"split": "test", "day": 0})
    assert policy.plan is not None
    assert _close(totals["profit"], policy.plan.profit), (totals["profit"], policy.plan.profit)


DR_OPTIONS = {
    "markets": {"demand_response": {"baseline": "similar_days", "payment": "band"}},
    "data": {"ancillary": {"dr_event_rule": "scarcity"}},
}


def test_replay_with_the_demand_response_options_reproduces_the_plan() -> None:
    """Joint-v0 with events on the scarcity days, the similar-days baseline and the payment band (binaries).

    Train day 101 and test day 11 are valley-filling days; on day 101 the baseline lies above the passive
    net injection (the response can fall below 0: its positive part needs binaries), on day 11 below it.
    """
    env = gym.make("vpp_gym/Joint-v0", **DR_OPTIONS)
    u = env.unwrapped
    policy = OraclePolicy(env)
    for split, day, above in (("train", 101, True), ("test", 11, False)):
        totals = run_episode(env, policy, seed=day, options={"split": split, "day": day})
        plan = policy.plan
        assert plan is not None and plan.mip
        assert _close(totals["profit"], plan.profit), (day, totals["profit"], plan.profit)
        exo, baseline = u.episode.exo[0], u.episode.dr_baseline_mw[0]
        need = exo[:, core.I_DR_NEED]
        gen, load = passive_parts_mw(u.params, exo)
        shift = (np.sign(need) * (gen - load - baseline))[need != 0]  # the passive dispatch's response
        assert len(shift) > 0 and ((shift < 0).all() if above else (shift > 0).all())
        assert totals["demand_response.cash"] > 0
    with pytest.raises(OracleScopeError, match="similar_days"):  # MPC is not given the baseline
        MpcPolicy(env)


# ---------------------------------------------------------------------------------------------------
# 2. Tiny instances (4 hourly intervals) whose optimum is worked out by hand
# ---------------------------------------------------------------------------------------------------


def _tiny_params(resources: dict[str, Any], energy: dict[str, Any] | None = None) -> core.CoreParams:
    cfg = from_mapping(
        ScenarioConfig,
        {
            "time": {"interval_minutes": 60, "episode_hours": 4},
            "forecast": {"horizon_steps": 2},
            "resources": resources,
            "markets": {"energy": {"da_lead_steps": 1, **(energy or {})}},
        },
    )
    lo, hi = dict.fromkeys(ALL_NAMES, 0.0), dict.fromkeys(ALL_NAMES, 1.0)
    return core.CoreParams(cfg=cfg, price_ref_per_mwh=100.0, lo=lo, hi=hi)


def _tiny_exo(**columns: Any) -> np.ndarray:
    """(4, K) exogenous values in ALL_NAMES order; unnamed columns 0 (grid intensity 0: no carbon cost)."""
    x = np.zeros((4, len(ALL_NAMES)))
    for name, value in columns.items():
        x[:, ALL_NAMES.index(name)] = value
    return x


def _solve_and_replay(p: core.CoreParams, exo: np.ndarray) -> tuple[Any, float]:
    """The oracle's plan and, independently, the profit of its actions through the pure core."""
    state = core.initial_state(p, None)
    plan = solve(p, exo, state)
    total = 0.0
    for t in range(exo.shape[0]):
        state, led = core.transition(p, state, plan.actions[t].tolist(), exo[t].tolist(), SCALAR)
        total += led["profit"]
    return plan, total


# Battery defaults: 4 MWh, 2 MW both ways, SOC 0.1..0.9 -> stored energy 0.4..3.6 MWh, starts at 2.0.
# Prices [10, 100, 10, 100] with DA = RT: a position q settles q * DA + (net - q) * RT = net * RT, so it
# cannot add value (a DA far *below* RT would: buying q on DA and selling it back at RT earns q * (RT - DA)).
# The optimum discharges 2 MW in both dear hours (marginal value 100 per MWh out vs at most
# 10 / eta^2 + 2 * degradation per MWh bought back) and ends at the lower SOC bound (no terminal value).
#   eta 1.0: out 4 MWh = bought C + initial surplus (2.0 - 0.4) -> C = 2.4 MWh
#            profit = 100 * 4 - 10 * 2.4 - deg * (4 + 2.4)              -> 376 (deg 0), 248 (deg 20)
#   eta 0.9: 4 MWh out draw 4 / 0.9 = 40/9 MWh from the cells; bought C stores 0.9 C
#            0.9 C = 40/9 - 1.6 -> C = 256/81 = 3.1605 MWh (fits: <= 16/9 at t0 + 2 at t2)
#            profit = 400 - 10 * 256/81 - deg * (4 + 256/81)             -> 29840/81 = 368.395 (deg 0),
#                                                                           18240/81 = 225.185 (deg 20)
@pytest.mark.parametrize(
    ("eta", "deg", "bought_mwh", "profit"),
    [
        (1.0, 0.0, 2.4, 376.0),
        (1.0, 20.0, 2.4, 248.0),
        (0.9, 0.0, 256 / 81, 29840 / 81),
        (0.9, 20.0, 256 / 81, 18240 / 81),
    ],
)
def test_battery_arbitrage_optimum_by_hand(eta: float, deg: float, bought_mwh: float, profit: float) -> None:
    p = _tiny_params({"battery": {"eta_charge": eta, "eta_discharge": eta, "degradation_cost_per_mwh": deg}})
    prices = [10.0, 100.0, 10.0, 100.0]
    plan, replayed = _solve_and_replay(p, _tiny_exo(price_da_per_mwh=prices, price_rt_per_mwh=prices))
    assert plan.profit == pytest.approx(profit, rel=1e-9)
    assert replayed == pytest.approx(profit, rel=1e-9)
    battery = plan.setpoints["battery"]
    np.testing.assert_allclose(battery[[1, 3]], [2.0, 2.0], atol=1e-7)  # full discharge in the dear hours
    assert -battery[[0, 2]].sum() == pytest.approx(bought_mwh, rel=1e-7)  # charge only in the cheap hours
    assert (battery[[0, 2]] <= 1e-9).all()
    assert plan.setpoints["e"][-1] == pytest.approx(0.4, abs=1e-7)  # ends at soc_min * e_max
    np.testing.assert_allclose(plan.actions[[1, 3], p.action_index["battery"]], [1.0, 1.0], atol=1e-7)


# Flexible load only: base 3 MW (peak 3, load_pu 1), shift up to 0.2 * 3 = 0.6 MW at 10 per MWh moved,
# curtail up to 0.3 MW at 600 per MWh; 2-h windows {0, 1}, {2, 3}, the backlog forced back in t = 1, 3.
#   prices [100, 0, 100, 0]: defer 0.6 MW in each dear hour, repaid in the free hour after it;
#     curtailing saves 100 but costs 600: never.
#     profit = -2.4 * 100 - 3.6 * 0 - 10 * (0.6 + 0.6)  (per window) = -252; two windows: -504
#     (doing nothing: -600)
#   prices [1000, 0, 100, 0]: as above, plus curtail 0.3 MW at t = 0 (saves 1000, costs 600 per MWh)
#     profit = -(3 - 0.6 - 0.3) * 1000 - 600 * 0.3 - 12 - 252 = -2100 - 180 - 12 - 252 = -2544
@pytest.mark.parametrize(
    ("prices", "curtail", "profit"),
    [
        ([100.0, 0.0, 100.0, 0.0], [0.0, 0.0, 0.0, 0.0], -504.0),
        ([1000.0, 0.0, 100.0, 0.0], [0.3, 0.0, 0.0, 0.0], -2544.0),
    ],
)
def test_load_shifting_optimum_by_hand(prices: list[float], curtail: list[float], profit: float) -> None:
    p = _tiny_params({"flex_load": {"shift_window_h": 2.0}})
    plan, replayed = _solve_and_replay(p, _tiny_exo(price_da_per_mwh=prices, price_rt_per_mwh=prices, load_pu=1.0))
    assert plan.profit == pytest.approx(profit, rel=1e-9)
    assert replayed == pytest.approx(profit, rel=1e-9)
    np.testing.assert_allclose(plan.setpoints["shift"], [0.6, -0.6, 0.6, -0.6], atol=1e-7)
    np.testing.assert_allclose(plan.setpoints["curtail"], curtail, atol=1e-7)
    assert plan.actions[0, p.action_index["load_shift"]] == pytest.approx(1.0)  # the whole shiftable share


# PV only (4 MW, cf 0.5 at t = 1 -> 2 MW, known to the oracle); DA 50 > RT 40 at t = 1, DA = RT = 40
# elsewhere; position limit 6 MW; the position for t = 1 is committed at t = 0 (lead 1).
# Interval t = 1 settles q * 50 + (2 - q) * 40 - pen * |2 - q| = q * (50 - 40) + 2 * 40 - pen * |2 - q|:
#   pen  0: q = 6 (the limit):  6 * 10 + 80           = 140
#   pen  5: q = 6 (10 > 5):     6 * 10 + 80 - 5 * 4   = 120
#   pen 15: q = 2 = PV (each MW beyond PV earns 10 and pays 15): 2 * 10 + 80 = 100
@pytest.mark.parametrize(("penalty", "position", "profit"), [(0.0, 6.0, 140.0), (5.0, 6.0, 120.0), (15.0, 2.0, 100.0)])
def test_day_ahead_position_optimum_by_hand(penalty: float, position: float, profit: float) -> None:
    p = _tiny_params({"pv": {"p_max_mw": 4.0}}, {"imbalance_penalty_per_mwh": penalty})
    exo = _tiny_exo(price_da_per_mwh=[40.0, 50.0, 40.0, 40.0], price_rt_per_mwh=40.0, pv_cf=[0.0, 0.5, 0.0, 0.0])
    plan, replayed = _solve_and_replay(p, exo)
    assert plan.profit == pytest.approx(profit, rel=1e-9)
    assert replayed == pytest.approx(profit, rel=1e-9)
    assert plan.setpoints["position"][1] == pytest.approx(position, abs=1e-7)
    assert plan.setpoints["pv"][1] == pytest.approx(2.0, abs=1e-9)  # never curtailed at a positive price
    assert plan.actions[0, p.action_index["da_position"]] == pytest.approx(position / 6.0, abs=1e-7)


# ---------------------------------------------------------------------------------------------------
# 3. Scope: what the oracle does not model raises OracleScopeError naming it
# ---------------------------------------------------------------------------------------------------

# Out of the oracle's scope: imperfect regulation tracking (a response delay). Price-maker clearing
# is modelled (tests/agents/test_oracle_price_maker.py, which also checks that MPC refuses it).
OUT_OF_SCOPE = {
    "regulation_delay": ("vpp_gym/Regulation-v0", {"markets": {"regulation": {"delay_substeps": 2}}}, "regulation"),
    "regulation_providers": (
        "vpp_gym/Regulation-v1",
        {"overrides": {"markets.regulation.providers": ["battery", "flex_load"]}},
        "providers",
    ),
}


@pytest.mark.parametrize("case", list(OUT_OF_SCOPE))
def test_out_of_scope_raises_naming_the_feature(case: str) -> None:
    env_id, kwargs, word = OUT_OF_SCOPE[case]
    env = gym.make(env_id, **kwargs)
    u = env.unwrapped
    with pytest.raises(OracleScopeError, match=word) as err:
        OraclePolicy(env)
    assert "oracle does not model" in str(err.value)
    with pytest.raises(OracleScopeError, match=word):
        MpcPolicy(env)
    u.reset(seed=0)
    with pytest.raises(OracleScopeError, match=word):  # solve() checks too, before building anything
        solve(u.params, u.episode.exo[0], u.state)


def _present_features(p: core.CoreParams) -> tuple[set[str], set[str]]:
    """Words an OracleScopeError may use for features this scenario has, and product names it does not have."""
    mk = p.cfg.markets
    c = mk.carbon
    present = set(p.open_products)
    forms = [mk.energy] + [p.product(n) for n in p.open_products]
    if any(f.form == "transaction" for f in forms):
        present.add("transaction")
    if any(f.form == "transaction" and f.competitors.n_offers > 0 for f in forms):
        present.add("competitor")
    if c.pricing == "stepped":
        present.add("stepped")
    if c.free_allowance_t_per_mwh > 0:
        present.add("allowance")
    if c.ccer_t_per_mwh > 0:
        present.add("ccer")
    if not c.reward_surplus:
        present.add("surplus")
    absent = {n for n in core.PRODUCTS if n not in p.open_products}
    return present, absent


# The task defaults: either out of scope, with an error naming a feature the scenario really has (and
# no product it does not have), or in scope, and then the replay reproduces the plan exactly. Joint-v0
# runs a 6-hour episode to keep the MILP small; its features are the same.
TASK_DEFAULTS = {
    "regulation": ("vpp_gym/Regulation-v0", {}),
    "joint_6h": ("vpp_gym/Joint-v0", {"time": {"episode_hours": 6}}),
    "lowcarbon_default": ("vpp_gym/LowCarbon-v0", {}),
}


@pytest.mark.parametrize("case", list(TASK_DEFAULTS))
def test_task_default_is_modelled_exactly_or_named_out_of_scope(case: str) -> None:
    env_id, kwargs = TASK_DEFAULTS[case]
    env = gym.make(env_id, **kwargs)
    try:
        policy = OraclePolicy(env)
    except OracleScopeError as err:
        msg = str(err).lower()
        present, absent = _present_features(env.unwrapped.params)
        assert any(word in msg for word in present), (msg, present)
        assert not any(word in msg for word in absent), (msg, absent)
        return
    totals = run_episode(env, policy, seed=0, options={"split": "test", "day": 0})
    assert policy.plan is not None
    assert _close(totals["profit"], policy.plan.profit), (case, totals["profit"], policy.plan.profit)


# ---------------------------------------------------------------------------------------------------
# 5. Orderings: nothing beats perfect foresight
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("task", ["arbitrage", "lowcarbon_flat"])  # conftest.ORDERING_TASKS
def test_oracle_beats_every_other_policy(task: str, day: int, episode_profit: Callable[[str, str, int], float]) -> None:
    oracle = episode_profit(task, "oracle", day)
    for other in ("rule", "mpc", "random"):
        value = episode_profit(task, other, day)
        assert oracle >= value - REL * abs(oracle), (task, day, other, oracle, value)
