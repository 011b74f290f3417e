"""Demand response in the oracle: delivery against the passive baseline, payment and shortfall."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext
from agents.oracle.flex_load import base_load_mw
from agents.oracle.renewable import RENEWABLES, available_mw
from vpp_gym.core import I_DR_NEED, I_DR_P


@dataclass(frozen=True)
class DemandResponseVars:
    """Demand response ``(T,)``: delivered ``delivered``, paid ``pay`` (per segment against a stack), ``short``fall."""

    delivered: np.ndarray
    pay: np.ndarray
    short: np.ndarray


def passive_baseline(ctx: OracleContext) -> np.ndarray:
    """The net injection of a passive VPP: renewables at their available power minus the base load."""
    baseline = np.zeros(ctx.T)
    for name, _ in RENEWABLES:
        if getattr(ctx.resources, name) is not None:
            baseline += available_mw(ctx, name)
    if ctx.resources.flex_load is not None:
        baseline -= base_load_mw(ctx)
    return baseline


def demand_response_block(m: Model, ctx: OracleContext) -> DemandResponseVars:
    """Demand response against the passive baseline (the oracle never moves against an event, so the
    simulator's ``max(., 0)`` is the identity), paid ``pay * dt * price``, the shortfall penalised.

    ``demand_response.delivered``:  del[t] - dir[t] (net[t] - D[t] - mean(s[t]) A_reg[t] - baseline[t]) = 0
                                    for event intervals t (``D`` the reserve delivered; ``del = 0`` elsewhere)
    ``demand_response.shortfall``:  short[t] - A_dr[t] + del[t] >= 0                            for t in 0..T-1

    and the payment rows of :func:`payment_rows`. Profit ``dt * (price * pay - penalty * short)``.
    """
    dc = ctx.p.cfg.markets.demand_response
    assert dc is not None
    grid = ctx.require(ctx.vars.grid, "grid")
    T, dt = ctx.T, ctx.dt
    need = ctx.exo[:, I_DR_NEED]
    direction = np.sign(need)
    event = need != 0.0
    baseline = passive_baseline(ctx)
    a_dr = ctx.vars.products["demand_response"].accepted
    dl = m.var(T, 0.0, np.where(event, np.inf, 0.0))
    target = -direction * baseline
    lo, hi = np.where(event, target, -np.inf), np.where(event, target, np.inf)
    rows = m.rows(T, lo, hi, name="demand_response.delivered")
    m.coef(rows, dl, 1.0)
    m.coef(rows, grid.net, -direction)
    if ctx.vars.reserve is not None:
        for d in (ctx.vars.reserve.bat, ctx.vars.reserve.gas, ctx.vars.reserve.curtail):
            if d is not None:
                m.coef(rows, d, direction)
    if "regulation" in ctx.vars.products:
        m.coef(rows, ctx.vars.products["regulation"].accepted, direction * ctx.sig.mean(axis=1))
    pay = payment_rows(m, ctx, dl)
    short = m.var(T, 0.0, np.inf)
    r3 = m.rows(T, 0.0, np.inf, name="demand_response.shortfall")
    m.coef(r3, short, 1.0)
    m.coef(r3, a_dr, -1.0)
    m.coef(r3, dl, 1.0)
    ctx.gain(short, -dt * dc.shortfall_penalty_per_mwh)
    return DemandResponseVars(delivered=dl, pay=pay, short=short)


def payment_rows(m: Model, ctx: OracleContext, dl: np.ndarray) -> np.ndarray:
    """The paid quantity: at most the delivery and at most the accepted capacity (per segment against a stack).

    Price-taker, ``pay[t]`` at the published price:
    ``demand_response.paid_delivered``:  pay[t] - del[t] <= 0                              for t in 0..T-1
    ``demand_response.paid_accepted``:   pay[t] - A_dr[t] <= 0                             for t in 0..T-1

    Against a stack, ``pay[s]`` at the segment's price: ``sum_{s in t} pay[s] - del[t] <= 0`` per
    interval and ``pay[s] - a[s] <= 0`` per segment (same families).
    """
    T, dt = ctx.T, ctx.dt
    v = ctx.vars.products["demand_response"]
    seg = v.segments
    if seg is None:
        pay = m.var(T, 0.0, np.inf)
        r1 = m.rows(T, -np.inf, 0.0, name="demand_response.paid_delivered")
        m.coef(r1, pay, 1.0)
        m.coef(r1, dl, -1.0)
        r2 = m.rows(T, -np.inf, 0.0, name="demand_response.paid_accepted")
        m.coef(r2, pay, 1.0)
        m.coef(r2, v.accepted, -1.0)
        ctx.gain(pay, dt * ctx.exo[:, I_DR_P])
        return pay
    pay = m.var(len(seg.t), 0.0, np.inf)
    r1 = m.rows(T, -np.inf, 0.0, name="demand_response.paid_delivered")
    m.coef(r1[seg.t], pay, 1.0)
    m.coef(r1, dl, -1.0)
    r2 = m.rows(len(seg.t), -np.inf, 0.0, name="demand_response.paid_accepted")
    m.coef(r2, pay, 1.0)
    m.coef(r2, seg.a, -1.0)
    ctx.gain(pay, dt * seg.price)
    return pay
