"""Shared fixtures of the agent tests: the two in-scope task configs and a cache of episode profits.

The ordering tests of ``test_oracle.py`` and ``test_mpc.py`` compare the same episodes, so each
(task, policy, day) episode is run once per session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents import registry
from agents.base import run_episode

# Flat carbon price, no allowances, no offsets: LowCarbon-v0's gas unit keeps it a MILP (on/off binaries).
FLAT_CARBON = {"carbon": {"pricing": "flat", "free_allowance_t_per_mwh": 0.0, "ccer_t_per_mwh": 0.0}}
ORDERING_TASKS: dict[str, tuple[str, dict[str, Any]]] = {
    "arbitrage": ("vpp_gym/Arbitrage-v0", {}),
    "lowcarbon_flat": ("vpp_gym/LowCarbon-v0", {"markets": FLAT_CARBON}),
}
ORDERING_DAYS = (0, 1, 2)  # test-split days
# MPC re-solves per step in the ordering runs: every step on Arbitrage-v0 (an LP, fast), every 4 on the MILP.
MPC_REPLAN = {"arbitrage": 1, "lowcarbon_flat": 4}


def make_policy(name: str, env: gym.Env, task: str, day: int) -> Any:
    """The policy ``name`` of the registry for an episode; seeded by the day so every episode is reproducible."""
    return registry.make_policy(name, env, seed=day, replan_every=MPC_REPLAN[task])


@pytest.fixture(scope="session")
def episode_profit() -> Callable[[str, str, int], float]:
    """``episode_profit(task, policy, day)``: total profit of that test-split episode (env seed = day), cached."""
    envs: dict[str, gym.Env] = {}
    cache: dict[tuple[str, str, int], float] = {}

    def run(task: str, policy: str, day: int) -> float:
        key = (task, policy, day)
        if key not in cache:
            if task not in envs:
                env_id, kwargs = ORDERING_TASKS[task]
                envs[task] = gym.make(env_id, **kwargs)
            env = envs[task]
            totals = run_episode(
                env, make_policy(policy, env, task, day), seed=day, options={"split": "test", "day": day}
            )
            cache[key] = totals["profit"]
        return cache[key]

    return run
