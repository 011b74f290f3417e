"""Plan memory: an observation wrapper on the agent's side that shows a policy the notes of its own bid steps.

On the day-ahead timeline (:mod:`vpp_gym.core.timeline`) a policy bids every interval of day ``D`` at
D-1 and dispatches the interval a day later. A planner (the rule policy, MPC) keeps the plan it bid
with and follows it at dispatch; a feed-forward policy sees only the current observation, so at
dispatch it cannot know what battery power its bid assumed, nor, at a bid step, how much energy the
intervals it has bid so far leave in the battery. Issue 18's diagnosis
(``experiments/results/rl_attempts/v1/README.md``) found that this is where the clone of the rule
policy loses: 70 of its 85 CNY a day are in the battery's setpoint.

**The wrapper.** A bid step ignores the ``battery`` component of the action (the env clears only the
offer curve and the capacity offers there). :class:`PlanMemory` keeps, per episode and batch row,
what the policy wrote into that component at the bid step of each interval: its **note**, read as a
battery power (``a x p_discharge_max_mw`` if ``a > 0``, else ``a x p_charge_max_mw``). From the
notes it tracks a planned stored energy interval by interval, starting from the energy observed at
the episode's first step (the battery's energy update with its efficiencies, clipped to its energy
range). These rows are appended to every observation (:attr:`MemorySpec.names`):

* ``plan_energy``: the planned stored energy at the start of the interval bid (a bid step) or
  dispatched (a dispatch step), over ``e_max_mwh`` (the unit of ``battery_soc``);
* ``plan_battery``: at a dispatch step, the note of the interval (0 at a bid step and for an interval
  without a note);
* ``plan_price``: the mean of the lead-0 day-ahead price forecasts observed at the episode's bid
  steps so far (the current one included), in the observation's unit;
* ``plan_price_ahead[a:b]`` (one row per window of :data:`WINDOWS_H`: 2-6, 6-12 and 12-24 hours): the
  mean of the day-ahead price forecasts seen at the bid steps for the intervals ``a`` to ``b - 1``
  after the current one (0 when none of them has been seen). The bid steps see 8 leads (2 hours), so
  at a bid step the windows are still empty: they inform the dispatch steps.

The memory reads only the observations and the actions the policy itself played (the step index
from the ``progress`` row, as the rule policy does); the env and its reward are unchanged. A row's
memory is cleared at its episode's first step, so the same code serves a training vector env with
autoreset (:func:`memory_vec_env`), an evaluation (:class:`agents.rl.policy.RlPolicy`) and the
offline demonstrations (:func:`augment_episodes`): the three give the same rows for the same play.

**Demonstrations.** A teacher's bid-step battery component means nothing to the env; with
``note_plan`` set, the rule policy and MPC write there the battery power they plan for the interval
(the rule's plan, MPC's plan of the bid block), so the clone learns to note at D-1 what it plans and,
at dispatch, how the teacher follows a plan. (Noting in hindsight the battery action the teacher
played at the interval's dispatch was tried first: the clone then copies its note at dispatch and
cannot correct an error made at D-1; its validation profit on Joint-v1 fell from 2,293 to 2,079.)

Simplifications (the memory is a feature of the agent, not of the market): the intraday gates do not
change the notes; the planned energy ignores regulation and reserve deployment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

import gymnasium as gym
import numpy as np

from vpp_gym.validation import ConfigError

MEMORY_NAMES = ("plan_energy", "plan_battery", "plan_price")
"""The first rows :class:`PlanMemory` appends to an observation, in order; the window rows follow
(:attr:`MemorySpec.names`)."""
PRICE_ROW = "price_da_per_mwh[t+0]"
WINDOWS_H = ((2.0, 6.0), (6.0, 12.0), (12.0, 24.0))
"""The look-ahead windows (hours after the interval's start) of the ``plan_price_ahead`` rows."""


@dataclass(frozen=True)
class MemorySpec:
    """What :class:`PlanMemory` needs of an env: its step schedule, battery and observation rows.

    Kept in a trained unit's manifest (``memory``), so a saved policy rebuilds its memory without the env.
    """

    steps: int  # steps per episode (bid and dispatch)
    intervals: int  # intervals per episode
    bid: tuple[bool, ...]  # step k is a bid step
    interval: tuple[int, ...]  # the interval of step k
    dt_h: float
    e_max_mwh: float
    e_min_mwh: float
    e_high_mwh: float
    eta_charge: float
    eta_discharge: float
    p_charge_max_mw: float
    p_discharge_max_mw: float
    n_obs: int  # the env's observation length (without the memory rows)
    i_progress: int
    i_soc: int
    i_price: int
    i_battery: int  # the battery's action component
    i_price_leads: tuple[int, ...] = ()  # the day-ahead price forecast's rows, lead 0, 1, ...
    windows: tuple[tuple[int, int], ...] = ()  # look-ahead windows, in intervals after the current one

    @property
    def names(self) -> tuple[str, ...]:
        """The rows appended to an observation, in order."""
        return MEMORY_NAMES + tuple(f"plan_price_ahead[{a}:{b}]" for a, b in self.windows)

    @classmethod
    def from_env(cls, env: Any) -> MemorySpec:
        """The spec of a vpp-gym env (a single env, a vector env or a wrapper of either).

        Raises:
            ConfigError: the task is not on the day-ahead timeline or has no battery.
        """
        from vpp_gym.env import vpp_env

        base = vpp_env(env)
        p = base.params
        names = list(base.observation_names)
        actions = list(base.action_names)
        task = getattr(getattr(env, "spec", None), "id", None) or "the env"
        if not p.day_ahead:
            raise ConfigError(
                f"agent.memory: plan: {task} is on the hour-ahead timeline (no bid steps to remember); use memory: none"
            )
        b = base.config.resources.battery
        missing = [n for n in ("progress", "battery_soc", PRICE_ROW) if n not in names]
        if b is None or "battery" not in actions or missing:
            raise ConfigError(
                f"agent.memory: plan: {task} has no battery to plan"
                f"{' (observation rows missing: ' + ', '.join(missing) + ')' if missing else ''}; use memory: none"
            )
        sch = p.schedule
        return cls(
            steps=int(sch.steps),
            intervals=int(p.episode_steps),
            bid=tuple(bool(x) for x in sch.bid[: sch.steps]),
            interval=tuple(int(x) for x in sch.interval[: sch.steps]),
            dt_h=float(p.dt_h),
            e_max_mwh=float(b.e_max_mwh),
            e_min_mwh=float(b.e_min_mwh),
            e_high_mwh=float(b.e_high_mwh),
            eta_charge=float(b.eta_charge),
            eta_discharge=float(b.eta_discharge),
            p_charge_max_mw=float(b.p_charge_max_mw),
            p_discharge_max_mw=float(b.p_discharge_max_mw),
            n_obs=len(names),
            i_progress=names.index("progress"),
            i_soc=names.index("battery_soc"),
            i_price=names.index(PRICE_ROW),
            i_battery=actions.index("battery"),
            i_price_leads=tuple(names.index(f"price_da_per_mwh[t+{h}]") for h in range(p.horizon)),
            windows=tuple((round(a / p.dt_h), round(b / p.dt_h)) for a, b in WINDOWS_H),
        )

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready mapping (lists for the tuples)."""
        d = asdict(self)
        d["bid"], d["interval"] = list(self.bid), list(self.interval)
        d["i_price_leads"], d["windows"] = list(self.i_price_leads), [list(w) for w in self.windows]
        return d

    @classmethod
    def from_record(cls, record: Any, where: str) -> MemorySpec:
        """The spec kept in a manifest; an error naming ``where`` when it is malformed."""
        from agents.runfiles import RunFolderError

        try:
            d = dict(record)
            d["bid"], d["interval"] = tuple(bool(x) for x in d["bid"]), tuple(int(x) for x in d["interval"])
            d["i_price_leads"] = tuple(int(x) for x in d.get("i_price_leads", ()))
            d["windows"] = tuple((int(a), int(b)) for a, b in d.get("windows", ()))
            spec = cls(**d)
        except (TypeError, KeyError, ValueError) as err:
            raise RunFolderError(f"{where}: the plan memory's record is malformed ({err})") from None
        if len(spec.bid) != spec.steps or len(spec.interval) != spec.steps:
            raise RunFolderError(f"{where}: the plan memory's step schedule does not have {spec.steps} steps")
        return spec


class PlanMemory:
    """The memory of ``n`` batch rows (see the module docstring); :meth:`observe` then :meth:`record`, per step."""

    def __init__(self, spec: MemorySpec, n: int = 1) -> None:
        self.spec = spec
        self._bid = np.asarray(spec.bid, dtype=bool)
        self._interval = np.asarray(spec.interval, dtype=np.int64)
        self.resize(n)

    def resize(self, n: int) -> None:
        """Start over with ``n`` rows (every row's memory cleared)."""
        s = self.spec
        self.n = n
        self._k = np.zeros(n, dtype=np.int64)
        self._notes = np.zeros((n, s.intervals), dtype=np.float64)  # action units
        self._e_before = np.zeros((n, s.intervals), dtype=np.float64)  # MWh, the plan's energy at the start
        self._e_next = np.full(n, np.nan)  # the plan's energy after the last noted interval
        self._price_sum = np.zeros(n)
        self._price_n = np.zeros(n)
        self._fc = np.zeros((n, s.intervals), dtype=np.float64)  # bid-time price forecasts by interval
        self._seen = np.zeros((n, s.intervals), dtype=bool)

    def _steps(self, obs: np.ndarray) -> np.ndarray:
        k = np.rint(obs[:, self.spec.i_progress].astype(np.float64) * self.spec.steps).astype(np.int64)
        return np.clip(k, 0, self.spec.steps - 1)

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """The observations ``(n, n_obs)`` with the memory's rows appended (a row at its step 0 is cleared first)."""
        obs = np.asarray(obs)
        s = self.spec
        if obs.ndim != 2 or obs.shape[1] != s.n_obs:
            raise ValueError(f"plan memory: observations of shape (n, {s.n_obs}) expected, got {obs.shape}")
        if obs.shape[0] != self.n:
            self.resize(obs.shape[0])
        k = self._steps(obs)
        new = k == 0
        if new.any():
            self._notes[new] = 0.0
            self._e_before[new] = 0.0
            self._e_next[new] = obs[new, s.i_soc] * s.e_max_mwh
            self._price_sum[new] = 0.0
            self._price_n[new] = 0.0
            self._fc[new] = 0.0
            self._seen[new] = False
        self._k = k
        bid = self._bid[k]
        interval = np.clip(self._interval[k], 0, s.intervals - 1)
        rows = np.arange(self.n)
        self._price_sum[bid] += obs[bid, s.i_price]
        self._price_n[bid] += 1.0
        for h, col in enumerate(s.i_price_leads):  # a bid step's forecasts of the interval and the next ones
            target = self._interval[k] + h
            at = bid & (target < s.intervals)
            self._fc[rows[at], target[at]] = obs[at, col]
            self._seen[rows[at], target[at]] = True
        energy = np.where(bid, self._e_next, self._e_before[rows, interval])
        battery = np.where(bid, 0.0, self._notes[rows, interval])
        return np.concatenate([obs, self._rows(rows, energy, battery, interval).astype(obs.dtype)], axis=1)

    def _rows(self, r: np.ndarray, energy: np.ndarray, battery: np.ndarray, interval: np.ndarray) -> np.ndarray:
        """The memory's rows of batch rows ``r`` at ``interval`` (energy in MWh, battery in action units)."""
        s = self.spec
        price = np.divide(self._price_sum[r], self._price_n[r], out=np.zeros(len(r)), where=self._price_n[r] > 0)
        cols = [energy / s.e_max_mwh, battery, price]
        if s.windows:  # the mean bid-time forecast of each window's intervals seen so far (0: none)
            zero = np.zeros((len(r), 1))
            total = np.concatenate([zero, np.cumsum(np.where(self._seen[r], self._fc[r], 0.0), axis=1)], axis=1)
            count = np.concatenate([zero, np.cumsum(self._seen[r], axis=1)], axis=1)
            j = np.arange(len(r))
            for a, b in s.windows:
                lo, hi = np.minimum(interval + a, s.intervals), np.minimum(interval + b, s.intervals)
                n_seen = count[j, hi] - count[j, lo]
                sums = total[j, hi] - total[j, lo]
                cols.append(np.divide(sums, n_seen, out=np.zeros(len(r)), where=n_seen > 0))
        return np.stack(cols, axis=1)

    def terminal(self, obs: np.ndarray, rows: list[int] | None = None) -> np.ndarray:
        """A terminal observation ``(m, n_obs)`` of ``rows`` (all by default) with the memory's rows, the memory
        unchanged: the planned energy after the last noted interval, no note, the mean bid-step price."""
        r = np.arange(self.n) if rows is None else np.asarray(rows)
        extra = self._rows(r, self._e_next[r], np.zeros(len(r)), np.full(len(r), self.spec.intervals))
        return np.concatenate([np.asarray(obs), extra.astype(np.asarray(obs).dtype)], axis=1)

    def record(self, actions: np.ndarray) -> None:
        """The actions ``(n, A)`` played on the last observed step: a bid step's battery component is its note."""
        s = self.spec
        bid = self._bid[self._k]
        if not bid.any():
            return
        a = np.clip(np.asarray(actions, dtype=np.float64)[:, s.i_battery], -1.0, 1.0)
        p_mw = np.where(a > 0.0, a * s.p_discharge_max_mw, a * s.p_charge_max_mw)
        e0 = self._e_next
        e1 = e0 - (np.maximum(p_mw, 0.0) / s.eta_discharge + np.minimum(p_mw, 0.0) * s.eta_charge) * s.dt_h
        e1 = np.clip(e1, s.e_min_mwh, s.e_high_mwh)
        rows = np.flatnonzero(bid)
        interval = np.clip(self._interval[self._k[rows]], 0, s.intervals - 1)
        self._notes[rows, interval] = a[rows]
        self._e_before[rows, interval] = e0[rows]
        self._e_next[rows] = e1[rows]


def augment_episodes(spec: MemorySpec, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Observations ``(E, K + 1, n_obs)`` of whole episodes played with ``actions`` ``(E, K, A)``, with the
    memory's rows appended as :class:`PlanMemory` computes them step by step (the last observation is the
    terminal one: :meth:`PlanMemory.terminal`)."""
    E, K1, _ = obs.shape
    mem = PlanMemory(spec, E)
    out = np.empty((E, K1, spec.n_obs + len(spec.names)), dtype=obs.dtype)
    for k in range(K1 - 1):
        out[:, k] = mem.observe(obs[:, k])
        mem.record(actions[:, k])
    out[:, -1] = mem.terminal(obs[:, -1])
    return out


def memory_vec_env(venv: Any, spec: MemorySpec) -> Any:
    """An SB3 ``VecEnvWrapper`` of ``venv`` that appends the memory's rows to its observations.

    The actions the agent passes to ``step`` are recorded as its notes; a row's memory is cleared at its
    episode's first observation (after an autoreset too); an info's ``terminal_observation`` gets the
    rows of :meth:`PlanMemory.terminal`, as :func:`augment_episodes` gives them. The wrapper's
    ``memory_spec`` is ``spec`` (:func:`find_memory_spec`).
    """
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class MemoryVecEnv(VecEnvWrapper):
        def __init__(self) -> None:
            space = venv.observation_space
            extra = len(spec.names)
            low = np.concatenate([space.low, np.full(extra, -np.inf, dtype=space.dtype)])
            high = np.concatenate([space.high, np.full(extra, np.inf, dtype=space.dtype)])
            super().__init__(venv, observation_space=gym.spaces.Box(low, high, dtype=space.dtype))
            self.memory = PlanMemory(spec, venv.num_envs)
            self.memory_spec = spec

        def reset(self) -> np.ndarray:
            return self.memory.observe(np.asarray(self.venv.reset()))

        def step_async(self, actions: np.ndarray) -> None:
            self.memory.record(actions)
            self.venv.step_async(actions)

        def step_wait(self) -> Any:
            obs, rewards, dones, infos = self.venv.step_wait()
            for i in np.flatnonzero(dones):
                term = infos[i].get("terminal_observation")
                if term is not None:
                    infos[i]["terminal_observation"] = self.memory.terminal(np.asarray(term)[None], [int(i)])[0]
            return self.memory.observe(np.asarray(obs)), rewards, dones, infos

    return MemoryVecEnv()


def memory_spec(cfg: Any) -> MemorySpec | None:
    """The plan memory's spec for an experiment config (:class:`agents.rl.config.ExperimentConfig`), or None
    when its agent has none (``agent.memory: none``, or an algorithm without the option)."""
    if getattr(cfg.agent, "memory", "none") == "none":
        return None
    env = gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split="train")
    try:
        return MemorySpec.from_env(env)
    finally:
        env.close()


def with_memory(act: Any, spec: MemorySpec | None) -> Any:
    """``act`` (observations ``(n, n_obs)`` with the memory's rows -> actions) as a function of the env's own
    observations, with a fresh :class:`PlanMemory` (``act`` itself without a spec)."""
    if spec is None:
        return act
    mem = PlanMemory(spec)

    def remembering(obs: np.ndarray) -> np.ndarray:
        actions = act(mem.observe(obs))
        mem.record(actions)
        return actions

    return remembering


def find_in_vec_wrappers(venv: Any, name: str) -> Any:
    """The attribute ``name`` set on a wrapper itself in a chain of SB3 vector env wrappers (the outermost
    one that has it), or None."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    while isinstance(venv, VecEnvWrapper):
        value = vars(venv).get(name)  # not getattr: a wrapper forwards unknown names inwards
        if value is not None:
            return value
        venv = venv.venv
    return None


def find_memory_spec(venv: Any) -> MemorySpec | None:
    """The spec of the :class:`MemoryVecEnv` inside a chain of SB3 vector env wrappers, or None."""
    return cast(MemorySpec | None, find_in_vec_wrappers(venv, "memory_spec"))
