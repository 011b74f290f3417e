""":func:`solve`: the oracle's plan, searched over the carbon bands, with storage that would charge and
discharge at once made replayable (by windows, :mod:`agents.oracle.windows`, or the whole-horizon MILP).

Storage that charges and discharges at once. The LP may run a storage's two flows in one interval
(spilling energy through the losses when prices are deeply negative), which the simulator cannot
replay. Where it does, an LP scenario gets :func:`~agents.oracle.windows.repair`: windows a few hours
around those intervals are re-solved with binary charge/discharge modes, everything else kept at the
LP's plan, and the plan is returned when it is proven optimal: a Lagrangian bound from the same
windows priced by the LP's duals meets its profit (exact; see that module). If the bound does not meet
the plan, the windows are widened (4 h, 16 h, 64 h on each side); past that, and for a MILP scenario
(gas, reserve calls, price-maker segments) from the start, the whole horizon is re-solved with binary
modes in every interval where any solve spilled, until none does (the exact MILP, slower).

Time limit. ``time_limit_s`` bounds the whole call: every solve gets what is left of it (up to the
overhead of building and decoding the models). When it runs out, the best replayable plan found so
far is returned with ``optimal=False`` and its ``gap`` to the best proven bound (``inf`` if the search
over the carbon bands was not finished); with no replayable plan yet, :class:`SolveError` is raised
(``time_limit`` set).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from agents.lp import Model, Solution, SolveError
from agents.oracle.carbon import max_surplus_bands
from agents.oracle.chunks import OVERLAP_DAYS, chunk_steps, solve_in_chunks
from agents.oracle.context import OracleContext, Plan
from agents.oracle.model import build, decode, make_context, solve_once, storage_flows
from agents.oracle.scope import check_scope
from agents.oracle.stacks import check_stacks
from agents.oracle.windows import GAP_ABS, GAP_REL, WINDOW_MARGIN_H, interval_tags, repair
from vpp_gym import core
from vpp_gym.core import ALL_NAMES, CoreParams

MODE_ATTEMPTS = 9
"""Whole-horizon solves per carbon band (the first one included): binary modes where needed, everywhere at the last."""

WINDOW_ROUNDS = 3
"""Window widths tried (:data:`~agents.oracle.windows.WINDOW_MARGIN_H`, then 4x, 16x) before the whole-horizon MILP."""


@dataclass(frozen=True)
class _Band:
    """How one carbon band went: its plan (None: no better than the best, or out of reach)."""

    plan: Plan | None
    infeasible: bool
    improved: bool  # some solve beat the best plan (resets the count of worse bands in a row)
    upper: float = -math.inf  # a proven upper bound on the band's profit
    stopped: bool = False  # the time limit stopped the band's search


def _left(deadline: float) -> float:
    """Seconds left until ``deadline`` (``time.monotonic()``), at least 0."""
    return max(deadline - time.monotonic(), 0.0)


def solve(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    time_limit_s: float = 600.0,
    force_binary_modes: bool = False,
    agc: np.ndarray | None = None,
    exact: bool = True,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    terminal_price: float | None = None,
) -> Plan:
    """The optimal plan for the intervals of ``exo`` starting from a scalar ``state``.

    Args:
        p: the simulator's parameters.
        exo: ``(T, K)`` realised (or forecast) exogenous values, columns in ``ALL_NAMES`` order.
        state: the scalar state at the start (``state.t`` = episode step of the first interval, which
            fixes the shift windows; ``positions_mw`` the already committed positions).
        time_limit_s: time limit of the whole call (all solves together); when it runs out, the best
            replayable plan so far is returned with ``optimal=False`` and its ``gap``.
        force_binary_modes: model storage charge/discharge with a binary mode from the start.
        agc: ``(T, S)`` AGC signal of the intervals (needed when regulation is open).
        exact: with a rewarded stepped carbon surplus, prove no deeper surplus band is better (an upper
            bound per band); False stops after two bands in a row no better than the best (faster,
            what MPC uses: its forecasts are not exact anyway).
        stacks: the competitor stacks of the intervals, ``market -> (mw, price)``, each ``(T, M)``
            (needed for every market :func:`stacked_markets` names; ``VppEnv.episode.stacks`` row 0,
            sliced like ``exo``).
        terminal_price: day-ahead timeline, a plan to the episode's end: the price of the energy stored at
            the end (``VppEnv.episode.terminal_price[0]``); default the mean day-ahead price of the last
            day in ``exo`` (which must then cover it).

    Returns:
        The plan; ``plan.actions[k]`` is the action for step ``state.t + k`` (hour-ahead timeline) or
        ``state.k + k`` (day-ahead timeline: bid and dispatch steps, ``exo`` still one row per interval
        from ``state.t``; the awards in the state's rings are kept).

    Raises:
        SolveError: no feasible plan (``infeasible``), or none found within the time limit (``time_limit``).
    """
    deadline = time.monotonic() + time_limit_s
    check_scope(p, knows_stacks=stacks is not None, knows_dr_baseline=exo.shape[1] > len(ALL_NAMES))
    stacks = check_stacks(p, stacks or {}, exo.shape[0])
    cm = p.cfg.markets.carbon
    segmented = p.carbon_stateful and cm.pricing == "stepped" and cm.reward_surplus
    segments: list[int | None] = [None] if not segmented else [-1, *range(max_surplus_bands(p, state))]
    best: Plan | None = None
    upper = -math.inf
    unexplored = False  # the time limit stopped the search before every band was solved or bounded
    worse_in_a_row = 0
    for i, seg in enumerate(segments):
        if not exact and worse_in_a_row >= 2:
            break
        if best is not None and _left(deadline) <= 0:
            unexplored = True
            break
        if exact and best is not None and seg is not None and seg >= 1:
            try:
                may_win = _deeper_bands_may_win(p, exo, state, _left(deadline), agc, stacks, seg, best, terminal_price)
            except SolveError as err:
                if not err.time_limit:
                    raise
                unexplored = True
                break
            if not may_win:
                break
        band = _solve_band(p, exo, state, deadline, force_binary_modes, agc, stacks, seg, best, terminal_price)
        upper = max(upper, band.upper)
        if band.improved:
            worse_in_a_row = 0
        if band.plan is not None and (best is None or band.plan.profit > best.profit):
            best = band.plan
        if band.stopped:
            unexplored = i + 1 < len(segments)
            break
        if band.plan is None:
            if not band.infeasible:
                worse_in_a_row += 1
            elif seg is not None and seg >= 0:
                break  # the surplus cannot reach this band (nor any further one)
            continue
    if best is None:
        if _left(deadline) <= 0:
            raise SolveError("the time limit ran out before a replayable plan was found", time_limit=True)
        raise SolveError("no feasible plan", infeasible=True)
    return _with_gap(best, upper, unexplored)


def _with_gap(plan: Plan, upper: float, unexplored: bool) -> Plan:
    """``plan`` with its gap to the proven upper bound ``upper`` on the bands searched (inf if some band was
    left ``unexplored`` by the time limit); optimal when the gap is within the tolerances."""
    optimal = not unexplored and upper - plan.profit <= GAP_ABS + GAP_REL * abs(plan.profit)
    gap = math.inf if unexplored else max(upper - plan.profit, 0.0) / max(abs(plan.profit), 1.0)
    return replace(plan, optimal=optimal, gap=0.0 if optimal else gap)


def _deeper_bands_may_win(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    time_limit_s: float,
    agc: np.ndarray | None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]],
    seg: int,
    best: Plan,
    terminal_price: float | None = None,
) -> bool:
    """Whether a surplus band from ``seg`` on may beat ``best``: an upper bound on all of them (the
    deepest band's reward rate on all of it) beats it. False too when the surplus cannot reach band ``seg``."""
    ctx = make_context(
        p, exo, state, np.zeros(exo.shape[0], dtype=bool), agc, stacks, seg, tail=True, terminal_price=terminal_price
    )
    try:
        bound, _ = solve_once(ctx, time_limit_s)
    except SolveError as err:
        if err.infeasible:
            return False  # the surplus cannot reach this band (nor any further one)
        raise
    return bound.profit > best.profit


def _solve_band(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    deadline: float,
    force_binary_modes: bool,
    agc: np.ndarray | None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]],
    seg: int | None,
    best: Plan | None,
    terminal_price: float | None = None,
) -> _Band:
    """The plan of one carbon band, if better than ``best``.

    The model is solved once (an LP, with its duals, unless the scenario has binaries); where its
    storage charges and discharges at once (not replayable), an LP is repaired by windows
    (:func:`~agents.oracle.windows.repair`), and what windows cannot prove optimal is re-solved over
    the whole horizon with binary modes (:func:`_whole_horizon`).
    """
    T = exo.shape[0]
    modes = np.full(T, force_binary_modes)
    ctx = make_context(p, exo, state, modes, agc, stacks, seg, terminal_price=terminal_price)
    m = Model()
    build(m, ctx)
    pb = m.problem()
    tags = interval_tags(m, T, ctx.sig.shape[1])
    try:
        sol = None
        steps = chunk_steps(ctx.dt)
        if not pb.mip and T >= 2 * steps:  # a long LP: by chunks, if they stitch into a proven optimum
            overlap = max(2, round(OVERLAP_DAYS * 24.0 / ctx.dt))
            sol = solve_in_chunks(pb, tags, T, steps, overlap, deadline)
            if sol is None:
                sol = solve_in_chunks(pb, tags, T, steps, 4 * overlap, deadline)
        if sol is None:
            sol = pb.solve(_left(deadline), duals=not pb.mip, incumbent=True)
    except SolveError as err:
        if err.time_limit and best is not None:
            return _Band(None, infeasible=False, improved=False, stopped=True)
        if not err.infeasible or seg is None:
            raise
        return _Band(None, infeasible=True, improved=False)  # out of reach (or only with storage losses)
    plan, spilled = decode(ctx, sol)
    upper = -sol.bound + ctx.objective.constant
    if best is not None and (plan.profit if sol.optimal else upper) <= best.profit:
        # no better than the best plan (a relaxation's exact version cannot be either)
        return _Band(None, infeasible=False, improved=False, upper=upper)
    if not spilled.any():
        return _Band(plan, infeasible=False, improved=True, upper=upper, stopped=not sol.optimal)
    if not sol.optimal:  # the time ran out on a plan that is not replayable
        return _Band(None, infeasible=False, improved=True, upper=upper, stopped=True)
    found: Plan | None = None
    if sol.duals is not None:
        storages = storage_flows(ctx)
        margin = max(1, math.ceil(WINDOW_MARGIN_H / ctx.dt - 1e-9))
        for _ in range(WINDOW_ROUNDS):
            rep = repair(pb, sol.x, sol.duals, tags, storages, T, margin, deadline, modes)
            upper = min(upper, -rep.bound + ctx.objective.constant)
            modes = modes | rep.modes
            if rep.x is not None:
                cand, _ = decode(ctx, Solution(x=rep.x, objective=rep.objective, mip=True))
                if found is None or cand.profit > found.profit:
                    found = cand
            if rep.proven() or _left(deadline) <= 0 or rep.window_intervals == T:
                break
            margin *= 4
        proven = found is not None and upper - found.profit <= GAP_ABS + GAP_REL * abs(found.profit)
        if found is not None and (proven or _left(deadline) <= 0):
            return _Band(found, infeasible=False, improved=True, upper=upper, stopped=_left(deadline) <= 0)
    return _whole_horizon(ctx, agc, deadline, modes | spilled, best, found, upper)


