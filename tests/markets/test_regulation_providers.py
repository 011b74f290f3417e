"""Regulation from the battery, the EV fleet and the flexible load (``markets.regulation.providers``).

One interval through ``core.transition`` with numbers worked out by hand: the capped award, its split
(fastest first, pro rata), each provider's response with its own delay and ramp, the K components of the
aggregate response, and the energy each response moves (battery SOC, the fleet's need, the load's
backlog) with its costs. Each row is also run alone on the scalar backend (what the single env uses)
and must give exactly the same ledger and state.

Defaults used (resource configs): battery 4 MWh, 2 / 2 MW, eta 0.95 / 0.95, SOC 0.1 .. 0.9, wear 20 /MWh; EV fleet
6 MWh, 2 MW charging, 1 MW V2G, eta 0.92 / 0.92, V2G wear 30 /MWh; flexible load 3 MW peak, shift share
0.2, 4 h windows, shift cost 10 /MWh; dt = 0.25 h, 24 h episodes.
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
SIG = np.array([1.0, 1.0, -1.0, 0.5])  # the interval's AGC signal (4 sub-steps); the previous value is 0
REG = {
    "agc": {"substeps": 4},
    "max_delay_substeps": 0,
    "offer_max_mw": 2.0,
    "others_ratio": 0.0,  # nobody else declares: the declaration is accepted whole
    "scoring": "k_value",
    "k_value": {"allowed_error_share": 0.5},
    "providers": ["flex_load", "ev", "battery"],  # any order: the split goes fastest first
    "flex_load": {"delay_substeps": 1, "ramp_share_per_substep": 0.5},
}
RESOURCES: dict[str, Any] = {"battery": {}, "ev": {"v2g": True}, "flex_load": {}}


def _params(markets: dict[str, Any], resources: dict[str, Any] = RESOURCES) -> core.CoreParams:
    cfg = from_mapping(ScenarioConfig, {"resources": resources, "markets": markets})
    return core.CoreParams(
        cfg=cfg, price_ref_per_mwh=100.0, lo=dict.fromkeys(ALL_NAMES, 0.0), hi=dict.fromkeys(ALL_NAMES, 1.0)
    )


def _batch(p: core.CoreParams, rows: list[dict[str, float]], names: list[str]) -> np.ndarray:
    out = np.zeros((len(rows), len(names)))
    for i, row in enumerate(rows):
        for name, v in row.items():
            out[i, names.index(name)] = v
    return out


def _episode(batch: int, agc: np.ndarray) -> core.EpisodeData:
    return core.EpisodeData(
        start=np.zeros(batch, dtype=np.int64),
        exo=np.zeros((batch, 1, len(ALL_NAMES))),
        obs_exo=np.zeros((batch, 2, 1), dtype=np.float32),
        agc=agc,
        stacks={},
    )


def _step(p: core.CoreParams, s: core.State, a: np.ndarray, x: np.ndarray) -> tuple[core.State, dict[str, Any]]:
    """Batched transition, checked row by row against the scalar backend (exact equality)."""
    agc = np.tile(SIG, (len(a), 16, 1))  # every interval of the first window has the same signal
    s2, led = core.transition(p, s, a.T, x.T, np, _episode(len(a), agc))
    for i in range(len(a)):
        s2_i, led_i = core.transition(p, s.row(i), a[i].tolist(), x[i].tolist(), SCALAR, _episode(1, agc[i : i + 1]))
        assert led_i.keys() == led.keys()
        for k, v in led_i.items():
            assert v == np.broadcast_to(led[k], (len(a),))[i], (k, i, v, led[k])
        assert s2_i == s2.row(i), i
    return s2, led


def _case(markets: dict[str, Any]) -> tuple[core.CoreParams, core.State, dict[str, Any]]:
    """Three rows: a declaration of 1.2 MW, one of 2 MW (above the capability), 1.2 MW at a window's end."""
    p = _params(markets)
    # battery 0.5 MWh (0.1 above its floor): up (0.5 - 0.4) 0.95 / 0.25 = 0.38 MW, down 2 MW around 0
    # EV: half the fleet plugged (1 MW charging, 0.5 MW V2G), need 1 MWh; setpoint -0.1 x 2 = -0.2 MW:
    #     up 0.5 + 0.2 = 0.7, down 1 - 0.2 = 0.8
    # load: 3 MW, shift band +-0.6 MW around no shift; at t = 15 (the 4 h window's end) no headroom
    s = core.initial_state(p, 3)._replace(
        e_bat_mwh=np.full(3, 0.5), ev_need_mwh=np.full(3, 1.0), t=np.array([0, 0, 15])
    )
    rows = [{"regulation_mw": 0.6, "ev": -0.1}, {"regulation_mw": 1.0, "ev": -0.1}, {"regulation_mw": 0.6, "ev": -0.1}]
    a = _batch(p, rows, list(p.action_names))
    exo = {
        "reg_need_mw": 10.0,
        "reg_cap_price_per_mw": 30.0,
        "reg_mileage_price_per_mw": 2.0,
        "ev_plugged_share": 0.5,
        "load_pu": 1.0,
    }
    x = _batch(p, [exo] * 3, list(ALL_NAMES))
    s2, led = _step(p, s, a, x)
    return p, s2, led


