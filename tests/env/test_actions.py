"""Actions of complex dtype, text, booleans, objects or the wrong shape are refused, not coerced (issue 16.13).

Before, ``np.asarray(action, dtype=np.float64)`` dropped the imaginary part of complex actions, parsed text
and reshaped any array of the right size.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the ids)

ARB = "vpp_gym/Arbitrage-v0"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.zeros(5, dtype=complex), r"action has dtype complex128 .*expected real numbers"),
        (["0.5", "0", "0", "0", "0"], r"action has dtype <U3 .*expected real numbers"),
        (np.zeros(5, dtype=bool), r"action has dtype bool"),
        (np.array([0.1, None, 0, 0, 0], dtype=object), r"action has dtype object"),
        (np.zeros((1, 5)), r"action has shape \(1, 5\); expected \(5,\)"),
        (np.zeros((5, 1)), r"action has shape \(5, 1\); expected \(5,\)"),
    ],
)
def test_actions_of_the_wrong_kind_or_shape_are_refused(action: object, message: str) -> None:
    env = gym.make(ARB).unwrapped  # no wrapper in between: what the env itself accepts
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)
    env.step([0, 0.5, 0, 0, 0])  # a list of numbers is fine, and integers too
    env.step(np.array([0, 1, 0, 0, 0]))


def test_vector_env_refuses_actions_of_the_wrong_kind() -> None:
    venv = gym.make_vec(ARB, num_envs=2, vectorization_mode="vector_entry_point")
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions has dtype complex128"):
        venv.step(np.zeros((2, 5), dtype=complex))
    with pytest.raises(ValueError, match=r"actions have shape \(10,\)"):
        venv.step(np.zeros(10))
