"""The ledger identity of every task over a full episode of random actions.

The documented profit (``vpp_gym.tasks.COMMON_SPEC``, the "Rewards" section of every task) is, at the
time of writing,

    profit = sum of cash (energy_da, energy_rt, regulation, reserve, demand_response, green_cert, carbon)
             - sum of cost (degradation, curtailment, load_shift, fuel, startup)
             - sum of penalty (imbalance, shift_violation, ev_unmet, reserve_shortfall, dr_shortfall,
                               green_matching)

    reward = reward.scale * profit

with every term in ``info[<group>]["cash"]``, ``info["cost"][...]`` and ``info["penalty"][...]``.
The keys are read from that documentation, not from ``vpp_gym.core``, so the test checks the code
against the spec.
"""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym
from vpp_gym import core
from vpp_gym.tasks import COMMON_SPEC

ROOT = Path(__file__).resolve().parents[2]
AUTONOMOUS = ROOT / "configs" / "markets" / "autonomous.yaml"


def _documented(kind: str) -> tuple[str, ...]:
    m = re.search(rf"sum of {kind} \(([^)]*)\)", COMMON_SPEC)
    assert m is not None, kind
    return tuple(k.strip() for k in m.group(1).split(","))


DOC_CASH = _documented("cash")
DOC_COST = _documented("cost")
DOC_PENALTY = _documented("penalty")

NO_AUTONOMOUS = pytest.mark.skipif(not AUTONOMOUS.is_file(), reason=f"{AUTONOMOUS} does not exist")

# (env id, config): every registered task, and Joint-v0 under the autonomous market preset if it exists.
RUNS = [(env_id, None) for env_id in vpp_gym.TASKS]
RUNS.append(("vpp_gym/Joint-v0", str(AUTONOMOUS)))


def _cases() -> list:
    return [
        pytest.param(
            env_id,
            config,
            id=env_id.split("/")[1] + ("" if config is None else "-autonomous"),
            marks=[NO_AUTONOMOUS] if config is not None else [],
        )
        for env_id, config in RUNS
    ]


def test_documented_keys_are_the_keys_the_core_sums() -> None:
    # the spec parsed as written (the lists may grow; these terms are in every version)
    cash = {"energy_da", "energy_rt", "regulation", "reserve", "demand_response", "green_cert", "carbon"}
    assert cash <= set(DOC_CASH)
    assert {"imbalance", "shift_violation", "ev_unmet", "reserve_shortfall", "dr_shortfall"} <= set(DOC_PENALTY)
    assert DOC_COST == core.COST_KEYS


def test_core_key_tuples_match_the_documented_profit() -> None:
    assert (core.CASH_KEYS, core.PENALTY_KEYS) == (DOC_CASH, DOC_PENALTY)


def _episode(env_id: str, config: str | None, seed: int = 7):
    env = gym.make(env_id) if config is None else gym.make(env_id, config=config)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
        yield env.unwrapped, reward, info


@pytest.mark.parametrize(("env_id", "config"), _cases())
def test_every_documented_term_is_in_info_every_step(env_id: str, config: str | None) -> None:
    steps = list(_episode(env_id, config))
    assert len(steps) == steps[0][0].params.episode_steps
    for _, _, info in steps:
        for k in DOC_CASH:
            assert np.isfinite(info[k]["cash"]), (info["t"], k)
        for k in DOC_COST:
            assert np.isfinite(info["cost"][k]) and info["cost"][k] >= 0.0, (info["t"], k)
        for k in DOC_PENALTY:
            assert np.isfinite(info["penalty"][k]) and info["penalty"][k] >= 0.0, (info["t"], k)
        assert np.isfinite(info["profit"]) and np.isfinite(info["reward"])


@pytest.mark.parametrize(("env_id", "config"), _cases())
def test_reward_is_the_scaled_sum_of_the_documented_terms(env_id: str, config: str | None) -> None:
    total_reward = total_parts = 0.0
    for u, reward, info in _episode(env_id, config):
        parts = (
            sum(info[k]["cash"] for k in DOC_CASH)
            - sum(info["cost"][k] for k in DOC_COST)
            - sum(info["penalty"][k] for k in DOC_PENALTY)
        )
        scale = u.config.reward.scale
        assert info["profit"] == pytest.approx(parts, rel=1e-9, abs=1e-9), info["t"]
        assert reward == pytest.approx(scale * parts, rel=1e-9, abs=1e-12), info["t"]
        total_reward += reward
        total_parts += parts
    assert total_reward == pytest.approx(scale * total_parts, rel=1e-9)
