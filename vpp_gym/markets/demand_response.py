"""Demand response: events measured against a baseline, paid per MWh delivered, shortfall penalised.

Rules (:class:`~vpp_gym.markets.products.DemandResponseConfig`): an event asks for ``dr_need_mw``
(+ = consume less / inject more, - = the reverse; which days have events: :mod:`vpp_gym.data.ancillary`).
The response is the net injection's move against the **baseline** ``B`` in the event's direction,
net of deployed reserve ``D`` and regulation energy ``R`` (positive power = injection, so with a
baseline consumption ``C_B = -B`` and the actual net consumption ``C = -net`` a peak-shaving response
is ``C_B - C``, the Jiangsu formula below)::

    delivered = max(direction * (net - D - R - B), 0)

The baseline (``baseline``):

- ``passive`` (default, the v0 rule): the VPP's own passive net injection in the same interval
  (renewables at their available power, storage and EVs idle, base load, gas off): a perfect
  counterfactual, which no programme can meter.
- ``similar_days``: the event day's available renewable output ``G`` minus the **base load of similar
  days**: ``B[t] = G[t] - mean_s L[s, t]``, the mean over the ``baseline_days`` most recent **working
  days without a DR event** before the invitation day of the same interval's base load ``L = peak x
  load_pu``. Source: Jiangsu DR Implementation Rules (Trial), 2015 (``docs/market_rules.md``, section
  4): the baseline of a contracted response is the load curve of the response period on the 5 most
  recent normal working days before the invitation day; response = (baseline energy - metered energy)
  / duration. With the invitation at D-1 (an assumption), the days read are D-2 and earlier
  (:data:`BASELINE_LAG_DAYS`), all realised before the D-1 gate. Working days are Monday to Friday of
  the local calendar (public holidays are not in the data); an event day is a day with any non-zero
  ``dr_need_mw``. With fewer such days in the series, the mean is over those there are; with none
  (the first days of the series), it is the interval's own base load (the passive baseline).

  *Simplifications:* (1) the programmes baseline consumption; the VPP's renewables are measured
  against their own available output, as in the passive rule (a similar-days mean of wind or PV
  output would pay or charge the VPP for the weather). (2) The official baseline is the **metered**
  consumption of the past days, which depends on the VPP's own past dispatch (and can be gamed by
  consuming more on the days that set the baseline). Here it is the past days' **passive** base load
  from the series (``load_pu`` of those days times ``peak_mw``): it needs no state across episodes
  and cannot be gamed, but it differs from the event day's own base load as a metered baseline does:
  a VPP whose load is higher than on the baseline days must first cut the difference before it is
  paid, one whose load is lower is paid for the difference without doing anything. It is computed at reset
  (:func:`similar_days_baseline`, ``EpisodeData.dr_baseline_mw``) from the series rows before the
  episode, on either timeline. On the day-ahead timeline it is published with the D-1 invitation and
  observed from then on (``dr_baseline[t+h]``, :mod:`vpp_gym.core.announcement`).

The payment (``payment``), with ``A`` the accepted quantity, ``P`` the price and ``dt`` the interval:

- ``capped`` (default, the v0 rule): paid ``min(delivered, A) dt P``; shortfall
  ``max(A - delivered, 0) dt shortfall_penalty_per_mwh``.
- ``band`` (effective-response band): with ``lo = band_low_share``, ``hi = band_high_share``, paid
  ``delivered`` when ``lo A <= delivered <= hi A``, ``hi A`` above, nothing below ``lo A``:
  ``paid = (min(delivered, hi A) if delivered >= lo A else 0) dt P``; the shortfall below the band's
  lower edge is penalised: ``max(lo A - delivered, 0) dt shortfall_penalty_per_mwh``. Each interval of
  an event is assessed on its own (programmes assess the event's mean response; a simplification).
  Sources (``docs/market_rules.md``, section 4): a threshold share of the awarded response below which
  the response is ineffective and the gap to the threshold is assessed (``(awarded x R1 - actual) x
  price x M`` with R1 = 50 %, a provincial DR market rule seen in a mirror, **P**); response-rate
  coefficients that scale the compensation (Anhui, **P**). The 80-120 % band is an **assumption**.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.entries import Entry
from vpp_gym.markets.spec import ProductSpec
from vpp_gym.ops import Array

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval
    from vpp_gym.core.params import CoreParams
    from vpp_gym.data.series import ScenarioSeries

I_NEED = ALL_NAMES.index("dr_need_mw")
"""Column of the event's need in the exogenous rows."""
I_PV, I_WIND, I_LOAD = (ALL_NAMES.index(c) for c in ("pv_cf", "wind_cf", "load_pu"))
"""Columns of the passive generation and consumption (:func:`passive_parts_mw`)."""
BASELINE_LAG_DAYS = 2
"""The most recent day a ``similar_days`` baseline reads: D-2, the last day before the invitation day D-1."""


