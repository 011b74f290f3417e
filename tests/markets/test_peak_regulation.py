"""Peak regulation (:mod:`vpp_gym.markets.peak_regulation`): tiered pay, settlement, config, data, closed by default.

Hand-worked numbers throughout. Settlement cases run one interval through ``core.transition`` as a
batch (NumPy) and each row alone on the scalar backend, which must agree exactly.

Defaults used below: battery 4 MWh, 2 / 2 MW, SOC 0.5 (2 MWh); flexible load 3 MW peak, curtail share
0.1, shift share 0.2; PV 4 MW at capacity factor 0.5 (2 MW available); dt = 0.25 h. The passive
baseline is PV 2 - base load 3 = -1 MW. Peak regulation: declared capacity Q = 2 MW, default tiers
``[(0.5, 1.0), (1.0, 1.5)]`` (1 MW at the base price, the next 1 MW at 1.5 x, capped at 450),
shortfall 450 per MWh.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym import core, ledger
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.ancillary import AncillaryConfig, generate_ancillary
from vpp_gym.data.schema import ALL_NAMES, ANCILLARY_NAMES
from vpp_gym.markets.peak_regulation import PeakRegulationConfig, PeakRegulationTier, tiered_pay
from vpp_gym.ops import SCALAR
from vpp_gym.validation import ConfigError, ConfigWarning, from_mapping

DT = 0.25
RESOURCES = {"pv": {"p_max_mw": 4.0}, "battery": {}, "flex_load": {}}
SERIES = {"pv_cf": 0.5, "load_pu": 1.0}


def _params(markets: dict[str, Any], resources: dict[str, Any] | None = None) -> core.CoreParams:
    cfg = from_mapping(ScenarioConfig, {"resources": resources or RESOURCES, "markets": markets})
    return core.CoreParams(
        cfg=cfg, price_ref_per_mwh=100.0, lo=dict.fromkeys(ALL_NAMES, 0.0), hi=dict.fromkeys(ALL_NAMES, 1.0)
    )


def _named(p: core.CoreParams, rows: list[dict[str, float]], names: tuple[str, ...] | None = None) -> np.ndarray:
    """``(B, n)``: named values (actions, or exogenous columns with ``names = ALL_NAMES``), others 0."""
    names = p.action_names if names is None else names
    out = np.zeros((len(rows), len(names)))
    for i, row in enumerate(rows):
        for name, v in row.items():
            out[i, names.index(name)] = v
    return out


def _episode(batch: int, stacks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> core.EpisodeData:
    return core.EpisodeData(
        start=np.zeros(batch, dtype=np.int64),
        exo=np.zeros((batch, 1, len(ALL_NAMES))),
        obs_exo=np.zeros((batch, 2, 1), dtype=np.float32),
        stacks=dict(stacks or {}),
    )


def _step(p: core.CoreParams, actions: list[dict[str, float]], series: list[dict[str, float]], **ep: Any) -> dict:
    """One interval from SOC 2 MWh, batched, checked row by row against the scalar backend (exact equality)."""
    a, x = _named(p, actions), _named(p, series, ALL_NAMES)
    n = len(a)
    s = core.initial_state(p, n)._replace(e_bat_mwh=np.full(n, 2.0))
    episode = _episode(n, **ep)
    _s2, led = core.transition(p, s, a.T, x.T, np, episode)
    for i in range(n):
        row_ep = core.EpisodeData(
            start=episode.start[i : i + 1],
            exo=episode.exo[i : i + 1],
            obs_exo=episode.obs_exo[i : i + 1],
            stacks={k: (m[i : i + 1], pr[i : i + 1]) for k, (m, pr) in episode.stacks.items()},
        )
        _s2_i, led_i = core.transition(p, s.row(i), a[i].tolist(), x[i].tolist(), SCALAR, row_ep)
        assert led_i.keys() == led.keys()
        for k, v in led_i.items():
            assert v == np.broadcast_to(led[k], (n,))[i], (k, i, v, led[k])
    return led


# ---------------------------------------------------------------- tiered pay, by hand


@pytest.mark.parametrize(
    ("paid", "price", "per_hour"),
    [
        (0.0, 300.0, 0.0),
        (0.6, 300.0, 180.0),  # all in tier 1: 0.6 * 300
        (1.0, 300.0, 300.0),  # tier 1 full
        (1.6, 300.0, 570.0),  # 1 * 300 + 0.6 * min(1.5 * 300, 450) = 300 + 270
        (2.0, 300.0, 750.0),  # 300 + 450
        (2.0, 400.0, 850.0),  # 400 + min(600, 450) = 400 + 450: the cap binds in tier 2
        (1.5, 500.0, 675.0),  # both tiers capped: 450 + 0.5 * 450
    ],
)
def test_default_tiers_by_hand(paid: float, price: float, per_hour: float) -> None:
    cfg = PeakRegulationConfig(offer_max_mw=2.0)
    assert cfg.tier_widths_mw == (1.0, 1.0) and not cfg.concave
    assert tiered_pay(paid, price, cfg, SCALAR) == pytest.approx(per_hour, rel=1e-15)
    got = tiered_pay(np.array([paid]), np.array([price]), cfg, np)
    assert got[0] == tiered_pay(paid, price, cfg, SCALAR)  # the same bits on both backends


def test_concave_tiers_by_hand() -> None:
    # Q = 4: tiers [0, 1] MW at min(2 * 300, 450) = 450, (1, 3] MW at 300, (3, 4] MW at 0.5 * 300 = 150
    cfg = PeakRegulationConfig(
        offer_max_mw=4.0,
        tiers=(PeakRegulationTier(0.25, 2.0), PeakRegulationTier(0.75, 1.0), PeakRegulationTier(1.0, 0.5)),
    )
    assert cfg.tier_widths_mw == (1.0, 2.0, 1.0) and cfg.concave
    assert tiered_pay(0.5, 300.0, cfg, SCALAR) == pytest.approx(225.0)  # 0.5 * 450
    assert tiered_pay(2.5, 300.0, cfg, SCALAR) == pytest.approx(900.0)  # 450 + 1.5 * 300
    assert tiered_pay(3.5, 300.0, cfg, SCALAR) == pytest.approx(1125.0)  # 450 + 600 + 0.5 * 150


# ---------------------------------------------------------------- settlement through the core


def test_valley_filling_and_peak_shaving_against_the_passive_baseline() -> None:
    p = _params(
        {"peak_regulation": {"offer_max_mw": 2.0, "others_ratio": 0.0}, "energy": {"imbalance_penalty_per_mwh": 100.0}}
    )
    offer = {"peak_regulation_mw": 1.0}  # declare 2 MW
    valley = {**SERIES, "peak_reg_need_mw": -2.0, "peak_reg_price_per_mwh": 300.0}
    led = _step(
        p,
        [
            {**offer, "battery": -0.5},  # 0: charge 1 MW
            {**offer, "battery": -1.0, "load_shift": -0.5},  # 1: charge 2 MW, consume 0.3 MW earlier
            {**offer, "battery": -0.75},  # 2: charge 1.5 MW (smaller call at a higher price)
            {**offer, "battery": 0.5, "load_curtail": 1.0},  # 3: peak shaving: discharge 1, curtail 0.3
            {**offer, "battery": 0.5},  # 4: valley call, but discharging: the wrong direction
            {**offer},  # 5: no call
        ],
        [
            valley,
            valley,
            {**SERIES, "peak_reg_need_mw": -1.2, "peak_reg_price_per_mwh": 400.0},
            {**SERIES, "peak_reg_need_mw": 2.0, "peak_reg_price_per_mwh": 300.0},
            valley,
            SERIES,
        ],
    )
    # awards (no competitors): 2 MW, or the need 1.2 MW in row 2; nothing without a call
    np.testing.assert_allclose(led["peak_regulation.offer_mw"], [2.0] * 6)
    np.testing.assert_allclose(led["peak_regulation.accepted_mw"], [2.0, 2.0, 1.2, 2.0, 2.0, 0.0])
    # net = PV 2 + battery - load; against the baseline -1, in the call's direction:
    # 0: 2 - 1 - 3 = -2 -> 1;  1: 2 - 2 - 3.3 = -3.3 -> 2.3;  2: 2 - 1.5 - 3 = -2.5 -> 1.5
    # 3: 2 + 1 - 2.7 = 0.3 -> +1.3 (peak);  4: 2 + 1 - 3 = 0 -> -1: 0;  5: no call: 0
    np.testing.assert_allclose(led["net_mw"], [-2.0, -3.3, -2.5, 0.3, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(led["peak_regulation.delivered_mw"], [1.0, 2.3, 1.5, 1.3, 0.0, 0.0], atol=1e-12)
    # paid r = min(delivered, award), depth r / 2
    np.testing.assert_allclose(led["peak_regulation.depth"], [0.5, 1.0, 0.6, 0.65, 0.0, 0.0], atol=1e-12)
    # cash = 0.25 h x tiered pay:
    # 0: 1 * 300 = 300 -> 75;  1: 300 + 450 = 750 -> 187.5;  2: 1 * 400 + 0.2 * min(600, 450) = 490 -> 122.5
    # 3: 300 + 0.3 * 450 = 435 -> 108.75;  4, 5: 0
    np.testing.assert_allclose(led["peak_regulation.cash"], [75.0, 187.5, 122.5, 108.75, 0.0, 0.0], atol=1e-9)
    # shortfall (award - delivered) * 0.25 * 450: 0: 1 -> 112.5; 3: 0.7 -> 78.75; 4: 2 -> 225
    np.testing.assert_allclose(led["penalty.peak_reg_shortfall"], [112.5, 0.0, 0.0, 78.75, 225.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(led["peak_regulation.price"], [300.0, 300.0, 400.0, 300.0, 300.0, 0.0])
    # the response is not an instructed deviation (the VPP schedules it): with no position held, every
    # MW of net injection is an imbalance, |net| * 0.25 h * 100
    np.testing.assert_allclose(led["penalty.imbalance"], np.abs(led["net_mw"]) * 25.0, atol=1e-9)


def test_transaction_form_pays_the_tiers_on_the_marginal_price() -> None:
    p = _params(
        {
            "peak_regulation": {
                "form": "transaction",
                "offer_max_mw": 2.0,
                "competitors": {"n_offers": 2},
            }
        }
    )
    # offer 2 MW at (-1 + 1) / 2 * 450 = 0 against 1 MW @ 200 and 2 MW @ 350; the VPP charges its battery
    # at 2 MW: net 2 - 2 - 3 = -3, delivered 2
    stack = (np.tile([1.0, 2.0], (2, 1, 1)), np.tile([200.0, 350.0], (2, 1, 1)))
    act = {"peak_regulation_mw": 1.0, "peak_regulation_price": -1.0, "battery": -1.0}
    series = [{**SERIES, "peak_reg_need_mw": -n, "peak_reg_price_per_mwh": 300.0} for n in (2.5, 4.0)]
    led = _step(p, [act, act], series, stacks={"peak_regulation": stack})
    # need 2.5: the VPP's 2 MW and 0.5 of the 200 offer: price 200; need 4: all of 200, 1 of 350: price 350
    np.testing.assert_allclose(led["peak_regulation.offer_price"], [0.0, 0.0])
    np.testing.assert_allclose(led["peak_regulation.accepted_mw"], [2.0, 2.0])
    np.testing.assert_allclose(led["peak_regulation.price"], [200.0, 350.0])
    # tiers on the clearing price: 200 + min(300, 450) = 500 -> 125; 350 + min(525, 450) = 800 -> 200
    np.testing.assert_allclose(led["peak_regulation.cash"], [125.0, 200.0], atol=1e-9)
    np.testing.assert_allclose(led["penalty.peak_reg_shortfall"], [0.0, 0.0], atol=1e-12)


# ---------------------------------------------------------------- closed by default: nothing written


def test_a_closed_product_writes_no_ledger_entry_and_no_action_or_observation() -> None:
    env = gym.make("vpp_gym/Joint-v0")
    env.reset(seed=0)
    _obs, _r, _te, _tr, info = env.step(env.action_space.sample())
    p = env.unwrapped.params
    assert "peak_regulation" not in info and "peak_reg_shortfall" not in info["penalty"]
    assert "demand_response" in info and "dr_shortfall" in info["penalty"]  # the v0 products keep their zeros
    observed = [row[0] for row in p.observation_layout()]
    assert not any(key.startswith("peak_reg") for key in (*p.action_names, *observed))
    terms = {k for k, _ in p.profit_terms}
    assert "peak_regulation.cash" not in terms and "penalty.peak_reg_shortfall" not in terms
    assert "peak_regulation" in ledger.UNWRITTEN_WHEN_ABSENT
    opened = gym.make("vpp_gym/Joint-v0", overrides={"markets.peak_regulation": {}})
    q = opened.unwrapped.params
    assert {"peak_regulation.cash", "penalty.peak_reg_shortfall"} <= {k for k, _ in q.profit_terms}
    assert q.action_names[-1] == "peak_regulation_mw"
    assert {"peak_reg_need_mw", "peak_reg_price_per_mwh"} <= set(q.observed_series)


# ---------------------------------------------------------------- config


def test_tiers_load_from_yaml_keys_and_bad_tiers_name_the_key() -> None:
    cfg = from_mapping(
        ScenarioConfig,
        {
            "resources": RESOURCES,
            "markets": {"peak_regulation": {"tiers": [{"depth_share": 0.3, "multiplier": 1.2}, {"depth_share": 1.0}]}},
        },
    )
    pc = cfg.markets.peak_regulation
    assert pc is not None
    assert pc.tiers == (PeakRegulationTier(0.3, 1.2), PeakRegulationTier(1.0, 1.0))
    assert pc.price_cap == 450.0 and pc.shortfall_penalty_per_mwh == 450.0 and pc.form == "invitation"
    bad = [
        ([{"depth_share": 0.5}], r"tiers: got \[\[0\.5, 1\.0\]\].*the last at 1"),
        ([{"depth_share": 1.0}, {"depth_share": 0.5}], r"tiers: got .*increasing depth_share"),
        ([], r"tiers: got \[\], expected at least one tier"),
        ([{"depth_share": 1.5}], r"tiers\[0\]\.depth_share: got 1\.5"),
        ([{"depth_share": 1.0, "multiplier": -1.0}], r"tiers\[0\]\.multiplier: got -1"),
    ]
    for tiers, pattern in bad:
        with pytest.raises(ConfigError, match=pattern):
            from_mapping(ScenarioConfig, {"resources": RESOURCES, "markets": {"peak_regulation": {"tiers": tiers}}})


def test_the_cap_is_a_rule_of_both_forms_but_competitors_only_of_the_transaction_form() -> None:
    with pytest.warns(ConfigWarning, match=r"markets\.peak_regulation\.competitors"):
        gym.make("vpp_gym/Joint-v0", overrides={"markets.peak_regulation": {"competitors": {"n_offers": 3}}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", ".*is out of date", DeprecationWarning)  # v0 ids warn
        gym.make("vpp_gym/Joint-v0", overrides={"markets.peak_regulation": {"price_cap": 400.0}})


# ---------------------------------------------------------------- synthetic series


def _series(**keys: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Twenty days of ancillary series at 15 min (UTC clock), and the hour of day of each row."""
    stamps = np.datetime64("2025-01-01T00:00") + np.arange(20 * 96) * np.timedelta64(15, "m")
    price_da = 300.0 + 100.0 * np.sin(np.arange(len(stamps)) / 10.0)
    hour = (np.arange(len(stamps)) % 96) / 4.0
    return generate_ancillary(AncillaryConfig(seed=3, **keys), stamps, 15, price_da), hour


