"""Throughput benchmark (``vpp-gym bench``): single env, native vector env, and the generic vectorisers.

Every figure is env-steps per second under uniform random actions drawn up front, measured over
whole episodes including their resets (autoreset), the median of ``repeats`` runs. Printed in one
run, one table per task:

* ``single``: ``gymnasium.make(id)`` with its default wrappers, stepped in a Python loop;
* ``native N``: ``gymnasium.make_vec(id, N, vectorization_mode="vector_entry_point")``;
* ``SyncVectorEnv N`` and SB3 ``DummyVecEnv N`` over single envs, for comparison (SB3 optional);
* memory per env: bytes the vector env allocates per sub-env (``tracemalloc``, after reset and a
  step, at the largest ``N``), and the same for one single env;
* the market game (issue #17): agent-steps/s of :class:`vpp_gym.multi.MultiVppEnv` with ``N`` agents
  (``--agents``, default 10) sharing the game's default config (``markets/autonomous.yaml``: they
  advance as rows of the batched core), beside the single env's steps/s with that same config (its
  competitor stacks make a step dearer than the task's default price-taker step), and their ratio.
  Needs the ``multi`` extra (PettingZoo); without it the table says so.

Every measure takes scenario ``overrides`` (dotted keys, as ``gymnasium.make(id, overrides=...)``),
e.g. ``{"markets.energy.timeline": "day_ahead"}`` (``vpp-gym bench --timeline day_ahead``, or
``--override KEY=VALUE``). On the day-ahead timeline an episode has bid steps besides its dispatch
steps; both are env-steps here (a figure in intervals per second is the env-step figure times
``T / K``, the dispatch steps per episode over all its steps).
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import yaml

from vpp_gym.tasks import TASKS
from vpp_gym.validation import ConfigError, load_yaml, yaml_error_message

BATCH_SIZES = (1, 16, 256, 1024, 4096)
COMPARE_N = 16
E = TypeVar("E")


Overrides = Mapping[str, Any] | None
"""Scenario overrides of a measure (dotted keys); None or empty = the task's defaults."""


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["markets.energy.timeline=day_ahead", "time.episode_hours=168"]`` -> dotted overrides, values read as YAML.

    A ``ConfigError`` for an item without ``=`` or a value that is not YAML; the keys and values
    themselves are checked when a scenario is built (:func:`check_overrides`).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. markets.energy.timeline=day_ahead")
        try:
            out[key.strip()] = load_yaml(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: the value is not valid YAML: {yaml_error_message(err)}") from None
    return out


def _kwargs(overrides: Overrides) -> dict[str, Any]:
    """The keyword arguments of ``gymnasium.make`` for ``overrides`` (none for the task's defaults)."""
    return {"overrides": dict(overrides)} if overrides else {}


def _make(env_id: str, overrides: Overrides = None, config: Any = None) -> gym.Env:
    return (
        gym.make(env_id, **_kwargs(overrides))
        if config is None
        else gym.make(env_id, config=config, **_kwargs(overrides))
    )


def check_overrides(env_ids: Sequence[str], overrides: Overrides) -> None:
    """Build each task's scenario with ``overrides`` once: a ``ConfigError`` for a bad key or value, before
    anything is measured."""
    if overrides:
        for env_id in env_ids:
            gym.spec(env_id).make(**_kwargs(overrides)).close()


def episode_steps(env_id: str, overrides: Overrides = None) -> int:
    """Steps of one episode ``K`` (on the day-ahead timeline the bid steps included)."""
    env = gym.spec(env_id).make(**_kwargs(overrides))
    steps = int(env.unwrapped.params.steps)  # type: ignore[attr-defined]
    env.close()
    return steps


def _dim(space: gym.Space) -> int:
    """Length of a flat Box space."""
    assert space.shape is not None
    return int(space.shape[0])


def _action_dim(env_id: str, overrides: Overrides = None) -> int:
    return _dim(gym.spec(env_id).make(**_kwargs(overrides)).action_space)


def _random_actions(n_actions: int, n_envs: int, action_dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=(n_actions, n_envs, action_dim)).astype(np.float32)


def single_env_steps_per_s(
    env_id: str, steps: int = 20_000, repeats: int = 5, seed: int = 0, overrides: Overrides = None, config: Any = None
) -> list[float]:
    """Steps/s of ``gymnasium.make(env_id)`` (default wrappers; ``config`` a scenario config, default the
    task's); one figure per repeat."""
    env = _make(env_id, overrides, config)
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


GAME_AGENTS = 10
"""Agents of the market game in ``vpp-gym bench`` (``--agents``)."""


def game_steps_per_s(
    env_id: str,
    n_agents: int = GAME_AGENTS,
    episodes: int = 3,
    repeats: int = 3,
    seed: int = 0,
    overrides: Overrides = None,
) -> list[float] | None:
    """Agent-steps/s of the market game (:class:`vpp_gym.multi.MultiVppEnv`, ``n_agents`` agents sharing its
    default config, uniform random actions drawn up front) over ``episodes`` whole episodes per repeat,
    resets included; None without PettingZoo (the ``multi`` extra)."""
    try:
        from vpp_gym.multi import MultiVppEnv
    except ImportError:
        return None
    game = MultiVppEnv(task=env_id, n_agents=n_agents, overrides=dict(overrides) if overrides else None)
    agents = list(game.possible_agents)
    K = game.envs[0].params.steps
    actions = _random_actions(episodes * K, n_agents, _dim(game.action_space(agents[0])), seed)
    rates = []
    for r in range(repeats + 1):  # the first repeat warms up
        game.reset(seed=seed)
        t0 = time.perf_counter()
        for a in actions:
            if not game.agents:
                game.reset()
            game.step({agent: a[i] for i, agent in enumerate(agents)})
        if r:
            rates.append(n_agents * len(actions) / (time.perf_counter() - t0))
    game.close()
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


def native_steps_per_s(
    env_id: str, n_envs: int, steps: int, repeats: int = 3, seed: int = 0, overrides: Overrides = None
) -> list[float]:
    """Env-steps/s of the native vector env with ``n_envs`` sub-envs (next-step autoreset, ledger info)."""
    dim = _action_dim(env_id, overrides)
    return _vector_rates(
        lambda: gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **_kwargs(overrides)),
        lambda e, a: e.step(a),
        lambda e: e.reset(seed=seed),
        n_envs,
        dim,
        steps,
        repeats,
        seed,
    )


