"""A small sparse (MI)LP builder over SciPy's HiGHS interface (:func:`scipy.optimize.milp`).

Variables and constraints are added in vectorised blocks: ``var(n, lb, ub, cost)`` returns the
indices of ``n`` new variables; ``rows(lo, hi)`` returns the indices of new constraint rows;
``coef(rows, cols, vals)`` adds coefficients (broadcast). The model minimises ``c @ x``.

Rows can be named by their constraint family (``rows(n, lo, hi, name="battery.energy_balance")``):
:meth:`Model.row_names` lists the families of a model and :meth:`Model.family` gives a family's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp


class SolveError(RuntimeError):
    """The solver did not return an optimal solution (``infeasible`` when the model has no solution)."""

    def __init__(self, message: str, infeasible: bool = False) -> None:
        super().__init__(message)
        self.infeasible = infeasible


@dataclass
class Solution:
    """An optimal point of a :class:`Model`."""

    x: np.ndarray
    objective: float
    mip: bool


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
        self._n += n
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        self._c.append(np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy())
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.uint8))
        return idx

    def fix(self, idx: np.ndarray, value: float | np.ndarray) -> None:
        """Fix variables to values (by setting both bounds)."""
        lb = np.concatenate(self._lb)
        ub = np.concatenate(self._ub)
        lb[idx] = value
        ub[idx] = value
        self._lb, self._ub = [lb], [ub]

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

    def solve(self, time_limit_s: float = 600.0, mip_rel_gap: float = 1e-9) -> Solution:
        """Solve with HiGHS; raise :class:`SolveError` unless optimal."""
        c = np.concatenate(self._c)
        integrality = np.concatenate(self._int)
        a = sparse.csr_array(
            (np.concatenate(self._v), (np.concatenate(self._ri), np.concatenate(self._ci))), shape=(self._m, self._n)
        )
        cons = LinearConstraint(a, np.concatenate(self._rlo), np.concatenate(self._rhi)) if self._m else None
        bounds = Bounds(np.concatenate(self._lb), np.concatenate(self._ub))
        res = milp(
            c,
            constraints=cons,
            integrality=integrality,
            bounds=bounds,
            options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "presolve": True},
        )
        if res.status == 4:  # HiGHS "solve error" (numerical trouble): once more without presolve
            res = milp(
                c,
                constraints=cons,
                integrality=integrality,
                bounds=bounds,
                options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "presolve": False},
            )
        if res.status == 4 and self._m:  # still: the interior-point method on the LP (or the MILP's relaxation)
            ipm = _interior_point(c, a, np.concatenate(self._rlo), np.concatenate(self._rhi), bounds, time_limit_s)
            if ipm.status == 2:
                raise SolveError(
                    f"HiGHS: the simplex failed (status 4) and the interior-point method found the "
                    f"{'relaxation ' if integrality.any() else ''}infeasible",
                    infeasible=True,
                )
            if ipm.status == 0 and not integrality.any():
                return Solution(x=ipm.x, objective=float(ipm.fun), mip=False)
        if res.status != 0 or res.x is None:
            raise SolveError(
                f"HiGHS did not find an optimal solution: status {res.status}, {res.message}",
                infeasible=res.status == 2,
            )
        return Solution(x=res.x, objective=float(res.fun), mip=bool(integrality.any()))


def _interior_point(
    c: np.ndarray, a: sparse.csr_array, lo: np.ndarray, hi: np.ndarray, bounds: Bounds, time_limit_s: float
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
        method="highs-ipm",
        options={"time_limit": time_limit_s},
    )
