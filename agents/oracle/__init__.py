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

Ancillary products, in the invitation form and the transaction form (price-taker: an offer at price 0,
accepted up to the need; price-maker against a known competitor stack: see below):

    A_p[t]          accepted capacity of product p, at most what the clearing can give the largest offer
    regulation      followed exactly (score 1) by the battery at the AGC sub-steps, within its
                    feasible range (``_battery_profile``); paid capacity and mileage
    reserve         the call ``k[t] A_res`` is deployed as the simulator does: battery spare headroom,
                    then the gas unit, then extra load curtailment, the rest short and penalised
                    (``_reserve_priority``: binaries in call intervals only)
    demand response delivered against the passive baseline (``_demand_response``)

Price-maker clearing (a transaction-form market with a competitor stack, ``configs/markets/autonomous.yaml``).
The oracle knows the episode's stacks (perfect foresight). With the valid competitor offers of an
interval sorted by price, ``Q_m`` the quantity of the first ``m`` and ``N`` the need, an offer priced
below competitor ``m`` and accepted for ``a`` with ``N - Q_m <= a < N - Q_{m-1}`` leaves competitor
``m`` marginal, so it clears at ``p_m`` whatever the offer's own price; ``a`` below ``N - Q_M`` (a
short stack) clears at the price cap. These ranges are the segments of :func:`stack_segments`, and
the revenue ``a * price(a)``, a step function, is modelled with one binary per segment (at most one
per interval):

    y_s lo_s <= a_s <= y_s hi_s,   sum_{s in t} y_s <= 1,   A[t] = sum_{s in t} a_s,   paid sum price_s a_s

