"""The oracle on the day-ahead timeline: replaying its plan reproduces its objective, optima by hand, the
price-maker ranges of a flat curve against the simulator's clearing, re-planning from a later state."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import RandomPolicy, run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy, OracleScopeError, curve_segments, solve
from vpp_gym import core
from vpp_gym.config import ScenarioConfig, packaged_config
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.markets.energy import clear_curve
from vpp_gym.ops import SCALAR
from vpp_gym.validation import from_mapping

REL = 1e-6
DA: dict[str, Any] = {"markets.energy.timeline": "day_ahead"}
AUTONOMOUS = "markets/autonomous.yaml"
DAY0 = {"split": "test", "day": 0}


ABS = 1e-3
"""0.001 CNY: the floor of the tolerance where a day's profit is near 0 (its cash flows are not; the
HiGHS MIP tolerances leave up to about 7e-4 CNY on Regulation-v1's first test day, profit -609)."""


def _close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= max(rel * max(1.0, abs(a), abs(b)), ABS)


def _make(env_id: str, overrides: dict[str, Any] | None = None, preset: str | None = None) -> gym.Env:
    config = str(packaged_config(preset)) if preset else None
    return gym.make(env_id, config=config, overrides={**DA, **(overrides or {})})


# ---------------------------------------------------------------------------------------------------
# 1. Equivalence: the plan played through the env earns the plan's objective, with the same energy flows
# ---------------------------------------------------------------------------------------------------

TASKS: dict[str, tuple[str, str | None]] = {
    "arbitrage": ("vpp_gym/Arbitrage-v0", None),
    "lowcarbon": ("vpp_gym/LowCarbon-v0", None),
    "regulation": ("vpp_gym/Regulation-v0", None),
    "joint": ("vpp_gym/Joint-v0", None),
    "arbitrage_autonomous": ("vpp_gym/Arbitrage-v0", AUTONOMOUS),
    "joint_autonomous": ("vpp_gym/Joint-v0", AUTONOMOUS),  # price-maker in every market (a MILP: about a minute)
    # The v1 tasks (pilot-ETS carbon, 2023 certificates; Joint: DR as dispatched) with their own defaults.
    "arbitrage_v1": ("vpp_gym/Arbitrage-v1", None),
    "lowcarbon_v1": ("vpp_gym/LowCarbon-v1", None),
    "regulation_v1": ("vpp_gym/Regulation-v1", None),
    "joint_v1": ("vpp_gym/Joint-v1", None),
}
SLOW = ("joint_autonomous", "joint_v1")


def _check_replay(env: gym.Env, options: dict[str, Any], seed: int = 0) -> tuple[Any, dict[str, float]]:
    policy = OraclePolicy(env)
    totals = run_episode(env, policy, seed=seed, options=options)
    plan = policy.plan
    assert plan is not None
    p = env.unwrapped.params
    assert totals["steps"] == p.steps == len(plan.actions)
    assert _close(totals["profit"], plan.profit), (totals["profit"], plan.profit)
    dt = p.dt_h
    sp = plan.setpoints
    assert totals["energy_da.quantity_mwh"] == pytest.approx(sp["da"].sum() * dt, abs=1e-5)
    assert totals.get("energy_id.quantity_mwh", 0.0) == pytest.approx(sp["intraday"].sum() * dt, abs=1e-5)
    assert totals["energy_rt.quantity_mwh"] == pytest.approx((sp["net"] - sp["position"]).sum() * dt, abs=1e-5)
    b = p.cfg.resources.battery
    ep = env.unwrapped.episode
    if b is not None and p.cfg.markets.energy.terminal_value == "mean_da":
        value = (sp["e"][-1] - b.e_init_mwh) * float(ep.terminal_price[0])
        assert totals["terminal.value"] == pytest.approx(value, rel=1e-6, abs=1e-6)
    return plan, totals


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in TASKS])
def test_replaying_the_plan_reproduces_its_profit_on_every_task(case: str) -> None:
    env_id, preset = TASKS[case]
    env = _make(env_id, preset=preset)
    plan, _totals = _check_replay(env, DAY0)
    if preset is not None:  # price-maker: the cleared prices (in the rings) are the stack's, not the series'
        assert plan.mip
        u = env.unwrapped
        cleared = np.asarray(u.state.da_price)[: u.params.episode_steps]
        assert (cleared != u.episode.exo[0, :, core.I_DA]).any()
    if case in ("arbitrage", "joint"):  # the intraday gates and the day-ahead auction are both used
        assert np.abs(plan.setpoints["intraday"]).max() > 1e-3
        assert np.abs(plan.setpoints["da"]).max() > 1e-3


