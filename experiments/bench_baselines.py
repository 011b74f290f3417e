"""Speed of the optimization baselines (issue: oracle for a year of Arbitrage, MPC for a day of Joint).

Usage: python experiments/bench_baselines.py [--mpc-replan K] [--repeats N] [--price-maker-only]
Prints the median wall time of each measurement over N repeats. The price-maker oracle (every task
under configs/markets/autonomous.yaml, a MILP against the competitor stacks) is timed once per task.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy, solve
from vpp_gym import core
from vpp_gym.data.schema import ALL_NAMES


def oracle_year(repeats: int) -> None:
    env: Any = gym.make("vpp_gym/Arbitrage-v0").unwrapped  # the task class: series, params
    exo = np.stack([env.series.values[c] for c in ALL_NAMES], axis=1)
    times, profit = [], 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        plan = solve(env.params, exo, core.initial_state(env.params, None))
        times.append(time.perf_counter() - t0)
        profit = plan.profit
    print(
        f"oracle, Arbitrage-v0, one year at 15 min ({len(exo)} intervals, {'MILP' if plan.mip else 'LP'}): "
        f"median {statistics.median(times):.2f} s over {repeats} (profit {profit:,.0f})",
        flush=True,
    )


def one_day(
    env_id: str, make_policy: Callable[[gym.Env], Any], label: str, repeats: int, config: str | None = None
) -> None:
    env = gym.make(env_id, config=config)
    times, profit = [], 0.0
    for _ in range(repeats):
        policy = make_policy(env)
        t0 = time.perf_counter()
        profit = run_episode(env, policy, seed=0, options={"split": "test", "day": 0})["profit"]
        times.append(time.perf_counter() - t0)
    where = f"{env_id} ({config})" if config else env_id
    print(
        f"{label}, {where}, one test day: median {statistics.median(times):.2f} s over {repeats} "
        f"(profit {profit:,.0f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mpc-replan", type=int, default=4, help="MPC re-solves every K steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--price-maker-only", action="store_true", help="only time the price-maker oracle")
    args = parser.parse_args()
    if not args.price_maker_only:
        oracle_year(args.repeats)
        for env_id in ("vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0"):
            one_day(env_id, OraclePolicy, "oracle", args.repeats)
            one_day(
                env_id,
                lambda e: MpcPolicy(e, replan_every=args.mpc_replan),
                f"MPC (re-solve every {args.mpc_replan})",
                args.repeats,
            )
        one_day("vpp_gym/Joint-v0", OraclePolicy, "oracle", args.repeats)
        one_day(
            "vpp_gym/Joint-v0",
            lambda e: MpcPolicy(e, replan_every=args.mpc_replan),
            f"MPC (re-solve every {args.mpc_replan})",
            args.repeats,
        )
        one_day("vpp_gym/Joint-v0", lambda e: MpcPolicy(e, replan_every=1), "MPC (re-solve every step)", 1)
    for env_id in ("vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0", "vpp_gym/Joint-v0"):
        one_day(env_id, OraclePolicy, "oracle (price-maker)", 1, config="configs/markets/autonomous.yaml")


if __name__ == "__main__":
    main()
