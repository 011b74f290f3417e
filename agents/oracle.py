"""Perfect-foresight oracle: one (MI)LP over the whole episode, built from the simulator's own params.

The model uses the same :class:`vpp_gym.core.CoreParams` as the simulator and the realised exogenous
series of the episode, and returns its plan as env actions, so replaying the plan through the env
reproduces the oracle's objective (the equivalence test). Decision variables per interval ``t``:

    q[t]            day-ahead position for t (fixed to the committed ones for the first L intervals)
    pv[t], wd[t]    renewable output, 0 <= . <= available (= available if not curtailable)
    bd[t], bc[t]    battery discharge / charge (>= 0), e[t] stored energy after t
    c[t], s[t]      load curtailment and shift, b[t] shift backlog after t, v[t] forced-make-up excess
    ed[t], ec[t]    EV discharge / charge, n[t] need after departures
    g[t], u[t]      gas output and on/off (binary), st[t] start-up indicator
    dp[t], dm[t]    real-time deviation split (imbalance penalty), imp[t] grid import (emissions)

with the constraints of the resource modules' docstrings:

    net[t]  = pv + wd + bd - bc + ed - ec + g - (L[t] - c - s)
    e[t]    = e[t-1] - dt * (bd / eta_d - bc * eta_c),        e_min <= e <= e_high
    b[t]    = b[t-1] + s * dt;  at a window end s = -b[t-1] / dt, b[t] = 0, |s| <= s_max + v / dt
    n1[t]   = n[t-1] + a[t] E - ec eta_c dt + ed dt / eta_d,  n[t] = (1 - d[t]) n1[t],  unmet = d[t] n1[t]
    gas:    p_min u <= g <= p_max u;  g[t] <= g[t-1] + R u[t-1] + U0 (1 - u[t-1]);
            g[t] >= g[t-1] - R - p_max (1 - u[t]);  shutdown only from g[t-1] <= p_min + R
    dp - dm = net - q,   imp >= -net,  imp >= 0

and the objective: the env's profit (cash flows minus costs and penalties), maximised. It is an LP
unless the scenario has a gas unit (binaries for on/off) or reserve calls (the deployment order).
Storage that would charge and discharge in the same interval (only ever optimal when energy is worth
less than nothing) cannot be replayed, so such a plan is re-solved with a binary charge/discharge
mode per interval.

The carbon market is settled at the episode end as in the simulator: ``C(X_T)`` of the net position
``X = emissions - allowances - CCER used`` (flat or stepped ladder, see ``_carbon_settlement``).

Ancillary products, in the invitation form and the price-taker transaction form (an offer at price 0,
accepted up to the need; no competitor stack):

    A_p[t]          accepted capacity of product p, at most what the clearing can give the largest offer
    regulation      followed exactly (score 1) by the battery at the AGC sub-steps, within its
                    feasible range (``_battery_profile``); paid capacity and mileage
    reserve         the call ``k[t] A_res`` is deployed as the simulator does: battery spare headroom,
                    then the gas unit, then extra load curtailment, the rest short and penalised
                    (``_reserve_priority``: binaries in call intervals only)
    demand response delivered against the passive baseline (``_demand_response``)

Scope: competitor stacks (price-maker clearing) and imperfect regulation tracking (response delay,
ramp limit) raise :class:`OracleScopeError` naming what is not modelled.

The class of plans the oracle is optimal over (every plan in it replays exactly):

* regulation: the simulator awards at most the battery's symmetric headroom around its base
  setpoint and only the battery follows, so every award is followed exactly (score 1 without a
  response delay or ramp limit) and ``p_lo <= base - A_reg``, ``base + A_reg (+ D_bat) <= p_hi``
  describe every feasible plan: nothing outside the class (an offer beyond the headroom is simply not
  awarded; ``tests/agents/test_oracle_regulation_scope.py`` checks that overselling earns nothing).
* reserve: a shortfall is planned only with the load's curtailment at ``curtail_share * base``
  (see :func:`_reserve_priority`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from agents.base import single_observation
from agents.lp import Model, Solution, SolveError
from vpp_gym import core
from vpp_gym.core import (
    I_DA,
    I_DR_NEED,
    I_DR_P,
    I_EF,
    I_EV_ARR,
    I_EV_DEP,
    I_EV_PLUG,
    I_LOAD,
    I_PV,
    I_REG_CAP_P,
    I_REG_MIL_P,
    I_RES_CALL,
    I_RES_P,
    I_RT,
    I_WIND,
    PRODUCT_COLUMNS,
    CoreParams,
)
from vpp_gym.markets import carbon
from vpp_gym.markets.clearing import clear_invitation
from vpp_gym.ops import SCALAR

SIMULTANEOUS_TOL_MW = 1e-7


class OracleScopeError(NotImplementedError):
    """The scenario uses a market feature the oracle does not model yet."""


@dataclass
class Plan:
    """An optimal plan.

    Attributes:
        actions: ``(T, A)`` env actions in ``[-1, 1]``, one row per step.
        profit: the optimal objective (the env's profit summed over the episode, currency).
        setpoints: the plan's MW values by name (``"battery"``, ``"net"``, ...), ``(T,)`` each.
        mip: whether binaries were needed.
    """

    actions: np.ndarray
    profit: float
    setpoints: dict[str, np.ndarray]
    mip: bool


def check_scope(p: CoreParams) -> None:
    """Raise :class:`OracleScopeError` for a scenario outside the oracle's model."""
    missing = []
    mk = p.cfg.markets
    stacks = [n for n in ("energy", *p.open_products)
              if getattr(mk, n).form == "transaction" and getattr(mk, n).competitors.n_offers > 0]
    if stacks:
        missing.append(f"competitor stacks (price-maker clearing) in {', '.join(stacks)}")
    reg = mk.regulation
    if reg is not None and (reg.delay_substeps > 0 or reg.ramp_mw_per_substep is not None):
        missing.append("a regulation response delay or ramp limit (imperfect tracking)")
    if missing:
        raise OracleScopeError("the oracle does not model " + "; ".join(missing) + " yet")


def solve(p: CoreParams, exo: np.ndarray, state: core.State, time_limit_s: float = 600.0,
          force_binary_modes: bool = False, agc: np.ndarray | None = None, exact: bool = True) -> Plan:
    """The optimal plan for the intervals of ``exo`` starting from a scalar ``state``.

    Args:
        p: the simulator's parameters.
        exo: ``(T, K)`` realised (or forecast) exogenous values, columns in ``ALL_NAMES`` order.
        state: the scalar state at the start (``state.t`` = episode step of the first interval, which
            fixes the shift windows; ``positions_mw`` the already committed positions).
        time_limit_s: solver time limit.
        force_binary_modes: model storage charge/discharge with a binary mode from the start.
        agc: ``(T, S)`` AGC signal of the intervals (needed when regulation is open).
        exact: with a rewarded stepped carbon surplus, prove no deeper surplus band is better (an upper
            bound per band); False stops after two bands in a row no better than the best (faster,
            what MPC uses: its forecasts are not exact anyway).

    Returns:
        The plan; ``plan.actions[k]`` is the action for step ``state.t + k``.
    """
    check_scope(p)
    cm = p.cfg.markets.carbon
    segmented = p.carbon_stateful and cm.pricing == "stepped" and cm.reward_surplus
    segments: list[int | None] = [None] if not segmented else [-1, *range(_max_surplus_bands(p, state))]
    best: Plan | None = None
    T = exo.shape[0]
    worse_in_a_row = 0
    for seg in segments:
        if not exact and worse_in_a_row >= 2:
            break
        if exact and best is not None and seg is not None and seg >= 1:
            # an upper bound on every band from here on: the deepest band's reward rate on all of it
            try:
                bound = _solve(p, exo, state, time_limit_s, np.zeros(T, dtype=bool), agc, seg, tail=True)
            except SolveError as err:
                if err.infeasible:
                    break  # the surplus cannot reach this band (nor any further one)
                raise
            if bound.profit <= best.profit:
                break  # no deeper band can beat the best plan
        # Storage charging and discharging in the same interval cannot be replayed: where the LP does
        # it, those intervals get a binary charge/discharge mode, and the model is solved again.
        modes = np.full(T, force_binary_modes)
        plan = None
        infeasible = False
        for attempt in range(9):
            if attempt == 8:  # last resort: a binary charge/discharge mode in every interval
                modes = np.ones(T, dtype=bool)
            try:
                plan = _solve(p, exo, state, time_limit_s, modes, agc, seg)
            except SolveError as err:
                if not err.infeasible or seg is None:
                    raise
                plan, infeasible = None, True  # this carbon segment is out of reach (or only with storage losses)
                break
            simultaneous = plan.setpoints.pop("_simultaneous")
            if best is not None and plan.profit <= best.profit:
                plan = None  # no better than the best plan (a relaxation's exact version cannot be either)
                worse_in_a_row += 1
                break
            worse_in_a_row = 0
            if not simultaneous.any():
                break
            modes = modes | simultaneous
        else:
            raise SolveError("storage charged and discharged in the same interval even with a binary mode in "
                             "every interval")
        if plan is None:
            if seg is not None and seg >= 0 and infeasible:
                break  # the surplus cannot reach this band (nor any further one)
            continue
        if best is None or plan.profit > best.profit:
            best = plan
    if best is None:
        raise SolveError("no feasible plan", infeasible=True)
    return best


def _max_surplus_bands(p: CoreParams, state: core.State) -> int:
    """How many surplus bands the episode's net carbon position could possibly reach."""
    cm = p.cfg.markets.carbon
    x0, _ = carbon.net_position(float(state.emissions_t), float(state.allowances_t), float(state.ccer_t), cm, SCALAR)
    return int(np.ceil((p.carbon_scale_t + abs(x0)) / cm.band_t)) + 1


def _solve(p: CoreParams, exo: np.ndarray, state: core.State, time_limit_s: float, binary_modes: np.ndarray,
           agc: np.ndarray | None, carbon_segment: int | None = None, tail: bool = False) -> Plan:
    cfg = p.cfg
    r = cfg.resources
    em = cfg.markets.energy
    cm = cfg.markets.carbon
    T = exo.shape[0]
    dt = p.dt_h
    t0 = int(state.t)
    stateful = p.carbon_stateful
    m = Model()
    tt = np.arange(T)
    profit_terms: list[tuple[np.ndarray, np.ndarray]] = []  # (variable indices, profit coefficients)

    def gain(idx: np.ndarray, coef: np.ndarray | float) -> None:
        profit_terms.append((idx, np.broadcast_to(np.asarray(coef, dtype=float), idx.shape)))

    # net[t] = sum of injections: one balance row per interval, net as a free variable
    net = m.var(T, -np.inf, np.inf)
    bal = m.rows(T, 0.0, 0.0)
    m.coef(bal, net, -1.0)

    # day-ahead position: committed ones fixed, later ones free within the limit, none past the episode
    q = m.var(T, -em.position_max_mw, em.position_max_mw)
    fixed = np.zeros(T, dtype=bool)
    fixed_val = np.zeros(T)
    for j, pos in enumerate(state.positions_mw):
        if j < T:
            fixed[j], fixed_val[j] = True, pos
    m.fix(q[fixed], fixed_val[fixed])
    if p.energy_transaction:  # an offer at price 0 clears up to the need when the DA price is >= 0
        sell_max = np.where(exo[:, I_DA] >= 0.0, min(em.position_max_mw, em.need_mw), 0.0)
        cap = m.rows(T, -np.inf, np.where(fixed, np.inf, sell_max))
        m.coef(cap, q, 1.0)
    gain(q, dt * exo[:, I_DA])
    # real-time: (net - q) at the RT price; imbalance penalty on |net - q - instructed| (dp + dm)
    gain(net, dt * exo[:, I_RT])
    gain(q, -dt * exo[:, I_RT])
    dp = m.var(T, 0.0, np.inf)
    dm = m.var(T, 0.0, np.inf)
    dev = m.rows(T, 0.0, 0.0)  # dp - dm - net + q + instructed = 0 (instructed added with the products)
    m.coef(dev, dp, 1.0)
    m.coef(dev, dm, -1.0)
    m.coef(dev, net, -1.0)
    m.coef(dev, q, 1.0)
    gain(dp, -dt * em.imbalance_penalty_per_mwh)
    gain(dm, -dt * em.imbalance_penalty_per_mwh)

    sp: dict[str, np.ndarray] = {}
    renew_idx: list[np.ndarray] = []
    for name, prm, col in (("pv", r.pv, I_PV), ("wind", r.wind, I_WIND)):
        if prm is None:
            continue
        avail = prm.p_max_mw * exo[:, col]
        v = m.var(T, avail if not prm.curtailable else 0.0, avail)
        m.coef(bal, v, 1.0)
        renew_idx.append(v)
        sp[name] = v
        sp[f"{name}_avail"] = avail  # type: ignore[assignment]
    if renew_idx and cm.gec_share > 0:
        for v in renew_idx:
            gain(v, dt * cm.gec_share * cm.gec_price_per_mwh)

    simultaneous_pairs: list[tuple[np.ndarray, np.ndarray]] = []
    products = p.open_products
    acc: dict[str, np.ndarray] = {}
    for prod in products:
        acc[prod] = _accepted_var(m, p, prod, exo, has_battery=r.battery is not None)
    # reserve deployment per source (battery, gas, load curtailment) and shortfall, in call intervals
    deploy = _reserve_deployment_vars(m, p, exo, acc) if "reserve" in products else {}
    if "regulation" in products:
        if agc is None:
            raise ValueError("solve: the scenario has regulation; pass the AGC signal (agc=...)")
        sig = np.asarray(agc, dtype=float)[:T]
        prev = np.concatenate([[float(state.agc_last)], sig[:-1, -1]])
        miles = np.abs(np.diff(np.concatenate([prev[:, None], sig], axis=1), axis=1)).sum(axis=1)
        gain(acc["regulation"], dt * exo[:, I_REG_CAP_P] + miles * exo[:, I_REG_MIL_P])
    else:
        sig = np.zeros((T, 1))
    if "reserve" in products:
        gain(acc["reserve"], dt * exo[:, I_RES_P])
        gain(deploy["sf"], -dt * p.cfg.markets.reserve.shortfall_penalty_per_mwh)  # type: ignore[union-attr]
        for src in ("bat", "gas", "c"):  # the delivered energy is instructed (no imbalance penalty)
            if src in deploy:
                m.coef(dev, deploy[src], 1.0)
    if "regulation" in products:
        m.coef(dev, acc["regulation"], sig.mean(axis=1))
    if r.battery is not None:
        b = r.battery
        bd = m.var(T, 0.0, b.p_discharge_max_mw)
        bc = m.var(T, 0.0, b.p_charge_max_mw)
        e = m.var(T, b.e_min_mwh, b.e_high_mwh)
        m.coef(bal, bd, 1.0)
        m.coef(bal, bc, -1.0)
        soc = m.rows(T, 0.0, 0.0)  # e[t] - e[t-1] + (energy out of the interval) = 0
        m.coef(soc, e, 1.0)
        m.coef(soc[1:], e[:-1], -1.0)
        m.add_rhs(soc[0], float(state.e_bat_mwh))
        sp["bd"], sp["bc"], sp["e"] = bd, bc, e
        if not products:
            m.coef(soc, bd, dt / b.eta_discharge)
            m.coef(soc, bc, -dt * b.eta_charge)
            gain(bd, -dt * b.degradation_cost_per_mwh)
            gain(bc, -dt * b.degradation_cost_per_mwh)
            simultaneous_pairs.append((bd, bc))
            if binary_modes.any():
                _binary_mode(m, bd[binary_modes], bc[binary_modes], b.p_discharge_max_mw, b.p_charge_max_mw)
        else:
            _battery_profile(m, p, state, bal, soc, bd, bc, e, sig, acc, deploy.get("bat"), gain,
                             simultaneous_pairs, binary_modes)

    if r.flex_load is not None:
        fl = r.flex_load
        base = fl.peak_mw * exo[:, I_LOAD]
        c = m.var(T, 0.0, fl.curtail_share * base)
        W = p.window_steps
        window_end = ((t0 + tt + 1) % W == 0) | (t0 + tt + 1 == p.episode_steps)
        s_max = fl.shift_share * base
        s_lo = np.where(window_end, -np.inf, -s_max)
        s_hi = np.where(window_end, np.inf, s_max)
        sh = m.var(T, s_lo, s_hi)
        shp = m.var(T, 0.0, np.inf)  # |s| = shp + shm
        shm = m.var(T, 0.0, np.inf)
        split = m.rows(T, 0.0, 0.0)
        m.coef(split, sh, 1.0)
        m.coef(split, shp, -1.0)
        m.coef(split, shm, 1.0)
        bl = m.var(T, -np.inf, np.inf)
        back = m.rows(T, 0.0, 0.0)  # b[t] - b[t-1] - s dt = 0 (window ends: b[t] = 0)
        m.coef(back, bl, 1.0)
        m.coef(back[1:], bl[:-1], -1.0)
        m.coef(back, sh, -dt)
        m.add_rhs(back[0], float(state.backlog_mwh))
        m.fix(bl[window_end], 0.0)
        # forced make-up beyond the limit is a violation: v >= (|s| - s_max) dt at window ends
        viol = m.var(T, 0.0, np.where(window_end, np.inf, 0.0))
        rows_v = m.rows(T, -np.inf, np.where(window_end, s_max * dt, np.inf))
        m.coef(rows_v, shp, dt)
        m.coef(rows_v, shm, dt)
        m.coef(rows_v, viol, -1.0)
        # consumption never negative (the simulator's cap on a forced reduction never binds)
        cons = m.rows(T, -np.inf, base)
        m.coef(cons, c, 1.0)
        m.coef(cons, sh, 1.0)
        m.coef(bal, c, 1.0)
        m.coef(bal, sh, 1.0)
        m.add_rhs(bal, base)  # net = ... - base + c + s  ->  row: ... + c + s - net = base
        gain(c, -dt * fl.curtail_cost_per_mwh)
        gain(shp, -dt * fl.shift_cost_per_mwh)
        gain(shm, -dt * fl.shift_cost_per_mwh)
        gain(viol, -fl.shift_violation_penalty_per_mwh)
        sp["c"], sp["s"], sp["base"] = c, sh, base  # type: ignore[assignment]

    if r.ev is not None:
        ev = r.ev
        E = ev.e_fleet_mwh
        plug, arr, dep = exo[:, I_EV_PLUG], exo[:, I_EV_ARR], exo[:, I_EV_DEP]
        ec = m.var(T, 0.0, plug * ev.p_charge_max_mw)
        ed = m.var(T, 0.0, plug * ev.p_discharge_max_mw if ev.v2g else 0.0)
        n1 = m.var(T, 0.0, np.inf)  # need after charging, before departures
        # n1[t] = (1 - d[t-1]) n1[t-1] + a[t] E - ec eta dt + ed dt / eta  (n[t-1] = (1 - d[t-1]) n1[t-1])
        rows_n = m.rows(T, 0.0, 0.0)
        m.coef(rows_n, n1, 1.0)
        m.coef(rows_n[1:], n1[:-1], -(1.0 - dep[:-1]))
        m.coef(rows_n, ec, ev.eta_charge * dt)
        m.coef(rows_n, ed, -dt / ev.eta_discharge)
        m.add_rhs(rows_n, arr * E)
        m.add_rhs(rows_n[0], float(state.ev_need_mwh))
        # n0 = n1 + ec eta dt - ed dt / eta must stay within the fleet (the simulator's cap never binds),
        # and V2G needs room: n1 <= plugged * E
        cap = m.rows(T, -np.inf, E)
        m.coef(cap, n1, 1.0)
        m.coef(cap, ec, ev.eta_charge * dt)
        m.coef(cap, ed, -dt / ev.eta_discharge)
        if ev.v2g:
            room = m.rows(T, -np.inf, plug * E)
            m.coef(room, n1, 1.0)
        m.coef(bal, ed, 1.0)
        m.coef(bal, ec, -1.0)
        gain(n1, -ev.unmet_penalty_per_mwh * dep)
        if t0 + T == p.episode_steps:  # need still outstanding at the episode end, at its terminal price
            gain(n1[-1:], -(1.0 - dep[-1]) * p.ev_terminal_price_per_mwh)
        gain(ed, -dt * ev.degradation_cost_per_mwh)
        sp["ec"], sp["ed"], sp["n1"] = ec, ed, n1
        simultaneous_pairs.append((ed, ec))
        if binary_modes.any() and ev.v2g:
            _binary_mode(m, ed[binary_modes], ec[binary_modes], ev.p_discharge_max_mw, ev.p_charge_max_mw)

    if r.gas is not None:
        gs = r.gas
        R = gs.ramp_mw_per_h * dt
        U0 = max(gs.p_min_mw, min(gs.p_max_mw, R))
        g = m.var(T, 0.0, gs.p_max_mw)
        u = m.var(T, 0.0, 1.0, integer=True)
        st = m.var(T, 0.0, 1.0)
        g0 = float(state.gas_p_mw)
        u0 = 1.0 if g0 > 0 else 0.0
        lo = m.rows(T, 0.0, np.inf)  # g - p_min u >= 0
        m.coef(lo, g, 1.0)
        m.coef(lo, u, -gs.p_min_mw)
        hi = m.rows(T, -np.inf, 0.0)  # g - p_max u <= 0
        m.coef(hi, g, 1.0)
        m.coef(hi, u, -gs.p_max_mw)
        # ramp up / start-up range: g[t] - g[t-1] - (R - U0) u[t-1] <= U0
        up = m.rows(T, -np.inf, U0)
        m.coef(up, g, 1.0)
        m.coef(up[1:], g[:-1], -1.0)
        m.coef(up[1:], u[:-1], -(R - U0))
        m.add_rhs(up[0], g0 + (R - U0) * u0)
        # ramp down while on: g[t] - g[t-1] - p_max u[t] >= -R - p_max
        down = m.rows(T, -R - gs.p_max_mw, np.inf)
        m.coef(down, g, 1.0)
        m.coef(down[1:], g[:-1], -1.0)
        m.coef(down, u, -gs.p_max_mw)
        m.add_rhs(down[0], g0)
        # shutdown only from g[t-1] <= p_min + R: g[t-1] - p_max u[t] <= p_min + R
        shut = m.rows(T, -np.inf, gs.p_min_mw + R)
        m.coef(shut[1:], g[:-1], 1.0)
        m.coef(shut, u, -gs.p_max_mw)
        m.add_rhs(shut[0], -g0)
        # start-up: st >= u[t] - u[t-1]
        su = m.rows(T, 0.0, np.inf)
        m.coef(su, st, 1.0)
        m.coef(su, u, -1.0)
        m.coef(su[1:], u[:-1], 1.0)
        m.add_rhs(su[0], -u0)
        m.coef(bal, g, 1.0)
        gain(g, -dt * gs.fuel_cost_per_mwh - (0.0 if stateful else dt * gs.ef_t_per_mwh * cm.price_per_t))
        gain(st, -gs.startup_cost)
        sp["g"], sp["u"] = g, u

    # grid imports: emissions at the carbon price, green-power matching penalty
    imp = m.var(T, 0.0, np.inf)
    im = m.rows(T, 0.0, np.inf)  # imp + net >= 0
    m.coef(im, imp, 1.0)
    m.coef(im, net, 1.0)
    gain(imp, -dt * ((0.0 if stateful else exo[:, I_EF] * cm.price_per_t) + cm.unmatched_import_penalty_per_mwh))
    if "reserve" in products:
        _reserve_priority(m, p, state, exo, acc, deploy, sp)
    if "demand_response" in products:
        _demand_response(m, p, exo, net, acc, sig, deploy, sp, gain)
    constant = 0.0
    if stateful:
        constant = _carbon_settlement(m, p, exo, state, imp, sp, renew_idx, gain, carbon_segment, tail)

    for idx, coef in profit_terms:
        m.add_cost(idx, -coef)
    sol = m.solve(time_limit_s)
    plan = _plan(p, exo, state, sol, sp, q, net, simultaneous_pairs, acc, deploy)
    plan.profit += constant
    return plan


def _demand_response(m: Model, p: CoreParams, exo: np.ndarray, net: np.ndarray, acc: dict[str, np.ndarray],
                     sig: np.ndarray, dep: dict[str, np.ndarray], sp: dict[str, Any], gain: Any) -> None:
    """Demand response against the passive baseline.

    ``del = dir * (net - reserve delivered - mean(s) * A_reg - baseline) >= 0`` in event intervals (the
    oracle never moves against an event, so the simulator's ``max(., 0)`` is the identity);
    ``pay <= del``, ``pay <= A_dr`` (paid ``pay * dt * price``); ``short >= A_dr - del`` (penalised).
    """
    dc = p.cfg.markets.demand_response
    assert dc is not None
    T = exo.shape[0]
    dt = p.dt_h
    need = exo[:, I_DR_NEED]
    direction = np.sign(need)
    event = need != 0.0
    baseline = np.zeros(T)
    for name in ("pv", "wind"):
        if f"{name}_avail" in sp:
            baseline += sp[f"{name}_avail"]
    if "base" in sp:
        baseline -= sp["base"]
    a_dr = acc["demand_response"]
    dl = m.var(T, 0.0, np.where(event, np.inf, 0.0))
    rows = m.rows(T, np.where(event, -direction * baseline, -np.inf), np.where(event, -direction * baseline, np.inf))
    m.coef(rows, dl, 1.0)
    m.coef(rows, net, -direction)
    for src in ("bat", "gas", "c"):  # reserve delivered by each source
        if src in dep:
            m.coef(rows, dep[src], direction)
    if "regulation" in acc:
        m.coef(rows, acc["regulation"], direction * sig.mean(axis=1))
    pay = m.var(T, 0.0, np.inf)
    r1 = m.rows(T, -np.inf, 0.0)
    m.coef(r1, pay, 1.0)
    m.coef(r1, dl, -1.0)
    r2 = m.rows(T, -np.inf, 0.0)
    m.coef(r2, pay, 1.0)
    m.coef(r2, a_dr, -1.0)
    short = m.var(T, 0.0, np.inf)
    r3 = m.rows(T, 0.0, np.inf)
    m.coef(r3, short, 1.0)
    m.coef(r3, a_dr, -1.0)
    m.coef(r3, dl, 1.0)
    gain(pay, dt * exo[:, I_DR_P])
    gain(short, -dt * dc.shortfall_penalty_per_mwh)


def _reserve_deployment_vars(m: Model, p: CoreParams, exo: np.ndarray, acc: dict[str, np.ndarray]
                             ) -> dict[str, np.ndarray]:
    """Reserve deployed per source and the shortfall, ``(T,)`` each (0 outside call intervals).

    ``D_bat + D_gas + D_c + sf = call * A_res`` (sources the scenario has). Returns ``{"bat", "gas",
    "c", "sf"}`` (the sources present, and ``"sf"`` always).
    """
    r = p.cfg.resources
    T = exo.shape[0]
    call = exo[:, I_RES_CALL]
    ub = np.where(call > 0, np.inf, 0.0)
    dep: dict[str, np.ndarray] = {}
    for src, prm in (("bat", r.battery), ("gas", r.gas), ("c", r.flex_load)):
        if prm is not None:
            dep[src] = m.var(T, 0.0, ub)
    dep["sf"] = m.var(T, 0.0, ub)
    total = m.rows(T, 0.0, 0.0)
    for v in dep.values():
        m.coef(total, v, 1.0)
    m.coef(total, acc["reserve"], -call)
    return dep


def _reserve_priority(m: Model, p: CoreParams, state: core.State, exo: np.ndarray, acc: dict[str, np.ndarray],
                      dep: dict[str, np.ndarray], sp: dict[str, Any]) -> None:
    """Make the planned deployment the simulator's: battery spare headroom, then gas, then curtailment.

    The simulator deploys ``D_bat = min(called, max(p_hi - base - A_reg, 0))``, then from the gas unit
    if on ``D_gas = min(rest, on_hi - base_gas)``, then ``D_c = min(rest, c_max - c_base)``; the rest
    is a shortfall. The plan's variables are each source's total (base + deployment); the base the
    action asks for is the total minus the deployment. The plan is the rule's outcome exactly when

        battery:  base + A_reg + D_bat <= p_hi (in :func:`_battery_profile`), and if D_gas + D_c + sf > 0
                  then = p_hi:  p_hi = min(P_dis, (e[t-1] - e_min) eta_d / dt), one binary per arm;
        gas:      D_gas <= p_max u; base_gas = g - D_gas within the on-range from g[t-1] (g itself is
                  at most on_hi), and if D_c + sf > 0 then u = 0 or g = on_hi = min(p_max,
                  g[t-1] + R u[t-1] + U0 (1 - u[t-1])), one binary per arm;
        load:     c_base = c - D_c >= 0 (c <= c_max holds already), and if sf > 0 then
                  c = curtail_share * base.

    Binaries only in call intervals. The load's ``c_max`` is ``min(curtail_share * base, base - s)``;
    a shortfall is planned only with the first of the two at its limit (the second binds only when
    shift defers more than ``1 - curtail_share`` of the base load): a narrower plan class, never a
    replay mismatch.
    """
    r = p.cfg.resources
    dt = p.dt_h
    call = exo[:, I_RES_CALL]
    K = np.flatnonzero(call > 0)
    if not len(K):
        return
    n = len(K)
    first = K == 0
    big_rest = call[K] * p.cfg.markets.reserve.offer_max_mw + 1.0  # type: ignore[union-attr]
    reg = acc.get("regulation")
    if r.battery is not None:
        b = r.battery
        rest = [dep[s] for s in ("gas", "c", "sf") if s in dep]
        w = m.var(2 * n, 0.0, 1.0, integer=True)
        w_pow, w_en = w[:n], w[n:]
        one = m.rows(n, -np.inf, 1.0)  # w_pow + w_en <= 1
        m.coef(one, w_pow, 1.0)
        m.coef(one, w_en, 1.0)
        sat = m.rows(n, -np.inf, 0.0)  # rest - M (w_pow + w_en) <= 0
        for v in rest:
            m.coef(sat, v[K], 1.0)
        m.coef(sat, w_pow, -big_rest)
        m.coef(sat, w_en, -big_rest)
        k_hi = b.eta_discharge / dt
        # power arm: base + A_reg + D_bat >= P_dis - M (1 - w_pow), the left side >= -P_ch
        m_pow = b.p_discharge_max_mw + b.p_charge_max_mw
        arm = m.rows(n, b.p_discharge_max_mw - m_pow, np.inf)
        # energy arm: base + A_reg + D_bat - k_hi e[t-1] >= -k_hi e_min - M (1 - w_en)
        m_en = b.p_charge_max_mw + k_hi * (b.e_high_mwh - b.e_min_mwh)
        arm_e = m.rows(n, -k_hi * b.e_min_mwh - m_en, np.inf)
        for rows in (arm, arm_e):
            m.coef(rows, sp["bd"][K], 1.0)
            m.coef(rows, sp["bc"][K], -1.0)
            m.coef(rows, dep["bat"][K], 1.0)
            if reg is not None:
                m.coef(rows, reg[K], 1.0)
        m.coef(arm, w_pow, -m_pow)
        m.coef(arm_e, w_en, -m_en)
        m.coef(arm_e[~first], sp["e"][K[~first] - 1], -k_hi)
        m.add_rhs(arm_e[first], k_hi * float(state.e_bat_mwh))
    if r.gas is not None:
        gs = r.gas
        R = gs.ramp_mw_per_h * dt
        U0 = max(gs.p_min_mw, min(gs.p_max_mw, R))
        g, u, d_gas = sp["g"], sp["u"], dep["gas"]
        g0 = float(state.gas_p_mw)
        u0 = 1.0 if g0 > 0 else 0.0
        on = m.rows(n, -np.inf, 0.0)  # D_gas - p_max u <= 0: only an unit that is on deploys
        m.coef(on, d_gas[K], 1.0)
        m.coef(on, u[K], -gs.p_max_mw)
        lo = m.rows(n, 0.0, np.inf)  # base = g - D_gas >= p_min u
        m.coef(lo, g[K], 1.0)
        m.coef(lo, d_gas[K], -1.0)
        m.coef(lo, u[K], -gs.p_min_mw)
        down = m.rows(n, -R - gs.p_max_mw, np.inf)  # base >= g[t-1] - R while on
        m.coef(down, g[K], 1.0)
        m.coef(down, d_gas[K], -1.0)
        m.coef(down, u[K], -gs.p_max_mw)
        m.coef(down[~first], g[K[~first] - 1], -1.0)
        m.add_rhs(down[first], g0)
        rest = [dep[s] for s in ("c", "sf") if s in dep]
        y = m.var(2 * n, 0.0, 1.0, integer=True)
        y_max, y_ramp = y[:n], y[n:]
        sat = m.rows(n, -np.inf, big_rest)  # rest + M u - M (y_max + y_ramp) <= M
        for v in rest:
            m.coef(sat, v[K], 1.0)
        m.coef(sat, u[K], big_rest)
        m.coef(sat, y_max, -big_rest)
        m.coef(sat, y_ramp, -big_rest)
        top = m.rows(n, 0.0, np.inf)  # g >= p_max y_max
        m.coef(top, g[K], 1.0)
        m.coef(top, y_max, -gs.p_max_mw)
        # g - g[t-1] - (R - U0) u[t-1] >= U0 - M (1 - y_ramp); the left side >= -p_max - max(R - U0, 0)
        m_r = U0 + gs.p_max_mw + abs(R - U0)
        ramp = m.rows(n, U0 - m_r, np.inf)
        m.coef(ramp, g[K], 1.0)
        m.coef(ramp, y_ramp, -m_r)
        m.coef(ramp[~first], g[K[~first] - 1], -1.0)
        m.coef(ramp[~first], u[K[~first] - 1], -(R - U0))
        m.add_rhs(ramp[first], g0 + (R - U0) * u0)
    if r.flex_load is not None:
        fl = r.flex_load
        c, d_c = sp["c"], dep["c"]
        base_c = m.rows(n, 0.0, np.inf)  # c_base = c - D_c >= 0
        m.coef(base_c, c[K], 1.0)
        m.coef(base_c, d_c[K], -1.0)
        y = m.var(n, 0.0, 1.0, integer=True)
        sat = m.rows(n, -np.inf, 0.0)  # sf - M y <= 0
        m.coef(sat, dep["sf"][K], 1.0)
        m.coef(sat, y, -big_rest)
        full = m.rows(n, 0.0, np.inf)  # c >= curtail_share * base * y
        m.coef(full, c[K], 1.0)
        m.coef(full, y, -fl.curtail_share * sp["base"][K])


def _accepted_var(m: Model, p: CoreParams, prod: str, exo: np.ndarray, has_battery: bool) -> np.ndarray:
    """The accepted quantity of a product per interval, bounded by what its clearing can give the offer."""
    cfg = p.product(prod)
    assert cfg is not None
    need = np.abs(exo[:, PRODUCT_COLUMNS[prod][0]])
    q = cfg.offer_max_mw
    if cfg.form == "invitation":  # the largest acceptance: the clearing of the largest declaration
        top = clear_invitation(np.full(len(need), q), cfg.others_ratio * need, need)
    else:  # price-taker: an offer at price 0 is accepted up to the need
        top = np.minimum(q, need)
    if prod == "regulation" and not has_battery:
        top = np.zeros_like(top)  # the oracle follows the AGC signal with the battery only
    return m.var(len(need), 0.0, top)


def _offer_for(cfg: Any, accepted: np.ndarray, need: np.ndarray) -> np.ndarray:
    """The declared / offered quantity whose clearing accepts ``accepted`` (inverse of the clearing)."""
    accepted = np.maximum(accepted, 0.0)
    if cfg.form != "invitation":
        return accepted
    r_n = cfg.others_ratio * need
    scaled = accepted + r_n > need  # pro-rata zone: accepted = q N / (q + r N)  ->  q = A r N / (N - A)
    denom = np.where(need - accepted > 0, need - accepted, np.inf)
    return np.where(scaled & (r_n > 0), accepted * r_n / denom, accepted)


def _battery_profile(m: Model, p: CoreParams, state: core.State, bal: np.ndarray, soc: np.ndarray,
                     bd: np.ndarray, bc: np.ndarray, e: np.ndarray, sig: np.ndarray,
                     acc: dict[str, np.ndarray], d_bat: np.ndarray | None, gain: Any,
                     pairs: list[tuple[np.ndarray, np.ndarray]], binary_modes: np.ndarray) -> None:
    """Battery with ancillary products: base setpoint, reserve deployment, AGC following at sub-steps.

    Sub-step power ``p[t, k] = bd - bc + D_bat + A_reg * s[t, k] = dk - ck`` (dk, ck >= 0), with
    ``D_bat`` the reserve the battery deploys; energy ``e[t] = e[t-1] - dt / S * sum_k (dk / eta_d - ck
    * eta_c)``; wear on ``dt / S * sum_k (dk + ck)``. Every sub-step power and the base stay within the
    battery's feasible range of the interval (computed from ``e[t-1]`` as in the simulator), so it
    tracks the signal exactly (score 1): ``base +- A_reg`` within the range (the simulator's award cap)
    and ``base + A_reg + D_bat <= p_hi``, its reserve headroom rule (:func:`_reserve_priority` makes the
    deployment the rule's own).
    """
    b = p.cfg.resources.battery
    assert b is not None
    T, S = sig.shape
    dt = p.dt_h
    reg = acc.get("regulation")
    dk = m.var(T * S, 0.0, np.inf)
    ck = m.var(T * S, 0.0, np.inf)
    rows_k = m.rows(T * S, 0.0, 0.0)  # dk - ck - bd + bc - D_bat - s A_reg = 0
    tk = np.repeat(np.arange(T), S)
    m.coef(rows_k, dk, 1.0)
    m.coef(rows_k, ck, -1.0)
    m.coef(rows_k, bd[tk], -1.0)
    m.coef(rows_k, bc[tk], 1.0)
    if d_bat is not None:
        m.coef(rows_k, d_bat[tk], -1.0)
        m.coef(bal, d_bat, 1.0)
    if reg is not None:
        m.coef(rows_k, reg[tk], -sig.ravel())
        m.coef(bal, reg, sig.mean(axis=1))
    m.coef(soc[tk], dk, dt / S / b.eta_discharge)
    m.coef(soc[tk], ck, -dt / S * b.eta_charge)
    gain(dk, -dt / S * b.degradation_cost_per_mwh)
    gain(ck, -dt / S * b.degradation_cost_per_mwh)
    pairs.append((dk, ck))
    if binary_modes.any():
        big = b.p_discharge_max_mw + b.p_charge_max_mw
        _binary_mode(m, dk.reshape(T, S)[binary_modes].ravel(), ck.reshape(T, S)[binary_modes].ravel(), big, big)
    # feasible range of interval t from e[t-1]:  p <= P_dis, p <= (e[t-1] - e_min) eta_d / dt,
    # p >= -P_ch, p >= -(e_high - e[t-1]) / (eta_c dt), for p in {base, base +- A_reg, base + A_reg + D_bat}:
    # the simulator awards at most the symmetric headroom of the base setpoint (then every sub-step,
    # base + D_bat + A_reg s with |s| <= 1, lies in the range) and deploys reserve within what is left
    everywhere = np.arange(T)
    ones = np.ones(T)
    combos: list[tuple[np.ndarray, list[tuple[np.ndarray | None, np.ndarray]]]] = [(everywhere, [])]
    if reg is not None:
        combos += [(everywhere, [(reg, ones)]), (everywhere, [(reg, -ones)])]
    if d_bat is not None:
        combos.append((everywhere, [(reg, ones), (d_bat, ones)]))
    for at, terms in combos:
        _battery_limits(m, b, state, dt, at, bd, bc, e, [(v, c) for v, c in terms if v is not None])


def _battery_limits(m: Model, b: Any, state: core.State, dt: float, at: np.ndarray, bd: np.ndarray, bc: np.ndarray,
                    e: np.ndarray, terms: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """``P_lo(e[t-1]) <= bd - bc + sum(coef * var) <= P_hi(e[t-1])`` in the intervals ``at`` (power and energy)."""
    k_hi = b.eta_discharge / dt
    k_lo = 1.0 / (b.eta_charge * dt)
    first = at == 0
    n = len(at)
    for upper in (True, False):
        lim = m.rows(n, -b.p_charge_max_mw if not upper else -np.inf, b.p_discharge_max_mw if upper else np.inf)
        # energy: upper: p - k_hi e[t-1] <= -k_hi e_min; lower: p - k_lo e[t-1] >= -k_lo e_high
        k = k_hi if upper else k_lo
        rows = m.rows(n, -np.inf if upper else -k_lo * b.e_high_mwh, -k_hi * b.e_min_mwh if upper else np.inf)
        for r in (lim, rows):
            m.coef(r, bd[at], 1.0)
            m.coef(r, bc[at], -1.0)
            for var, coef in terms:
                m.coef(r, var[at], coef[at])
        m.coef(rows[~first], e[at[~first] - 1], -k)
        m.add_rhs(rows[first], k * float(state.e_bat_mwh))


def _carbon_settlement(m: Model, p: CoreParams, exo: np.ndarray, state: core.State, imp: np.ndarray,
                       sp: dict[str, Any], renew_idx: list[np.ndarray], gain: Any, segment: int | None,
                       tail: bool = False) -> float:
    """Episode-end carbon compliance ``C(X_T)`` for a stateful carbon market; returns the profit constant.

    ``X_T = E - A - used`` from the state's totals plus the plan's: emissions of imports and gas,
    allowances on the load served (consumption + EV charging), CCER on the renewable MWh not certified,
    ``used <= CCER``, ``used <= cap * E``. The env's per-step carbon cash sums to ``C(X_t0) - C(X_T)``.
    The ladder is exact without binaries: the deficit side is convex (the LP fills the cheapest bands
    first); a rewarded surplus is concave in ``X``, so it is solved one band at a time (``segment`` k:
    ``X`` in band k of the surplus, where ``C`` is linear; ``segment`` -1: ``X >= 0``) and
    :func:`solve` keeps the best segment. The search goes deeper into the surplus until a band is out
    of reach or an upper bound on all the deeper bands (``tail``: the deepest reachable band's reward
    rate applied from band k on, a relaxation of the ladder) is no better than the best plan, so the
    search is exact.
    """
    cfg = p.cfg
    cm = cfg.markets.carbon
    r = cfg.resources
    dt = p.dt_h
    X = m.var(1, -np.inf, np.inf)
    used = m.var(1, 0.0, np.inf)
    # X + used - E_plan + A_plan = E0 - A0
    xdef = m.rows(1, 0.0, 0.0)
    m.coef(xdef, X, 1.0)
    m.coef(xdef, used, 1.0)
    m.coef(xdef, imp, -dt * exo[:, I_EF])
    if "g" in sp:
        m.coef(xdef, sp["g"], -dt * r.gas.ef_t_per_mwh)  # type: ignore[union-attr]
    bench = cm.free_allowance_t_per_mwh * dt
    if r.flex_load is not None:  # served = base - c - s
        m.coef(xdef, sp["c"], -bench)
        m.coef(xdef, sp["s"], -bench)
        m.add_rhs(xdef, -bench * float(np.sum(sp["base"])))
    if "ec" in sp:
        m.coef(xdef, sp["ec"], bench)
    m.add_rhs(xdef, float(state.emissions_t) - float(state.allowances_t))
    # used <= CCER0 + plan's credits
    cap_c = m.rows(1, -np.inf, float(state.ccer_t))
    m.coef(cap_c, used, 1.0)
    for v in renew_idx:
        m.coef(cap_c, v, -dt * (1.0 - cm.gec_share) * cm.ccer_t_per_mwh)
    # used <= cap * (E0 + plan's emissions)
    cap_e = m.rows(1, -np.inf, cm.ccer_cap_share * float(state.emissions_t))
    m.coef(cap_e, used, 1.0)
    m.coef(cap_e, imp, -cm.ccer_cap_share * dt * exo[:, I_EF])
    if "g" in sp:
        m.coef(cap_e, sp["g"], -cm.ccer_cap_share * dt * r.gas.ef_t_per_mwh)  # type: ignore[union-attr]
    lam = cm.price_per_t
    x0, _ = carbon.net_position(float(state.emissions_t), float(state.allowances_t), float(state.ccer_t), cm,
                                SCALAR)
    c0 = float(carbon.compliance_cost(x0, cm, SCALAR))
    if cm.pricing == "flat" and cm.reward_surplus:
        gain(X, -lam)
        return c0
    xp = m.var(1, 0.0, np.inf)
    xm = m.var(1, 0.0, np.inf)
    split = m.rows(1, 0.0, 0.0)  # X - xp + xm = 0
    m.coef(split, X, 1.0)
    m.coef(split, xp, -1.0)
    m.coef(split, xm, 1.0)
    if cm.pricing == "flat":  # C = lam * max(X, 0); a surplus is worth nothing
        gain(xp, -lam)
        return c0
    d = cm.band_t
    if segment is None or segment < 0:  # the deficit side (convex): bands filled cheapest first by the LP
        if cm.reward_surplus:
            m.fix(xm, 0.0)  # segment -1: X >= 0
        n_bands = int(np.ceil((p.carbon_scale_t + abs(x0) + 1.0) / d)) + 1
        prices = lam * (1.0 + cm.growth * np.arange(n_bands))
        ub = np.full(n_bands, d)
        ub[-1] = np.inf
        bp = m.var(n_bands, 0.0, ub)
        sum_p = m.rows(1, 0.0, 0.0)
        m.coef(sum_p, bp, 1.0)
        m.coef(sum_p, xp, -1.0)
        gain(bp, -prices)
        return c0
    # a rewarded surplus in band k: X in [-(k+1) d, -k d], where C is linear:
    # C(X) = -(ladder(k d) + lam (1 + k g) (-X - k d))
    k = segment
    m.fix(xp, 0.0)
    if tail:  # every band from k on, each at most at the deepest reachable band's rate: an upper bound
        deepest = _max_surplus_bands(p, state) - 1
        slope = lam * (1.0 + deepest * cm.growth)
        band = m.rows(1, k * d, np.inf)
        m.coef(band, xm, 1.0)
        gain(xm, slope)
        return c0 - float(carbon.compliance_cost(-k * d, cm, SCALAR)) - slope * k * d
    band = m.rows(1, k * d, (k + 1) * d)
    m.coef(band, xm, 1.0)
    slope = lam * (1.0 + k * cm.growth)
    gain(xm, slope)
    return c0 + _surplus_offset(cm, k)


def _surplus_offset(cm: Any, k: int) -> float:
    """Profit offset of surplus band ``k``: ``-C(X) = ladder(k d) + slope (|X| - k d)`` minus ``slope |X|``."""
    d = cm.band_t
    slope = cm.price_per_t * (1.0 + k * cm.growth)
    return -float(carbon.compliance_cost(-k * d, cm, SCALAR)) - slope * k * d


def _binary_mode(m: Model, dis: np.ndarray, ch: np.ndarray, dis_max: float, ch_max: float) -> None:
    """A binary mode per interval: discharge only if mode = 1, charge only if mode = 0."""
    mode = m.var(len(dis), 0.0, 1.0, integer=True)
    r1 = m.rows(len(dis), -np.inf, 0.0)  # dis - dis_max mode <= 0
    m.coef(r1, dis, 1.0)
    m.coef(r1, mode, -dis_max)
    r2 = m.rows(len(dis), -np.inf, ch_max)  # ch + ch_max mode <= ch_max
    m.coef(r2, ch, 1.0)
    m.coef(r2, mode, ch_max)


def _plan(p: CoreParams, exo: np.ndarray, state: core.State, sol: Solution, sp: dict[str, Any], q: np.ndarray,
          net: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]], acc: dict[str, np.ndarray],
          dep: dict[str, np.ndarray]) -> Plan:
    """Decode the solution into env actions (inverse of the env's decoding).

    Setpoints are the resources' totals; the battery, gas and curtailment actions ask for the base,
    the total minus the reserve the simulator deploys from that resource (``reserve_<source>``).
    """
    r = p.cfg.resources
    x = sol.x
    T = exo.shape[0]
    A = np.zeros((T, len(p.action_names)))
    col = p.action_index
    em = p.cfg.markets.energy
    out: dict[str, np.ndarray] = {"net": x[net], "position": x[q]}
    d = {src: x[v] for src, v in dep.items()}
    for src, v in d.items():
        out[f"reserve_{src}"] = v
    zero = np.zeros(T)
    # the action at step k commits the position of interval k + L
    L = p.lead
    commit = np.zeros(T)
    commit[: max(T - L, 0)] = x[q][L:]
    A[:, col["da_position"]] = commit / em.position_max_mw
    if r.battery is not None:
        pb = x[sp["bd"]] - x[sp["bc"]]
        A[:, col["battery"]] = np.where(pb >= 0, pb / max(r.battery.p_discharge_max_mw, 1e-12),
                                        pb / max(r.battery.p_charge_max_mw, 1e-12))
        out["battery"], out["e"] = pb, x[sp["e"]]
    for name, prm in (("pv", r.pv), ("wind", r.wind)):
        if prm is None:
            continue
        avail = sp[f"{name}_avail"]
        out[name] = x[sp[name]]
        if prm.curtailable:
            A[:, col[f"{name}_curtail"]] = np.where(avail > 0, 1.0 - x[sp[name]] / np.where(avail > 0, avail, 1.0), 0.0)
    if r.flex_load is not None:
        fl = r.flex_load
        base = sp["base"]
        c, s = x[sp["c"]], x[sp["s"]]
        c_base = np.maximum(c - d.get("c", zero), 0.0)
        safe = np.where(base > 0, base, 1.0)
        A[:, col["load_curtail"]] = np.where(base > 0, c_base / (fl.curtail_share * safe)
                                             if fl.curtail_share > 0 else 0.0, 0.0)
        A[:, col["load_shift"]] = np.where(base > 0, s / (fl.shift_share * safe) if fl.shift_share > 0 else 0.0, 0.0)
        out["curtail"], out["shift"] = c, s
    if r.ev is not None:
        ev = r.ev
        pe = x[sp["ed"]] - x[sp["ec"]]
        A[:, col["ev"]] = np.where(pe >= 0, pe / max(ev.p_discharge_max_mw, 1e-12), pe / max(ev.p_charge_max_mw, 1e-12))
        out["ev"] = pe
    if r.gas is not None:
        g, u = x[sp["g"]], np.round(x[sp["u"]])
        A[:, col["gas"]] = np.where(u > 0.5, 2.0 * (g - d.get("gas", zero)) / r.gas.p_max_mw - 1.0, -1.0)
        out["gas"] = np.where(u > 0.5, g, 0.0)
    for prod, idx in acc.items():
        cfg = p.product(prod)
        need = np.abs(exo[:, PRODUCT_COLUMNS[prod][0]])
        offer = _offer_for(cfg, x[idx], need)
        A[:, col[f"{prod}_mw"]] = offer / cfg.offer_max_mw if cfg.offer_max_mw > 0 else 0.0  # type: ignore[union-attr]
        if cfg.form == "transaction":  # type: ignore[union-attr]
            A[:, col[f"{prod}_price"]] = -1.0  # an offer at price 0: accepted as a price-taker
        out[f"{prod}_accepted"] = x[idx]
    if p.energy_transaction:
        A[:, col["da_price"]] = -1.0
    simultaneous = np.zeros(T, dtype=bool)
    for dis, ch in pairs:
        both = np.minimum(x[dis], x[ch]) > SIMULTANEOUS_TOL_MW
        simultaneous |= both.reshape(T, -1).any(axis=1)
    out["_simultaneous"] = simultaneous
    return Plan(actions=np.clip(A, -1.0, 1.0), profit=-sol.objective, setpoints=out, mip=sol.mip)


class OraclePolicy:
    """The perfect-foresight oracle as a :class:`~agents.base.Policy`.

    At the first step of an episode it reads the episode's realised series from the env (perfect
    foresight is the point of this baseline), solves once, and then plays the plan.
    """

    def __init__(self, env: gym.Env, time_limit_s: float = 600.0) -> None:
        self._env = env.unwrapped
        check_scope(self._env.params)
        self._time_limit = time_limit_s
        self.plan: Plan | None = None
        self._k = 0

    def reset(self) -> None:
        """Forget the plan (a new one is solved at the episode's first step)."""
        self.plan = None
        self._k = 0

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The planned action of the current step."""
        single_observation(obs, "OraclePolicy")
        if self.plan is None:
            u = self._env
            agc = u._episode.agc[0] if u._episode.agc is not None else None
            self.plan = solve(u.params, u._episode.exo[0], u._state, self._time_limit, agc=agc)
            self._k = 0
        a = self.plan.actions[self._k]
        self._k += 1
        return a.astype(np.float32)