VARIANTS: dict[str, tuple[str, dict[str, Any], str | None]] = {
    # two days (a second bid block in the middle of day 0) with a solar-shaped contract
    "contract_two_days": (
        "vpp_gym/Arbitrage-v0",
        {
            "time.episode_hours": 48,
            "markets.energy.contract": {"quantity_mw": 2.0, "shape": "solar", "price_per_mwh": 400.0},
        },
        None,
    ),
    # the deviation band growing with |schedule| (binaries) and with its floor
    "band_share_and_floor": (
        "vpp_gym/Arbitrage-v0",
        {
            "markets.energy.deviation_band_share": 0.1,
            "markets.energy.deviation_band_min_mw": 0.3,
            "markets.energy.imbalance_penalty_per_mwh": 200.0,
        },
        None,
    ),
    "band_floor_only": (
        "vpp_gym/Arbitrage-v0",
        {"markets.energy.deviation_band_min_mw": 0.3, "markets.energy.imbalance_penalty_per_mwh": 200.0},
        None,
    ),
    # hourly, gates every 5 intervals 3 ahead: the last block of a day and the next day's first overlap
    "hourly_overlapping_gates": (
        "vpp_gym/Arbitrage-v0",
        {
            "time.interval_minutes": 60,
            "time.episode_hours": 72,
            "markets.energy.intraday": {"gate_spacing_steps": 5, "lead_steps": 3, "max_mw": 1.0},
        },
        None,
    ),
    "no_intraday_no_terminal_value": (
        "vpp_gym/Arbitrage-v0",
        {"markets.energy.intraday": None, "markets.energy.terminal_value": "none"},
        None,
    ),
    # price-maker with a buy contract settled against the price the VPP's own award sets
    "autonomous_contract": (
        "vpp_gym/Arbitrage-v0",
        {"markets.energy.contract": {"quantity_mw": -1.0, "shape": "peak", "price_per_mwh": 300.0}},
        AUTONOMOUS,
    ),
}


@pytest.mark.parametrize("case", list(VARIANTS))
def test_replay_reproduces_the_plan_in_timeline_variants(case: str) -> None:
    env_id, overrides, preset = VARIANTS[case]
    env = _make(env_id, overrides, preset)
    plan, totals = _check_replay(env, {"split": "test", "day": 1}, seed=1)
    p = env.unwrapped.params
    if case == "band_share_and_floor":
        assert plan.mip  # |q| and the band's arm are binaries
        q = plan.setpoints["position"]
        band = np.maximum(0.1 * np.abs(q), 0.3)
        dev = np.abs(plan.setpoints["net"] - q)
        assert ((dev > 1e-6) & (dev <= band + 1e-6)).any()  # deviations inside the band are used (free)
    if case == "band_floor_only":
        assert not plan.mip  # a constant band keeps the LP
    if case == "hourly_overlapping_gates":
        counts = np.zeros(p.episode_steps)
        sch, icfg = p.schedule, p.cfg.markets.energy.intraday
        for k in np.flatnonzero(p.gate_flags > 0):
            i = sch.interval[k] + icfg.lead_steps + np.arange(icfg.gate_spacing_steps)
            counts[i[i < p.episode_steps]] += 1
        assert counts.max() == 2  # some interval is traded at two gates
    if case == "autonomous_contract":
        assert plan.mip and totals["contract.cash"] != 0.0


# ---------------------------------------------------------------------------------------------------
# 2. Optima by hand (one day of 24 hourly intervals, replayed through the pure core)
# ---------------------------------------------------------------------------------------------------


