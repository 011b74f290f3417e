"""Stable-Baselines3 adapter: the native vector env as an SB3 ``VecEnv`` (needs the ``rl`` extra).

``make_sb3_vec_env("vpp_gym/Arbitrage-v1", n_envs=64, split="train")`` steps all ``n_envs`` episodes
in one batched call, where SB3's ``DummyVecEnv`` steps ``n_envs`` single envs one after another.
Semantics are SB3's: ``reset()`` returns only observations, a finished episode is reset in the same
step and its last observation is in ``infos[i]["terminal_observation"]``; rewards are float32. For
the same seeds the trajectories are those of ``DummyVecEnv`` over single envs (``seed(s)`` gives
sub-env ``i`` the seed ``s + i``, as SB3 does).

Each finished episode's info also carries ``"episode_totals"``: the episode's summed ledger
(profit, cash by market, costs, penalties, emissions; :data:`vpp_gym.vector.TOTAL_KEYS`), which
training callbacks log.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from vpp_gym.config import ScenarioConfig
from vpp_gym.vector import VppVectorEnv


class VppSb3VecEnv(VecEnv):
    """An SB3 ``VecEnv`` over a :class:`~vpp_gym.vector.VppVectorEnv` (built in ``SAME_STEP`` autoreset mode).

    Arguments:
        venv: the native vector env; it must use ``AutoresetMode.SAME_STEP`` (see :func:`make_sb3_vec_env`).
    """

    def __init__(self, venv: VppVectorEnv) -> None:
        if venv.autoreset_mode is not AutoresetMode.SAME_STEP:
            raise ValueError(
                "VppSb3VecEnv needs a vector env with autoreset_mode=SAME_STEP (SB3 resets finished "
                "episodes within the step); build it with make_sb3_vec_env()"
            )
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Reset every sub-env with the seeds of :meth:`seed` and the options of :meth:`set_options` (used once)."""
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, info = self.venv.reset(seed=seeds, options=self._merged_options())
        self.reset_infos = [
            {"day_index": int(info["day_index"][i]), "split": info["split"][i]} for i in range(self.num_envs)
        ]
        self._reset_seeds()
        self._reset_options()
        return obs

    def _merged_options(self) -> dict[str, Any] | None:
        """SB3 keeps options per sub-env; the vector env takes one split for all and a day per sub-env."""
        opts = self._options
        if not any(opts):
            return None
        unknown = {k for o in opts for k in o} - {"split", "day"}
        if unknown:
            raise ValueError(f"set_options: unknown key {sorted(unknown)[0]!r}; valid keys are split, day")
        splits = {o.get("split") for o in opts}
        if len(splits) > 1:
            raise ValueError(f"set_options: every sub-env must use the same split, got {sorted(map(str, splits))}")
        merged: dict[str, Any] = {}
        split = splits.pop()
        if split is not None:
            merged["split"] = split
        if any("day" in o for o in opts):
            merged["day"] = [o.get("day") for o in opts]
        return merged

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions of the next :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every sub-env; finished episodes are reset within the step (SB3 semantics)."""
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async()")
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            final_obs = info["final_obs"]
            totals = info["final_info"].get("episode_totals")
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = final_obs[i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                if totals is not None:
                    infos[i]["episode_totals"] = {k: float(v[i]) for k, v in totals.items() if not k.startswith("_")}
        return obs, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        """Close the vector env."""
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """An attribute of the (identical) sub-envs, from the vector env or its prototype single env."""
        value = getattr(self.venv, attr_name) if hasattr(self.venv, attr_name) else getattr(self.venv._proto, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Not supported: the sub-envs share one set of parameters."""
        raise NotImplementedError(
            f"set_attr({attr_name!r}): the native vector env's sub-envs share their parameters; "
            "build a new env with the changed config instead"
        )

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Not supported: there are no per-sub-env objects to call."""
        raise NotImplementedError(
            f"env_method({method_name!r}): the native vector env has no per-sub-env objects; "
            "use DummyVecEnv over single envs for that"
        )

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """Always False: the sub-envs are rows of one batched env, never wrapped."""
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No rendering."""
        return [None for _ in range(self.num_envs)]


def make_sb3_vec_env(
    env_id: str,
    n_envs: int,
    config: str | Path | dict[str, Any] | ScenarioConfig | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    split: str = "train",
    seed: int | None = None,
    **sections: Any,
) -> VppSb3VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` episodes of a registered task, stepped natively in one batch.

    Args:
        env_id: a registered vpp-gym id, e.g. ``"vpp_gym/Arbitrage-v1"``.
        n_envs: number of sub-envs.
        config, overrides, **sections: the scenario, as for ``gymnasium.make``.
        split: the split episodes are drawn from.
        seed: if given, the first ``reset()`` seeds sub-env ``i`` with ``seed + i``.
    """
    spec = gym.spec(env_id)
    if not isinstance(spec.vector_entry_point, str) or not spec.vector_entry_point.startswith("vpp_gym."):
        raise ValueError(f"{env_id!r} is not a vpp-gym task with a native vector env")
    venv = gym.make_vec(
        env_id,
        num_envs=n_envs,
        vectorization_mode="vector_entry_point",
        config=config,
        overrides=overrides,
        split=split,
        autoreset_mode=AutoresetMode.SAME_STEP,
        ledger_info=False,
        episode_totals=True,
        **sections,
    )
    env = VppSb3VecEnv(cast(Any, venv.unwrapped))  # typed differently across Gymnasium versions
    if seed is not None:
        env.seed(seed)
    return env
