"""The grid connection and the energy market: power balance, day-ahead positions, real-time deviation, imports."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft
from agents.oracle.stacks import segments_block
from vpp_gym.core import I_DA, I_EF, I_RT
from vpp_gym.markets.clearing import clear_transaction


@dataclass(frozen=True)
class GridVars:
    """The grid's variables ``(T,)`` and the rows other blocks add their terms to.

    Attributes:
        net: net injection into the grid (MW, free).
        position: day-ahead position ``q`` (MW, positive = sell).
        dev_up: real-time deviation above the position plus instructions, ``dp >= 0``.
        dev_down: real-time deviation below it, ``dm >= 0``.
        balance: rows of ``grid.balance`` (each resource adds its injection).
        deviation: rows of ``grid.deviation`` (each product adds its instructed energy).
    """

    net: np.ndarray
    position: np.ndarray
    dev_up: np.ndarray
    dev_down: np.ndarray
    balance: np.ndarray
    deviation: np.ndarray


@dataclass(frozen=True)
class ImportVars:
    """Grid imports ``imp[t] >= max(-net[t], 0)`` (emissions, green-power matching penalty)."""

    imp: np.ndarray


def grid_block(m: Model, ctx: OracleContext) -> GridVars:
    """Power balance, day-ahead positions and the real-time deviation.

    ``grid.balance``:    sum_r injection_r[t] - net[t] = 0                      for t in 0..T-1
    ``grid.deviation``:  dp[t] - dm[t] - net[t] + q[t] + instructed[t] = 0      for t in 0..T-1

    with the positions of the first ``L`` intervals fixed to the committed ones; profit
    ``dt * (q DA + (net - q) RT) - penalty`` (the day-ahead part per :func:`day_ahead_block`, the
    penalty per :func:`deviation_penalty`).
    """
    em = ctx.p.cfg.markets.energy
    T, dt, exo = ctx.T, ctx.dt, ctx.exo
    net = m.var(T, -np.inf, np.inf)
    bal = m.rows(T, 0.0, 0.0, name="grid.balance")
    m.coef(bal, net, -1.0)
    q = m.var(T, -em.position_max_mw, em.position_max_mw)
    day_ahead_block(m, ctx, q)
    ctx.gain(net, dt * exo[:, I_RT])
    ctx.gain(q, -dt * exo[:, I_RT])
    dp, dm, dev = deviation_rows(m, ctx, net, [q], np.full(T, em.position_max_mw))
    return GridVars(net=net, position=q, dev_up=dp, dev_down=dm, balance=bal, deviation=dev)


TIE_SHARE = 1e-6
"""With the excess-profit recovery: the share of the recovered spread added as a tie-break (not reported in
the profit), so that among plans of equal profit the oracle takes none that trades away from its delivery."""


def deviation_rows(
    m: Model, ctx: OracleContext, net: np.ndarray, position: list[np.ndarray], q_max: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The deviation split ``dp - dm = net - sum(position)`` (``dp, dm >= 0``, rows ``grid.deviation``) and its
    penalty (:func:`deviation_penalty`); returns ``(dp, dm, rows)``."""
    dp = m.var(ctx.T, 0.0, np.inf)
    dm = m.var(ctx.T, 0.0, np.inf)
    dev = m.rows(ctx.T, 0.0, 0.0, name="grid.deviation")
    m.coef(dev, dp, 1.0)
    m.coef(dev, dm, -1.0)
    m.coef(dev, net, -1.0)
    for q in position:
        m.coef(dev, q, 1.0)
    deviation_penalty(m, ctx, dp, dm, position, q_max)
    if ctx.p.cfg.markets.energy.excess_profit_recovery:
        # max((dp - dm) (P_RT - P_DA), 0) dt: with the split minimal (the cost keeps the charged arm at its
        # least), that is the spread times the arm on the profitable side (vpp_gym.markets.energy.recovery)
        spread = ctx.exo[:, I_RT] - ctx.exo[:, I_DA]
        ctx.gain(dp, -ctx.dt * np.maximum(spread, 0.0))
        ctx.gain(dm, -ctx.dt * np.maximum(-spread, 0.0))
        # a position away from the delivered energy then earns exactly what is taken back: prefer none
        ctx.objective.tie_break(dp, -ctx.dt * TIE_SHARE * np.maximum(spread, 0.0))
        ctx.objective.tie_break(dm, -ctx.dt * TIE_SHARE * np.maximum(-spread, 0.0))
    return dp, dm, dev


