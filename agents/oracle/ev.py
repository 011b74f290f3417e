"""The EV fleet in the oracle: the need of the plugged-in vehicles, charging and V2G against it.

The rules are the simulator's (:mod:`vpp_gym.resources.ev_fleet`, same
:class:`~vpp_gym.resources.ev_fleet.EvFleetParams`): with arrivals ``a``, departures ``d`` and the
need ``n1`` after charging (before departures),

    n1[t] = (1 - d[t-1]) * n1[t-1] + a[t] * E - dt * (eta_c * ch[t] - dis[t] / eta_d),   unmet[t] = d[t] * n1[t]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft, storage_mode
from vpp_gym.core import I_EV_ARR, I_EV_DEP, I_EV_PLUG
from vpp_gym.resources.ev_fleet import EvFleetParams


@dataclass(frozen=True)
class EvVars:
    """The fleet's variables ``(T,)``: V2G discharge ``dis``, charge ``ch``, need ``need`` after charging (``n1``)."""

    dis: np.ndarray
    ch: np.ndarray
    need: np.ndarray

    @property
    def flows(self) -> tuple[np.ndarray, np.ndarray]:
        """The discharge and charge flows (checked for charging and discharging at once)."""
        return self.dis, self.ch


def ev_params(ctx: OracleContext) -> EvFleetParams:
    """The fleet's params (the block is built only if the VPP has one)."""
    ev = ctx.resources.ev
    assert ev is not None
    return ev


def ev_block(m: Model, ctx: OracleContext) -> EvVars:
    """Charging and V2G against the fleet's need.

    ``ev.need_balance``:  n1[t] - (1 - d[t-1]) n1[t-1] + dt (eta_c ch[t] - dis[t] / eta_d) = a[t] E   for t in 0..T-1
    ``ev.fleet_capacity``: n1[t] + dt (eta_c ch[t] - dis[t] / eta_d) <= E                        for t in 0..T-1
    ``ev.v2g_room``:      n1[t] <= plugged[t] * E                                 for t in 0..T-1 (V2G only)

    (``n1[-1]`` the state's need; the simulator's cap on the need never binds), ``ch <= plugged *
    P_ch``, ``dis <= plugged * P_dis`` (0 without V2G). Profit ``-unmet_penalty * d n1 - dt * wear *
    dis``, and the need left at the episode's end at its terminal price.
    """
    ev = ev_params(ctx)
    grid = ctx.require(ctx.vars.grid, "grid")
    T, dt, exo = ctx.T, ctx.dt, ctx.exo
    E = ev.e_fleet_mwh
    plug, arr, dep = exo[:, I_EV_PLUG], exo[:, I_EV_ARR], exo[:, I_EV_DEP]
    ec = m.var(T, 0.0, plug * ev.p_charge_max_mw)
    ed = m.var(T, 0.0, plug * ev.p_discharge_max_mw if ev.v2g else 0.0)
    n1 = m.var(T, 0.0, np.inf)
    rows_n = m.rows(T, 0.0, 0.0, name="ev.need_balance")
    m.coef(rows_n, n1, 1.0)
    m.coef(rows_n[1:], n1[:-1], -(1.0 - dep[:-1]))
    m.coef(rows_n, ec, ev.eta_charge * dt)
    m.coef(rows_n, ed, -dt / ev.eta_discharge)
    m.add_rhs(rows_n, arr * E)
    m.add_rhs(rows_n[0], float(ctx.state.ev_need_mwh))
    cap = m.rows(T, -np.inf, E, name="ev.fleet_capacity")
    m.coef(cap, n1, 1.0)
    m.coef(cap, ec, ev.eta_charge * dt)
    m.coef(cap, ed, -dt / ev.eta_discharge)
    if ev.v2g:
        room = m.rows(T, -np.inf, plug * E, name="ev.v2g_room")
        m.coef(room, n1, 1.0)
    m.coef(grid.balance, ed, 1.0)
    m.coef(grid.balance, ec, -1.0)
    ctx.gain(n1, -ev.unmet_penalty_per_mwh * dep)
    if ctx.t0 + T == ctx.p.episode_steps:  # need still outstanding at the episode end, at its terminal price
        ctx.gain(n1[-1:], -(1.0 - dep[-1]) * ctx.p.ev_terminal_price_per_mwh)
    ctx.gain(ed, -dt * ev.degradation_cost_per_mwh)
    if ctx.binary_modes.any() and ev.v2g:
        modes = ctx.binary_modes
        storage_mode(m, "ev", ed[modes], ec[modes], *mode_limits(ctx))
    return EvVars(dis=ed, ch=ec, need=n1)


def mode_limits(ctx: OracleContext) -> tuple[float, float]:
    """The big-M of the fleet's binary mode (V2G only): its power limits."""
    ev = ev_params(ctx)
    return ev.p_discharge_max_mw, ev.p_charge_max_mw


def ev_decode(ctx: OracleContext, v: EvVars, x: np.ndarray, draft: PlanDraft) -> None:
    """The fleet's power ``dis - ch`` as the EV action (share of its limit); setpoint ``ev``."""
    ev = ev_params(ctx)
    pe = x[v.dis] - x[v.ch]
    draft.actions[:, ctx.p.action_index["ev"]] = np.where(
        pe >= 0, pe / max(ev.p_discharge_max_mw, 1e-12), pe / max(ev.p_charge_max_mw, 1e-12)
    )
    draft.setpoints["ev"] = pe