def _hourly(resources: dict[str, Any], energy: dict[str, Any]) -> core.CoreParams:
    cfg = from_mapping(
        ScenarioConfig,
        {
            "time": {"interval_minutes": 60, "episode_hours": 24},
            "forecast": {"horizon_steps": 2},
            "resources": resources,
            "markets": {
                "energy": {
                    "timeline": "day_ahead",
                    "gate_hour": 12.0,
                    "intraday": {"gate_spacing_steps": 1, "lead_steps": 1, "max_mw": 3.0},
                    **energy,
                }
            },
        },
    )
    lo, hi = dict.fromkeys(ALL_NAMES, 0.0), dict.fromkeys(ALL_NAMES, 1.0)
    return core.CoreParams(cfg=cfg, price_ref_per_mwh=100.0, lo=lo, hi=hi)


def _exo(**columns: Any) -> np.ndarray:
    x = np.zeros((24, len(ALL_NAMES)))
    for name, value in columns.items():
        x[:, ALL_NAMES.index(name)] = value
    return x


def _solve_and_replay(p: core.CoreParams, exo: np.ndarray) -> tuple[Any, float]:
    """The plan and, independently, the profit of its actions through the pure core's bid and dispatch steps."""
    state = core.initial_state(p, None)
    price = float(exo[:, core.I_DA].mean())
    plan = solve(p, exo, state, terminal_price=price)
    ep = core.EpisodeData(
        start=np.zeros(1, dtype=np.int64),
        exo=exo[None],
        obs_exo=np.zeros((1, p.steps + 1, p.n_obs), dtype=np.float32),
        terminal_price=np.array([price]),
    )
    keys = core.dispatch_keys(p, ep, exo[0].tolist())
    total = 0.0
    for k in range(p.steps):
        a = plan.actions[k].tolist()
        if p.schedule.bid[k]:
            x = exo[p.schedule.interval[k]].tolist()
            state, led = core.bid_transition(p, state, a, x, 0.0, SCALAR, ep, keys)
        else:
            state, led = core.transition(p, state, a, exo[state.t].tolist(), SCALAR, ep)
        total += led["profit"]
    return plan, total


# A pure trader (a PV plant without sun: net injection 0): DA 50, ID 48, RT 40 in every hour; an award
# qd in [-6, 6] (sells at 50, bought back at 40: +10 per MW) and, from hour 1 on (the gate at hour t trades
# t + 1), an intraday sale qi in [-3, 3] (+8 per MW); the deviation -(qd + qi) pays 10 per MWh beyond the band.
#   no band:  10 qd + 8 qi - 10 |qd + qi|: at most 6 per hour with qi = -3, qd = 3 (0 in hour 0): 23 x 6 = 138
#   band = |q| (share 1): nothing is assessed: 10 x 6 + 8 x 3 = 84 per hour (60 in hour 0): 60 + 23 x 84 = 1992
#   band = max(0.5 |q|, 1): the penalty is 10 max(min(0.5 |q|, |q| - 1), 0), so above 2 MW 5 |q|:
#     qd = 6, qi = 3: 60 + 24 - 45 = 39 (the best: |q| <= 1 earns at most 40 - 24 = 16 with qd = 4, qi = -3);
#     hour 0: 60 - 30 = 30:  30 + 23 x 39 = 927
# A flat contract of 2 MW at 60 adds 2 x (60 - 50) per hour: + 480.
@pytest.mark.parametrize(
    ("energy", "profit"),
    [
        ({"imbalance_penalty_per_mwh": 10.0}, 138.0),
        ({"imbalance_penalty_per_mwh": 10.0, "deviation_band_share": 1.0}, 1992.0),
        ({"imbalance_penalty_per_mwh": 10.0, "deviation_band_share": 0.5, "deviation_band_min_mw": 1.0}, 927.0),
        (
            {
                "imbalance_penalty_per_mwh": 10.0,
                "deviation_band_share": 0.5,
                "deviation_band_min_mw": 1.0,
                "contract": {"quantity_mw": 2.0, "shape": "flat", "price_per_mwh": 60.0},
            },
            927.0 + 480.0,
        ),
    ],
)
def test_trader_optimum_by_hand(energy: dict[str, Any], profit: float) -> None:
    p = _hourly({"pv": {"p_max_mw": 1.0}}, energy)
    exo = _exo(price_da_per_mwh=50.0, price_id_per_mwh=48.0, price_rt_per_mwh=40.0)
    plan, replayed = _solve_and_replay(p, exo)
    assert plan.profit == pytest.approx(profit, rel=1e-9)
    assert replayed == pytest.approx(profit, rel=1e-7)
    if profit != 138.0:  # (the no-band optimum is not unique)
        np.testing.assert_allclose(plan.setpoints["da"], 6.0, atol=1e-7)
        np.testing.assert_allclose(plan.setpoints["intraday"], [0.0] + [3.0] * 23, atol=1e-7)


