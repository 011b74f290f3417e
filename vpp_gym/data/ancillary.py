"""Ancillary-service series: regulation, reserve and demand-response needs, prices and calls.

These columns extend the schema (``schema.ANCILLARY_COLUMNS``). A user's file may provide any of them;
the rest are synthesized by :func:`generate_ancillary` from the scenario's day-ahead price, so
that ancillary prices rise and fall with energy prices. ``h`` is the hour of day of the interval
start in local time (``utc_offset_h``), ``u`` a unit AR(1) noise, ``m`` the mean absolute DA price:

- ``reg_need_mw = reg_need_mw * (1 + reg_need_daily_amplitude * (B(h, 8) + B(h, 19)) / 2)``
  (more regulation around the morning and evening ramps; ``B(h, c)`` a Gaussian bump at ``c`` h);
- ``reg_cap_price_per_mw = reg_cap_price_per_mw * (1 - k + k * DA / m) * (1 + vol * u)`` with
  ``k = price_da_coupling`` (per MW of capacity per hour), clipped at 0; the mileage price
  ``reg_mileage_price_per_mw`` (per MW of mileage) likewise with its own noise;
- ``reserve_need_mw`` like the regulation need; ``reserve_price_per_mw`` like the capacity price;
- ``reserve_call_share``: deployment calls, starting as a Poisson process of
  ``reserve_call_rate_per_day``, each held ``reserve_call_duration_h`` at a share drawn uniformly in
  ``[reserve_call_share_min, 1]`` of the accepted reserve; 0 otherwise;
- ``dr_need_mw``: on the peak-shaving days a peak-shaving event (need ``+dr_need_mw``: consume less /
  inject more) of ``dr_duration_h`` starting at ``dr_peak_hour``; on the valley-filling days (not also
  peak-shaving days) a valley-filling event (need ``-dr_need_mw``) starting at ``dr_valley_hour``; 0
  otherwise; ``dr_price_per_mwh`` is the event's compensation price (``dr_peak_price_per_mwh`` or
  ``dr_valley_price_per_mwh``) during events and 0 otherwise. Which days (``dr_event_rule``):

  * ``random`` (default, the v0 rule): each local day independently, with probability
    ``dr_peak_day_prob`` (peak shaving) and ``dr_valley_day_prob`` (valley filling), whatever the
    day's prices; at the default 0.25 that is about 90 peak-shaving days a year, far more than any
    programme calls.
  * ``scarcity``: the grid calls peak shaving on its scarcest days and valley filling on its days of
    surplus. A day's scarcity is its highest day-ahead price (surplus: its lowest), ties broken by
    the day's mean price and then by date (earlier first). Day ``d`` is a peak-shaving day when its
    rank among the days of its window (``dr_scarcity_window_days`` days centred on ``d``, cut at the
    ends of the series; rank 1 = the highest peak price) is at most
    ``floor(dr_peak_days_per_year / 365 * days in the window + 1/2)``; valley filling likewise with
    the lowest prices and ``dr_valley_days_per_year``. Over a year of stationary prices that is
    ``dr_peak_days_per_year`` events a year, on the top days of the season. Nothing is drawn.
    Sources (``docs/market_rules.md``, section 4): the number of events a year is not published
    (assumption: 10 peak-shaving and 5 valley-filling days a year); calling events on the days of
    the largest supply-demand gap is the stated purpose of the programmes (Hainan 2025: "可预见的电力
    供需缺口"); ranking the days by the day-ahead price is the modelling choice (the price is the
    spot market's scarcity signal).

  Announcement: an event is a day-ahead invitation (日前邀约) announced at D-1 (Hainan 2025 notifies
  2 days ahead; D-1 is an assumption): the series are the announcement. On the day-ahead timeline it
  is made at ``markets.demand_response.announce_hour`` of D-1, before the gate, and observed exactly
  from then on (:mod:`vpp_gym.core.announcement`); on the hour-ahead timeline the forecasts carry no
  error for the events (:func:`vpp_gym.core.episode.forecast_errors`). The ``scarcity`` ranking reads
  the whole day's day-ahead prices, which clear after the gate, so an announced event tells of a
  scarce day before its auction: the grid's forecast of the day's gap is taken to be perfect (an
  invitation is made for a foreseeable gap; a simplification). Intraday (emergency) events,
  announced hours ahead, are not generated.
- ``peak_reg_need_mw`` (peak regulation, :mod:`vpp_gym.markets.peak_regulation`): valley filling (need
  ``-peak_reg_need_mw * u``) in the night valley ``[peak_reg_night_hour, + peak_reg_night_duration_h)``
  and in the midday solar valley ``[peak_reg_midday_hour, + peak_reg_midday_duration_h)``, each called
  on a share ``peak_reg_valley_day_prob`` of days; peak shaving (need ``+peak_reg_need_mw * u``) in
  ``[peak_reg_peak_hour, + peak_reg_peak_duration_h)`` on a share ``peak_reg_peak_day_prob`` of days
  (0 by default: peak regulation in China is mostly downward); ``u`` uniform in
  ``[peak_reg_need_min_share, 1]`` per call; never inside a demand-response event (the grid does not
  buy the same move twice) and valley before peak where they overlap; 0 otherwise.
  ``peak_reg_price_per_mwh`` is the call's base compensation (``peak_reg_price_per_mwh`` for valley
  filling, ``peak_reg_peak_price_per_mwh`` for peak shaving) during calls and 0 otherwise. These are
  drawn from a stream of their own, after and independent of every other column's, so that adding
  them left every other series bit for bit the same. A window that crosses midnight is split: the
  part after midnight belongs to the next day's draw.

Default levels are illustrative of Chinese provincial ancillary-service and demand-response
programmes (capacity and mileage prices of a few to a few tens of CNY per MW, DR compensation of
a few CNY per kWh at peak); they are synthetic, not any market's data. The peak-regulation price,
300 CNY/MWh for valley filling, is Henan's storage compensation (up to 0.3 CNY/kWh; the peak-shaving
400 and the windows are assumptions; ``docs/market_rules.md`` section 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from vpp_gym.data.schema import ANCILLARY_COLUMNS, ANCILLARY_NAMES
from vpp_gym.data.synthetic import _ar1, _bump
from vpp_gym.validation import MAX_SEED, require, require_int, require_range

__all__ = ["ANCILLARY_COLUMNS", "ANCILLARY_NAMES", "AncillaryConfig", "generate_ancillary"]


@dataclass(frozen=True)
class AncillaryConfig:
    """Parameters of the synthetic ancillary-service series (see the module docstring).

    The demand-response event days follow ``dr_event_rule``: ``random`` uses ``dr_peak_day_prob`` and
    ``dr_valley_day_prob``; ``scarcity`` uses ``dr_peak_days_per_year``, ``dr_valley_days_per_year``
    and ``dr_scarcity_window_days`` (each set only has an effect under its rule).
    """

    seed: int = 0
    utc_offset_h: float = 0.0
    reg_need_mw: float = 8.0
    reg_need_daily_amplitude: float = 0.3
    reg_cap_price_per_mw: float = 12.0
    reg_mileage_price_per_mw: float = 6.0
    reserve_need_mw: float = 6.0
    reserve_price_per_mw: float = 8.0
    price_da_coupling: float = 0.4
    price_volatility: float = 0.2
    price_noise_tau_h: float = 3.0
    reserve_call_rate_per_day: float = 1.0
    reserve_call_duration_h: float = 1.0
    reserve_call_share_min: float = 0.3
    dr_need_mw: float = 2.0
    dr_peak_day_prob: float = 0.25
    dr_valley_day_prob: float = 0.15
    dr_peak_hour: float = 18.0
    dr_valley_hour: float = 12.0
    dr_duration_h: float = 2.0
    dr_peak_price_per_mwh: float = 2000.0
    dr_valley_price_per_mwh: float = 500.0
    dr_event_rule: Literal["random", "scarcity"] = "random"
    dr_peak_days_per_year: float = 10.0
    dr_valley_days_per_year: float = 5.0
    dr_scarcity_window_days: int = 365
    peak_reg_need_mw: float = 2.0
    peak_reg_need_min_share: float = 0.5
    peak_reg_valley_day_prob: float = 0.5
    peak_reg_night_hour: float = 0.0
    peak_reg_night_duration_h: float = 6.0
    peak_reg_midday_hour: float = 11.0
    peak_reg_midday_duration_h: float = 3.0
    peak_reg_peak_day_prob: float = 0.0
    peak_reg_peak_hour: float = 18.0
    peak_reg_peak_duration_h: float = 2.0
    peak_reg_price_per_mwh: float = 300.0
    peak_reg_peak_price_per_mwh: float = 400.0

    def __post_init__(self) -> None:
        k = "data.ancillary."
        require_int(k + "seed", self.seed, 0, MAX_SEED)
        require_range(k + "utc_offset_h", self.utc_offset_h, -12.0, 14.0)
        for name in (
            "reg_need_mw",
            "reg_cap_price_per_mw",
            "reg_mileage_price_per_mw",
            "reserve_need_mw",
            "reserve_price_per_mw",
            "dr_need_mw",
            "dr_peak_price_per_mwh",
            "dr_valley_price_per_mwh",
            "reserve_call_rate_per_day",
            "peak_reg_need_mw",
            "peak_reg_price_per_mwh",
            "peak_reg_peak_price_per_mwh",
        ):
            require_range(k + name, getattr(self, name), 0.0, 1e5)
        for name in (
            "reg_need_daily_amplitude",
            "price_da_coupling",
            "price_volatility",
            "reserve_call_share_min",
            "dr_peak_day_prob",
            "dr_valley_day_prob",
            "peak_reg_need_min_share",
            "peak_reg_valley_day_prob",
            "peak_reg_peak_day_prob",
        ):
            require_range(k + name, getattr(self, name), 0.0, 1.0)
        require_range(k + "price_noise_tau_h", self.price_noise_tau_h, 0.0, 24.0 * 30, lo_open=True)
        require_range(k + "reserve_call_duration_h", self.reserve_call_duration_h, 0.0, 24.0, lo_open=True)
        require_range(k + "dr_duration_h", self.dr_duration_h, 0.0, 24.0, lo_open=True)
        require_range(k + "dr_peak_hour", self.dr_peak_hour, 0.0, 24.0, hi_open=True)
        require_range(k + "dr_valley_hour", self.dr_valley_hour, 0.0, 24.0, hi_open=True)
        rules = ("random", "scarcity")
        require(self.dr_event_rule in rules, k + "dr_event_rule", self.dr_event_rule, "'random' or 'scarcity'")
        require_range(k + "dr_peak_days_per_year", self.dr_peak_days_per_year, 0.0, 366.0)
        require_range(k + "dr_valley_days_per_year", self.dr_valley_days_per_year, 0.0, 366.0)
        require_int(k + "dr_scarcity_window_days", self.dr_scarcity_window_days, 1, 3660)
        for window in ("night", "midday", "peak"):
            require_range(
                k + f"peak_reg_{window}_hour", getattr(self, f"peak_reg_{window}_hour"), 0.0, 24.0, hi_open=True
            )
            duration = f"peak_reg_{window}_duration_h"
            require_range(k + duration, getattr(self, duration), 0.0, 24.0)


def _daily_window(
    hour: np.ndarray, day: np.ndarray, rng: np.random.Generator, prob: float, start_h: float, duration_h: float
) -> np.ndarray:
    """True inside ``[start_h, start_h + duration_h)`` on the days drawn with probability ``prob``."""
    days = np.unique(day)
    chosen = set(days[rng.random(days.size) < prob].tolist())
    on_day = (
        np.fromiter((d in chosen for d in day.tolist()), dtype=bool, count=day.size)
        if chosen
        else np.zeros(day.size, dtype=bool)
    )
    rel = (hour - start_h) % 24.0
    return on_day & (rel < duration_h)


def _ranked_days(key: np.ndarray, tiebreak: np.ndarray, per_year: float, window_days: int) -> np.ndarray:
    """The days (positions in ``key``) that rank high enough in their window (module docstring, ``scarcity``).

    Day ``d`` ranks by ``key`` (highest first), ties by ``tiebreak`` (highest first), then by position
    (earliest first); it is chosen when its rank among the days of the window of ``window_days``
    centred on it (cut at the ends) is at most ``floor(per_year / 365 * days in the window + 1/2)``.
    """
    n = len(key)
    order = np.lexsort((np.arange(n), -tiebreak, -key))  # strongest first
    strength = np.empty(n, dtype=np.int64)
    strength[order] = np.arange(n, 0, -1)  # n = the strongest day
    half = window_days // 2
    chosen = np.zeros(n, dtype=bool)
    for d in range(n):
        lo, hi = max(d - half, 0), min(d - half + window_days, n)
        allowed = math.floor(per_year / 365.0 * (hi - lo) + 0.5)
        rank = 1 + int(np.count_nonzero(strength[lo:hi] > strength[d]))
        chosen[d] = rank <= allowed
    return chosen


def _scarcity_windows(
    cfg: AncillaryConfig, hour: np.ndarray, day: np.ndarray, price_da: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The peak-shaving and valley-filling event intervals under ``dr_event_rule: scarcity`` (module docstring)."""
    days, inverse = np.unique(day, return_inverse=True)
    peak_price = np.full(len(days), -np.inf)
    low_price = np.full(len(days), np.inf)
    np.maximum.at(peak_price, inverse, price_da)
    np.minimum.at(low_price, inverse, price_da)
    mean_price = np.bincount(inverse, weights=price_da, minlength=len(days)) / np.bincount(inverse)
    w = cfg.dr_scarcity_window_days
    peak_day = _ranked_days(peak_price, mean_price, cfg.dr_peak_days_per_year, w)
    valley_day = _ranked_days(-low_price, -mean_price, cfg.dr_valley_days_per_year, w)
    peak = peak_day[inverse] & ((hour - cfg.dr_peak_hour) % 24.0 < cfg.dr_duration_h)
    valley = valley_day[inverse] & ((hour - cfg.dr_valley_hour) % 24.0 < cfg.dr_duration_h)
    return peak, valley


