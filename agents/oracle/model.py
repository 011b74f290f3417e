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
from agents.oracle.demand_response import demand_response_block
from agents.oracle.grid import energy_offer_decode, grid_block, grid_decode, import_block
from agents.oracle.products import product_block, product_decode, regulation_block
from agents.oracle.renewable import RENEWABLES, green_certificates, renewable_block, renewable_decode
from agents.oracle.reserve import priority_block, reserve_block, reserve_decode, reserve_payment
from agents.oracle.scope import check_scope
from agents.oracle.stacks import check_stacks
from agents.oracle.windows import StorageFlows, simultaneous
from vpp_gym import core
from vpp_gym.core import CoreParams


def make_context(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    binary_modes: np.ndarray,
    agc: np.ndarray | None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]],
    carbon_segment: int | None = None,
    tail: bool = False,
) -> OracleContext:
    """The context of one build (``stacks`` already checked by :func:`~agents.oracle.stacks.check_stacks`)."""
    T = exo.shape[0]
    if "regulation" in p.open_products:
        if agc is None:
            raise ValueError("solve: the scenario has regulation; pass the AGC signal (agc=...)")
        sig = np.asarray(agc, dtype=float)[:T]
    else:
        sig = np.zeros((T, 1))
    return OracleContext(
        p=p,
        exo=exo,
        state=state,
        binary_modes=binary_modes,
        sig=sig,
        stacks=stacks,
        carbon_segment=carbon_segment,
        tail=tail,
    )


def build(m: Model, ctx: OracleContext) -> None:
    """Add every block of the scenario to ``m`` (records on ``ctx.vars``), then the objective."""
    r, products, v = ctx.resources, ctx.products, ctx.vars
    v.grid = grid_block(m, ctx)
    for name, _ in RENEWABLES:
        if getattr(r, name) is not None:
            v.renewables[name] = renewable_block(m, ctx, name)
    green_certificates(ctx)
    for prod in products:
        v.products[prod] = product_block(m, ctx, prod)
    if "reserve" in products:
        v.reserve = reserve_block(m, ctx)
    if "regulation" in products:
        regulation_block(m, ctx)
    if "reserve" in products:
        reserve_payment(m, ctx)
    for name, (block, _decode) in RESOURCE_BLOCKS.items():
        if getattr(r, name) is not None:
            v.put(name, block(m, ctx))
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
    and discharges at once (``(T,)``, not replayable).

    Setpoints are the resources' totals; the battery, gas and curtailment actions ask for the base,
    the total minus the reserve the simulator deploys from that resource (``reserve_<source>``).
    """
    v, x, T = ctx.vars, sol.x, ctx.T
    draft = PlanDraft(actions=np.zeros((T, len(ctx.p.action_names))), setpoints={})
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
    energy_offer_decode(ctx, draft)
    actions = np.clip(draft.actions, -1.0, 1.0)
    plan = Plan(actions=actions, profit=-sol.objective, setpoints=draft.setpoints, mip=sol.mip)
    plan.profit += ctx.objective.constant
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
) -> tuple[Model, OracleContext]:
    """The oracle's model of one solve, built but not solved (to inspect its constraint families).

    Args:
        p, exo, state, agc, stacks: as for :func:`agents.oracle.solve`.
        binary_modes: ``(T,)`` intervals with a binary storage mode (default none).
        carbon_segment: the carbon band (default None: the deficit side; see :mod:`agents.oracle.carbon`).

    Returns:
        The model and its context (the variable records on ``ctx.vars``).
    """
    check_scope(p, knows_stacks=stacks is not None)
    T = exo.shape[0]
    checked = check_stacks(p, stacks or {}, T)
    modes = np.zeros(T, dtype=bool) if binary_modes is None else np.asarray(binary_modes, dtype=bool)
    ctx = make_context(p, exo, state, modes, agc, checked, carbon_segment)
    m = Model()
    build(m, ctx)
    return m, ctx
