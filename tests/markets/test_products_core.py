"""Capacity products and the energy transaction form, one interval at a time through ``core.transition``.

Every case is a hand-built batch (NumPy backend); each row is also run alone on the scalar backend
(``vpp_gym.ops.SCALAR``, what the single env uses) and must give exactly the same ledger and state.

Defaults used below (see the resource and product configs): battery 4 MWh, 2 / 2 MW, eta 0.95 / 0.95,
SOC 0.1 .. 0.9 (0.4 .. 3.6 MWh); flexible load 3 MW peak, curtail share 0.1, shift share 0.2, 4 h
windows; gas 0.6 .. 2 MW, ramp 4 MW/h (1 MW per 15-min interval); dt = 0.25 h; reserve and regulation
shortfall penalty 500 /MWh, demand response 1000 /MWh.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vpp_gym import core
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.ops import SCALAR
from vpp_gym.validation import from_mapping

DT = 0.25
AGC = {"agc": {"substeps": 4}, "max_delay_substeps": 0}  # 4 sub-steps; D = 0: delay component is 1


def _params(resources: dict[str, Any], markets: dict[str, Any]) -> core.CoreParams:
    cfg = from_mapping(ScenarioConfig, {"resources": resources, "markets": markets})
    return core.CoreParams(
        cfg=cfg, price_ref_per_mwh=100.0, lo=dict.fromkeys(ALL_NAMES, 0.0), hi=dict.fromkeys(ALL_NAMES, 1.0)
    )


def _actions(p: core.CoreParams, rows: list[dict[str, float]]) -> np.ndarray:
    """``(B, A)`` actions from named components (others 0)."""
    a = np.zeros((len(rows), len(p.action_names)))
    for i, row in enumerate(rows):
        for name, v in row.items():
            a[i, p.action_index[name]] = v
    return a


def _exo(rows: list[dict[str, float]]) -> np.ndarray:
    """``(B, K)`` realised values in ``ALL_NAMES`` order (others 0)."""
    x = np.zeros((len(rows), len(ALL_NAMES)))
    for i, row in enumerate(rows):
        for name, v in row.items():
            x[i, ALL_NAMES.index(name)] = v
    return x


def _episode(
    batch: int,
    steps: int = 1,
    agc: np.ndarray | None = None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    dr_baseline_mw: np.ndarray | None = None,
) -> core.EpisodeData:
    return core.EpisodeData(
        start=np.zeros(batch, dtype=np.int64),
        exo=np.zeros((batch, steps, len(ALL_NAMES))),
        obs_exo=np.zeros((batch, steps + 1, 1), dtype=np.float32),
        agc=agc,
        stacks=dict(stacks or {}),
        dr_baseline_mw=dr_baseline_mw,
    )


def _row_episode(ep: core.EpisodeData, i: int) -> core.EpisodeData:
    return core.EpisodeData(
        start=ep.start[i : i + 1],
        exo=ep.exo[i : i + 1],
        obs_exo=ep.obs_exo[i : i + 1],
        agc=None if ep.agc is None else ep.agc[i : i + 1],
        stacks={k: (m[i : i + 1], pr[i : i + 1]) for k, (m, pr) in ep.stacks.items()},
        dr_baseline_mw=None if ep.dr_baseline_mw is None else ep.dr_baseline_mw[i : i + 1],
    )


def _step(
    p: core.CoreParams, s: core.State, a: np.ndarray, x: np.ndarray, ep: core.EpisodeData
) -> tuple[core.State, dict[str, np.ndarray]]:
    """Batched transition, checked row by row against the scalar backend (exact equality)."""
    s2, led = core.transition(p, s, a.T, x.T, np, ep)
    for i in range(len(a)):
        s2_i, led_i = core.transition(p, s.row(i), a[i].tolist(), x[i].tolist(), SCALAR, _row_episode(ep, i))
        assert led_i.keys() == led.keys()
        for k, v in led_i.items():
            assert v == np.broadcast_to(led[k], (len(a),))[i], (k, i, v, led[k])
        assert s2_i == s2.row(i), i
    return s2, led


# ---------------------------------------------------------------- regulation (invitation form)

SIG = np.array([0.5, -0.5, 1.0, 0.0])  # AGC signal of the interval; the previous value (agc_last) is 0
C_REG = 2.0 * 8.0 / (2.0 + 0.8 * 8.0)  # declared 2 MW, need 8, others 0.8 * 8 = 6.4: 2 * min(1, 8 / 8.4) = 40/21


def test_regulation_invitation_tracking_score_payment_and_soc() -> None:
    p = _params({"battery": {}}, {"regulation": {**AGC, "offer_max_mw": 2.0, "others_ratio": 0.8}})
    # row 0: SOC 0.5 (2 MWh): headroom [-2, 2] MW > C; row 1: 0.5 MWh, just above the 0.4 MWh floor:
    # upward headroom (0.5 - 0.4) * 0.95 / 0.25 = 0.38 MW < C
    s = core.initial_state(p, 2)._replace(e_bat_mwh=np.array([2.0, 0.5]))
    a = _actions(p, [{"regulation_mw": 1.0}] * 2)  # battery base setpoint 0
    x = _exo([{"reg_need_mw": 8.0, "reg_cap_price_per_mw": 30.0, "reg_mileage_price_per_mw": 2.0}] * 2)
    s2, led = _step(p, s, a, x, _episode(2, agc=np.tile(SIG, (2, 1, 1))))

    np.testing.assert_allclose(led["regulation.offer_mw"], [2.0, 2.0])
    np.testing.assert_allclose(led["regulation.cleared_mw"], [C_REG, C_REG], rtol=1e-14)
    # row 1's award is capped at its upward headroom (0.5 - 0.4) * 0.95 / 0.25 = 0.38 MW < C
    up = (0.5 - 0.4) * 0.95 / DT
    np.testing.assert_allclose(led["regulation.capability_mw"], [2.0, up], rtol=1e-14)
    np.testing.assert_allclose(led["regulation.accepted_mw"], [C_REG, up], rtol=1e-14)
    # mileage |0.5 - 0| + |-0.5 - 0.5| + |1 + 0.5| + |0 - 1| = 4 per MW
    np.testing.assert_allclose(led["regulation.mileage_mw"], [4.0 * C_REG, 4.0 * up], rtol=1e-14)
    pay_full = C_REG * 30.0 * DT + 4.0 * C_REG * 2.0  # = 15.5 C = 620/21 = 29.52...

    # row 0: ample headroom: exact tracking, score 1, full payment
    assert led["regulation.score"][0] == 1.0
    assert led["regulation.cash"][0] == pytest.approx(pay_full, rel=1e-12)
    assert pay_full == pytest.approx(620.0 / 21.0, rel=1e-12)
    # SOC: sub-steps of 0.25 / 4 h at C * [0.5, -0.5, 1, 0]: discharge 1.5 C / 0.95, charge 0.5 C * 0.95
    assert s2.e_bat_mwh[0] == pytest.approx(2.0 - 0.0625 * (1.5 * C_REG / 0.95 - 0.5 * C_REG * 0.95), rel=1e-12)
    assert led["battery.applied_mw"][0] == pytest.approx(C_REG / 4.0, rel=1e-12)  # mean of the response

    # row 1: 0.38 MW follows exactly (score 1) and is paid in full: 0.38 * (30 * 0.25 + 4 * 2) = 5.89
    assert led["regulation.score"][1] == 1.0
    assert led["regulation.cash"][1] == pytest.approx(5.89, rel=1e-12)
    # SOC: 0.38 * [0.5, -0.5, 1, 0]: discharge 0.57 MW-substeps / 0.95, charge 0.19 * 0.95
    assert s2.e_bat_mwh[1] == pytest.approx(0.5 - 0.0625 * (0.57 / 0.95 - 0.19 * 0.95), rel=1e-12)
    assert s2.e_bat_mwh[1] >= 0.4  # the floor holds at every sub-step: the award fits the headroom
    np.testing.assert_array_equal(s2.agc_last, [0.0, 0.0])
    np.testing.assert_allclose(s2.reg_score, led["regulation.score"])


# ---------------------------------------------------------------- reserve deployment order


def _reserve_case() -> tuple[core.State, dict[str, np.ndarray]]:
    p = _params(
        {"battery": {}, "flex_load": {}, "gas": {}},
        {"regulation": {**AGC, "offer_max_mw": 2.0}, "reserve": {"offer_max_mw": 2.0}},
    )
    s = core.initial_state(p, 3)._replace(e_bat_mwh=np.full(3, 2.0), gas_p_mw=np.array([1.0, 1.0, 0.0]))
    # battery base 0.25 * 2 = 0.5 MW; regulation declared 1 MW (need 100, others 80: accepted 1);
    # reserve declared 2 MW (accepted 2); gas rows 0-1: (0.8 + 1) / 2 * 2 = 1.8 MW, row 2: off
    a = _actions(
        p,
        [{"battery": 0.25, "regulation_mw": 0.5, "reserve_mw": 1.0, "gas": 0.8}] * 2
        + [{"battery": 0.25, "regulation_mw": 0.5, "reserve_mw": 1.0, "gas": -1.0}],
    )
    base = {
        "load_pu": 1.0,
        "price_rt_per_mwh": 100.0,
        "reg_need_mw": 100.0,
        "reg_cap_price_per_mw": 30.0,
        "reserve_need_mw": 100.0,
        "reserve_price_per_mw": 20.0,
    }
    x = _exo(
        [{**base, "reserve_call_share": 0.5}, {**base, "reserve_call_share": 1.0}, {**base, "reserve_call_share": 0.5}]
    )
    return _step(p, s, a, x, _episode(3, agc=np.zeros((3, 1, 4))))  # flat zero AGC signal


def test_reserve_deployed_from_battery_spare_headroom_then_gas_then_curtailment() -> None:
    s2, led = _reserve_case()
    np.testing.assert_allclose(led["regulation.accepted_mw"], [1.0] * 3)
    np.testing.assert_allclose(led["reserve.accepted_mw"], [2.0] * 3)
    np.testing.assert_allclose(led["reserve.called_mw"], [1.0, 2.0, 1.0])
    # battery: spare headroom 2 - 0.5 - 1 (kept for regulation) = 0.5 MW -> 0.5 + 0.5 = 1 MW in every row
    np.testing.assert_allclose(led["battery.applied_mw"], [1.0] * 3)
    # gas on at 1.8, ramp limit 1 + 1 = 2: 0.2 more (rows 0, 1); off: nothing (row 2)
    np.testing.assert_allclose(led["gas.applied_mw"], [2.0, 2.0, 0.0])
    # curtailment: up to 0.1 * 3 MW = 0.3 MW
    np.testing.assert_allclose(led["load_curtail.applied_mw"], [0.3, 0.3, 0.3])
    # delivered: 0.5 + 0.2 + 0.3 = 1 (row 0, all of the call; row 1, call 2); 0.5 + 0.3 = 0.8 (row 2)
    np.testing.assert_allclose(led["reserve.delivered_mw"], [1.0, 1.0, 0.8])
    # shortfall: 0, 1 MW * 0.25 h * 500 = 125, 0.2 * 0.25 * 500 = 25
    np.testing.assert_allclose(led["penalty.reserve_shortfall"], [0.0, 125.0, 25.0], atol=1e-9)
    np.testing.assert_allclose(led["reserve.cash"], [10.0] * 3)  # 2 MW * 0.25 h * 20
    # zero signal: no regulation energy, score 1, capacity payment only: 1 * 30 * 0.25
    np.testing.assert_allclose(led["regulation.score"], [1.0] * 3)
    np.testing.assert_allclose(led["regulation.cash"], [7.5] * 3)
    # the deployed energy is settled in real time: net = 1 + gas - (3 - 0.3) = 0.3, 0.3, -1.7 MW
    np.testing.assert_allclose(led["net_mw"], [0.3, 0.3, -1.7], atol=1e-12)
    np.testing.assert_allclose(led["energy_rt.cash"], [7.5, 7.5, -42.5], atol=1e-9)
    np.testing.assert_allclose(s2.e_bat_mwh, [2.0 - 0.25 / 0.95] * 3, rtol=1e-12)


def test_product_cash_and_shortfall_penalties_reach_the_profit() -> None:
    _, led = _reserve_case()
    # profit = energy_rt + regulation 7.5 + reserve 10 - degradation 1 MW * 0.25 * 20 = 5
    #          - curtailment 0.3 * 0.25 * 600 = 45 - fuel gas * 0.25 * 550 - reserve shortfall
    #          + carbon: -(gas * 0.25 h * 0.42 t/MWh) * 60 /t (grid intensity 0: imports emit nothing)
    # row 0 (gas 2 MW: fuel 275, carbon -0.21 t * 60 = -12.6): 7.5 + 7.5 + 10 - 5 - 45 - 275 - 12.6 = -312.6
    # row 1: the same - shortfall 125 = -437.6; row 2 (gas off): -42.5 + 7.5 + 10 - 5 - 45 - 25 = -100
    # (the code gives -330.1, -330.1, -92.5: regulation, reserve and the shortfall are missing)
    np.testing.assert_allclose(led["carbon.cash"], [-12.6, -12.6, 0.0], rtol=1e-12)
    np.testing.assert_allclose(led["profit"], [-312.6, -437.6, -100.0], rtol=1e-12)


# ---------------------------------------------------------------- demand response against the passive baseline


def test_demand_response_peak_and_valley_against_the_passive_baseline() -> None:
    p = _params(
        {"pv": {"p_max_mw": 4.0}, "battery": {}, "flex_load": {}},
        {"demand_response": {"offer_max_mw": 2.0, "others_ratio": 0.0}},
    )
    s = core.initial_state(p, 3)._replace(e_bat_mwh=np.full(3, 2.0))
    peak_actions = {
        "battery": 1.0,
        "pv_curtail": 0.5,
        "load_curtail": 1.0,
        "load_shift": 0.5,
        "demand_response_mw": 1.0,
    }
    valley_actions = {"battery": -1.0, "pv_curtail": 1.0, "load_shift": -1.0, "demand_response_mw": 1.0}
    a = _actions(p, [peak_actions, valley_actions, peak_actions])
    base = {"pv_cf": 0.5, "load_pu": 1.0, "dr_price_per_mwh": 500.0}
    x = _exo([{**base, "dr_need_mw": 2.0}, {**base, "dr_need_mw": -2.0}, {**base, "dr_need_mw": -2.0}])
    _, led = _step(p, s, a, x, _episode(3))

    # accepted: declared 2 = |need| 2, no competitors: 2 MW in each row
    np.testing.assert_allclose(led["demand_response.accepted_mw"], [2.0] * 3)
    # passive baseline: PV available 4 * 0.5 = 2 MW - base load 3 MW = -1 MW
    # row 0 (peak): PV 1 (half curtailed) + battery 2 - load (3 - 0.3 curtailed - 0.3 deferred) = 0.6 MW
    #   delivered 0.6 - (-1) = 1.6; paid min(1.6, 2) * 0.25 * 500 = 200; shortfall 0.4 * 0.25 * 1000 = 100
    # row 1 (valley): PV 0 - battery 2 - load (3 + 0.6 made up) = -5.6 MW; delivered -(-5.6 + 1) = 4.6 >= 2:
    #   paid 2 * 0.25 * 500 = 250, no shortfall
    # row 2 (valley event, peak actions): +1.6 MW is the wrong direction: delivered 0, shortfall 2 * 0.25 * 1000
    np.testing.assert_allclose(led["net_mw"], [0.6, -5.6, 0.6], atol=1e-12)
    np.testing.assert_allclose(led["demand_response.delivered_mw"], [1.6, 4.6, 0.0], atol=1e-12)
    np.testing.assert_allclose(led["demand_response.cash"], [200.0, 250.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(led["penalty.dr_shortfall"], [100.0, 0.0, 500.0], atol=1e-9)


def test_demand_response_band_pays_50_100_and_130_percent_of_the_award_against_the_similar_days_baseline() -> None:
    p = _params(
        {"pv": {"p_max_mw": 4.0}, "battery": {}, "flex_load": {}},
        {
            "demand_response": {
                "offer_max_mw": 2.0,
                "others_ratio": 0.0,
                "baseline": "similar_days",
                "payment": "band",  # 80 % .. 120 %
            }
        },
    )
    s = core.initial_state(p, 3)._replace(e_bat_mwh=np.full(3, 2.0))
    a = _actions(
        p, [{"battery": 1.0, "pv_curtail": 0.5, "load_curtail": 1.0, "load_shift": 0.5, "demand_response_mw": 1.0}] * 3
    )
    x = _exo([{"pv_cf": 0.5, "load_pu": 1.0, "dr_price_per_mwh": 500.0, "dr_need_mw": 2.0}] * 3)
    # the same dispatch as above: net 0.6 MW; the episodes' baselines (net injection, MW) -0.4, -1.4, -2.0 make the
    # response 1.0, 2.0 and 2.6 MW: 50 %, 100 % and 130 % of the 2 MW accepted (the passive baseline, -1 MW, is unused)
    baseline = np.array([[-0.4], [-1.4], [-2.0]])
    _, led = _step(p, s, a, x, _episode(3, dr_baseline_mw=baseline))
    np.testing.assert_allclose(led["demand_response.accepted_mw"], [2.0] * 3)
    np.testing.assert_allclose(led["demand_response.delivered_mw"], [1.0, 2.0, 2.6], atol=1e-12)
    # 50 %: below the band (1.6 MW): unpaid; the gap to the band, 0.6 MW, pays 0.6 * 0.25 * 1000 = 150
    # 100 %: paid 2 * 0.25 * 500 = 250; 130 %: paid the band's top, 2.4 * 0.25 * 500 = 300
    np.testing.assert_allclose(led["demand_response.cash"], [0.0, 250.0, 300.0], atol=1e-9)
    np.testing.assert_allclose(led["penalty.dr_shortfall"], [150.0, 0.0, 0.0], atol=1e-9)


# ---------------------------------------------------------------- transaction form


def test_reserve_transaction_form_vpp_offer_sets_the_marginal_price() -> None:
    p = _params({"battery": {}}, {"reserve": {"form": "transaction", "offer_max_mw": 2.0, "price_cap": 40.0}})
    s = core.initial_state(p, 3)
    # offer 2 MW at (0.5 + 1) / 2 * 40 = 30 against competitors 4 MW @ 10, 4 MW @ 20, 5 MW @ 40
    a = _actions(p, [{"reserve_mw": 1.0, "reserve_price": 0.5}] * 3)
    stack = (np.tile([4.0, 4.0, 5.0], (3, 1, 1)), np.tile([10.0, 20.0, 40.0], (3, 1, 1)))
    x = _exo([{"reserve_need_mw": n, "reserve_price_per_mw": 25.0} for n in (9.0, 10.0, 12.0)])
    _, led = _step(p, s, a, x, _episode(3, stacks={"reserve": stack}))
    np.testing.assert_allclose(led["reserve.offer_price"], [30.0] * 3)
    # need 9: 8 MW of competitors ahead, the VPP is marginal with 1 MW and sets the price 30 (not the series 25)
    # need 10: all 2 MW at 30; need 12: the VPP's 2 MW and 2 of the 40-offer: price 40
    np.testing.assert_allclose(led["reserve.accepted_mw"], [1.0, 2.0, 2.0])
    np.testing.assert_allclose(led["reserve.price"], [30.0, 30.0, 40.0])
    np.testing.assert_allclose(led["reserve.cash"], [7.5, 15.0, 20.0])  # accepted * 0.25 h * price


def test_energy_transaction_offer_above_the_day_ahead_price_is_rejected_without_a_stack() -> None:
    p = _params(
        {"pv": {"p_max_mw": 4.0, "curtailable": False}},
        {
            "energy": {
                "form": "transaction",
                "da_lead_steps": 4,
                "position_max_mw": 6.0,
                "price_cap_per_mwh": 1500.0,
                "need_mw": 20.0,
            }
        },
    )
    s = core.initial_state(p, 2)
    # commit at t = 0 for t = 4: 2 MW (a = 1/3 of 6 MW) at (a + 1) / 2 * 1500 = 300 (row 0) and 150 (row 1)
    a0 = _actions(p, [{"da_position": 1.0 / 3.0, "da_price": -0.6}, {"da_position": 1.0 / 3.0, "da_price": -0.8}])
    x = _exo([{"price_da_per_mwh": 200.0, "price_rt_per_mwh": 100.0, "pv_cf": 0.5}] * 2)  # PV 2 MW
    ep = _episode(2, steps=5)
    s, _ = _step(p, s, a0, x, ep)
    np.testing.assert_allclose(s.offer_prices[-1], [300.0, 150.0])
    for _ in range(3):
        s, led = _step(p, s, _actions(p, [{}, {}]), x, ep)
        np.testing.assert_allclose(led["energy_da.quantity_mwh"], [0.0, 0.0])  # nothing was committed for t = 1..3
    _, led = _step(p, s, _actions(p, [{}, {}]), x, ep)
    # row 0: 300 > day-ahead 200, price-taker: rejected; the whole 2 MW goes to real time: 0.5 MWh * 100 = 50
    # row 1: 150 <= 200: accepted 2 MW at the day-ahead price: 0.5 MWh * 200 = 100; deviation 0
    np.testing.assert_allclose(led["energy_da.quantity_mwh"], [0.0, 0.5])
    np.testing.assert_allclose(led["energy_da.price_per_mwh"], [200.0, 200.0])
    np.testing.assert_allclose(led["energy_da.cash"], [0.0, 100.0])
    np.testing.assert_allclose(led["energy_rt.quantity_mwh"], [0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(led["energy_rt.cash"], [50.0, 0.0], atol=1e-9)


def test_regulation_award_is_capped_at_the_battery_headroom_and_only_the_battery_follows() -> None:
    # Battery 2 MW, base setpoint 0.9 * 2 = 1.8 MW at SOC 2 MWh: headroom up 0.2 MW, down 1.8 + 2 = 3.8 MW,
    # so the capability (symmetric headroom) is 0.2 MW. Cleared C = 1 MW (need 10, no competitors) is cut
    # to 0.2 MW. A constant signal 0.5 requests 0.1 MW at every sub-step: followed exactly, score 1.
    # The flexible load (curtailable 0.2 MW) does not regulate.
    p = _params({"battery": {}, "flex_load": {}}, {"regulation": {**AGC, "offer_max_mw": 1.0, "others_ratio": 0.0}})
    s = core.initial_state(p, 1)._replace(e_bat_mwh=np.array([2.0]))
    a = _actions(p, [{"regulation_mw": 1.0, "battery": 0.9}])
    x = _exo(
        [{"reg_need_mw": 10.0, "reg_cap_price_per_mw": 20.0, "reg_mileage_price_per_mw": 4.0, "load_pu": 2.0 / 3.0}]
    )
    s2, led = _step(p, s, a, x, _episode(1, agc=np.full((1, 1, 4), 0.5)))
    assert led["regulation.cleared_mw"][0] == 1.0
    assert led["regulation.capability_mw"][0] == pytest.approx(0.2)
    assert led["regulation.accepted_mw"][0] == pytest.approx(0.2)
    # battery at 1.8 + 0.2 * 0.5 = 1.9 MW all interval: SOC 2 - 0.25 * 1.9 / 0.95 = 1.5
    assert led["battery.applied_mw"][0] == pytest.approx(1.9)
    assert s2.e_bat_mwh[0] == pytest.approx(1.5, rel=1e-12)
    assert led["load_curtail.applied_mw"][0] == 0.0
    assert led["load.consumption_mw"][0] == pytest.approx(2.0)
    assert led["regulation.score"][0] == pytest.approx(1.0, rel=1e-12)
    # mileage |0.5 - 0| (from agc_last = 0) * 0.2 MW = 0.1 MW; pay (0.2 * 20 * 0.25 + 0.1 * 4) * 1 = 1.4
    assert led["regulation.cash"][0] == pytest.approx(1.4, rel=1e-12)
    assert led["net_mw"][0] == pytest.approx(1.9 - 2.0)
    # the regulation energy (0.1 MW) is instructed, not an imbalance
    assert led["penalty.imbalance"][0] == pytest.approx(
        abs(led["energy_rt.quantity_mwh"][0] / 0.25 - 0.1) * 0.25 * p.cfg.markets.energy.imbalance_penalty_per_mwh
    )