def deviation_penalty(
    m: Model, ctx: OracleContext, dp: np.ndarray, dm: np.ndarray, position: list[np.ndarray], q_max: np.ndarray
) -> None:
    """The deviation assessment: ``penalty dt max(|dev - instructed| - band, 0)``, ``band = max(share |q|, b0)``.

    ``|dev - instructed| = dp + dm`` (the split of ``grid.deviation``; the penalty keeps one of them 0).
    Without a band (``share = b0 = 0``) or without a penalty: ``penalty dt (dp + dm)``, no rows. With a
    constant band (``share = 0``), still an LP:

    ``grid.band_excess``:    e[t] - dp[t] - dm[t] + band[t] >= 0                   for t in 0..T-1

    with ``band = b0`` (a constant) and ``e >= 0`` paid ``penalty dt``. With ``share > 0`` the band grows
    with ``|q|`` (``q`` the sum of the ``position`` variables: the accepted position or schedule), so the
    penalty falls as ``|q|`` grows, which is not convex: ``|q|`` and the larger arm of the band are
    modelled exactly with binaries (``s`` the sign of ``q``, ``w`` the arm; ``Q = q_max``, ``M =
    max(b0, share Q)``):

    ``grid.position_split``:  sum(position)[t] - q+[t] + q-[t] = 0
    ``grid.position_up``:     q+[t] - Q[t] s[t] <= 0
    ``grid.position_down``:   q-[t] + Q[t] s[t] <= Q[t]
    ``grid.band_share``:      band[t] - share (q+[t] + q-[t]) - M w[t] <= 0
    ``grid.band_floor``:      band[t] + M w[t] <= b0 + M                        (only with b0 > 0)

    so ``band <= share |q|`` or ``band <= b0``, and the profit pushes ``band`` up to the larger of the two.
    """
    em = ctx.p.cfg.markets.energy
    T, dt, pen = ctx.T, ctx.dt, em.imbalance_penalty_per_mwh
    share, floor = em.deviation_band_share, em.deviation_band_min_mw
    if pen == 0.0 or (share == 0.0 and floor == 0.0):
        ctx.gain(dp, -dt * pen)
        ctx.gain(dm, -dt * pen)
        return
    excess = m.var(T, 0.0, np.inf)
    rows = m.rows(T, 0.0, np.inf, name="grid.band_excess")
    m.coef(rows, excess, 1.0)
    m.coef(rows, dp, -1.0)
    m.coef(rows, dm, -1.0)
    ctx.gain(excess, -dt * pen)
    if share == 0.0:
        m.add_rhs(rows, -floor)  # e - dp - dm >= -b0
        return
    band = m.var(T, 0.0, np.inf)
    m.coef(rows, band, 1.0)
    q_pos = m.var(T, 0.0, q_max)
    q_neg = m.var(T, 0.0, q_max)
    split = m.rows(T, 0.0, 0.0, name="grid.position_split")
    for q in position:
        m.coef(split, q, 1.0)
    m.coef(split, q_pos, -1.0)
    m.coef(split, q_neg, 1.0)
    sign = m.var(T, 0.0, 1.0, integer=True)
    up = m.rows(T, -np.inf, 0.0, name="grid.position_up")
    m.coef(up, q_pos, 1.0)
    m.coef(up, sign, -q_max)
    down = m.rows(T, -np.inf, q_max, name="grid.position_down")
    m.coef(down, q_neg, 1.0)
    m.coef(down, sign, q_max)
    big = np.maximum(floor, share * q_max)
    arm = m.rows(T, -np.inf, 0.0, name="grid.band_share")
    m.coef(arm, band, 1.0)
    m.coef(arm, q_pos, -share)
    m.coef(arm, q_neg, -share)
    if floor > 0.0:
        w = m.var(T, 0.0, 1.0, integer=True)
        m.coef(arm, w, -big)
        low = m.rows(T, -np.inf, floor + big, name="grid.band_floor")
        m.coef(low, band, 1.0)
        m.coef(low, w, big)


def committed_positions(ctx: OracleContext) -> tuple[np.ndarray, np.ndarray]:
    """``(fixed, value)``: which intervals have a committed day-ahead position, and the position."""
    fixed = np.zeros(ctx.T, dtype=bool)
    fixed_val = np.zeros(ctx.T)
    for j, pos in enumerate(ctx.state.positions_mw):
        if j < ctx.T:
            fixed[j], fixed_val[j] = True, pos
    return fixed, fixed_val


def day_ahead_block(m: Model, ctx: OracleContext, q: np.ndarray) -> None:
    """Day-ahead positions as a price-taker (paid ``dt * q * DA``) or against the energy stack.

    ``energy.sell_limit`` (an offer at price 0 in a transaction-form market clears up to the need
    when the price is >= 0):  q[t] <= min(q_max, N) if DA[t] >= 0 else 0     for free intervals t
    """
    if "energy" in ctx.stacks:
        energy_price_maker_block(m, ctx, q)
        return
    em = ctx.p.cfg.markets.energy
    fixed, fixed_val = committed_positions(ctx)
    m.fix(q[fixed], fixed_val[fixed])
    if ctx.p.energy_transaction:
        sell_max = np.where(ctx.exo[:, I_DA] >= 0.0, min(em.position_max_mw, em.need_mw), 0.0)
        cap = m.rows(ctx.T, -np.inf, np.where(fixed, np.inf, sell_max), name="energy.sell_limit")
        m.coef(cap, q, 1.0)
    ctx.gain(q, ctx.dt * ctx.exo[:, I_DA])


