"""Every task's default scenario: the oracle's plan replays to its objective, and oracle >= MPC >= rule."""

from __future__ import annotations

import gymnasium as gym
import pytest

import vpp_gym
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy
from agents.rule import PriceThresholdPolicy

DAY = {"split": "test", "day": 1}
CASES = [(env_id, None) for env_id in vpp_gym.TASKS] + [
    ("vpp_gym/Joint-v0", "configs/markets/transaction.yaml"),  # price-taker offers in every product
]


@pytest.mark.parametrize(("env_id", "config"), CASES, ids=[f"{e.split('/')[1]}-{c or 'default'}" for e, c in CASES])
def test_oracle_replays_exactly_and_bounds_mpc_and_rule(env_id: str, config: str | None) -> None:
    env = gym.make(env_id, config=config)
    oracle = OraclePolicy(env)
    replay = run_episode(env, oracle, seed=0, options=DAY)["profit"]
    assert oracle.plan is not None
    assert replay == pytest.approx(oracle.plan.profit, rel=1e-6, abs=1e-6)
    mpc = run_episode(env, MpcPolicy(env, replan_every=8), seed=0, options=DAY)["profit"]
    rule = run_episode(env, PriceThresholdPolicy(env), seed=0, options=DAY)["profit"]
    assert replay >= mpc - 1e-6
    assert mpc > rule, (mpc, rule)  # MPC beats the rule-based policy on the default scenarios
