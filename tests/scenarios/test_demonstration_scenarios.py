"""Presets after the demonstration VPPs (configs/scenarios: shanxi_spot, zhejiang_aggregator, wuhan_dr, ningbo_green).

* each loads on the task its header names and runs a full episode of random actions in which every
  step's profit is the signed sum of the ledger's profit terms and the reward is ``reward.scale`` x it;
* each sets the v1 market and carbon rules explicitly (so it is the same on the v0 and v1 ids);
* the scale its header states matches the config, by a sum written out here from the resource fields;
* the VPP is a price-taker: no competitor stacks, and its largest offer is below the stated share of the
  market need;
* the perfect-foresight oracle solves one day of each to proven optimality in well under a minute.
"""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import flatten_info, run_episode
from agents.oracle import OraclePolicy
from vpp_gym import ledger
from vpp_gym.config import ScenarioConfig, read_yaml

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"
TASK = {
    "shanxi_spot": "vpp_gym/Arbitrage-v0",
    "zhejiang_aggregator": "vpp_gym/Joint-v0",
    "wuhan_dr": "vpp_gym/Joint-v0",
    "ningbo_green": "vpp_gym/LowCarbon-v0",
}
OPENS_DR = {"zhejiang_aggregator", "wuhan_dr"}
# Provincial spot needs the headers state for the energy market (MW; only used in the transaction form,
# so not a key of the price-taker presets): Shanxi and Hubei 20 GW, Zhejiang 10 GW (assumptions, see the headers).
SPOT_NEED_MW = {
    "shanxi_spot": 20_000.0,
    "zhejiang_aggregator": 10_000.0,
    "wuhan_dr": 20_000.0,
    "ningbo_green": 10_000.0,
}
# The largest share of the need one offer may take (the headers' price-taker statements).
ENERGY_SHARE = {"shanxi_spot": 0.02, "zhejiang_aggregator": 0.01, "wuhan_dr": 0.07, "ningbo_green": 0.01}
DR_SHARE = {"zhejiang_aggregator": 0.05, "wuhan_dr": 0.25}


def _path(name: str) -> str:
    return str(SCENARIOS / f"{name}.yaml")


def _config(name: str) -> ScenarioConfig:
    return gym.make(TASK[name], config=_path(name)).unwrapped.config


@pytest.mark.parametrize("name", list(TASK))
def test_a_random_episode_keeps_the_ledger_identity(name: str) -> None:
    env = gym.make(TASK[name], config=_path(name))
    scale = env.unwrapped.config.reward.scale
    env.reset(seed=3, options={"split": "test", "day": 0})
    env.action_space.seed(3)
    steps, total, done = 0, 0.0, False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        s = flatten_info(info)
        parts = [s[e.key] * e.sign for e in ledger.profit_terms() if e.key in s]
        assert all(np.isfinite(parts)), (name, s["t"])
        assert s["profit"] == pytest.approx(sum(parts), rel=1e-12, abs=1e-6), (name, s["t"])
        assert reward == pytest.approx(scale * s["profit"], rel=1e-12, abs=1e-9), (name, s["t"])
        total += s["profit"]
        steps += 1
        done = terminated or truncated
    assert steps == env.unwrapped.params.steps
    assert np.isfinite(total)


@pytest.mark.parametrize("name", list(TASK))
def test_the_v1_rules_are_set_in_the_file(name: str) -> None:
    raw = read_yaml(_path(name))
    energy, carbon = raw["markets"]["energy"], raw["markets"]["carbon"]
    assert energy["timeline"] == "day_ahead" and energy["gate_hour"] == 10.0 and energy["curve_segments"] == 4
    assert energy["intraday"] == {**energy["intraday"], "gate_spacing_steps": 4, "lead_steps": 4}
    assert energy["terminal_value"] == "mean_da" and energy["imbalance_penalty_per_mwh"] == 0.0
    assert "contract" in energy  # stated, null or not
    assert carbon["regime"] == "pilot_ets" and carbon["certificates"] == "china_2023"
    assert carbon["price_per_t"] == 75.0 and carbon["gec_price_per_mwh"] is None and carbon["gec_share"] == 0.0
    assert raw["markets"]["peak_regulation"] is None
    assert raw["data"]["ancillary"]["dr_event_rule"] == "scarcity"
    if name in OPENS_DR:
        dr = raw["markets"]["demand_response"]
        assert dr["baseline"] == "similar_days" and dr["payment"] == "band"
    cfg = _config(name)
    assert cfg.markets.energy.timeline == "day_ahead" and cfg.markets.carbon.regime == "pilot_ets"


