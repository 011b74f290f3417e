"""An agent-side action parametrisation: a dead zone on the battery's setpoint (``agent.battery_dead_zone``).

A planner's battery dispatch is sparse and bang-bang: on Arbitrage-v1's train days MPC's battery action at
the dispatch steps is exactly 0 in 70 % of them and at a bound in 11 %
(``experiments/results/rl_attempts/v1/README.md``). A Gaussian policy fitted by squared error predicts the
conditional mean of such a target and blurs it: small setpoints where the teacher idles, hedged ones where
it goes all out. With a dead zone of width ``d`` the policy's battery component ``u`` in ``[-1, 1]`` reaches
the env as

    battery = sign(u) * max(|u| - d, 0) / (1 - d)

so a whole interval ``[-d, d]`` of ``u`` is exactly idle, and ``|u| = 1`` (where SB3 clips the Gaussian's
samples) is exactly full power: the policy puts probability mass on idle and on the bounds, as a mixture
would, while PPO keeps its Gaussian over ``u``. The cloning (:func:`agents.rl.pretrain.behaviour_clone`)
fits the teacher's idle steps as the interval (only ``max(|mean| - d, 0)`` is an error) and its other
battery actions at their preimage ``sign(b) * (d + |b| (1 - d))``.

Agent-side only: the env, its spaces and its reward are unchanged; the map is applied between the policy
and the env in training (:func:`dead_zone_vec_env`), in the trainer's validation, to DAgger's student
and in :class:`agents.rl.policy.RlPolicy` (which reads it from the unit's manifest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from vpp_gym.validation import ConfigError

COMPONENT = "battery"
"""The action component the dead zone applies to."""


@dataclass(frozen=True)
class DeadZone:
    """The battery dead zone: ``width`` in ``(0, 1)`` on action component ``index`` (:mod:`agents.rl.actions`)."""

    index: int
    width: float

    def __post_init__(self) -> None:
        if not 0.0 < self.width < 1.0 or self.index < 0:
            raise ConfigError(f"agent.battery_dead_zone: got {self.width}; expected a width in (0, 1) (0: off)")

    @classmethod
    def from_env(cls, env: Any, width: float) -> DeadZone:
        """The dead zone of ``width`` on a vpp-gym env's ``battery`` component (single, vector or wrapped env).

        Raises:
            ConfigError: the env has no battery action.
        """
        from vpp_gym.env import vpp_env

        names = list(vpp_env(env).action_names)
        if COMPONENT not in names:
            task = getattr(getattr(env, "spec", None), "id", None) or "the env"
            raise ConfigError(
                f"agent.battery_dead_zone: {task} has no battery action (components {names}); "
                "set it to 0 or use a task with a battery"
            )
        return cls(names.index(COMPONENT), float(width))

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """The env's actions for the policy's (``(A,)`` or ``(n, A)``, clipped to ``[-1, 1]`` first); a copy."""
        out = np.clip(np.array(actions, dtype=np.float32), -1.0, 1.0)
        u = out[..., self.index]
        mapped = np.clip(np.sign(u) * np.maximum(np.abs(u) - self.width, 0.0) / (1.0 - self.width), -1.0, 1.0)
        # a bound exactly (float32 rounding of the division would miss it for some widths); + 0.0: no -0.0
        out[..., self.index] = np.where(np.abs(u) >= 1.0, np.sign(u), mapped) + 0.0
        return out

    def clone_targets(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The teacher's actions ``(n, A)`` (in the env's units) as cloning targets for the policy's mean.

        Returns ``(targets, idle)``: the targets equal the labels except on the battery component, where a
        nonzero action ``b`` becomes its preimage ``sign(b) * (d + |b| (1 - d))`` (a bound stays a bound),
        and ``idle`` marks the rows whose battery action is exactly 0 (there any mean in ``[-d, d]`` is exact).
        """
        targets = np.clip(np.array(labels, dtype=np.float32), -1.0, 1.0)
        b = targets[:, self.index]
        idle = b == 0.0
        targets[:, self.index] = np.sign(b) * (self.width + np.abs(b) * (1.0 - self.width))
        return targets, idle

    def to_record(self) -> dict[str, Any]:
        """The JSON record kept in a saved unit's manifest."""
        return {"component": COMPONENT, "index": self.index, "width": self.width}

    @classmethod
    def from_record(cls, record: Any, where: str, action_names: Any = None) -> DeadZone:
        """Rebuild from :meth:`to_record` (``where`` names the file in an error). With ``action_names`` (the
        model's action layout, from the manifest's ``spaces``) the record's index must be the battery's.

        Raises:
            ConfigError: the record is not one :meth:`to_record` writes (the file is damaged).
        """
        ok = (
            isinstance(record, dict)
            and set(record) == {"component", "index", "width"}
            and record["component"] == COMPONENT
            and type(record["index"]) is int
            and type(record["width"]) is float
            and 0.0 < record["width"] < 1.0
            and record["index"] >= 0
        )
        if ok and action_names is not None:
            names = list(action_names)
            ok = record["index"] < len(names) and names[record["index"]] == COMPONENT
        if not ok:
            raise ConfigError(
                f"{where}: 'dead_zone' is not a battery dead zone record of this model ({record!r}): "
                "the file is damaged"
            )
        return cls(record["index"], record["width"])


def dead_zone_spec(cfg: Any) -> DeadZone | None:
    """The dead zone of an experiment config's agent (:class:`agents.rl.config.ExperimentConfig`) on its task,
    or None (``agent.battery_dead_zone: 0``, or an algorithm without the option).

    Raises:
        ConfigError: the task has no battery action.
    """
    import gymnasium as gym

    width = float(getattr(cfg.agent, "battery_dead_zone", 0.0))
    if width <= 0.0:
        return None
    env = gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split="train")
    try:
        return DeadZone.from_env(env, width)
    finally:
        env.close()


def dead_zone_vec_env(venv: Any, dz: DeadZone) -> Any:
    """``venv`` (an SB3 ``VecEnv``) with the policy's actions mapped to the env's by ``dz``."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class DeadZoneVecEnv(VecEnvWrapper):
        """Maps each step's actions through the battery dead zone; observations and rewards pass unchanged."""

        def __init__(self, inner: Any) -> None:
            super().__init__(inner)
            self.dead_zone = dz

        def step_async(self, actions: np.ndarray) -> None:
            self.venv.step_async(dz.to_env(actions))

        def step_wait(self) -> Any:
            return self.venv.step_wait()

        def reset(self) -> Any:
            return self.venv.reset()

    return DeadZoneVecEnv(venv)


def find_dead_zone(venv: Any) -> DeadZone | None:
    """The dead zone of a :func:`dead_zone_vec_env` wrapper inside a chain of SB3 vector env wrappers, or None."""
    from agents.rl.memory import find_in_vec_wrappers

    return cast(DeadZone | None, find_in_vec_wrappers(venv, "dead_zone"))


def with_dead_zone(act: Any, dz: DeadZone | None) -> Any:
    """``act`` (observations -> the policy's actions) as a function returning the env's actions (``act`` itself
    without a dead zone)."""
    if dz is None:
        return act

    def mapped(obs: np.ndarray) -> np.ndarray:
        return dz.to_env(act(obs))

    return mapped