def sync_steps_per_s(
    env_id: str, n_envs: int, steps: int, repeats: int = 3, seed: int = 0, overrides: Overrides = None
) -> list[float]:
    """Env-steps/s of Gymnasium's ``SyncVectorEnv`` over ``n_envs`` single envs."""
    dim = _action_dim(env_id, overrides)
    return _vector_rates(
        lambda: gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="sync", **_kwargs(overrides)),
        lambda e, a: e.step(a),
        lambda e: e.reset(seed=seed),
        n_envs,
        dim,
        steps,
        repeats,
        seed,
    )


def dummy_steps_per_s(
    env_id: str, n_envs: int, steps: int, repeats: int = 3, seed: int = 0, overrides: Overrides = None
) -> list[float] | None:
    """Env-steps/s of SB3's ``DummyVecEnv`` over ``n_envs`` single envs (None without SB3)."""
    try:
        from stable_baselines3.common.vec_env import DummyVecEnv
    except ImportError:
        return None
    dim = _action_dim(env_id, overrides)

    def reset(e: DummyVecEnv) -> None:
        e.seed(seed)
        e.reset()

    return _vector_rates(
        lambda: DummyVecEnv([lambda: _make(env_id, overrides)] * n_envs),
        lambda e, a: e.step(a),
        reset,
        n_envs,
        dim,
        steps,
        repeats,
        seed,
    )


