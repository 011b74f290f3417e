"""The golden-trajectory cases: every task, a few seeds, the market-stage presets, the vector env, and the
objectives of the oracle and MPC. ``generate.py`` records them; ``test_golden.py`` replays them.

A case is run with uniform random actions from its own seeded generator, so the recorded trajectories
exercise every projection, clearing and settlement branch rather than one policy's habits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import vpp_gym  # noqa: F401  (registers the task ids)

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "configs" / "markets"
TASKS = {
    "arbitrage": "vpp_gym/Arbitrage-v0",
    "lowcarbon": "vpp_gym/LowCarbon-v0",
    "regulation": "vpp_gym/Regulation-v0",
    "joint": "vpp_gym/Joint-v0",
}
"""The v0 ids (their recorded trajectories date from v0 and must never change)."""
TASKS_V1 = {
    "arbitrage-v1": "vpp_gym/Arbitrage-v1",
    "lowcarbon-v1": "vpp_gym/LowCarbon-v1",
    "regulation-v1": "vpp_gym/Regulation-v1",
    "joint-v1": "vpp_gym/Joint-v1",
}
"""The v1 ids (recorded when v1 was introduced)."""
ALL_TASKS = {**TASKS, **TASKS_V1}


@dataclass(frozen=True)
class Case:
    """One recorded trajectory: a task (with an optional market-stage preset), a seed and a batch size."""

    task: str
    seed: int
    preset: str | None = None
    num_envs: int = 0  # 0 = single env (gymnasium.make), N > 0 = native vector env of N sub-envs
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A unique key for the recorded arrays."""
        parts = [self.task, f"s{self.seed}"]
        if self.preset:
            parts.append(self.preset)
        if self.num_envs:
            parts.append(f"vec{self.num_envs}")
        return "-".join(parts)

    def make(self) -> Any:
        """The env of this case."""
        config = str(PRESETS / f"{self.preset}.yaml") if self.preset else None
        if self.num_envs:
            return gym.make_vec(
                ALL_TASKS[self.task],
                num_envs=self.num_envs,
                vectorization_mode="vector_entry_point",
                config=config,
                split="test",
                **self.kwargs,
            )
        return gym.make(ALL_TASKS[self.task], config=config, **self.kwargs)


CASES = (
    [Case(task, seed) for task in TASKS for seed in (0, 1)]
    + [Case("joint", 0, preset) for preset in ("invitation", "transaction", "autonomous")]
    + [Case("arbitrage", 2, "autonomous")]
    + [Case(task, 0, num_envs=3) for task in TASKS]
    + [Case("joint", 1, "autonomous", num_envs=2)]
    + [Case(task, seed) for task in TASKS_V1 for seed in (0, 1)]
    + [Case("joint-v1", 0, preset) for preset in ("transaction", "autonomous")]
    + [Case(task, 0, num_envs=3) for task in TASKS_V1]
    + [Case("joint-v1", 1, "autonomous", num_envs=2)]
)


def flatten(info: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ``info`` as flat ``group.item`` keys (numbers and arrays only)."""
    out: dict[str, Any] = {}
    for k, v in info.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, int | float | np.ndarray | np.number) and not isinstance(v, bool):
            out[key] = v
    return out


def run_case(case: Case) -> dict[str, np.ndarray]:
    """Play the case with seeded uniform actions; ``{'obs', 'reward', 'ledger.<key>', ...}`` arrays."""
    env = case.make()
    rng = np.random.default_rng(10_000 + case.seed)
    space = env.single_action_space if case.num_envs else env.action_space
    if case.num_envs:
        obs, _ = env.reset(seed=case.seed, options={"day": list(range(case.seed, case.seed + case.num_envs))})
        T = env.unwrapped.params.steps if hasattr(env, "unwrapped") else env.params.steps
    else:
        obs, _ = env.reset(seed=case.seed, options={"split": "test", "day": case.seed})
        T = env.unwrapped.params.steps  # bid steps included on the day-ahead timeline
    observations, rewards, ledgers = [obs], [], []
    for _ in range(T):
        size = (case.num_envs, *space.shape) if case.num_envs else space.shape
        action = rng.uniform(-1.0, 1.0, size=size).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        ledgers.append(flatten({k: v for k, v in info.items() if k not in ("final_obs", "final_info")}))
    assert np.all(terminated) and not np.any(truncated), "an episode must end after exactly T steps"
    env.close()
    out = {"obs": np.asarray(observations), "reward": np.asarray(rewards, dtype=np.float64)}
    for key in ledgers[0]:
        out[f"ledger.{key}"] = np.asarray([row[key] for row in ledgers], dtype=np.float64)
    return out


# Objectives of the planners: (task, preset, day) of the test split; MPC re-solves every ``MPC_REPLAN`` steps.
ORACLE_CASES = (
    [(task, None, 0) for task in TASKS]
    + [("arbitrage", "autonomous", 1)]
    + [(task, None, 0) for task in TASKS_V1]
    + [("arbitrage-v1", "autonomous", 1)]
)
MPC_CASES = [(task, None, 1) for task in TASKS] + [(task, None, 1) for task in TASKS_V1 if task != "joint-v1"]
MPC_REPLAN = 12


def planner_objectives() -> dict[str, float]:
    """The oracle's planned profit and objective, and MPC's realised episode profit, per case."""
    from agents.base import run_episode
    from agents.mpc import MpcPolicy
    from agents.oracle import OraclePolicy

    out: dict[str, float] = {}
    for task, preset, day in ORACLE_CASES:
        env = Case(task, 0, preset).make()
        oracle = OraclePolicy(env)
        profit = run_episode(env, oracle, seed=day, options={"split": "test", "day": day})["profit"]
        assert oracle.plan is not None
        key = f"oracle-{task}-{preset or 'default'}-d{day}"
        out[f"{key}.plan_profit"] = float(oracle.plan.profit)
        out[f"{key}.replayed_profit"] = float(profit)
    for task, preset, day in MPC_CASES:
        env = Case(task, 0, preset).make()
        profit = run_episode(
            env, MpcPolicy(env, replan_every=MPC_REPLAN, seed=day), seed=day, options={"split": "test", "day": day}
        )["profit"]
        out[f"mpc-{task}-{preset or 'default'}-d{day}.profit"] = float(profit)
    return out