The oracle's offers are priced at 0: every segment clears the same for any offer price below its
marginal competitor's, so a price-maker moves the price by the quantity it offers (withholding).
Left out: the offer as the marginal one (``a = N - Q_{m-1}`` exactly, paid its own price, which can
approach ``p_m`` from below but not reach it: the supremum is not attained), and the segments stop
``STACK_MARGIN_MW`` inside both ends so float32 actions replay on the same side. So the oracle is
optimal over the price-maker plans up to ``STACK_MARGIN_MW * dt`` MWh at the segment's price at
each end of a segment (``2 * STACK_MARGIN_MW * cap * dt`` per interval at most). A day-ahead energy
sale clears against the stack this way; a purchase pays the price the stack clears at without the
VPP's offer. Demand response is paid ``min(delivered, A_dr)`` at its segment's price (one ``pay_s
<= a_s`` per segment). MPC does not see the stacks (competitors' private offers), so a price-maker
scenario is outside its scope.

Scope: imperfect regulation tracking (response delay, ramp limit) raises :class:`OracleScopeError`
naming what is not modelled, and so does a price-maker scenario without its stacks (MPC).

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
from vpp_gym.markets.clearing import QUANTITY_TOL_MW, clear_invitation, clear_transaction
from vpp_gym.ops import SCALAR

SIMULTANEOUS_TOL_MW = 1e-7
STACK_MARGIN_MW = 1e-4
"""Price-maker segments stop this far inside their ends, so float32 offer quantities replay on the same side."""


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


def stacked_markets(p: CoreParams) -> list[str]:
    """The markets of the scenario that clear against a competitor stack (price-maker clearing)."""
    mk = p.cfg.markets
    return [
        n
        for n in ("energy", *p.open_products)
        if getattr(mk, n).form == "transaction" and getattr(mk, n).competitors.n_offers > 0
    ]


def check_scope(p: CoreParams, knows_stacks: bool = True) -> None:
    """Raise :class:`OracleScopeError` for a scenario outside the oracle's model.

    Args:
        p: the simulator's parameters.
        knows_stacks: whether the caller will pass the competitor stacks (the oracle does; MPC, which
            sees only what the agent sees, does not).
    """
    missing = []
    mk = p.cfg.markets
    stacks = stacked_markets(p)
    if stacks and not knows_stacks:
        raise OracleScopeError(
            f"competitor stacks (price-maker clearing) in {', '.join(stacks)}: only the "
            "perfect-foresight oracle is given the competitors' offers, and planning "
            "without them is not modelled"
        )
    reg = mk.regulation
    if reg is not None and (reg.delay_substeps > 0 or reg.ramp_mw_per_substep is not None):
        missing.append("a regulation response delay or ramp limit (imperfect tracking)")
    if missing:
        raise OracleScopeError("the oracle does not model " + "; ".join(missing) + " yet")


def solve(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    time_limit_s: float = 600.0,
    force_binary_modes: bool = False,
    agc: np.ndarray | None = None,
    exact: bool = True,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Plan:
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
        stacks: the competitor stacks of the intervals, ``market -> (mw, price)``, each ``(T, M)``
            (needed for every market :func:`stacked_markets` names; ``VppEnv.episode.stacks`` row 0,
            sliced like ``exo``).

    Returns:
        The plan; ``plan.actions[k]`` is the action for step ``state.t + k``.
    """
    check_scope(p, knows_stacks=stacks is not None)
    stacks = _check_stacks(p, stacks or {}, exo.shape[0])
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
                bound = _solve(p, exo, state, time_limit_s, np.zeros(T, dtype=bool), agc, stacks, seg, tail=True)
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
                plan = _solve(p, exo, state, time_limit_s, modes, agc, stacks, seg)
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
            raise SolveError(
                "storage charged and discharged in the same interval even with a binary mode in every interval"
            )
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


def _check_stacks(
    p: CoreParams, stacks: dict[str, tuple[np.ndarray, np.ndarray]], T: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The stacks of the scenario's price-maker markets as float arrays ``(T, M)``, checked."""
    out = {}
    for name in stacked_markets(p):
        if name not in stacks:
            raise ValueError(f"solve: the {name} market clears against a competitor stack; pass stacks[{name!r}]")
        mw, price = (np.asarray(a, dtype=float) for a in stacks[name])
        if mw.shape != price.shape or mw.ndim != 2 or mw.shape[0] != T:
            raise ValueError(
                f"solve: stacks[{name!r}] must be two (T, M) arrays for the {T} intervals of exo "
                f"(sliced like exo), got shapes {mw.shape} and {price.shape}"
            )
        out[name] = (mw, price)
    return out


@dataclass
class _Segments:
    """The price-maker segments of one market (see :func:`stack_segments`) and their variables."""

    a: np.ndarray  # accepted MW in the segment (variable indices)
    y: np.ndarray  # the segment is chosen (binary variable indices)
    t: np.ndarray  # interval of each segment
    price: np.ndarray  # clearing price when the accepted quantity lies in the segment


def stack_segments(
    stack_mw: np.ndarray,
    stack_price: np.ndarray,
    need_mw: np.ndarray,
    price_cap: float,
    margin_mw: float = STACK_MARGIN_MW,
) -> tuple[np.ndarray, ...]:
    """Quantity ranges on which an offer against a known competitor stack clears at a known price.

    Per interval, with the valid competitor offers (priced at most ``price_cap``, more than
    ``QUANTITY_TOL_MW``) sorted by price, ``Q_m`` the quantity of the first ``m`` and ``N`` the need:
    an offer priced below ``p_m`` and accepted for ``a`` in ``[N - Q_m, N - Q_{m-1})`` leaves
    competitor ``m`` marginal and clears at ``p_m`` (segments with ``p_m = 0`` are left out: an offer
    cannot be priced below 0); if the stack is short (``Q_M < N``), ``a < N - Q_M`` clears at the
    cap. Each range is shortened by ``margin_mw`` at both ends. Every segment clears for an offer
    priced at 0 (below every marginal competitor it has).

    Args:
        stack_mw: ``(T, M)`` competitor quantities.
        stack_price: ``(T, M)`` competitor prices.
        need_mw: ``(T,)`` the need (negative counts as 0).
        price_cap: the market's price cap.
        margin_mw: how far inside its ends each segment stops.

    Returns:
        ``(t, lo, hi, price)``, one entry per segment: its interval, quantity range and clearing price.
    """
    out: list[tuple[int, float, float, float]] = []
    for t in range(stack_mw.shape[0]):
        n = max(float(need_mw[t]), 0.0)
        valid = (stack_price[t] <= price_cap) & (stack_mw[t] > QUANTITY_TOL_MW)
        order = np.argsort(stack_price[t][valid], kind="stable")
        q, pr = stack_mw[t][valid][order], stack_price[t][valid][order]
        cum = np.concatenate([[0.0], np.cumsum(q)])
        for k in range(len(q)):
            lo = max(n - cum[k + 1], 0.0) + margin_mw
            hi = n - cum[k] - margin_mw
            if pr[k] > 0.0 and hi >= lo:
                out.append((t, lo, hi, float(pr[k])))
        if n - cum[-1] > 2.0 * margin_mw:
            out.append((t, margin_mw, n - cum[-1] - margin_mw, price_cap))
    if not out:
        return (np.zeros(0, dtype=int), *(np.zeros(0) for _ in range(3)))
    t_, lo_, hi_, price_ = (np.array(c) for c in zip(*out, strict=True))
    return t_.astype(int), lo_, hi_, price_


def _segments(
    m: Model,
    stack: tuple[np.ndarray, np.ndarray],
    need: np.ndarray,
    price_cap: float,
    upper_mw: float,
    total: np.ndarray,
    T: int,
) -> _Segments:
    """Segment variables of one market, linked to its per-interval accepted quantity ``total``.

    ``y_s lo_s <= a_s <= y_s min(hi_s, upper)``, at most one segment per interval, ``total[t] = sum a_s``.
    """
    t, lo, hi, price = stack_segments(stack[0], stack[1], need, price_cap)
    keep = lo <= upper_mw
    t, lo, hi, price = t[keep], lo[keep], np.minimum(hi[keep], upper_mw), price[keep]
    n = len(t)
    a = m.var(n, 0.0, hi)
    y = m.var(n, 0.0, 1.0, integer=True)
    r_hi = m.rows(n, -np.inf, 0.0)  # a - hi y <= 0
    m.coef(r_hi, a, 1.0)
    m.coef(r_hi, y, -hi)
    r_lo = m.rows(n, 0.0, np.inf)  # a - lo y >= 0
    m.coef(r_lo, a, 1.0)
    m.coef(r_lo, y, -lo)
    one = m.rows(T, -np.inf, 1.0)
    m.coef(one[t], y, 1.0)
    link = m.rows(T, 0.0, 0.0)  # total - sum a = 0
    m.coef(link, total, 1.0)
    m.coef(link[t], a, -1.0)
    return _Segments(a=a, y=y, t=t, price=price)


def _solve(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    time_limit_s: float,
    binary_modes: np.ndarray,
    agc: np.ndarray | None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]],
    carbon_segment: int | None = None,
    tail: bool = False,
) -> Plan:
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
    segs: dict[str, _Segments] = {}
    if "energy" in stacks:
        _energy_price_maker(m, p, exo, state, stacks["energy"], q, fixed, fixed_val, gain)
    else:
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
        if prod in stacks:
            pcfg = p.product(prod)
            assert pcfg is not None
            need = np.abs(exo[:, PRODUCT_COLUMNS[prod][0]])
            segs[prod] = _segments(m, stacks[prod], need, pcfg.price_cap, pcfg.offer_max_mw, acc[prod], T)
    # reserve deployment per source (battery, gas, load curtailment) and shortfall, in call intervals
    deploy = _reserve_deployment_vars(m, p, exo, acc) if "reserve" in products else {}
    if "regulation" in products:
        if agc is None:
            raise ValueError("solve: the scenario has regulation; pass the AGC signal (agc=...)")
        sig = np.asarray(agc, dtype=float)[:T]
        prev = np.concatenate([[float(state.agc_last)], sig[:-1, -1]])
        miles = np.abs(np.diff(np.concatenate([prev[:, None], sig], axis=1), axis=1)).sum(axis=1)
        gain(acc["regulation"], miles * exo[:, I_REG_MIL_P])
        _capacity_payment(gain, acc["regulation"], segs.get("regulation"), dt, exo[:, I_REG_CAP_P])
    else:
        sig = np.zeros((T, 1))
    if "reserve" in products:
        _capacity_payment(gain, acc["reserve"], segs.get("reserve"), dt, exo[:, I_RES_P])
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
            _battery_profile(
                m, p, state, bal, soc, bd, bc, e, sig, acc, deploy.get("bat"), gain, simultaneous_pairs, binary_modes
            )

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
        _demand_response(m, p, exo, net, acc, sig, deploy, sp, gain, segs.get("demand_response"))
    constant = 0.0
    if stateful:
        constant = _carbon_settlement(m, p, exo, state, imp, sp, renew_idx, gain, carbon_segment, tail)

    for idx, coef in profit_terms:
        m.add_cost(idx, -coef)
    sol = m.solve(time_limit_s)
    plan = _plan(p, exo, state, sol, sp, q, net, simultaneous_pairs, acc, deploy)
    plan.profit += constant
    return plan


