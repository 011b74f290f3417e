"""The action and observation layouts, written once, from the registered resource specs and the open markets.

Action: ``da_position`` (and ``da_price`` in the transaction form), then each present resource's
components (:attr:`~vpp_gym.resources.spec.ResourceSpec.actions`), then ``<product>_mw`` (and
``<product>_price`` in the transaction form) per open capacity product. Observation: the state
rows (each present resource's, the carbon position when the carbon settlement is stateful, the
last regulation score, the committed positions and their offer prices), the calendar rows, the
demand-response announcement rows (day-ahead timeline with demand response open:
:mod:`vpp_gym.core.announcement`), then the forecast of every observed column for leads ``0 .. H-1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vpp_gym.core import announcement
from vpp_gym.core.columns import I_REG_NEED, PRODUCT_SERIES
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.markets import carbon
from vpp_gym.ops import SCALAR, Array
from vpp_gym.resources.spec import ObsRow
from vpp_gym.validation import fmt_num

if TYPE_CHECKING:
    from vpp_gym.core.episode import EpisodeData
    from vpp_gym.core.params import CoreParams, State

DA_CURVE_ACTIONS = ("da_low", "da_high", "da_price", "da_spread")
"""The day-ahead offer curve's components (day-ahead timeline; :mod:`vpp_gym.core.timeline`)."""
MARKET_SERIES = ("price_da_per_mwh", "price_rt_per_mwh", "grid_ef_t_per_mwh")
"""Columns observed in every scenario (energy prices and the grid's carbon intensity)."""
CALENDAR_ROWS: tuple[ObsRow, ...] = (
    ("tod_sin", -1.0, 1.0, "sin(2 pi time of day)"),
    ("tod_cos", -1.0, 1.0, "cos(2 pi time of day)"),
    ("progress", 0.0, 1.0, "t / T"),
    ("weekend", 0.0, 1.0, "1 on Saturday and Sunday"),
)
"""Calendar rows of every scenario (resources may add their own after them)."""


def action_names(p: CoreParams) -> tuple[str, ...]:
    """Names of the action components, in order (see the module docstring)."""
    if p.day_ahead:
        names = list(DA_CURVE_ACTIONS)
    else:
        names = ["da_position"]
        if p.energy_transaction:
            names.append("da_price")
    for spec, prm in p.resources_by("action_rank"):
        names += [name for name, _doc in spec.actions(prm)]
    if p.day_ahead and p.cfg.markets.energy.intraday is not None:
        names += [f"id_mw_{j}" for j in range(p.cfg.markets.energy.intraday.gate_spacing_steps)]
    for prod in p.open_products:
        names.append(f"{prod}_mw")
        if p.product(prod).form == "transaction":  # type: ignore[union-attr]
            names.append(f"{prod}_price")
    return tuple(names)


def observed_series(p: CoreParams) -> tuple[str, ...]:
    """Columns whose forecasts are in the observation."""
    cols = list(MARKET_SERIES)
    for spec, _prm in p.resources_by("series_rank"):
        cols += spec.series
    for prod in p.open_products:
        cols += PRODUCT_SERIES[prod]
    return tuple(cols)


def obs_scale(p: CoreParams, col: str) -> float:
    """Divisor of a column in the observation: prices by ``price_ref``, ancillary by their max |x|."""
    if col in ("price_da_per_mwh", "price_rt_per_mwh"):
        return p.price_ref_per_mwh
    if col in ALL_NAMES[I_REG_NEED:]:
        return max(abs(p.lo[col]), abs(p.hi[col]), 1e-9)
    return 1.0


def state_rows(p: CoreParams) -> list[ObsRow]:
    """The observation rows that come from the state, in order."""
    rows: list[ObsRow] = []
    if p.day_ahead:
        rows.append(("bidding", 0.0, 1.0, "1 in a bid step (D-1 gate), 0 in a dispatch step"))
    for spec, prm in p.resources_by("obs_rank"):
        rows += spec.obs_rows(p, prm)
    if p.carbon_stateful:
        rows.append(("carbon_position", -1.0, 1.0, "net carbon position so far / carbon_scale_t"))
    if "regulation" in p.open_products:
        rows.append(("reg_score", 0.0, 1.0, "performance score of the last interval"))
    if p.day_ahead:
        return rows + day_ahead_rows(p)
    for j in range(p.lead):
        rows.append((f"position_{j}", -1.0, 1.0, f"committed position for interval t+{j} / position_max_mw"))
    if p.energy_transaction:
        for j in range(p.lead):
            rows.append((f"offer_price_{j}", 0.0, 1.0, "offer price of that position / price_cap_per_mwh"))
    return rows