# Battery only (4 MWh, 2 MW, stored energy 0.4 .. 3.6 MWh from 2.0, lossless, no wear); every price 100
# for hours 0-19 and 20 for hours 20-23, so the terminal price (the day's mean DA) is 2080 / 24 = 86.67:
# sell the 1.6 MWh above the floor at 100, buy 3.2 MWh at 20 to fill it, end 1.6 MWh above the start:
# 160 - 64 + 1.6 x 2080 / 24 = 234.667.
def test_terminal_value_optimum_by_hand() -> None:
    p = _hourly({"battery": {"eta_charge": 1.0, "eta_discharge": 1.0, "degradation_cost_per_mwh": 0.0}}, {})
    prices = np.r_[np.full(20, 100.0), np.full(4, 20.0)]
    exo = _exo(price_da_per_mwh=prices, price_id_per_mwh=prices, price_rt_per_mwh=prices)
    plan, replayed = _solve_and_replay(p, exo)
    expected = 160.0 - 64.0 + 1.6 * 2080.0 / 24.0
    assert plan.profit == pytest.approx(expected, rel=1e-9)
    assert replayed == pytest.approx(expected, rel=1e-9)
    assert plan.setpoints["e"][19] == pytest.approx(0.4, abs=1e-7)
    assert plan.setpoints["e"][-1] == pytest.approx(3.6, abs=1e-7)


# ---------------------------------------------------------------------------------------------------
# 3. The price-maker ranges of a flat curve, by hand and against the simulator's clearing
# ---------------------------------------------------------------------------------------------------


def test_curve_segments_by_hand() -> None:
    # need 15; valid offers (5 at 30), (2 + 3 at 40: merged), (10 at 50); (4 at 120: above the cap),
    # (6 at -20: below the floor) and (0 MW at 10) are rejected. Cumulative 5, 10, 20: the award q clears at
    # 30 on [10, 15), 40 on [5, 10), 50 on [-5, 5), the cap 100 below -5; q >= 15 is left out.
    mw = np.array([[5.0, 2.0, 10.0, 3.0, 4.0, 6.0, 0.0]])
    price = np.array([[30.0, 40.0, 50.0, 40.0, 120.0, -20.0, 10.0]])
    m = 1e-4
    t, lo, hi, pr = curve_segments(mw, price, np.array([15.0]), 100.0, -10.0, -20.0, 20.0, margin_mw=m)
    assert list(t) == [0, 0, 0, 0]
    got = sorted(zip(lo, hi, pr, strict=True))
    expected = [
        (-20.0, -5.0 - m, 100.0),
        (-5.0 + m, 5.0 - m, 50.0),
        (5.0 + m, 10.0 - m, 40.0),
        (10.0 + m, 15.0 - m, 30.0),
    ]
    np.testing.assert_allclose(got, expected)
    # clipped to the VPP's limits [-6, 6]
    _t, lo, hi, pr = curve_segments(mw, price, np.array([15.0]), 100.0, -10.0, -6.0, 6.0, margin_mw=m)
    np.testing.assert_allclose(
        sorted(zip(lo, hi, pr, strict=True)), [(-6, -5 - m, 100), (-5 + m, 5 - m, 50), (5 + m, 6, 40)]
    )


def test_curve_segments_match_the_simulators_clearing() -> None:
    rng = np.random.default_rng(0)
    T, M = 40, 8
    mw = rng.uniform(0.0, 6.0, (T, M))
    mw[rng.random((T, M)) < 0.1] = 0.0
    price = rng.uniform(-150.0, 1700.0, (T, M))
    price[rng.random((T, M)) < 0.2] = 300.0  # ties
    need = rng.uniform(5.0, 30.0, T)
    t, lo, hi, pr = curve_segments(mw, price, need, 1500.0, -100.0, -6.0, 6.0)
    covered = 0
    for s in range(len(t)):
        for q in np.linspace(lo[s], hi[s], 5):
            base = np.array([q])
            position, cleared = clear_curve(
                base,
                np.array([[0.0]]),
                np.array([[0.0]]),
                mw[t[s]][None],
                price[t[s]][None],
                need[t[s] : t[s] + 1],
                1500.0,
                -100.0,
            )
            assert position[0] == pytest.approx(q, abs=1e-12)  # a flat curve is awarded whole
            assert cleared[0] == pr[s], (s, q)
            covered += 1
    assert covered > 100


