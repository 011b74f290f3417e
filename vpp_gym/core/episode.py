"""Episode assembly: the realised rows of ``B`` episodes, their forecasts, calendar, AGC signals and stacks.

Everything an episode needs is drawn here once, at reset, from the episode's generator; a step then
reads it by index (:mod:`vpp_gym.core.dynamics`, :mod:`vpp_gym.core.layout`), so a step's cost does
not grow with the episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from vpp_gym import rng as rnd
from vpp_gym.core import announcement, layout
from vpp_gym.core.columns import I_DA, I_ID, PRODUCT_COLUMNS
from vpp_gym.data.forecast import lead_growth
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.markets import PRODUCT_REGISTRY, demand_response, regulation
from vpp_gym.markets.clearing import competitor_stack

if TYPE_CHECKING:
    from vpp_gym.core.params import CoreParams


@dataclass(frozen=True, eq=False)
class EpisodeData:
    """Exogenous data of ``B`` episodes.

    Attributes:
        start: row of the scenario series where each episode starts, ``(B,)``.
        exo: realised values, ``(B, T, K)`` in :data:`ALL_NAMES` order; used by the settlement only.
        obs_exo: each step's observation with the state part zeroed: forecasts and calendar,
            ``(B, T+1, n_obs)`` float32.
        agc: AGC signal, ``(B, T, S)`` (regulation open) or None.
        stacks: competitor offer stacks per transaction-form market, ``name -> (mw, price)``, each ``(B, T, M)``.
        terminal_price: price of the stored energy at the episode end, ``(B,)`` (:func:`terminal_price`).
        id_price: the intraday price of every interval, ``(B, T)`` (day-ahead timeline with intraday
            gates: a gate trades intervals ahead of the step's own), or None.
        dr_baseline_mw: the demand-response baseline of every interval, ``(B, T)`` (``baseline:
            similar_days``, from the days before the episode:
            :func:`~vpp_gym.markets.demand_response.similar_days_baseline`), or None.
    """

    start: np.ndarray
    exo: np.ndarray
    obs_exo: np.ndarray
    agc: np.ndarray | None = None
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    terminal_price: np.ndarray | None = None
    id_price: np.ndarray | None = None
    dr_baseline_mw: np.ndarray | None = None


def episode_rows(p: CoreParams, series: ScenarioSeries, start: np.ndarray, history: int = 0) -> np.ndarray:
    """Realised values for rows ``start - history .. start + T + H`` (edge-padded outside the data),
    ``(B, history+T+H+1, K)``."""
    n = len(series)
    span = history + p.episode_steps + p.horizon + 1
    idx = np.clip(start[:, None] - history + np.arange(span)[None, :], 0, n - 1)
    return series.table[idx]


def forecast_windows_of(p: CoreParams, src: np.ndarray) -> np.ndarray:
    """Every step's realised forecast windows ``(n_cols, H, B, K+1)`` from the observed columns ``src``
    ``(n_cols, rows, B)`` (history-extended on the day-ahead timeline, :attr:`CoreParams.gate_sources`)."""
    K, H = p.steps, p.horizon
    if p.day_ahead:
        cols = np.arange(src.shape[0])[:, None, None]
        return src[cols, p.gate_sources].transpose(0, 1, 3, 2)  # (n_cols, H, K+1, B) -> (n_cols, H, B, K+1)
    idx = np.arange(K + 1)[:, None] + np.arange(H)[None, :]
    return src[:, idx].transpose(0, 2, 3, 1)


def forecast_errors(p: CoreParams) -> dict[str, tuple[float, bool]]:
    """``column -> (sigma, multiplicative)`` of the forecast error model (``ForecastConfig``) for every column.

    Energy prices: absolute sigma = relative sigma x ``price_ref``; capacity factors absolute; load,
    carbon intensity and ancillary prices relative. EV data, ancillary needs, reserve calls and
    demand-response events are known exactly (announced, or not forecast at all).
    """
    f = p.cfg.forecast
    sig = dict.fromkeys(ALL_NAMES, (0.0, False))
    sig.update(
        {
            "price_da_per_mwh": (f.price_da_sigma_rel * p.price_ref_per_mwh, False),
            "price_rt_per_mwh": (f.price_rt_sigma_rel * p.price_ref_per_mwh, False),
            "grid_ef_t_per_mwh": (f.grid_ef_sigma_rel, True),
            "pv_cf": (f.pv_sigma, False),
            "wind_cf": (f.wind_sigma, False),
            "load_pu": (f.load_sigma_rel, True),
        }
    )
    for spec in PRODUCT_REGISTRY:
        sig.update(dict.fromkeys(spec.noisy_series, (f.ancillary_price_sigma_rel, True)))
    return sig


@dataclass(frozen=True, eq=False)
class ForecastPlan:
    """How the observed forecasts are made from the realised series (all float32, see :func:`forecast_features`).

    Attributes:
        columns: positions in :data:`ALL_NAMES` of the observed columns (:attr:`CoreParams.observed_series`).
        noisy: positions (in ``columns``) of the columns with a forecast error, in draw order.
        exact: positions of the columns forecast exactly.
        sigma_lead: per noisy column, ``sigma * g(h)`` for the leads ``h = 0 .. H-1``, ``(n_noisy, H)``.
        relative: positions (in ``noisy``) of the columns whose error is relative.
        lo: per noisy column, lowest forecast value, ``(n_noisy, 1)``.
        hi: per noisy column, highest forecast value, ``(n_noisy, 1)``.
        scale_noisy: per noisy column, the observation's divisor (:meth:`CoreParams.obs_scale`), ``(n_noisy, 1)``.
        scale_exact: the same per exact column, ``(n_exact, 1)``.
    """

    columns: tuple[int, ...]
    noisy: np.ndarray
    exact: np.ndarray
    sigma_lead: np.ndarray
    relative: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    scale_noisy: np.ndarray
    scale_exact: np.ndarray


def forecast_plan(p: CoreParams) -> ForecastPlan:
    """The :class:`ForecastPlan` of a scenario (error model of ``ForecastConfig``, :func:`forecast_errors`)."""
    cols = p.observed_series
    sig = forecast_errors(p)
    noisy = [j for j, c in enumerate(cols) if sig[c][0] > 0.0]
    exact = [j for j in range(len(cols)) if j not in noisy]
    g = lead_growth(p.horizon, p.cfg.forecast.growth_cap)

    def column(values: list[float]) -> np.ndarray:
        return np.array(values, dtype=np.float32).reshape(-1, 1)

    return ForecastPlan(
        columns=tuple(ALL_NAMES.index(c) for c in cols),
        noisy=np.array(noisy, dtype=np.intp),
        exact=np.array(exact, dtype=np.intp),
        sigma_lead=np.array([sig[cols[j]][0] * g for j in noisy], dtype=np.float32).reshape(len(noisy), p.horizon),
        relative=np.array([n for n, j in enumerate(noisy) if sig[cols[j]][1]], dtype=np.intp),
        lo=column([p.lo[cols[j]] for j in noisy]),
        hi=column([p.hi[cols[j]] for j in noisy]),
        scale_noisy=column([p.obs_scale(cols[j]) for j in noisy]),
        scale_exact=column([p.obs_scale(cols[j]) for j in exact]),
    )


def draw_forecast_errors(p: CoreParams, rng: rnd.Rng, batch: int) -> np.ndarray | None:
    """Standard normal forecast errors ``(B, K+1, n_noisy, H)`` float32, one block per step (None if every
    forecast is exact); ``K`` = :attr:`CoreParams.steps`."""
    n = len(p.forecast.noisy)
    if n == 0:
        return None
    return rnd.normal(rng, (batch, p.steps + 1, n, p.horizon), np.float32)


def step_sigma(p: CoreParams) -> np.ndarray:
    """Day-ahead timeline: the forecast error scale of every step, ``(n_noisy, H, K+1)`` float32.

    A dispatch step's forecasts have the leads ``h = 0 .. H-1`` (``sigma g(h)``, as on the hour-ahead
    timeline); a bid step's forecast is the seasonal-naive one of the gate
    (:func:`vpp_gym.core.timeline.gate_sources`), whose error is the series' own day-to-day change:
    no error is added (0).
    """
    sig = np.broadcast_to(p.forecast.sigma_lead[:, :, None], (*p.forecast.sigma_lead.shape, p.steps + 1))
    return np.where(p.schedule.bid[None, None, :], np.float32(0.0), sig).astype(np.float32)


def forecast_features(
    p: CoreParams, windows: np.ndarray, z: np.ndarray | None, out: np.ndarray, sigma: np.ndarray | None = None
) -> None:
    """Write the observed forecasts of realised ``windows`` into ``out``, in float32.

    The formula of :mod:`vpp_gym.data.forecast` per noisy column, ``x + s z`` or ``x + s z x``
    (relative), clipped to the series range, then each column divided by its observation scale.
    Element-wise, so the single env (whole episode at once) and the vector env (one step at a time)
    get the same bits. Column and lead come first so that the batch can be the fastest axis.

    Args:
        p: parameters.
        windows: realised values ``(n_cols, H, ...)`` float32, ``[j, h, ...]`` column ``j`` at lead ``h``.
        z: matching standard normal draws ``(n_noisy, H, ...)`` (:func:`draw_forecast_errors`).
        out: ``(n_cols, H, ...)`` float32, written.
        sigma: the error scale ``(n_noisy, H, ...)`` (broadcast); default the plan's ``sigma_lead``.
    """
    fp = p.forecast
    tail = (None,) * (windows.ndim - 2)
    if len(fp.noisy):
        assert z is not None
        w = windows[fp.noisy]
        noise = z * (fp.sigma_lead[(..., *tail)] if sigma is None else sigma)
        if len(fp.relative):
            noise[fp.relative] *= w[fp.relative]
        w += noise
        np.clip(w, fp.lo[(..., *tail)], fp.hi[(..., *tail)], out=w)
        w /= fp.scale_noisy[(..., *tail)]
        out[fp.noisy] = w
    if len(fp.exact):
        out[fp.exact] = windows[fp.exact] / fp.scale_exact[(..., *tail)]


def calendar_features(p: CoreParams, series: ScenarioSeries, start: np.ndarray) -> np.ndarray:
    """Calendar part of the observation for steps ``0 .. K`` (local time), ``(B, K+1, n_cal)`` float32.

    A step's calendar is that of the interval it dispatches or bids for; ``progress`` is ``k / K``.
    """
    days, first = np.unique(start, return_inverse=True)
    if len(days) < len(start):  # a batch shares its days: each day's rows once (element-wise, the same values)
        return calendar_features(p, series, days)[first.reshape(-1)]
    K = p.steps
    batch = len(start)
    interval = p.schedule.interval if p.day_ahead else np.arange(K + 1)
    stamps = series.timestamps[np.minimum(start[:, None] + interval[None, :], len(series) - 1)]
    stamps = stamps + p.cfg.time.utc_offset
    minutes = (stamps - stamps.astype("datetime64[D]")) / np.timedelta64(1, "m")
    phase = 2.0 * np.pi * minutes / 1440.0
    weekday = (stamps.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    k_idx = np.broadcast_to(np.arange(K + 1)[None, :], (batch, K + 1))
    cal = [np.sin(phase), np.cos(phase), k_idx / K, (weekday >= 5).astype(np.float64)]
    cal += layout.calendar_values(p, np.broadcast_to(interval[None, :], (batch, K + 1)))
    return np.stack(cal, axis=2).astype(np.float32)


def forecast_source(p: CoreParams, rows: np.ndarray) -> np.ndarray:
    """The observed columns of :func:`episode_rows`, ``(n_cols, T+H+1, B)`` float32 (windows are slices of it)."""
    return np.ascontiguousarray(rows[:, :, list(p.forecast.columns)].transpose(2, 1, 0), dtype=np.float32)


def observed_table(p: CoreParams, series: ScenarioSeries) -> np.ndarray:
    """The observed columns of the whole series, ``(n_cols, n)`` float32 (:func:`source_rows` gathers from it)."""
    return np.ascontiguousarray(series.table[:, list(p.forecast.columns)].T, dtype=np.float32)


def source_rows(p: CoreParams, table: np.ndarray, start: np.ndarray) -> np.ndarray:
    """:func:`forecast_source` of the history-extended :func:`episode_rows`, ``(n_cols, history+T+H+1, B)``
    float32, gathered from :func:`observed_table` without the other columns' history (the same values)."""
    span = p.history_steps + p.episode_steps + p.horizon + 1
    idx = np.clip(start[None, :] - p.history_steps + np.arange(span)[:, None], 0, table.shape[1] - 1)
    return table[:, idx]


