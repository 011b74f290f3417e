"""Reserve deployment in the oracle: the simulator's priority rule (battery, gas, curtailment, shortfall).

The simulator deploys a reserve call from the battery's spare headroom, then from the gas unit (if it
is on, up to its ramp-limited maximum), then by extra load curtailment; the rest is a shortfall. The
oracle must plan deployments that rule gives, or its plan does not replay.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy, solve
from agents.rule import PriceThresholdPolicy
from vpp_gym import core
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.ops import SCALAR
from vpp_gym.validation import from_mapping

# ---------------------------------------------------------------------------------------------------
# Tiny instances (4 hourly intervals) solved by hand
# ---------------------------------------------------------------------------------------------------

RESERVE_PRICE = 300.0  # per MW per h
# the competitors declare nothing (others_ratio 0): the VPP's declaration is accepted up to the need (10 MW)
RESERVE = {"form": "invitation", "offer_max_mw": 2.0, "others_ratio": 0.0}


def _params(resources: dict[str, Any], reserve: dict[str, Any]) -> core.CoreParams:
    cfg = from_mapping(
        ScenarioConfig,
        {
            "time": {"interval_minutes": 60, "episode_hours": 4},
            "forecast": {"horizon_steps": 2},
            "resources": resources,
            "markets": {"energy": {"da_lead_steps": 1}, "reserve": {**RESERVE, **reserve}},
        },
    )
    lo, hi = dict.fromkeys(ALL_NAMES, 0.0), dict.fromkeys(ALL_NAMES, 1.0)
    return core.CoreParams(cfg=cfg, price_ref_per_mwh=100.0, lo=lo, hi=hi)


def _exo(call_share: float, **columns: Any) -> np.ndarray:
    """Prices 100 (DA = RT), reserve need 10 MW at 300 per MW h, a call of ``call_share`` at t = 1 only;
    grid intensity 0 (no carbon cost)."""
    x = np.zeros((4, len(ALL_NAMES)))
    values = {
        "price_da_per_mwh": 100.0,
        "price_rt_per_mwh": 100.0,
        "reserve_need_mw": 10.0,
        "reserve_price_per_mw": RESERVE_PRICE,
        "reserve_call_share": [0.0, call_share, 0.0, 0.0],
        **columns,
    }
    for name, value in values.items():
        x[:, ALL_NAMES.index(name)] = value
    return x


def _solve_and_replay(p: core.CoreParams, exo: np.ndarray) -> tuple[Any, float, list[dict[str, Any]]]:
    """The oracle's plan and, independently, its actions stepped through the pure core (profit, ledgers)."""
    state = core.initial_state(p, None)
    plan = solve(p, exo, state)
    ep = core.EpisodeData(start=np.zeros(1, dtype=np.int64), exo=exo[None], obs_exo=np.zeros((1, 5, 1)))
    total, ledgers = 0.0, []
    for t in range(exo.shape[0]):
        state, led = core.transition(p, state, plan.actions[t].tolist(), exo[t].tolist(), SCALAR, ep)
        total += led["profit"]
        ledgers.append(led)
    return plan, total, ledgers


