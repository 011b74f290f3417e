"""The transition of one interval, as named steps over typed records.

:func:`transition` runs, in order (each step documents its rule):

1. :func:`clear_offers`: the capacity products offered for the interval, in their organisation form;
2. :func:`base_setpoints`: every resource's base setpoint projected onto its feasible range
   (:class:`Dispatch`);
3. each open product's ``award`` step (:mod:`vpp_gym.markets.spec`): the regulation award capped at
   the providers' symmetric headroom (by default the battery's) and split between them; called reserve
   deployed from the battery's spare headroom, the gas unit, the load;
5. :func:`follow_agc`: the providers follow the AGC signal at sub-steps, regulation is settled, and
   the battery's energy advances over its power profile (the EV fleet's and the load's response act on
   their energy and backlog);
6. :func:`net_injection`: the injections summed into ``net_mw`` and the resources' costs;
7. :func:`settle_capacity`: each open product's ``settle`` step (demand response against the
   passive baseline, reserve);
8. :func:`settle_energy`: the day-ahead position and the real-time deviation;
9. :func:`settle_carbon`: emissions, allowances, CCER, the compliance change, green certificates;
10. :func:`settle_penalties` and :func:`profit`, then the next :class:`~vpp_gym.core.params.State`.

Every step reads the interval (:class:`Interval`) and writes its ledger entries
(:mod:`vpp_gym.ledger` declares each). The arithmetic is the same on NumPy arrays and on Python
floats (``xp``, :mod:`vpp_gym.ops`), and its order is fixed: the golden trajectories
(``tests/golden``) check every bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vpp_gym import ledger
from vpp_gym.core.columns import I_DA, I_EF, I_ID, I_REG_MIL_P, I_RT, PRODUCT_COLUMNS
from vpp_gym.core.episode import EpisodeData
from vpp_gym.core.params import MARKET_FIELDS, VALUE_FIELDS, CoreParams, State
from vpp_gym.markets import carbon, energy, regulation
from vpp_gym.markets.clearing import clear_invitation, clear_transaction
from vpp_gym.markets.products import ProductMarketConfig
from vpp_gym.ops import Array, lift, lower
from vpp_gym.resources import battery

RESOURCE_FIELDS = tuple(f for f in VALUE_FIELDS if f not in MARKET_FIELDS)
"""The :class:`State` fields owned by the resources (their ``SPEC.state``)."""
PROFIT_TERMS = tuple((e.key, e.sign) for e in ledger.profit_terms())
"""``(ledger key, sign)`` of every term of the profit, in summation order (:func:`vpp_gym.ledger.profit_terms`);
a scenario sums those it writes (:attr:`CoreParams.profit_terms`)."""


class Interval:
    """The inputs of one step and its ledger, shared by the named steps.

    Attributes:
        p, s, a, x, xp, ep: the arguments of :func:`transition`.
        dt: interval length (h).
        zero: 0 of the inputs' kind (``(B,)`` zeros or ``0.0``).
        batched: whether ``xp`` is NumPy.
        at: index of this interval's rows in the episode's ``(B, T, ...)`` arrays.
        col: position of each action component by name.
        led: the step's ledger, written by the steps.
    """

    __slots__ = ("a", "at", "batched", "col", "dt", "ep", "led", "p", "s", "x", "xp", "zero")

    def __init__(
        self,
        p: CoreParams,
        s: State,
        a: Sequence[Array] | np.ndarray,
        x: Sequence[Array] | np.ndarray,
        xp: Any,
        ep: EpisodeData | None,
    ) -> None:
        self.p, self.s, self.a, self.x, self.xp, self.ep = p, s, a, x, xp, ep
        self.dt = p.dt_h
        self.zero = 0.0 * s.e_bat_mwh
        self.batched = xp is np
        # sub-step and stack arrays of this interval: (B, S) / (B, M), or (1, S) / (1, M) for a scalar
        self.at: tuple[Any, Any] = (np.arange(len(s.t)), s.t) if self.batched else (slice(0, 1), s.t)
        self.col = p.action_index
        self.led: dict[str, Array] = {}

    def action(self, name: str) -> Array:
        """The action component ``name`` (in ``[-1, 1]``)."""
        return self.a[self.col[name]]


class Dispatch:
    """The resources through the steps of an interval (MW unless the name says otherwise).

    Accumulated over the resources, in registry order: ``net`` (net injection, + = export),
    ``baseline`` (the passive net injection: renewables uncurtailed, base load, nothing else),
    ``renew_mwh`` and ``curtailed_mwh`` (renewable energy out and curtailed), ``degradation``
    (wear cost), ``served`` (load served: consumption and EV charging, for allowances). ``state``:
    the resources' next state by :class:`~vpp_gym.core.params.State` field.

    The ancillary interface of the v0 resources (read and changed by the award cap, reserve
    deployment and AGC following): ``p_bat``, ``bat_lo``, ``bat_hi`` (battery setpoint and its
    feasible range), ``bat_throughput`` (mean ``|p|`` over the interval); ``c``, ``sh``, ``c_max``
    (load curtailment, shift and the curtailment limit); ``gas_p``, ``started``, ``gas_on_hi`` (gas
    output, start indicator, highest on-output); ``reg_energy_mw`` (mean regulation response) and
    the regulation state carried to the next interval, ``agc_last`` and ``reg_score``. Regulation by
    several providers: ``reg_mw`` (each provider's share of the award), ``reg_bat_mw`` (the battery's,
    which reserve deployment leaves alone); ``ev_p``, ``ev_lo``, ``ev_hi`` (EV setpoint and its feasible
    range) and ``ev_flow`` (the means of its regulation profile, None without one); ``sh_moved`` (mean
    ``|shift|`` of the load's regulation profile, None without one).
    """

    __slots__ = (
        "agc_last",
        "baseline",
        "bat_hi",
        "bat_lo",
        "bat_throughput",
        "c",
        "c_max",
        "curtailed_mwh",
        "degradation",
        "ev_flow",
        "ev_hi",
        "ev_lo",
        "ev_p",
        "gas_on_hi",
        "gas_p",
        "net",
        "p_bat",
        "reg_bat_mw",
        "reg_energy_mw",
        "reg_mw",
        "reg_score",
        "renew_mwh",
        "served",
        "sh",
        "sh_moved",
        "started",
        "state",
    )

    def __init__(self, c: Interval) -> None:
        s, zero = c.s, c.zero
        self.net = self.baseline = self.renew_mwh = self.curtailed_mwh = self.degradation = self.served = zero
        self.state: dict[str, Array] = {f: getattr(s, f) for f in RESOURCE_FIELDS}
        self.p_bat = self.bat_lo = self.bat_hi = self.bat_throughput = zero
        self.c = self.sh = self.c_max = zero
        self.gas_p, self.started, self.gas_on_hi = s.gas_p_mw, zero, zero
        self.reg_energy_mw = self.reg_bat_mw = zero
        self.reg_mw: dict[str, Array] = {}
        self.ev_p = self.ev_lo = self.ev_hi = zero
        self.ev_flow: tuple[Array, ...] | None = None
        self.sh_moved: Array | None = None
        self.agc_last, self.reg_score = s.agc_last, s.reg_score


def transition(
    p: CoreParams,
    s: State,
    action: Sequence[Array] | np.ndarray,
    x: Sequence[Array] | np.ndarray,
    xp: Any = np,
    ep: EpisodeData | None = None,
) -> tuple[State, dict[str, Array]]:
    """Advance one interval (the steps of the module docstring).

    Args:
        p: parameters.
        s: state at the start of the interval.
        action: one entry per action component (layout :attr:`CoreParams.action_names`), each in
            ``[-1, 1]``: ``(B,)`` arrays (e.g. ``actions.T``) or floats with ``xp = SCALAR``.
        x: one entry per column of :data:`~vpp_gym.data.schema.ALL_NAMES`: the realised exogenous
            values of the interval.
        xp: ``numpy`` for batched arrays, :data:`vpp_gym.ops.SCALAR` for Python floats (a batch of one;
            the sub-step and merit-order computations then run on one-row arrays).
        ep: the episodes (AGC signal and competitor stacks); needed when ancillary products are open
            or energy is traded in the transaction form.

    Returns:
        ``(next_state, ledger)``; the ledger maps the keys of :mod:`vpp_gym.ledger` to values of the
        inputs' kind.
    """
    if p.open_products or p.energy_transaction:
        assert ep is not None, "ancillary products and the transaction form need the episode data"
    c = Interval(p, s, action, x, xp, ep)
    accepted = awards_due(c) if p.day_ahead else clear_offers(c)
    d = base_setpoints(c)
    for spec in p.products:  # award caps and deployment (regulation, then reserve)
        spec.award(c, d, accepted)
    follow_agc(c, d, accepted)
    net_injection(c, d)
    settle_capacity(c, d, accepted)
    if p.day_ahead:
        id_ring, dev, position = settle_schedule(c, d)
        commit = offer_price = c.zero
    else:
        commit, offer_price, dev = settle_energy(c, d)
        position = None
    emissions, direct, allowances, ccer = settle_carbon(c, d)
    settle_penalties(c, d, dev, position)
    led = c.led
    for key in p.absent_keys:  # the summed entries of absent resources and closed products
        led[key] = c.zero
    led["profit"] = profit(led, c.zero, p.profit_terms)
    led["reward"] = led["profit"] * p.cfg.reward.scale
    if p.day_ahead:
        markets = (emissions, direct, allowances, ccer, d.agc_last, d.reg_score)
        rings = (s.da_mw, s.da_price, id_ring, s.aw_mw, s.aw_price)
        return State._make((s.t + 1, *d.state.values(), *markets, (), (), s.k + 1, *rings)), led
    # State's field order: t, the resources' fields (d.state keeps them in that order), the markets'
    nxt = State._make(
        (
            s.t + 1,
            *d.state.values(),
            emissions,
            direct,
            allowances,
            ccer,
            d.agc_last,
            d.reg_score,
            (*s.positions_mw[1:], commit),
            (*s.offer_prices[1:], offer_price),
            s.k + 1,
            s.da_mw,
            s.da_price,
            s.id_mw,
            s.aw_mw,
            s.aw_price,
        )
    )
    return nxt, led


# -- 1. offers ------------------------------------------------------------------------------------------------------
def clear_offers(c: Interval) -> dict[str, Array]:
    """Clear each open capacity product: the accepted quantity (MW) and price per product.

    Offered quantity ``q = max(a_mw, 0) * offer_max_mw``; in the transaction form the offer price
    is ``(a_price + 1) / 2 * price_cap``. Invitation: pro rata against the others' declarations
    (:func:`~vpp_gym.markets.clearing.clear_invitation`) at the announced price; transaction: merit
    order against the competitor stack (or as a price-taker without one), marginal price.
    """
    p, x, xp, led = c.p, c.x, c.xp, c.led
    accepted: dict[str, Array] = {}
    for prod in p.open_products:
        cfg = p.product(prod)
        assert cfg is not None
        q = xp.maximum(c.action(f"{prod}_mw"), 0.0) * cfg.offer_max_mw
        price_offer = (c.action(f"{prod}_price") + 1.0) * (0.5 * cfg.price_cap) if cfg.form == "transaction" else None
        i_need, i_price = PRODUCT_COLUMNS[prod]
        stack = c.ep.stacks.get(prod) if c.ep is not None else None
        stack_t = (stack[0][c.at], stack[1][c.at]) if stack is not None else None
        ranked = price_offer
        if price_offer is not None and prod == "regulation" and p.regulation_k_value:  # ranked at price / K
            rc = p.cfg.markets.regulation
            assert rc is not None
            k_rank = regulation.ranking_k(lift(c.s.reg_score, c.batched), rc.k_value)
            ranked = lower(regulation.ranking_price(lift(price_offer, c.batched), k_rank), c.batched)
        acc, price = _clear(cfg, q, ranked, abs(x[i_need]), x[i_price], stack_t, xp)
        accepted[prod] = acc
        led[f"{prod}.offer_mw"], led[f"{prod}.accepted_mw"] = q, acc
        led[f"{prod}.price"] = price
        if price_offer is not None:
            led[f"{prod}.offer_price"] = price_offer
    return accepted


def awards_due(c: Interval) -> dict[str, Array]:
    """Day-ahead timeline: each open product's D-1 award for this interval, read from the rings.

    The ledger's ``offer_mw`` (and ``offer_price``) are 0 in a dispatch step (offers are made at the
    bid steps); ``accepted_mw`` and ``price`` are the award and its cleared price.
    """
    p, s, led = c.p, c.s, c.led
    ring = p.schedule.ring
    slot = lockstep(s.t) % ring
    accepted: dict[str, Array] = {}
    for j, prod in enumerate(p.open_products):
        cfg = p.product(prod)
        assert cfg is not None
        acc = s.aw_mw[j * ring + slot]
        accepted[prod] = acc
        led[f"{prod}.offer_mw"], led[f"{prod}.accepted_mw"] = c.zero, acc
        led[f"{prod}.price"] = s.aw_price[j * ring + slot]
        if cfg.form == "transaction":
            led[f"{prod}.offer_price"] = c.zero
    if "regulation" not in p.open_products:
        led["penalty.regulation_shortfall"] = c.zero
    return accepted


def _transact(
    offer_mw: Array,
    offer_price: Array,
    stack: tuple[np.ndarray, np.ndarray] | None,
    need_mw: Array,
    price_cap: float,
    ref_price: Array,
    batched: bool,
) -> tuple[Array, Array]:
    """:func:`clear_transaction` for either backend; no stack = price-taker."""
    if stack is None:
        n = len(offer_mw) if batched else 1
        stack = (np.zeros((n, 0)), np.zeros((n, 0)))
    acc, price = clear_transaction(
        lift(offer_mw, batched),
        lift(offer_price, batched),
        stack[0],
        stack[1],
        lift(need_mw, batched),
        price_cap,
        lift(ref_price, batched),
    )
    return lower(acc, batched), lower(price, batched)


def _clear(
    cfg: ProductMarketConfig,
    offer_mw: Array,
    offer_price: Array | None,
    need_mw: Array,
    ref_price: Array,
    stack: tuple[np.ndarray, np.ndarray] | None,
    xp: Any,
) -> tuple[Array, Array]:
    """Accepted quantity and price of one product in its organisation form."""
    if cfg.form == "invitation":
        return clear_invitation(offer_mw, cfg.others_ratio * need_mw, need_mw, xp), ref_price
    return _transact(offer_mw, offer_price, stack, need_mw, cfg.price_cap, ref_price, xp is np)


# -- 2. base setpoints ------------------------------------------------------------------------------------------------
def base_setpoints(c: Interval) -> Dispatch:
    """Every present resource's base setpoint, projected onto its feasible range (its ``SPEC.setpoint``).

    With capacity products open the battery's setpoint is only clipped here; its energy advances in
    :func:`follow_agc`, over the interval's power profile.
    """
    d = Dispatch(c)
    for spec, prm in c.p.resources:
        spec.setpoint(c, d, prm)
    return d


# -- 3.-5. ancillary delivery -----------------------------------------------------------------------------------------
def follow_agc(c: Interval, d: Dispatch, accepted: dict[str, Array]) -> None:
    """With capacity products open: the regulation providers follow the AGC signal at sub-steps around their
    setpoints, regulation is scored and settled (:mod:`vpp_gym.markets.regulation`), the battery's energy
    advances over its power profile (:func:`vpp_gym.resources.battery.energy_after`) and the other
    providers take their response (their ``SPEC.reg_follow``: the EV fleet's energy, the load's backlog).

    A NumPy island: a scalar state is lifted to a batch of one and the results lowered again.
    """
    p, led, batched = c.p, c.led, c.batched
    b = p.cfg.resources.battery
    follows = "regulation" in accepted and bool(p.reg_providers)
    responses = regulation.respond(c, d, accepted["regulation"]) if follows else {}
    if b is not None and p.open_products:
        base_a = lift(d.p_bat, batched)
        r_bat = responses.get("battery")
        profile = base_a[:, None] + r_bat if r_bat is not None else base_a[:, None]
        n_sub = profile.shape[1]
        cell = (c.dt / n_sub) * battery.cell_power(b, profile, np).sum(axis=1)
        e_next = battery.energy_after(b, lift(d.state["e_bat_mwh"], batched), cell, np)
        d.state["e_bat_mwh"] = lower(e_next, batched)
        d.p_bat = lower(np.add.reduce(profile, axis=1) * (1.0 / n_sub), batched)
        d.bat_throughput = lower(np.add.reduce(np.abs(profile), axis=1) * (1.0 / n_sub), batched)
    for spec, prm in p.reg_providers if follows else ():  # the EV fleet's and the load's response on their state
        if spec.reg_follow is not None:
            spec.reg_follow(c, d, prm, responses[spec.name])
    if "regulation" in accepted and not follows:  # no provider: nothing is awarded, nothing follows
        led["regulation.score"], led["regulation.mileage_mw"] = c.zero, c.zero
        led["regulation.mileage_price"], led["regulation.cash"] = c.x[I_REG_MIL_P], c.zero


# -- 6. injections and resource costs ---------------------------------------------------------------------------------
def net_injection(c: Interval, d: Dispatch) -> None:
    """Each resource's final injection and costs (its ``SPEC.inject``), in registry order.

    ``P = pv + wind + ev + battery - consumption + gas`` (in that order); the resources write their
    costs (degradation on the battery's mean throughput, curtailment and shift compensation, fuel,
    start-ups) and the gas unit its emissions. The shared degradation cost is written here.
    """
    for inject, prm in c.p.injecting:
        inject(c, d, prm)
    c.led["cost.degradation"] = d.degradation


# -- 7.-9. settlement -------------------------------------------------------------------------------------------------
def settle_capacity(c: Interval, d: Dispatch, accepted: dict[str, Array]) -> None:
    """Each open product's settlement step (``SPEC.settle``; regulation is settled in :func:`follow_agc`)."""
    for spec in c.p.products:
        spec.settle(c, d, accepted)


