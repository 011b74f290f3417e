"""Demand response as dispatched: events on the scarcity days, worked by hand."""

from __future__ import annotations

import dataclasses

import numpy as np

from vpp_gym.data.ancillary import AncillaryConfig, generate_ancillary

HOURS = np.arange(24)


def _hourly(days: int) -> np.ndarray:
    """Hourly UTC stamps from Monday 2024-01-01 00:00 (the local clock is UTC)."""
    return np.datetime64("2024-01-01T00:00", "ns") + np.arange(days * 24) * np.timedelta64(1, "h")


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
    # the other streams are untouched: the random rule's series of the other columns are the same
    random = generate_ancillary(AncillaryConfig(), stamps, 60, price)
    for name in out:
        if not name.startswith("dr_"):
            np.testing.assert_array_equal(out[name], random[name])