def test_the_synthetic_calls_fill_the_valleys_and_avoid_demand_response_events() -> None:
    s, hour = _series(dr_valley_day_prob=0.5, peak_reg_valley_day_prob=0.7)
    need, price, dr = s["peak_reg_need_mw"], s["peak_reg_price_per_mwh"], s["dr_need_mw"]
    called = need != 0.0
    in_window = (hour < 6.0) | ((hour >= 11.0) & (hour < 14.0))
    assert called.any() and not (called & ~in_window).any()  # calls only in the night and midday valleys
    assert (need <= 0.0).all()  # valley filling only (no peak-shaving days by default)
    assert (-need[called] >= 0.5 * 2.0 - 1e-12).all() and (-need[called] <= 2.0).all()
    assert not (called & (dr != 0.0)).any() and ((dr != 0.0) & in_window).any()  # DR events occur, never together
    np.testing.assert_array_equal(price, np.where(called, 300.0, 0.0))
    # a call holds its size through a window of a day (one draw per day and window)
    day = np.arange(len(need)) // 96
    for d in range(20):
        night = need[(day == d) & (hour < 6.0) & called]
        assert len(np.unique(night)) <= 1


def test_peak_shaving_calls_when_asked_for() -> None:
    s, hour = _series(peak_reg_valley_day_prob=0.0, peak_reg_peak_day_prob=1.0, dr_peak_day_prob=0.0)
    need, price = s["peak_reg_need_mw"], s["peak_reg_price_per_mwh"]
    window = (hour >= 18.0) & (hour < 20.0)
    assert (need[window] > 0.0).all() and (need[~window] == 0.0).all()
    np.testing.assert_array_equal(price, np.where(window, 400.0, 0.0))


def test_the_peak_regulation_stream_leaves_every_other_series_unchanged() -> None:
    base, _ = _series()
    other, _ = _series(
        peak_reg_need_mw=5.0,
        peak_reg_need_min_share=0.1,
        peak_reg_valley_day_prob=1.0,
        peak_reg_night_hour=22.0,
        peak_reg_peak_day_prob=0.5,
        peak_reg_price_per_mwh=250.0,
    )
    assert set(base) == set(ANCILLARY_NAMES)
    for col in ANCILLARY_NAMES:
        if not col.startswith("peak_reg"):
            assert base[col].tobytes() == other[col].tobytes(), col
    assert not np.array_equal(base["peak_reg_need_mw"], other["peak_reg_need_mw"])
