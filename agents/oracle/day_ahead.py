"""The day-ahead timeline in the oracle: D-1 awards, intraday adjustments, schedule settlement, CfD, terminal value.

The rules are the simulator's (:mod:`vpp_gym.core.timeline`, :func:`vpp_gym.core.dynamics.settle_schedule`,
:func:`~vpp_gym.core.dynamics.bid_transition`). Per interval ``t`` of the plan:

    qd[t]    day-ahead award (MW, + = sell): free in [-P, P] (P = position_max_mw) until its bid step,
             then fixed to the award in the state's ring (with its cleared price)
    qi[t]    intraday adjustment (MW): the adjustment already traded plus what the gates still ahead
             may trade, each at most max_mw: [id0 - n max, id0 + n max] with n = the number of those
             gates (0 for the first ``lead`` intervals of the episode)
    net[t], dp[t], dm[t]   net injection and the deviation split (``grid.balance``, ``grid.deviation``)

    profit = dt * (qd P_DA + qi P_ID + (net - qd - qi) P_RT) - penalty
             + dt * Qc (Pc - P_DA)                  (the contract for difference)
             + (e[T-1] - e_init) * P_term            (terminal value, on the episode's last interval)

``P_DA`` is the award's cleared price: the day-ahead series as a price-taker, or, against the energy
market's competitor stack, the price the flat offer clears at (:func:`~agents.oracle.stacks.curve_segments`,
one binary per range, exactly one range per interval so the price, and with it the contract's cash,
is defined). The capacity products are awarded at the bid steps (the blocks of
:mod:`agents.oracle.products`, unchanged); an award already in the state's rings is fixed
(:func:`awarded_products`). The plan is played as flat curves (``da_low = da_high = qd / P``: the
whole quantity in the curve's base, awarded whatever the price) and the products' offers at the bid
steps, setpoints and intraday orders at the dispatch steps (:func:`step_actions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft
from agents.oracle.grid import TIE_SHARE, GridVars, deviation_rows
from agents.oracle.stacks import Segments, curve_segments, segment_vars
from vpp_gym import core
from vpp_gym.core import I_DA, I_ID, I_RT, PRODUCT_COLUMNS, CoreParams
from vpp_gym.core.layout import DA_CURVE_ACTIONS


@dataclass(frozen=True, eq=False)
class DayAheadView:
    """What the day-ahead timeline has fixed for the intervals ``t0 .. t0 + T - 1`` of a plan made at step ``k0``.

    Attributes:
        k0: the step the plan starts at (``state.k``).
        awarded: ``(T,)`` the interval's bid step is before ``k0`` (its awards are in the state's rings).
        da_mw: ``(T,)`` the day-ahead award (0 where not awarded).
        da_price: ``(T,)`` its cleared price.
        id_mw: ``(T,)`` the intraday adjustment already traded.
        aw_mw: per open product, ``(T,)`` its D-1 award.
        aw_price: per open product, ``(T,)`` the award's price.
        gates: ``(G, 3)`` int, one row per trade a gate still ahead may make for an interval of the
            plan: ``(step of the gate, j of its id_mw_j component, plan index of the interval)``.
        id_count: ``(T,)`` how many of those trades each interval gets.
    """

    k0: int
    awarded: np.ndarray
    da_mw: np.ndarray
    da_price: np.ndarray
    id_mw: np.ndarray
    aw_mw: dict[str, np.ndarray]
    aw_price: dict[str, np.ndarray]
    gates: np.ndarray
    id_count: np.ndarray


@dataclass(frozen=True)
class DayAheadVars:
    """The day-ahead timeline's variables ``(T,)``: the award ``da``, the intraday adjustment ``intraday``
    (None without intraday gates), and the price-maker ranges of the award (None as a price-taker)."""

    da: np.ndarray
    intraday: np.ndarray | None
    segments: Segments | None = None


def bid_step_of(p: CoreParams) -> np.ndarray:
    """``(T,)``: the step at which each interval of the episode is bid for."""
    sch = p.schedule
    steps = np.flatnonzero(sch.bid[:-1])
    out = np.empty(p.episode_steps, dtype=np.int64)
    out[sch.interval[steps]] = steps
    return out


def day_ahead_view(p: CoreParams, state: core.State, T: int) -> DayAheadView:
    """The :class:`DayAheadView` of a plan of ``T`` intervals from the scalar ``state``."""
    sch = p.schedule
    t0, k0 = int(state.t), int(state.k)
    idx = t0 + np.arange(T)
    slot = idx % sch.ring
    awarded = bid_step_of(p)[idx] < k0

    def ring(values: tuple[float, ...], offset: int = 0) -> np.ndarray:
        if not values:
            return np.zeros(T)
        return np.where(awarded, np.asarray(values, dtype=float)[offset + slot], 0.0)

    n = sch.ring
    aw_mw = {prod: ring(state.aw_mw, j * n) for j, prod in enumerate(p.open_products)}
    aw_price = {prod: ring(state.aw_price, j * n) for j, prod in enumerate(p.open_products)}
    icfg = p.cfg.markets.energy.intraday
    gates = np.zeros((0, 3), dtype=np.int64)
    if icfg is not None:
        k_gate = np.flatnonzero(p.gate_flags[k0 : sch.steps] > 0) + k0
        j = np.arange(icfg.gate_spacing_steps)
        target = sch.interval[k_gate][:, None] + icfg.lead_steps + j[None, :] - t0  # plan index
        ok = (target >= 0) & (target < T) & (target + t0 < p.episode_steps)
        kk, jj = np.broadcast_arrays(k_gate[:, None], j[None, :])
        gates = np.stack([kk[ok], jj[ok], target[ok]], axis=1).astype(np.int64)
    return DayAheadView(
        k0=k0,
        awarded=awarded,
        da_mw=ring(state.da_mw),
        da_price=ring(state.da_price),
        id_mw=ring(state.id_mw),
        aw_mw=aw_mw,
        aw_price=aw_price,
        gates=gates,
        id_count=np.bincount(gates[:, 2], minlength=T).astype(float) if len(gates) else np.zeros(T),
    )


def with_awarded_prices(p: CoreParams, view: DayAheadView, exo: np.ndarray) -> np.ndarray:
    """``exo`` with the cleared prices of what is awarded: the day-ahead price and each product's price column."""
    if not view.awarded.any():
        return exo
    out = np.array(exo, dtype=float, copy=True)
    fixed = view.awarded
    out[fixed, I_DA] = view.da_price[fixed]
    for prod in p.open_products:
        out[fixed, PRODUCT_COLUMNS[prod][1]] = view.aw_price[prod][fixed]
    return out


