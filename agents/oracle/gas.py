"""The gas unit in the oracle: on/off (binary), minimum stable output, ramp and start-up limits, start-up cost.

The unit's rules are the simulator's (:mod:`vpp_gym.resources.gas_unit`, same
:class:`~vpp_gym.resources.gas_unit.GasUnitParams`): with ``R = ramp * dt`` and the start-up limit
``U0 = max(p_min, min(p_max, R))``, an on unit produces within ``[p_min, on_hi(t)]``,

    on_hi(t) = g[t-1] + R * u[t-1] + U0 * (1 - u[t-1])

(``min(p_max, .)`` is the variable's bound), at least ``g[t-1] - R`` if it was on, and shuts down
only from ``g[t-1] <= p_min + R``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft, previous
from vpp_gym.resources.gas_unit import GasUnitParams


@dataclass(frozen=True)
class GasVars:
    """The gas unit's variables ``(T,)``: output ``p``, on/off ``on`` (binary), start-up indicator ``start``."""

    p: np.ndarray
    on: np.ndarray
    start: np.ndarray


def gas_params(ctx: OracleContext) -> GasUnitParams:
    """The gas unit's params (the block is built only if the VPP has one)."""
    gs = ctx.resources.gas
    assert gs is not None
    return gs


def ramp_limits(gs: GasUnitParams, dt: float) -> tuple[float, float]:
    """``(R, U0)``: the ramp per interval and the start-up limit (the most a unit that was off can produce)."""
    R = gs.ramp_mw_per_h * dt
    return R, max(gs.p_min_mw, min(gs.p_max_mw, R))


def initial_output(ctx: OracleContext) -> tuple[float, float]:
    """``(g0, u0)``: the output before the first interval and whether the unit was on."""
    g0 = float(ctx.state.gas_p_mw)
    return g0, 1.0 if g0 > 0 else 0.0


def on_high_rows(
    m: Model, ctx: OracleContext, v: GasVars, at: np.ndarray, lo: float, hi: float, name: str
) -> np.ndarray:
    """Rows ``lo <= g[t] - on_hi(t) <= hi`` for the intervals ``at`` (the ramp-up and start-up limit).

    ``on_hi(t) = g[t-1] + R u[t-1] + U0 (1 - u[t-1])``: the rows hold ``g[t] - g[t-1] - (R - U0) u[t-1]``
    within ``[lo + U0, hi + U0]``; before the first interval the state's output and on/off.
    """
    R, U0 = ramp_limits(gas_params(ctx), ctx.dt)
    g0, u0 = initial_output(ctx)
    first = at == 0
    rows = m.rows(len(at), lo + U0, hi + U0, name=name)
    m.coef(rows, v.p[at], 1.0)
    m.coef(rows[~first], v.p[at[~first] - 1], -1.0)
    m.coef(rows[~first], v.on[at[~first] - 1], -(R - U0))
    m.add_rhs(rows[first], g0 + (R - U0) * u0)
    return rows


def min_output_rows(m: Model, ctx: OracleContext, v: GasVars, at: np.ndarray, name: str) -> np.ndarray:
    """Rows ``g[t] - p_min u[t] >= 0`` for the intervals ``at`` (callers may add terms to ``g``)."""
    rows = m.rows(len(at), 0.0, np.inf, name=name)
    m.coef(rows, v.p[at], 1.0)
    m.coef(rows, v.on[at], -gas_params(ctx).p_min_mw)
    return rows


def ramp_down_rows(m: Model, ctx: OracleContext, v: GasVars, at: np.ndarray, name: str) -> np.ndarray:
    """Rows ``g[t] - g[t-1] - p_max u[t] >= -R - p_max`` for ``at``: ramp down at most ``R`` while on."""
    gs = gas_params(ctx)
    R, _ = ramp_limits(gs, ctx.dt)
    rows = m.rows(len(at), -R - gs.p_max_mw, np.inf, name=name)
    m.coef(rows, v.p[at], 1.0)
    previous(m, rows, at, v.p, -1.0, initial_output(ctx)[0])
    m.coef(rows, v.on[at], -gs.p_max_mw)
    return rows


def gas_block(m: Model, ctx: OracleContext) -> GasVars:
    """The gas unit's output, on/off and start-ups.

    ``gas.min_output``:  g[t] - p_min u[t] >= 0                                   for t in 0..T-1
    ``gas.max_output``:  g[t] - p_max u[t] <= 0                                   for t in 0..T-1
    ``gas.ramp_up``:     g[t] - on_hi(t) <= 0                                      for t in 0..T-1
    ``gas.ramp_down``:   g[t] - g[t-1] - p_max u[t] >= -R - p_max                  for t in 0..T-1
    ``gas.shutdown``:    g[t-1] - p_max u[t] <= p_min + R                          for t in 0..T-1
    ``gas.start_up``:    st[t] - u[t] + u[t-1] >= 0                                for t in 0..T-1

    Profit ``-dt * fuel * g - startup_cost * st`` (and the emissions at the carbon price if the carbon
    market is stateless); ``g`` is injected into ``grid.balance``.
    """
    gs = gas_params(ctx)
    grid = ctx.require(ctx.vars.grid, "grid")
    T, dt, everywhere = ctx.T, ctx.dt, np.arange(ctx.T)
    R, _ = ramp_limits(gs, dt)
    g0, u0 = initial_output(ctx)
    v = GasVars(p=m.var(T, 0.0, gs.p_max_mw), on=m.var(T, 0.0, 1.0, integer=True), start=m.var(T, 0.0, 1.0))
    min_output_rows(m, ctx, v, everywhere, "gas.min_output")
    hi = m.rows(T, -np.inf, 0.0, name="gas.max_output")
    m.coef(hi, v.p, 1.0)
    m.coef(hi, v.on, -gs.p_max_mw)
    on_high_rows(m, ctx, v, everywhere, -np.inf, 0.0, "gas.ramp_up")
    ramp_down_rows(m, ctx, v, everywhere, "gas.ramp_down")
    shut = m.rows(T, -np.inf, gs.p_min_mw + R, name="gas.shutdown")
    previous(m, shut, everywhere, v.p, 1.0, g0)
    m.coef(shut, v.on, -gs.p_max_mw)
    su = m.rows(T, 0.0, np.inf, name="gas.start_up")
    m.coef(su, v.start, 1.0)
    m.coef(su, v.on, -1.0)
    previous(m, su, everywhere, v.on, 1.0, u0)
    m.coef(grid.balance, v.p, 1.0)
    carbon = 0.0 if ctx.p.carbon_stateful else dt * gs.ef_t_per_mwh * ctx.p.cfg.markets.carbon.price_per_t
    ctx.gain(v.p, -dt * gs.fuel_cost_per_mwh - carbon)
    ctx.gain(v.start, -gs.startup_cost)
    return v


def gas_decode(ctx: OracleContext, v: GasVars, x: np.ndarray, draft: PlanDraft) -> None:
    """The base output (total minus the reserve deployed) as the gas action, -1 (off) when off; setpoint ``gas``."""
    gs = gas_params(ctx)
    d_gas = ctx.vars.reserve.gas if ctx.vars.reserve is not None else None
    g, u = x[v.p], np.round(x[v.on])
    deployed = x[d_gas] if d_gas is not None else np.zeros(ctx.T)
    draft.actions[:, ctx.p.action_index["gas"]] = np.where(u > 0.5, 2.0 * (g - deployed) / gs.p_max_mw - 1.0, -1.0)
    draft.setpoints["gas"] = np.where(u > 0.5, g, 0.0)
