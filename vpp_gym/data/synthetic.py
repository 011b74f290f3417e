"""Seeded synthetic scenario generator: every schema column from a few documented parameters.

The default parameters describe a site at latitude 30 N trading in a Chinese-style provincial
spot market priced in CNY/MWh. Timestamps are always naive UTC interval starts; all daily shapes
(prices, load, EVs) are laid out in *local* time (``utc_offset_h``) and the sun follows the true
solar time of ``longitude_deg``. By default the site's clock *is* UTC (offset 0, longitude 0), so
that a day of the series starting at 00:00 UTC (where the environment starts its episodes) is a
local market day with solar noon near 12:00; east China proper would be ``utc_offset_h: 8``,
``longitude_deg: 120``, which has the same shapes relative to its clock but puts local midnight at
16:00 UTC.

How each column is made (``h`` is the local hour of day, ``dt`` the interval in hours):

- ``price_da_per_mwh``: ``mean * season * week * (1 + price_daily_amplitude * D(h))`` with a
  zero-mean daily shape ``D`` (morning peak ~10:00, solar valley ~13:30, evening peak ~19:30,
  max 1), a two-peaked seasonal factor (summer and winter higher), a weekend factor; times
  ``(1 + price_volatility * x)`` with ``x`` a unit AR(1) process of time constant
  ``price_noise_tau_h``; plus price spikes (events starting at ``spike_prob`` per hour, weighted
  towards peak hours, of median size ``spike_size_per_mwh`` held for ``spike_duration_h``); minus
  midday "solar glut" dips on a share ``dip_prob`` of days; clipped to the floor and the cap.
- ``price_rt_per_mwh``: ``DA + rt_sigma_rel * y * ref`` with ``y`` a unit AR(1) process
  (``rt_noise_tau_h``) and ``ref = max(|DA|, 0.2 * mean|DA|)``, plus upward RT spikes
  (``rt_spike_prob`` per hour, median size ``rt_spike_size_rel * ref``, 15 min long); clipped to
  ``[min(floor, min DA), max(cap, max DA)]`` so that a user's DA series outside the configured
  floor/cap is never clipped against.
- ``price_id_per_mwh`` (optional in files, see :data:`~vpp_gym.data.schema.INTRADAY_COLUMNS`):
  ``DA + id_weight * (RT - DA) + id_sigma_rel * z * ref`` with ``z`` a unit AR(1) process
  (``id_noise_tau_h``) and ``ref`` as for RT; clipped to
  ``[min(floor, min DA, min RT), max(cap, max DA, max RT)]`` (without the deviation the price lies
  between DA and RT, which the clip leaves alone). The default ``id_weight = 0.5`` is a modelling
  assumption, not a market rule: intraday trading happens between the day-ahead auction and real
  time, so its price is taken to carry half of the information the real-time price adds to the
  day-ahead one. The default ``id_sigma_rel = 0`` makes it deterministic given DA and RT (and draws
  nothing). It is derived the same way from a user's DA and RT, given or synthesized.
- ``grid_ef_t_per_mwh``: ``grid_ef_mean + grid_ef_solar_swing * (mean(pv) - pv) + noise``,
  i.e. lower at midday when solar output is high, clipped to ``[grid_ef_min, grid_ef_max]``.
- ``pv_cf``: clear-sky output from solar geometry (Spencer's declination and equation of time,
  Kasten-Young air mass, Meinel beam attenuation, horizontal plane, ``pv_derate``), averaged over
  15-min sub-intervals, times a clearness factor in (0, 1) made of a day-to-day AR(1) part
  (``pv_cloud_persistence``) and an intraday AR(1) part. Exactly zero when the sun is down.
- ``wind_cf``: a unit AR(1) process (``wind_tau_h``) shifted by seasonal (windier in winter and
  spring) and diurnal (windier at night) terms, mapped to a Weibull(k=2) wind speed through its
  normal quantile and through a cubic power curve (cut-in 3 m/s, rated 12 m/s, cut-out 25 m/s);
  the Weibull scale is solved so that the stationary mean capacity factor is ``wind_mean_cf``.
- ``load_pu``: ``load_mean * season * week * (1 + load_daily_amplitude * L(h)) * (1 + noise)``
  with a double-peaked daily shape ``L`` (morning ~10:00, evening ~19:30, max 1).
- EV fleet, a commuter depot: on each local day a share (``ev_commute_share_weekday`` or
  ``_weekend``) of the vehicles leaves in the morning (truncated normal departure time around
  ``ev_departure_hour``) and comes back in the evening (around ``ev_arrival_hour``); the rest
  stay. With ``F_dep``, ``F_arr`` the departure/arrival time distributions of the day and ``c``
  the commuting share, at the interval start ``t``:
  ``ev_plugged_share = ev_plugged_night_share * (1 - c * (F_dep(t) - F_arr(t)))``;
  ``ev_departure_share = ev_plugged_night_share * c * (F_dep(t + dt) - F_dep(t)) / ev_plugged_share``;
  ``ev_arrival_need_pu = ev_plugged_night_share * c * (F_arr(t + dt) - F_arr(t)) * ev_need_per_vehicle_pu``.
  So ``plugged[k+1] = plugged[k] * (1 - departure[k]) + need[k] / ev_need_per_vehicle_pu``
  holds exactly: the energy brought in the evening has to be charged by the morning.

Randomness: one ``np.random.default_rng(seed)`` spawns an independent child generator per
component, so the same seed gives bit-identical output and the day-level draws (clouds, dips,
EV timing) are the same at any interval length over the same days. The intraday deviation has a
child of its own (drawn only when ``id_sigma_rel > 0``), so it leaves every other column unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.signal import lfilter
from scipy.special import log_ndtr, ndtr, ndtri

from vpp_gym.data.schema import BY_NAME, COLUMN_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.validation import MAX_SEED, fmt_num, require, require_int, require_range

__all__ = ["SyntheticConfig", "derive_price_id", "generate", "generate_for_index"]

_MINUTES_PER_DAY = 1440
_SECONDS_PER_DAY = 86_400
_N_STREAMS = 16  # child generators; fixed so that adding a component never shifts the others
_WIND_CUT_IN_M_S = 3.0
_WIND_RATED_M_S = 12.0
_WIND_CUT_OUT_M_S = 25.0
_WIND_WEIBULL_K = 2.0
_RT_SPIKE_DURATION_H = 0.25
_ID_STREAM = 11  # child generator of the intraday deviation (children 0..10 are the other columns')


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the synthetic scenario (defaults: latitude 30 N, CNY/MWh spot market, clock = UTC).

    Attributes:
        seed: seed of ``np.random.default_rng``; the same seed gives bit-identical series.
        start: first day (ISO date, ``YYYY-MM-DD``); the series starts at 00:00 UTC of it.
        days: number of days :func:`generate` produces.
        utc_offset_h: local clock offset from UTC in hours (daily shapes are in local time).
        latitude_deg: site latitude in degrees north, for the sun position.
        longitude_deg: site longitude in degrees east, for the true solar time.
        price_floor_per_mwh: lowest admissible price (currency/MWh).
        price_cap_per_mwh: highest admissible price (currency/MWh).
        price_mean_per_mwh: long-run mean of the day-ahead price before spikes and dips.
        price_daily_amplitude: relative amplitude of the daily price shape (peak is
            ``mean * (1 + amplitude)`` before the other factors).
        price_weekend_factor: weekend price level relative to weekdays (weekly mean kept).
        price_seasonal_amplitude: relative amplitude of the seasonal factor, highest in mid
            January and mid July, lowest in April and October.
        price_volatility: relative standard deviation of the multiplicative AR(1) noise.
        price_noise_tau_h: time constant of that noise in hours.
        spike_prob: rate of DA price-spike events per hour (averaged over the day; events only
            start in above-average-price hours).
        spike_size_per_mwh: median size of a spike added to the price (lognormal, sigma 0.5).
        spike_duration_h: how long a spike lasts.
        dip_prob: probability that a day has a midday "solar glut" price collapse.
        dip_size_per_mwh: depth of that collapse at 13:00 local (Gaussian in time, 1.5 h wide).
        rt_sigma_rel: relative standard deviation of the real-time price around day-ahead.
        rt_noise_tau_h: time constant of the RT deviation in hours.
        rt_spike_prob: rate of real-time spike events per hour (each 15 min long).
        rt_spike_size_rel: median size of an RT spike relative to the price level.
        id_weight: weight of the real-time price in the derived intraday price,
            ``DA + id_weight * (RT - DA)``, in [0, 1]; 0.5 by assumption (intraday gates lie between
            the day-ahead auction and real time; not a market rule).
        id_sigma_rel: relative standard deviation of the seeded AR(1) deviation added to the
            intraday price (0: deterministic given DA and RT).
        id_noise_tau_h: time constant of that deviation in hours.
        grid_ef_mean_t_per_mwh: mean grid carbon intensity (tCO2/MWh).
        grid_ef_solar_swing_t_per_mwh: drop of the intensity per unit of PV capacity factor.
        grid_ef_noise_t_per_mwh: standard deviation of the AR(1) noise of the intensity.
        grid_ef_min_t_per_mwh: lower clip of the intensity.
        grid_ef_max_t_per_mwh: upper clip of the intensity.
        pv_derate: clear-sky PV output at 1000 W/m2 global horizontal irradiance (per unit).
        pv_clearness_mean: mean clearness (cloud) factor in (0, 1).
        pv_cloud_persistence: day-to-day AR(1) coefficient of the clearness.
        pv_intraday_share: share of the clearness variance that changes within a day.
        wind_mean_cf: stationary mean wind capacity factor.
        wind_tau_h: time constant of the wind-speed AR(1) process in hours.
        wind_seasonal_amplitude: seasonal shift of the wind (normal-quantile units), windiest
            around 30 January.
        wind_diurnal_amplitude: diurnal shift of the wind (normal-quantile units), windiest at
            03:00 local.
        load_mean_pu: long-run mean of ``load_pu``.
        load_daily_amplitude: relative amplitude of the daily load shape.
        load_weekend_factor: weekend load level relative to weekdays (weekly mean kept).
        load_seasonal_amplitude: relative amplitude of the seasonal load factor (summer and
            winter peaks).
        load_noise_rel: relative standard deviation of the load AR(1) noise (2 h time constant).
        ev_plugged_night_share: share of the fleet plugged in at night.
        ev_commute_share_weekday: share of the plugged vehicles that drive away on weekdays.
        ev_commute_share_weekend: the same on weekends.
        ev_departure_hour: mean local departure hour.
        ev_departure_spread_h: standard deviation of departure times in hours.
        ev_arrival_hour: mean local arrival hour.
        ev_arrival_spread_h: standard deviation of arrival times in hours.
        ev_need_per_vehicle_pu: energy an arriving vehicle needs, per MWh of its battery.
        ev_time_jitter_h: day-to-day standard deviation of the mean departure/arrival hours.
    """

    seed: int = 0
    start: str = "2025-01-01"
    days: int = 365
    utc_offset_h: float = 0.0
    latitude_deg: float = 30.0
    longitude_deg: float = 0.0
    # day-ahead and real-time prices (currency/MWh)
    price_floor_per_mwh: float = -100.0
    price_cap_per_mwh: float = 1500.0
    price_mean_per_mwh: float = 380.0
    price_daily_amplitude: float = 0.45
    price_weekend_factor: float = 0.85
    price_seasonal_amplitude: float = 0.12
    price_volatility: float = 0.12
    price_noise_tau_h: float = 6.0
    spike_prob: float = 0.004
    spike_size_per_mwh: float = 700.0
    spike_duration_h: float = 1.0
    dip_prob: float = 0.04
    dip_size_per_mwh: float = 600.0
    rt_sigma_rel: float = 0.1
    rt_noise_tau_h: float = 1.0
    rt_spike_prob: float = 0.01
    rt_spike_size_rel: float = 1.0
    # intraday price, derived from DA and RT when no file gives it (currency/MWh)
    id_weight: float = 0.5
    id_sigma_rel: float = 0.0
    id_noise_tau_h: float = 1.0
    # grid carbon intensity (tCO2/MWh)
    grid_ef_mean_t_per_mwh: float = 0.53
    grid_ef_solar_swing_t_per_mwh: float = 0.2
    grid_ef_noise_t_per_mwh: float = 0.02
    grid_ef_min_t_per_mwh: float = 0.2
    grid_ef_max_t_per_mwh: float = 1.0
    # PV
    pv_derate: float = 0.85
    pv_clearness_mean: float = 0.7
    pv_cloud_persistence: float = 0.6
    pv_intraday_share: float = 0.3
    # wind
    wind_mean_cf: float = 0.3
    wind_tau_h: float = 18.0
    wind_seasonal_amplitude: float = 0.3
    wind_diurnal_amplitude: float = 0.2
    # load
    load_mean_pu: float = 0.6
    load_daily_amplitude: float = 0.45
    load_weekend_factor: float = 0.85
    load_seasonal_amplitude: float = 0.1
    load_noise_rel: float = 0.03
    # EV fleet (commuter depot)
    ev_plugged_night_share: float = 0.9
    ev_commute_share_weekday: float = 0.85
    ev_commute_share_weekend: float = 0.3
    ev_departure_hour: float = 7.5
    ev_departure_spread_h: float = 1.0
    ev_arrival_hour: float = 18.5
    ev_arrival_spread_h: float = 1.5
    ev_need_per_vehicle_pu: float = 0.35
    ev_time_jitter_h: float = 0.25

    def __post_init__(self) -> None:
        require_int("seed", self.seed, 0, MAX_SEED)
        require(
            isinstance(self.start, str) and _parse_date(self.start) is not None,
            "start",
            self.start,
            "an ISO date like '2025-01-01'",
        )
        require_int("days", self.days, 1, 36_600)
        first, end = date(1678, 1, 1), date(2262, 1, 1)  # nanosecond timestamps (vpp_gym.data.loader.to_ns)
        start = _parse_date(self.start)
        require(
            start is not None and first <= start and start.toordinal() + self.days <= end.toordinal(),
            "start",
            self.start,
            f"a date from {first} on whose {self.days} days (data.synthetic.days) end by {end}: the range of the "
            "nanosecond timestamps the series are held in",
        )
        require_range("utc_offset_h", self.utc_offset_h, -12.0, 14.0)
        require(
            float(self.utc_offset_h * 60).is_integer(), "utc_offset_h", self.utc_offset_h, "a whole number of minutes"
        )
        require_range("latitude_deg", self.latitude_deg, -66.0, 66.0)
        require_range("longitude_deg", self.longitude_deg, -180.0, 180.0)

        price_lo, price_hi = BY_NAME["price_da_per_mwh"].lo, BY_NAME["price_da_per_mwh"].hi
        require_range("price_floor_per_mwh", self.price_floor_per_mwh, price_lo, price_hi)
        require_range("price_cap_per_mwh", self.price_cap_per_mwh, price_lo, price_hi)
        require_range("price_mean_per_mwh", self.price_mean_per_mwh, price_lo, price_hi)
        require(
            self.price_floor_per_mwh < self.price_cap_per_mwh,
            "price_cap_per_mwh",
            self.price_cap_per_mwh,
            f"a number above price_floor_per_mwh={fmt_num(self.price_floor_per_mwh)}",
        )
        require(
            self.price_floor_per_mwh < self.price_mean_per_mwh < self.price_cap_per_mwh,
            "price_mean_per_mwh",
            self.price_mean_per_mwh,
            f"a number in ({fmt_num(self.price_floor_per_mwh)}, {fmt_num(self.price_cap_per_mwh)}) "
            "(between price_floor_per_mwh and price_cap_per_mwh)",
        )
        require(self.price_mean_per_mwh > 0, "price_mean_per_mwh", self.price_mean_per_mwh, "a positive number")
        require_range("price_daily_amplitude", self.price_daily_amplitude, 0.0, 1.0)
        require_range("price_weekend_factor", self.price_weekend_factor, 0.0, 2.0, lo_open=True)
        require_range("price_seasonal_amplitude", self.price_seasonal_amplitude, 0.0, 0.5)
        require_range("price_volatility", self.price_volatility, 0.0, 1.0)
        require_range("price_noise_tau_h", self.price_noise_tau_h, 0.0, 24.0 * 30, lo_open=True)
        require_range("spike_prob", self.spike_prob, 0.0, 1.0)
        require_range("spike_size_per_mwh", self.spike_size_per_mwh, 0.0, price_hi)
        require_range("spike_duration_h", self.spike_duration_h, 0.0, 24.0, lo_open=True)
        require_range("dip_prob", self.dip_prob, 0.0, 1.0)
        require_range("dip_size_per_mwh", self.dip_size_per_mwh, 0.0, price_hi)
        require_range("rt_sigma_rel", self.rt_sigma_rel, 0.0, 1.0)
        require_range("rt_noise_tau_h", self.rt_noise_tau_h, 0.0, 24.0 * 30, lo_open=True)
        require_range("rt_spike_prob", self.rt_spike_prob, 0.0, 1.0)
        require_range("rt_spike_size_rel", self.rt_spike_size_rel, 0.0, 10.0)
        require_range("id_weight", self.id_weight, 0.0, 1.0)
        require_range("id_sigma_rel", self.id_sigma_rel, 0.0, 1.0)
        require_range("id_noise_tau_h", self.id_noise_tau_h, 0.0, 24.0 * 30, lo_open=True)

        ef = BY_NAME["grid_ef_t_per_mwh"]
        require_range("grid_ef_min_t_per_mwh", self.grid_ef_min_t_per_mwh, ef.lo, ef.hi)
        require_range("grid_ef_max_t_per_mwh", self.grid_ef_max_t_per_mwh, ef.lo, ef.hi)
        require_range(
            "grid_ef_mean_t_per_mwh",
            self.grid_ef_mean_t_per_mwh,
            self.grid_ef_min_t_per_mwh,
            self.grid_ef_max_t_per_mwh,
        )
        require_range("grid_ef_solar_swing_t_per_mwh", self.grid_ef_solar_swing_t_per_mwh, 0.0, ef.hi)
        require_range("grid_ef_noise_t_per_mwh", self.grid_ef_noise_t_per_mwh, 0.0, ef.hi)

        require_range("pv_derate", self.pv_derate, 0.0, 1.0, lo_open=True)
        require_range("pv_clearness_mean", self.pv_clearness_mean, 0.05, 0.99)
        require_range("pv_cloud_persistence", self.pv_cloud_persistence, 0.0, 0.99)
        require_range("pv_intraday_share", self.pv_intraday_share, 0.0, 1.0)

        require_range("wind_mean_cf", self.wind_mean_cf, 0.02, 0.6)
        require_range("wind_tau_h", self.wind_tau_h, 0.0, 24.0 * 30, lo_open=True)
        require_range("wind_seasonal_amplitude", self.wind_seasonal_amplitude, 0.0, 2.0)
        require_range("wind_diurnal_amplitude", self.wind_diurnal_amplitude, 0.0, 2.0)

        load_hi = BY_NAME["load_pu"].hi
        require_range("load_mean_pu", self.load_mean_pu, 0.0, load_hi / 2, lo_open=True)
        require_range("load_daily_amplitude", self.load_daily_amplitude, 0.0, 1.0)
        require_range("load_weekend_factor", self.load_weekend_factor, 0.0, 2.0, lo_open=True)
        require_range("load_seasonal_amplitude", self.load_seasonal_amplitude, 0.0, 0.5)
        require_range("load_noise_rel", self.load_noise_rel, 0.0, 0.5)

        require_range("ev_plugged_night_share", self.ev_plugged_night_share, 0.0, 1.0, lo_open=True)
        require_range("ev_commute_share_weekday", self.ev_commute_share_weekday, 0.0, 1.0)
        require_range("ev_commute_share_weekend", self.ev_commute_share_weekend, 0.0, 1.0)
        require_range("ev_departure_spread_h", self.ev_departure_spread_h, 0.0, 6.0, lo_open=True)
        require_range("ev_arrival_spread_h", self.ev_arrival_spread_h, 0.0, 6.0, lo_open=True)
        require_range("ev_departure_hour", self.ev_departure_hour, 0.0, 24.0)
        require_range("ev_arrival_hour", self.ev_arrival_hour, 0.0, 24.0)
        require(
            self.ev_departure_hour + 3 * self.ev_departure_spread_h
            <= self.ev_arrival_hour - 3 * self.ev_arrival_spread_h,
            "ev_arrival_hour",
            self.ev_arrival_hour,
            "an hour at least 3 spreads after the departures (ev_departure_hour + "
            "3 * ev_departure_spread_h <= ev_arrival_hour - 3 * ev_arrival_spread_h)",
        )
        require_range("ev_need_per_vehicle_pu", self.ev_need_per_vehicle_pu, 0.0, 1.0)
        require_range("ev_time_jitter_h", self.ev_time_jitter_h, 0.0, 2.0)


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def check_interval_minutes(interval_minutes: int) -> None:
    """Raise :class:`ConfigError` naming ``interval_minutes`` unless it is a whole divisor of a day."""
    ok = (
        isinstance(interval_minutes, int | np.integer)
        and not isinstance(interval_minutes, bool)
        and 1 <= interval_minutes <= _MINUTES_PER_DAY
        and _MINUTES_PER_DAY % int(interval_minutes) == 0
    )
    require(ok, "interval_minutes", interval_minutes, "a whole number of minutes that divides 1440 (e.g. 5, 15, 60)")