def day_ahead_grid_block(m: Model, ctx: OracleContext) -> GridVars:
    """Power balance, the day-ahead award, the intraday adjustment and the real-time deviation.

    ``grid.balance``:    sum_r injection_r[t] - net[t] = 0                              for t in 0..T-1
    ``grid.deviation``:  dp[t] - dm[t] - net[t] + qd[t] + qi[t] + instructed[t] = 0     for t in 0..T-1

    with ``qd`` fixed where awarded; the day-ahead payment per :func:`award_payment`, the intraday
    adjustment paid ``dt P_ID``, the deviation ``dt P_RT``, the penalty per
    :func:`~agents.oracle.grid.deviation_rows` on the schedule ``qd + qi``; with
    ``excess_profit_recovery`` the adjustment's gain over the DA price series, ``dt max(qi (P_ID - P_DA), 0)``
    (``grid.intraday_recovery``), and the deviation's (:func:`~agents.oracle.grid.deviation_rows`) are paid back.
    """
    p, view = ctx.p, ctx.require(ctx.day_ahead, "day-ahead view")
    em = p.cfg.markets.energy
    T, dt, exo = ctx.T, ctx.dt, ctx.exo
    net = m.var(T, -np.inf, np.inf)
    bal = m.rows(T, 0.0, 0.0, name="grid.balance")
    m.coef(bal, net, -1.0)
    qd = m.var(T, -em.position_max_mw, em.position_max_mw)
    m.fix(qd[view.awarded], view.da_mw[view.awarded])
    segments = award_payment(m, ctx, qd)
    ctx.gain(net, dt * exo[:, I_RT])
    ctx.gain(qd, -dt * exo[:, I_RT])
    qi = None
    reach = np.zeros(T)
    if em.intraday is not None:
        reach = view.id_count * em.intraday.max_mw
        qi = m.var(T, view.id_mw - reach, view.id_mw + reach)
        ctx.gain(qi, dt * (exo[:, I_ID] - exo[:, I_RT]))
        if em.excess_profit_recovery:  # r >= qi (P_ID - P_DA), r >= 0, paid dt r: r = max(qi (P_ID - P_DA), 0)
            r = m.var(T, 0.0, np.inf)
            rows = m.rows(T, 0.0, np.inf, name="grid.intraday_recovery")
            m.coef(rows, r, 1.0)
            m.coef(rows, qi, -(exo[:, I_ID] - exo[:, I_DA]))
            ctx.gain(r, -dt * np.ones(T))
            ctx.objective.tie_break(r, -dt * TIE_SHARE * np.ones(T))
    q_max = em.position_max_mw + np.abs(view.id_mw) + reach
    dp, dm, dev = deviation_rows(m, ctx, net, [qd] if qi is None else [qd, qi], q_max)
    ctx.vars.day_ahead = DayAheadVars(da=qd, intraday=qi, segments=segments)
    return GridVars(net=net, position=qd, dev_up=dp, dev_down=dm, balance=bal, deviation=dev)


