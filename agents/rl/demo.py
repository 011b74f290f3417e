"""Demonstrations for SAC: a baseline policy's episodes on the train split, put in the replay buffer.

SAC learns its critic off-policy, so transitions from a good controller are as valid training data as
its own: with ``agent.demo_episodes > 0``, before the first update the replay buffer is filled with
episodes of ``agent.demo_policy`` (made by :func:`agents.registry.make_policy`; rolling-horizon MPC
by default, :class:`agents.mpc.MpcPolicy`) on days of the train split, never the validation or test
split. The critic then sees from the start what a day of good arbitrage is worth, instead of waiting
for the actor to stumble on it. The transitions stay in the buffer (first in, first out) like any
other; the observation normaliser (and the return normaliser, with ``normalize.reward``) is updated
with them as with the agent's own steps.

The teacher acts on its own forecasts (MPC draws them with the same error statistics as the
observation's, from a generator seeded like the episode, so not fully independent of the
observation's errors), so its actions are not a function of the stored observation; that is no
problem for an off-policy critic, which only needs ``(s, a, r, s')`` the env really produced.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import gymnasium as gym
import numpy as np

from agents.base import Policy
from agents.oracle import OracleScopeError
from agents.registry import make_policy
from agents.rl.config import ExperimentConfig, SacConfig
from vpp_gym.validation import ConfigError


def _teacher(
    name: str, env: gym.Env, seed: int, key: str = "agent.demo_policy", off: str = "agent.demo_episodes"
) -> Policy:
    """The demonstrating policy ``name`` of the registry (MPC's forecast errors seeded ``seed``).

    Raises:
        ConfigError: naming ``key`` (the config key that chose it) if it cannot play the scenario.
    """
    seat_policy = getattr(env.unwrapped, "seat_policy", None)  # a seat of the market game (agents.game)
    if seat_policy is not None:
        return seat_policy(name, seed, key)
    try:
        return make_policy(name, env, seed=seed)
    except OracleScopeError as err:
        raise ConfigError(
            f"{key}: {name} cannot play this scenario ({err}); pick another one or set {off}: 0"
        ) from None


def check_demonstrations(cfg: ExperimentConfig) -> None:
    """The checks of the demonstrations that need no model: buffer size and the teacher's scope.

    Run before a run folder is created (:func:`agents.rl.train.preflight`).

    Raises:
        ConfigError: naming ``agent.demo_episodes`` or ``agent.demo_policy``.
    """
    a = cfg.agent
    assert isinstance(a, SacConfig)
    env = gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split="train")
    try:
        need = a.demo_episodes * env.unwrapped.params.steps  # type: ignore[attr-defined]
        if need > a.buffer_size:
            raise ConfigError(
                f"agent.demo_episodes: {a.demo_episodes} episodes are {need:,} transitions, more than "
                f"agent.buffer_size ({a.buffer_size:,}); lower the first or raise the second"
            )
        _teacher(a.demo_policy, env, 0)
    finally:
        env.close()


def episode_seed(seed: int, k: int) -> int:
    """Seed of demonstration episode ``k`` of a run with experiment seed ``seed`` (env and teacher)."""
    return int(np.random.SeedSequence([seed, 2, k]).generate_state(1)[0])


def demo_days(seed: int, stream: int, episodes: int, n_days: int) -> np.ndarray:
    """The train days of ``episodes`` demonstration episodes: shuffled passes over all ``n_days`` days.

    ``stream`` separates the uses (2: SAC's replay buffer, 3: PPO's behaviour cloning).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    return np.concatenate([rng.permutation(n_days) for _ in range(-(-episodes // n_days))])[:episodes]


def teacher_episodes(
    envs: list[gym.Env],
    policy: str,
    seeds: list[int],
    days: list[int],
    actor: Callable[[np.ndarray], np.ndarray] | None = None,
    notes: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Play one teacher episode per env in lockstep: env ``i`` on train day ``days[i]`` with seed ``seeds[i]``.

    With ``actor`` (observations ``(n, n_obs)`` -> actions ``(n, A)``), the actor plays and the teacher
    is only asked, at every step, what it would do in the state the actor reached (its labels, as in
    DAgger); otherwise the teacher plays. ``notes``: the teacher writes its planned battery action into
    the bid steps' ``battery`` component (its ``note_plan``; the plan memory's demonstrations,
    :mod:`agents.rl.memory`); a teacher without that option is an error.

    Returns ``(obs, actions, rewards, profits)``: observations ``(n, T + 1, n_obs)`` (the last one is
    the terminal observation), the teacher's actions clipped to the action space ``(n, T, A)``, the
    rewards ``(n, T)`` (float32, as a vector env returns them) and the episode profits ``(n,)`` of
    whoever played.

    Raises:
        ConfigError: if the episodes are not all of one length (demonstrations need a fixed length).
    """
    n = len(envs)
    obs_l, teachers, infos_prev = [], [], []
    for env, seed, day in zip(envs, seeds, days, strict=True):
        obs, info = env.reset(seed=seed, options={"day": int(day)})
        teacher = _teacher(policy, env, seed)
        if notes:
            if not hasattr(teacher, "note_plan"):
                raise ConfigError(
                    f"agent.memory: plan needs a teacher that notes its battery plan (rule or mpc), not {policy}"
                )
            cast(Any, teacher).note_plan = True
        teacher.reset()
        obs_l.append(obs)
        teachers.append(teacher)
        infos_prev.append(info)
    low, high = envs[0].action_space.low, envs[0].action_space.high  # type: ignore[attr-defined]
    obs_seq, act_seq, rew_seq = [np.stack(obs_l)], [], []
    profit = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    while not done.all():
        if done.any():
            raise ConfigError(
                f"{envs[0].spec.id if envs[0].spec else 'the env'}: demonstration episodes of different "
                "lengths; demonstrations need a fixed episode length"
            )
        actions = np.stack(
            [np.clip(t.act(o, inf), low, high) for t, o, inf in zip(teachers, obs_seq[-1], infos_prev, strict=True)]
        )
        played = actions if actor is None else np.clip(actor(obs_seq[-1]), low, high)
        steps = [env.step(act) for env, act in zip(envs, played, strict=True)]
        obs_seq.append(np.stack([s[0] for s in steps]))
        act_seq.append(actions)
        rew_seq.append(np.array([s[1] for s in steps], dtype=np.float32))
        done = np.array([s[2] or s[3] for s in steps])
        profit += [float(s[4]["profit"]) for s in steps]
        infos_prev = [s[4] for s in steps]
    return np.stack(obs_seq, axis=1), np.stack(act_seq, axis=1), np.stack(rew_seq, axis=1), profit


def _play(model: Any, venv: Any, cfg: ExperimentConfig, envs: list[gym.Env]) -> tuple[np.ndarray, list[float]]:
    """Play the demonstration episodes into the buffer; returns the days and the episode profits."""
    a = cfg.agent
    assert isinstance(a, SacConfig)
    n = len(envs)
    n_days = len(envs[0].unwrapped.episode_starts["train"])  # type: ignore[attr-defined]
    need = a.demo_episodes * envs[0].unwrapped.params.steps  # type: ignore[attr-defined]
    if need > a.buffer_size:
        raise ConfigError(
            f"agent.demo_episodes: {a.demo_episodes} episodes are {need:,} transitions, more than "
            f"agent.buffer_size ({a.buffer_size:,}); lower the first or raise the second"
        )
    days = demo_days(cfg.seed, 2, a.demo_episodes, n_days)
    low, high = envs[0].action_space.low, envs[0].action_space.high  # type: ignore[attr-defined]
    unit = bool(np.all(low == -1.0) and np.all(high == 1.0))  # every task's space: store as played, bit for bit
    profits: list[float] = []
    for start in range(0, a.demo_episodes, n):
        ks = range(start, start + n)
        obs, actions, rewards, profit = teacher_episodes(
            envs, a.demo_policy, [episode_seed(cfg.seed, k) for k in ks], [int(days[k]) for k in ks]
        )
        returns = np.zeros(n)  # discounted running returns, as VecNormalize keeps them for its reward scale
        T = actions.shape[1]
        for t in range(T):
            done = np.full(n, t == T - 1)
            infos = [{"TimeLimit.truncated": False} for _ in range(n)]
            stored = actions[:, t] if unit else model.policy.scale_action(actions[:, t])  # SB3 stores [-1, 1]
            model.replay_buffer.add(obs[:, t], obs[:, t + 1], stored, rewards[:, t], done, infos)
            if venv.norm_obs:
                venv.obs_rms.update(obs[:, t])
            if venv.norm_reward:
                returns = returns * venv.gamma + rewards[:, t]
                venv.ret_rms.update(returns)
        profits.extend(profit.tolist())
    return days, profits


def fill_replay_buffer(model: Any, venv: Any, cfg: ExperimentConfig) -> dict[str, Any]:
    """Add ``agent.demo_episodes`` teacher episodes (train split) to ``model``'s replay buffer.

    ``venv`` is the training ``VecNormalize``; its observation (and return) statistics are updated
    with the demonstrations. Episodes run ``n_envs`` at a time in lockstep (one per buffer
    column, so SB3's n-step returns stay within an episode); episode ``k`` is on train day
    ``days[k]`` with seed :func:`episode_seed`. Returns what was added: episodes, transitions,
    policy, days, the teacher's mean episode profit and the wall time.
    """
    a = cfg.agent
    assert isinstance(a, SacConfig)
    t0 = time.perf_counter()
    envs = [
        gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split="train") for _ in range(venv.num_envs)
    ]
    steps = envs[0].unwrapped.params.steps  # type: ignore[attr-defined]
    try:
        days, profits = _play(model, venv, cfg, envs)
    finally:
        for env in envs:
            env.close()
    return {
        "episodes": a.demo_episodes,
        "transitions": len(profits) * steps,
        "policy": a.demo_policy,
        "days": [int(d) for d in days],
        "mean_profit": float(np.mean(profits)),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
