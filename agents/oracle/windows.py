"""Storage that charges and discharges at once in the LP, made replayable window by window, exactly.

Why: with a battery's ``(dis, ch)`` split, the LP relaxation may run both flows in one interval
(``e`` drops by ``dt (dis / eta_d - ch eta_c)`` while the grid sees only ``dis - ch``): it spills
stored energy through the losses, which pays when energy is worth less than nothing (deeply negative
prices, a full battery). The simulator takes one setpoint per interval, so such a plan cannot be
replayed, and the exact model needs a binary charge/discharge mode in those intervals. Re-solving the
whole horizon with binaries (the MILP) is what made a negative-price year slow; here only short
windows around those intervals are re-solved, and optimality is proven by bounds that meet.

Method: a Lagrangian decomposition priced by the LP's own duals. Let ``x*`` be the LP optimum and
``y`` its row duals, ``S`` the intervals where some storage charges and discharges at once. The
windows are ``S`` widened by ``margin`` intervals on each side (4 h); their variables (by interval,
:func:`interval_tags`) are ``W_1 .. W_K``, the rest ``O``. A row is *inner* to a window (all its
variables in it), *outside* (all in ``O``), or *cut* (the state rows linking a window to the
intervals around it). Windows never share a row (:func:`_separate`), so each is solved on its own,
against ``x*`` around it, with a binary charge/discharge mode in each of its intervals:

* the **priced** window (its bound): ``min (c - A_C' y_C) x`` over ``W_k`` with its inner rows only,
  the cut rows dualised at ``y``;
* its **plan**: the priced window's solution if it fits ``x*`` around it (every cut row holds), else
  the **fixed** window, ``min c x`` over ``W_k`` with the cut rows and ``x*`` around it: first as an
  LP with the priced solution's charge/discharge directions, kept if it closes the window's gap, else
  as the MILP.

The proof. (1) Every window's plan has no simultaneous flows and every row holds, and ``x*`` has none
outside the windows, so the combined plan is replayable and its cost ``U >= OPT``, the exact optimum
(minimising). (2) Lagrangian relaxation of every row that is not inner to a window, at the LP's duals
``y`` (any duals of the right signs would do; ``b_r`` the row's active side, ``z = c - A' y``):
``OPT >= L = sum_{r not inner} y_r b_r + sum_{j in O} min_{lb_j <= x_j <= ub_j} z_j x_j + sum_k
min_{W_k, exact} (c - A_C' y_C) x``, the last terms being the priced windows (small MILPs; their proven
dual bounds count). With the LP's optimal duals the outside terms add up to the LP's own outside
cost, so ``L`` improves on the LP's bound by what the windows' binaries cost. (3) The plan is optimal
when ``U - L`` is within :data:`GAP_ABS` + :data:`GAP_REL` ``|U|``. This is exact, not a heuristic:
``L`` is a valid bound whatever the windows, and the plan is returned as optimal only when the bounds
meet; the caller widens the windows when they do not and, past the widest, falls back to the
whole-horizon MILP.

Why the bounds meet: a window that starts and ends a few hours away from the spilling intervals has
boundary states (stored energy, ...) where the LP's plan is replayable and its duals price the stored
energy as the exact plan would, so fixing the boundary at the LP's states costs nothing.

Requires an LP (no integer variables: the duals price the cut rows); a MILP scenario (gas on/off,
reserve calls, price-maker segments) keeps the whole-horizon method.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from agents.lp import Model, Problem, SolveError
from agents.oracle.context import SIMULTANEOUS_TOL_MW, storage_mode

GAP_ABS = 1e-6
"""Absolute tolerance (currency) on ``U - L`` for a plan to count as optimal."""

GAP_REL = 1e-9
"""Relative tolerance on ``U - L`` (the MILP's ``mip_rel_gap``)."""

FEASIBILITY_TOL = 1e-7
"""Row violation a priced window's plan may have and still be taken as the plan (HiGHS' primal tolerance)."""

ZERO_REDUCED_COST = 1e-9
"""Reduced costs this small count as 0 in a weak-duality bound (a free variable's is 0 up to rounding)."""

WINDOW_THREADS = min(4, os.cpu_count() or 1)
"""Threads solving windows at once."""

WINDOW_MARGIN_H = 4.0
"""Hours added on each side of the spilling intervals to make a window (widened 4x per retry)."""


@dataclass(frozen=True)
class StorageFlows:
    """One storage's discharge and charge variables (``(T * k,)``, ``k`` flows per interval) and the big-M
    of its binary mode (:func:`~agents.oracle.context.storage_mode`)."""

    name: str
    dis: np.ndarray
    ch: np.ndarray
    dis_max: float
    ch_max: float


@dataclass
class Repair:
    """The result of :func:`repair`.

    Attributes:
        x: a replayable solution (the LP's outside the windows, the fixed windows' inside), or None
            when the time ran out before every window had one.
        objective: ``c @ x`` (minimised; inf without ``x``).
        bound: a proven lower bound on the exact optimum (minimised).
        windows: number of windows.
        window_intervals: intervals in the windows.
        modes: ``(T,)`` intervals that got a binary mode.
    """

    x: np.ndarray | None
    objective: float
    bound: float
    windows: int
    window_intervals: int
    modes: np.ndarray

    def proven(self) -> bool:
        """Whether ``objective - bound`` is within the tolerances (:data:`GAP_ABS`, :data:`GAP_REL`)."""
        return self.x is not None and self.objective - self.bound <= GAP_ABS + GAP_REL * abs(self.objective)


def simultaneous(x: np.ndarray, storages: list[StorageFlows], T: int) -> np.ndarray:
    """``(T,)``: intervals where some storage charges and discharges at once (both flows above
    :data:`~agents.oracle.context.SIMULTANEOUS_TOL_MW`)."""
    out = np.zeros(T, dtype=bool)
    for s in storages:
        both = np.minimum(x[s.dis], x[s.ch]) > SIMULTANEOUS_TOL_MW
        out |= both.reshape(T, -1).any(axis=1)
    return out


def interval_tags(m: Model, T: int, S: int) -> np.ndarray:
    """The interval of every variable of an oracle model (-1: not tied to one).

    The blocks add their per-interval variables ``T`` at a time (``T * S`` for the AGC sub-steps), in
    interval order; any other block (the carbon position, segments, reserve binaries) is -1. The tags
    only choose the partition of :func:`repair`: any partition gives a valid bound and a feasible plan.
    """
    tags = np.full(m.n_vars, -1, dtype=np.int64)
    for start, n in m.var_blocks:
        if n == T:
            tags[start : start + n] = np.arange(T)
        elif S > 1 and n == T * S:
            tags[start : start + n] = np.repeat(np.arange(T), S)
    return tags


def windows_of(marked: np.ndarray, margin: int) -> np.ndarray:
    """``(T,)`` window id of each interval (-1 outside): ``marked`` widened by ``margin`` on each side,
    runs that touch merged."""
    T = len(marked)
    inside = np.zeros(T + 1, dtype=np.int64)
    idx = np.flatnonzero(marked)
    np.add.at(inside, np.maximum(idx - margin, 0), 1)
    np.add.at(inside, np.minimum(idx + margin + 1, T), -1)
    covered = np.cumsum(inside[:T]) > 0
    starts = covered & ~np.r_[False, covered[:-1]]
    ids = np.cumsum(starts) - 1
    return np.where(covered, ids, -1)


def box_terms(pb: Problem, z: np.ndarray) -> np.ndarray:
    """Per variable, ``min z_j x_j`` over its bounds (reduced costs within :data:`ZERO_REDUCED_COST` count
    as 0; ``-inf`` towards an infinite bound): the variables' part of a weak-duality bound."""
    z = np.where(np.abs(z) <= ZERO_REDUCED_COST, 0.0, z)
    out = np.zeros_like(z)
    up, down = z > 0, z < 0
    out[up] = z[up] * pb.lb[up]
    out[down] = z[down] * pb.ub[down]
    return out


def row_parts(a: sparse.csr_array, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the smallest and largest ``part`` (a label per variable: a window, an interval) among its
    variables (rows without any: -1)."""
    n_rows = a.shape[0]
    lo = np.full(n_rows, -1, dtype=np.int64)
    hi = np.full(n_rows, -1, dtype=np.int64)
    nz = np.diff(a.indptr) > 0
    if a.nnz:
        p = part[a.indices]
        starts = a.indptr[:-1][nz]
        lo[nz] = np.minimum.reduceat(p, starts)
        hi[nz] = np.maximum.reduceat(p, starts)
    return lo, hi


@dataclass(frozen=True)
class _Window:
    """One window: its intervals ``(T,)``, variables, the rows touching them and the rows inside it."""

    intervals: np.ndarray
    cols: np.ndarray
    rows: np.ndarray
    inner: np.ndarray


@dataclass(frozen=True)
class _Priced:
    """The Lagrangian data shared by the windows: the cut rows' duals ``y`` (0 elsewhere), their active
    sides, the priced costs ``c - A_C' y_C``, and the weak-duality terms of every row (``y_r b_r``,
    all duals) and variable (``min z_j x_j`` over its bounds, ``z = c - A' y``)."""

    y: np.ndarray
    side: np.ndarray
    cost: np.ndarray
    row_terms: np.ndarray
    var_terms: np.ndarray


def _sub_model(
    pb: Problem, w: _Window, rows: np.ndarray, cost: np.ndarray, x_fixed: np.ndarray | None
) -> tuple[Model, np.ndarray]:
    """The window's variables ``w.cols`` with costs ``cost`` and the rows ``rows``: the other variables
    fixed at ``x_fixed`` (their terms moved to the bounds), or left out when None."""
    sub_a = pb.a[rows][:, w.cols]
    lo, hi = pb.lo[rows], pb.hi[rows]
    if x_fixed is not None:
        rest = pb.a[rows] @ x_fixed - sub_a @ x_fixed[w.cols]
        lo, hi = lo - rest, hi - rest
    m = Model()
    v = m.var(len(w.cols), pb.lb[w.cols], pb.ub[w.cols], cost[w.cols])
    r = m.rows(len(rows), lo, hi)
    coo = sub_a.tocoo()
    m.coef(r[coo.row], v[coo.col], coo.data)
    return m, v


def _local_flows(pb: Problem, w: _Window, storages: list[StorageFlows], T: int, at: np.ndarray):  # type: ignore[no-untyped-def]
    """Per storage: its name, the window-local indices of its flows in the intervals ``at``, and its big-Ms."""
    local = np.full(pb.c.shape[0], -1, dtype=np.int64)
    local[w.cols] = np.arange(len(w.cols))
    for s in storages:
        sel = np.repeat(at, len(s.dis) // T)
        if sel.any():
            yield s, local[s.dis[sel]], local[s.ch[sel]]


def _window_milp(
    pb: Problem,
    w: _Window,
    rows: np.ndarray,
    cost: np.ndarray,
    x_fixed: np.ndarray | None,
    storages: list[StorageFlows],
    T: int,
    modes: np.ndarray,
    deadline: float,
) -> tuple[np.ndarray, float, float, np.ndarray] | None:
    """The window with binary modes in ``modes & w.intervals``, added where the solution would still charge
    and discharge at once (see :func:`_sub_model` for the rest).

    Returns ``(x_cols, objective, bound, modes)``: ``bound`` a proven lower bound, ``objective`` that of a
    solution without simultaneous flows (inf if the time limit stopped it with none); None when the
    time ran out before any solution.
    """
    bound = -math.inf
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        m, v = _sub_model(pb, w, rows, cost, x_fixed)
        for s, dis, ch in _local_flows(pb, w, storages, T, modes & w.intervals):
            storage_mode(m, s.name, v[dis], v[ch], s.dis_max, s.ch_max)
        try:
            sol = m.solve(left, incumbent=True, heuristics=False)
        except SolveError as err:
            if err.time_limit:
                return None
            raise
        bound = max(bound, sol.bound)
        x_cols = sol.x[: len(w.cols)]
        both = _spilling(pb, w, storages, T, x_cols)
        if not sol.optimal:
            return x_cols, math.inf if both.any() else sol.objective, bound, modes
        if not (both & ~modes).any():
            return x_cols, sol.objective, bound, modes
        modes = modes | both


def _window_lp(
    pb: Problem, w: _Window, x: np.ndarray, storages: list[StorageFlows], T: int, guide: np.ndarray, deadline: float
) -> np.ndarray | None:
    """The fixed window as an LP, each storage's direction taken from ``guide`` (the priced window's
    solution): charging fixed at 0 where ``guide`` discharges, discharging where it does not. Its
    solution (None if infeasible)."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    m, v = _sub_model(pb, w, w.rows, pb.c, x)
    for _s, dis, ch in _local_flows(pb, w, storages, T, w.intervals):
        discharging = guide[dis] > SIMULTANEOUS_TOL_MW
        m.fix(v[ch[discharging]], 0.0)  # idle in the guide: idle here too
        m.fix(v[dis[~discharging]], 0.0)
    try:
        sol = m.solve(left)
    except SolveError:
        return None
    return sol.x[: len(w.cols)]


def _spilling(pb: Problem, w: _Window, storages: list[StorageFlows], T: int, x_cols: np.ndarray) -> np.ndarray:
    """``(T,)``: the window's intervals where its solution ``x_cols`` charges and discharges at once."""
    x = np.zeros(pb.c.shape[0])
    x[w.cols] = x_cols
    return simultaneous(x, storages, T) & w.intervals


def _window_gap(pb: Problem, w: _Window, pr: _Priced, x: np.ndarray, x_cols: np.ndarray, bound: float) -> float:
    """The window's share of ``U - L`` with ``x[w.cols] = x_cols``: its priced cost plus the
    complementary-slackness residual of its cut rows, minus its bound (>= 0 up to rounding)."""
    cut = np.setdiff1d(w.rows, w.inner, assume_unique=True)
    ax = pb.a[cut] @ x + pb.a[cut][:, w.cols] @ (x_cols - x[w.cols])
    return float(pr.cost[w.cols] @ x_cols + pr.y[cut] @ (ax - pr.side[cut]) - bound)


@dataclass(frozen=True)
class _WindowResult:
    """What one window gave: its part of the plan (None if none in time), of the bound, and its modes."""

    x_cols: np.ndarray | None
    bound: float
    modes: np.ndarray


def _solve_window(
    pb: Problem,
    w: _Window,
    pr: _Priced,
    x_lp: np.ndarray,
    storages: list[StorageFlows],
    T: int,
    modes: np.ndarray,
    deadline: float,
    tol: float,
) -> _WindowResult:
    """One window (the windows do not share rows, so each is solved against the LP's plan around it).

    The priced window (a MILP) gives its bound (its relaxation's weak-duality bound until then); its
    solution is the plan's too if it fits the neighbours' values (every row holds), else the fixed window
    as an LP in the priced solution's flow directions if that closes the window's gap to ``tol``, else
    the fixed window as a MILP.
    """
    # until the priced window is solved: the weak-duality bound of its relaxation (its inner rows dualised too)
    bound = float(pr.row_terms[w.inner].sum() + pr.var_terms[w.cols].sum())
    try:
        priced = _window_milp(pb, w, w.inner, pr.cost, None, storages, T, modes, deadline)
    except SolveError:  # numerical trouble on the priced window: its relaxation's bound stands
        priced = None
    if priced is not None:
        bound, modes = max(bound, priced[2]), priced[3]
        if math.isfinite(priced[1]) and _rows_hold(pb, w, x_lp, priced[0]):
            return _WindowResult(priced[0], bound, modes)  # the priced window's plan fits its neighbours
        guided = _window_lp(pb, w, x_lp, storages, T, priced[0], deadline)
        if guided is not None and _window_gap(pb, w, pr, x_lp, guided, bound) <= tol:
            return _WindowResult(guided, bound, modes)
    if time.monotonic() >= deadline:
        return _WindowResult(None, bound, modes)
    try:
        fixed = _window_milp(pb, w, w.rows, pb.c, x_lp, storages, T, modes, deadline)
    except SolveError:  # no replayable plan with this window's boundary (or numerical trouble)
        fixed = None
    if fixed is None or not math.isfinite(fixed[1]):
        return _WindowResult(None, bound, modes)
    return _WindowResult(fixed[0], bound, fixed[3])


def _separate(win: np.ndarray, tags: np.ndarray, a: sparse.csr_array) -> np.ndarray:
    """``win`` with any two windows that share a row merged (with the intervals between them), so that the
    windows can be solved independently. (The oracle's rows link an interval to the one before it only,
    and windows are at least an interval apart, so this is a safeguard.)"""
    while True:
        part = np.where(tags >= 0, win[np.maximum(tags, 0)], -1)
        big = np.iinfo(np.int64).max
        first, _ = row_parts(a, np.where(part >= 0, part, big))
        _, last = row_parts(a, part)
        shared = (first != big) & (last >= 0) & (first != last)
        if not shared.any():
            return win
        covered = win >= 0
        for k0, k1 in {(int(f), int(g)) for f, g in zip(first[shared], last[shared], strict=True)}:
            covered[np.flatnonzero(win == k0)[0] : np.flatnonzero(win == k1)[-1] + 1] = True
        starts = covered & ~np.r_[False, covered[:-1]]
        win = np.where(covered, np.cumsum(starts) - 1, -1)


def repair(
    pb: Problem,
    x_lp: np.ndarray,
    duals: np.ndarray,
    tags: np.ndarray,
    storages: list[StorageFlows],
    T: int,
    margin: int,
    deadline: float,
    modes: np.ndarray | None = None,
) -> Repair:
    """The windows' priced and fixed solves around the LP's simultaneous flows (see the module docstring),
    one window per task on :data:`WINDOW_THREADS` threads (HiGHS releases the GIL; the windows are
    independent, so the result does not depend on the threads).

    Args:
        pb: the LP (no integer variables).
        x_lp: its optimum; ``duals`` its row duals.
        tags: the interval of each variable (:func:`interval_tags`).
        storages: the storages' flows.
        T: intervals.
        margin: intervals added on each side of the simultaneous ones.
        deadline: ``time.monotonic()`` by which to stop (the bound then uses the LP's value for the
            windows not priced yet, and the plan is None if some window has no fixed solution).
        modes: ``(T,)`` intervals with binary modes from the start (besides every window interval).
    """
    marked = simultaneous(x_lp, storages, T)
    win = _separate(windows_of(marked, margin), tags, pb.a)
    n_win = int(win.max()) + 1 if len(win) else 0
    start = (win >= 0) if modes is None else modes | (win >= 0)  # every window interval: fewer re-solves
    part = np.where(tags >= 0, win[np.maximum(tags, 0)], -1)
    lo_part, hi_part = row_parts(pb.a, part)
    cut = lo_part != hi_part
    y_all = np.where(((duals > 0) & ~np.isfinite(pb.lo)) | ((duals < 0) & ~np.isfinite(pb.hi)), 0.0, duals)
    side = np.where(y_all > 0, pb.lo, np.where(y_all < 0, pb.hi, 0.0))  # (a wrong-signed dual is noise: 0)
    y = np.where(cut, y_all, 0.0)
    pr = _Priced(
        y=y,
        side=side,
        cost=pb.c - pb.a.T @ y,
        row_terms=y_all * side,
        var_terms=box_terms(pb, pb.c - pb.a.T @ y_all),
    )
    # the outside part: every row not inner to a window dualised, the outside variables within their bounds
    inner_any = (lo_part == hi_part) & (lo_part >= 0)
    bound = float(pr.row_terms[~inner_any].sum() + pr.var_terms[part < 0].sum())
    a_csc = pb.a.tocsc()
    windows = []
    for k in range(n_win):
        cols = np.flatnonzero(part == k)
        rows = np.unique(a_csc[:, cols].indices)
        inner = rows[(lo_part[rows] == k) & (hi_part[rows] == k)]
        windows.append(_Window(intervals=win == k, cols=cols, rows=rows, inner=inner))
    tol = (GAP_ABS + GAP_REL * abs(float(pb.c @ x_lp))) / max(2 * n_win, 1)
    with ThreadPoolExecutor(max_workers=WINDOW_THREADS) as pool:
        results = list(pool.map(lambda w: _solve_window(pb, w, pr, x_lp, storages, T, start, deadline, tol), windows))
    x = x_lp.copy()
    complete = True
    for w, res in zip(windows, results, strict=True):
        bound += res.bound
        start = start | (res.modes & w.intervals)
        if res.x_cols is None:
            complete = False
        else:
            x[w.cols] = res.x_cols
    objective = float(pb.c @ x) if complete else math.inf
    return Repair(
        x=x if complete else None,
        objective=objective,
        bound=bound,
        windows=n_win,
        window_intervals=int((win >= 0).sum()),
        modes=start,
    )


def _rows_hold(pb: Problem, w: _Window, x: np.ndarray, x_cols: np.ndarray) -> bool:
    """Whether the window's rows hold (to the solver's feasibility tolerance) with ``x[w.cols] = x_cols``."""
    ax = pb.a[w.rows] @ x + pb.a[w.rows][:, w.cols] @ (x_cols - x[w.cols])
    return bool(np.all(ax >= pb.lo[w.rows] - FEASIBILITY_TOL) and np.all(ax <= pb.hi[w.rows] + FEASIBILITY_TOL))