# Flexible load only: base 2 MW at 100 per MWh, curtailable 0.25 * 2 = 0.5 MW at 600 per MWh (never worth it
# for energy). Outside the call the reserve is free money: 2 MW (the offer limit) * 300 in t = 0, 2, 3.
# At t = 1 a call of half the accepted A must be met by curtailment first (net cost 600 - 100 = 500 per
# MWh, up to 0.5 MW, i.e. A <= 1), and only then falls short (penalty per MWh):
#   each MW of A up to 1 earns 300 - 0.5 * 500 = 50; beyond, 300 - 0.5 * penalty
#   penalty 1000: -200 per MW beyond 1 -> A = 1; profit = -800 (load) + 300 * (3 * 2 + 1) - 0.5 * 500 = 1050
#   penalty  100: +250 per MW beyond 1 -> A = 2 (0.5 MW curtailed, 0.5 MW short)
#                 profit = -800 + 300 * 8 - 0.5 * 500 - 0.5 * 100 = 1300
# (a model without the priority rule would plan A = 2 with all of the call short and claim
#  -800 + 2400 - 1.0 * 100 = 1500, which the simulator cannot give: it curtails first)
@pytest.mark.parametrize(
    ("penalty", "accepted", "curtail", "short", "profit"),
    [
        (1000.0, 1.0, 0.5, 0.0, 1050.0),
        (100.0, 2.0, 0.5, 0.5, 1300.0),
    ],
)
def test_curtailment_is_deployed_before_any_shortfall(
    penalty: float, accepted: float, curtail: float, short: float, profit: float
) -> None:
    p = _params(
        {"flex_load": {"peak_mw": 2.0, "curtail_share": 0.25, "curtail_cost_per_mwh": 600.0}},
        {"shortfall_penalty_per_mwh": penalty},
    )
    plan, replayed, ledgers = _solve_and_replay(p, _exo(0.5, load_pu=1.0))
    assert plan.profit == pytest.approx(profit, rel=1e-9)
    assert replayed == pytest.approx(profit, rel=1e-9)
    np.testing.assert_allclose(plan.setpoints["reserve_accepted"], [2.0, accepted, 2.0, 2.0], atol=1e-7)
    np.testing.assert_allclose(plan.setpoints["curtail"], [0.0, curtail, 0.0, 0.0], atol=1e-7)
    assert ledgers[1]["reserve.delivered_mw"] == pytest.approx(curtail, abs=1e-7)
    assert ledgers[1]["reserve.called_mw"] - ledgers[1]["reserve.delivered_mw"] == pytest.approx(short, abs=1e-7)
    assert plan.actions[1, p.action_index["load_curtail"]] == pytest.approx(0.0, abs=1e-7)  # all of it deployed


# Battery 0.5 MW both ways, 0.4..3.6 MWh, starts at 2.0, lossless and wear-free: at flat prices it sells
# its 1.6 MWh surplus (+160) whenever. Gas unit 0.5..1 MW, fuel 150 per MWh (a loss of 50 per MWh at the
# price of 100), starts free, ramps fast, on at 1 MW before the episode. Call share 1 at t = 1.
# The battery deploys first: from a base of -0.5 MW (charging) up to its limit 0.5 MW, 1 MW of reserve
# with the same 0.5 MW output as discharging outright. Then the gas unit, once the battery is at its
# limit: started at t = 1 at its minimum 0.5 MW and deployed up to 1 MW: 0.5 MW more reserve, for 1 MWh
# at a loss of 50 (worth it: 0.5 * 300 = 150). Beyond 1.5 MW the call falls short at 1000 per MWh.
#   profit = 160 (battery) + 300 * (3 * 2 + 1.5) (reserve) - 50 (gas at t = 1) = 2360
def test_battery_then_gas_serve_a_call_by_hand() -> None:
    p = _params(
        {
            "battery": {
                "p_charge_max_mw": 0.5,
                "p_discharge_max_mw": 0.5,
                "eta_charge": 1.0,
                "eta_discharge": 1.0,
                "degradation_cost_per_mwh": 0.0,
            },
            "gas": {
                "p_min_mw": 0.5,
                "p_max_mw": 1.0,
                "ramp_mw_per_h": 10.0,
                "fuel_cost_per_mwh": 150.0,
                "startup_cost": 0.0,
                "ef_t_per_mwh": 0.0,
                "p_init_mw": 1.0,
            },
        },
        {"shortfall_penalty_per_mwh": 1000.0},
    )
    plan, replayed, ledgers = _solve_and_replay(p, _exo(1.0))
    assert plan.profit == pytest.approx(2360.0, rel=1e-9)
    assert replayed == pytest.approx(2360.0, rel=1e-9)
    sp = plan.setpoints
    np.testing.assert_allclose(sp["reserve_accepted"], [2.0, 1.5, 2.0, 2.0], atol=1e-7)
    assert sp["reserve_bat"][1] == pytest.approx(1.0, abs=1e-7)
    assert sp["reserve_gas"][1] == pytest.approx(0.5, abs=1e-7)
    np.testing.assert_allclose(sp["gas"], [0.0, 1.0, 0.0, 0.0], atol=1e-7)  # total output, base 0.5 at t = 1
    # the simulator's own deployment: the battery from its -0.5 MW base to 0.5 MW, the gas from 0.5 to 1 MW
    assert ledgers[1]["reserve.delivered_mw"] == pytest.approx(1.5, abs=1e-7)
    assert ledgers[1]["battery.applied_mw"] == pytest.approx(0.5, abs=1e-7)
    assert ledgers[1]["battery.requested_mw"] == pytest.approx(-0.5, abs=1e-7)
    assert ledgers[1]["gas.requested_mw"] == pytest.approx(0.5, abs=1e-6)
    assert ledgers[1]["gas.applied_mw"] == pytest.approx(1.0, abs=1e-7)