def _capacity_payment(gain: Any, accepted: np.ndarray, seg: _Segments | None, dt: float, price: np.ndarray) -> None:
    """Capacity paid ``A * dt * price``: the published price, or the segment's clearing price."""
    if seg is None:
        gain(accepted, dt * price)
    else:
        gain(seg.a, dt * seg.price)


def _energy_price_maker(
    m: Model,
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    stack: tuple[np.ndarray, np.ndarray],
    q: np.ndarray,
    fixed: np.ndarray,
    fixed_val: np.ndarray,
    gain: Any,
) -> None:
    """Day-ahead positions against the energy market's competitor stack.

    Free intervals: ``q = sum_s a_s - buy``, the sale on one segment of :func:`stack_segments` (paid
    its price), a purchase ``buy`` at the price the stack clears at without the VPP's offer, and not
    both (``buy <= q_max (1 - sum_s y_s)``). Committed intervals: the committed offer is cleared as
    the simulator clears it, and ``q`` is fixed to the cleared position at the cleared price.
    """
    em = p.cfg.markets.energy
    T, dt = exo.shape[0], p.dt_h
    need = np.full(T, em.need_mw)
    offers = np.zeros(T)
    offer_prices = np.zeros(T)
    for j, price in enumerate(state.offer_prices):
        if j < T:
            offers[j], offer_prices[j] = max(fixed_val[j], 0.0), float(price)
    cleared, price = clear_transaction(
        offers, offer_prices, stack[0], stack[1], need, em.price_cap_per_mwh, exo[:, I_DA]
    )
    m.fix(q[fixed], (cleared + np.minimum(fixed_val, 0.0))[fixed])
    gain(q[fixed], dt * price[fixed])
    sell = m.var(T, 0.0, np.where(fixed, 0.0, em.position_max_mw))
    seg = _segments(m, stack, np.where(fixed, 0.0, need), em.price_cap_per_mwh, em.position_max_mw, sell, T)
    buy = m.var(T, 0.0, np.where(fixed, 0.0, em.position_max_mw))
    pos = m.rows(T, 0.0, 0.0)  # q - sell + buy = 0 (free intervals)
    m.coef(pos[~fixed], q[~fixed], 1.0)
    m.coef(pos, sell, -1.0)
    m.coef(pos, buy, 1.0)
    one = m.rows(T, -np.inf, em.position_max_mw)  # buy + q_max sum_s y_s <= q_max
    m.coef(one, buy, 1.0)
    m.coef(one[seg.t], seg.y, em.position_max_mw)
    gain(seg.a, dt * seg.price)
    gain(buy, -dt * price)  # with no offer from the VPP (offers[t] = 0 in free intervals)