def contract_mw(ctx: OracleContext) -> np.ndarray:
    """``(T,)``: the contract quantity of each interval (MW, + = sell; 0 without a contract)."""
    return np.asarray(ctx.p.contract_mw, dtype=float)[(ctx.t0 + np.arange(ctx.T)) % ctx.p.schedule.day_steps]


def award_payment(m: Model, ctx: OracleContext, qd: np.ndarray) -> Segments | None:
    """The day-ahead award's payment and the contract for difference.

    Price-taker: ``dt qd P_DA`` (the series, or the cleared price where awarded) and the constant
    ``dt Qc (Pc - P_DA)``. Against the energy stack (free intervals only): ``qd`` on one range of
    :func:`~agents.oracle.stacks.curve_segments` (families ``energy.segment_*``; ``energy.one_segment`` an
    equality with a contract, whose cash needs every interval's price), paid ``dt a_s price_s``; the
    contract ``dt Qc (Pc - sum_s y_s price_s)``.
    """
    p = ctx.p
    em, c = p.cfg.markets.energy, p.cfg.markets.energy.contract
    dt, price_da = ctx.dt, ctx.exo[:, I_DA]
    q_c = contract_mw(ctx)
    p_c = c.price_per_mwh if c is not None else 0.0
    if "energy" not in ctx.stacks:
        ctx.gain(qd, dt * price_da)
        ctx.objective.constant += float(np.sum(q_c * dt * (p_c - price_da)))
        return None
    stack = ctx.stacks["energy"]
    pmax = em.position_max_mw
    need = np.full(ctx.T, em.need_mw)
    ranges = curve_segments(stack[0], stack[1], need, em.price_cap_per_mwh, em.price_floor_per_mwh, -pmax, pmax)
    # with a contract its cash needs the price of every interval: exactly one range (else 0 MW on none is 0 MW)
    seg = segment_vars(m, "energy", ranges, qd, exactly_one=c is not None)
    ctx.gain(seg.a, dt * seg.price)
    ctx.gain(seg.y, -q_c[seg.t] * dt * seg.price)
    ctx.objective.constant += float(np.sum(q_c * dt * p_c))
    return seg


def awarded_products(m: Model, ctx: OracleContext) -> None:
    """Fix the capacity awards already in the state's rings (the awarded intervals of the plan).

    Reserve and demand response: ``A[t]`` fixed to the award. Regulation: the award ``R[t]`` is fixed,
    the capacity held ``A[t]`` in ``[0, R[t]]`` (0 without a battery), the rest paid
    ``shortfall_penalty_per_mwh`` per MW and hour: profit ``dt pen (A - R)``. Their payments use the
    awards' cleared prices (the price columns of ``ctx.exo``, :func:`with_awarded_prices`).

    The simulator holds ``min(R, headroom of the base setpoint)``; the model may plan to hold less (when
    following the signal costs more than it earns), which then does not replay exactly. An award the
    oracle made itself (a plan from the first bid step) is always held whole.
    """
    view = ctx.require(ctx.day_ahead, "day-ahead view")
    fixed = view.awarded
    if not fixed.any():
        return
    for prod, pv in ctx.vars.products.items():
        award = view.aw_mw[prod][fixed]
        if prod != "regulation":
            m.fix(pv.accepted[fixed], award)
            continue
        reg = ctx.p.cfg.markets.regulation
        assert reg is not None
        held = award if ctx.resources.battery is not None else np.zeros_like(award)
        m.bound(pv.accepted[fixed], 0.0, held)
        pen = ctx.dt * reg.shortfall_penalty_per_mwh
        ctx.gain(pv.accepted[fixed], pen)
        ctx.objective.constant -= float(np.sum(award)) * pen


