"""Reserve in the oracle: the call deployed by each source in the simulator's priority order.

The simulator deploys a call ``call[t] * A_res[t]`` from the battery's spare headroom, then from the gas
unit (if on, up to its ramp-limited maximum), then by extra load curtailment; the rest is a shortfall.
The plan's resource variables are each source's total (base + deployment); the action asks for the base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle import battery as bat
from agents.oracle import gas as gas_block
from agents.oracle.context import OracleContext, PlanDraft
from agents.oracle.flex_load import base_load_mw
from agents.oracle.products import capacity_payment
from vpp_gym.core import I_RES_CALL, I_RES_P
from vpp_gym.markets.products import ReserveMarketConfig


@dataclass(frozen=True)
class ReserveVars:
    """Reserve deployed per source ``(T,)`` (None: the VPP has no such source), 0 outside call intervals.

    Attributes:
        bat: deployed by the battery (``D_bat``).
        gas: deployed by the gas unit (``D_gas``).
        curtail: deployed by extra load curtailment (``D_c``).
        shortfall: not deployed (``sf``, penalised).
    """

    shortfall: np.ndarray
    bat: np.ndarray | None = None
    gas: np.ndarray | None = None
    curtail: np.ndarray | None = None

    def by_source(self) -> dict[str, np.ndarray]:
        """The deployments by source key (``"bat"``, ``"gas"``, ``"c"``, ``"sf"``; the ones present, in that order)."""
        out = {k: v for k, v in (("bat", self.bat), ("gas", self.gas), ("c", self.curtail)) if v is not None}
        out["sf"] = self.shortfall
        return out


def reserve_config(ctx: OracleContext) -> ReserveMarketConfig:
    """The reserve market's config (the block is built only when it is open)."""
    cfg = ctx.p.cfg.markets.reserve
    assert cfg is not None
    return cfg


def reserve_block(m: Model, ctx: OracleContext) -> ReserveVars:
    """Reserve deployed per source and the shortfall.

    ``reserve.deployment``:  D_bat[t] + D_gas[t] + D_c[t] + sf[t] - call[t] * A_res[t] = 0     for t in 0..T-1

    (the sources the VPP has), every term 0 outside call intervals.
    """
    r = ctx.resources
    call = ctx.exo[:, I_RES_CALL]
    ub = np.where(call > 0, np.inf, 0.0)
    sources = (("bat", r.battery), ("gas", r.gas), ("c", r.flex_load))
    dep = {src: m.var(ctx.T, 0.0, ub) for src, prm in sources if prm is not None}
    sf = m.var(ctx.T, 0.0, ub)
    total = m.rows(ctx.T, 0.0, 0.0, name="reserve.deployment")
    for v in [*dep.values(), sf]:
        m.coef(total, v, 1.0)
    m.coef(total, ctx.vars.products["reserve"].accepted, -call)
    return ReserveVars(shortfall=sf, bat=dep.get("bat"), gas=dep.get("gas"), curtail=dep.get("c"))


def reserve_payment(m: Model, ctx: OracleContext) -> None:
    """Capacity payment, shortfall penalty ``dt * penalty * sf``; the delivered energy is instructed (added
    to ``grid.deviation``, so no imbalance penalty)."""
    grid = ctx.require(ctx.vars.grid, "grid")
    v = ctx.require(ctx.vars.reserve, "reserve")
    capacity_payment(ctx, ctx.vars.products["reserve"], ctx.exo[:, I_RES_P])
    ctx.gain(v.shortfall, -ctx.dt * reserve_config(ctx).shortfall_penalty_per_mwh)
    for d in (v.bat, v.gas, v.curtail):
        if d is not None:
            m.coef(grid.deviation, d, 1.0)


def priority_block(m: Model, ctx: OracleContext) -> None:
    """Make the planned deployment the simulator's: battery spare headroom, then gas, then curtailment.

    In the call intervals ``K`` only (binaries per arm): the battery's part in :func:`battery_priority`,
    the gas unit's in :func:`gas_priority`, the load's in :func:`load_priority`. The load's ``c_max`` is
    ``min(curtail_share * base, base - s)``; a shortfall is planned only with the first of the two at
    its limit (the second binds only when shift defers more than ``1 - curtail_share`` of the base
    load): a narrower plan class, never a replay mismatch.
    """
    call = ctx.exo[:, I_RES_CALL]
    K = np.flatnonzero(call > 0)
    if not len(K):
        return
    big_rest = call[K] * reserve_config(ctx).offer_max_mw + 1.0
    if ctx.vars.battery is not None:
        battery_priority(m, ctx, K, big_rest)
    if ctx.vars.gas is not None:
        gas_priority(m, ctx, K, big_rest)
    if ctx.vars.flex_load is not None:
        load_priority(m, ctx, K, big_rest)


