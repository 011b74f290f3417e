"""Trained agents against the baselines on the same held-out test episodes, per task.

Usage:
    python experiments/rl_report.py --env vpp_gym/Arbitrage-v0 --days 55 \
        --run ppo=runs/ppo_arbitrage-seed0-... --run sac=runs/sac_arbitrage-seed0-... [--mpc-replan 4]

Every policy plays test day ``d`` (``d = 0 .. days-1``) with the env seeded ``SEED + d``: the same
realisation and the same observed forecasts for everyone (the RL agents run in one native vector
env whose sub-env ``d`` gets exactly that seed and day). Printed per policy: mean profit and its
standard error over the days, ``profit / oracle profit`` and the share of the oracle's gain over
the passive reference it captures, ``(profit - passive) / (oracle - passive)``. The latter is the
meaningful ratio when profits are negative (a VPP that serves a load pays for energy; there
``profit / oracle`` exceeds 1 for policies worse than the oracle). The passive reference uses no
flexibility: no day-ahead position, storage idle, nothing curtailed or shifted, gas off, no offers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy
from agents.rule import PriceThresholdPolicy

SEED = 20_270_000


class PassivePolicy:
    """No flexibility used: every action 0 except the gas unit, which stays off (-1 decodes to 0 MW)."""

    def __init__(self, env: gym.Env) -> None:
        p = env.unwrapped.params  # type: ignore[attr-defined]
        self._action = np.zeros(len(p.action_names), dtype=np.float32)
        if "gas" in p.action_index:
            self._action[p.action_index["gas"]] = -1.0
        for name in p.action_names:
            if name.endswith("_price"):
                self._action[p.action_index[name]] = 1.0  # offers priced at the cap (none are made anyway)

    def reset(self) -> None:
        """Nothing to forget."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The passive action."""
        return self._action.copy()


def baseline_profits(env_id: str, days: int, mpc_replan: int) -> dict[str, list[float]]:
    """Profit per test day of the passive reference, the rule, MPC and the oracle."""
    env = gym.make(env_id)
    policies = {"passive": PassivePolicy(env), "rule": PriceThresholdPolicy(env),
                "mpc": MpcPolicy(env, replan_every=mpc_replan, seed=SEED), "oracle": OraclePolicy(env)}
    out: dict[str, list[float]] = {}
    for name, policy in policies.items():
        t0 = time.perf_counter()
        out[name] = [run_episode(env, policy, seed=SEED + d, options={"split": "test", "day": d})["profit"]
                     for d in range(days)]
        print(f"  {name:<8} {days} days in {time.perf_counter() - t0:6.1f} s", flush=True)
    return out


def rl_profits(env_id: str, run: Path, days: int, which: str) -> list[float]:
    """Profit per test day of a trained run (deterministic policy, training normalisation)."""
    from agents.rl.config import load_experiment
    from agents.rl.policy import RlPolicy
    from agents.rl.train import evaluate_days

    cfg, _ = load_experiment(run / "config.yaml")
    if cfg.env_id != env_id:
        raise SystemExit(f"{run} trained on {cfg.env_id}, not {env_id}")
    policy = RlPolicy.load(run, which)
    return [r["profit"] for r in evaluate_days(policy.act, cfg, "test", days, seed=SEED)]


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", required=True)
    ap.add_argument("--days", type=int, default=16)
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR")
    ap.add_argument("--which", default="best", choices=("best", "final"))
    ap.add_argument("--mpc-replan", type=int, default=4)
    ap.add_argument("--json", help="also write the per-day profits here")
    args = ap.parse_args()
    print(f"{args.env}: first {args.days} test days, seeds {SEED} + day", flush=True)
    profits = baseline_profits(args.env, args.days, args.mpc_replan)
    for item in args.run:
        label, _, path = item.partition("=")
        profits[label] = rl_profits(args.env, Path(path), args.days, args.which)
    passive, oracle = np.mean(profits["passive"]), np.mean(profits["oracle"])
    print("\n| policy | mean profit | std. error | profit / oracle | captured (vs passive) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in profits.items():
        x = np.asarray(values)
        sem = x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
        print(f"| {name} | {x.mean():,.0f} | {sem:,.0f} | {x.mean() / oracle:.3f} | "
              f"{(x.mean() - passive) / (oracle - passive):.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"env_id": args.env, "seed": SEED, "profits": profits}, indent=1))


if __name__ == "__main__":
    main()
