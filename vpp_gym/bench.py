"""Throughput benchmark: single-env steps per second with random actions, for every registered task."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from vpp_gym.tasks import TASKS


def single_env_steps_per_s(env_id: str, steps: int = 20_000, repeats: int = 5, seed: int = 0) -> list[float]:
    """Steps/s of ``gymnasium.make(env_id)`` (default wrappers) under uniform random actions.

    Actions are drawn up front so that only ``env.step`` (and ``reset`` at episode ends) is timed.
    Returns one figure per repeat.
    """
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1.0, 1.0, size=(steps, env.action_space.shape[0])).astype(np.float32)
    env.reset(seed=seed)
    env.step(actions[0])  # the passive env checker inspects the first step only
    rates = []
    for _ in range(repeats):
        env.reset(seed=seed)
        t0 = time.perf_counter()
        for a in actions:
            _obs, _r, terminated, truncated, _info = env.step(a)
            if terminated or truncated:
                env.reset()
        rates.append(steps / (time.perf_counter() - t0))
    env.close()
    return rates


def run(env_ids: Sequence[str] | None = None, steps: int = 20_000, repeats: int = 5) -> dict[str, float]:
    """Print and return the median single-env steps/s of each task."""
    out = {}
    print(f"{'env id':<28} {'median steps/s':>15} {'min':>10} {'max':>10}  ({repeats} repeats x {steps} steps)")
    for env_id in env_ids or list(TASKS):
        rates = single_env_steps_per_s(env_id, steps, repeats)
        out[env_id] = statistics.median(rates)
        print(f"{env_id:<28} {out[env_id]:>15,.0f} {min(rates):>10,.0f} {max(rates):>10,.0f}", flush=True)
    return out