def battery_priority(m: Model, ctx: OracleContext, K: np.ndarray, big_rest: np.ndarray) -> None:
    """The battery deploys all it can before any other source: if ``D_gas + D_c + sf > 0`` then
    ``base + A_reg + D_bat = p_hi = min(P_dis, (e[t-1] - e_min) eta_d / dt)``, one binary per arm.

    ``reserve.battery_one_arm``:     w_pow[t] + w_en[t] <= 1                                      for t in K
    ``reserve.battery_saturated``:   D_gas[t] + D_c[t] + sf[t] - M (w_pow[t] + w_en[t]) <= 0      for t in K
    ``reserve.battery_power_arm``:   p[t] - M_p w_pow[t] >= P_dis - M_p                           for t in K
    ``reserve.battery_energy_arm``:  p[t] - k_hi e[t-1] - M_e w_en[t] >= -k_hi e_min - M_e         for t in K

    with ``p = dis - ch + D_bat + A_reg`` (the upper sides are the feasible range's rows).
    """
    b = bat.battery_params(ctx)
    v = ctx.require(ctx.vars.battery, "battery")
    dep = ctx.require(ctx.vars.reserve, "reserve")
    n = len(K)
    rest = [d for s, d in dep.by_source().items() if s != "bat"]
    w = m.var(2 * n, 0.0, 1.0, integer=True)
    w_pow, w_en = w[:n], w[n:]
    one = m.rows(n, -np.inf, 1.0, name="reserve.battery_one_arm")
    m.coef(one, w_pow, 1.0)
    m.coef(one, w_en, 1.0)
    sat = m.rows(n, -np.inf, 0.0, name="reserve.battery_saturated")
    for d in rest:
        m.coef(sat, d[K], 1.0)
    m.coef(sat, w_pow, -big_rest)
    m.coef(sat, w_en, -big_rest)
    k_hi, _ = bat.energy_slopes(b, ctx.dt)
    m_pow = b.p_discharge_max_mw + b.p_charge_max_mw
    arm = m.rows(n, b.p_discharge_max_mw - m_pow, np.inf, name="reserve.battery_power_arm")
    m_en = b.p_charge_max_mw + k_hi * (b.e_high_mwh - b.e_min_mwh)
    arm_e = m.rows(n, -k_hi * b.e_min_mwh - m_en, np.inf, name="reserve.battery_energy_arm")
    reg = ctx.vars.products["regulation"].accepted if "regulation" in ctx.vars.products else None
    ones = np.ones(ctx.T)
    d_bat = ctx.require(dep.bat, "reserve deployment from the battery")
    terms = [(d_bat, ones)] + ([(reg, ones)] if reg is not None else [])
    for rows in (arm, arm_e):
        bat.power_terms(m, v, rows, K, terms)
    m.coef(arm, w_pow, -m_pow)
    m.coef(arm_e, w_en, -m_en)
    bat.prior_energy(m, ctx, v, arm_e, K, k_hi)


