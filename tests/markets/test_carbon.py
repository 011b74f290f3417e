"""Carbon market: the stepped ladder and flat price by hand, the CCER cap, green certificates vs CCER
through the core, and the telescoping per-step carbon cash of a whole LowCarbon-v0 episode."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym import core
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.markets.carbon import CarbonMarketConfig, compliance_cost, net_position
from vpp_gym.ops import SCALAR
from vpp_gym.validation import from_mapping

LADDER = {"price_per_t": 60.0, "pricing": "stepped", "band_t": 2.0, "growth": 0.25}

# Stepped ladder, lam = 60, bands of 2 t priced 60 * (1 + 0.25 k): 60, 75, 90, 105 /t for k = 0..3.
LADDER_CASES = [
    (0.0, 0.0),
    (1.0, 60.0),  # 1 t in band 0
    (2.0, 120.0),  # band 0 full: 60 * 2
    (4.0, 270.0),  # 120 + 75 * 2
    (5.0, 360.0),  # 120 + 150 + 90 * 1
    (7.5, 120.0 + 150.0 + 180.0 + 105.0 * 1.5),  # = 607.5, three full bands + 1.5 t of band 3
]


@pytest.mark.parametrize(("x_t", "cost"), LADDER_CASES)
def test_stepped_ladder_by_hand_deficit_and_surplus(x_t: float, cost: float) -> None:
    rewarded = CarbonMarketConfig(**LADDER, reward_surplus=True)
    unrewarded = CarbonMarketConfig(**LADDER, reward_surplus=False)
    for cfg in (rewarded, unrewarded):
        # deficit: the ladder cost, same on both backends
        assert compliance_cost(np.array([x_t]), cfg)[0] == pytest.approx(cost, rel=1e-12, abs=1e-12)
        assert compliance_cost(x_t, cfg, SCALAR) == pytest.approx(cost, rel=1e-12, abs=1e-12)
    # surplus: minus the same ladder if rewarded, else worth nothing
    assert compliance_cost(np.array([-x_t]), rewarded)[0] == pytest.approx(-cost, rel=1e-12, abs=1e-12)
    assert compliance_cost(-x_t, rewarded, SCALAR) == pytest.approx(-cost, rel=1e-12, abs=1e-12)
    assert compliance_cost(np.array([-x_t]), unrewarded)[0] == 0.0
    assert compliance_cost(-x_t, unrewarded, SCALAR) == 0.0


def _ladder_by_bands(x: float, lam: float, band: float, growth: float) -> float:
    """Independent method: walk the bands one by one (no closed form)."""
    cost, k, left = 0.0, 0, abs(x)
    while left > 0.0:
        q = min(band, left)
        cost += lam * (1.0 + k * growth) * q
        left -= q
        k += 1
    return math.copysign(cost, x) if x != 0 else 0.0


def test_closed_form_ladder_equals_a_band_by_band_walk() -> None:
    cfg = CarbonMarketConfig(price_per_t=37.0, pricing="stepped", band_t=1.5, growth=0.4, reward_surplus=True)
    xs = np.linspace(-20.0, 20.0, 161) + 0.013  # offset: mostly off the band edges, crossing up to 14 bands
    got = compliance_cost(xs, cfg)
    want = [_ladder_by_bands(float(v), 37.0, 1.5, 0.4) for v in xs]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_flat_price() -> None:
    flat = CarbonMarketConfig(price_per_t=60.0, pricing="flat", reward_surplus=True)
    flat_no = CarbonMarketConfig(price_per_t=60.0, pricing="flat", reward_surplus=False)
    x = np.array([5.0, -5.0, 0.0])
    np.testing.assert_allclose(compliance_cost(x, flat), [300.0, -300.0, 0.0])  # 60 * 5
    np.testing.assert_allclose(compliance_cost(x, flat_no), [300.0, 0.0, 0.0])  # surplus worthless


def test_ccer_cap_binding_and_not_binding() -> None:
    cfg = CarbonMarketConfig(ccer_cap_share=0.05)
    # binding: 10 t of credits, 40 t emitted, cap 5 % * 40 = 2 t -> used 2; X = 40 - 3 (allowances) - 2 = 35
    x, used = net_position(np.array([40.0]), np.array([3.0]), np.array([10.0]), cfg)
    assert used[0] == pytest.approx(2.0) and x[0] == pytest.approx(35.0)
    # not binding: 1.5 t of credits < 2 t cap -> all used; X = 40 - 3 - 1.5 = 35.5
    x, used = net_position(40.0, 3.0, 1.5, cfg, SCALAR)
    assert used == pytest.approx(1.5) and x == pytest.approx(35.5)


# ---------------------------------------------------------------- green certificates vs CCER, through the core


def _pv_params(gec_share: float) -> core.CoreParams:
    cfg = from_mapping(
        ScenarioConfig,
        {
            "resources": {"pv": {"p_max_mw": 4.0, "curtailable": False}},
            "markets": {
                "carbon": {
                    "pricing": "flat",
                    "price_per_t": 60.0,
                    "ccer_t_per_mwh": 0.5,
                    "ccer_cap_share": 0.05,
                    "gec_share": gec_share,
                    "gec_price_per_mwh": 50.0,
                }
            },
        },
    )
    return core.CoreParams(
        cfg=cfg, price_ref_per_mwh=100.0, lo=dict.fromkeys(ALL_NAMES, 0.0), hi=dict.fromkeys(ALL_NAMES, 1.0)
    )


@pytest.mark.parametrize("gec_share", [0.0, 0.3, 1.0])
def test_green_certificate_and_ccer_never_count_the_same_mwh_twice(gec_share: float) -> None:
    p = _pv_params(gec_share)
    x = [0.0] * len(ALL_NAMES)
    x[ALL_NAMES.index("price_da_per_mwh")] = x[ALL_NAMES.index("price_rt_per_mwh")] = 100.0
    x[ALL_NAMES.index("pv_cf")] = 0.5
    # 100 t emitted earlier in the episode (CCER cap 5 t, not binding), nothing else accrued
    s0 = core.initial_state(p, None)._replace(emissions_t=100.0)
    s1, led = core.transition(p, s0, [0.0], x, SCALAR)
    # PV 4 MW * 0.5 = 2 MW for 0.25 h: R = 0.5 MWh; no load, so no emissions and no allowances this step
    r_mwh = 0.5
    gec = gec_share * r_mwh  # 0.3 -> 0.15 MWh certified
    credits = (r_mwh - gec) * 0.5  # 0.3 -> 0.35 MWh * 0.5 t = 0.175 t
    assert led["renewable.output_mwh"] == pytest.approx(r_mwh)
    assert led["green_cert.quantity_mwh"] == pytest.approx(gec)
    assert led["green_cert.cash"] == pytest.approx(gec * 50.0)  # 0.3 -> 7.5
    assert s1.ccer_t == pytest.approx(credits)
    # each renewable MWh is certified or credited, never both: GEC MWh + credited MWh = R
    assert led["green_cert.quantity_mwh"] + s1.ccer_t / 0.5 == pytest.approx(r_mwh, rel=1e-12)
    # the credits are used (cap 5 t) and lower the deficit of 100 t at the flat 60 /t: cash 60 * credits
    assert led["carbon.ccer_used_t"] == pytest.approx(credits)
    assert led["carbon.net_position_t"] == pytest.approx(100.0 - credits)
    assert led["carbon.cash"] == pytest.approx(60.0 * credits, abs=1e-9)


# ---------------------------------------------------------------- a whole episode telescopes to -C(X_T)


@pytest.mark.parametrize("band_t", [None, 0.25])
def test_episode_carbon_cash_sums_to_minus_compliance_cost_of_final_position(band_t: float | None) -> None:
    # The task's own ladder (2 t bands), and 0.25 t bands so that a random episode climbs several of them.
    env = gym.make("vpp_gym/LowCarbon-v0", overrides={} if band_t is None else {"markets.carbon.band_t": band_t})
    u = env.unwrapped
    cm = u.config.markets.carbon
    dt = u.params.dt_h
    gas_ef = u.config.resources.gas.ef_t_per_mwh
    env.reset(seed=3)
    env.action_space.seed(3)
    exo = u._episode.exo[0]
    ef = exo[:, ALL_NAMES.index("grid_ef_t_per_mwh")]
    emissions = allowances = renew = carbon_cash = 0.0
    done, t = False, 0
    while not done:
        _, _, done, _, info = env.step(env.action_space.sample())
        # Recompute each step's quantities from primitive info fields, not the carbon group itself.
        step_e = max(-info["net_mw"], 0.0) * dt * ef[t] + info["gas"]["applied_mw"] * dt * gas_ef
        assert info["carbon"]["emissions_t"] == pytest.approx(step_e, rel=1e-12, abs=1e-15)
        emissions += step_e
        allowances += info["load"]["consumption_mw"] * dt * cm.free_allowance_t_per_mwh  # no EVs in this task
        renew += (info["pv"]["applied_mw"] + info["wind"]["applied_mw"]) * dt
        carbon_cash += info["carbon"]["cash"]
        t += 1
    assert t == u.params.episode_steps
    ccer = renew * (1.0 - cm.gec_share) * cm.ccer_t_per_mwh
    used = min(ccer, cm.ccer_cap_share * emissions)
    x_final = emissions - allowances - used
    assert info["carbon"]["ccer_used_t"] == pytest.approx(used, rel=1e-9)
    assert info["carbon"]["net_position_t"] == pytest.approx(x_final, rel=1e-9, abs=1e-9)
    if band_t is not None:
        assert abs(x_final) > 4 * band_t  # the episode went past four bands of the ladder
    expected = -_ladder_by_bands(x_final, cm.price_per_t, cm.band_t, cm.growth)
    assert carbon_cash == pytest.approx(expected, rel=1e-9)
