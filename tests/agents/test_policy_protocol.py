"""The Policy protocol: every baseline implements it; stateless ones take batches, planners refuse them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym
from agents.base import Policy, RandomPolicy
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy
from agents.rule import PriceThresholdPolicy


@pytest.mark.parametrize("env_id", list(vpp_gym.TASKS))
def test_rule_policy_batch_equals_row_by_row_and_stays_in_the_action_space(env_id: str) -> None:
    env = gym.make(env_id)
    policy = PriceThresholdPolicy(env)
    assert isinstance(policy, Policy)
    obs = np.stack([env.reset(seed=s, options={"split": "test"})[0] for s in range(5)])
    batch = policy.act(obs, {})
    assert batch.shape == (5, *env.action_space.shape)
    for i in range(5):
        row = policy.act(obs[i], {})
        assert np.array_equal(batch[i], row) and env.action_space.contains(row)
    random_batch = RandomPolicy(env, seed=1).act(obs, {})
    assert random_batch.shape == batch.shape and all(env.action_space.contains(a) for a in random_batch)


def test_planners_refuse_a_batch_with_a_clear_error() -> None:
    env = gym.make("vpp_gym/Arbitrage-v0")
    obs, _ = env.reset(seed=0)
    for policy in (OraclePolicy(env), MpcPolicy(env)):
        assert isinstance(policy, Policy)
        with pytest.raises(ValueError, match=r"one observation of shape \(n_obs,\).*one policy per env"):
            policy.act(np.stack([obs, obs]), {})
