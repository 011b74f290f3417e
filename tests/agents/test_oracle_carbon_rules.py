"""The oracle under the carbon regimes and the 2023 certificate rules (issue 15): replaying its plan through
the env on LowCarbon-v0 earns exactly the plan's objective, from the episode start and from a state in the
middle of the episode (the state's carbon totals: the MPC's case)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.oracle import OraclePolicy, solve
from vpp_gym import core
from vpp_gym.ops import SCALAR

REL = 1e-6
DAYS = (0, 1, 2)  # test-split days
ETS = {"pricing": "flat", "free_allowance_t_per_mwh": 0.0}
CHEAP_GAS = {"fuel_cost_per_mwh": 250.0}  # the gas unit runs (LowCarbon-v0's 550 per MWh rarely pays)
OFFSHORE_WIND = {"p_max_mw": 3.0, "offshore": True}  # CCER-eligible under china_2023

CASES: dict[str, dict[str, Any]] = {
    # the v0 ladder with the 2023 certificate rules: CCER from offshore wind only, green matching of sold MWh
    "stepped_price_china_2023": {
        "markets": {"carbon": {"certificates": "china_2023", "unmatched_import_penalty_per_mwh": 80.0}},
        "resources": {"wind": OFFSHORE_WIND},
    },
    # national ETS at the 2025 CEA price, gas exemption on (a gas deficit is not charged), CCER from offshore wind
    "national_ets_exemption": {
        "markets": {"carbon": {**ETS, "regime": "national_ets", "price_per_t": 75.0, "certificates": "china_2023"}},
        "resources": {"gas": CHEAP_GAS, "wind": OFFSHORE_WIND},
    },
    "national_ets_no_exemption": {
        "markets": {"carbon": {**ETS, "regime": "national_ets", "price_per_t": 300.0, "shortfall_exemption": False}},
        "resources": {"gas": CHEAP_GAS},
    },
    # a dirtier unit (0.6 t/MWh) charged up to 2 % of its allocation: the exemption's other branch
    "national_ets_cap_share": {
        "markets": {
            "carbon": {**ETS, "regime": "national_ets", "price_per_t": 300.0, "shortfall_cap_share": 0.02}
            | {"ccer_cap_share": 0.3}
        },
        "resources": {"gas": {**CHEAP_GAS, "ef_t_per_mwh": 0.6}},
    },
    # pilot ETS: imports at the grid factor net of kept certificates, an allocation, offsets, green matching
    "pilot_ets_china_2023": {
        "markets": {
            "carbon": {**ETS, "regime": "pilot_ets", "price_per_t": 300.0, "certificates": "china_2023"}
            | {"allocation_t_per_day": 3.0, "unmatched_import_penalty_per_mwh": 50.0}
        },
        "resources": {"wind": OFFSHORE_WIND},
    },
    # pilot ETS with the gas unit running: its direct emissions priced outside the netting of kept certificates
    "pilot_ets_gas": {
        "markets": {
            "carbon": {**ETS, "regime": "pilot_ets", "price_per_t": 75.0, "certificates": "china_2023"}
            | {"allocation_t_per_day": 3.0}
        },
        "resources": {"gas": CHEAP_GAS, "wind": OFFSHORE_WIND},
    },
    # legacy certificates (every renewable MWh green), a surplus worth nothing
    "pilot_ets_legacy": {
        "markets": {"carbon": {**ETS, "regime": "pilot_ets", "price_per_t": 300.0, "reward_surplus": False}},
    },
}


def _close(a: float, b: float, rel: float = REL) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def _replay(env: gym.Env, day: int) -> tuple[float, dict[str, float], Any]:
    """Play the oracle's plan of a test-split day; its profit, summed ledger entries, and the plan."""
    policy = OraclePolicy(env)
    obs, info = env.reset(seed=day, options={"split": "test", "day": day})
    policy.reset()
    total, sums, done = 0.0, {"emissions.gas_t": 0.0, "carbon.cash": 0.0, "penalty.green_matching": 0.0}, False
    while not done:
        obs, _r, done, _trunc, info = env.step(policy.act(obs, info))
        total += info["profit"]
        for key in sums:
            group, item = key.split(".")
            sums[key] += info[group][item] if group in info else 0.0
    sums["net_position_t"] = info["carbon"]["net_position_t"]
    return total, sums, policy.plan