def test_award_split_responses_k_value_and_energy_by_hand() -> None:
    p, s2, led = _case({"regulation": REG})
    assert [spec.name for spec, _ in p.reg_providers] == ["battery", "ev", "flex_load"]  # fastest first
    np.testing.assert_allclose(led["regulation.cleared_mw"], [1.2, 2.0, 1.2], rtol=1e-14)
    # capability: 0.38 + min(0.7, 0.8) + 0.6 = 1.68; at the window's end the load holds none: 1.08
    np.testing.assert_allclose(led["regulation.capability_mw"], [1.68, 1.68, 1.08], rtol=1e-14)
    np.testing.assert_allclose(led["regulation.accepted_mw"], [1.2, 1.68, 1.08], rtol=1e-14)
    # fastest first: the battery 0.38, the fleet min(1.2 - 0.38, 0.7) = 0.7, the load the rest
    np.testing.assert_allclose(led["regulation.battery_mw"], [0.38, 0.38, 0.38], rtol=1e-14)
    np.testing.assert_allclose(led["regulation.ev_mw"], [0.7, 0.7, 0.7], rtol=1e-14)
    np.testing.assert_allclose(led["regulation.flex_load_mw"], [0.12, 0.6, 0.0], atol=1e-14)

    # row 0, each response (SIG = [1, 1, -1, 0.5]): battery 0.38 s, fleet 0.7 s (no delay or ramp limit);
    # the load 0.12 s delayed a sub-step [0, 0.12, 0.12, -0.12], ramped 0.5 x 0.12 = 0.06 per sub-step from 0:
    # [0, 0.06, 0.12, 0.06]. Means: battery 0.38 x 1.5 / 4 = 0.1425, fleet 0.7 x 1.5 / 4 = 0.2625, load 0.06.
    np.testing.assert_allclose(led["regulation.battery_response_mw"][0], 0.1425, rtol=1e-14)
    np.testing.assert_allclose(led["regulation.ev_response_mw"][0], 0.2625, rtol=1e-14)
    np.testing.assert_allclose(led["regulation.flex_load_response_mw"][0], 0.06, rtol=1e-14)
    # aggregate [1.08, 1.14, -0.96, 0.60] against the request 1.2 s = [1.2, 1.2, -1.2, 0.6]:
    # k1 = mean moving step (0.06 + 2.1 + 1.56) / 3 = 1.24 MW per 3.75-min sub-step / (0.1 x 1.2 MW/min)
    k1 = 1.24 / 3.75 / 0.12
    k3 = 1.0 - (0.12 + 0.06 + 0.24 + 0.0) / 4 / (0.5 * 1.2)  # = 0.825
    k = 0.5 * k1 + 0.25 * 1.0 + 0.25 * k3  # k2 = 1: the delay window is 0
    assert k == pytest.approx(1.834028, abs=1e-6)
    np.testing.assert_allclose(led["regulation.score"][0], k, rtol=1e-12)
    # mileage |1 - 0| + 0 + 2 + 1.5 = 4.5 per MW; pay C x 30 x dt + 4.5 C x 2 x K
    np.testing.assert_allclose(led["regulation.cash"][0], 1.2 * 30.0 * DT + 4.5 * 1.2 * 2.0 * k, rtol=1e-12)

    # the battery's profile [0.38, 0.38, -0.38, 0.19]: cells (0.8 + 0.2 - 0.361) / 4 x 0.25 MWh
    np.testing.assert_allclose(s2.e_bat_mwh[0], 0.5 - 0.0625 * (0.76 / 0.95 + 0.19 / 0.95 - 0.38 * 0.95), rtol=1e-13)
    np.testing.assert_allclose(led["battery.applied_mw"][0], 0.1425, rtol=1e-13)
    # the fleet's profile -0.2 + 0.7 s = [0.5, 0.5, -0.9, 0.15]: mean 0.0625 MW; charging 0.9 / 4 = 0.225 MW,
    # V2G (0.5 + 0.5 + 0.15) / 4 = 0.2875 MW; need 1 + 0.25 (-0.225 x 0.92 + 0.2875 / 0.92) = 1.026375
    np.testing.assert_allclose(led["ev.applied_mw"][0], 0.0625, rtol=1e-13)
    np.testing.assert_allclose(s2.ev_need_mwh[0], 1.026375, rtol=1e-13)
    # wear: the battery's on its mean |p| 1.33 / 4 (20 /MWh), the fleet's on its V2G part only
    np.testing.assert_allclose(led["cost.degradation"][0], 1.33 / 4 * DT * 20.0 + 0.2875 * DT * 30.0, rtol=1e-13)
    # the load's shift profile [0, 0.06, 0.12, 0.06]: mean 0.06 MW deferred, into the backlog; shift cost on it
    np.testing.assert_allclose(led["load_shift.applied_mw"][0], 0.06, rtol=1e-13)
    np.testing.assert_allclose(led["load.consumption_mw"][0], 3.0 - 0.06, rtol=1e-13)
    np.testing.assert_allclose(s2.backlog_mwh[0], 0.06 * DT, rtol=1e-13)
    np.testing.assert_allclose(led["cost.load_shift"][0], 0.06 * DT * 10.0, rtol=1e-13)
    # the net injection carries the aggregate response: 0.1425 + 0.0625 - 2.94 (no other resource)
    np.testing.assert_allclose(led["net_mw"][0], 0.1425 + 0.0625 - 2.94, rtol=1e-13)
    # row 2 (the window's end): the load holds its forced shift (0: nothing deferred) and regulates nothing
    assert led["regulation.flex_load_response_mw"][2] == 0.0 and s2.backlog_mwh[2] == 0.0
    for i in range(3):  # the profit identity
        total = sum(sign * led[key][i] for key, sign in p.profit_terms)
        assert led["profit"][i] == pytest.approx(total, rel=1e-12, abs=1e-9)


