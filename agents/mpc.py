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

**The day-ahead timeline** (``markets.energy.timeline: day_ahead``, :mod:`vpp_gym.core.timeline`). The
plan covers the remaining intervals (to the episode's end, or ``horizon_steps`` but at least through
the last day awarded or being bid), from the current state; what is awarded (the day-ahead schedule
and its cleared prices, the intraday adjustments traded, the capacity awards and their prices: the
state's rings, :attr:`vpp_gym.env.VppEnv.state`) is fixed, the rest is decided
(:func:`agents.oracle.solve` on the day-ahead timeline). It re-plans

* at the first bid step of each bid block (the D-1 gate of day ``D``), on **the gate's information
  only**: every interval not realised yet is forecast seasonal-naively, as the bid steps' observed
  forecasts are made (:func:`vpp_gym.core.timeline.gate_sources`): the value of the same interval on
  the latest day known at the gate (realised before the gate; for the day-ahead price, published by
  it: the whole of ``D - 1``), for every column (also those the observation does not carry: the
  intraday price, EV data, reserve calls). Nothing realised at or after the gate is read
  (``tests/agents/test_mpc_day_ahead.py`` checks it by perturbing those rows). The plan's day-ahead
  schedule of ``D`` is bid as flat curves, its capacity awards offered (priced at 0), at every bid step
  of the block. Demand-response events are not forecast but announced (:mod:`vpp_gym.core.announcement`):
  the events of the days announced by the step (need, price and, with ``baseline: similar_days``, the
  baseline) are read exactly, those of later days are taken to be none (:meth:`MpcPolicy.announced_events`;
  at every re-plan, at bid and dispatch steps);
* at dispatch steps, every ``replan_every`` of them: the awarded intervals are forecast with the
  scenario's error model as on the hour-ahead timeline (the realisation plus an error growing with the
  lead, the statistics of the observation's nowcasts; the intraday price, which the model takes as
  exact, gets the real-time price's error), the intervals not awarded yet seasonal-naively from what
  is realised now. It plays the setpoints and, at an intraday gate, orders the planned adjustments
  (re-balancing the schedule on the newer forecasts).

The energy stored at the episode's end is valued at the last day's mean day-ahead price: its
published prices once awarded, else their seasonal-naive forecast.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents.base import single_observation
from agents.oracle import Plan, check_scope, solve
from agents.oracle.day_ahead import bid_step_of
from vpp_gym.core import I_DA, I_DR_NEED, I_DR_P, CoreParams, announcement, episode_rows, forecast_errors
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
        lookahead_steps: day-ahead timeline only: at a dispatch step, only the first ``lookahead_steps``
            intervals get the error model's forecasts; the later awarded intervals are forecast
            seasonal-naively from now, as the intervals not awarded yet are (their day-ahead prices,
            published, stay exact). None (default): every awarded interval, to the day's end. With the
            observation's horizon (``observation.horizon``, 8 intervals on the v1 tasks) MPC's forecasts of
            the realised values reach no further than an agent's observation does: a diagnostic of how
            much of MPC's profit comes from looking further ahead than the agent can.
        observed_forecasts: plan on the forecasts of the observation it is given (leads ``0 .. H - 1`` of
            every column the observation carries, in their units) instead of its own draws of the error
            model; the columns the observation does not carry, and leads beyond ``H``, keep its own.
            With ``lookahead_steps = H`` its dispatch then acts on the agent's information only: a teacher
            whose actions a policy of the observation can reproduce (registered as ``mpc_obs``).
    """

    def __init__(
        self,
        env: gym.Env,
        replan_every: int = 1,
        horizon_steps: int | None = None,
        seed: int = 0,
        time_limit_s: float = 60.0,
        exact: bool = False,
        lookahead_steps: int | None = None,
        observed_forecasts: bool = False,
    ) -> None:
        if replan_every < 1:
            raise ValueError(f"replan_every: got {replan_every}, expected an integer >= 1")
        if horizon_steps is not None and horizon_steps < 1:
            raise ValueError(f"horizon_steps: got {horizon_steps}, expected an integer >= 1 or None")
        self._env = single_vpp_env(env)
        p = self._env.params
        if lookahead_steps is not None and (lookahead_steps < 1 or not p.day_ahead):
            raise ValueError(
                f"lookahead_steps: got {lookahead_steps}; expected an integer >= 1 on the day-ahead timeline "
                "(on the hour-ahead timeline use horizon_steps)"
            )
        self.lookahead_steps = lookahead_steps
        self.observed_forecasts = observed_forecasts
        self._obs: np.ndarray | None = None  # the observation of the current step (observed_forecasts)
        self._obs_rows: list[tuple[int, list[int], float]] = []  # (column, rows of leads 0.., scale)
        if observed_forecasts:
            names = {n: i for i, n in enumerate(self._env.observation_names)}
            for k, col in enumerate(ALL_NAMES):
                rows = [names[f"{col}[t+{h}]"] for h in range(p.horizon) if f"{col}[t+{h}]" in names]
                if rows:
                    self._obs_rows.append((k, rows, p.obs_scale(col)))
        check_scope(p, knows_stacks=False, knows_dr_baseline=p.day_ahead)  # the baseline: announced at D-1
        self.replan_every = replan_every
        self.exact = exact
        self.horizon_steps = horizon_steps
        self._seed = seed
        self._time_limit = time_limit_s
        self._errors = forecast_errors(self._env.params)
        if self._env.params.day_ahead:  # the intraday price (exact in the model): the real-time price's error
            self._errors["price_id_per_mwh"] = self._errors["price_rt_per_mwh"]
        self._rng = np.random.default_rng(seed)
        self._plan: Plan | None = None
        self._k = 0
        self.solves = 0
        self.note_plan = False
        """True: a bid step's ``battery`` component (which the env ignores there) is the plan's battery action
        for the interval: the note a demonstration for :mod:`agents.rl.memory` needs. Off by default."""
        self._rows: np.ndarray | None = None  # day-ahead timeline: the episode's rows with history
        self._rows_start = -1
        self._k0 = 0  # day-ahead timeline: the step the plan starts at
        self._t0 = 0  # and its first interval
        self._since = 0  # and the dispatch steps played since

    def reset(self) -> None:
        """Start a new episode (a fresh forecast generator from the seed)."""
        self._rng = np.random.default_rng(self._seed)
        self._plan = None
        self._k = 0
        self._rows = None
        self._rows_start = -1

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
        if self._obs is not None:  # observed_forecasts: the observation's leads replace the own draws
            for k, rows, scale in self._obs_rows:
                m = min(n, len(rows))
                out[:m, k] = self._obs[rows[:m]] * scale
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
        if self.observed_forecasts:
            self._obs = np.asarray(obs, dtype=np.float64)
        if self._env.params.day_ahead:
            return self._act_day_ahead()
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

    # -- the day-ahead timeline -------------------------------------------------------------------------------
    def _act_day_ahead(self) -> np.ndarray:
        """Re-plan at the first bid step of a bid block and every ``replan_every`` dispatch steps; play the plan."""
        u = self._env
        p = u.params
        sch = p.schedule
        state = u.live()[1]
        k, t = int(state.k), int(state.t)
        block = bool(sch.bid[k]) and (k == 0 or not sch.bid[k - 1])
        plan = self._plan
        if (
            plan is None
            or block
            or self._k >= len(plan.actions)
            or (not sch.bid[k] and self._since >= self.replan_every)
        ):
            n = self.plan_length(k, t)
            exo = self.day_ahead_forecast(k, t, n)
            self._plan = plan = solve(
                p,
                exo,
                state,
                self._time_limit,
                agc=self.agc_forecast(t, n),
                exact=self.exact,
                terminal_price=self.terminal_price(k, exo) if t + n == p.episode_steps else None,
            )
            self._k0, self._k, self._since, self._t0 = k, 0, 0, t
            self.solves += 1
        a = plan.actions[k - self._k0]
        if self.note_plan and sch.bid[k] and "battery" in p.action_index:
            a = self._note(a, k)
        self._k = k - self._k0 + 1
        if not sch.bid[k]:
            self._since += 1
        if p.cfg.markets.energy.excess_profit_recovery:
            a = self.physical_orders(a, k, t, state)
        return a.astype(np.float32)

    def _note(self, a: np.ndarray, k: int) -> np.ndarray:
        """``a`` (of bid step ``k``) with its ``battery`` component, which the env ignores at a bid step, set to
        the battery action the plan holds for the interval's dispatch step (:attr:`note_plan`; 0 if the plan
        does not reach it)."""
        p = self._env.params
        sch = p.schedule
        i = int(sch.interval[k])
        dispatch = np.flatnonzero(~sch.bid[: sch.steps] & (sch.interval[: sch.steps] == i))
        plan = self._plan
        assert plan is not None
        out = np.array(a, copy=True)
        j = p.action_index["battery"]
        inside = len(dispatch) and 0 <= int(dispatch[0]) - self._k0 < len(plan.actions)
        out[j] = plan.actions[int(dispatch[0]) - self._k0][j] if inside else 0.0  # no plan for it: no note
        return out

    def physical_orders(self, a: np.ndarray, k: int, t: int, state: Any) -> np.ndarray:
        """``a`` with the energy bid and the intraday orders of step ``k`` set to the planned net injection.

        With the excess-profit recovery (``markets.energy.excess_profit_recovery``) a position away from
        the delivered energy cannot earn over the day-ahead price, but on MPC's forecasts (where the
        real-time and intraday prices forecast the day-ahead one) it costs nothing either, so the plan's
        positions are a tie the solver breaks anywhere in ``[-position_max_mw, position_max_mw]``; settled
        at the realised prices, such a position loses the spread. MPC therefore bids, at a bid step, its
        planned net injection of the interval as a flat curve (``da_low = da_high``, the plan's prices
        kept), and orders at an intraday gate what moves each interval's schedule to its planned net.
        """
        p = self._env.params
        plan, sch, em = self._plan, p.schedule, p.cfg.markets.energy
        assert plan is not None
        net = plan.setpoints["net"]
        out = np.array(a, dtype=float)
        if sch.bid[k]:
            i = int(sch.interval[k]) - self._t0
            if 0 <= i < len(net):
                q = float(np.clip(net[i], -em.position_max_mw, em.position_max_mw)) / em.position_max_mw
                out[p.action_index["da_low"]] = out[p.action_index["da_high"]] = q
            return out
        icfg = em.intraday
        if icfg is None or not p.gate_flags[k]:
            return out
        first = t + icfg.lead_steps
        for j in range(icfg.gate_spacing_steps):
            interval = first + j
            if interval >= p.episode_steps or interval - self._t0 >= len(net):
                break
            slot = interval % sch.ring
            schedule = float(state.da_mw[slot]) + float(state.id_mw[slot])
            want = float(np.clip(net[interval - self._t0] - schedule, -icfg.max_mw, icfg.max_mw))
            out[p.action_index[f"id_mw_{j}"]] = want / icfg.max_mw
        return out

    def plan_length(self, k: int, t: int) -> int:
        """Intervals of a plan at step ``k`` (interval ``t``): to the episode's end, or ``horizon_steps`` but at
        least through the last day awarded or being bid."""
        p = self._env.params
        remaining = p.episode_steps - t
        if self.horizon_steps is None:
            return remaining
        sch = p.schedule
        awarded = np.flatnonzero(bid_step_of(p) < k + (1 if sch.bid[k] else 0))
        end = (int(sch.interval[k]) // sch.day_steps + 1) * sch.day_steps if sch.bid[k] else 0
        end = max(end, int(awarded[-1]) + 1 if len(awarded) else 0)
        return min(remaining, max(self.horizon_steps, end - t))

    def episode_rows(self) -> np.ndarray:
        """The episode's realised rows with the history before it, ``(history + T + H + 1, K)``
        (:func:`vpp_gym.core.episode_rows`); only rows known at a step are read from it."""
        u = self._env
        start = u.live()[0].start
        if self._rows is None or self._rows_start != int(start[0]):
            self._rows = episode_rows(u.params, u.series, start, u.params.history_steps)[0]
            self._rows_start = int(start[0])
        return self._rows

    def day_ahead_forecast(self, k: int, t: int, n: int) -> np.ndarray:
        """The exogenous rows MPC plans intervals ``t .. t + n - 1`` on at step ``k``, ``(n, K)`` (module docstring):
        at a bid step all seasonal-naive from the gate; at a dispatch step the awarded intervals by the error
        model (:meth:`forecast`), the others seasonal-naive from now."""
        p = self._env.params
        sch = p.schedule
        targets = t + np.arange(n)
        awarded = bid_step_of(p)[targets] < k
        day_start = (targets // sch.day_steps) * sch.day_steps
        if sch.bid[k]:  # the gate of the day bid for: g intervals into the day before it
            now = int(sch.interval[k]) // sch.day_steps * sch.day_steps - sch.day_steps + sch.gate_step
        else:
            now = t
        known_da = int(day_start[~awarded][0]) if (~awarded).any() else p.episode_steps
        out = seasonal_naive(p, self.episode_rows(), targets, now, known_da)
        if not sch.bid[k] and awarded.any():
            m = int(np.flatnonzero(awarded)[-1]) + 1  # the awarded intervals come first
            if self.lookahead_steps is not None:  # the later ones stay seasonal-naive from now
                m = min(m, self.lookahead_steps)
            out[:m] = self.forecast(t, m)
        return self.announced_events(k, targets, out)

    def announced_events(self, k: int, targets: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` with the demand-response events of the intervals ``targets`` as announced by step ``k``
        (:mod:`vpp_gym.core.announcement`): need and price exact where announced, 0 (no event) where not; with
        ``baseline: similar_days`` the announced baseline appended as the oracle's last column
        (:data:`agents.oracle.demand_response.DR_BASELINE_COLUMN`; 0 where not announced, where it is not read)."""
        u = self._env
        p = u.params
        if not announcement.active(p):
            return out
        known = announcement.announced(p, announcement.info_times(p)[k], targets)
        rows = self.episode_rows()[p.history_steps + targets]
        for col in (I_DR_NEED, I_DR_P):
            out[:, col] = np.where(known, rows[:, col], 0.0)
        if not announcement.with_baseline(p):
            return out
        baseline = u.live()[0].dr_baseline_mw
        assert baseline is not None
        return np.column_stack([out, np.where(known, baseline[0, np.minimum(targets, p.episode_steps - 1)], 0.0)])

    def terminal_price(self, k: int, exo: np.ndarray) -> float:
        """MPC's estimate of the terminal price: the last day's mean day-ahead price, published (in the state's
        rings) once awarded, else its forecast in ``exo`` (the plan's rows up to the episode's end)."""
        u = self._env
        p = u.params
        sch = p.schedule
        last = np.arange(p.episode_steps - sch.day_steps, p.episode_steps)
        if bid_step_of(p)[last[0]] < k:
            return float(np.mean(np.asarray(u.live()[1].da_price)[last % sch.ring]))
        return float(np.mean(exo[-sch.day_steps :, I_DA]))


def seasonal_naive(p: CoreParams, rows: np.ndarray, targets: np.ndarray, known: int, known_da: int) -> np.ndarray:
    """The seasonal-naive forecast of every column for the intervals ``targets``, ``(len(targets), K)``.

    The value of the same interval ``m`` days earlier, with the smallest ``m >= 1`` whose value is known:
    realised before interval ``known`` (episode index; negative: before the episode), or, for the
    day-ahead price, published before ``known_da`` (the rule of :func:`vpp_gym.core.timeline.gate_sources`;
    before the data's first row, its first row). ``rows`` are the episode's rows with the history before it
    (:meth:`MpcPolicy.episode_rows`).
    """
    n, off = p.schedule.day_steps, p.history_steps

    def source(limit: int) -> np.ndarray:
        m = np.maximum(1, -(-(targets - limit + 1) // n))
        return np.maximum(off + targets - m * n, 0)

    out = np.array(rows[source(known)], dtype=float)
    out[:, I_DA] = rows[source(known_da), I_DA]
    return out