def gas_priority(m: Model, ctx: OracleContext, K: np.ndarray, big_rest: np.ndarray) -> None:
    """The gas unit deploys all it can before curtailment: ``D_gas <= p_max u``, ``base_gas = g - D_gas``
    in the on-range from ``g[t-1]``, and if ``D_c + sf > 0`` then ``u = 0`` or ``g = on_hi``.

    ``reserve.gas_on``:         D_gas[t] - p_max u[t] <= 0                                        for t in K
    ``reserve.gas_base_min``:   g[t] - D_gas[t] - p_min u[t] >= 0                                 for t in K
    ``reserve.gas_base_ramp``:  g[t] - D_gas[t] - g[t-1] - p_max u[t] >= -R - p_max               for t in K
    ``reserve.gas_saturated``:  D_c[t] + sf[t] + M u[t] - M (y_max[t] + y_ramp[t]) <= M            for t in K
    ``reserve.gas_at_max``:     g[t] - p_max y_max[t] >= 0                                        for t in K
    ``reserve.gas_at_ramp``:    g[t] - on_hi(t) - M_r y_ramp[t] >= -M_r                           for t in K

    with ``on_hi(t) = g[t-1] + R u[t-1] + U0 (1 - u[t-1])`` (:func:`agents.oracle.gas.on_high_rows`).
    """
    gs = gas_block.gas_params(ctx)
    v = ctx.require(ctx.vars.gas, "gas")
    dep = ctx.require(ctx.vars.reserve, "reserve")
    d_gas = ctx.require(dep.gas, "reserve deployment from gas")
    n = len(K)
    R, U0 = gas_block.ramp_limits(gs, ctx.dt)
    on = m.rows(n, -np.inf, 0.0, name="reserve.gas_on")
    m.coef(on, d_gas[K], 1.0)
    m.coef(on, v.on[K], -gs.p_max_mw)
    lo = gas_block.min_output_rows(m, ctx, v, K, "reserve.gas_base_min")
    m.coef(lo, d_gas[K], -1.0)
    down = gas_block.ramp_down_rows(m, ctx, v, K, "reserve.gas_base_ramp")
    m.coef(down, d_gas[K], -1.0)
    rest = [d for d in (dep.curtail, dep.shortfall) if d is not None]
    y = m.var(2 * n, 0.0, 1.0, integer=True)
    y_max, y_ramp = y[:n], y[n:]
    sat = m.rows(n, -np.inf, big_rest, name="reserve.gas_saturated")
    for d in rest:
        m.coef(sat, d[K], 1.0)
    m.coef(sat, v.on[K], big_rest)
    m.coef(sat, y_max, -big_rest)
    m.coef(sat, y_ramp, -big_rest)
    top = m.rows(n, 0.0, np.inf, name="reserve.gas_at_max")
    m.coef(top, v.p[K], 1.0)
    m.coef(top, y_max, -gs.p_max_mw)
    # the left side g - on_hi is at least -p_max - max(R - U0, 0) - U0
    m_r = U0 + gs.p_max_mw + abs(R - U0)
    ramp = gas_block.on_high_rows(m, ctx, v, K, -m_r, np.inf, "reserve.gas_at_ramp")
    m.coef(ramp, y_ramp, -m_r)


def load_priority(m: Model, ctx: OracleContext, K: np.ndarray, big_rest: np.ndarray) -> None:
    """Curtailment deploys before a shortfall: ``c_base = c - D_c >= 0``, and if ``sf > 0`` then
    ``c = curtail_share * base``.

    ``reserve.curtail_base``:       c[t] - D_c[t] >= 0                                           for t in K
    ``reserve.load_saturated``:     sf[t] - M y[t] <= 0                                          for t in K
    ``reserve.curtail_full``:       c[t] - curtail_share * base[t] * y[t] >= 0                   for t in K
    """
    fl = ctx.resources.flex_load
    assert fl is not None
    v = ctx.require(ctx.vars.flex_load, "flex_load")
    dep = ctx.require(ctx.vars.reserve, "reserve")
    d_c = ctx.require(dep.curtail, "reserve deployment by curtailment")
    n = len(K)
    base_c = m.rows(n, 0.0, np.inf, name="reserve.curtail_base")
    m.coef(base_c, v.curtail[K], 1.0)
    m.coef(base_c, d_c[K], -1.0)
    y = m.var(n, 0.0, 1.0, integer=True)
    sat = m.rows(n, -np.inf, 0.0, name="reserve.load_saturated")
    m.coef(sat, dep.shortfall[K], 1.0)
    m.coef(sat, y, -big_rest)
    full = m.rows(n, 0.0, np.inf, name="reserve.curtail_full")
    m.coef(full, v.curtail[K], 1.0)
    m.coef(full, y, -fl.curtail_share * base_load_mw(ctx)[K])


def reserve_decode(ctx: OracleContext, v: ReserveVars, x: np.ndarray, draft: PlanDraft) -> None:
    """Setpoints ``reserve_<source>``: the reserve each source deploys (and ``reserve_sf``, the shortfall)."""
    for src, d in v.by_source().items():
        draft.setpoints[f"reserve_{src}"] = x[d]