def test_pro_rata_splits_by_headroom() -> None:
    _p, _s2, led = _case({"regulation": {**REG, "split": "pro_rata"}})
    caps = np.array([0.38, 0.7, 0.6])
    np.testing.assert_allclose(led["regulation.battery_mw"][0], 1.2 * 0.38 / 1.68, rtol=1e-14)
    np.testing.assert_allclose(led["regulation.ev_mw"][0], 1.2 * 0.7 / 1.68, rtol=1e-14)
    np.testing.assert_allclose(led["regulation.flex_load_mw"][0], 1.2 * 0.6 / 1.68, rtol=1e-14)
    # at full capability every provider takes its whole headroom
    np.testing.assert_allclose([led[f"regulation.{n}_mw"][1] for n in ("battery", "ev", "flex_load")], caps, rtol=1e-14)


def test_the_battery_alone_is_the_default_and_writes_no_split() -> None:
    reg = {k: v for k, v in REG.items() if k not in ("providers", "flex_load")}
    p, s2, led = _case({"regulation": reg})
    assert [spec.name for spec, _ in p.reg_providers] == ["battery"]
    np.testing.assert_allclose(led["regulation.capability_mw"], [0.38] * 3, rtol=1e-14)
    np.testing.assert_allclose(led["regulation.accepted_mw"], [0.38] * 3, rtol=1e-14)
    assert not any(k.startswith(("regulation.battery_", "regulation.ev_", "regulation.flex_")) for k in led)
    # the fleet holds its setpoint: need 1 + 0.25 (-0.2 x 0.92) = 0.954, no V2G wear; the load shifts nothing
    np.testing.assert_allclose(s2.ev_need_mwh, [0.954] * 3, rtol=1e-13)
    np.testing.assert_allclose(led["cost.degradation"], [1.33 / 4 * DT * 20.0] * 3, rtol=1e-13)  # the battery's
    np.testing.assert_allclose(s2.backlog_mwh, [0.0] * 3, atol=0.0)


def test_reserve_leaves_only_the_batterys_share() -> None:
    """Reserve deploys the battery's headroom above its setpoint and its share of the regulation award."""
    markets = {"regulation": {**REG, "providers": ["battery", "ev"]}, "reserve": {"others_ratio": 0.0}}
    p = _params(markets)
    s = core.initial_state(p, 1)._replace(e_bat_mwh=np.full(1, 2.0), ev_need_mwh=np.full(1, 1.0))
    a = _batch(p, [{"regulation_mw": 1.0, "reserve_mw": 1.0, "ev": -0.1}], list(p.action_names))
    exo = {"reg_need_mw": 10.0, "reserve_need_mw": 10.0, "reserve_call_share": 1.0, "ev_plugged_share": 0.5}
    _s2, led = _step(p, s, a, _batch(p, [exo], list(ALL_NAMES)))
    # capability 2 (battery, 2 MW both ways) + 0.7 (fleet): the whole 2 MW award goes to the battery first
    np.testing.assert_allclose(led["regulation.battery_mw"], [2.0])
    np.testing.assert_allclose(led["regulation.ev_mw"], [0.0])
    np.testing.assert_allclose(led["reserve.delivered_mw"], [0.0])  # nothing left above 2 - 2
    markets["regulation"]["split"] = "pro_rata"  # the battery's share 2 x 2 / 2.7: reserve gets the rest
    p = _params(markets)
    _s2, led = _step(p, s, a, _batch(p, [exo], list(ALL_NAMES)))
    np.testing.assert_allclose(led["reserve.delivered_mw"], [2.0 - 2.0 * 2.0 / 2.7], rtol=1e-14)