def day_ahead_rows(p: CoreParams) -> list[ObsRow]:
    """The day-ahead timeline's state rows: the schedule ahead, the contract, the intraday gate."""
    em = p.cfg.markets.energy
    scale = 2.0 * em.position_max_mw + (em.intraday.max_mw if em.intraday is not None else 0.0)
    rows: list[ObsRow] = [
        (f"schedule_{j}", -1.0, 1.0, f"day-ahead + intraday schedule of interval t+{j} / {fmt_num(scale)} MW")
        for j in range(p.schedule_rows)
    ]
    rows.append(("contract", -1.0, 1.0, "contract quantity of the step's interval / max |contract|"))
    for prod in p.open_products:
        rows.append((f"{prod}_award", 0.0, 1.0, f"{prod} capacity awarded at D-1 for interval t / offer_max_mw"))
    if em.intraday is not None:
        rows.append(("intraday_gate", 0.0, 1.0, "1 in a dispatch step that is an intraday gate"))
    return rows


def calendar_rows(p: CoreParams) -> list[ObsRow]:
    """The calendar rows: the common ones, then each present resource's."""
    rows = list(CALENDAR_ROWS)
    for spec, _prm in p.resources_by("obs_rank"):
        rows += spec.calendar
    return rows


def observation_layout(p: CoreParams) -> list[ObsRow]:
    """``(name, low, high, meaning)`` of every observation component, in order."""
    rows = state_rows(p) + calendar_rows(p) + announcement.rows(p)
    for col in p.observed_series:
        scale = p.obs_scale(col)
        lo, hi = _series_range(p, col)
        note = "" if scale == 1.0 else (" / price_ref" if col.startswith("price") else " / max |series|")
        # float32 division, as the observation itself is computed (forecast_features)
        lo32, hi32 = (float(np.float32(v) / np.float32(scale)) for v in (lo, hi))
        for h in range(p.horizon):
            rows.append((f"{col}[t+{h}]", lo32, hi32, f"forecast of {col} for interval t+{h}{note}"))
    return rows


def _series_range(p: CoreParams, col: str) -> tuple[float, float]:
    if col in ("price_da_per_mwh", "price_rt_per_mwh"):
        return (
            min(p.lo["price_da_per_mwh"], p.lo["price_rt_per_mwh"]),
            max(p.hi["price_da_per_mwh"], p.hi["price_rt_per_mwh"]),
        )
    return p.lo[col], p.hi[col]


def state_features(p: CoreParams, s: State, xp: Any = np) -> list[Array]:
    """The state part of the observation, one entry per row of :func:`state_rows` (arrays or scalars)."""
    cols: list[Array] = []
    for spec, prm in p.obs_resources:
        cols += spec.features(p, prm, s, xp)
    if p.carbon_stateful:
        cm = p.cfg.markets.carbon
        x, _used = carbon.net_position(s.emissions_t, s.allowances_t, s.ccer_t, cm, xp, s.direct_t)
        cols.append(xp.minimum(xp.maximum(x * (1.0 / p.carbon_scale_t), -1.0), 1.0))
    if "regulation" in p.open_products:
        cols.append(s.reg_score)
    if p.day_ahead:
        k0 = _lockstep_k(s) if xp is np else None
        flag = p.schedule.bid[s.k] * 1.0 if k0 is None else np.full(len(s.k), float(p.schedule.bid[k0]))
        return [flag, *cols, *day_ahead_features(p, s, xp)]
    inv = 1.0 / p.cfg.markets.energy.position_max_mw
    cols.extend(q * inv for q in s.positions_mw)
    if p.energy_transaction:
        inv_p = 1.0 / p.cfg.markets.energy.price_cap_per_mwh
        cols.extend(q * inv_p for q in s.offer_prices)
    return cols


