"""The battery in the oracle: energy balance, feasible range, and AGC following at sub-steps with products.

The energy update and the feasible range are the simulator's (:mod:`vpp_gym.resources.battery`, same
:class:`~vpp_gym.resources.battery.BatteryParams`): with ``p = dis - ch``,

    e[t] = e[t-1] - dt * (dis[t] / eta_d - ch[t] * eta_c)
    p_hi(e[t-1]) = min(P_dis, (e[t-1] - e_min) * eta_d / dt),  p_lo(e[t-1]) = -min(P_ch, (e_high - e[t-1]) / (eta_c dt))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft, previous, storage_mode
from vpp_gym.resources.battery import BatteryParams


@dataclass(frozen=True)
class BatteryVars:
    """The battery's variables.

    Attributes:
        dis: discharge ``(T,)`` (the base setpoint's positive part).
        ch: charge ``(T,)``.
        energy: stored energy after each interval ``(T,)``.
        sub_dis: discharge at the AGC sub-steps ``(T * S,)`` (with ancillary products; else None).
        sub_ch: charge at the sub-steps ``(T * S,)``.
    """

    dis: np.ndarray
    ch: np.ndarray
    energy: np.ndarray
    sub_dis: np.ndarray | None = None
    sub_ch: np.ndarray | None = None

    @property
    def flows(self) -> tuple[np.ndarray, np.ndarray]:
        """The discharge and charge flows through the terminals (the sub-steps' if modelled)."""
        if self.sub_dis is not None and self.sub_ch is not None:
            return self.sub_dis, self.sub_ch
        return self.dis, self.ch


def battery_params(ctx: OracleContext) -> BatteryParams:
    """The battery's params (the block is built only if the VPP has one)."""
    b = ctx.resources.battery
    assert b is not None
    return b


def energy_slopes(b: BatteryParams, dt: float) -> tuple[float, float]:
    """``(k_hi, k_lo)``: the MW of feasible discharge per MWh above ``e_min`` and of charge per MWh below ``e_high``."""
    return b.eta_discharge / dt, 1.0 / (b.eta_charge * dt)


def energy_update(m: Model, ctx: OracleContext, rows: np.ndarray, dis: np.ndarray, ch: np.ndarray, dt_h: float) -> None:
    """The flows' part of the battery energy update, and their wear, for flows lasting ``dt_h`` each.

    Adds ``dt_h * (dis / eta_d - ch * eta_c)`` to the ``battery.energy_balance`` rows and the profit
    ``-degradation_cost * dt_h * (dis + ch)``.
    """
    b = battery_params(ctx)
    m.coef(rows, dis, dt_h / b.eta_discharge)
    m.coef(rows, ch, -dt_h * b.eta_charge)
    ctx.gain(dis, -dt_h * b.degradation_cost_per_mwh)
    ctx.gain(ch, -dt_h * b.degradation_cost_per_mwh)


def battery_block(m: Model, ctx: OracleContext) -> BatteryVars:
    """The battery's flows and stored energy.

    ``battery.energy_balance``:  e[t] - e[t-1] + dt * (dis[t] / eta_d - ch[t] * eta_c) = 0   for t in 0..T-1

    (``e[-1]`` the state's stored energy; with products the flows are the sub-steps', see
    :func:`substep_block`), ``0 <= dis <= P_dis``, ``0 <= ch <= P_ch``, ``e_min <= e <= e_high``.
    """
    b = battery_params(ctx)
    grid = ctx.require(ctx.vars.grid, "grid")
    T = ctx.T
    bd = m.var(T, 0.0, b.p_discharge_max_mw)
    bc = m.var(T, 0.0, b.p_charge_max_mw)
    e = m.var(T, b.e_min_mwh, b.e_high_mwh)
    m.coef(grid.balance, bd, 1.0)
    m.coef(grid.balance, bc, -1.0)
    soc = m.rows(T, 0.0, 0.0, name="battery.energy_balance")
    m.coef(soc, e, 1.0)
    previous(m, soc, np.arange(T), e, -1.0, float(ctx.state.e_bat_mwh))
    if ctx.products:
        return substep_block(m, ctx, BatteryVars(dis=bd, ch=bc, energy=e), soc)
    energy_update(m, ctx, soc, bd, bc, ctx.dt)
    if ctx.binary_modes.any():
        modes = ctx.binary_modes
        storage_mode(m, "battery", bd[modes], bc[modes], *mode_limits(ctx))
    return BatteryVars(dis=bd, ch=bc, energy=e)


def mode_limits(ctx: OracleContext) -> tuple[float, float]:
    """The big-M of the battery's binary mode on its flows: the power limits, or, on the AGC sub-steps'
    flows (with products), ``P_dis + P_ch`` for both."""
    b = battery_params(ctx)
    if ctx.products:
        big = b.p_discharge_max_mw + b.p_charge_max_mw
        return big, big
    return b.p_discharge_max_mw, b.p_charge_max_mw


def substep_block(m: Model, ctx: OracleContext, v: BatteryVars, soc: np.ndarray) -> BatteryVars:
    """Battery with ancillary products: base setpoint, reserve deployment, AGC following at ``S`` sub-steps.

    ``battery.substep_power``:  dk[t,k] - ck[t,k] - (dis[t] - ch[t] + D_bat[t] + A_reg[t] * s[t,k]) = 0

    for t in 0..T-1, k in 0..S-1 (``D_bat`` the reserve the battery deploys, ``s`` the AGC signal);
    the energy update and wear on the sub-steps' flows over ``dt / S`` each; the feasible range per
    :func:`feasible_range_block`. So the battery tracks the signal exactly (score 1).
    """
    grid = ctx.require(ctx.vars.grid, "grid")
    T, S = ctx.sig.shape
    reg = ctx.vars.products["regulation"].accepted if "regulation" in ctx.vars.products else None
    d_bat = ctx.vars.reserve.bat if ctx.vars.reserve is not None else None
    dk = m.var(T * S, 0.0, np.inf)
    ck = m.var(T * S, 0.0, np.inf)
    rows_k = m.rows(T * S, 0.0, 0.0, name="battery.substep_power")
    tk = np.repeat(np.arange(T), S)
    m.coef(rows_k, dk, 1.0)
    m.coef(rows_k, ck, -1.0)
    m.coef(rows_k, v.dis[tk], -1.0)
    m.coef(rows_k, v.ch[tk], 1.0)
    if d_bat is not None:
        m.coef(rows_k, d_bat[tk], -1.0)
        m.coef(grid.balance, d_bat, 1.0)
    if reg is not None:
        m.coef(rows_k, reg[tk], -ctx.sig.ravel())
        m.coef(grid.balance, reg, ctx.sig.mean(axis=1))
    energy_update(m, ctx, soc[tk], dk, ck, ctx.dt / S)
    if ctx.binary_modes.any():
        modes = ctx.binary_modes
        storage_mode(m, "battery", dk.reshape(T, S)[modes].ravel(), ck.reshape(T, S)[modes].ravel(), *mode_limits(ctx))
    v = BatteryVars(dis=v.dis, ch=v.ch, energy=v.energy, sub_dis=dk, sub_ch=ck)
    feasible_range_block(m, ctx, v, reg, d_bat)
    return v


def feasible_range_block(
    m: Model, ctx: OracleContext, v: BatteryVars, reg: np.ndarray | None, d_bat: np.ndarray | None
) -> None:
    """The base setpoint, its regulation band and the reserve deployed stay in the range of ``e[t-1]``.

    For ``p`` in ``{base, base + A_reg, base - A_reg, base + A_reg + D_bat}`` (the ones the scenario
    has, ``base = dis - ch``): ``p_lo(e[t-1]) <= p <= p_hi(e[t-1])`` (:func:`range_rows`). The
    simulator awards at most the symmetric headroom of the base setpoint (then every sub-step lies in
    the range) and deploys reserve within what is left.
    """
    everywhere = np.arange(ctx.T)
    ones = np.ones(ctx.T)
    combos: list[list[tuple[np.ndarray | None, np.ndarray]]] = [[]]
    if reg is not None:
        combos += [[(reg, ones)], [(reg, -ones)]]
    if d_bat is not None:
        combos.append([(reg, ones), (d_bat, ones)])
    for terms in combos:
        range_rows(m, ctx, v, everywhere, [(var, c) for var, c in terms if var is not None])


def power_terms(
    m: Model, v: BatteryVars, rows: np.ndarray, at: np.ndarray, terms: list[tuple[np.ndarray, np.ndarray]]
) -> None:
    """Add the battery power ``dis[t] - ch[t] + sum coef[t] * var[t]`` of the intervals ``at`` to ``rows``."""
    m.coef(rows, v.dis[at], 1.0)
    m.coef(rows, v.ch[at], -1.0)
    for var, coef in terms:
        m.coef(rows, var[at], coef[at])


def prior_energy(m: Model, ctx: OracleContext, v: BatteryVars, rows: np.ndarray, at: np.ndarray, k: float) -> None:
    """Add ``-k * e[t-1]`` to ``rows`` (intervals ``at``; the state's stored energy before the first)."""
    previous(m, rows, at, v.energy, -k, float(ctx.state.e_bat_mwh))


def range_rows(
    m: Model, ctx: OracleContext, v: BatteryVars, at: np.ndarray, terms: list[tuple[np.ndarray, np.ndarray]]
) -> None:
    """``p_lo(e[t-1]) <= p[t] <= p_hi(e[t-1])`` for ``p = dis - ch + sum coef * var`` in the intervals ``at``.

    ``battery.discharge_limit``:   p[t] <= P_dis
    ``battery.discharge_energy``:  p[t] - k_hi * e[t-1] <= -k_hi * e_min        (k_hi = eta_d / dt)
    ``battery.charge_limit``:      p[t] >= -P_ch
    ``battery.charge_energy``:     p[t] - k_lo * e[t-1] >= -k_lo * e_high       (k_lo = 1 / (eta_c dt))
    """
    b = battery_params(ctx)
    k_hi, k_lo = energy_slopes(b, ctx.dt)
    n = len(at)
    for upper in (True, False):
        side = "discharge" if upper else "charge"
        lim = m.rows(
            n,
            -b.p_charge_max_mw if not upper else -np.inf,
            b.p_discharge_max_mw if upper else np.inf,
            name=f"battery.{side}_limit",
        )
        k = k_hi if upper else k_lo
        rows = m.rows(
            n,
            -np.inf if upper else -k_lo * b.e_high_mwh,
            -k_hi * b.e_min_mwh if upper else np.inf,
            name=f"battery.{side}_energy",
        )
        for r in (lim, rows):
            power_terms(m, v, r, at, terms)
        prior_energy(m, ctx, v, rows, at, k)


def battery_decode(ctx: OracleContext, v: BatteryVars, x: np.ndarray, draft: PlanDraft) -> None:
    """The base setpoint ``dis - ch`` as the battery action (share of the power limit); setpoints ``battery``, ``e``."""
    b = battery_params(ctx)
    pb = x[v.dis] - x[v.ch]
    draft.actions[:, ctx.p.action_index["battery"]] = np.where(
        pb >= 0, pb / max(b.p_discharge_max_mw, 1e-12), pb / max(b.p_charge_max_mw, 1e-12)
    )
    draft.setpoints["battery"], draft.setpoints["e"] = pb, x[v.energy]
