"""The Policy protocol that every agent implements, the trivial baselines (passive, random), and an
episode runner that totals the ledger."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from vpp_gym import ledger


@runtime_checkable
class Policy(Protocol):
    """Maps an observation (and the last step's ``info``) to an action in the env's action space.

    Batch aware: an observation of shape ``(n_obs,)`` gives an action ``(A,)``; a batch ``(B, n_obs)``
    (a vector env's) gives ``(B, A)``. Planners bound to one env's episode (the oracle, MPC) accept a
    single observation only and say so with a ``ValueError``; run one per env.
    """

    def reset(self) -> None:
        """Forget any per-episode memory."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The action (or batch of actions) for ``obs``."""


def single_observation(obs: np.ndarray, who: str) -> None:
    """Raise a clear error if a policy bound to one env is given a batch."""
    if np.ndim(obs) != 1:
        raise ValueError(
            f"{who} plans one env's episode: expected one observation of shape (n_obs,), got "
            f"shape {np.shape(obs)}; use one policy per env of a vector env"
        )


class PassivePolicy:
    """No flexibility used: no day-ahead position, storage and EVs idle (EVs charge as needed by the
    fleet's own rule), nothing curtailed or shifted, gas off, no offers.

    The evaluation's reference: avoided emissions and the oracle capture are measured against it.
    """

    def __init__(self, env: gym.Env) -> None:
        p = env.unwrapped.params  # type: ignore[attr-defined]
        self._action = np.zeros(len(p.action_names), dtype=np.float32)
        if "gas" in p.action_index:
            self._action[p.action_index["gas"]] = -1.0

    def reset(self) -> None:
        """Nothing to forget."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The passive action (one per row of a batch)."""
        return np.tile(self._action, (len(obs), 1)) if np.ndim(obs) == 2 else self._action.copy()


class RandomPolicy:
    """Uniform random actions from the env's action space (seeded)."""

    def __init__(self, env: gym.Env, seed: int = 0) -> None:
        self._space = env.action_space
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Nothing to forget."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """A uniform draw in ``[low, high]`` (one per row of a batch)."""
        assert isinstance(self._space, gym.spaces.Box), "a vpp-gym action space is a Box"
        low, high = self._space.low, self._space.high
        size = (len(obs), *low.shape) if np.ndim(obs) == 2 else low.shape
        return self._rng.uniform(low, high, size=size).astype(self._space.dtype)


def flatten_info(info: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """A single env's nested ``info`` as flat ``group.item`` keys (numbers only)."""
    out: dict[str, float] = {}
    for k, v in info.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_info(v, key + "."))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def is_summed(key: str) -> bool:
    """Whether a flattened ledger item adds up over an episode: its schema entry is ``summed`` (cash, costs,
    penalties, energy, emissions, violations, profit and reward; :attr:`vpp_gym.ledger.Entry.summed`).

    Rates (prices, powers), scores and the cumulative carbon entries (:data:`CUMULATIVE_KEYS`, already
    running totals) are not; nor is a key the schema does not declare.
    """
    entry = ledger.BY_KEY.get(key)
    return entry is not None and entry.summed


def add_summed(totals: dict[str, float], info: dict[str, Any]) -> None:
    """Add one step's summed ledger items of ``info`` (flattened, :func:`is_summed`) into ``totals``."""
    for key, value in flatten_info(info).items():
        if is_summed(key):
            totals[key] = totals.get(key, 0.0) + value


CUMULATIVE_KEYS = ledger.CUMULATIVE_KEYS
"""Ledger entries that are running totals over the episode so far (their last value is the episode's)."""


def run_episode(
    env: gym.Env, policy: Policy, seed: int | None = None, options: dict[str, Any] | None = None
) -> dict[str, float]:
    """Run one episode; return the totals of the summed ledger items and ``steps``."""
    obs, info = env.reset(seed=seed, options=options)
    policy.reset()
    totals: dict[str, float] = {}
    steps = 0
    done = False
    while not done:
        obs, _reward, terminated, truncated, info = env.step(policy.act(obs, info))
        add_summed(totals, info)
        steps += 1
        done = terminated or truncated
    totals["steps"] = float(steps)
    return totals
