"""The passive baseline that demand response and peak regulation measure a response against, and the
rows that measure it."""

from __future__ import annotations

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext
from agents.oracle.flex_load import base_load_mw
from agents.oracle.renewable import RENEWABLES, available_mw


def passive_baseline(ctx: OracleContext) -> np.ndarray:
    """The net injection of a passive VPP: renewables at their available power minus the base load."""
    baseline = np.zeros(ctx.T)
    for name, _ in RENEWABLES:
        if getattr(ctx.resources, name) is not None:
            baseline += available_mw(ctx, name)
    if ctx.resources.flex_load is not None:
        baseline -= base_load_mw(ctx)
    return baseline


def response_rows(
    m: Model, ctx: OracleContext, name: str, dl: np.ndarray, direction: np.ndarray, call: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Rows fixing the delivery variables ``dl`` in call intervals (free elsewhere), as the simulator measures it
    (:func:`vpp_gym.markets.demand_response.response_mw`):

        dl[t] - d[t] net[t] + d[t] (reserve deployed[t] + regulation energy[t]) = target[t]    where call[t]

    with ``d = sign(need)`` and the regulation energy the award times the mean AGC signal.
    """
    grid = ctx.require(ctx.vars.grid, "grid")
    rows = m.rows(ctx.T, np.where(call, target, -np.inf), np.where(call, target, np.inf), name=name)
    m.coef(rows, dl, 1.0)
    m.coef(rows, grid.net, -direction)
    if ctx.vars.reserve is not None:
        for d in (ctx.vars.reserve.bat, ctx.vars.reserve.gas, ctx.vars.reserve.curtail):
            if d is not None:
                m.coef(rows, d, direction)
    if "regulation" in ctx.vars.products:
        m.coef(rows, ctx.vars.products["regulation"].accepted, direction * ctx.sig.mean(axis=1))
    return rows
