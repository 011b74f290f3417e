"""Thin Gymnasium wrapper over :mod:`vpp_gym.core` (a single environment is a batch of one).

The wrapper owns the spaces, the random generator and the decoding of the ledger into ``info``;
the dynamics and the settlement live in ``core``. Task classes in :mod:`vpp_gym.tasks` supply the
default scenario of each registered id and document it.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from vpp_gym import core
from vpp_gym.config import ScenarioConfig, build_config
from vpp_gym.ops import SCALAR
from vpp_gym.scenario import SPLITS, empty_split_error, episode_starts, scenario_series
from vpp_gym.validation import ConfigError

RESET_OPTIONS = ("split", "day")


class LedgerNester:
    """Nests a flat scalar ledger (keys ``group.item``) into ``info[group][item]``; ungrouped keys stay flat.

    The ledger of a scenario has the same keys in the same order every step, so the nesting plan is
    computed once per key sequence and reused.
    """

    def __init__(self) -> None:
        self._keys: tuple[str, ...] = ()
        self._plan: list[tuple[str, list[tuple[str, int]] | int]] = []

    def plan(self, ledger: dict[str, Any]) -> list[tuple[str, list[tuple[str, int]] | int]]:
        """``(group, [(item, position), ...] or position)`` for the ledger's keys (cached per key sequence)."""
        keys = tuple(ledger)
        if keys != self._keys:
            groups: dict[str, list[tuple[str, int]] | int] = {}
            for i, key in enumerate(keys):
                group, _, item = key.partition(".")
                if item:
                    sub = groups.setdefault(group, [])
                    assert isinstance(sub, list)
                    sub.append((item, i))
                else:
                    groups[group] = i
            self._keys, self._plan = keys, list(groups.items())
        return self._plan

    def __call__(self, ledger: dict[str, Any]) -> dict[str, Any]:
        """The nested ``info`` of one step."""
        self.plan(ledger)
        values = list(ledger.values())
        return {
            g: values[plan] if isinstance(plan, int) else {item: values[i] for item, i in plan}
            for g, plan in self._plan
        }


