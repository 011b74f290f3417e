"""A small sparse (MI)LP builder over SciPy's HiGHS interface (:func:`scipy.optimize.milp`).

Variables and constraints are added in vectorised blocks: ``var(n, lb, ub, cost)`` returns the
indices of ``n`` new variables; ``rows(lo, hi)`` returns the indices of new constraint rows;
``coef(rows, cols, vals)`` adds coefficients (broadcast). The model minimises ``c @ x``.

Rows can be named by their constraint family (``rows(n, lo, hi, name="battery.energy_balance")``):
:meth:`Model.row_names` lists the families of a model and :meth:`Model.family` gives a family's rows.

:meth:`Model.problem` assembles the model into a :class:`Problem` (the arrays HiGHS is given), which
can be solved as it is or cut into sub-problems (the oracle's window decomposition does).
``solve(duals=True)`` of an LP also returns the row duals (HiGHS computes them with every solve; SciPy's
public ``milp`` drops them, so they are read through SciPy's HiGHS wrapper, or, where SciPy does not
have it, from a second solve by ``linprog``). ``solve(incumbent=True)`` of a MILP returns the best
solution found when the time limit stops the solver, with its bound, instead of raising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp

try:  # SciPy's own HiGHS call behind ``milp``, which also returns the row duals (SciPy >= 1.15)
    from scipy.optimize._highspy._highs_wrapper import _highs_wrapper
    from scipy.optimize._linprog_highs import _highs_to_scipy_status_message
    from scipy.optimize._milp import _milp_iv
except ImportError:  # pragma: no cover  (older SciPy: duals from a second solve by linprog)
    _highs_wrapper = None


NO_HEURISTICS = (
    "mip_heuristic_run_feasibility_jump",
    "mip_heuristic_run_rens",
    "mip_heuristic_run_rins",
    "mip_heuristic_run_root_reduced_cost",
)
"""The HiGHS options ``solve(heuristics=False)`` sets to False."""


class SolveError(RuntimeError):
    """The solver did not return an optimal solution (``infeasible`` when the model has no solution,
    ``time_limit`` when the time limit stopped it without a solution to return)."""

    def __init__(self, message: str, infeasible: bool = False, time_limit: bool = False) -> None:
        super().__init__(message)
        self.infeasible = infeasible
        self.time_limit = time_limit


@dataclass
class Solution:
    """A solution of a :class:`Model`: optimal, or (``optimal`` False) a MILP's incumbent at the time limit.

    Attributes:
        x: the variables' values.
        objective: ``c @ x`` (minimised).
        mip: whether the model had integer variables.
        duals: the row duals of an LP solved with ``duals=True`` (else None), HiGHS' convention: the
            derivative of the optimal objective by the row's active bound (``>= 0`` on an active lower
            bound, ``<= 0`` on an active upper bound), so ``c - A.T @ duals`` are the reduced costs.
        optimal: whether ``x`` is proven optimal (to the relative gap asked for).
        bound: a proven lower bound on the optimal objective (``objective`` when optimal).
    """

    x: np.ndarray
    objective: float
    mip: bool
    duals: np.ndarray | None = None
    optimal: bool = True
    bound: float = -math.inf

    def __post_init__(self) -> None:
        if self.optimal and self.bound == -math.inf:
            self.bound = self.objective


@dataclass(frozen=True)
class Problem:
    """An assembled model: ``min c @ x`` s.t. ``lo <= a @ x <= hi``, ``lb <= x <= ub``, integers at ``integrality``."""

    c: np.ndarray
    a: sparse.csr_array
    lo: np.ndarray
    hi: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray

    @property
    def mip(self) -> bool:
        """Whether the problem has integer variables."""
        return bool(self.integrality.any())

    def solve(
        self,
        time_limit_s: float = 600.0,
        mip_rel_gap: float = 1e-9,
        duals: bool = False,
        incumbent: bool = False,
        heuristics: bool = True,
    ) -> Solution:
        """Solve with HiGHS; raise :class:`SolveError` unless optimal (or, with ``incumbent``, a MILP's
        feasible solution at the time limit).

        Args:
            time_limit_s: the solver's time limit.
            mip_rel_gap: the relative gap at which a MILP counts as optimal.
            duals: also return the row duals (an LP only).
            incumbent: return a MILP's best solution found when the time limit stops the solver
                (``optimal`` False, ``bound`` its proven bound) instead of raising.
            heuristics: False turns HiGHS' primal heuristics off (:data:`NO_HEURISTICS`): the same optimum,
                found faster on small MILPs whose branch and bound is short (most of their time is
                heuristics otherwise). Needs SciPy's HiGHS wrapper; ignored without it.
        """
        return _solve(self, time_limit_s, mip_rel_gap, duals and not self.mip, incumbent, heuristics)


class Model:
    """A minimisation (MI)LP assembled in blocks."""

    def __init__(self) -> None:
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._c: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._n = 0
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []
        self._m = 0
        self._ri: list[np.ndarray] = []
        self._ci: list[np.ndarray] = []
        self._v: list[np.ndarray] = []
        self._families: dict[str, list[slice]] = {}
        self._blocks: list[tuple[int, int]] = []

    @property
    def n_vars(self) -> int:
        """Number of variables."""
        return self._n

    @property
    def n_rows(self) -> int:
        """Number of constraint rows."""
        return self._m

    def var(
        self,
        n: int,
        lb: float | np.ndarray = 0.0,
        ub: float | np.ndarray = np.inf,
        cost: float | np.ndarray = 0.0,
        integer: bool = False,
    ) -> np.ndarray:
        """Add ``n`` variables; return their indices."""
        idx = np.arange(self._n, self._n + n)
        self._blocks.append((self._n, n))
        self._n += n
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        self._c.append(np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy())
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.uint8))
        return idx

    @property
    def var_blocks(self) -> list[tuple[int, int]]:
        """``(first index, count)`` of every :meth:`var` call, in order."""
        return list(self._blocks)

    def fix(self, idx: np.ndarray, value: float | np.ndarray) -> None:
        """Fix variables to values (by setting both bounds)."""
        lb = np.concatenate(self._lb)
        ub = np.concatenate(self._ub)
        lb[idx] = value
        ub[idx] = value
        self._lb, self._ub = [lb], [ub]

    def bound(self, idx: np.ndarray, lb: float | np.ndarray, ub: float | np.ndarray) -> None:
        """Set the bounds of variables (``lb <= x[idx] <= ub``, broadcast)."""
        lo = np.concatenate(self._lb)
        hi = np.concatenate(self._ub)
        lo[idx] = lb
        hi[idx] = ub
        self._lb, self._ub = [lo], [hi]

    def add_cost(self, idx: np.ndarray, cost: float | np.ndarray) -> None:
        """Add to the objective coefficients of variables."""
        c = np.concatenate(self._c)
        np.add.at(c, idx, cost)
        self._c = [c]

    def rows(
        self, n: int, lo: float | np.ndarray = -np.inf, hi: float | np.ndarray = np.inf, name: str | None = None
    ) -> np.ndarray:
        """Add ``n`` constraint rows ``lo <= A x <= hi``; return their indices.

        ``name`` files the rows under a constraint family (several calls may add to one family).
        """
        idx = np.arange(self._m, self._m + n)
        if name is not None:
            self._families.setdefault(name, []).append(slice(self._m, self._m + n))
        self._m += n
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=float), (n,)).copy())
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=float), (n,)).copy())
        return idx

    def row_names(self) -> list[str]:
        """The constraint families of the model (the names given to :meth:`rows`), in order of first use."""
        return list(self._families)

    def family(self, name: str) -> np.ndarray:
        """The row indices of the constraint family ``name``, in the order they were added.

        Raises:
            KeyError: the model has no family of that name.
        """
        if name not in self._families:
            raise KeyError(f"no constraint family {name!r}; the model has {', '.join(self._families) or 'none'}")
        return np.concatenate([np.arange(s.start, s.stop) for s in self._families[name]])

    def add_rhs(self, rows: np.ndarray | int, value: float | np.ndarray) -> None:
        """Add a constant to both bounds of rows: moves a constant term of ``A x + k`` to the right side."""
        lo = np.concatenate(self._rlo)
        hi = np.concatenate(self._rhi)
        np.add.at(lo, rows, value)
        np.add.at(hi, rows, value)
        self._rlo, self._rhi = [lo], [hi]

    def coef(self, rows: np.ndarray, cols: np.ndarray, vals: float | np.ndarray) -> None:
        """Add coefficients ``A[rows, cols] += vals`` (broadcast; duplicates add up)."""
        r, c, v = np.broadcast_arrays(np.asarray(rows), np.asarray(cols), np.asarray(vals, dtype=float))
        self._ri.append(r.ravel())
        self._ci.append(c.ravel())
        self._v.append(v.ravel())

    def problem(self) -> Problem:
        """The assembled arrays of the model (see :class:`Problem`)."""
        a = sparse.csr_array(
            (np.concatenate(self._v), (np.concatenate(self._ri), np.concatenate(self._ci))), shape=(self._m, self._n)
        )
        return Problem(
            c=np.concatenate(self._c),
            a=a,
            lo=np.concatenate(self._rlo),
            hi=np.concatenate(self._rhi),
            lb=np.concatenate(self._lb),
            ub=np.concatenate(self._ub),
            integrality=np.concatenate(self._int),
        )

    def solve(
        self,
        time_limit_s: float = 600.0,
        mip_rel_gap: float = 1e-9,
        duals: bool = False,
        incumbent: bool = False,
        heuristics: bool = True,
    ) -> Solution:
        """Solve with HiGHS; raise :class:`SolveError` unless optimal (see :meth:`Problem.solve`)."""
        return self.problem().solve(time_limit_s, mip_rel_gap, duals, incumbent, heuristics)


def _solve(
    pb: Problem, time_limit_s: float, mip_rel_gap: float, duals: bool, incumbent: bool, heuristics: bool
) -> Solution:
    """:meth:`Problem.solve`: the simplex with presolve, once more without presolve on a solve error
    (HiGHS status 4, numerical trouble), then the interior-point method on the LP (or the MILP's relaxation)."""
    c, a, integrality = pb.c, pb.a, pb.integrality
    cons = LinearConstraint(a, pb.lo, pb.hi) if a.shape[0] else None
    bounds = Bounds(pb.lb, pb.ub)
    time_limit_s = max(float(time_limit_s), 0.0)
    res = _highs(c, cons, integrality, bounds, time_limit_s, mip_rel_gap, True, duals, heuristics)
    if res.status == 4:  # HiGHS "solve error" (numerical trouble): once more without presolve
        res = _highs(c, cons, integrality, bounds, time_limit_s, mip_rel_gap, False, duals, heuristics)
    if res.status == 4 and a.shape[0]:  # still: the interior-point method on the LP (or the MILP's relaxation)
        ipm = _interior_point(c, a, pb.lo, pb.hi, bounds, time_limit_s)
        if ipm.status == 2:
            raise SolveError(
                f"HiGHS: the simplex failed (status 4) and the interior-point method found the "
                f"{'relaxation ' if integrality.any() else ''}infeasible",
                infeasible=True,
            )
        if ipm.status == 0 and not integrality.any():
            y = _linprog_row_duals(ipm, pb.lo, pb.hi) if duals else None
            return Solution(x=ipm.x, objective=float(ipm.fun), mip=False, duals=y)
    mip = bool(integrality.any())
    if res.status == 1 and res.x is not None and mip and incumbent:  # time limit with a feasible solution
        bound = res.get("mip_dual_bound")
        return Solution(
            x=res.x,
            objective=float(res.fun),
            mip=True,
            optimal=False,
            bound=float(bound) if bound is not None and np.isfinite(bound) else -math.inf,
        )
    if res.status != 0 or res.x is None:
        raise SolveError(
            f"HiGHS did not find an optimal solution: status {res.status}, {res.message}",
            infeasible=res.status == 2,
            time_limit=res.status == 1,
        )
    y = None
    if duals:
        y = res.get("row_duals")
        if y is None:  # SciPy without its HiGHS wrapper: the duals of a second solve (any optimal duals will do)
            y = _linprog_row_duals(_interior_point(c, a, pb.lo, pb.hi, bounds, time_limit_s, "highs"), pb.lo, pb.hi)
    bound = res.get("mip_dual_bound") if mip else None
    return Solution(
        x=res.x,
        objective=float(res.fun),
        mip=mip,
        duals=y,
        bound=float(bound) if bound is not None and np.isfinite(bound) else float(res.fun),
    )


def _highs(
    c: np.ndarray,
    cons: LinearConstraint | None,
    integrality: np.ndarray,
    bounds: Bounds,
    time_limit_s: float,
    mip_rel_gap: float,
    presolve: bool,
    duals: bool,
    heuristics: bool,
) -> OptimizeResult:
    """``scipy.optimize.milp`` (the same HiGHS call, so the same solution); with ``duals`` (an LP) or
    without ``heuristics`` through SciPy's HiGHS wrapper directly, which also returns the row duals
    (``row_duals``) that ``milp`` drops and takes any HiGHS option."""
    options: dict[str, Any] = {"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "presolve": presolve}
    if _highs_wrapper is None or (not duals and heuristics):
        return milp(c, constraints=cons, integrality=integrality, bounds=bounds, options=options)
    args = _milp_iv(c, integrality, bounds, cons, options)
    c_, integrality_, lb, ub, indptr, indices, data, b_l, b_u, options_ = args
    if not heuristics:
        options_.update(dict.fromkeys(NO_HEURISTICS, False))
    raw = _highs_wrapper(c_, indptr, indices, data, b_l, b_u, lb, ub, integrality_, options_)
    status, message = _highs_to_scipy_status_message(raw.get("status"), raw.get("message"))
    x = raw.get("x")
    y = raw.get("lambda")
    return OptimizeResult(
        status=status,
        message=message,
        success=status == 0,
        x=np.array(x) if x is not None else None,
        fun=raw.get("fun"),
        row_duals=np.asarray(y, dtype=float) if y is not None and status == 0 else None,
        mip_dual_bound=raw.get("mip_dual_bound"),
        mip_gap=raw.get("mip_gap"),
    )


def _linprog_row_duals(res: OptimizeResult, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """Row duals in HiGHS' convention from a :func:`_interior_point`-style ``linprog`` result (rows split into
    ``A_ub``: the finite upper sides, then the negated finite lower sides, and ``A_eq``)."""
    if res.status != 0:
        return None
    eq = lo == hi
    up, down = np.isfinite(hi) & ~eq, np.isfinite(lo) & ~eq
    y = np.zeros(len(lo))
    marg = res.ineqlin.marginals if res.ineqlin is not None else np.zeros(0)
    n_up = int(up.sum())
    y[up] += marg[:n_up]
    y[down] -= marg[n_up:]
    if eq.any():
        y[eq] = res.eqlin.marginals
    return y


def _interior_point(
    c: np.ndarray,
    a: sparse.csr_array,
    lo: np.ndarray,
    hi: np.ndarray,
    bounds: Bounds,
    time_limit_s: float,
    method: str = "highs-ipm",
) -> OptimizeResult:
    """HiGHS' interior-point method (with crossover) on ``min c x, lo <= A x <= hi``, integrality dropped.

    A fallback for the rare LP on which the dual simplex reports a solve error (status 4): on those
    the interior-point method either solves it or reports it infeasible (a verdict the caller trusts:
    the oracle then skips that carbon band, as for any infeasible one).
    """
    eq = lo == hi
    up, down = np.isfinite(hi) & ~eq, np.isfinite(lo) & ~eq
    a_ub = sparse.vstack([a[up], -a[down]]).tocsr()
    b_ub = np.concatenate([hi[up], -lo[down]])
    return linprog(
        c,
        A_ub=a_ub if a_ub.shape[0] else None,
        b_ub=b_ub if a_ub.shape[0] else None,
        A_eq=a[eq] if eq.any() else None,
        b_eq=lo[eq] if eq.any() else None,
        bounds=np.c_[bounds.lb, bounds.ub],
        method=method,
        options={"time_limit": time_limit_s},
    )