def terminal_value(ctx: OracleContext) -> None:
    """The stored energy at the episode's end credited at the terminal price: ``(e[T-1] - e_init) P_term``
    (when the plan reaches the episode's end and the VPP has a battery)."""
    b = ctx.resources.battery
    if b is None or ctx.t0 + ctx.T != ctx.p.episode_steps or ctx.terminal_price == 0.0:
        return
    e = ctx.require(ctx.vars.battery, "battery").energy
    ctx.gain(e[-1:], ctx.terminal_price)
    ctx.objective.constant -= b.e_init_mwh * ctx.terminal_price


def day_ahead_decode(ctx: OracleContext, v: GridVars, x: np.ndarray, draft: PlanDraft) -> None:
    """Setpoints ``net``, ``da``, ``intraday``, ``position`` (the schedule); the bid actions: a flat curve
    ``da_low = da_high = qd / P`` (mid price at the forecast, no spread: a flat curve is awarded ``qd``
    whatever its price, and below the need its price never sets the clearing price)."""
    dv = ctx.require(ctx.vars.day_ahead, "day-ahead")
    qd = x[dv.da]
    qi = x[dv.intraday] if dv.intraday is not None else np.zeros(ctx.T)
    draft.setpoints["net"] = x[v.net]
    draft.setpoints["da"] = qd
    draft.setpoints["intraday"] = qi
    draft.setpoints["position"] = qd + qi
    col = ctx.p.action_index
    pmax = ctx.p.cfg.markets.energy.position_max_mw
    draft.actions[:, col["da_low"]] = qd / pmax
    draft.actions[:, col["da_high"]] = qd / pmax
    draft.actions[:, col["da_price"]] = 0.0
    draft.actions[:, col["da_spread"]] = -1.0


def bid_columns(p: CoreParams) -> np.ndarray:
    """``(A,)`` bool: the action components a bid step reads (the curve and the products' offers)."""
    names = set(DA_CURVE_ACTIONS)
    for prod in p.open_products:
        names |= {f"{prod}_mw", f"{prod}_price"}
    return np.array([n in names for n in p.action_names])


def step_actions(ctx: OracleContext, draft: PlanDraft, x: np.ndarray) -> np.ndarray:
    """The plan's actions per step, ``(K - k0, A)``: a bid step takes the curve and the offers of its
    interval's row, a dispatch step the setpoints; an intraday gate orders, for interval ``i`` of its
    block, its share of the planned adjustment still to trade, ``(qi[i] - id0[i]) / n[i]`` (``n[i]`` the
    gates ahead that trade ``i``), as ``id_mw_j = . / max_mw``. Steps of intervals beyond the plan are passive
    (0, the gas unit off)."""
    p, view = ctx.p, ctx.require(ctx.day_ahead, "day-ahead view")
    sch = p.schedule
    ks = np.arange(view.k0, sch.steps)
    rows = sch.interval[ks] - ctx.t0
    inside = (rows >= 0) & (rows < ctx.T)
    out = np.zeros((len(ks), draft.actions.shape[1]))
    out[inside] = draft.actions[rows[inside]]
    bid = sch.bid[ks]
    cols = bid_columns(p)
    out[np.ix_(bid, ~cols)] = 0.0
    out[np.ix_(~bid, cols)] = 0.0
    if "gas" in p.action_index:
        out[~inside & ~bid, p.action_index["gas"]] = -1.0
    dv = ctx.require(ctx.vars.day_ahead, "day-ahead")
    icfg = p.cfg.markets.energy.intraday
    if dv.intraday is not None and icfg is not None and len(view.gates):
        k_gate, j, r = view.gates.T
        trade = (x[dv.intraday][r] - view.id_mw[r]) / view.id_count[r]
        id_cols = np.array([p.action_index[f"id_mw_{jj}"] for jj in j])
        out[k_gate - view.k0, id_cols] = trade / icfg.max_mw
    return out
