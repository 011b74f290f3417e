"""Env throughput of two source trees side by side, in one run: the single env and the native vector env.

    python experiments/bench_compare.py --base /path/to/old/checkout --rounds 5

Each round measures every task on the base tree and on this tree (or ``--new``), each in a fresh
subprocess with that tree first on ``PYTHONPATH`` (same interpreter, same libraries), so both see
the same machine load in turn; the order of the two alternates from round to round. Printed: per
task and measure, the median env-steps/s over the rounds of each side, the ratio new / base, and
the median cost of one step (the single env's, and one step of the whole vector env). Uses
:func:`vpp_gym.bench.single_env_steps_per_s` and :func:`vpp_gym.bench.native_steps_per_s` of each
tree (a tree without them cannot be compared).

Each side may run its tasks with scenario overrides (``--base-override`` / ``--new-override``
``KEY=VALUE``, repeatable; values read as YAML), which that tree's bench functions must accept.
The two sides may be the same tree. For example, this revision's day-ahead timeline against the v0
revision's default, and a 1-day against a 7-day episode on the day-ahead timeline::

    python experiments/bench_compare.py --base ../v0 --new-override markets.energy.timeline=day_ahead
    python experiments/bench_compare.py --base . \\
        --base-override markets.energy.timeline=day_ahead \\
        --new-override markets.energy.timeline=day_ahead --new-override time.episode_hours=168

``--new-version v1`` measures the new side on the tasks' ``-v1`` ids (the base side keeps the ids
given, ``-v0`` by default): the v1 tasks of this revision against the v0 revision, as issue 14 asks::

    python experiments/bench_compare.py --base ../v0 --new-version v1

The vector env runs ``--episodes`` whole episodes per repeat (every sub-env; with next-step
autoreset an episode of ``K`` steps takes ``K + 1`` vector steps), so each side's figure covers
its own episode length, resets included; ``--native-steps`` fixes the vector steps instead. On
the day-ahead timeline the bid steps are env-steps like the dispatch steps.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parents[1]
TASKS = ("vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0", "vpp_gym/Joint-v0")

PROBE = """
import json, statistics, sys
import gymnasium as gym
import vpp_gym
from vpp_gym.bench import native_steps_per_s, single_env_steps_per_s
env_id, n, steps, native_steps, episodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \\
    int(sys.argv[5])
overrides = json.loads(sys.argv[6])
kw = {"overrides": overrides} if overrides else {}
params = gym.make(env_id, **kw).unwrapped.params
K = int(getattr(params, "steps", params.episode_steps))  # a v0 tree has no bid steps (K = T)
if native_steps <= 0:
    native_steps = episodes * (K + 1)  # next-step autoreset: one reset step per episode
try:
    single = single_env_steps_per_s(env_id, steps=steps, repeats=3, **kw)
    native = native_steps_per_s(env_id, n, native_steps, repeats=3, **kw)
except TypeError as err:
    if not kw:
        raise
    sys.exit(f"this tree's vpp_gym.bench does not take scenario overrides ({err})")
print(json.dumps({"tree": vpp_gym.__file__, "K": K, "vector_steps": native_steps,
                  "single": statistics.median(single), f"native N={n}": statistics.median(native)}))
