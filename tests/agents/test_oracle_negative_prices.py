"""The oracle on negative prices and long horizons: storage that would spill energy by charging and
discharging at once is repaired by windows (:mod:`agents.oracle.windows`) to the exact optimum, long
LPs are solved by chunks (:mod:`agents.oracle.chunks`), and the time limit bounds the whole call.

The exact optimum is checked against the brute-force MILP (a binary charge/discharge mode in every
interval, ``force_binary_modes=True``), an independent method; long LPs against one solve of the
whole LP.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from scipy.optimize import milp as scipy_milp

import agents.lp as lp
import agents.oracle.chunks as chunks
import agents.oracle.search as search
from agents.base import run_episode
from agents.lp import SolveError
from agents.oracle import OraclePolicy, build_model, solve
from agents.oracle.model import decode
from vpp_gym import core
from vpp_gym.core import I_DA, I_RT
from vpp_gym.data.schema import ALL_NAMES

REL = 1e-6
# The battery spills at midday (the PV park's hours), the EV fleet at night (when it is plugged in).
NEGATIVE_HOURS = {"battery": list(range(9, 16)), "ev_v2g": list(range(0, 6))}
RESOURCES: dict[str, dict[str, Any]] = {"battery": {}, "ev_v2g": {"battery": None, "ev": {"v2g": True}}}


def _week(case: str) -> tuple[core.CoreParams, np.ndarray, core.State]:
    """A hand-made hourly week: -500 in the negative hours of every day, 700 in the evening, 300 otherwise."""
    env = gym.make("vpp_gym/Arbitrage-v0", time={"interval_minutes": 60}, resources=RESOURCES[case])
    u: Any = env.unwrapped
    p = u.params
    exo = np.stack([u.series.values[c] for c in ALL_NAMES], axis=1)[:168].copy()
    hour = np.arange(168) % 24
    evening = (hour >= 17) & (hour <= 21)
    price = np.where(np.isin(hour, NEGATIVE_HOURS[case]), -500.0, np.where(evening, 700.0, 300.0))
    exo[:, I_DA] = price
    exo[:, I_RT] = price
    return p, exo, core.initial_state(p, None)


def _lp_spills(p: core.CoreParams, exo: np.ndarray, state: core.State) -> int:
    """Intervals where the LP relaxation charges and discharges at once."""
    m, ctx = build_model(p, exo, state)
    return int(decode(ctx, m.solve())[1].sum())


def _close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


@pytest.mark.parametrize("case", list(RESOURCES))
def test_windows_give_the_brute_force_optimum(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    p, exo, state = _week(case)
    assert _lp_spills(p, exo, state) > 0  # the LP alone is not replayable: the case is what it is there for

    def no_fallback(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the windows should prove this optimum without the whole-horizon MILP")

    with monkeypatch.context() as mp:
        mp.setattr(search, "_whole_horizon", no_fallback)
        plan = solve(p, exo, state)
    brute = solve(p, exo, state, force_binary_modes=True)
    assert plan.mip and plan.optimal and plan.gap == 0.0
    assert _close(plan.profit, brute.profit), (plan.profit, brute.profit)


def test_the_whole_horizon_milp_takes_over_when_the_windows_prove_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    p, exo, state = _week("battery")
    real_repair, real_whole = search.repair, search._whole_horizon
    calls: list[str] = []

    def weak(*args: Any, **kwargs: Any) -> Any:
        rep = real_repair(*args, **kwargs)
        calls.append("windows")
        rep.bound -= 100.0  # a valid but weaker bound: the windows cannot prove their plan
        return rep

    def whole(*args: Any, **kwargs: Any) -> Any:
        calls.append("whole horizon")
        return real_whole(*args, **kwargs)

    monkeypatch.setattr(search, "repair", weak)
    monkeypatch.setattr(search, "_whole_horizon", whole)
    plan = solve(p, exo, state)
    assert calls[0] == "windows" and calls[-1] == "whole horizon"  # wider windows, then the exact MILP
    brute = solve(p, exo, state, force_binary_modes=True)
    assert plan.optimal and _close(plan.profit, brute.profit), (plan.profit, brute.profit)


def test_a_replayed_negative_price_week_earns_the_plans_profit() -> None:
    """A week-long episode whose midday prices reach -500: the repaired plan replays through the env."""
    env = gym.make(
        "vpp_gym/Arbitrage-v0",
        time={"interval_minutes": 60, "episode_hours": 168},
        data={"synthetic": {"days": 60, "dip_prob": 1.0, "dip_size_per_mwh": 1500.0, "price_floor_per_mwh": -500.0}},
    )
    env.reset(seed=0, options={"split": "test", "day": 0})
    u: Any = env.unwrapped
    assert _lp_spills(u.params, u.episode.exo[0], u.state) > 0
    policy = OraclePolicy(env)
    totals = run_episode(env, policy, seed=0, options={"split": "test", "day": 0})
    assert policy.plan is not None and policy.plan.mip and policy.plan.optimal
    assert _close(totals["profit"], policy.plan.profit), (totals["profit"], policy.plan.profit)


# ---------------------------------------------------------------------------------------------------
# The time limit bounds the whole call
# ---------------------------------------------------------------------------------------------------


def test_no_time_no_plan() -> None:
    p, exo, state = _week("battery")
    t0 = time.monotonic()
    with pytest.raises(SolveError) as err:
        solve(p, exo, state, time_limit_s=0.0)
    assert err.value.time_limit and not err.value.infeasible
    assert time.monotonic() - t0 < 5.0


def test_the_time_limit_returns_the_best_replayable_plan_with_its_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The time runs out after the windows found a replayable plan but before it was proven optimal."""
    p, exo, state = _week("battery")
    exact = solve(p, exo, state)
    real_repair, real_clock = search.repair, time.monotonic
    skew = [0.0]

    def slow(*args: Any, **kwargs: Any) -> Any:
        rep = real_repair(*args, **kwargs)
        rep.bound -= 50.0  # not proven (a valid, weaker bound) ...
        skew[0] = 1e9  # ... and the time limit has passed
        return rep

    monkeypatch.setattr(search, "repair", slow)
    monkeypatch.setattr(time, "monotonic", lambda: real_clock() + skew[0])
    plan = solve(p, exo, state, time_limit_s=60.0)
    assert not plan.optimal
    assert _close(plan.profit, exact.profit)  # the windows' plan, which happens to be optimal
    assert plan.gap == pytest.approx(50.0 / abs(plan.profit), rel=1e-6)


