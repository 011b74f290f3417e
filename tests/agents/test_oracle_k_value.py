"""The oracle and MPC under regulation scored with the K value (``markets.regulation.scoring: k_value``).

The battery tracks the AGC signal exactly in the oracle's model, so each interval's K is the signal's own
(``agents.oracle.products.regulation_k``) and the pay stays linear in the award: the plan replayed through
the env earns the objective. Against a competitor stack the offer's ranking (price / K of the past) is not
modelled: the oracle and MPC refuse it by name.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy, OracleScopeError, solve

PRESETS = Path(__file__).resolve().parents[2] / "configs" / "markets"
K_VALUE = {"markets.regulation.scoring": "k_value"}
DAY_AHEAD = {
    "markets.energy.timeline": "day_ahead",
    "markets.energy.contract": {"quantity_mw": 1.0, "price_per_mwh": 400.0},
}
CASES = {
    "regulation": ("vpp_gym/Regulation-v0", None, {}),
    # K < 1.9 in many intervals: those are not paid, and the plan must know it
    "regulation_shanxi_kmin": (
        "vpp_gym/Regulation-v0",
        None,
        {"markets.regulation.k_value.formula": "shanxi", "markets.regulation.k_value.k_min": 1.9},
    ),
    "regulation_day_ahead": ("vpp_gym/Regulation-v0", None, DAY_AHEAD),
    "joint_transaction": ("vpp_gym/Joint-v0", "transaction", {}),
}


def _env(case: str) -> gym.Env:
    env_id, preset, extra = CASES[case]
    kwargs: dict = {"overrides": {**K_VALUE, **extra}}
    if preset is not None:
        kwargs["config"] = str(PRESETS / f"{preset}.yaml")
    return gym.make(env_id, **kwargs)


@pytest.mark.parametrize("case", list(CASES))
def test_oracle_plan_replays_with_k_value(case: str) -> None:
    env = _env(case)
    u = env.unwrapped
    env.reset(seed=0, options={"split": "test", "day": 0})
    plan = solve(u.params, u.episode.exo[0], u.state, agc=u.episode.agc[0])
    total, ks = 0.0, []
    for a in plan.actions:
        info = env.step(a.astype(np.float32))[4]
        total += info["profit"]
        if info["regulation"]["accepted_mw"] > 0:
            ks.append(info["regulation"]["score"])
    assert total == pytest.approx(plan.profit, rel=1e-6)
    assert ks and max(ks) <= u.config.markets.regulation.k_value.k_max


def test_k_value_changes_the_objective_against_pjm() -> None:
    def objective(overrides: dict) -> float:
        env = gym.make("vpp_gym/Regulation-v0", overrides=overrides)
        u = env.unwrapped
        env.reset(seed=0, options={"split": "test", "day": 0})
        return solve(u.params, u.episode.exo[0], u.state, agc=u.episode.agc[0]).profit

    assert objective(K_VALUE) != pytest.approx(objective({}), rel=1e-6)


def test_stacks_with_k_value_are_refused_by_name() -> None:
    env = gym.make("vpp_gym/Joint-v0", config=str(PRESETS / "autonomous.yaml"), overrides=K_VALUE)
    with pytest.raises(OracleScopeError, match=r"ranked at price / K \(markets\.regulation\.scoring: k_value\)"):
        OraclePolicy(env)
    with pytest.raises(OracleScopeError):  # MPC already refuses to plan without the stacks
        MpcPolicy(env)


def test_mpc_runs_with_k_value_and_earns_no_more_than_the_oracle() -> None:
    env = _env("regulation")
    day0 = {"split": "test", "day": 0}
    best = run_episode(env, OraclePolicy(env), seed=0, options=day0)["profit"]
    value = run_episode(env, MpcPolicy(env, replan_every=24, horizon_steps=24), seed=0, options=day0)["profit"]
    assert value <= best + 1e-6 * abs(best)
