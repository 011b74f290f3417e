"""Demand response as dispatched: events on the scarcity days, the similar-days baseline, worked by hand."""

from __future__ import annotations

import dataclasses

import numpy as np

from vpp_gym import core
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.ancillary import AncillaryConfig, generate_ancillary
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.markets.demand_response import similar_days_baseline
from vpp_gym.validation import from_mapping

HOURS = np.arange(24)


def _hourly(days: int) -> np.ndarray:
    """Hourly UTC stamps from Monday 2024-01-01 00:00 (the local clock is UTC)."""
    return np.datetime64("2024-01-01T00:00", "ns") + np.arange(days * 24) * np.timedelta64(1, "h")


def _params(series: ScenarioSeries, demand_response: dict[str, object]) -> core.CoreParams:
    cfg = from_mapping(
        ScenarioConfig,
        {
            "time": {"interval_minutes": 60},
            "resources": {"pv": {"p_max_mw": 1.0}, "flex_load": {"peak_mw": 2.0}},
            "markets": {"demand_response": demand_response},
        },
    )
    return core.CoreParams.from_series(cfg, series)


def test_similar_days_baseline_is_the_mean_load_of_the_last_five_working_days_without_an_event() -> None:
    # 12 days from Monday 2024-01-01 (d0) to Friday d11; day k has load 0.1 (k + 1) + 0.01 h and PV cf 0.5
    days = 12
    values = {name: np.zeros(days * 24) for name in ALL_NAMES}
    day_of_row = np.repeat(np.arange(days), 24)
    values["load_pu"] = 0.1 * (day_of_row + 1) + 0.01 * np.tile(HOURS, days)
    values["pv_cf"] = np.full(days * 24, 0.5)
    values["dr_need_mw"][3 * 24 + 18] = 1.0  # an event on Thursday d3 (one hour is enough)
    values["dr_need_mw"][11 * 24 + 19] = 1.0  # and on the event day d11 itself (it does not matter)
    series = ScenarioSeries(_hourly(days), 60, values)
    p = _params(series, {"baseline": "similar_days"})
    start = np.array([11 * 24, 2 * 24, 1 * 24])
    base = similar_days_baseline(p, series, start)
    assert base is not None and base.shape == (3, 24)
    # d11 (Friday): the invitation day d10 is not read; from d9 back: d9, d8, d7 (Wed, Tue, Mon), the weekend
    # d6, d5 skipped, d4 (Fri), the event day d3 skipped, d2 (Wed): loads 0.1 * (10 + 9 + 8 + 5 + 3) / 5 = 0.7
    # B = PV 1 * 0.5 - 2 MW * (0.7 + 0.01 h) = -0.9 - 0.02 h
    np.testing.assert_allclose(base[0], -0.9 - 0.02 * HOURS, rtol=0, atol=1e-12)
    # d2 (Wednesday): only d0 is before its invitation day d1: B = 0.5 - 2 (0.1 + 0.01 h)
    np.testing.assert_allclose(base[1], 0.3 - 0.02 * HOURS, rtol=0, atol=1e-12)
    # d1: no day before d0 in the series: the day's own passive net injection 0.5 - 2 (0.2 + 0.01 h)
    np.testing.assert_allclose(base[2], 0.1 - 0.02 * HOURS, rtol=0, atol=1e-12)
    # each row gets the bits it gets alone (the vector env resets rows in any grouping)
    for i in range(3):
        alone = similar_days_baseline(p, series, start[i : i + 1])
        assert alone is not None
        np.testing.assert_array_equal(alone[0], base[i])
    # the passive baseline (the default) needs nothing from past days
    assert similar_days_baseline(_params(series, {}), series, start) is None


def test_scarcity_rule_puts_the_events_on_the_days_of_the_highest_and_lowest_prices() -> None:
    days = 30
    stamps = _hourly(days)
    price = np.tile(np.where((HOURS >= 17) & (HOURS <= 20), 400.0, 300.0), days)
    price[7 * 24 + 19] = 1200.0  # the scarcest day, d7
    price[20 * 24 + 18] = 900.0  # the next, d20
    price[4 * 24 + 13] = -50.0  # the day of surplus, d4
    cfg = AncillaryConfig(
        dr_event_rule="scarcity",
        # over 30 days: floor(25 / 365 * 30 + 0.5) = 2 peak days; floor(12 / 365 * 30 + 0.5) = 1 valley day
        dr_peak_days_per_year=25.0,
        dr_valley_days_per_year=12.0,
        dr_peak_hour=18.0,
        dr_valley_hour=12.0,
        dr_duration_h=2.0,
    )
    out = generate_ancillary(cfg, stamps, 60, price)
    need = out["dr_need_mw"].reshape(days, 24)
    expected = np.zeros((days, 24))
    expected[[7, 7, 20, 20], [18, 19, 18, 19]] = cfg.dr_need_mw
    expected[[4, 4], [12, 13]] = -cfg.dr_need_mw
    np.testing.assert_array_equal(need, expected)
    dr_price = out["dr_price_per_mwh"].reshape(days, 24)
    assert (dr_price[need > 0] == cfg.dr_peak_price_per_mwh).all()
    assert (dr_price[need < 0] == cfg.dr_valley_price_per_mwh).all()
    assert (dr_price[need == 0] == 0.0).all()
    # the window is rolling: with 10-day windows and 36.5 days a year (1 per window), d7 and d20 are still
    # the tops of their windows, and no window holding one of them calls another day
    rolling = generate_ancillary(
        dataclasses.replace(cfg, dr_peak_days_per_year=36.5, dr_scarcity_window_days=10),
        stamps,
        60,
        price,
    )
    peak_days = np.flatnonzero((rolling["dr_need_mw"].reshape(days, 24) > 0).any(axis=1))
    assert {7, 20} <= set(peak_days.tolist())
    assert not set(peak_days.tolist()) & ((set(range(3, 13)) - {7}) | (set(range(16, 26)) - {20}))
    # the other streams are untouched: the random rule's series of the other columns are the same (peak
    # regulation's calls avoid demand-response events by design, so they follow the events' days)
    random = generate_ancillary(AncillaryConfig(), stamps, 60, price)
    for name in out:
        if not name.startswith(("dr_", "peak_reg_")):
            np.testing.assert_array_equal(out[name], random[name])