def test_a_milp_stopped_by_the_time_limit_returns_its_incumbent_with_its_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    p, exo, state = _week("battery")

    def stopped(*args: Any, **kwargs: Any) -> Any:  # HiGHS stopped by the limit, its incumbent 10 above its bound
        res = scipy_milp(*args, **kwargs)
        res.status, res.mip_dual_bound = 1, res.fun - 10.0
        return res

    monkeypatch.setattr(lp, "milp", stopped)
    plan = solve(p, exo, state, force_binary_modes=True)  # the whole horizon's MILP from the start
    assert not plan.optimal and math.isfinite(plan.gap)
    assert plan.gap == pytest.approx(10.0 / abs(plan.profit), rel=1e-6)


# ---------------------------------------------------------------------------------------------------
# Long horizons: LPs by chunks, multi-year episodes
# ---------------------------------------------------------------------------------------------------


def _hourly(days: int, **synthetic: Any) -> tuple[core.CoreParams, np.ndarray, core.State]:
    env = gym.make(
        "vpp_gym/Arbitrage-v0", time={"interval_minutes": 60}, data={"synthetic": {"days": days, **synthetic}}
    )
    u: Any = env.unwrapped
    exo = np.stack([u.series.values[c] for c in ALL_NAMES], axis=1)
    return u.params, exo, core.initial_state(u.params, None)


def test_the_duality_bound_by_hand() -> None:
    # min -x - 2y, x + y <= 4, y <= 3, 0 <= x, y <= 10: optimum -7 at (1, 3), duals (-1, -1)
    m = lp.Model()
    x = m.var(2, 0.0, 10.0, cost=np.array([-1.0, -2.0]))
    r = m.rows(1, -np.inf, 4.0)
    m.coef(r, x, 1.0)
    r2 = m.rows(1, -np.inf, 3.0)
    m.coef(r2, x[1:], 1.0)
    pb = m.problem()
    assert chunks.lower_bound(pb, np.array([-1.0, -1.0])) == pytest.approx(-7.0)  # the optimal duals: tight
    assert chunks.lower_bound(pb, np.zeros(2)) == pytest.approx(-30.0)  # no duals: the box bound, -10 - 20
    assert chunks.lower_bound(pb, np.array([-2.0, 0.0])) == pytest.approx(-8.0)  # any duals: a valid bound


