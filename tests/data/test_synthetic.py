"""Synthetic generator: determinism, schema ranges, physics checked independently, config errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym.data.schema import COLUMN_NAMES, COLUMNS
from vpp_gym.data.synthetic import SyntheticConfig, generate, generate_for_index
from vpp_gym.validation import ConfigError, from_mapping

FIFTEEN_MIN = np.timedelta64(15, "m")


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    """The default scenario, a full year at 15 min, as a frame."""
    return generate(SyntheticConfig()).to_frame()


def _sun_elevation_deg(stamps: np.ndarray, lat_deg: float, lon_deg: float) -> np.ndarray:
    """Textbook approximation (Cooper's declination, no equation of time): independent of the code's."""
    ts = pd.DatetimeIndex(stamps)
    decl = np.deg2rad(23.45) * np.sin(2 * np.pi * (284 + ts.day_of_year.to_numpy()) / 365)
    solar_hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60 + lon_deg / 15
    omega = np.deg2rad(15 * (solar_hour - 12))
    lat = np.deg2rad(lat_deg)
    return np.rad2deg(np.arcsin(np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(omega)))


def test_same_seed_is_bit_identical_and_another_seed_differs() -> None:
    a = generate(SyntheticConfig(seed=3, days=20))
    b = generate(SyntheticConfig(seed=3, days=20))
    c = generate(SyntheticConfig(seed=4, days=20))
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    for name in COLUMN_NAMES:
        np.testing.assert_array_equal(a.values[name], b.values[name])
        assert not np.array_equal(a.values[name], c.values[name]), name
    assert a.source == "synthetic(seed=3)"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_year_is_inside_the_schema_and_prices_reach_floor_and_cap(seed: int) -> None:
    cfg = SyntheticConfig(seed=seed)
    s = generate(cfg)
    assert len(s) == 365 * 96 and s.interval_minutes == 15
    assert s.timestamps[0] == np.datetime64("2025-01-01T00:00")
    assert np.all(np.diff(s.timestamps) == FIFTEEN_MIN)
    for col in COLUMNS:
        v = s.values[col.name]
        assert v.dtype == np.float64 and np.all(np.isfinite(v)), col.name
        assert v.min() >= col.lo and v.max() <= col.hi, (col.name, v.min(), v.max())
    for name in ("price_da_per_mwh", "price_rt_per_mwh"):
        v = s.values[name]
        assert v.min() == cfg.price_floor_per_mwh and v.max() == cfg.price_cap_per_mwh, name
    ef = s.values["grid_ef_t_per_mwh"]
    assert ef.min() >= 0.2 and ef.max() <= 1.0
    assert abs(ef.mean() - 0.53) < 0.02
    assert abs(s.values["price_da_per_mwh"].mean() - cfg.price_mean_per_mwh) < 0.15 * cfg.price_mean_per_mwh
    assert abs(s.values["wind_cf"].mean() - cfg.wind_mean_cf) < 0.06
    assert abs(s.values["load_pu"].mean() - cfg.load_mean_pu) < 0.03
    assert 0.9 < s.values["load_pu"].max() < 1.2  # peak about 1.0


def test_pv_follows_the_sun_and_summer_beats_winter(year: pd.DataFrame) -> None:
    pv = year["pv_cf"].to_numpy()
    stamps = year["timestamp"].to_numpy()
    e0 = _sun_elevation_deg(stamps, 30.0, 0.0)
    e1 = _sun_elevation_deg(stamps + FIFTEEN_MIN, 30.0, 0.0)
    night = (e0 < -4) & (e1 < -4)  # margin covers the equation of time (<= 16 min ~ 4 degrees)
    day = (e0 > 4) & (e1 > 4)
    assert night.mean() > 0.4 and day.mean() > 0.4
    assert np.all(pv[night] == 0.0)
    assert np.all(pv[day] > 0.0)
    hour = year["timestamp"].dt.hour
    assert np.all(pv[(hour <= 3) | (hour >= 21)] == 0.0)  # local midnight +- 3 h (clock = UTC)
    month = year["timestamp"].dt.month
    summer = pv[month.isin([6, 7, 8])].sum()
    winter = pv[month.isin([12, 1, 2])].sum()
    assert summer > 1.4 * winter


def test_local_clock_moves_the_daily_shapes() -> None:
    """East China: UTC+8 at 120 E; local midnight is 16:00 UTC, local noon 04:00 UTC."""
    s = generate(SyntheticConfig(days=60, utc_offset_h=8.0, longitude_deg=120.0)).to_frame()
    hour_utc = s["timestamp"].dt.hour
    by_hour = s.groupby(hour_utc)[["pv_cf", "load_pu"]].mean()
    assert np.all(s["pv_cf"][hour_utc.isin([14, 15, 16, 17, 18])] == 0.0)
    assert by_hour["pv_cf"].idxmax() in (3, 4)
    assert by_hour["load_pu"].idxmin() in (18, 19, 20)  # 02:00-04:00 local


def test_weekend_load_is_lower_and_rt_deviates_by_about_rt_sigma(year: pd.DataFrame) -> None:
    weekend = year["timestamp"].dt.day_of_week >= 5
    load = year["load_pu"]
    assert load[weekend].mean() < 0.92 * load[~weekend].mean()
    for sigma in (0.05, 0.2):
        cfg = SyntheticConfig(seed=5, days=120, rt_sigma_rel=sigma)
        s = generate(cfg)
        da, rt = s.values["price_da_per_mwh"], s.values["price_rt_per_mwh"]
        assert np.mean(rt != da) > 0.99
        ok = da > 0.5 * cfg.price_mean_per_mwh  # where the deviation scales with DA itself
        rel = (rt[ok] - da[ok]) / da[ok]
        robust_std = 1.4826 * np.median(np.abs(rel - np.median(rel)))  # insensitive to the rare spikes
        assert robust_std == pytest.approx(sigma, rel=0.2)


def test_ev_stock_and_flow_are_consistent_and_timed_like_a_commuter_depot(year: pd.DataFrame) -> None:
    cfg = SyntheticConfig()
    plugged = year["ev_plugged_share"].to_numpy()
    dep = year["ev_departure_share"].to_numpy()
    need = year["ev_arrival_need_pu"].to_numpy()
    arriving = need / cfg.ev_need_per_vehicle_pu
    # the share plugged in next = those who stayed + those who arrived
    np.testing.assert_allclose(plugged[1:], plugged[:-1] * (1 - dep[:-1]) + arriving[:-1], atol=1e-9)
    hour = year["timestamp"].dt.hour.to_numpy()
    leaving = plugged * dep
    assert leaving[(hour >= 4) & (hour < 11)].sum() > 0.99 * leaving.sum()
    assert arriving[(hour >= 13) & (hour < 24)].sum() > 0.99 * arriving.sum()
    weekday = year["timestamp"].dt.day_of_week.to_numpy() < 5
    np.testing.assert_allclose(plugged[hour == 3], cfg.ev_plugged_night_share, atol=1e-3)
    assert plugged[weekday & (hour == 13)].mean() < 0.25
    # every day brings the same need as it had vehicles leaving (times the need per vehicle)
    per_day_need = need.reshape(-1, 96).sum(axis=1)
    per_day_leaving = leaving.reshape(-1, 96).sum(axis=1)
    np.testing.assert_allclose(per_day_need, per_day_leaving * cfg.ev_need_per_vehicle_pu, rtol=1e-9)


def test_hourly_series_has_the_same_shapes_as_the_quarter_hourly_one(year: pd.DataFrame) -> None:
    hourly = generate(SyntheticConfig(), 60)
    assert len(hourly) == 8760 and hourly.interval_minutes == 60
    h = hourly.to_frame()
    for col in COLUMNS:
        v = h[col.name].to_numpy()
        assert v.min() >= col.lo and v.max() <= col.hi, col.name
    for name in ("price_da_per_mwh", "pv_cf", "wind_cf", "load_pu", "grid_ef_t_per_mwh", "ev_plugged_share"):
        profile_60 = h.groupby(h["timestamp"].dt.hour)[name].mean().to_numpy()
        profile_15 = year.groupby(year["timestamp"].dt.hour)[name].mean().to_numpy()
        scale = np.abs(profile_15).max()
        assert np.max(np.abs(profile_60 - profile_15)) < 0.1 * scale, name
    # day-level draws are shared: the energy EVs bring each day is identical at both resolutions
    np.testing.assert_allclose(
        h["ev_arrival_need_pu"].to_numpy().reshape(-1, 24).sum(axis=1),
        year["ev_arrival_need_pu"].to_numpy().reshape(-1, 96).sum(axis=1),
        rtol=1e-9,
    )


def test_generate_for_index_keeps_given_columns_and_derives_rt_from_given_da() -> None:
    cfg = SyntheticConfig(seed=11)
    stamps = np.datetime64("2022-03-01T00:00", "ns") + np.arange(4 * 96) * FIFTEEN_MIN
    da = np.linspace(-500.0, 3000.0, stamps.size)  # beyond the configured floor and cap
    extra = np.arange(stamps.size, dtype=np.float64)
    given = {"price_da_per_mwh": da, "pv_cf": np.full(stamps.size, 0.25), "reg_price": extra}
    out = generate_for_index(cfg, stamps, 15, given=given)
    again = generate_for_index(cfg, stamps, 15, given=given)
    assert set(COLUMN_NAMES) <= set(out) and "reg_price" in out
    np.testing.assert_array_equal(out["price_da_per_mwh"], da)
    np.testing.assert_array_equal(out["pv_cf"], 0.25)
    np.testing.assert_array_equal(out["reg_price"], extra)
    rt = out["price_rt_per_mwh"]
    np.testing.assert_array_equal(rt, again["price_rt_per_mwh"])
    assert rt.min() >= -500.0 and rt.max() <= 3000.0
    assert np.sum(rt > cfg.price_cap_per_mwh) > 0.3 * stamps.size  # not clipped to the configured cap
    big = np.abs(da) > 500
    rel = (rt[big] - da[big]) / np.abs(da[big])
    assert 0.5 * cfg.rt_sigma_rel < np.median(np.abs(rel)) / 0.6745 < 1.5 * cfg.rt_sigma_rel
    with pytest.raises(ValueError, match="regular"):
        generate_for_index(cfg, stamps[[0, 1, 3]], 15)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"spike_prob": 1.5}, "spike_prob"),
        ({"rt_sigma_rel": -0.1}, "rt_sigma_rel"),
        ({"wind_mean_cf": 0.9}, "wind_mean_cf"),
        ({"latitude_deg": 80.0}, "latitude_deg"),
        ({"days": 0}, "days"),
        ({"price_floor_per_mwh": 1500.0}, "price_floor_per_mwh"),  # floor >= cap
        ({"price_cap_per_mwh": -200.0}, "price_cap_per_mwh"),  # cap <= floor
        ({"price_mean_per_mwh": 2000.0}, "price_mean_per_mwh"),  # mean above the cap
        ({"grid_ef_mean_t_per_mwh": 1.5}, "grid_ef_mean_t_per_mwh"),
        ({"ev_arrival_hour": 9.0}, "ev_arrival_hour"),  # arrivals overlapping departures
        ({"start": "2025-02-30"}, "start"),
        ({"start": "next monday"}, "start"),
    ],
)
def test_bad_config_names_the_key(overrides: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        SyntheticConfig(**overrides)
    with pytest.raises(ConfigError) as err:
        from_mapping(SyntheticConfig, overrides, "data.synthetic")
    assert str(err.value).startswith("data.synthetic.")
    assert key in str(err.value)


@pytest.mark.parametrize("interval", [7, 0, 1441, 100])
def test_interval_that_does_not_divide_a_day_is_rejected(interval: int) -> None:
    with pytest.raises(ConfigError, match="interval_minutes"):
        generate(SyntheticConfig(days=2), interval)


def test_local_midnight_is_dark() -> None:
    with pytest.raises(ConfigError, match=r"data\.synthetic\.utc_offset_h: got 0\.0, expected time\.utc_offset_h = 8"):
        gym.make("vpp_gym/Arbitrage-v0", time={"utc_offset_h": 8.0})
    env = gym.make(
        "vpp_gym/Arbitrage-v0",
        time={"utc_offset_h": 8.0},
        data={"synthetic": {"utc_offset_h": 8.0, "longitude_deg": 120.0}, "ancillary": {"utc_offset_h": 8.0}},
    )
    u = env.unwrapped
    u.reset(seed=0, options={"day": 150})
    assert u._episode.exo[0, 0, 3] == 0.0  # pv_cf at the first interval of the (local) day
