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
- ``dr_need_mw``: on a share ``dr_peak_day_prob`` of days a peak-shaving event (need ``+dr_need_mw``:
  consume less / inject more) of ``dr_duration_h`` starting at ``dr_peak_hour``; on a share
  ``dr_valley_day_prob`` of days a valley-filling event (need ``-dr_need_mw``) starting at
  ``dr_valley_hour``; 0 otherwise; ``dr_price_per_mwh`` is the event's compensation price
  (``dr_peak_price_per_mwh`` or ``dr_valley_price_per_mwh``) during events and 0 otherwise;
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

import numpy as np

from vpp_gym.data.schema import ANCILLARY_COLUMNS, ANCILLARY_NAMES
from vpp_gym.data.synthetic import _ar1, _bump
from vpp_gym.validation import MAX_SEED, require_int, require_range

__all__ = ["ANCILLARY_COLUMNS", "ANCILLARY_NAMES", "AncillaryConfig", "generate_ancillary"]


@dataclass(frozen=True)
class AncillaryConfig:
    """Parameters of the synthetic ancillary-service series (see the module docstring)."""

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
    peak = _daily_window(hour, day, rngs[4], cfg.dr_peak_day_prob, cfg.dr_peak_hour, cfg.dr_duration_h)
    valley = _daily_window(hour, day, rngs[5], cfg.dr_valley_day_prob, cfg.dr_valley_hour, cfg.dr_duration_h) & ~peak
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