# ---------------------------------------------------------------------------------------------------
# Joint-v0 without a battery: reserve served by the gas unit and load curtailment
# ---------------------------------------------------------------------------------------------------

NO_BATTERY_CASES = {
    # the default Joint-v0 without its battery; test day 5 has calls at a 1500 per MWh real-time price,
    # where the gas unit runs anyway and serves the call
    "no_battery": ({"resources.battery": None}, 5, ("gas",)),
    # cheaper fuel (300) and curtailment (250): day 4's calls (real-time 240..440) are served by both
    "no_battery_cheap_gas_and_curtailment": (
        {
            "resources.battery": None,
            "resources.gas.fuel_cost_per_mwh": 300.0,
            "resources.flex_load.curtail_cost_per_mwh": 250.0,
        },
        4,
        ("gas", "c"),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(NO_BATTERY_CASES))
def test_reserve_from_gas_and_curtailment_replays_and_bounds_mpc_and_rule(case: str) -> None:
    overrides, day, sources = NO_BATTERY_CASES[case]
    env = gym.make("vpp_gym/Joint-v0", overrides=overrides)
    u = env.unwrapped
    oracle = OraclePolicy(env)
    obs, info = env.reset(seed=day, options={"split": "test", "day": day})
    oracle.reset()
    total, delivered, gas, curtail = 0.0, [], [], []
    done = False
    while not done:
        obs, _r, terminated, truncated, info = env.step(oracle.act(obs, info))
        total += info["profit"]
        delivered.append(info["reserve"]["delivered_mw"])
        gas.append(info["gas"]["applied_mw"])
        curtail.append(info["load_curtail"]["applied_mw"])
        done = terminated or truncated
    plan = oracle.plan
    assert plan is not None and u.params.cfg.resources.battery is None
    assert total == pytest.approx(plan.profit, rel=1e-6)
    sp = plan.setpoints
    for src in sources:  # the case exercises what it is there for
        assert sp[f"reserve_{src}"].sum() > 0.1, (src, sp[f"reserve_{src}"].sum())
    # the simulator deployed what the plan says, and the resources' totals are the plan's
    np.testing.assert_allclose(delivered, sp["reserve_gas"] + sp["reserve_c"], atol=1e-6)
    np.testing.assert_allclose(gas, sp["gas"], atol=1e-6)
    np.testing.assert_allclose(curtail, sp["curtail"], atol=1e-6)
    # nothing beats perfect foresight, here either
    opts = {"split": "test", "day": day}
    mpc = run_episode(env, MpcPolicy(env, replan_every=4, seed=day), seed=day, options=opts)["profit"]
    rule = run_episode(env, PriceThresholdPolicy(env), seed=day, options=opts)["profit"]
    assert total >= mpc - 1e-6 * abs(total), (total, mpc)
    assert total >= rule - 1e-6 * abs(total), (total, rule)