def _demand_response(
    m: Model,
    p: CoreParams,
    exo: np.ndarray,
    net: np.ndarray,
    acc: dict[str, np.ndarray],
    sig: np.ndarray,
    dep: dict[str, np.ndarray],
    sp: dict[str, Any],
    gain: Any,
    seg: _Segments | None = None,
) -> None:
    """Demand response against the passive baseline.

    ``del = dir * (net - reserve delivered - mean(s) * A_reg - baseline) >= 0`` in event intervals (the
    oracle never moves against an event, so the simulator's ``max(., 0)`` is the identity);
    ``pay <= del``, ``pay <= A_dr`` (paid ``pay * dt * price``); ``short >= A_dr - del`` (penalised).
    Against a competitor stack the price depends on the segment: ``pay_s <= a_s`` per segment and
    ``sum_s pay_s <= del`` per interval, paid ``pay_s * dt * price_s``.
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
    if seg is None:
        pay = m.var(T, 0.0, np.inf)
        r1 = m.rows(T, -np.inf, 0.0)
        m.coef(r1, pay, 1.0)
        m.coef(r1, dl, -1.0)
        r2 = m.rows(T, -np.inf, 0.0)
        m.coef(r2, pay, 1.0)
        m.coef(r2, a_dr, -1.0)
        gain(pay, dt * exo[:, I_DR_P])
    else:
        pay_s = m.var(len(seg.t), 0.0, np.inf)
        r1 = m.rows(T, -np.inf, 0.0)  # sum_s pay_s - del <= 0
        m.coef(r1[seg.t], pay_s, 1.0)
        m.coef(r1, dl, -1.0)
        r2 = m.rows(len(seg.t), -np.inf, 0.0)  # pay_s - a_s <= 0
        m.coef(r2, pay_s, 1.0)
        m.coef(r2, seg.a, -1.0)
        gain(pay_s, dt * seg.price)
    short = m.var(T, 0.0, np.inf)
    r3 = m.rows(T, 0.0, np.inf)
    m.coef(r3, short, 1.0)
    m.coef(r3, a_dr, -1.0)
    m.coef(r3, dl, 1.0)
    gain(short, -dt * dc.shortfall_penalty_per_mwh)


def _reserve_deployment_vars(
    m: Model, p: CoreParams, exo: np.ndarray, acc: dict[str, np.ndarray]
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


def _reserve_priority(
    m: Model,
    p: CoreParams,
    state: core.State,
    exo: np.ndarray,
    acc: dict[str, np.ndarray],
    dep: dict[str, np.ndarray],
    sp: dict[str, Any],
) -> None:
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


def _battery_profile(
    m: Model,
    p: CoreParams,
    state: core.State,
    bal: np.ndarray,
    soc: np.ndarray,
    bd: np.ndarray,
    bc: np.ndarray,
    e: np.ndarray,
    sig: np.ndarray,
    acc: dict[str, np.ndarray],
    d_bat: np.ndarray | None,
    gain: Any,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    binary_modes: np.ndarray,
) -> None:
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


def _battery_limits(
    m: Model,
    b: Any,
    state: core.State,
    dt: float,
    at: np.ndarray,
    bd: np.ndarray,
    bc: np.ndarray,
    e: np.ndarray,
    terms: list[tuple[np.ndarray, np.ndarray]],
) -> None:
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


def _carbon_settlement(
    m: Model,
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    imp: np.ndarray,
    sp: dict[str, Any],
    renew_idx: list[np.ndarray],
    gain: Any,
    segment: int | None,
    tail: bool = False,
) -> float:
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
    x0, _ = carbon.net_position(float(state.emissions_t), float(state.allowances_t), float(state.ccer_t), cm, SCALAR)
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


def _plan(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    sol: Solution,
    sp: dict[str, Any],
    q: np.ndarray,
    net: np.ndarray,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    acc: dict[str, np.ndarray],
    dep: dict[str, np.ndarray],
) -> Plan:
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
        A[:, col["battery"]] = np.where(
            pb >= 0, pb / max(r.battery.p_discharge_max_mw, 1e-12), pb / max(r.battery.p_charge_max_mw, 1e-12)
        )
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
        A[:, col["load_curtail"]] = np.where(
            base > 0, c_base / (fl.curtail_share * safe) if fl.curtail_share > 0 else 0.0, 0.0
        )
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
            # an offer at price 0: accepted as a price-taker, or on its segment against a stack
            A[:, col[f"{prod}_price"]] = -1.0
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
            stacks = {name: (mw[0], price[0]) for name, (mw, price) in u._episode.stacks.items()}
            self.plan = solve(u.params, u._episode.exo[0], u._state, self._time_limit, agc=agc, stacks=stacks)
            self._k = 0
        a = self.plan.actions[self._k]
        self._k += 1
        return a.astype(np.float32)