def energy_price_maker_block(m: Model, ctx: OracleContext, q: np.ndarray) -> None:
    """Day-ahead positions against the energy market's competitor stack.

    Free intervals: the sale on one segment of :func:`~agents.oracle.stacks.stack_segments` (paid its
    price, families ``energy.segment_*``), a purchase ``buy`` at the price the stack clears at without
    the VPP's offer, and not both. Committed intervals: the committed offer is cleared as the simulator
    clears it, and ``q`` is fixed to the cleared position, paid the cleared price.

    ``energy.position_split``:  q[t] - sell[t] + buy[t] = 0                     for free t (0 = 0 else)
    ``energy.buy_or_sell``:     buy[t] + q_max * sum_{s in t} y[s] <= q_max     for t in 0..T-1
    """
    em = ctx.p.cfg.markets.energy
    T, dt, exo, stack = ctx.T, ctx.dt, ctx.exo, ctx.stacks["energy"]
    fixed, fixed_val = committed_positions(ctx)
    need = np.full(T, em.need_mw)
    offers = np.zeros(T)
    offer_prices = np.zeros(T)
    for j, price in enumerate(ctx.state.offer_prices):
        if j < T:
            offers[j], offer_prices[j] = max(fixed_val[j], 0.0), float(price)
    cleared, price = clear_transaction(
        offers, offer_prices, stack[0], stack[1], need, em.price_cap_per_mwh, exo[:, I_DA]
    )
    m.fix(q[fixed], (cleared + np.minimum(fixed_val, 0.0))[fixed])
    ctx.gain(q[fixed], dt * price[fixed])
    sell = m.var(T, 0.0, np.where(fixed, 0.0, em.position_max_mw))
    need_free = np.where(fixed, 0.0, need)
    seg = segments_block(m, "energy", stack, need_free, em.price_cap_per_mwh, em.position_max_mw, sell)
    buy = m.var(T, 0.0, np.where(fixed, 0.0, em.position_max_mw))
    pos = m.rows(T, 0.0, 0.0, name="energy.position_split")
    m.coef(pos[~fixed], q[~fixed], 1.0)
    m.coef(pos, sell, -1.0)
    m.coef(pos, buy, 1.0)
    one = m.rows(T, -np.inf, em.position_max_mw, name="energy.buy_or_sell")
    m.coef(one, buy, 1.0)
    m.coef(one[seg.t], seg.y, em.position_max_mw)
    ctx.gain(seg.a, dt * seg.price)
    ctx.gain(buy, -dt * price)  # with no offer from the VPP (offers[t] = 0 in free intervals)


def import_block(m: Model, ctx: OracleContext) -> ImportVars:
    """Grid imports, at the carbon price (a stateless carbon market) and the green-power matching penalty.

    ``grid.import``:  imp[t] + net[t] >= 0                                       for t in 0..T-1
    """
    cm = ctx.p.cfg.markets.carbon
    grid = ctx.require(ctx.vars.grid, "grid")
    imp = m.var(ctx.T, 0.0, np.inf)
    im = m.rows(ctx.T, 0.0, np.inf, name="grid.import")
    m.coef(im, imp, 1.0)
    m.coef(im, grid.net, 1.0)
    carbon_price = 0.0 if ctx.p.carbon_stateful else ctx.exo[:, I_EF] * cm.price_per_t
    ctx.gain(imp, -ctx.dt * (carbon_price + cm.unmatched_import_penalty_per_mwh))
    return ImportVars(imp=imp)


def grid_decode(ctx: OracleContext, v: GridVars, x: np.ndarray, draft: PlanDraft) -> None:
    """Setpoints ``net``, ``position``; the action at step ``k`` commits the position of interval ``k + L``."""
    draft.setpoints["net"] = x[v.net]
    draft.setpoints["position"] = x[v.position]
    L = ctx.p.lead
    commit = np.zeros(ctx.T)
    commit[: max(ctx.T - L, 0)] = x[v.position][L:]
    draft.actions[:, ctx.p.action_index["da_position"]] = commit / ctx.p.cfg.markets.energy.position_max_mw


def energy_offer_decode(ctx: OracleContext, draft: PlanDraft) -> None:
    """A transaction-form energy market: every day-ahead offer is priced at 0 (action -1)."""
    if ctx.p.energy_transaction:
        draft.actions[:, ctx.p.action_index["da_price"]] = -1.0
