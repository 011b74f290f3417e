"""Throughput benchmark (``vpp-gym bench``): single env, native vector env, and the generic vectorisers.

Every figure is env-steps per second under uniform random actions drawn up front, measured over
whole episodes including their resets (autoreset), the median of ``repeats`` runs. Printed in one
run, one table per task:

* ``single``: ``gymnasium.make(id)`` with its default wrappers, stepped in a Python loop;
* ``native N``: ``gymnasium.make_vec(id, N, vectorization_mode="vector_entry_point")``;
* ``SyncVectorEnv N`` and SB3 ``DummyVecEnv N`` over single envs, for comparison (SB3 optional);
* memory per env: bytes the vector env allocates per sub-env (``tracemalloc``, after reset and a
  step, at the largest ``N``), and the same for one single env.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import TypeVar

import gymnasium as gym
import numpy as np

from vpp_gym.tasks import TASKS

BATCH_SIZES = (1, 16, 256, 1024, 4096)
COMPARE_N = 16
E = TypeVar("E")


def _dim(space: gym.Space) -> int:
    """Length of a flat Box space."""
    assert space.shape is not None
    return int(space.shape[0])


def _action_dim(env_id: str) -> int:
    return _dim(gym.spec(env_id).make().action_space)


def _random_actions(n_actions: int, n_envs: int, action_dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(n_actions, n_envs, action_dim)).astype(np.float32)


def single_env_steps_per_s(env_id: str, steps: int = 20_000, repeats: int = 5, seed: int = 0) -> list[float]:
    """Steps/s of ``gymnasium.make(env_id)`` (default wrappers); one figure per repeat."""
    env = gym.make(env_id)
    actions = _random_actions(steps, 1, _dim(env.action_space), seed)[:, 0]
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


def _vector_rates(
    make: Callable[[], E],
    step: Callable[[E, np.ndarray], object],
    reset: Callable[[E], object],
    n_envs: int,
    action_dim: int,
    steps: int,
    repeats: int,
    seed: int,
) -> list[float]:
    env = make()
    actions = _random_actions(8, n_envs, action_dim, seed)  # cycled: memory independent of the step count
    rates = []
    for _ in range(repeats):
        reset(env)
        t0 = time.perf_counter()
        for k in range(steps):
            step(env, actions[k % 8])
        rates.append(n_envs * steps / (time.perf_counter() - t0))
    return rates


def native_steps_per_s(env_id: str, n_envs: int, steps: int, repeats: int = 3, seed: int = 0) -> list[float]:
    """Env-steps/s of the native vector env with ``n_envs`` sub-envs (next-step autoreset, ledger info)."""
    dim = _action_dim(env_id)
    return _vector_rates(
        lambda: gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point"),
        lambda e, a: e.step(a),
        lambda e: e.reset(seed=seed),
        n_envs,
        dim,
        steps,
        repeats,
        seed,
    )


def sync_steps_per_s(env_id: str, n_envs: int, steps: int, repeats: int = 3, seed: int = 0) -> list[float]:
    """Env-steps/s of Gymnasium's ``SyncVectorEnv`` over ``n_envs`` single envs."""
    dim = _action_dim(env_id)
    return _vector_rates(
        lambda: gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="sync"),
        lambda e, a: e.step(a),
        lambda e: e.reset(seed=seed),
        n_envs,
        dim,
        steps,
        repeats,
        seed,
    )


def dummy_steps_per_s(env_id: str, n_envs: int, steps: int, repeats: int = 3, seed: int = 0) -> list[float] | None:
    """Env-steps/s of SB3's ``DummyVecEnv`` over ``n_envs`` single envs (None without SB3)."""
    try:
        from stable_baselines3.common.vec_env import DummyVecEnv
    except ImportError:
        return None
    dim = _action_dim(env_id)

    def reset(e: DummyVecEnv) -> None:
        e.seed(seed)
        e.reset()

    return _vector_rates(
        lambda: DummyVecEnv([lambda: gym.make(env_id)] * n_envs),
        lambda e, a: e.step(a),
        reset,
        n_envs,
        dim,
        steps,
        repeats,
        seed,
    )


def bytes_per_env(env_id: str, n_envs: int, seed: int = 0) -> tuple[float, float]:
    """``(native, single)``: bytes allocated per sub-env by the native vector env and by one single env.

    Measured with ``tracemalloc`` (NumPy reports its buffers to it) from before construction to after
    a reset and one step; the scenario's series, cached and shared by every env of a scenario, is
    built before the measurement starts.
    """
    single = gym.make(env_id)  # builds and caches the scenario's series
    dim = _dim(single.action_space)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    env = gym.make(env_id)
    env.reset(seed=seed)
    env.step(np.zeros(dim, dtype=np.float32))
    one = tracemalloc.get_traced_memory()[0] - base
    del env
    base = tracemalloc.get_traced_memory()[0]
    vec = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point")
    vec.reset(seed=seed)
    vec.step(np.zeros((n_envs, dim), dtype=np.float32))
    native = (tracemalloc.get_traced_memory()[0] - base) / n_envs
    tracemalloc.stop()
    del vec
    return native, float(one)


def run(
    env_ids: Sequence[str] | None = None,
    steps: int = 20_000,
    repeats: int = 5,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    episodes: int = 3,
) -> dict[str, dict[str, float]]:
    """Print the benchmark tables and return ``{env_id: {column: median env-steps/s}}``.

    Args:
        env_ids: tasks (default: every registered task).
        steps: steps of each single-env repeat.
        repeats: repeats of the single-env figure (vector figures: 3 repeats).
        batch_sizes: ``N`` of the native vector env.
        episodes: episodes per vector-env repeat (every sub-env runs them, resets included).
    """
    out: dict[str, dict[str, float]] = {}
    for env_id in env_ids or list(TASKS):
        T = gym.make(env_id).unwrapped.params.episode_steps  # type: ignore[attr-defined]
        vsteps = episodes * (T + 1)  # next-step autoreset: one reset step per episode
        rows: list[tuple[str, list[float] | None]] = [
            ("single env (gym.make)", single_env_steps_per_s(env_id, steps, repeats))
        ]
        for n in batch_sizes:
            rows.append((f"native vector env, N={n}", native_steps_per_s(env_id, n, vsteps)))
        rows.append((f"SyncVectorEnv, N={COMPARE_N}", sync_steps_per_s(env_id, COMPARE_N, vsteps)))
        rows.append((f"SB3 DummyVecEnv, N={COMPARE_N}", dummy_steps_per_s(env_id, COMPARE_N, vsteps)))
        native_b, single_b = bytes_per_env(env_id, max(batch_sizes))
        print(f"\n{env_id}  (env-steps/s: median, min, max; vector envs {episodes} episodes x 3 repeats)", flush=True)
        print(f"  {'':<30}{'median':>12}{'min':>12}{'max':>12}")
        out[env_id] = {}
        for label, rates in rows:
            if rates is None:
                print(f"  {label:<30}{'(stable-baselines3 not installed)':>36}")
                continue
            out[env_id][label] = statistics.median(rates)
            print(
                f"  {label:<30}{statistics.median(rates):>12,.0f}{min(rates):>12,.0f}{max(rates):>12,.0f}", flush=True
            )
        print(
            f"  memory per env: native vector env {native_b / 1024:,.1f} KiB (N={max(batch_sizes)}), "
            f"single env {single_b / 1024:,.1f} KiB"
        )
        out[env_id]["bytes_per_env_native"] = native_b
        out[env_id]["bytes_per_env_single"] = single_b
    return out