def test_a_long_lp_by_chunks_has_the_whole_lps_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    p, exo, state = _hourly(100)  # 2,400 hourly intervals: three 30-day chunks and a bit
    m, _ = build_model(p, exo, state)
    whole = m.solve()
    used = []
    real = search.solve_in_chunks

    def spy(*args: Any, **kwargs: Any) -> Any:
        sol = real(*args, **kwargs)
        used.append(sol is not None)
        return sol

    monkeypatch.setattr(search, "solve_in_chunks", spy)
    plan = solve(p, exo, state)
    assert used == [True]
    m, ctx = build_model(p, exo, state)
    assert _close(plan.profit, -whole.objective + ctx.objective.constant, rel=1e-9)
    # chunks that never agree on a seam: the whole LP is solved instead, to the same optimum
    monkeypatch.setattr(chunks, "AGREE_TOL", -1.0)
    used.clear()
    again = solve(p, exo, state)
    assert used == [False, False]
    assert _close(again.profit, plan.profit, rel=1e-9)


def test_chunks_with_negative_prices_and_windows_have_the_brute_force_optimum() -> None:
    p, exo, state = _hourly(61, dip_prob=0.5, dip_size_per_mwh=1500.0, price_floor_per_mwh=-500.0)
    exo = exo[: 61 * 24]  # two chunks
    assert _lp_spills(p, exo, state) > 0
    plan = solve(p, exo, state)
    brute = solve(p, exo, state, force_binary_modes=True)
    assert plan.optimal and _close(plan.profit, brute.profit), (plan.profit, brute.profit)


def test_a_two_year_episode_runs_and_replays_the_oracle() -> None:
    """``time.episode_hours`` beyond a year: two years at 1 h, each split long enough for one episode."""
    env = gym.make(
        "vpp_gym/Arbitrage-v0",
        time={"interval_minutes": 60, "episode_hours": 24 * 730},
        data={"synthetic": {"days": 3 * 731}, "splits": {"val_start": "2027-01-02", "test_start": "2029-01-03"}},
    )
    policy = OraclePolicy(env)
    totals = run_episode(env, policy, seed=0, options={"split": "test", "day": 0})
    assert totals["steps"] == 24 * 730
    assert policy.plan is not None and policy.plan.optimal
    assert _close(totals["profit"], policy.plan.profit), (totals["profit"], policy.plan.profit)


ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = ROOT.parent / "shared" / "data"


@pytest.mark.realdata
@pytest.mark.skipif(
    not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} is absent (it lives beside the checkout)"
)
def test_ercot_west_negative_hours_give_the_brute_force_optimum() -> None:
    """Ten days of March 2022 at the ERCOT West hub (negative night hours on the 20th): no carbon price
    (Texas has none) and a wear of 0.3 USD/MWh, so the LP spills; the windows' plan against the MILP."""
    files = {
        "start": "2022-03-12",
        "end": "2022-03-22",
        "fill_missing": "synthetic",
        "synthetic": {"seed": 7, "utc_offset_h": -6.0, "price_floor_per_mwh": -250.0, "price_cap_per_mwh": 5000.0},
        "sources": [
            {
                "path": str(REAL_DATA / "ercot_dam_2022_hub_prices.csv"),
                "timestamp_column": "interval_start_utc",
                "columns": {"price_da_per_mwh": {"column": "hb_west_usd_per_mwh"}},
                "fill": "ffill",
            }
        ],
    }
    overrides = {
        "data.files": files,
        "data.splits": {"val_start": None, "test_start": None},
        "markets.carbon.price_per_t": 0.0,
        "resources.battery.degradation_cost_per_mwh": 0.3,
    }
    config = ROOT / "configs" / "scenarios" / "ercot_caiso_2022.yaml"
    u: Any = gym.make("vpp_gym/Arbitrage-v0", config=str(config), overrides=overrides).unwrapped
    p = u.params
    exo = np.stack([u.series.values[c] for c in ALL_NAMES], axis=1)
    state = core.initial_state(p, None)
    assert (exo[:, I_DA] < 0).any() and _lp_spills(p, exo, state) > 0
    plan = solve(p, exo, state)
    brute = solve(p, exo, state, force_binary_modes=True)
    assert plan.mip and plan.optimal and _close(plan.profit, brute.profit), (plan.profit, brute.profit)