class VppEnv(gym.Env[np.ndarray, np.ndarray]):
    """Base class of the vpp-gym tasks; see the task classes in :mod:`vpp_gym.tasks` for the specs.

    Arguments:
        config: a scenario YAML path, a mapping, or a :class:`~vpp_gym.config.ScenarioConfig`;
            merged over the task's defaults (a resource set to ``null`` is removed).
        overrides: a mapping of dotted keys, e.g. ``{"resources.battery.e_max_mwh": 8.0}``.
        split: the split a reset draws its day from when its options name none: ``"train"``
            (default), ``"val"`` or ``"test"`` (e.g. an evaluation env: ``gym.make(id, split="test")``).
        **sections: top-level config sections as keywords, e.g. ``forecast={"pv_sigma": 0.0}``.

    Reset options (``env.reset(options=...)``): ``split`` (``"train"``, ``"val"`` or ``"test"``;
    default the constructor's ``split``) and ``day`` (an index into that split's days, or an ISO
    date inside it); without ``day`` the episode's day is drawn from the split with the env's generator.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        config: str | Path | dict[str, Any] | ScenarioConfig | None = None,
        overrides: dict[str, Any] | None = None,
        *,
        split: str = "train",
        **sections: Any,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split={split!r}; expected one of {', '.join(SPLITS)}")
        self.default_split = split
        merged = dict(overrides or {})
        merged.update(sections)
        self.config, self._base_dir = build_config(self.DEFAULTS, config, merged)
        cfg = self.config
        self.series = scenario_series(cfg.data, cfg.time.interval_minutes, self._base_dir)
        self.params = core.CoreParams.from_series(cfg, self.series)
        self.episode_starts = episode_starts(cfg, self.series)
        p = self.params
        if not p.day_ahead and p.horizon <= p.lead:
            raise ConfigError(
                f"forecast.horizon_steps: got {p.horizon}, expected more than markets.energy.da_lead_steps="
                f"{p.lead} so that the agent sees the price of the interval it commits a position for"
            )
        self.action_names = p.action_names
        self.action_space = spaces.Box(-1.0, 1.0, shape=(len(self.action_names),), dtype=np.float32)
        layout = p.observation_layout()
        self.observation_names = tuple(row[0] for row in layout)
        low = np.array([row[1] for row in layout], dtype=np.float32)
        high = np.array([row[2] for row in layout], dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._state: core.State | None = None
        self._episode: core.EpisodeData | None = None
        self._exo_rows: list[list[float]] = []
        self._nest = LedgerNester()
        self._keys: tuple[str, ...] = ()  # the ledger keys of a dispatch step (day-ahead timeline)
        self._zero_info: dict[str, Any] = {}  # those keys at 0, nested (a bid step's info template)

    @property
    def episode(self) -> core.EpisodeData | None:
        """The current episode's data (realised series in ``exo``, drawn forecasts); None before a reset."""
        return self._episode

    def live(self) -> tuple[core.EpisodeData, core.State]:
        """The current episode's data and state (:attr:`episode`, :attr:`state`); a ``RuntimeError`` before a reset.

        For planners: the episode holds the realised future that the agent does not observe (the
        oracle's perfect foresight; MPC draws its forecasts from it with the scenario's error model).
        """
        if self._episode is None or self._state is None:
            raise RuntimeError("the env has no episode yet: call reset() first")
        return self._episode, self._state

    # ------------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; see the class docstring for ``options``."""
        super().reset(seed=seed)
        split, day = self._parse_options(options)
        starts = self.episode_starts[split]
        if day is None:
            idx = int(self.np_random.integers(len(starts)))
        else:
            idx = day
        start = np.array([starts[idx]], dtype=np.int64)
        self._episode = core.build_episode(self.params, self.series, start, self.np_random)
        self._exo_rows = self._episode.exo[0].tolist()  # the scalar core reads plain floats
        self._state = core.initial_state(self.params, None)
        if self.params.day_ahead and not self._keys:
            self._keys = core.dispatch_keys(self.params, self._episode, self._exo_rows[0])
        obs = core.observe_one(self.params, self._state, self._episode)
        stamp = self.series.timestamps[start[0]]
        return obs, {
            "split": split,
            "day_index": idx,
            "start": str(stamp),
            "local_date": str((stamp + self.config.time.utc_offset).astype("datetime64[D]")),
        }

    def _parse_options(self, options: dict[str, Any] | None) -> tuple[str, int | None]:
        options = dict(options or {})
        unknown = [k for k in options if k not in RESET_OPTIONS]
        if unknown:
            raise ValueError(f"reset options: unknown key {unknown[0]!r}; valid keys are {', '.join(RESET_OPTIONS)}")
        split = options.get("split", self.default_split)
        if split not in SPLITS:
            raise ValueError(f"reset options: split={split!r}; expected one of {', '.join(SPLITS)}")
        return split, self.parse_day(split, options.get("day"))

    def parse_day(self, split: str, day: Any) -> int | None:
        """The index in ``split`` of a ``day`` reset option (an index or an ISO date; None = draw one)."""
        starts = self.episode_starts[split]
        if len(starts) == 0:
            raise empty_split_error(self.config, self.series, split)
        if day is None:
            return None
        if isinstance(day, str | _dt.date):
            try:
                date = np.datetime64(_dt.date.fromisoformat(str(day)))
            except ValueError:
                raise ValueError(f"reset options: day={day!r} is not an ISO date like '2025-11-03'") from None
            local = self.series.timestamps[starts] + self.config.time.utc_offset
            found = np.flatnonzero(local.astype("datetime64[D]") == date)
            if len(found) == 0:
                first, last = (str(local[i])[:10] for i in (0, -1))
                raise ValueError(
                    f"reset options: day={day!r} is not an episode day of the {split!r} split ({first} .. {last})"
                )
            return int(found[0])
        if isinstance(day, int | np.integer) and not isinstance(day, bool) and 0 <= day < len(starts):
            return int(day)
        raise ValueError(
            f"reset options: day={day!r}; expected an index in [0, {len(starts) - 1}] of the "
            f"{split!r} split or an ISO date"
        )

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance one step (an interval; on the day-ahead timeline also a bid step); ``info`` is the step's
        ledger (see the task docstring), ``info["t"]`` the interval dispatched or bid for."""
        if self._state is None or self._episode is None:
            raise RuntimeError("call reset() before step()")
        p, s, ep = self.params, self._state, self._episode
        k = s.k
        if k >= p.steps:
            raise RuntimeError("the episode has ended (terminated=True was returned); call reset()")
        a = self._check_action(action)
        bidding = p.day_ahead and bool(p.schedule.bid[k])
        if bidding:
            t = int(p.schedule.interval[k])
            ref = float(ep.obs_exo[0, k, p.da_forecast_index]) * p.price_ref_per_mwh
            self._state, ledger = core.bid_transition(p, s, a, self._exo_rows[t], ref, SCALAR, ep)
            info = self._bid_info(ledger)
        else:
            t = s.t
            self._state, ledger = core.transition(p, s, a, self._exo_rows[t], SCALAR, ep)
            info = self._nest(ledger)
        obs = core.observe_one(p, self._state, ep)
        info["t"] = t
        if p.day_ahead:
            info["bidding"] = bidding
        terminated = k + 1 >= p.steps
        return obs, info["reward"], terminated, False, info

    def _bid_info(self, ledger: dict[str, Any]) -> dict[str, Any]:
        """A bid step's ``info``: the dispatch steps' keys at 0 (a copy of a nested template), then the step's own."""
        if not self._zero_info:
            self._zero_info = LedgerNester()(dict.fromkeys(self._keys, 0.0))
        info = {g: (dict(v) if isinstance(v, dict) else v) for g, v in self._zero_info.items()}
        for key, value in ledger.items():
            group, _, item = key.partition(".")
            if item:
                info[group][item] = value
            else:
                info[group] = value
        return info

    def _check_action(self, action: Any) -> list[float]:
        a = real_array(action, "action")
        n = len(self.action_names)
        if a.shape != (n,):
            raise ValueError(f"action has shape {a.shape}; expected ({n},) for components {self.action_names}")
        bad = ~(np.abs(a) <= 1.0 + 1e-6)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"action[{i}] ({self.action_names[i]!r}) = {float(a[i])!r} is outside [-1, 1] or not finite; "
                "clip actions to the action space before step()"
            )
        return np.minimum(np.maximum(a, -1.0), 1.0).tolist()

    @property
    def state(self) -> core.State | None:
        """The dynamic state now (step index, stored energy, backlog, EV need, gas output, carbon totals,
        committed positions): what the next ``step`` starts from; None before a reset.

        A read-only view for planners that start a plan from the current state (the oracle, MPC); a
        :class:`~vpp_gym.core.State` is immutable and every step replaces it. Together with
        :attr:`episode` (the realised series, AGC signal and offer stacks of the whole episode, i.e.
        the future the agent does not observe) it is all a model of the episode needs.
        """
        return self._state