def test_shanxi_scale_and_contract() -> None:
    r, m = _config("shanxi_spot").resources, _config("shanxi_spot").markets
    assert r.flex_load is not None and r.ev is not None
    aggregated = r.flex_load.peak_mw + r.ev.p_charge_max_mw
    adjustable = r.flex_load.peak_mw * (r.flex_load.curtail_share + r.flex_load.shift_share) + r.ev.p_charge_max_mw
    assert aggregated == pytest.approx(309.9, abs=5.0)  # State Grid EV Service (Shanxi) VPP, 2024
    assert adjustable == pytest.approx(28.4, abs=2.0)
    assert r.pv is None and r.battery is None and r.gas is None
    # an MLT buy contract (96-point curve in spot mode) for 90 % of the mean load, at the flat-period base price
    c = m.energy.contract
    assert c is not None and c.shape == "flat" and c.price_per_mwh == 332.0
    mean_load = _config("shanxi_spot").data.synthetic.load_mean_pu * r.flex_load.peak_mw
    assert -c.quantity_mw / mean_load == pytest.approx(0.9, abs=0.05)
    assert m.energy.price_floor_per_mwh == 0.0  # no negative prices in Shanxi


def test_zhejiang_adjustable_capacity_is_34_mw() -> None:
    r = _config("zhejiang_aggregator").resources
    assert r.battery is not None and r.ev is not None and r.flex_load is not None
    adjustable = (
        r.battery.p_discharge_max_mw
        + r.ev.p_charge_max_mw
        + r.flex_load.peak_mw * (r.flex_load.curtail_share + r.flex_load.shift_share)
    )
    assert adjustable == pytest.approx(34.0, abs=1.0)
    assert r.gas is None and r.wind is None
    dr = _config("zhejiang_aggregator").markets.demand_response
    assert dr is not None and dr.offer_max_mw <= adjustable


def test_wuhan_reduces_hundreds_of_mw() -> None:
    r = _config("wuhan_dr").resources
    assert r.battery is not None and r.ev is not None and r.flex_load is not None
    reduction = (
        r.flex_load.peak_mw * (r.flex_load.curtail_share + r.flex_load.shift_share)
        + r.ev.p_charge_max_mw
        + r.battery.p_discharge_max_mw
    )
    assert 250.0 <= reduction <= 557.0  # hundreds of MW, at most the Wuhan platform's 557 MW
    dr = _config("wuhan_dr").markets.demand_response
    assert dr is not None and 100.0 <= dr.offer_max_mw <= reduction


def test_ningbo_is_all_green_and_matched() -> None:
    cfg = _config("ningbo_green")
    r = cfg.resources
    assert r.gas is None and r.pv is not None and r.wind is not None and r.flex_load is not None
    assert r.pv.p_max_mw + r.wind.p_max_mw == pytest.approx(45.0)
    assert r.pv.p_max_mw + r.wind.p_max_mw >= 2.0 * r.flex_load.peak_mw
    assert cfg.markets.carbon.unmatched_import_penalty_per_mwh > 0.0  # 24 h green matching
    assert cfg.markets.carbon.gec_share == 0.0  # keeps the green attribute of what it supplies


@pytest.mark.parametrize("name", list(TASK))
def test_the_vpp_is_a_price_taker(name: str) -> None:
    cfg = _config(name)
    m = cfg.markets
    assert m.energy.form == "price_taker" and m.energy.competitors.n_offers == 0
    assert m.energy.position_max_mw < ENERGY_SHARE[name] * SPOT_NEED_MW[name]
    for product in (m.regulation, m.reserve, m.peak_regulation):
        assert product is None
    if name in OPENS_DR:
        assert m.demand_response is not None and m.demand_response.form == "invitation"
        assert m.demand_response.offer_max_mw < DR_SHARE[name] * cfg.data.ancillary.dr_need_mw
    else:
        assert m.demand_response is None


@pytest.mark.parametrize("name", list(TASK))
def test_the_oracle_solves_one_day_and_its_replay_earns_its_objective(name: str) -> None:
    env = gym.make(TASK[name], config=_path(name))
    policy = OraclePolicy(env, time_limit_s=60.0)
    start = time.perf_counter()
    totals = run_episode(env, policy, seed=0, options={"split": "test", "day": 0})
    assert time.perf_counter() - start < 60.0
    assert policy.plan is not None and policy.plan.optimal
    assert totals["steps"] == env.unwrapped.params.steps
    assert totals["profit"] == pytest.approx(policy.plan.profit, rel=1e-6, abs=1e-3)
