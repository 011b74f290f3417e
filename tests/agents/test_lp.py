"""The LP builder's fallback when HiGHS' simplex reports a solve error (status 4).

Such LPs occur (a green_park coalition of the Shapley experiment was one) but are hard to build on
purpose, so the simplex failure is simulated and the fallback is checked on LPs solved by hand.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import agents.lp as lp


def _failing_milp(*_args: object, **_kwargs: object) -> SimpleNamespace:
    return SimpleNamespace(status=4, x=None, fun=None, message="(HiGHS Status 4: Solve error)")


def _small_lp(lo: float) -> lp.Model:
    # max x + 2 y  s.t.  x + y <= 4,  y <= 3,  x + y >= lo,  0 <= x, y  ->  (1, 3), objective 7 when lo <= 4
    m = lp.Model()
    x = m.var(2, 0.0, np.inf, cost=np.array([-1.0, -2.0]))
    r = m.rows(1, lo, 4.0)
    m.coef(r, x, 1.0)
    r2 = m.rows(1, -np.inf, 3.0)
    m.coef(r2, x[1:], 1.0)
    return m


def test_a_simplex_solve_error_falls_back_to_the_interior_point_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "milp", _failing_milp)
    sol = _small_lp(lo=1.0).solve()
    np.testing.assert_allclose(sol.x, [1.0, 3.0], atol=1e-7)
    assert sol.objective == pytest.approx(-7.0)
    with pytest.raises(lp.SolveError, match="interior-point method found the infeasible") as err:
        _small_lp(lo=5.0).solve()  # x + y >= 5 and x + y <= 4: no solution
    assert err.value.infeasible


def test_a_milp_solve_error_is_reported_unless_the_relaxation_is_infeasible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "milp", _failing_milp)
    m = _small_lp(lo=1.0)
    m.var(1, 0.0, 1.0, integer=True)
    with pytest.raises(lp.SolveError, match="status 4") as err:
        m.solve()  # the relaxation is feasible: the MILP's failure stands
    assert not err.value.infeasible
    m = _small_lp(lo=5.0)
    m.var(1, 0.0, 1.0, integer=True)
    with pytest.raises(lp.SolveError, match="relaxation infeasible") as err:
        m.solve()
    assert err.value.infeasible