@pytest.mark.parametrize("case", list(CASES))
def test_replaying_the_plan_reproduces_its_profit(case: str) -> None:
    env = gym.make("vpp_gym/LowCarbon-v0", **CASES[case])
    cm = env.unwrapped.params.cfg.markets.carbon
    runs = [_replay(env, day) for day in DAYS]
    for day, (total, _sums, plan) in zip(DAYS, runs, strict=True):
        assert _close(total, plan.profit), (case, day, total, plan.profit)
        assert plan.mip  # gas on/off binaries
    # the configs exercise what they are there for
    gas = [sums["emissions.gas_t"] for _t, sums, _p in runs]
    if cm.regime == "national_ets":
        assert all(g > 0.0 for g in gas)  # the gas unit runs: covered emissions and allocation
    if case == "national_ets_exemption":  # 0.42 > 0.392 t/MWh: a deficit, exempt; the offsets earn
        assert all(sums["carbon.cash"] > 0.0 for _t, sums, _p in runs)
    if case == "national_ets_no_exemption":  # the deficit 0.028 t per gas MWh, less CCER of 5 % of 0.42 t, is paid
        for _t, sums, _p in runs:
            g_mwh = sums["emissions.gas_t"] / 0.42
            assert sums["carbon.cash"] == pytest.approx(-300.0 * (0.028 - 0.05 * 0.42) * g_mwh, rel=1e-9)
    if case == "national_ets_cap_share":  # charged: 2 % of the allocation 0.392 g, less 30 % of the due in CCER
        for _t, sums, _p in runs:
            g_mwh = sums["emissions.gas_t"] / 0.6
            due = 1.02 * 0.392 * g_mwh
            assert sums["net_position_t"] == pytest.approx(0.02 * 0.392 * g_mwh - 0.3 * due, rel=1e-9)
    if case == "pilot_ets_gas":  # the gas unit runs; its tonnes are due whatever the certificates kept
        a_total = 3.0 * env.unwrapped.params.episode_steps * env.unwrapped.params.dt_h / 24.0
        for _t, sums, _p in runs:
            assert sums["emissions.gas_t"] > 0.0
            assert sums["net_position_t"] >= sums["emissions.gas_t"] - (1.0 + cm.ccer_cap_share) * a_total - 1e-9
    if cm.certificates == "china_2023" and cm.unmatched_import_penalty_per_mwh > 0.0:
        assert all(sums["penalty.green_matching"] > 0.0 for _t, sums, _p in runs)


@pytest.mark.parametrize(
    "case", ["national_ets_exemption", "pilot_ets_china_2023", "pilot_ets_gas", "stepped_price_china_2023"]
)
def test_a_plan_from_the_middle_of_the_episode_replays_exactly(case: str) -> None:
    """From a state with carbon totals (after 40 seeded random steps): the plan of the rest earns its objective."""
    env = gym.make("vpp_gym/LowCarbon-v0", **CASES[case])
    u = env.unwrapped
    env.reset(seed=0, options={"split": "test", "day": 1})
    rng = np.random.default_rng(0)
    k = 40
    for _ in range(k):
        env.step(rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32))
    episode, state = u.live()
    assert abs(float(state.emissions_t)) > 0.0 and float(state.ccer_t) >= 0.0
    if case == "pilot_ets_gas":  # direct emissions so far: the state's direct_t (0 under the other regimes)
        assert float(state.direct_t) > 0.0
    plan = solve(u.params, episode.exo[0][k:], state)
    total = 0.0
    s: core.State = state
    exo = episode.exo[0]
    for j, action in enumerate(plan.actions):
        s, led = core.transition(u.params, s, action.tolist(), exo[k + j].tolist(), SCALAR)
        total += led["profit"]
    assert _close(total, plan.profit), (case, total, plan.profit)


PILOT_GAS_OVERRIDES = {
    "markets.carbon.regime": "pilot_ets",
    "markets.carbon.pricing": "flat",
    "markets.carbon.price_per_t": 300.0,
    "markets.carbon.certificates": "china_2023",
    "markets.carbon.free_allowance_t_per_mwh": 0.0,
    "resources.gas.fuel_cost_per_mwh": 250.0,
}


@pytest.mark.parametrize("timeline", [None, "day_ahead"])
@pytest.mark.parametrize("env_id", ["vpp_gym/LowCarbon-v0", "vpp_gym/Joint-v0"])
def test_pilot_ets_with_the_gas_unit_replays_on_the_tasks(env_id: str, timeline: str | None) -> None:
    """Under pilot_ets (overrides, as a user passes them) the plan replays to its objective on LowCarbon and
    Joint, the gas unit running (its direct emissions in the carbon position). On the day-ahead timeline the
    objective's constants of the other blocks (the stored energy's terminal value) are kept by the carbon
    block under the new rules (it once overwrote them: the plan's profit was off by their sum)."""
    extra = {"markets.energy.timeline": timeline} if timeline else {}
    env = gym.make(env_id, overrides={**PILOT_GAS_OVERRIDES, **extra})
    total, sums, plan = _replay(env, 0)
    assert _close(total, plan.profit), (env_id, total, plan.profit)
    assert sums["emissions.gas_t"] > 0.0
    assert sums["net_position_t"] >= sums["emissions.gas_t"] - 1e-9  # no allocation: the gas tonnes at least