def passive_parts_mw(p: CoreParams, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The passive generation and consumption (MW) of exogenous rows ``(..., K)``: renewables at their
    available power ``p_pv cf_pv + p_wind cf_wind`` and the base load ``peak load``.

    ``generation - consumption`` is ``Dispatch.baseline`` (:mod:`vpp_gym.resources.renewable`,
    :mod:`vpp_gym.resources.flex_load`, in the same order); storage, EVs and gas add nothing.
    """
    r = p.cfg.resources
    gen = np.zeros(rows.shape[:-1])
    if r.pv is not None:
        gen = gen + r.pv.p_max_mw * rows[..., I_PV]
    if r.wind is not None:
        gen = gen + r.wind.p_max_mw * rows[..., I_WIND]
    load = r.flex_load.peak_mw * rows[..., I_LOAD] if r.flex_load is not None else np.zeros(rows.shape[:-1])
    return gen, load


def similar_days_baseline(p: CoreParams, series: ScenarioSeries, start: np.ndarray) -> np.ndarray | None:
    """The ``similar_days`` baseline (MW, net injection) of every interval of the episodes starting at rows
    ``start``, ``(B, T)`` (module docstring); None unless demand response is open with ``baseline: similar_days``.

    ``B[t] = G[t] - mean_s L[s, t]``: the interval's available renewable output ``G`` minus the base load
    ``L`` of the same interval of the ``baseline_days`` most recent days ``s <= d - 2`` that are working
    days without an event (``d`` the interval's local day), summed from the most recent on and divided by
    their number (``L[d, t]`` itself when there is none). Each row depends on its own start only (a batch
    gives each row the bits it gets alone).
    """
    dc = p.cfg.markets.demand_response
    if dc is None or dc.baseline != "similar_days":
        return None
    n_day = 1440 // p.cfg.time.interval_minutes
    day = (series.timestamps + p.cfg.time.utc_offset).astype("datetime64[D]").astype(np.int64)
    day_idx = day - day[0]  # local day of each row, from the series' first day
    n_days = int(day_idx[-1]) + 1
    event = np.bincount(day_idx, weights=(series.table[:, I_NEED] != 0.0), minlength=n_days) > 0
    weekday = (day[0] + np.arange(n_days) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    ok = (weekday < 5) & ~event
    ok_days = np.flatnonzero(ok)
    ok_before = np.cumsum(ok)  # ok days in [0, d]
    rows = start[:, None] + np.arange(p.episode_steps)[None, :]  # (B, T), inside the series
    d = day_idx[rows]
    last = d - BASELINE_LAG_DAYS
    k = np.where(last >= 0, ok_before[np.maximum(last, 0)], 0)  # ok days on or before D-2
    total = np.zeros(rows.shape)
    count = np.zeros(rows.shape)
    for j in range(dc.baseline_days):  # the j-th most recent ok day
        has = k - 1 - j >= 0
        past = np.where(has, rows - (d - ok_days[np.maximum(k - 1 - j, 0)]) * n_day, 0)
        has &= past >= 0  # the series starts inside that day
        total = total + np.where(has, passive_parts_mw(p, series.table[past])[1], 0.0)
        count = count + has
    gen, load = passive_parts_mw(p, series.table[rows])
    return gen - np.where(count > 0, total / np.maximum(count, 1.0), load)


def response_mw(c: Interval, d: Dispatch, need: Array, baseline: Array) -> Array:
    """The VPP's own response in the direction of a call ``need`` (+ = inject more, - = consume more), MW:
    ``max(sign(need) (P - reserve deployed - regulation energy - baseline), 0)``, 0 without a call.
    Demand response and peak regulation measure their deliveries with it."""
    xp = c.xp
    direction = xp.where(need > 0.0, 1.0, xp.where(need < 0.0, -1.0, 0.0))
    own = d.net - c.led.get("reserve.delivered_mw", c.zero) - d.reg_energy_mw - baseline
    return xp.maximum(direction * own, 0.0)


def settle(c: Interval, d: Dispatch, accepted: dict[str, Any]) -> None:
    """Pay the response against the baseline; penalise the shortfall (module docstring)."""
    xp, dt, led = c.xp, c.dt, c.led
    dc = c.p.cfg.markets.demand_response
    assert dc is not None  # the step runs only while the product is open
    baseline = d.baseline
    if dc.baseline == "similar_days":
        assert c.ep is not None and c.ep.dr_baseline_mw is not None
        base = c.ep.dr_baseline_mw[c.at]
        baseline = base if c.batched else float(base[0])
    delivered = response_mw(c, d, c.x[I_NEED], baseline)
    acc = accepted["demand_response"]
    led["demand_response.delivered_mw"] = delivered
    if dc.payment == "band":
        floor = dc.band_low_share * acc
        paid = xp.where(delivered >= floor, xp.minimum(delivered, dc.band_high_share * acc), 0.0)
        led["demand_response.cash"] = paid * dt * led["demand_response.price"]
        led["penalty.dr_shortfall"] = xp.maximum(floor - delivered, 0.0) * (dt * dc.shortfall_penalty_per_mwh)
        return
    led["demand_response.cash"] = xp.minimum(delivered, acc) * dt * led["demand_response.price"]
    led["penalty.dr_shortfall"] = xp.maximum(acc - delivered, 0.0) * (dt * dc.shortfall_penalty_per_mwh)


SPEC = ProductSpec(
    name="demand_response",
    label="demand response",
    need_column="dr_need_mw",
    price_column="dr_price_per_mwh",
    series=("dr_need_mw", "dr_price_per_mwh"),
    extra_entries=(
        Entry("demand_response.delivered_mw", "power", "MW", "demand response: response against the baseline"),
    ),
    settle=settle,
)
"""Demand response's declaration to the core (:mod:`vpp_gym.markets.spec`)."""