def settle_energy(c: Interval, d: Dispatch) -> tuple[Array, Array, Array]:
    """Settle the day-ahead position held for this interval and the real-time deviation; commit for ``t + L``.

    Position ``q`` (transaction form: the sell side clears against the stack at the marginal price)
    is paid ``q dt x price_da``; the deviation ``P - q`` is paid ``(P - q) dt x price_rt``. The new
    commitment for interval ``t + L`` is ``a_position x position_max_mw`` (with its offer price).

    Returns:
        ``(commitment, its offer price, deviation)``.
    """
    p, s, xp, x, dt, led = c.p, c.s, c.xp, c.x, c.dt, c.led
    em = p.cfg.markets.energy
    q_da = s.positions_mw[0]
    commit = c.action("da_position") * em.position_max_mw
    offer_price = (c.action("da_price") + 1.0) * (0.5 * em.price_cap_per_mwh) if p.energy_transaction else c.zero
    price_da = x[I_DA]
    if p.energy_transaction:
        stack = c.ep.stacks.get("energy") if c.ep is not None else None
        sell = xp.maximum(q_da, 0.0)
        stack_t = (stack[0][c.at], stack[1][c.at]) if stack is not None else None
        need = 0.0 * sell + em.need_mw
        acc_sell, price_da = _transact(
            sell, s.offer_prices[0], stack_t, need, em.price_cap_per_mwh, price_da, c.batched
        )
        q_da = acc_sell + xp.minimum(q_da, 0.0)
    price_rt = x[I_RT]
    dev = d.net - q_da
    led["net_mw"] = d.net
    led["energy_da.quantity_mwh"], led["energy_da.price_per_mwh"] = q_da * dt, price_da
    led["energy_da.cash"] = q_da * (dt * price_da)
    led["energy_da.commit_mw"] = commit
    if p.energy_transaction:
        led["energy_da.offer_price"] = offer_price  # the price of that commitment's offer
    led["energy_rt.quantity_mwh"], led["energy_rt.price_per_mwh"] = dev * dt, price_rt
    led["energy_rt.cash"] = dev * (dt * price_rt)
    return commit, offer_price, dev