"""


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` items -> dotted overrides (values read as YAML); exits on a malformed item."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"override {item!r}: expected KEY=VALUE, e.g. markets.energy.timeline=day_ahead")
        try:
            out[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise SystemExit(f"override {item!r}: the value is not valid YAML ({err})") from None
    return out


def measure(
    tree: Path,
    env_id: str,
    n: int,
    steps: int,
    native_steps: int,
    episodes: int = 3,
    overrides: dict[str, Any] | None = None,
) -> dict[str, float]:
    """One measurement of ``env_id`` (with ``overrides``) on ``tree`` in a fresh interpreter.

    Returns the median rates by measure (``single``, ``native N=n``), the episode's steps ``K`` and
    the vector steps per repeat (``vector_steps``).
    """
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [
        sys.executable,
        "-c",
        PROBE,
        env_id,
        str(n),
        str(steps),
        str(native_steps),
        str(episodes),
        json.dumps(overrides or {}),
    ]
    res = subprocess.run(args, env=env, capture_output=True, text=True, check=False, cwd="/")
    if res.returncode != 0:
        raise SystemExit(f"{tree}: {env_id} {overrides or ''} failed:\n{res.stderr.strip()}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    tree_file = Path(out.pop("tree")).resolve()
    if not tree_file.is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree} was not the tree imported ({tree_file}); is it a vpp-gym checkout?")
    return out


def _label(tree: Path, overrides: dict[str, Any], version: str | None = None) -> str:
    ids = f" ({version} ids)" if version else ""
    return f"{tree}{ids}" + (" with " + ", ".join(f"{k}={v}" for k, v in overrides.items()) if overrides else "")


def _versioned(env_id: str, version: str | None) -> str:
    """``env_id`` with its version suffix replaced by ``version`` (unchanged when None)."""
    return env_id if version is None else re.sub(r"-v\d+$", f"-{version}", env_id)


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure both sides round by round, print the medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, type=Path, help="checkout of the revision to compare against")
    ap.add_argument("--new", type=Path, default=HERE, help="checkout to measure (default: this one)")
    ap.add_argument("--base-override", action="append", metavar="KEY=VALUE", help="scenario override of the base side")
    ap.add_argument("--new-override", action="append", metavar="KEY=VALUE", help="scenario override of the new side")
    ap.add_argument("--new-version", choices=("v0", "v1"), help="measure the new side on this version of each task id")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=1024, help="sub-envs of the native vector env")
    ap.add_argument("--steps", type=int, default=10_000, help="single-env steps per repeat")
    ap.add_argument("--episodes", type=int, default=3, help="vector-env episodes per repeat")
    ap.add_argument("--native-steps", type=int, default=0, help="vector steps per repeat (default: --episodes)")
    ap.add_argument("--env", action="append", help="task id (repeatable; default every task)")
    args = ap.parse_args(argv)
    tasks = args.env or list(TASKS)
    sides = {  # absolute paths: each probe runs with its tree on PYTHONPATH from another working directory
        "base": (args.base.resolve(), parse_overrides(args.base_override)),
        "new": (args.new.resolve(), parse_overrides(args.new_override)),
    }
    rates: dict[tuple[str, str, str], list[float]] = {}
    info: dict[tuple[str, str], tuple[int, int]] = {}
    for r in range(args.rounds):
        order = ("base", "new") if r % 2 == 0 else ("new", "base")
        for env_id in tasks:
            for label in order:
                tree, overrides = sides[label]
                run_id = _versioned(env_id, args.new_version) if label == "new" else env_id
                out = measure(tree, run_id, args.n, args.steps, args.native_steps, args.episodes, overrides)
                info[(env_id, label)] = (int(out.pop("K")), int(out.pop("vector_steps")))
                for measure_name, value in out.items():
                    rates.setdefault((env_id, measure_name, label), []).append(value)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"base: {_label(*sides['base'])}\nnew:  {_label(*sides['new'], args.new_version)}")
    print(
        f"medians over {args.rounds} alternating rounds (env-steps/s; single: {args.steps:,} steps x 3 repeats, "
        f"native: N={args.n}, x 3 repeats); step cost: one step of the single env (us), "
        f"one step of the whole vector env (ms)\n"
    )
    print(
        f"{'task':24s} {'measure':16s} {'base':>12s} {'new':>12s} {'new/base':>9s} "
        f"{'base cost':>10s} {'new cost':>10s}  episode steps K (vector steps/repeat) base, new"
    )
    for env_id in tasks:
        for measure_name in ("single", f"native N={args.n}"):
            base = statistics.median(rates[(env_id, measure_name, "base")])
            new = statistics.median(rates[(env_id, measure_name, "new")])
            if measure_name == "single":
                costs, eps = (f"{1e6 / base:8.1f}us", f"{1e6 / new:8.1f}us"), ""
            else:
                costs = (f"{1e3 * args.n / base:8.3f}ms", f"{1e3 * args.n / new:8.3f}ms")
                (kb, vb), (kn, vn) = info[(env_id, "base")], info[(env_id, "new")]
                eps = f"  {kb} ({vb}), {kn} ({vn})"
            print(
                f"{env_id:24s} {measure_name:16s} {base:12,.0f} {new:12,.0f} {new / base:9.3f} {costs[0]:>10s} "
                f"{costs[1]:>10s}{eps}"
            )


if __name__ == "__main__":
    main()
