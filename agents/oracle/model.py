"""The oracle's (MI)LP: the blocks built in order, solved, and the solution decoded into a plan.

The order of the blocks fixes the order of the model's variables and rows (and so which optimum the
solver returns when there are ties, which MPC's realised profit depends on): keep it.
"""

from __future__ import annotations

import numpy as np

from agents.lp import Model, Solution
from agents.oracle import battery, ev
from agents.oracle.blocks import PRODUCT_BLOCKS, RESOURCE_BLOCKS
from agents.oracle.carbon import carbon_block
from agents.oracle.context import OracleContext, Plan, PlanDraft
from agents.oracle.day_ahead import (
    awarded_products,
    day_ahead_decode,
    day_ahead_grid_block,
    day_ahead_view,
    step_actions,
    terminal_value,
    with_awarded_prices,
)
from agents.oracle.demand_response import demand_response_block
from agents.oracle.grid import energy_offer_decode, grid_block, grid_decode, import_block
from agents.oracle.products import product_block, product_decode, regulation_block
from agents.oracle.renewable import RENEWABLES, green_certificates, renewable_block, renewable_decode
from agents.oracle.reserve import priority_block, reserve_block, reserve_decode, reserve_payment
from agents.oracle.scope import OracleScopeError, check_scope
from agents.oracle.stacks import check_stacks
from agents.oracle.windows import StorageFlows, simultaneous
from vpp_gym import core
from vpp_gym.core import ALL_NAMES, I_DA, CoreParams


def make_context(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    binary_modes: np.ndarray,
    agc: np.ndarray | None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]],
    carbon_segment: int | None = None,
    tail: bool = False,
    terminal_price: float | None = None,
) -> OracleContext:
    """The context of one build (``stacks`` already checked by :func:`~agents.oracle.stacks.check_stacks`;
    ``terminal_price`` on the day-ahead timeline, see :func:`resolve_terminal_price`)."""
    T = exo.shape[0]
    if "regulation" in p.open_products:
        if agc is None:
            raise ValueError("solve: the scenario has regulation; pass the AGC signal (agc=...)")
        sig = np.asarray(agc, dtype=float)[:T]
    else:
        sig = np.zeros((T, 1))
    view = None
    price = 0.0
    if p.day_ahead:
        view = day_ahead_view(p, state, T)
        if stacks and view.awarded.any():
            raise OracleScopeError(
                "price-maker clearing (competitor stacks) on the day-ahead timeline is planned from the first "
                "bid step only (nothing awarded yet): the awards in the state's rings lie on the stack's "
                "ranges, not modelled"
            )
        exo = with_awarded_prices(p, view, exo)
        price = resolve_terminal_price(p, exo, state, terminal_price)
    return OracleContext(
        p=p,
        exo=exo,
        state=state,
        binary_modes=binary_modes,
        sig=sig,
        stacks=stacks,
        carbon_segment=carbon_segment,
        tail=tail,
        day_ahead=view,
        terminal_price=price,
    )


def resolve_terminal_price(p: CoreParams, exo: np.ndarray, state: core.State, given: float | None) -> float:
    """The terminal price of a day-ahead-timeline plan: 0 if the rule is ``none`` or the plan stops before the
    episode's end; else ``given``, or the mean day-ahead price of the last day when ``exo`` covers it
    (:func:`vpp_gym.core.episode.terminal_price`)."""
    t0, T, n = int(state.t), exo.shape[0], p.schedule.day_steps
    if p.cfg.markets.energy.terminal_value == "none" or t0 + T != p.episode_steps:
        return 0.0
    if given is not None:
        return float(given)
    if t0 > p.episode_steps - n:
        raise ValueError(
            "solve: the plan starts inside the episode's last day, whose day-ahead prices exo does not cover "
            "whole; pass terminal_price= (the episode's mean day-ahead price of its last day)"
        )
    return float(np.mean(exo[T - n :, I_DA]))


def build(m: Model, ctx: OracleContext) -> None:
    """Add every block of the scenario to ``m`` (records on ``ctx.vars``), then the objective."""
    r, products, v = ctx.resources, ctx.products, ctx.vars
    v.grid = day_ahead_grid_block(m, ctx) if ctx.day_ahead is not None else grid_block(m, ctx)
    for name, _ in RENEWABLES:
        if getattr(r, name) is not None:
            v.renewables[name] = renewable_block(m, ctx, name)
    green_certificates(ctx)
    for prod in products:
        v.products[prod] = product_block(m, ctx, prod)
    if ctx.day_ahead is not None:
        awarded_products(m, ctx)
    if "reserve" in products:
        v.reserve = reserve_block(m, ctx)
    if "regulation" in products:
        regulation_block(m, ctx)
    if "reserve" in products:
        reserve_payment(m, ctx)
    for name, (block, _decode) in RESOURCE_BLOCKS.items():
        if getattr(r, name) is not None:
            v.put(name, block(m, ctx))
    if ctx.day_ahead is not None:
        terminal_value(ctx)
    v.imports = import_block(m, ctx)
    if "reserve" in products:
        priority_block(m, ctx)
    if "demand_response" in products:
        v.demand_response = demand_response_block(m, ctx)
    for name, product_block_fn in PRODUCT_BLOCKS.items():
        if name in products:
            v.put(name, product_block_fn(m, ctx))
    if ctx.p.carbon_stateful:
        v.carbon = carbon_block(m, ctx)
    ctx.objective.apply(m)