def lockstep(values: Array) -> int:
    """The common value of a step index over a batch (the day-ahead timeline's rings need one slot per step)."""
    if isinstance(values, np.ndarray):
        v0 = int(values[0])
        if not (values == v0).all():
            raise NotImplementedError(
                "the day-ahead timeline steps a batch in lockstep (every row at the same step); reset all rows together"
            )
        return v0
    return int(values)


def settle_schedule(c: Interval, d: Dispatch) -> tuple[tuple[Array, ...], Array, Array]:
    """Day-ahead timeline: settle the interval's schedule, trade at an intraday gate, charge the deviation.

    The schedule ``q = q_DA + q_ID`` of interval ``t`` (its day-ahead award, cleared at a bid step,
    plus the intraday adjustments) is settled ``q_DA dt price_DA`` (the award's cleared price) and
    ``q_ID dt price_ID``; the contract for difference pays ``Q_c dt (price_c - price_DA)``
    (:func:`vpp_gym.markets.energy.cfd_cash`); the deviation ``P - q`` is settled at the real-time price.
    At an intraday gate the adjustments of the block ``[t + lead, t + lead + spacing)`` are traded
    (:func:`intraday_trade`). On the last interval the stored energy above its initial level is credited
    at the terminal price (:func:`vpp_gym.core.episode.terminal_price`).

    Returns:
        ``(the intraday ring after this step, deviation, schedule)``.
    """
    p, s, x, dt, led = c.p, c.s, c.x, c.dt, c.led
    em, sch = p.cfg.markets.energy, p.schedule
    t = lockstep(s.t)
    slot = t % sch.ring
    q_da, price_da, q_id = s.da_mw[slot], s.da_price[slot], s.id_mw[slot]
    position = q_da + q_id
    led["net_mw"] = d.net
    led["energy_da.quantity_mwh"], led["energy_da.price_per_mwh"] = q_da * dt, price_da
    led["energy_da.cash"] = q_da * (dt * price_da)
    for key in ("offer_low_mw", "offer_high_mw", "offer_mid_price", "offer_spread"):
        led[f"energy_da.{key}"] = c.zero
    q_c = float(p.contract_mw[t % sch.day_steps])
    contract = em.contract
    led["contract.quantity_mwh"] = c.zero + q_c * dt
    # contract for difference (vpp_gym.markets.energy.cfd_cash), in the inputs' kind
    led["contract.cash"] = (q_c * dt) * ((contract.price_per_mwh if contract else 0.0) - price_da)
    id_ring = s.id_mw
    if em.intraday is not None:
        price_id = x[I_ID]
        led["energy_id.quantity_mwh"], led["energy_id.price_per_mwh"] = q_id * dt, price_id
        led["energy_id.cash"] = q_id * (dt * price_id)
        offer = c.zero
        if p.gate_flags[lockstep(s.k)]:
            id_ring, offer = intraday_trade(c, t)
        led["energy_id.offer_mw"] = offer
    dev = d.net - position
    led["energy_rt.quantity_mwh"], led["energy_rt.price_per_mwh"] = dev * dt, x[I_RT]
    led["energy_rt.cash"] = dev * (dt * x[I_RT])
    value = c.zero
    if t == p.episode_steps - 1 and c.ep is not None and c.ep.terminal_price is not None:
        b = p.cfg.resources.battery
        if b is not None:
            price = c.ep.terminal_price[c.at[0]]
            value = (d.state["e_bat_mwh"] - b.e_init_mwh) * (price if c.batched else float(price[0]))
    led["terminal.value"] = value
    return id_ring, dev, position


