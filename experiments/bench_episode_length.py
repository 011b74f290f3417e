"""Cost of a step and of a reset on the day-ahead timeline: 1-day against 7-day episodes, side by side.

    python experiments/bench_episode_length.py --rounds 3

``bench_compare.py`` gives whole-episode rates (wall time, resets included); this script splits them:
for each task and episode length (``time.episode_hours`` 24 and 168, ``markets.energy.timeline:
day_ahead``) it times, in CPU time of this process (less sensitive than wall time to other jobs on a
shared machine), the steps of whole episodes (bid and dispatch steps, resets excluded) and the resets,
for the single env (``gymnasium.make``) and the native vector env (``--n`` sub-envs, autoreset off,
``reset()`` between episodes). The two lengths alternate within each round; each round runs at least
``--steps`` steps per length (7 one-day episodes per 7-day episode by default). Printed: per task, the
medians over the rounds of the cost of one step (single env: us; vector env: ms per step of all ``N``
sub-envs) and of one reset, and the step cost with the resets spread over the episode's steps.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import vpp_gym  # noqa: F401  (registers the tasks)
from vpp_gym.bench import _random_actions

TASKS = ("vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0", "vpp_gym/Joint-v0")
HOURS = (24, 168)


def _timed(env: Any, actions: np.ndarray, steps: int) -> tuple[float, float, int, int]:
    """Whole episodes until at least ``steps`` steps: ``(step seconds, reset seconds, steps, resets)``."""
    K = env.unwrapped.params.steps
    clock = time.process_time
    t_step = t_reset = 0.0
    done = resets = 0
    while done < steps:
        t0 = clock()
        env.reset()
        t_reset += clock() - t0
        resets += 1
        t0 = clock()
        for j in range(K):
            env.step(actions[j % len(actions)])
        t_step += clock() - t0
        done += K
    return t_step, t_reset, done, resets


def measure(env_id: str, n: int, steps: int, rounds: int, log: Callable[[str], None]) -> dict[tuple[str, int], dict]:
    """``{(kind, hours): {"step": [...], "reset": [...], "K": K}}``, one figure per round (seconds)."""
    out: dict[tuple[str, int], dict] = {}
    for kind in ("single", "vector"):
        envs: dict[int, tuple[Any, np.ndarray]] = {}
        for hours in HOURS:
            env: Any
            overrides = {"markets.energy.timeline": "day_ahead", "time.episode_hours": hours}
            if kind == "single":
                env = gym.make(env_id, overrides=overrides)
                actions = _random_actions(64, 1, env.action_space.shape[0], 0)[:, 0]
            else:
                env = gym.make_vec(
                    env_id,
                    num_envs=n,
                    vectorization_mode="vector_entry_point",
                    overrides=overrides,
                    autoreset_mode="Disabled",
                )
                actions = _random_actions(8, n, env.single_action_space.shape[0], 0)
            env.reset(seed=0)
            env.step(actions[0])  # the passive env checker inspects the first step only
            envs[hours] = (env, actions)
            out[(kind, hours)] = {"step": [], "reset": [], "K": env.unwrapped.params.steps}
        for r in range(rounds):
            for hours in HOURS if r % 2 == 0 else HOURS[::-1]:
                env, actions = envs[hours]
                t_step, t_reset, done, resets = _timed(env, actions, steps)
                out[(kind, hours)]["step"].append(t_step / done)
                out[(kind, hours)]["reset"].append(t_reset / resets)
            log(f"{env_id} {kind}: round {r + 1}/{rounds} done")
        for vec_or_env, _a in envs.values():
            vec_or_env.close()
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, measure every task, print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=1024, help="sub-envs of the native vector env")
    ap.add_argument("--steps", type=int, default=1344, help="steps per length and round (whole episodes)")
    ap.add_argument("--env", action="append", help="task id (repeatable; default every task)")
    args = ap.parse_args(argv)
    results = {
        env_id: measure(env_id, args.n, args.steps, args.rounds, lambda m: print(m, flush=True))
        for env_id in args.env or TASKS
    }
    print(
        f"\nday-ahead timeline, CPU time, medians over {args.rounds} rounds; single env in us, native vector env "
        f"(N={args.n}) in ms per step of all sub-envs; step = bid or dispatch step without resets; "
        "with resets = step + reset / K"
    )
    print(f"{'task':24s} {'env':7s} {'hours':>5s} {'K':>5s} {'step':>9s} {'reset':>10s} {'with resets':>12s}")
    for env_id, res in results.items():
        for kind in ("single", "vector"):
            unit, scale = ("us", 1e6) if kind == "single" else ("ms", 1e3)
            for hours in HOURS:
                cell = res[(kind, hours)]
                step, reset = statistics.median(cell["step"]), statistics.median(cell["reset"])
                print(
                    f"{env_id:24s} {kind:7s} {hours:5d} {cell['K']:5d} {scale * step:7.3f}{unit} "
                    f"{1e3 * reset:8.1f}ms {scale * (step + reset / cell['K']):10.3f}{unit}"
                )
            ratio = statistics.median(res[(kind, 168)]["step"]) / statistics.median(res[(kind, 24)]["step"])
            print(f"{'':24s} {kind:7s} step cost 168 h / 24 h: {ratio:.3f}")


if __name__ == "__main__":
    main()
