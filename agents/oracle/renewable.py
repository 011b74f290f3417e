"""PV and wind in the oracle: output within the available power (fixed to it if not curtailable)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft
from vpp_gym.core import I_PV, I_WIND
from vpp_gym.resources.renewable import RenewableParams

RENEWABLES = (("pv", I_PV), ("wind", I_WIND))
"""The renewable resources (name in :class:`~vpp_gym.config.ResourcesConfig`, availability column)."""


@dataclass(frozen=True)
class RenewableVars:
    """Output ``p[t]`` of one renewable resource (``0 <= p <= available``, ``= available`` if not curtailable)."""

    p: np.ndarray


def renewable_params(ctx: OracleContext, name: str) -> RenewableParams | None:
    """The params of renewable resource ``name`` (``"pv"`` or ``"wind"``), None if the VPP has none."""
    prm: RenewableParams | None = getattr(ctx.resources, name)
    return prm


def available_mw(ctx: OracleContext, name: str) -> np.ndarray:
    """Available power of renewable resource ``name`` per interval: ``p_max * availability[t]``."""
    prm = renewable_params(ctx, name)
    assert prm is not None
    return prm.p_max_mw * ctx.exo[:, dict(RENEWABLES)[name]]


def renewable_block(m: Model, ctx: OracleContext, name: str) -> RenewableVars:
    """Renewable output, injected into ``grid.balance``; no rows, the bounds
    ``avail[t] * (not curtailable) <= p[t] <= avail[t]``."""
    prm = renewable_params(ctx, name)
    assert prm is not None
    grid = ctx.require(ctx.vars.grid, "grid")
    avail = available_mw(ctx, name)
    v = m.var(ctx.T, avail if not prm.curtailable else 0.0, avail)
    m.coef(grid.balance, v, 1.0)
    return RenewableVars(p=v)


def green_certificates(ctx: OracleContext) -> None:
    """Green certificates on the renewable output: ``dt * gec_share * gec_price`` per MWh."""
    cm = ctx.p.cfg.markets.carbon
    if ctx.vars.renewables and cm.gec_share > 0:
        for v in ctx.vars.renewables.values():
            ctx.gain(v.p, ctx.dt * cm.gec_share * cm.gec_price)


def renewable_decode(ctx: OracleContext, name: str, v: RenewableVars, x: np.ndarray, draft: PlanDraft) -> None:
    """Setpoint ``<name>``; the curtailment action ``1 - p / available`` (0 when nothing is available)."""
    prm = renewable_params(ctx, name)
    assert prm is not None
    avail = available_mw(ctx, name)
    draft.setpoints[name] = x[v.p]
    if prm.curtailable:
        draft.actions[:, ctx.p.action_index[f"{name}_curtail"]] = np.where(
            avail > 0, 1.0 - x[v.p] / np.where(avail > 0, avail, 1.0), 0.0
        )