# ---------------------------------------------------------------------------------------------------
# 4. Re-planning from a later state (awards in the rings fixed), and what is out of scope
# ---------------------------------------------------------------------------------------------------


class _Switch:
    """Plays uniform random actions for ``n`` steps (no regulation offer: an award beyond the headroom is held
    only in part, which the plan does not replay exactly), then ``second`` (a fresh plan from the state reached)."""

    def __init__(self, env: gym.Env, second: Any, n: int) -> None:
        self.first, self.second, self.n, self.k = RandomPolicy(env, seed=3), second, n, 0
        names = env.unwrapped.action_names
        self.keep = np.array([name != "regulation_mw" for name in names], dtype=np.float32)

    def reset(self) -> None:
        self.first.reset()
        self.second.reset()
        self.k = 0

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        self.k += 1
        return self.first.act(obs, info) * self.keep if self.k <= self.n else self.second.act(obs, info)


@pytest.mark.parametrize(("env_id", "switch_at"), [("vpp_gym/Arbitrage-v0", 150), ("vpp_gym/Regulation-v0", 123)])
def test_a_plan_from_a_later_state_keeps_the_awards_and_replays(env_id: str, switch_at: int) -> None:
    """Random bids, offers and intraday orders first (awards the oracle did not choose), then the oracle from
    the state reached: the rest of the episode earns its plan."""
    env = _make(env_id)
    oracle = OraclePolicy(env)
    switch = _Switch(env, oracle, switch_at)
    switch.reset()
    obs, info = env.reset(seed=0, options=DAY0)
    done, rest = False, 0.0
    while not done:
        obs, _r, term, trunc, info = env.step(switch.act(obs, info))
        if switch.k > switch_at:
            rest += info["profit"]
        done = term or trunc
    plan = oracle.plan
    assert plan is not None and len(plan.actions) == env.unwrapped.params.steps - switch_at
    assert _close(rest, plan.profit), (rest, plan.profit)


def test_replanning_from_its_own_state_keeps_the_oracles_value() -> None:
    env = _make("vpp_gym/Regulation-v0")
    u = env.unwrapped
    env.reset(seed=0, options=DAY0)
    first = solve(
        u.params, u.episode.exo[0], u.state, agc=u.episode.agc[0], terminal_price=float(u.episode.terminal_price[0])
    )
    earned = 0.0
    for k in range(130):  # the bid block and 34 dispatch intervals
        earned += env.step(first.actions[k].astype(np.float32))[4]["profit"]
    t = int(u.state.t)
    second = solve(
        u.params,
        u.episode.exo[0, t:],
        u.state,
        agc=u.episode.agc[0, t:],
        terminal_price=float(u.episode.terminal_price[0]),
    )
    assert _close(earned + second.profit, first.profit, rel=1e-5), (earned + second.profit, first.profit)
    rest = sum(env.step(a.astype(np.float32))[4]["profit"] for a in second.actions)
    assert _close(rest, second.profit), (rest, second.profit)


def test_price_maker_day_ahead_plans_from_the_first_bid_step_only() -> None:
    env = _make("vpp_gym/Arbitrage-v0", preset=AUTONOMOUS)
    u = env.unwrapped
    env.reset(seed=0, options=DAY0)
    for _ in range(10):
        env.step(np.zeros(len(u.action_names), dtype=np.float32))
    stacks = {n: (mw[0], pr[0]) for n, (mw, pr) in u.episode.stacks.items()}
    with pytest.raises(OracleScopeError, match="first bid step"):
        solve(u.params, u.episode.exo[0], u.state, agc=u.episode.agc[0], stacks=stacks)
    with pytest.raises(OracleScopeError, match="competitor"):  # MPC does not see the stacks
        MpcPolicy(env)
