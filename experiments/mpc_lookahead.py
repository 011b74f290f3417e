"""How much of MPC's lead over the agents is the reach of its forecasts: MPC with its dispatch forecasts cut.

On the day-ahead timeline MPC re-plans its dispatch on forecasts of every awarded interval to the day's
end, while an agent's observation reaches ``observation.horizon`` intervals (8 on the v1 tasks).
``MpcPolicy(lookahead_steps=L)`` forecasts only the first ``L`` of them with the error model and the rest
seasonal-naively; ``mpc_obs`` also plans on the observation's own forecasts (the agent's information
only). This script plays MPC, MPC with each look-ahead, ``mpc_obs`` and the published PPO models on the
first validation days (never a test day), beside the passive reference and the oracle, and prints each
one's mean profit and share of the oracle's gain over the passive reference.

Usage:
    python experiments/mpc_lookahead.py --task Arbitrage-v1 --days 16 --lookahead 8 24
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import Policy, run_episode
from agents.registry import make_policy
from agents.rl.policy import RlPolicy

ROOT = Path(__file__).resolve().parents[1]
SEED = 20_270_000
"""Episode ``e`` is validation day ``e`` seeded ``SEED + e`` (what ``vpp-gym evaluate --split val`` plays)."""
MODELS = {"Arbitrage-v1": "ppo_arbitrage", "LowCarbon-v1": "ppo_lowcarbon", "Joint-v1": "ppo_joint"}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, play every policy, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", default="Arbitrage-v1", help="a v1 task (vpp_gym/ prefix optional)")
    ap.add_argument("--days", type=int, default=16, help="first validation days to play (default 16)")
    ap.add_argument("--lookahead", type=int, nargs="*", default=[8, 24], help="MPC look-aheads, in intervals")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="published models' seeds")
    args = ap.parse_args(argv)
    task = args.task.removeprefix("vpp_gym/")
    if args.days < 1 or any(la < 1 for la in args.lookahead):
        ap.error("--days and every --lookahead must be at least 1")
    try:
        env = gym.make(f"vpp_gym/{task}", split="val")
    except gym.error.Error as err:
        ap.error(f"--task {args.task}: {err}")
    rows: dict[str, float] = {}

    def play(name: str, make: Callable[[int], Policy]) -> None:
        profits = [run_episode(env, make(e), seed=SEED + e, options={"day": e})["profit"] for e in range(args.days)]
        rows[name] = float(np.mean(profits))
        print(f"  {name:24s} {rows[name]:12,.1f}", file=sys.stderr, flush=True)

    play("passive", lambda e: make_policy("passive", env))
    play("oracle", lambda e: make_policy("oracle", env))
    play("mpc", lambda e: make_policy("mpc", env, seed=SEED + e))
    for la in args.lookahead:

        def mpc_cut(e: int, la: int = la) -> Policy:
            return make_policy("mpc", env, seed=SEED + e, lookahead_steps=la)

        play(f"mpc, look-ahead {la}", mpc_cut)
    play("mpc_obs", lambda e: make_policy("mpc_obs", env, seed=SEED + e))
    model = MODELS.get(task)
    if model is not None:
        runs = [ROOT / "models" / f"{model}_s{s}" for s in args.seeds if (ROOT / "models" / f"{model}_s{s}").is_dir()]
        for run in runs:

            def trained(e: int, run: Path = run) -> Policy:
                return RlPolicy.load(run, "best", env)

            play(f"ppo ({run.name})", trained)
        if runs:
            rows["ppo (mean of seeds)"] = float(np.mean([rows[f"ppo ({r.name})"] for r in runs]))
    passive, oracle = rows["passive"], rows["oracle"]
    print(f"| {task}, {args.days} validation days | mean profit | share of the oracle's gain |")
    print("| --- | ---: | ---: |")
    for name, v in rows.items():
        print(f"| {name} | {v:,.1f} | {(v - passive) / (oracle - passive):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
