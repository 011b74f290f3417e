"""Env throughput of two source trees side by side, in one run: the single env and the native vector env.

    python experiments/bench_compare.py --base /path/to/old/checkout --rounds 5

Each round measures every task on the base tree and then on this tree (or ``--new``), each in a
fresh subprocess with that tree first on ``PYTHONPATH`` (same interpreter, same libraries), so
both see the same machine load in turn. Printed: per task and measure, the median env-steps/s over
the rounds of each tree and the ratio new / base. Uses :func:`vpp_gym.bench.single_env_steps_per_s`
and :func:`vpp_gym.bench.native_steps_per_s` of each tree (a tree without them cannot be compared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
TASKS = ("vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0", "vpp_gym/Joint-v0")

PROBE = """
import json, statistics, sys
import vpp_gym
from vpp_gym.bench import native_steps_per_s, single_env_steps_per_s
env_id, n, steps, native_steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
out = {"tree": vpp_gym.__file__,
       "single": statistics.median(single_env_steps_per_s(env_id, steps=steps, repeats=3)),
       f"native N={n}": statistics.median(native_steps_per_s(env_id, n, native_steps, repeats=3))}
print(json.dumps(out))
"""


def measure(tree: Path, env_id: str, n: int, steps: int, native_steps: int) -> dict[str, float]:
    """One measurement of ``env_id`` on ``tree`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [sys.executable, "-c", PROBE, env_id, str(n), str(steps), str(native_steps)]
    res = subprocess.run(args, env=env, capture_output=True, text=True, check=True, cwd="/")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    tree_file = Path(out.pop("tree")).resolve()
    if not tree_file.is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree} was not the tree imported ({tree_file}); is it a vpp-gym checkout?")
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure both trees round by round, print the medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, type=Path, help="checkout of the revision to compare against")
    ap.add_argument("--new", type=Path, default=HERE, help="checkout to measure (default: this one)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=1024, help="sub-envs of the native vector env")
    ap.add_argument("--steps", type=int, default=10_000, help="single-env steps per repeat")
    ap.add_argument("--native-steps", type=int, default=288, help="vector steps per repeat")
    ap.add_argument("--env", action="append", help="task id (repeatable; default every task)")
    args = ap.parse_args(argv)
    tasks = args.env or list(TASKS)
    rates: dict[tuple[str, str, str], list[float]] = {}
    for r in range(args.rounds):
        for env_id in tasks:
            for label, tree in (("base", args.base), ("new", args.new)):
                for measure_name, value in measure(tree, env_id, args.n, args.steps, args.native_steps).items():
                    rates.setdefault((env_id, measure_name, label), []).append(value)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"base: {args.base}\nnew:  {args.new}\nmedians over {args.rounds} alternating rounds (env-steps/s)\n")
    print(f"{'task':24s} {'measure':16s} {'base':>12s} {'new':>12s} {'new/base':>9s}")
    for env_id in tasks:
        for measure_name in ("single", f"native N={args.n}"):
            base = statistics.median(rates[(env_id, measure_name, "base")])
            new = statistics.median(rates[(env_id, measure_name, "new")])
            print(f"{env_id:24s} {measure_name:16s} {base:12,.0f} {new:12,.0f} {new / base:9.3f}")


if __name__ == "__main__":
    main()