def generate_ancillary(
    cfg: AncillaryConfig, timestamps: np.ndarray, interval_minutes: int, price_da: np.ndarray
) -> dict[str, np.ndarray]:
    """Synthesize every ancillary column on the index (see the module docstring)."""
    n = len(timestamps)
    dt_h = interval_minutes / 60.0
    rngs = np.random.default_rng(cfg.seed).spawn(7)  # the 7th (peak regulation) leaves the first six unchanged
    local_s = timestamps.astype("datetime64[s]").astype(np.int64) + round(cfg.utc_offset_h * 3600)
    day = local_s // 86_400
    hour = (local_s % 86_400) / 3600.0
    ramp = 1.0 + cfg.reg_need_daily_amplitude * 0.5 * (_bump(hour, 8.0, 2.0) + _bump(hour, 19.0, 2.0))
    m = float(np.mean(np.abs(price_da))) or 1.0
    coupling = np.maximum(1.0 - cfg.price_da_coupling + cfg.price_da_coupling * price_da / m, 0.0)

    def price(level: float, rng: np.random.Generator) -> np.ndarray:
        noise = 1.0 + cfg.price_volatility * _ar1(rng, n, math.exp(-dt_h / cfg.price_noise_tau_h))
        return np.maximum(level * coupling * noise, 0.0)

    calls_rng = rngs[3]
    starts = calls_rng.random(n) < -math.expm1(-cfg.reserve_call_rate_per_day * dt_h / 24.0)
    shares = np.where(starts, calls_rng.uniform(cfg.reserve_call_share_min, 1.0, n), 0.0)
    hold = max(1, round(cfg.reserve_call_duration_h / dt_h))
    call = shares.copy()
    for lag in range(1, min(hold, n)):
        np.maximum(call[lag:], shares[:-lag], out=call[lag:])
    if cfg.dr_event_rule == "scarcity":  # deterministic: the streams 4 and 5 are left undrawn
        peak, valley = _scarcity_windows(cfg, hour, day, price_da)
        valley &= ~peak
    else:
        peak = _daily_window(hour, day, rngs[4], cfg.dr_peak_day_prob, cfg.dr_peak_hour, cfg.dr_duration_h)
        valley = (
            _daily_window(hour, day, rngs[5], cfg.dr_valley_day_prob, cfg.dr_valley_hour, cfg.dr_duration_h) & ~peak
        )
    dr_need = np.where(peak, cfg.dr_need_mw, np.where(valley, -cfg.dr_need_mw, 0.0))
    return {
        "reg_need_mw": cfg.reg_need_mw * ramp,
        "reg_cap_price_per_mw": price(cfg.reg_cap_price_per_mw, rngs[0]),
        "reg_mileage_price_per_mw": price(cfg.reg_mileage_price_per_mw, rngs[1]),
        "reserve_need_mw": cfg.reserve_need_mw * ramp,
        "reserve_price_per_mw": price(cfg.reserve_price_per_mw, rngs[2]),
        "reserve_call_share": call,
        "dr_need_mw": dr_need,
        "dr_price_per_mwh": np.where(
            peak, cfg.dr_peak_price_per_mwh, np.where(valley, cfg.dr_valley_price_per_mwh, 0.0)
        ),
        **_peak_regulation(cfg, hour, day, rngs[6], dr_need != 0.0),
    }