def decode(ctx: OracleContext, sol: Solution) -> tuple[Plan, np.ndarray]:
    """The plan of a solution (inverse of the env's decoding), and the intervals where storage charges
    and discharges at once (``(T,)``, not replayable). On the day-ahead timeline the interval rows are
    split into the steps (:func:`~agents.oracle.day_ahead.step_actions`).

    Setpoints are the resources' totals; the battery, gas and curtailment actions ask for the base,
    the total minus the reserve the simulator deploys from that resource (``reserve_<source>``).
    """
    v, x, T = ctx.vars, sol.x, ctx.T
    draft = PlanDraft(actions=np.zeros((T, len(ctx.p.action_names))), setpoints={})
    if ctx.day_ahead is not None:
        day_ahead_decode(ctx, ctx.require(v.grid, "grid"), x, draft)
    else:
        grid_decode(ctx, ctx.require(v.grid, "grid"), x, draft)
    if v.reserve is not None:
        reserve_decode(ctx, v.reserve, x, draft)
    for name, rv in v.renewables.items():
        renewable_decode(ctx, name, rv, x, draft)
    for name, (_block, resource_decode) in RESOURCE_BLOCKS.items():
        record = v.get(name)
        if record is not None:
            resource_decode(ctx, record, x, draft)
    for name, pv in v.products.items():
        product_decode(ctx, name, pv, x, draft)
    if ctx.day_ahead is not None:
        actions = np.clip(step_actions(ctx, draft, x), -1.0, 1.0)
    else:
        energy_offer_decode(ctx, draft)
        actions = np.clip(draft.actions, -1.0, 1.0)
    plan = Plan(actions=actions, profit=-sol.objective, setpoints=draft.setpoints, mip=sol.mip)
    plan.profit += ctx.objective.constant - ctx.objective.untied(x)
    return plan, simultaneous(x, storage_flows(ctx), T)


def storage_flows(ctx: OracleContext) -> list[StorageFlows]:
    """The storages built (battery; EV fleet with V2G): their flows, checked for charging and
    discharging at once, and the big-M of their binary modes."""
    v, out = ctx.vars, []
    if v.battery is not None:
        out.append(StorageFlows("battery", *v.battery.flows, *battery.mode_limits(ctx)))
    fleet = ctx.resources.ev
    if v.ev is not None and fleet is not None and fleet.v2g:
        out.append(StorageFlows("ev", *v.ev.flows, *ev.mode_limits(ctx)))
    return out


def solve_once(ctx: OracleContext, time_limit_s: float) -> tuple[Plan, np.ndarray]:
    """Build, solve and decode one model: the plan and its simultaneous charge/discharge intervals."""
    m = Model()
    build(m, ctx)
    return decode(ctx, m.solve(time_limit_s))


def build_model(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    agc: np.ndarray | None = None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    binary_modes: np.ndarray | None = None,
    carbon_segment: int | None = None,
    terminal_price: float | None = None,
) -> tuple[Model, OracleContext]:
    """The oracle's model of one solve, built but not solved (to inspect its constraint families).

    Args:
        p, exo, state, agc, stacks, terminal_price: as for :func:`agents.oracle.solve`.
        binary_modes: ``(T,)`` intervals with a binary storage mode (default none).
        carbon_segment: the carbon band (default None: the deficit side; see :mod:`agents.oracle.carbon`).

    Returns:
        The model and its context (the variable records on ``ctx.vars``).
    """
    check_scope(p, knows_stacks=stacks is not None, knows_dr_baseline=exo.shape[1] > len(ALL_NAMES))
    T = exo.shape[0]
    checked = check_stacks(p, stacks or {}, T)
    modes = np.zeros(T, dtype=bool) if binary_modes is None else np.asarray(binary_modes, dtype=bool)
    ctx = make_context(p, exo, state, modes, agc, checked, carbon_segment, terminal_price=terminal_price)
    m = Model()
    build(m, ctx)
    return m, ctx
