"""Rolling-horizon model-predictive control: the oracle's model re-solved on forecasts.

Every ``replan_every`` steps the policy solves :func:`agents.oracle.solve` from the current state
over the rest of the episode (or ``horizon_steps``), with the exogenous series replaced by forecasts
issued now, and plays the first action(s) of the plan. The forecasts follow the scenario's error
model (:func:`vpp_gym.core.forecast_errors`, :func:`vpp_gym.data.forecast.forecast_windows`): the
value for lead ``h`` is the realisation plus an error of standard deviation ``sigma * g(h)``,
drawn from the policy's own seeded generator. So MPC knows the future exactly as well as the agent's
observation does (the same error statistics, independent draws); with every sigma 0 it sees the
future exactly and reproduces the oracle's profit. The AGC signal is not predictable: MPC plans the
regulation headroom against a fresh draw of the signal model (the realisation when forecasts are
perfect), so its tracking, unlike the oracle's, can fall short and lower its score. The state it
starts from (stored energy, backlog, EV need, gas output, committed positions) is all in the
observation. It reads the episode through the env's documented accessor
(:meth:`vpp_gym.env.VppEnv.live`), never its private attributes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents.base import single_observation
from agents.oracle import Plan, check_scope, solve
from vpp_gym.core import forecast_errors
from vpp_gym.data.forecast import forecast_windows
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.env import single_vpp_env
from vpp_gym.markets.regulation import agc_signal


class MpcPolicy:
    """Rolling-horizon MPC over the oracle's model (see the module docstring).

    Args:
        env: the environment (its params and the episode's realisation, to draw forecasts from).
        replan_every: steps between re-solves (1 = every step).
        horizon_steps: look-ahead of each solve; None = to the end of the episode.
        seed: seed of the forecast errors.
        time_limit_s: time limit of each solve.
        exact: prove the carbon-surplus band of each plan optimal (see :func:`agents.oracle.solve`);
            off by default, for speed.
    """

    def __init__(
        self,
        env: gym.Env,
        replan_every: int = 1,
        horizon_steps: int | None = None,
        seed: int = 0,
        time_limit_s: float = 60.0,
        exact: bool = False,
    ) -> None:
        if replan_every < 1:
            raise ValueError(f"replan_every: got {replan_every}, expected an integer >= 1")
        if horizon_steps is not None and horizon_steps < 1:
            raise ValueError(f"horizon_steps: got {horizon_steps}, expected an integer >= 1 or None")
        self._env = single_vpp_env(env)
        check_scope(self._env.params, knows_stacks=False)
        self.replan_every = replan_every
        self.exact = exact
        self.horizon_steps = horizon_steps
        self._seed = seed
        self._time_limit = time_limit_s
        self._errors = forecast_errors(self._env.params)
        self._rng = np.random.default_rng(seed)
        self._plan: Plan | None = None
        self._k = 0
        self.solves = 0

    def reset(self) -> None:
        """Start a new episode (a fresh forecast generator from the seed)."""
        self._rng = np.random.default_rng(self._seed)
        self._plan = None
        self._k = 0

    def forecast(self, t: int, n: int) -> np.ndarray:
        """Forecasts issued at step ``t`` of the ``n`` intervals from ``t``: ``(n, K)`` in ``ALL_NAMES`` order."""
        u = self._env
        p = u.params
        actual = u.live()[0].exo[0, t : t + n]
        out = np.empty_like(actual)
        for k, col in enumerate(ALL_NAMES):
            sigma, mult = self._errors[col]
            out[:, k] = forecast_windows(
                actual[None, :, k], 1, n, sigma, p.cfg.forecast.growth_cap, self._rng, p.lo[col], p.hi[col], mult
            )[0, 0]
        return out

    def agc_forecast(self, t: int, n: int) -> np.ndarray | None:
        """The AGC signal MPC plans with (regulation open): the realisation if forecasts are perfect,
        otherwise a fresh draw of the signal model (the signal itself is not predictable)."""
        u = self._env
        reg = u.params.cfg.markets.regulation
        agc = u.live()[0].agc
        if reg is None or agc is None:
            return None
        if u.params.cfg.forecast.perfect:
            return agc[0, t : t + n]
        return agc_signal(reg.agc, self._rng, 1, n)[0]

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """Re-solve if due, then the plan's action for this step."""
        single_observation(obs, "MpcPolicy")
        u = self._env
        state = u.live()[1]
        t = int(state.t)
        if self._plan is None or self._k >= self.replan_every or self._k >= len(self._plan.actions):
            remaining = u.params.episode_steps - t
            n = remaining if self.horizon_steps is None else min(self.horizon_steps, remaining)
            self._plan = solve(
                u.params, self.forecast(t, n), state, self._time_limit, agc=self.agc_forecast(t, n), exact=self.exact
            )
            self._k = 0
            self.solves += 1
        a = self._plan.actions[self._k]
        self._k += 1
        return a.astype(np.float32)