def intraday_trade(c: Interval, t: int) -> tuple[tuple[Array, ...], Array]:
    """The intraday ring after the gate at interval ``t``, and the total adjustment offered (MW).

    The gate trades the block ``[t + lead, t + lead + spacing)`` (within the episode): interval
    ``t + lead + j`` is adjusted by ``a_id_j x max_mw`` (MW, + = sell more), matched at its intraday
    price. The VPP is a price-taker in the intraday market and its orders carry no limit price (a
    simplification: a limit could only reject trades at a price the VPP does not observe; see
    :mod:`vpp_gym.core.timeline`).
    """
    p, s = c.p, c.s
    i_cfg = p.cfg.markets.energy.intraday
    assert i_cfg is not None
    ring = list(s.id_mw)
    total = c.zero
    first = t + i_cfg.lead_steps
    for j in range(i_cfg.gate_spacing_steps):
        if first + j >= p.episode_steps:
            break
        slot = (first + j) % p.schedule.ring
        q = c.action(f"id_mw_{j}") * i_cfg.max_mw
        ring[slot] = ring[slot] + q
        total = total + q
    return tuple(ring), total


def _clear_curve(
    c: Interval,
    q_low: Array,
    q_high: Array,
    mid: Array,
    spread: Array,
    i: int,
    stack: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The award and clearing price of a decoded curve (arrays): price-taker, or with the stack at interval ``i``."""
    em, batched = c.p.cfg.markets.energy, c.batched
    base, prices, steps = energy.ladder(
        lift(q_low, batched), lift(q_high, batched), lift(mid, batched), lift(spread, batched), em.curve_segments
    )
    prices = np.clip(prices, em.price_floor_per_mwh, em.price_cap_per_mwh)
    price_da = lift(c.x[I_DA], batched)
    if stack is None:
        return energy.position_at(base, prices, steps, price_da), price_da
    rows = c.at[0]
    need = np.full(len(price_da), em.need_mw)
    return energy.clear_curve(
        base, prices, steps, stack[0][rows, i], stack[1][rows, i], need, em.price_cap_per_mwh, em.price_floor_per_mwh
    )


def _price_taker_position(
    q_low: Array, q_high: Array, mid: Array, spread: Array, price: Array, em: Any, xp: Any
) -> Array:
    """:func:`~vpp_gym.markets.energy.ladder`, the prices clipped to ``[price_floor, price_cap]``, then
    :func:`~vpp_gym.markets.energy.position_at`, segment by segment in the inputs' kind (Python floats,
    ``xp = SCALAR``, or ``(B,)`` arrays, ``xp = numpy``) without the ``(B, K)`` arrays: the same operations
    in the same order (so the same bits; ``tests/env/test_day_ahead_speed.py`` checks both kinds)."""
    if xp is np:  # ladder computes in float64
        q_low, q_high, mid, spread, price = (np.asarray(v, np.float64) for v in (q_low, q_high, mid, spread, price))
    k = em.curve_segments
    lo, hi = xp.minimum(q_low, q_high), xp.maximum(q_low, q_high)
    step = (hi - lo) / k
    floor, cap = em.price_floor_per_mwh, em.price_cap_per_mwh
    q = lo
    for j in range(k):
        seg_price = xp.minimum(xp.maximum(mid + spread * (2.0 * (j + 0.5) / k - 1.0), floor), cap)
        q = q + xp.where(seg_price <= price, step, 0.0)
    return q


def bid_transition(
    p: CoreParams,
    s: State,
    action: Sequence[Array] | np.ndarray,
    x: Sequence[Array] | np.ndarray,
    ref_price: Array,
    xp: Any = np,
    ep: EpisodeData | None = None,
    keys: Sequence[str] = (),
) -> tuple[State, dict[str, Array]]:
    """A bid step of the day-ahead timeline: the offer curve for one interval of day ``D``, cleared.

    Decoding (each ``a`` in ``[-1, 1]``; ``P = position_max_mw``, ``W = offer_band_per_mwh``):
    ``q_low = a_da_low P``, ``q_high = a_da_high P`` (sorted so the curve is monotone), mid price
    ``ref_price + a_da_price W`` (``ref_price``: the day-ahead price forecast of the interval that the
    step observed), spread ``(a_da_spread + 1) / 2 W``; the ``K = curve_segments`` segments of
    :func:`vpp_gym.markets.energy.ladder`, their prices clipped to ``[price_floor, price_cap]``. The
    curve is cleared against the interval's day-ahead price (price-taker,
    :func:`~vpp_gym.markets.energy.position_at`), or with the competitor stack against the need
    (transaction form with a stack, :func:`~vpp_gym.markets.energy.clear_curve`). The open capacity
    products' offers for the interval (``<product>_mw``, ``<product>_price``) are cleared as
    :func:`clear_offers` clears them, against the interval's need and price (or stack). The awards
    and their prices go into the rings; nothing is paid until delivery, so the step's profit is 0.

    Args:
        x: the realised exogenous values of the interval bid for (its day-ahead price).
        keys: the ledger keys of a dispatch step, written as 0 so that every step has the same keys.

    Returns:
        ``(next state, ledger)``: only ``k`` and the rings change.
    """
    c = Interval(p, s, action, x, xp, ep)
    em, sch = p.cfg.markets.energy, p.schedule
    k = lockstep(s.k)
    i = int(sch.interval[k])
    slot = i % sch.ring
    batched = c.batched
    pmax, band = em.position_max_mw, em.offer_band_per_mwh
    q_low, q_high = c.action("da_low") * pmax, c.action("da_high") * pmax
    mid = ref_price + c.action("da_price") * band
    spread = (c.action("da_spread") + 1.0) * (0.5 * band)
    stack = ep.stacks.get("energy") if (ep is not None and p.energy_transaction) else None
    if stack is None:  # price-taker: energy.ladder and position_at segment by segment (floats or (B,) arrays)
        pos_v, price_v = _price_taker_position(q_low, q_high, mid, spread, x[I_DA], em, xp), x[I_DA]
    else:
        pos, price = _clear_curve(c, q_low, q_high, mid, spread, i, stack)
        pos_v, price_v = lower(pos, batched), lower(price, batched)
    # the capacity products' D-1 offers for the interval, cleared against its need and price (or stack)
    c.at = (c.at[0], i)
    accepted = clear_offers(c)
    cleared = dict(c.led)
    # zeros of every dispatch key: rows of one block (each key its own row) or floats
    led: dict[str, Array] = (
        dict(zip(keys, np.zeros((len(keys), len(s.k))), strict=True)) if batched else dict.fromkeys(keys, 0.0)
    )
    for prod in p.open_products:  # the offers are reported now; the award and its price at delivery
        led[f"{prod}.offer_mw"] = cleared[f"{prod}.offer_mw"]
        if f"{prod}.offer_price" in cleared:
            led[f"{prod}.offer_price"] = cleared[f"{prod}.offer_price"]
    ring = sch.ring
    aw_mw, aw_price = list(s.aw_mw), list(s.aw_price)
    for j, prod in enumerate(p.open_products):
        aw_mw[j * ring + slot] = accepted[prod]
        aw_price[j * ring + slot] = cleared[f"{prod}.price"]
    led["energy_da.offer_low_mw"] = xp.minimum(q_low, q_high)
    led["energy_da.offer_high_mw"] = xp.maximum(q_low, q_high)
    led["energy_da.offer_mid_price"] = mid
    led["energy_da.offer_spread"] = spread
    zero = c.zero

    def put(ring: tuple[Array, ...], value: Array) -> tuple[Array, ...]:
        return (*ring[:slot], value, *ring[slot + 1 :])

    nxt = s._replace(
        k=s.k + 1,
        da_mw=put(s.da_mw, pos_v),
        da_price=put(s.da_price, price_v),
        id_mw=put(s.id_mw, zero),
        aw_mw=tuple(aw_mw),
        aw_price=tuple(aw_price),
    )
    return nxt, led


def settle_carbon(c: Interval, d: Dispatch) -> tuple[Array, Array, Array, Array]:
    """Emissions, allowances and CCER of the interval; the compliance change and green certificates.

    Emissions ``max(-P, 0) dt x ef_grid + gas``; allowances ``served MWh x benchmark``; CCER on the
    renewable MWh not certified. The carbon cash is the change of the episode's compliance cost
    ``C(X)`` (:mod:`vpp_gym.markets.carbon`), or ``-tonnes x price`` under a flat price with nothing
    to offset. Certificates: ``renewable MWh x gec_share`` at the certificate price. (The v0 rules; an ETS
    regime or the 2023 certificate rules: :func:`settle_carbon_rules`.)

    Returns:
        the episode's ``(emissions, direct, allowances, ccer)`` so far (tCO2; ``direct``: the state's
        ``direct_t``, which only ``pilot_ets`` accrues).
    """
    p, s, xp, dt, led = c.p, c.s, c.xp, c.dt, c.led
    cm = p.cfg.markets.carbon
    if not cm.legacy:
        return settle_carbon_rules(c, d)
    grid_t = xp.maximum(-d.net, 0.0) * (dt * c.x[I_EF])
    step_t = grid_t + led.get("emissions.gas_t", c.zero)
    served_mwh = d.served * dt
    gec_mwh = d.renew_mwh * cm.gec_share
    emissions = s.emissions_t + step_t
    allowances = s.allowances_t + served_mwh * cm.free_allowance_t_per_mwh
    ccer = s.ccer_t + (d.renew_mwh - gec_mwh) * cm.ccer_t_per_mwh
    x_now, used = carbon.net_position(emissions, allowances, ccer, cm, xp)
    led["emissions.grid_t"] = grid_t
    led["carbon.emissions_t"] = step_t
    led["carbon.allowances_t"] = served_mwh * cm.free_allowance_t_per_mwh
    led["carbon.ccer_used_t"] = used
    led["carbon.net_position_t"] = x_now
    if p.carbon_stateful:
        x_prev, _ = carbon.net_position(s.emissions_t, s.allowances_t, s.ccer_t, cm, xp)
        led["carbon.cash"] = carbon.compliance_cost(x_prev, cm, xp) - carbon.compliance_cost(x_now, cm, xp)
    else:  # flat price on every tonne, nothing to offset: the change of C(X) is the step's tonnes at the price
        led["carbon.cash"] = -step_t * cm.price_per_t
    led["green_cert.quantity_mwh"] = gec_mwh
    led["green_cert.cash"] = gec_mwh * cm.gec_price
    return emissions, s.direct_t, allowances, ccer


def settle_carbon_rules(c: Interval, d: Dispatch) -> tuple[Array, Array, Array, Array]:
    """:func:`settle_carbon` under ``markets.carbon.regime`` and ``certificates`` (:mod:`vpp_gym.markets.carbon`).

    Certificates per renewable resource (:attr:`CoreParams.certificate_split`): ``MWh x sold`` sold at the
    certificate price, ``MWh x ccer`` credited ``ccer_t_per_mwh`` each, ``N`` = the MWh no longer green for
    the VPP. The regime's step totals (tCO2), with imports ``I`` and exports ``P`` (MWh):

    - ``stepped_price``: emissions ``I x ef_grid + gas``, allowances ``served MWh x benchmark``;
    - ``national_ets``: the gas unit's emissions, allowances ``gas MWh x gas_benchmark``;
    - ``pilot_ets``: indirect ``grid_factor x (I + max(N - P, -K))`` (``K`` the MWh still green) into
      ``emissions``, the gas unit's direct emissions into ``direct`` (added after the floor of the indirect
      balance: certificates do not net them), allowances ``allocation_t_per_day x dt / 24``.

    The carbon cash is the change of ``C(X)``. Under ``china_2023`` the green-matching penalty also counts
    the MWh consumed on site whose attribute went away, ``max(N - P, 0)``. ``carbon.emissions_t`` and
    ``emissions.grid_t`` report gross emissions at the interval's grid intensity in every regime.
    """
    p, s, xp, dt, led = c.p, c.s, c.xp, c.dt, c.led
    cm = p.cfg.markets.carbon
    imports_mwh = xp.maximum(-d.net, 0.0) * dt
    exports_mwh = xp.maximum(d.net, 0.0) * dt
    grid_t = xp.maximum(-d.net, 0.0) * (dt * c.x[I_EF])
    gas_t = led.get("emissions.gas_t", c.zero)
    sold_mwh = ccer_mwh = green_mwh = grey_mwh = c.zero
    direct = s.direct_t
    for split in p.certificate_split:
        mwh = led[f"{split.name}.applied_mw"] * dt
        sold_mwh = sold_mwh + mwh * split.sold
        ccer_mwh = ccer_mwh + mwh * split.ccer
        green_mwh = green_mwh + mwh * split.green
        grey_mwh = grey_mwh + mwh * (1.0 - split.green)
    if cm.regime == "national_ets":
        covered_t = gas_t
        allocated_t = d.gas_p * dt * cm.gas_benchmark_t_per_mwh if p.cfg.resources.gas is not None else c.zero
    elif cm.regime == "pilot_ets":
        covered_t = (imports_mwh + xp.maximum(grey_mwh - exports_mwh, -green_mwh)) * cm.grid_factor_t_per_mwh
        direct = direct + gas_t
        allocated_t = c.zero + cm.allocation_t_per_day * (dt / 24.0)
    else:
        covered_t = grid_t + gas_t
        allocated_t = d.served * dt * cm.free_allowance_t_per_mwh
    emissions = s.emissions_t + covered_t
    allowances = s.allowances_t + allocated_t
    ccer = s.ccer_t + ccer_mwh * cm.ccer_t_per_mwh
    x_prev, _ = carbon.net_position(s.emissions_t, s.allowances_t, s.ccer_t, cm, xp, s.direct_t)
    x_now, used = carbon.net_position(emissions, allowances, ccer, cm, xp, direct)
    led["emissions.grid_t"] = grid_t
    led["carbon.emissions_t"] = grid_t + gas_t
    led["carbon.allowances_t"] = allocated_t
    led["carbon.ccer_used_t"] = used
    led["carbon.net_position_t"] = x_now
    led["carbon.cash"] = carbon.compliance_cost(x_prev, cm, xp) - carbon.compliance_cost(x_now, cm, xp)
    led["green_cert.quantity_mwh"] = sold_mwh
    led["green_cert.cash"] = sold_mwh * cm.gec_price
    if cm.certificates == "china_2023":  # read by settle_penalties
        unmatched = imports_mwh + xp.maximum(grey_mwh - exports_mwh, 0.0)
        led["penalty.green_matching"] = unmatched * cm.unmatched_import_penalty_per_mwh
    return emissions, direct, allowances, ccer


# -- 10. penalties and profit ----------------------------------------------------------------------------------------
def settle_penalties(c: Interval, d: Dispatch, dev: Array, position: Array | None = None) -> None:
    """The imbalance (deviation assessment) and green-matching penalties; the renewable totals.

    Imbalance: ``max(|deviation - instructed| - band, 0) dt x penalty``, where instructed energy
    (reserve deployed, regulation) is the grid's call, not an imbalance, and the free band is
    ``max(deviation_band_share |position|, deviation_band_min_mw)`` (0 by default: every MWh pays;
    :func:`vpp_gym.markets.energy.deviation_penalty`); with ``excess_profit_recovery`` it adds what the
    deviation less instructed energy and the interval's intraday adjustment earned over the DA price
    series (:func:`vpp_gym.markets.energy.recovery`). Green matching: grid imports ``dt x`` the
    unmatched-import penalty (under the 2023 certificate rules written by :func:`settle_carbon_rules`).
    (The resources write their own penalties in their steps.)
    """
    xp, dt, led = c.xp, c.dt, c.led
    em, cm = c.p.cfg.markets.energy, c.p.cfg.markets.carbon
    instructed = led.get("reserve.delivered_mw", c.zero) + d.reg_energy_mw
    if em.deviation_band_share > 0.0 or em.deviation_band_min_mw > 0.0:
        q = position if position is not None else d.net - dev  # the accepted position
        band = xp.maximum(abs(q) * em.deviation_band_share, em.deviation_band_min_mw)
        led["penalty.imbalance"] = xp.maximum(abs(dev - instructed) - band, 0.0) * (dt * em.imbalance_penalty_per_mwh)
    else:
        led["penalty.imbalance"] = abs(dev - instructed) * (dt * em.imbalance_penalty_per_mwh)
    if em.excess_profit_recovery:  # what trading away from the DA schedule earned over the DA price goes back
        price_da = c.x[I_DA]
        recovered = energy.recovery(dev - instructed, c.x[I_RT], price_da, dt, xp)
        if c.p.day_ahead and em.intraday is not None:
            q_id = c.s.id_mw[lockstep(c.s.t) % c.p.schedule.ring]
            recovered = recovered + energy.recovery(q_id, c.x[I_ID], price_da, dt, xp)
        led["penalty.imbalance"] = led["penalty.imbalance"] + recovered
    if "penalty.green_matching" not in led:  # written by settle_carbon_rules under the 2023 certificate rules
        led["penalty.green_matching"] = xp.maximum(-d.net, 0.0) * (dt * cm.unmatched_import_penalty_per_mwh)
    led["renewable.output_mwh"], led["renewable.curtailed_mwh"] = d.renew_mwh, d.curtailed_mwh


def profit(led: dict[str, Array], zero: Array, terms: Sequence[tuple[str, int]] = PROFIT_TERMS) -> Array:
    """``profit = sum(cash) - sum(costs) - sum(penalties)``, term by term in the schema's order."""
    total = zero
    for key, sign in terms:
        total = total + led[key] if sign > 0 else total - led[key]
    return total


def dispatch_keys(p: CoreParams, ep: EpisodeData, x: Sequence[float]) -> tuple[str, ...]:
    """The ledger keys of a dispatch step, in order: one scalar dry run of :func:`transition` on the
    initial state (row 0 of ``ep``, exogenous values ``x``, a zero action). A bid step writes the same keys."""
    from vpp_gym.core.params import initial_state
    from vpp_gym.ops import SCALAR

    s0 = initial_state(p, None)
    if p.day_ahead:
        s0 = s0._replace(k=int(np.flatnonzero(~p.schedule.bid)[0]))
    _s, led = transition(p, s0, [0.0] * len(p.action_names), list(x), SCALAR, ep)
    return tuple(led)