def _whole_horizon(
    ctx: OracleContext,
    agc: np.ndarray | None,
    deadline: float,
    modes: np.ndarray,
    best: Plan | None,
    found: Plan | None,
    upper: float,
) -> _Band:
    """The exact MILP: the whole horizon re-solved with binary modes in ``modes``, more where a solve
    still charges and discharges at once (every interval at the last attempt); ``found`` the best
    replayable plan so far, ``upper`` the best bound."""
    T = ctx.T
    for attempt in range(1, MODE_ATTEMPTS):  # (attempt 0 was the first solve)
        if _left(deadline) <= 0:
            return _Band(found, infeasible=False, improved=True, upper=upper, stopped=True)
        if attempt == MODE_ATTEMPTS - 1:  # last resort: a binary charge/discharge mode in every interval
            modes = np.ones(T, dtype=bool)
        c = make_context(
            ctx.p, ctx.exo, ctx.state, modes, agc, ctx.stacks, ctx.carbon_segment, terminal_price=ctx.terminal_price
        )
        m = Model()
        build(m, c)
        try:
            sol = m.solve(_left(deadline), incumbent=True)
        except SolveError as err:
            if err.time_limit:
                return _Band(found, infeasible=False, improved=True, upper=upper, stopped=True)
            if not err.infeasible or ctx.carbon_segment is None:
                raise
            return _Band(found, infeasible=found is None, improved=True, upper=upper)
        plan, spilled = decode(c, sol)
        upper = min(upper, -sol.bound + c.objective.constant)
        if best is not None and (plan.profit if sol.optimal else upper) <= best.profit:
            return _Band(None, infeasible=False, improved=True, upper=upper)
        if not spilled.any():
            if found is None or plan.profit > found.profit:
                found = plan
            return _Band(found, infeasible=False, improved=True, upper=upper, stopped=not sol.optimal)
        if not sol.optimal:
            return _Band(found, infeasible=False, improved=True, upper=upper, stopped=True)
        modes = modes | spilled
    raise SolveError("storage charged and discharged in the same interval even with a binary mode in every interval")
