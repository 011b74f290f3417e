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


@pytest.mark.parametrize("wrapper", [True, False])
def test_duals_of_an_lp_solved_by_hand(wrapper: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # max x + 2 y, x + y <= 4, y <= 3: both rows bind at (1, 3); raising either bound by d raises the
    # optimum by d, so both duals of the minimised -x - 2 y are -1; the third row (x >= 0.5) is slack.
    if not wrapper:  # SciPy without its HiGHS wrapper: the duals of a second solve by linprog
        monkeypatch.setattr(lp, "_highs_wrapper", None)
    m = _small_lp(lo=1.0)
    r3 = m.rows(1, 0.5, np.inf)
    m.coef(r3, np.array([0]), 1.0)
    sol = m.solve(duals=True)
    np.testing.assert_allclose(sol.x, [1.0, 3.0], atol=1e-9)
    assert sol.duals is not None
    np.testing.assert_allclose(sol.duals, [-1.0, -1.0, 0.0], atol=1e-9)
    assert sol.optimal and sol.bound == sol.objective


def test_the_solution_with_duals_is_the_one_without() -> None:
    # Duals are read from the same HiGHS call: the same vertex, bit for bit, even with ties
    m = lp.Model()
    x = m.var(4, 0.0, 1.0, cost=np.array([-1.0, -1.0, -1.0, -1.0]))
    r = m.rows(1, -np.inf, 2.0)
    m.coef(r, x, 1.0)
    np.testing.assert_array_equal(m.solve().x, m.solve(duals=True).x)


def _time_limited_milp(*_args: object, **_kwargs: object) -> SimpleNamespace:
    # What milp returns when the time limit stops it with an incumbent (status 1, x set, the dual bound)
    return SimpleNamespace(
        status=1,
        x=np.array([1.0, 3.0, 1.0]),
        fun=-7.0,
        message="Time limit reached",
        mip_dual_bound=-7.5,
        get=lambda key, default=None: {"mip_dual_bound": -7.5}.get(key, default),
    )


def test_a_time_limited_milp_returns_its_incumbent_with_its_bound_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "milp", _time_limited_milp)
    m = _small_lp(lo=1.0)
    m.var(1, 0.0, 1.0, integer=True)
    sol = m.solve(incumbent=True)
    assert not sol.optimal and sol.objective == -7.0 and sol.bound == -7.5
    with pytest.raises(lp.SolveError, match="status 1") as err:
        m.solve()  # without incumbent=True the time limit is an error, flagged as such
    assert err.value.time_limit and not err.value.infeasible


def test_heuristics_off_finds_the_same_optimum() -> None:
    # a small knapsack: max 5a + 4b + 3c, 2a + 3b + c <= 5, binaries: a + b (9) beats a + c (8) and b + c (7)
    m = lp.Model()
    x = m.var(3, 0.0, 1.0, cost=np.array([-5.0, -4.0, -3.0]), integer=True)
    r = m.rows(1, -np.inf, 5.0)
    m.coef(r, x, np.array([2.0, 3.0, 1.0]))
    on, off = m.solve(), m.solve(heuristics=False)
    assert on.objective == off.objective == -9.0
    np.testing.assert_array_equal(np.round(off.x), [1.0, 1.0, 0.0])