def generate(cfg: SyntheticConfig, interval_minutes: int = 15) -> ScenarioSeries:
    """Generate ``cfg.days`` days of every schema column, starting at 00:00 UTC of ``cfg.start``.

    Args:
        cfg: the generator parameters.
        interval_minutes: the interval length; must divide 1440.

    Returns:
        The series with naive UTC interval-start timestamps and ``source="synthetic(seed=...)"``.

    Raises:
        ConfigError: if ``interval_minutes`` does not divide a day.
    """
    check_interval_minutes(interval_minutes)
    n = cfg.days * _MINUTES_PER_DAY // interval_minutes
    start = np.datetime64(date.fromisoformat(cfg.start), "D").astype("datetime64[ns]")
    timestamps = start + np.arange(n, dtype=np.int64) * np.timedelta64(int(interval_minutes), "m")
    values = generate_for_index(cfg, timestamps, interval_minutes)
    return ScenarioSeries(
        timestamps=timestamps,
        interval_minutes=int(interval_minutes),
        values=values,
        source=f"synthetic(seed={cfg.seed})",
    )


def generate_for_index(
    cfg: SyntheticConfig, timestamps: np.ndarray, interval_minutes: int, given: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Synthesize the schema columns on an arbitrary regular index (``cfg.start``/``days`` unused).

    Used by :func:`generate` and to fill the columns a user's files do not provide. Columns in
    ``given`` are returned unchanged (as float64 arrays); if ``given`` holds
    ``price_da_per_mwh``, ``price_rt_per_mwh`` is derived from it (given DA + seeded deviation);
    ``price_id_per_mwh``, unless given, is derived from the DA and RT prices, given or made
    (see the module docstring).

    Args:
        cfg: the generator parameters.
        timestamps: naive UTC interval starts (``datetime64``), strictly regular with step
            ``interval_minutes``.
        interval_minutes: the interval length; must divide 1440.
        given: columns already known, each of the timestamps' length.

    Returns:
        One float64 array per schema column and ``price_id_per_mwh`` (plus any extra columns of
        ``given``).

    Raises:
        ConfigError: if ``interval_minutes`` does not divide a day.
        ValueError: if the index is empty, not regular with that step, or a given array has the
            wrong length.
    """
    check_interval_minutes(interval_minutes)
    ts = np.asarray(timestamps).astype("datetime64[ns]")
    if ts.ndim != 1 or ts.size == 0:
        raise ValueError(f"timestamps: expected a non-empty 1-D datetime64 array, got shape {ts.shape}")
    step = np.timedelta64(int(interval_minutes), "m").astype("timedelta64[ns]")
    if ts.size > 1 and not np.all(np.diff(ts) == step):
        raise ValueError(f"timestamps: expected a regular index with a step of {interval_minutes} min")
    given = {} if given is None else given
    out: dict[str, np.ndarray] = {}
    for name, arr in given.items():
        a = np.asarray(arr, dtype=np.float64)
        if a.shape != ts.shape:
            raise ValueError(f"given[{name!r}]: shape {a.shape} does not match the {ts.size} timestamps")
        out[name] = a

    g = _Grid(cfg, ts, int(interval_minutes))
    streams = np.random.default_rng(cfg.seed).spawn(_N_STREAMS)
    pv = _pv_cf(cfg, g, streams[0], streams[1])
    made: dict[str, np.ndarray] = {}
    da = out["price_da_per_mwh"] if "price_da_per_mwh" in out else _price_da(cfg, g, streams[2:5])
    made["price_da_per_mwh"] = da
    made["price_rt_per_mwh"] = _price_rt(cfg, g, da, streams[5], streams[6])
    made["grid_ef_t_per_mwh"] = _grid_ef(cfg, g, pv, streams[7])
    made["pv_cf"] = pv
    made["wind_cf"] = _wind_cf(cfg, g, streams[8])
    made["load_pu"] = _load_pu(cfg, g, streams[9])
    made.update(_ev(cfg, g, streams[10]))
    for name in COLUMN_NAMES:
        if name not in out:
            out[name] = made[name]
    if "price_id_per_mwh" not in out:  # made after every other column, from a stream of its own
        out["price_id_per_mwh"] = _price_id(
            cfg, g, out["price_da_per_mwh"], out["price_rt_per_mwh"], streams[_ID_STREAM]
        )
    return out


def derive_price_id(
    cfg: SyntheticConfig, timestamps: np.ndarray, interval_minutes: int, price_da: np.ndarray, price_rt: np.ndarray
) -> np.ndarray:
    """The intraday price derived from day-ahead and real-time prices on a regular index.

    ``price_da + cfg.id_weight * (price_rt - price_da)`` plus, when ``cfg.id_sigma_rel > 0``, the
    seeded AR(1) deviation of the module docstring; the same numbers :func:`generate_for_index`
    makes on that index (same seed, same stream), for scenarios whose files give DA and RT.

    Args:
        cfg: the generator parameters (``id_weight``, ``id_sigma_rel``, ``id_noise_tau_h``,
            ``seed``, the price floor and cap).
        timestamps: naive UTC interval starts (``datetime64``), strictly regular with step
            ``interval_minutes``.
        interval_minutes: the interval length; must divide 1440.
        price_da: day-ahead prices, one per timestamp (currency/MWh).
        price_rt: real-time prices, one per timestamp (currency/MWh).

    Returns:
        The intraday price, float64, one per timestamp (currency/MWh).

    Raises:
        ConfigError: if ``interval_minutes`` does not divide a day.
        ValueError: if the prices do not match the timestamps' shape.
    """
    check_interval_minutes(interval_minutes)
    ts = np.asarray(timestamps).astype("datetime64[ns]")
    da = np.asarray(price_da, dtype=np.float64)
    rt = np.asarray(price_rt, dtype=np.float64)
    if ts.ndim != 1 or ts.size == 0 or da.shape != ts.shape or rt.shape != ts.shape:
        raise ValueError(
            f"derive_price_id: expected non-empty 1-D timestamps and prices of their shape, got {ts.shape}, "
            f"{da.shape}, {rt.shape}"
        )
    rng = np.random.default_rng(cfg.seed).spawn(_N_STREAMS)[_ID_STREAM]
    return _price_id(cfg, _Grid(cfg, ts, int(interval_minutes)), da, rt, rng)


class _Grid:
    """Time features of an index, computed once (integer seconds, so local hours are exact)."""

    def __init__(self, cfg: SyntheticConfig, ts: np.ndarray, interval_minutes: int) -> None:
        self.ts = ts
        self.n = ts.size
        self.dt_h = interval_minutes / 60.0
        utc_s = ts.astype("datetime64[s]").astype(np.int64)
        self.utc_s = utc_s
        local_s = utc_s + round(cfg.utc_offset_h * 3600)
        self.day = local_s // _SECONDS_PER_DAY  # local day number since 1970-01-01
        self.hour = (local_s % _SECONDS_PER_DAY) / 3600.0  # local hour of the interval start
        self.hour_mid = self.hour + self.dt_h / 2  # may reach 24 at the last interval of a day
        self.day0 = int(self.day[0])
        self.n_days = int(self.day[-1]) - self.day0 + 1
        self.day_idx = (self.day - self.day0).astype(np.intp)
        self.weekend = ((self.day + 3) % 7) >= 5  # 1970-01-01 was a Thursday (Monday = 0)
        days = self.day.astype("datetime64[D]")
        doy0 = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.float64)
        self.doy = doy0 + self.hour_mid / 24.0  # fractional local day of year, 0 = 1 January 00:00

    def ar1(self, rng: np.random.Generator, tau_h: float) -> np.ndarray:
        """A stationary unit-variance AR(1) sample with time constant ``tau_h`` on this grid."""
        return _ar1(rng, self.n, math.exp(-self.dt_h / tau_h))


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = rng.standard_normal(n)
    e[1:] *= math.sqrt(1.0 - phi * phi)
    return lfilter([1.0], [1.0, -phi], e)


def _bump(hour: np.ndarray, centre_h: float, width_h: float) -> np.ndarray:
    """Periodic (24 h) Gaussian bump of height 1."""
    d = (hour - centre_h + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (d / width_h) ** 2)


_FINE_HOURS = (np.arange(_MINUTES_PER_DAY) + 0.5) / 60.0


_Shape = Callable[[np.ndarray], np.ndarray]


def _normalised_shape(raw: _Shape) -> _Shape:
    """Wrap a raw daily shape so that it has mean 0 over the day and maximum 1."""
    fine = raw(_FINE_HOURS)
    mean = float(fine.mean())
    scale = float(fine.max()) - mean

    def shape(hour: np.ndarray) -> np.ndarray:
        return (raw(hour) - mean) / scale

    return shape


_price_shape = _normalised_shape(
    lambda h: 0.6 * _bump(h, 10.0, 1.6) + 1.0 * _bump(h, 19.5, 1.8) - 0.35 * _bump(h, 13.5, 1.5)
)
_load_shape = _normalised_shape(
    lambda h: 0.8 * _bump(h, 10.0, 2.0) + 1.0 * _bump(h, 19.5, 2.0) + 0.3 * _bump(h, 14.5, 2.5)
)
_SPIKE_WEIGHT_MEAN = float(np.maximum(_price_shape(_FINE_HOURS), 0.0).mean())


def _two_peak_season(doy: np.ndarray, amplitude: float) -> np.ndarray:
    """1 + amplitude * cos, peaking around 15 January and mid July (mean 1 over a year)."""
    return 1.0 + amplitude * np.cos(4.0 * np.pi * (doy - 14.0) / 365.25)


def _week_factor(weekend: np.ndarray, weekend_factor: float) -> np.ndarray:
    """Weekday/weekend factor with a weekly mean of 1."""
    weekday_level = 7.0 / (5.0 + 2.0 * weekend_factor)
    return np.where(weekend, weekend_factor * weekday_level, weekday_level)


def _events(
    rng: np.random.Generator, rate_per_h: np.ndarray, dt_h: float, median: np.ndarray | float, duration_h: float
) -> np.ndarray:
    """Spike events: Poisson starts, lognormal sizes, held ``duration_h`` (energy-consistent in dt)."""
    n = rate_per_h.size
    starts = rng.random(n) < -np.expm1(-rate_per_h * dt_h)
    size = np.asarray(median) * np.exp(0.5 * rng.standard_normal(n)) * min(1.0, duration_h / dt_h)
    start_size = np.where(starts, size, 0.0)
    hold = max(1, round(duration_h / dt_h))
    out = start_size.copy()
    for lag in range(1, min(hold, n)):
        np.maximum(out[lag:], start_size[:-lag], out=out[lag:])
    return out


def _price_da(cfg: SyntheticConfig, g: _Grid, rngs: list[np.random.Generator]) -> np.ndarray:
    noise_rng, spike_rng, dip_rng = rngs
    level = (
        cfg.price_mean_per_mwh
        * _two_peak_season(g.doy, cfg.price_seasonal_amplitude)
        * _week_factor(g.weekend, cfg.price_weekend_factor)
    )
    shape = _price_shape(g.hour_mid)
    price = (
        level
        * (1.0 + cfg.price_daily_amplitude * shape)
        * (1.0 + cfg.price_volatility * g.ar1(noise_rng, cfg.price_noise_tau_h))
    )
    rate = cfg.spike_prob * np.maximum(shape, 0.0) / _SPIKE_WEIGHT_MEAN
    price += _events(spike_rng, rate, g.dt_h, cfg.spike_size_per_mwh, cfg.spike_duration_h)
    dip_days = dip_rng.random(g.n_days) < cfg.dip_prob
    price -= np.where(dip_days[g.day_idx], cfg.dip_size_per_mwh * _bump(g.hour_mid, 13.0, 1.5), 0.0)
    return np.clip(price, cfg.price_floor_per_mwh, cfg.price_cap_per_mwh)


def _price_rt(
    cfg: SyntheticConfig, g: _Grid, da: np.ndarray, noise_rng: np.random.Generator, spike_rng: np.random.Generator
) -> np.ndarray:
    ref = np.maximum(np.abs(da), 0.2 * float(np.mean(np.abs(da))))
    rt = da + cfg.rt_sigma_rel * ref * g.ar1(noise_rng, cfg.rt_noise_tau_h)
    rate = np.full(g.n, cfg.rt_spike_prob)
    rt += _events(spike_rng, rate, g.dt_h, cfg.rt_spike_size_rel * ref, _RT_SPIKE_DURATION_H)
    lo = min(cfg.price_floor_per_mwh, float(da.min()))
    hi = max(cfg.price_cap_per_mwh, float(da.max()))
    return np.clip(rt, lo, hi)


def _price_id(cfg: SyntheticConfig, g: _Grid, da: np.ndarray, rt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    price = da + cfg.id_weight * (rt - da)
    if cfg.id_sigma_rel > 0.0:  # the stream is drawn only here: a deterministic price draws nothing
        ref = np.maximum(np.abs(da), 0.2 * float(np.mean(np.abs(da))))
        price = price + cfg.id_sigma_rel * ref * g.ar1(rng, cfg.id_noise_tau_h)
    lo = min(cfg.price_floor_per_mwh, float(da.min()), float(rt.min()))
    hi = max(cfg.price_cap_per_mwh, float(da.max()), float(rt.max()))
    return np.clip(price, lo, hi)


def _grid_ef(cfg: SyntheticConfig, g: _Grid, pv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ef = (
        cfg.grid_ef_mean_t_per_mwh
        + cfg.grid_ef_solar_swing_t_per_mwh * (float(pv.mean()) - pv)
        + cfg.grid_ef_noise_t_per_mwh * g.ar1(rng, 3.0)
    )
    return np.clip(ef, cfg.grid_ef_min_t_per_mwh, cfg.grid_ef_max_t_per_mwh)


def sun_elevation_sin(cfg: SyntheticConfig, utc_s: np.ndarray) -> np.ndarray:
    """Sine of the sun's elevation at UTC instants (seconds since 1970) for the configured site.

    Spencer's (1971) Fourier series for declination and equation of time; hour angle from the
    true solar time at ``cfg.longitude_deg``.
    """
    days = utc_s // _SECONDS_PER_DAY
    day_dt = days.astype("datetime64[D]")
    doy0 = (day_dt - day_dt.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.float64)
    hour = (utc_s - days * _SECONDS_PER_DAY) / 3600.0
    gam = 2.0 * np.pi / 365.0 * (doy0 + (hour - 12.0) / 24.0)
    decl = (
        0.006918
        - 0.399912 * np.cos(gam)
        + 0.070257 * np.sin(gam)
        - 0.006758 * np.cos(2 * gam)
        + 0.000907 * np.sin(2 * gam)
        - 0.002697 * np.cos(3 * gam)
        + 0.00148 * np.sin(3 * gam)
    )
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gam)
        - 0.032077 * np.sin(gam)
        - 0.014615 * np.cos(2 * gam)
        - 0.040849 * np.sin(2 * gam)
    )
    solar_min = hour * 60.0 + eot_min + 4.0 * cfg.longitude_deg
    omega = np.deg2rad(solar_min / 4.0 - 180.0)
    lat = math.radians(cfg.latitude_deg)
    return math.sin(lat) * np.sin(decl) + math.cos(lat) * np.cos(decl) * np.cos(omega)


def _clear_sky_cf(cfg: SyntheticConfig, utc_s: np.ndarray) -> np.ndarray:
    sin_e = sun_elevation_sin(cfg, utc_s)
    up = sin_e > 0.0
    s = np.where(up, sin_e, 1.0)
    elev_deg = np.rad2deg(np.arcsin(np.clip(s, -1.0, 1.0)))
    air_mass = 1.0 / (s + 0.50572 * (elev_deg + 6.07995) ** -1.6364)  # Kasten & Young (1989)
    ghi_w_m2 = 1.1 * 1353.0 * 0.7 ** (air_mass**0.678) * s  # Meinel beam + 10 % diffuse
    return np.where(up, np.minimum(1.0, cfg.pv_derate * ghi_w_m2 / 1000.0), 0.0)


def _pv_cf(
    cfg: SyntheticConfig, g: _Grid, day_rng: np.random.Generator, intraday_rng: np.random.Generator
) -> np.ndarray:
    # clear-sky output averaged over sub-intervals of at most 15 min (60 min = mean of 4 x 15 min)
    interval_s = round(g.dt_h * 3600)
    n_sub = max(1, math.ceil(interval_s / 900))
    offsets = ((np.arange(n_sub) + 0.5) * interval_s / n_sub).astype(np.int64)
    clear = _clear_sky_cf(cfg, (g.utc_s[:, None] + offsets[None, :]).ravel()).reshape(g.n, n_sub).mean(axis=1)
    z_day = _ar1(day_rng, g.n_days, cfg.pv_cloud_persistence)[g.day_idx]
    w = g.ar1(intraday_rng, 2.0)
    gauss = math.sqrt(1.0 - cfg.pv_intraday_share) * z_day + math.sqrt(cfg.pv_intraday_share) * w
    spread = 1.0
    centre = float(ndtri(cfg.pv_clearness_mean)) * math.sqrt(1.0 + spread**2)  # E[ndtr(a + bZ)] = mean
    clearness = ndtr(centre + spread * gauss)
    return np.clip(clear * clearness, 0.0, 1.0)


def _power_curve(speed_m_s: np.ndarray) -> np.ndarray:
    cf = (speed_m_s**3 - _WIND_CUT_IN_M_S**3) / (_WIND_RATED_M_S**3 - _WIND_CUT_IN_M_S**3)
    return np.where(speed_m_s >= _WIND_CUT_OUT_M_S, 0.0, np.clip(cf, 0.0, 1.0))


_WIND_QUANTILE_TERM = (-np.log1p(-(np.arange(4000) + 0.5) / 4000)) ** (1.0 / _WIND_WEIBULL_K)


def _weibull_scale_for_mean_cf(mean_cf: float) -> float:
    """Solve (bisection) the Weibull scale whose mean capacity factor is ``mean_cf``."""
    lo, hi = 0.5, 15.5  # the mean capacity factor increases with the scale on this bracket
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(_power_curve(mid * _WIND_QUANTILE_TERM).mean()) < mean_cf:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _wind_cf(cfg: SyntheticConfig, g: _Grid, rng: np.random.Generator) -> np.ndarray:
    a_s, a_d = cfg.wind_seasonal_amplitude, cfg.wind_diurnal_amplitude
    u = (
        g.ar1(rng, cfg.wind_tau_h)
        + a_s * np.cos(2.0 * np.pi * (g.doy - 29.0) / 365.25)
        + a_d * np.cos(2.0 * np.pi * (g.hour_mid - 3.0) / 24.0)
    )
    u /= math.sqrt(1.0 + 0.5 * a_s**2 + 0.5 * a_d**2)  # keep it close to a unit normal
    # Weibull speed through the normal quantile: -log(1 - Phi(u)) = -log Phi(-u), computed stably
    speed = _weibull_scale_for_mean_cf(cfg.wind_mean_cf) * (-log_ndtr(-u)) ** (1.0 / _WIND_WEIBULL_K)
    return _power_curve(speed)


def _load_pu(cfg: SyntheticConfig, g: _Grid, rng: np.random.Generator) -> np.ndarray:
    load = (
        cfg.load_mean_pu
        * _two_peak_season(g.doy, cfg.load_seasonal_amplitude)
        * _week_factor(g.weekend, cfg.load_weekend_factor)
        * (1.0 + cfg.load_daily_amplitude * _load_shape(g.hour_mid))
        * (1.0 + cfg.load_noise_rel * g.ar1(rng, 2.0))
    )
    return np.clip(load, BY_NAME["load_pu"].lo, BY_NAME["load_pu"].hi)


def _truncated_cdf(hour: np.ndarray, mean_h: np.ndarray, sd_h: float) -> np.ndarray:
    """CDF of a normal(mean, sd) truncated to [0, 24] hours: exactly 0 at 0 h and 1 at 24 h."""
    lo = ndtr(-mean_h / sd_h)
    hi = ndtr((24.0 - mean_h) / sd_h)
    return (ndtr((np.clip(hour, 0.0, 24.0) - mean_h) / sd_h) - lo) / (hi - lo)


def _ev(cfg: SyntheticConfig, g: _Grid, rng: np.random.Generator) -> dict[str, np.ndarray]:
    jitter = cfg.ev_time_jitter_h * rng.standard_normal((2, g.n_days))
    dep_mean = np.clip(cfg.ev_departure_hour + jitter[0], 0.0, 24.0)[g.day_idx]
    arr_mean = np.clip(cfg.ev_arrival_hour + jitter[1], 0.0, 24.0)[g.day_idx]
    commute = np.where(g.weekend, cfg.ev_commute_share_weekend, cfg.ev_commute_share_weekday)
    moving = cfg.ev_plugged_night_share * commute  # fleet share that leaves and comes back today
    h0, h1 = g.hour, g.hour + g.dt_h
    f_dep0 = _truncated_cdf(h0, dep_mean, cfg.ev_departure_spread_h)
    f_arr0 = _truncated_cdf(h0, arr_mean, cfg.ev_arrival_spread_h)
    departing = moving * (_truncated_cdf(h1, dep_mean, cfg.ev_departure_spread_h) - f_dep0)
    arriving = moving * (_truncated_cdf(h1, arr_mean, cfg.ev_arrival_spread_h) - f_arr0)
    plugged = np.clip(cfg.ev_plugged_night_share - moving * (f_dep0 - f_arr0), 0.0, 1.0)
    departure_share = np.divide(departing, plugged, out=np.zeros(g.n), where=plugged > 1e-12)
    return {
        "ev_plugged_share": plugged,
        "ev_arrival_need_pu": np.clip(arriving * cfg.ev_need_per_vehicle_pu, 0.0, 1.0),
        "ev_departure_share": np.clip(departure_share, 0.0, 1.0),
    }
