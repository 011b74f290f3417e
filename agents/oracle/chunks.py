"""A long horizon's LP solved month by month, stitched, and proven optimal by its duals.

HiGHS' simplex time grows faster than the horizon (one year at 15 min: about 6 s; two years: 20 s;
eight years: well over 2 minutes), while a month solves in a fraction of a second. The months are
coupled only through the state rows that link an interval to the one before it (stored energy, shift
backlog, EV need), so:

1. **Chunks.** Chunk ``k`` covers ``[J_k, J_k + chunk + overlap)``; the variables before ``J_k`` are
   fixed at the plan so far (the state it starts from), rows reaching past the chunk's end are left
   out (a free end; the ``overlap`` keeps its end effects away from the part that is kept). Each
   chunk's LP is solved with its duals.
2. **Seams.** The plan and the duals switch from chunk ``k - 1`` to chunk ``k`` at the first interval
   ``tau`` in the overlap where both agree on the seam: the variables of ``tau - 1`` that the rows
   linking ``tau - 1`` to ``tau`` use (the state) and the duals of those rows. Then every variable's
   reduced cost comes from one chunk's duals, and every row holds with one chunk's values.
3. **Proof.** The stitched plan ``x`` is feasible (checked), and the stitched duals ``y`` give a
   lower bound by weak duality, ``sum_r y_r b_r + sum_j min over [lb_j, ub_j] of (c - A' y)_j x_j``
   (each row's active side ``b_r``). When ``c x`` meets it (:data:`~agents.oracle.windows.GAP_ABS`,
   :data:`~agents.oracle.windows.GAP_REL`), ``x`` is an optimum of the whole LP and ``y`` optimal
   duals of it, exactly as from one solve. Otherwise (no seam found, or a gap) the caller solves the
   whole LP at once.

So the result is the whole LP's optimum (possibly another optimal vertex than one solve would return,
when there are ties); only horizons of at least two chunks are cut.
"""

from __future__ import annotations

import time

import numpy as np

from agents.lp import Problem, Solution, SolveError
from agents.oracle.windows import GAP_ABS, GAP_REL, box_terms, row_parts

CHUNK_DAYS = 30.0
"""Length of a chunk (days)."""

OVERLAP_DAYS = 3.0
"""Days each chunk runs past the next chunk's start; seams are searched in the first half of it (a second
pass with 4 times the overlap if some seam is not found)."""

AGREE_TOL = 1e-9
"""Two chunks agree on a seam value when they differ by at most this (relative to ``max(1, |value|)``)."""


def chunk_steps(dt_h: float) -> int:
    """Intervals per chunk."""
    return max(1, round(CHUNK_DAYS * 24.0 / dt_h))


def _agree(u: np.ndarray, v: np.ndarray) -> bool:
    return bool(np.all(np.abs(u - v) <= AGREE_TOL * np.maximum(1.0, np.maximum(np.abs(u), np.abs(v)))))


def lower_bound(pb: Problem, y: np.ndarray) -> float:
    """The weak-duality bound of ``min c x`` from the row duals ``y`` (HiGHS' signs; a dual of the wrong sign
    for its row's finite sides counts as 0): ``sum_r y_r b_r + sum_j min_{lb_j <= x_j <= ub_j} z_j x_j``,
    ``z = c - A' y`` (``-inf`` if some ``z_j`` is non-zero towards an infinite bound; see
    :func:`~agents.oracle.windows.box_terms`)."""
    y = np.where(((y > 0) & ~np.isfinite(pb.lo)) | ((y < 0) & ~np.isfinite(pb.hi)), 0.0, y)
    side = np.where(y > 0, pb.lo, np.where(y < 0, pb.hi, 0.0))
    return float(y @ side + box_terms(pb, pb.c - pb.a.T @ y).sum())


def solve_in_chunks(
    pb: Problem, tags: np.ndarray, T: int, steps: int, overlap: int, deadline: float
) -> Solution | None:
    """The LP ``pb`` (no integer variables, every variable tagged with its interval) solved in chunks of
    ``steps`` intervals overlapping by ``overlap``, stitched and proven optimal (see the module docstring).

    Returns:
        The solution with its duals, or None when the chunks cannot be stitched into a proven optimum
        (solve the whole LP instead).

    Raises:
        SolveError: the time ran out (``time_limit``).
    """
    if pb.mip or np.any(tags < 0):
        return None
    first, last = row_parts(pb.a, tags)  # per row, the first and last interval of its variables
    order = np.argsort(tags, kind="stable")
    col_at = np.searchsorted(tags[order], np.arange(T + 1))
    row_order = np.argsort(last, kind="stable")
    row_at = np.searchsorted(last[row_order], np.arange(T + 1))
    x = np.zeros(pb.c.shape[0])
    y = np.zeros(pb.a.shape[0])
    prev: tuple[np.ndarray, np.ndarray, int] | None = None  # the previous chunk's x, y and end
    start = 0
    while start < T:
        end = T if start + steps + overlap // 2 >= T else min(start + steps + overlap, T)
        cols = order[col_at[start] : col_at[end]]
        rows = row_order[row_at[start] : row_at[end]]
        sub = pb.a[rows]
        sub_cols = sub[:, cols]
        rest = sub @ x - sub_cols @ x[cols]  # the fixed variables before the chunk (0 elsewhere)
        chunk = Problem(
            c=pb.c[cols],
            a=sub_cols.tocsr(),
            lo=pb.lo[rows] - rest,
            hi=pb.hi[rows] - rest,
            lb=pb.lb[cols],
            ub=pb.ub[cols],
            integrality=pb.integrality[cols],
        )
        try:
            sol = chunk.solve(max(deadline - time.monotonic(), 0.0), duals=True)
        except SolveError as err:
            if err.time_limit:
                raise
            return None  # (a chunk infeasible from where the one before left off: the whole LP decides)
        if sol.duals is None:
            return None
        xk = np.zeros_like(x)
        xk[cols] = sol.x
        yk = np.zeros_like(y)
        yk[rows] = sol.duals
        seam = start
        if prev is not None:
            px, py, p_end = prev
            seam = -1
            for tau in range(start + 1, min(start + max(overlap // 2, 1), p_end, T) + 1):
                r = rows[(last[rows] == tau) & (first[rows] < tau)]
                v = np.unique(pb.a[r].indices)
                v = v[tags[v] < tau]
                if _agree(px[v], xk[v]) and _agree(py[r], yk[r]):
                    seam = tau
                    break
            if seam < 0:
                return None
        keep_cols = order[col_at[seam] : col_at[end]]
        keep_rows = row_order[row_at[seam] : row_at[end]]
        x[keep_cols] = xk[keep_cols]
        y[keep_rows] = yk[keep_rows]
        prev = (xk, yk, end)
        if end == T:
            break
        start += steps
    ax = pb.a @ x
    tol = 1e-7
    if np.any(ax < pb.lo - tol) or np.any(ax > pb.hi + tol) or np.any(x < pb.lb - tol) or np.any(x > pb.ub + tol):
        return None
    objective = float(pb.c @ x)
    bound = lower_bound(pb, y)
    if not objective - bound <= GAP_ABS + GAP_REL * abs(objective):
        return None
    return Solution(x=x, objective=objective, mip=False, duals=y, bound=min(bound, objective))
