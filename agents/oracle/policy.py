"""The perfect-foresight oracle as a policy: solves the episode once at its first step, then plays the plan."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents.base import single_observation
from agents.oracle.context import Plan
from agents.oracle.demand_response import exo_with_dr_baseline
from agents.oracle.scope import check_scope
from agents.oracle.search import solve
from vpp_gym.env import single_vpp_env


class OraclePolicy:
    """The perfect-foresight oracle as a :class:`~agents.base.Policy`, on either market timeline.

    At the first step of an episode it reads the episode's realised series from the env through its
    documented accessor (:meth:`vpp_gym.env.VppEnv.live`; perfect foresight is the point of this
    baseline), solves once from the state then, and then plays the plan: one action per step (on the
    day-ahead timeline the bid steps' flat curves and offers, then the dispatch steps' setpoints and
    intraday orders).
    """

    def __init__(self, env: gym.Env, time_limit_s: float = 600.0) -> None:
        self._env = single_vpp_env(env)
        check_scope(self._env.params)
        self._time_limit = time_limit_s
        self.plan: Plan | None = None
        self._k = 0

    def reset(self) -> None:
        """Forget the plan (a new one is solved at the episode's first step)."""
        self.plan = None
        self._k = 0

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The planned action of the current step."""
        single_observation(obs, "OraclePolicy")
        if self.plan is None:
            u = self._env
            episode, state = u.live()
            agc = episode.agc[0] if episode.agc is not None else None
            stacks = {name: (mw[0], price[0]) for name, (mw, price) in episode.stacks.items()}
            t0 = int(state.t)
            price = float(episode.terminal_price[0]) if episode.terminal_price is not None else None
            exo = exo_with_dr_baseline(u.params, episode)  # the similar-days DR baseline, if any, as a last column
            self.plan = solve(
                u.params,
                exo[t0:],
                state,
                self._time_limit,
                agc=None if agc is None else agc[t0:],
                stacks={name: (mw[t0:], pr[t0:]) for name, (mw, pr) in stacks.items()},
                terminal_price=price if u.params.day_ahead else None,
            )
            self._k = 0
        a = self.plan.actions[self._k]
        self._k += 1
        return a.astype(np.float32)
