"""Common random numbers for PPO: groups of sub-envs that play the same day, and leave-one-out advantages.

A day's profit varies across days by thousands of CNY (the validation days' standard deviation on
Joint-v1 is about 6,000 CNY), while a better bid or setpoint is worth tens. With GAE, the critic must
predict each day's value from the observation, and what it cannot predict (the prices and forecast
errors still to come) stays in every advantage as noise. ``agent.group_size: G`` removes it on the
agent's side, without touching the env:

* :func:`seed_groups` seeds the ``G`` sub-envs of each group of the native vector env alike. A sub-env
  draws its random numbers (the day, the forecast errors, the AGC signal, the competitor stacks) only
  when it resets (:mod:`vpp_gym.vector`), and the sub-envs reset together, so the members of a group
  play the same days with the same draws for the whole run and differ only by the policy's noise;
* :func:`group_advantages`, after each rollout, sets step ``t``'s advantage of member ``i`` to its
  discounted return-to-go within the episode, less the mean of the same step's return-to-go of the
  other ``G - 1`` members. The baseline does not depend on member ``i``'s actions (the others act on
  their own noise), so the policy gradient stays unbiased, and the shared day cancels out.

The value network is still trained on SB3's returns (GAE), as the clone's value fit left it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.rl.pretrain import returns_to_go as episode_returns
from vpp_gym.validation import ConfigError


def group_seeds(seed: int, n_envs: int, group_size: int) -> list[int]:
    """The sub-envs' seeds: sub-env ``i`` gets ``seed + i // group_size``."""
    return [seed + i // group_size for i in range(n_envs)]


def seed_groups(venv: Any, seed: int, group_size: int) -> None:
    """Seed an SB3 vector env's sub-envs by group (:func:`group_seeds`) for its next ``reset()``.

    ``venv`` may be wrapped (``VecNormalize``, ``VecMonitor``, ...): the seeds go to the vector env inside,
    where ``VecEnv.seed`` would put them (one per sub-env). Call it after any ``seed()`` of the chain,
    which would give every sub-env its own seed again.
    """
    inner = venv.unwrapped  # SB3: the vector env inside every VecEnvWrapper
    inner._seeds = group_seeds(seed, inner.num_envs, group_size)


def returns_to_go(rewards: np.ndarray, starts: np.ndarray, gamma: float) -> np.ndarray:
    """Discounted return-to-go ``(T, N)`` within each episode; ``starts[t, i]`` is 1 where an episode starts at ``t``.

    Raises:
        ConfigError: a rollout that ends inside an episode (``agent.n_steps`` not a multiple of the
            episode length): its return-to-go would be cut off.
    """
    if not np.all(starts[0]):
        raise ConfigError(
            "agent.group_size: a rollout started inside an episode; set agent.n_steps to a multiple of the "
            "episode length (its steps, bid and dispatch) so that every rollout holds whole episodes"
        )
    return episode_returns(rewards.T, gamma, starts.T).T


def leave_one_out(values: np.ndarray, group_size: int) -> np.ndarray:
    """``values`` ``(T, N)`` less, per column, the mean of the other columns of its group (groups of
    ``group_size`` consecutive columns)."""
    T, N = values.shape
    v = values.reshape(T, N // group_size, group_size)
    others = (v.sum(axis=2, keepdims=True) - v) / (group_size - 1)
    return (v - others).reshape(T, N)


def group_advantages(buffer: Any, group_size: int, gamma: float) -> None:
    """Replace an SB3 rollout buffer's advantages by the leave-one-out group advantages (see the module docstring)."""
    g = returns_to_go(np.asarray(buffer.rewards), np.asarray(buffer.episode_starts), gamma)
    buffer.advantages = leave_one_out(g, group_size).astype(buffer.advantages.dtype)
