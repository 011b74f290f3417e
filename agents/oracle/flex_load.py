"""The flexible load in the oracle: curtailment, and shift within windows (the backlog is made up by each window's end).

The rules are the simulator's (:mod:`vpp_gym.resources.flex_load`, same
:class:`~vpp_gym.resources.flex_load.FlexLoadParams`): consumption ``base - c - s`` with
``0 <= c <= curtail_share * base``, ``|s| <= shift_share * base``, backlog ``b[t] = b[t-1] + s dt``;
at a window end the backlog is made up, ``s = -b[t-1] / dt``, beyond the limit as a penalised violation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft, previous
from vpp_gym.core import I_LOAD
from vpp_gym.resources.flex_load import FlexLoadParams


@dataclass(frozen=True)
class FlexLoadVars:
    """The flexible load's variables ``(T,)``.

    Attributes:
        curtail: curtailment ``c`` (total, with the reserve it deploys).
        shift: shift ``s`` (positive defers consumption).
        shift_up: ``s+``, with ``shift_down`` ``s-``: ``|s| = s+ + s-``.
        shift_down: ``s-``.
        backlog: shift backlog ``b`` after each interval.
        violation: forced make-up beyond the shift limit at a window end (MWh).
    """

    curtail: np.ndarray
    shift: np.ndarray
    shift_up: np.ndarray
    shift_down: np.ndarray
    backlog: np.ndarray
    violation: np.ndarray


def flex_load_params(ctx: OracleContext) -> FlexLoadParams:
    """The flexible load's params (the block is built only if the VPP has one)."""
    fl = ctx.resources.flex_load
    assert fl is not None
    return fl


def base_load_mw(ctx: OracleContext) -> np.ndarray:
    """The base (uncontrolled) load per interval: ``peak * load[t]``."""
    return flex_load_params(ctx).peak_mw * ctx.exo[:, I_LOAD]


def window_ends(ctx: OracleContext) -> np.ndarray:
    """Intervals that end a shift window (or the episode)."""
    step = ctx.t0 + np.arange(ctx.T) + 1
    return (step % ctx.p.window_steps == 0) | (step == ctx.p.episode_steps)


def flex_load_block(m: Model, ctx: OracleContext) -> FlexLoadVars:
    """Curtailment and shift.

    ``flex_load.shift_split``:  s[t] - s+[t] + s-[t] = 0                             for t in 0..T-1
    ``flex_load.backlog``:      b[t] - b[t-1] - dt * s[t] = 0                         for t in 0..T-1
    ``flex_load.violation``:    dt * (s+[t] + s-[t]) - v[t] <= dt * s_max[t]          for window ends t
    ``flex_load.consumption``:  c[t] + s[t] <= base[t]                                for t in 0..T-1

    with ``b[t] = 0`` and ``s`` free at window ends, ``|s| <= s_max`` elsewhere (bounds); ``base - c -
    s`` is drawn through ``grid.balance``. Profit ``-dt * (curtail_cost c + shift_cost |s|) -
    violation_penalty v``.
    """
    fl = flex_load_params(ctx)
    grid = ctx.require(ctx.vars.grid, "grid")
    T, dt = ctx.T, ctx.dt
    base = base_load_mw(ctx)
    c = m.var(T, 0.0, fl.curtail_share * base)
    end = window_ends(ctx)
    s_max = fl.shift_share * base
    sh = m.var(T, np.where(end, -np.inf, -s_max), np.where(end, np.inf, s_max))
    shp = m.var(T, 0.0, np.inf)
    shm = m.var(T, 0.0, np.inf)
    split = m.rows(T, 0.0, 0.0, name="flex_load.shift_split")
    m.coef(split, sh, 1.0)
    m.coef(split, shp, -1.0)
    m.coef(split, shm, 1.0)
    bl = m.var(T, -np.inf, np.inf)
    back = m.rows(T, 0.0, 0.0, name="flex_load.backlog")
    m.coef(back, bl, 1.0)
    previous(m, back, np.arange(T), bl, -1.0, float(ctx.state.backlog_mwh))
    m.coef(back, sh, -dt)
    m.fix(bl[end], 0.0)
    viol = m.var(T, 0.0, np.where(end, np.inf, 0.0))
    rows_v = m.rows(T, -np.inf, np.where(end, s_max * dt, np.inf), name="flex_load.violation")
    m.coef(rows_v, shp, dt)
    m.coef(rows_v, shm, dt)
    m.coef(rows_v, viol, -1.0)
    cons = m.rows(T, -np.inf, base, name="flex_load.consumption")  # the simulator's cap never binds
    m.coef(cons, c, 1.0)
    m.coef(cons, sh, 1.0)
    m.coef(grid.balance, c, 1.0)
    m.coef(grid.balance, sh, 1.0)
    m.add_rhs(grid.balance, base)  # net = ... - base + c + s  ->  row: ... + c + s - net = base
    ctx.gain(c, -dt * fl.curtail_cost_per_mwh)
    ctx.gain(shp, -dt * fl.shift_cost_per_mwh)
    ctx.gain(shm, -dt * fl.shift_cost_per_mwh)
    ctx.gain(viol, -fl.shift_violation_penalty_per_mwh)
    return FlexLoadVars(curtail=c, shift=sh, shift_up=shp, shift_down=shm, backlog=bl, violation=viol)


def flex_load_decode(ctx: OracleContext, v: FlexLoadVars, x: np.ndarray, draft: PlanDraft) -> None:
    """The base curtailment (total minus the reserve deployed) and the shift as shares of their limits;
    setpoints ``curtail``, ``shift``."""
    fl = flex_load_params(ctx)
    col = ctx.p.action_index
    base = base_load_mw(ctx)
    d_c = ctx.vars.reserve.curtail if ctx.vars.reserve is not None else None
    c, s = x[v.curtail], x[v.shift]
    c_base = np.maximum(c - (x[d_c] if d_c is not None else np.zeros(ctx.T)), 0.0)
    safe = np.where(base > 0, base, 1.0)
    draft.actions[:, col["load_curtail"]] = np.where(
        base > 0, c_base / (fl.curtail_share * safe) if fl.curtail_share > 0 else 0.0, 0.0
    )
    draft.actions[:, col["load_shift"]] = np.where(
        base > 0, s / (fl.shift_share * safe) if fl.shift_share > 0 else 0.0, 0.0
    )
    draft.setpoints["curtail"], draft.setpoints["shift"] = c, s