def bytes_per_env(env_id: str, n_envs: int, seed: int = 0, overrides: Overrides = None) -> tuple[float, float]:
    """``(native, single)``: bytes allocated per sub-env by the native vector env and by one single env.

    Measured with ``tracemalloc`` (NumPy reports its buffers to it) from before construction to after
    a reset and one step; the scenario's series, cached and shared by every env of a scenario, is
    built before the measurement starts.
    """
    single = _make(env_id, overrides)  # builds and caches the scenario's series
    dim = _dim(single.action_space)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    env = _make(env_id, overrides)
    env.reset(seed=seed)
    env.step(np.zeros(dim, dtype=np.float32))
    one = tracemalloc.get_traced_memory()[0] - base
    del env
    base = tracemalloc.get_traced_memory()[0]
    vec = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **_kwargs(overrides))
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
    overrides: Overrides = None,
    n_agents: int = GAME_AGENTS,
) -> dict[str, dict[str, float]]:
    """Print the benchmark tables and return ``{env_id: {column: median env-steps/s}}``.

    Args:
        env_ids: tasks (default: every registered task).
        steps: steps of each single-env repeat.
        repeats: repeats of the single-env figure (vector figures: 3 repeats).
        batch_sizes: ``N`` of the native vector env.
        episodes: episodes per vector-env repeat (every sub-env runs them, resets included).
        overrides: scenario overrides of every task (dotted keys), e.g.
            ``{"markets.energy.timeline": "day_ahead"}``; checked before anything is measured.
        n_agents: agents of the market game (0: no game table; a task the game does not take, one on
            the hour-ahead timeline, says why in its table).
    """
    env_ids = list(env_ids or TASKS)
    check_overrides(env_ids, overrides)
    if overrides:
        print("overrides: " + ", ".join(f"{k}={v!r}" for k, v in overrides.items()), flush=True)
    out: dict[str, dict[str, float]] = {}
    for env_id in env_ids:
        K = episode_steps(env_id, overrides)
        vsteps = episodes * (K + 1)  # next-step autoreset: one reset step per episode
        rows: list[tuple[str, list[float] | None]] = [
            ("single env (gym.make)", single_env_steps_per_s(env_id, steps, repeats, overrides=overrides))
        ]
        for n in batch_sizes:
            rows.append((f"native vector env, N={n}", native_steps_per_s(env_id, n, vsteps, overrides=overrides)))
        rows.append((f"SyncVectorEnv, N={COMPARE_N}", sync_steps_per_s(env_id, COMPARE_N, vsteps, overrides=overrides)))
        rows.append(
            (f"SB3 DummyVecEnv, N={COMPARE_N}", dummy_steps_per_s(env_id, COMPARE_N, vsteps, overrides=overrides))
        )
        native_b, single_b = bytes_per_env(env_id, max(batch_sizes), overrides=overrides)
        print(
            f"\n{env_id}  (env-steps/s: median, min, max; vector envs {episodes} episodes of {K} steps x 3 repeats)",
            flush=True,
        )
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
        if n_agents:
            out[env_id].update(_game_table(env_id, n_agents, steps, repeats, episodes, overrides))
    return out


def _game_table(
    env_id: str, n_agents: int, steps: int, repeats: int, episodes: int, overrides: Overrides
) -> dict[str, float]:
    """Print the market game's table of ``env_id``; its medians by label."""
    try:
        from vpp_gym.multi import DEFAULT_CONFIG
    except ImportError:
        print("  market game: (PettingZoo not installed: pip install 'vpp-gym[multi]')")
        return {}
    from vpp_gym.config import packaged_config

    try:
        game = game_steps_per_s(env_id, n_agents, episodes, 3, overrides=overrides)
    except ConfigError as err:
        print(f"  market game: not measured ({err})")
        return {}
    assert game is not None
    single = single_env_steps_per_s(env_id, steps, repeats, overrides=overrides, config=packaged_config(DEFAULT_CONFIG))
    print(f"  market game ({DEFAULT_CONFIG} preset; env-steps/s, agent-steps/s for the game)")
    rows = {"single env (same preset)": single, f"MultiVppEnv, {n_agents} agents": game}
    for label, rates in rows.items():
        print(f"  {label:<30}{statistics.median(rates):>12,.0f}{min(rates):>12,.0f}{max(rates):>12,.0f}", flush=True)
    ratio = statistics.median(game) / statistics.median(single)
    print(f"  agent-steps/s of the game over the single env's steps/s: x{ratio:.2f}")
    return {label: statistics.median(rates) for label, rates in rows.items()}