def draw_stacks(p: CoreParams, rows: np.ndarray, rng: rnd.Rng) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Competitor stacks of the transaction-form markets with competitors, ``name -> (mw, price)`` ``(B, T, M)``."""
    T = p.episode_steps
    batch = rows.shape[0]
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    em = p.cfg.markets.energy
    if p.energy_transaction and em.competitors.n_offers > 0:
        stacks["energy"] = competitor_stack(em.competitors, np.full((batch, T), em.need_mw), rows[:, :T, I_DA], rng)
    for prod, (i_need, i_price) in PRODUCT_COLUMNS.items():
        cfg = p.product(prod)
        if cfg is not None and cfg.form == "transaction" and cfg.competitors.n_offers > 0:
            stacks[prod] = competitor_stack(cfg.competitors, np.abs(rows[:, :T, i_need]), rows[:, :T, i_price], rng)
    return stacks


def draw_agc(p: CoreParams, rng: rnd.Rng, batch: int) -> np.ndarray | None:
    """The AGC signal ``(B, T, S)`` of each episode (None without regulation)."""
    reg = p.cfg.markets.regulation
    return None if reg is None else regulation.agc_signal(reg.agc, rng, batch, p.episode_steps)


def build_episode(p: CoreParams, series: ScenarioSeries, start: np.ndarray, rng: rnd.Rng) -> EpisodeData:
    """Slice the episodes' realised data; draw their forecasts, AGC signals and competitor stacks.

    ``rng`` is one generator for the batch or one per row (:mod:`vpp_gym.rng`); a row drawn from its
    own generator gets exactly what a batch of one built from that generator gets. Draw order: the
    AGC signal, the stacks of energy, regulation, reserve and demand response (those in the
    transaction form with competitors), then the forecast errors (:func:`draw_forecast_errors`, one
    block). The signal and the stacks come first because the products are the same whichever
    resources are present: removing a resource (Shapley coalitions) changes only the forecasts.
    """
    T, H, K = p.episode_steps, p.horizon, p.steps
    hist = episode_rows(p, series, start, p.history_steps)
    rows = hist[:, p.history_steps :]
    batch = len(start)
    n_cols = len(p.forecast.columns)
    obs_exo = np.zeros((batch, K + 1, p.n_obs), dtype=np.float32)  # the state part is filled by observe()
    cal = calendar_features(p, series, start)
    obs_exo[:, :, p.n_state_obs : p.n_state_obs + cal.shape[2]] = cal
    agc = draw_agc(p, rng, batch)
    stacks = draw_stacks(p, rows, rng)
    src = forecast_source(p, hist)  # (n_cols, history+T+H+1, B)
    windows = forecast_windows_of(p, src)  # (n_cols, H, B, K+1)
    if p.announced_columns:  # demand-response events, seen once announced (vpp_gym.core.announcement)
        announcement.mask_windows(p, windows, p.announce_mask[:, None, :])
    z = draw_forecast_errors(p, rng, batch)
    fc = np.empty((n_cols, H, batch, K + 1), dtype=np.float32)
    sigma = step_sigma(p)[:, :, None, :] if p.day_ahead else None
    forecast_features(p, windows, None if z is None else z.transpose(2, 3, 0, 1), fc, sigma)
    obs_exo[:, :, p.n_obs - n_cols * H :] = fc.transpose(2, 3, 0, 1).reshape(batch, K + 1, n_cols * H)
    dr_baseline = demand_response.similar_days_baseline(p, series, start)
    if announcement.active(p):
        ann = announcement.features(p, dr_baseline, np.broadcast_to(np.arange(K + 1)[None, :], (batch, K + 1)))
        obs_exo[:, :, p.announce_offset : p.announce_offset + ann.shape[2]] = ann
    return EpisodeData(
        start=start,
        exo=np.ascontiguousarray(rows[:, :T, :]),
        obs_exo=obs_exo,
        agc=agc,
        stacks=stacks,
        terminal_price=terminal_price(p, rows),
        id_price=intraday_prices(p, rows),
        dr_baseline_mw=dr_baseline,
    )


def intraday_prices(p: CoreParams, rows: np.ndarray) -> np.ndarray | None:
    """The intraday price ``(B, T)`` of every interval (day-ahead timeline with intraday gates), else None."""
    if not p.day_ahead or p.cfg.markets.energy.intraday is None:
        return None
    return np.ascontiguousarray(rows[:, : p.episode_steps, I_ID])


def terminal_price(p: CoreParams, rows: np.ndarray) -> np.ndarray:
    """Price of the energy stored at the episode end, ``(B,)`` (day-ahead timeline, ``terminal_value``).

    ``mean_da``: the mean day-ahead price of the episode's last day (published at its D-1 clearing, so
    known during the day); ``none`` (and the hour-ahead timeline): 0.
    """
    if not p.day_ahead or p.cfg.markets.energy.terminal_value == "none":
        return np.zeros(len(rows))
    T, n = p.episode_steps, p.schedule.day_steps
    return rows[:, T - n : T, I_DA].mean(axis=1)