def _lockstep_k(s: State) -> int | None:
    """The common step ``k`` of a batched state whose rows are all at the same step (so the same interval
    ``t``), else None (rows at different steps after a partial reset: the bid steps of a day share ``t``)."""
    k0 = int(s.k[0])
    return k0 if (s.k == k0).all() and (s.t == s.t[0]).all() else None


def day_ahead_features(p: CoreParams, s: State, xp: Any) -> list[Array]:
    """The values of :func:`day_ahead_rows` (the schedule ahead of ``t``, read from the rings).

    Only awards published by step ``k`` are shown (:attr:`CoreParams.awards_known_before`): in a bid
    step, none of the day being bid for (the auction clears after the gate), else 0.
    """
    em = p.cfg.markets.energy
    sch = p.schedule
    inv = 1.0 / (2.0 * em.position_max_mw + (em.intraday.max_mw if em.intraday is not None else 0.0))
    cols: list[Array] = []
    t = s.t
    if xp is np:
        k0 = _lockstep_k(s)
        if k0 is None:  # rows at different steps (the vector env steps in lockstep: rare)
            per_row = [day_ahead_features(p, s.row(i), SCALAR) for i in range(len(t))]
            return [np.array(col) for col in zip(*per_row, strict=True)]
        t0, zero = int(t[0]), np.zeros(len(t))
        known = int(p.awards_known_before[k0])
        for j in range(p.schedule_rows):
            slot = (t0 + j) % sch.ring
            cols.append((s.da_mw[slot] + s.id_mw[slot]) * inv if t0 + j < known else zero)
        contract = float(p.contract_mw[sch.interval[k0] % sch.day_steps]) * p.contract_scale_inv
        cols.append(np.full(len(t), contract))
        for j, prod in enumerate(p.open_products):
            inv_aw = 1.0 / p.product(prod).offer_max_mw  # type: ignore[union-attr]
            cols.append(s.aw_mw[j * sch.ring + t0 % sch.ring] * inv_aw if t0 < known else zero)
        if em.intraday is not None:
            cols.append(np.full(len(t), float(p.gate_flags[k0])))
        return cols
    known, ring = int(p.awards_known_before[s.k]), sch.ring  # awards of intervals >= known not yet published
    for i in range(t, t + p.schedule_rows):
        cols.append((s.da_mw[i % ring] + s.id_mw[i % ring]) * inv if i < known else 0.0)
    interval = int(sch.interval[s.k])
    cols.append(float(p.contract_mw[interval % sch.day_steps]) * p.contract_scale_inv)
    for j, prod in enumerate(p.open_products):
        inv_aw = 1.0 / p.product(prod).offer_max_mw  # type: ignore[union-attr]
        cols.append(s.aw_mw[j * sch.ring + t % sch.ring] * inv_aw if t < known else 0.0)
    if em.intraday is not None:
        cols.append(float(p.gate_flags[s.k]))
    return cols


def calendar_values(p: CoreParams, t_idx: np.ndarray) -> list[np.ndarray]:
    """The resources' calendar rows for step indices ``t_idx`` (after the common ones)."""
    out: list[np.ndarray] = []
    for spec, prm in p.obs_resources:
        out += spec.calendar_values(p, prm, t_idx)
    return out


def observe(p: CoreParams, s: State, ep: EpisodeData) -> np.ndarray:
    """Observations ``(B, n_obs)`` float32 of a batched state (layout: :func:`observation_layout`)."""
    obs = ep.obs_exo[np.arange(len(s.t)), s.k]
    obs[:, : p.n_state_obs] = np.stack(state_features(p, s, np), axis=1)
    return obs


def observe_one(p: CoreParams, s: State, ep: EpisodeData) -> np.ndarray:
    """Observation ``(n_obs,)`` float32 of a scalar state (episode row 0)."""
    obs = ep.obs_exo[0, s.k].copy()
    obs[: p.n_state_obs] = state_features(p, s, SCALAR)
    return obs