def _peak_regulation(
    cfg: AncillaryConfig, hour: np.ndarray, day: np.ndarray, rng: np.random.Generator, dr_event: np.ndarray
) -> dict[str, np.ndarray]:
    """The peak-regulation call and base price (module docstring), from the stream ``rng`` alone."""
    night = _daily_window(
        hour, day, rng, cfg.peak_reg_valley_day_prob, cfg.peak_reg_night_hour, cfg.peak_reg_night_duration_h
    )
    midday = _daily_window(
        hour, day, rng, cfg.peak_reg_valley_day_prob, cfg.peak_reg_midday_hour, cfg.peak_reg_midday_duration_h
    )
    peak = _daily_window(
        hour, day, rng, cfg.peak_reg_peak_day_prob, cfg.peak_reg_peak_hour, cfg.peak_reg_peak_duration_h
    )
    days, inverse = np.unique(day, return_inverse=True)
    share = rng.uniform(cfg.peak_reg_need_min_share, 1.0, (3, days.size))[:, inverse]  # per day and window
    valley = (night | midday) & ~dr_event
    peak = peak & ~valley & ~dr_event
    size = cfg.peak_reg_need_mw * np.where(night, share[0], share[1])
    need = np.where(valley, -size, np.where(peak, cfg.peak_reg_need_mw * share[2], 0.0))
    price = np.where(valley, cfg.peak_reg_price_per_mwh, np.where(peak, cfg.peak_reg_peak_price_per_mwh, 0.0))
    return {"peak_reg_need_mw": need, "peak_reg_price_per_mwh": price}
