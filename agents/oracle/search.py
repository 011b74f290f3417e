""":func:`solve`: the oracle's plan, searched over the carbon bands and re-solved where storage would
charge and discharge at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import SolveError
from agents.oracle.carbon import max_surplus_bands
from agents.oracle.context import Plan
from agents.oracle.model import make_context, solve_once
from agents.oracle.scope import check_scope
from agents.oracle.stacks import check_stacks
from vpp_gym import core
from vpp_gym.core import CoreParams

MODE_ATTEMPTS = 9
"""Solves per carbon band: with binary charge/discharge modes where needed, in every interval at the last."""


@dataclass(frozen=True)
class _Band:
    """How one carbon band went: its plan (None: no better than the best, or out of reach)."""

    plan: Plan | None
    infeasible: bool
    improved: bool  # some solve beat the best plan (resets the count of worse bands in a row)


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
    stacks = check_stacks(p, stacks or {}, exo.shape[0])
    cm = p.cfg.markets.carbon
    segmented = p.carbon_stateful and cm.pricing == "stepped" and cm.reward_surplus
    segments: list[int | None] = [None] if not segmented else [-1, *range(max_surplus_bands(p, state))]
    best: Plan | None = None
    worse_in_a_row = 0
    for seg in segments:
        if not exact and worse_in_a_row >= 2:
            break
        if exact and best is not None and seg is not None and seg >= 1:
            if not _deeper_bands_may_win(p, exo, state, time_limit_s, agc, stacks, seg, best):
                break
        band = _solve_band(p, exo, state, time_limit_s, force_binary_modes, agc, stacks, seg, best)
        if band.improved:
            worse_in_a_row = 0
        if band.plan is None:
            if not band.infeasible:
                worse_in_a_row += 1
            elif seg is not None and seg >= 0:
                break  # the surplus cannot reach this band (nor any further one)
            continue
        if best is None or band.plan.profit > best.profit:
            best = band.plan
    if best is None:
        raise SolveError("no feasible plan", infeasible=True)
    return best


def _deeper_bands_may_win(
    p: CoreParams,
    exo: np.ndarray,
    state: core.State,
    time_limit_s: float,
    agc: np.ndarray | None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]],
    seg: int,
    best: Plan,
) -> bool:
    """Whether a surplus band from ``seg`` on may beat ``best``: an upper bound on all of them (the
    deepest band's reward rate on all of it) beats it. False too when the surplus cannot reach band ``seg``."""
    ctx = make_context(p, exo, state, np.zeros(exo.shape[0], dtype=bool), agc, stacks, seg, tail=True)
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
    time_limit_s: float,
    force_binary_modes: bool,
    agc: np.ndarray | None,
    stacks: dict[str, tuple[np.ndarray, np.ndarray]],
    seg: int | None,
    best: Plan | None,
) -> _Band:
    """The plan of one carbon band, if better than ``best``.

    Storage charging and discharging in the same interval cannot be replayed: where the LP does it,
    those intervals get a binary charge/discharge mode, and the model is solved again.
    """
    T = exo.shape[0]
    modes = np.full(T, force_binary_modes)
    improved = False
    for attempt in range(MODE_ATTEMPTS):
        if attempt == MODE_ATTEMPTS - 1:  # last resort: a binary charge/discharge mode in every interval
            modes = np.ones(T, dtype=bool)
        try:
            plan, simultaneous = solve_once(make_context(p, exo, state, modes, agc, stacks, seg), time_limit_s)
        except SolveError as err:
            if not err.infeasible or seg is None:
                raise
            return _Band(None, infeasible=True, improved=improved)  # out of reach (or only with storage losses)
        if best is not None and plan.profit <= best.profit:
            # no better than the best plan (a relaxation's exact version cannot be either)
            return _Band(None, infeasible=False, improved=improved)
        improved = True
        if not simultaneous.any():
            return _Band(plan, infeasible=False, improved=improved)
        modes = modes | simultaneous
    raise SolveError("storage charged and discharged in the same interval even with a binary mode in every interval")