def real_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 array if it holds real numbers (float, integer); a ``ValueError`` for complex
    numbers, text, booleans or objects, which are refused rather than coerced."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as err:  # e.g. a ragged list
        raise ValueError(f"{what} is not an array of numbers: {err}") from None
    if a.dtype.kind not in "iuf":
        raise ValueError(
            f"{what} has dtype {a.dtype} ({type(value).__name__}); expected real numbers (a float or integer "
            "array), e.g. env.action_space.sample()"
        )
    return a.astype(np.float64, copy=False)


@runtime_checkable
class VppEnvLike(Protocol):
    """What a policy may read of a vpp-gym env, single (:class:`VppEnv`) or native vector env."""

    config: ScenarioConfig
    params: core.CoreParams
    action_names: tuple[str, ...]
    observation_names: tuple[str, ...]


def vpp_env(env: Any) -> VppEnvLike:
    """The vpp-gym env under Gymnasium's wrappers (``env.unwrapped``); a ``TypeError`` for any other env."""
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, VppEnvLike):
        raise TypeError(f"{type(base).__name__} is not a vpp-gym env (it has no config, params and layouts)")
    return base


def single_vpp_env(env: Any) -> VppEnv:
    """The single vpp-gym env under Gymnasium's wrappers; a ``TypeError`` for a vector env or another env."""
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, VppEnv):
        raise TypeError(f"{type(base).__name__} is not a single vpp-gym env; planners run one per env")
    return base
