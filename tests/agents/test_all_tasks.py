"""Every task's default scenario on several fixed test days: the oracle's plan replays to its objective,
and oracle >= MPC > rule, oracle >= rule; on the v1 tasks also rule >= passive (issue 14, item 10).

Each (scenario, day) episode is run once per policy (about a minute in all: the Joint-v0 days take
2-8 s for the oracle and 4-7 s for MPC re-solving every 8 steps).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import pytest

import vpp_gym
from agents.base import PassivePolicy, run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy
from agents.rule import PriceThresholdPolicy
from vpp_gym.config import packaged_config

DAYS = (0, 1, 2)  # test-split days; the env and MPC's forecast errors are seeded by the day
CASES = [(env_id, None) for env_id in vpp_gym.TASKS] + [
    ("vpp_gym/Joint-v0", None),
    ("vpp_gym/Joint-v0", "configs/markets/transaction.yaml"),  # price-taker offers in every product
]
# MPC re-solves every step on v1 (D-1 bids on seasonal-naive forecasts, re-planned as the day unfolds):
# re-solving every 8 steps loses to the rule on some days (Arbitrage-v1 day 1: -9,568 against -9,261).
REPLAN = {"v0": 8, "v1": 1}
# (task, day) where an ordering fails, recorded so that a fix shows up (the test then fails):
# Regulation-v1 day 1: MPC 1,075, rule 1,531 (the rule holds its regulation award; MPC re-plans it on forecasts);
# Joint-v1 day 1: MPC 4,475, rule 4,535.
MPC_BELOW_RULE = {("vpp_gym/Regulation-v1", 1), ("vpp_gym/Joint-v1", 1)}
# Arbitrage-v1 day 0: rule -12,174, passive -12,035 (its battery trades on seasonal-naive gate forecasts: energy
# +390, wear -235, the terminal value of the charge it sold -328); over days 0-2 the rule is ahead by 472.
RULE_BELOW_PASSIVE = {("vpp_gym/Arbitrage-v1", 0)}
IDS = [f"{e.split('/')[1]}-{c or 'default'}" for e, c in CASES]
# Joint-v0's episodes are the slowest of the suite (8-40 s each for the oracle's MILP and MPC)
PARAMS = [
    pytest.param(*case, id=i, marks=[pytest.mark.slow] if "Joint" in i else [])
    for case, i in zip(CASES, IDS, strict=True)
]


@pytest.fixture(scope="module")
def make_env() -> Callable[[str, str | None], gym.Env]:
    """One env per (task, config), reused across the days."""
    envs: dict[tuple[str, str | None], gym.Env] = {}

    def get(env_id: str, config: str | None) -> gym.Env:
        if (env_id, config) not in envs:
            envs[env_id, config] = gym.make(env_id, config=packaged_config(config) if config else None)
        return envs[env_id, config]

    return get


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize(("env_id", "config"), PARAMS)
def test_oracle_replays_exactly_and_bounds_mpc_and_rule(
    env_id: str, config: str | None, day: int, make_env: Callable[[str, str | None], gym.Env]
) -> None:
    env = make_env(env_id, config)
    opts = {"split": "test", "day": day}
    oracle = OraclePolicy(env)
    replay = run_episode(env, oracle, seed=day, options=opts)["profit"]
    assert oracle.plan is not None
    assert replay == pytest.approx(oracle.plan.profit, rel=1e-6, abs=1e-6)
    replan = REPLAN[env_id[-2:]]
    mpc = run_episode(env, MpcPolicy(env, replan_every=replan, seed=day), seed=day, options=opts)["profit"]
    rule = run_episode(env, PriceThresholdPolicy(env), seed=day, options=opts)["profit"]
    assert replay >= mpc - 1e-6 * abs(replay), (day, replay, mpc)
    assert replay >= rule - 1e-6 * abs(replay), (day, replay, rule)
    if env_id.endswith("-v1"):
        passive = run_episode(env, PassivePolicy(env), seed=day, options=opts)["profit"]
        if (env_id, day) in RULE_BELOW_PASSIVE:
            assert rule < passive, (
                f"the rule now beats passive on {env_id} day {day}: remove it from RULE_BELOW_PASSIVE"
            )
        else:
            assert rule >= passive, (day, rule, passive)
    if (env_id, day) in MPC_BELOW_RULE:
        assert mpc <= rule, f"MPC now beats the rule on {env_id} day {day}: remove it from MPC_BELOW_RULE"
        pytest.xfail(f"MPC below the rule on {env_id} day {day} (known, recorded): {mpc:,.0f} < {rule:,.0f}")
    assert mpc > rule, (day, mpc, rule)  # MPC beats the rule-based policy on the default scenarios
