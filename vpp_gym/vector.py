"""Native vector environment: ``N`` episodes advanced by one call of the batched core per step.

``gymnasium.make_vec("vpp_gym/Joint-v0", num_envs=N, vectorization_mode="vector_entry_point")``
returns a :class:`VppVectorEnv` of the task; the other modes (``"sync"``, ``"async"``) wrap ``N``
single envs as usual. The core (:mod:`vpp_gym.core`) runs on ``(N,)`` NumPy arrays, so a step costs
a fixed number of array operations whatever ``N`` is.

**Same trajectories as single envs.** Sub-env ``i`` owns a generator of its own, seeded as a single
env's: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (a list gives each seed explicitly), and
every draw of an episode (its day, forecast errors, AGC signal, competitor stacks) comes from that
generator in the single env's order. Observations, rewards, terminations and the ledger of sub-env
``i`` are then the ones of ``make(id).reset(seed=s + i)`` stepped with the same actions, bit for bit.

**Autoreset** (``autoreset_mode``, Gymnasium's :class:`~gymnasium.vector.AutoresetMode`):

* ``NEXT_STEP`` (default, Gymnasium's default): the step after a termination resets the sub-env
  instead of stepping it (its action is ignored) and returns the first observation of the next
  episode with reward 0 and the reset ``info``.
* ``SAME_STEP``: the terminating step returns the next episode's first observation; the last
  observation and the last step's ledger are in ``info["final_obs"]`` / ``info["final_info"]``
  (masked by ``info["_final_obs"]``). The SB3 adapter (:mod:`vpp_gym.sb3`) uses this mode.
* ``DISABLED``: nothing resets by itself; ``reset(options={"reset_mask": mask})`` resets the
  sub-envs where ``mask`` is True. Stepping a sub-env whose episode has ended is an error.

Every episode of a task has the same length, so with autoreset all sub-envs run in lockstep and
reset together. An autoreset draws the day from the constructor's ``split`` (reset options apply
to the reset they are passed to, exactly as for a single env).

**Info.** Each step's ledger as ``(N,)`` arrays, nested like the single env's
(``info["energy_da"]["cash"]``), with Gymnasium's ``_key`` masks (all True, except for sub-envs that
were reset instead of stepped). ``ledger_info=False`` leaves it out. With ``episode_totals=True`` the
env also sums the additive ledger entries (:data:`TOTAL_KEYS`) over each episode and reports them in
the terminating step's info under ``"episode_totals"``.

Per-step cost: observations are assembled from the episode's realised series, its pre-drawn
forecast errors and the state, one step at a time; nothing grows with the episode's length or the
history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from vpp_gym import core, ledger
from vpp_gym.config import ScenarioConfig
from vpp_gym.core import announcement
from vpp_gym.env import LedgerNester, VppEnv, real_array
from vpp_gym.markets import demand_response
from vpp_gym.scenario import SPLITS
from vpp_gym.tasks import (
    ArbitrageEnv,
    ArbitrageV0Env,
    JointEnv,
    JointV0Env,
    LowCarbonEnv,
    LowCarbonV0Env,
    RegulationEnv,
    RegulationV0Env,
)

VECTOR_RESET_OPTIONS = ("split", "day", "reset_mask")

TOTAL_KEYS = ledger.TOTAL_KEYS
"""Ledger entries summed over an episode with ``episode_totals=True`` (those a scenario has)."""


class VppVectorEnv(VectorEnv):
    """Native batched environment of a vpp-gym task; see the module docstring for its semantics.

    Arguments:
        num_envs: number of sub-environments ``N`` (>= 1).
        config, overrides, **sections: the scenario, exactly as for the single env (:class:`VppEnv`).
        split: split of the days drawn by resets that name none (default ``"train"``).
        autoreset_mode: a :class:`~gymnasium.vector.AutoresetMode` or its value (``"NextStep"``,
            ``"SameStep"``, ``"Disabled"``).
        ledger_info: put each step's ledger into ``info`` (default True).
        episode_totals: sum the ledger over each episode and report it at the episode's end.
    """

    single_env_cls: ClassVar[type[VppEnv]] = VppEnv
    metadata: dict[str, Any] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int,
        config: str | Path | dict[str, Any] | ScenarioConfig | None = None,
        overrides: dict[str, Any] | None = None,
        *,
        split: str = "train",
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        ledger_info: bool = True,
        episode_totals: bool = False,
        **sections: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r}; expected an integer >= 1")
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(
                f"autoreset_mode={autoreset_mode!r}; expected one of {', '.join(m.value for m in AutoresetMode)}"
            ) from None
        proto = self.single_env_cls(config, overrides, split=split, **sections)
        self._proto = proto
        self.num_envs = int(num_envs)
        self.config, self.series, self.params = proto.config, proto.series, proto.params
        self.episode_starts = proto.episode_starts
        self.action_names, self.observation_names = proto.action_names, proto.observation_names
        self.single_observation_space = proto.observation_space
        self.single_action_space = proto.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        self.ledger_info = bool(ledger_info)
        self.episode_totals = bool(episode_totals)
        p = self.params
        n, T, H = self.num_envs, p.episode_steps, p.horizon
        fp = p.forecast
        self._n_cal = 4 + (p.cfg.resources.flex_load is not None)
        self._fc_offset = p.n_obs - len(fp.columns) * H
        # Episode arrays, in layouts a step reads contiguously (replaced, never written, once exposed).
        self._exo = np.zeros((T, len(core.ALL_NAMES), n))  # realised values, step-major
        # batch-last layouts: a step's operands are contiguous blocks (see _observe)
        rows_src = p.history_steps + T + H + 1  # observed columns, with the gate forecasts' history
        self._src = np.zeros((len(fp.columns), rows_src, n), dtype=np.float32)
        self._col_idx = np.arange(len(fp.columns))[:, None]
        self._obs_table = core.observed_table(p, self.series)  # (n_cols, rows of the series) float32
        K = p.steps  # steps per episode (T, or T + the bid steps on the day-ahead timeline)
        self._z = np.zeros((K + 1, len(fp.noisy), H, n), dtype=np.float32) if len(fp.noisy) else None
        self._scratch: dict[str, np.ndarray] = {}  # blocks of rows of the forecast-error draws (_normal_into)
        self._cal = np.zeros((K + 1, self._n_cal, n), dtype=np.float32)
        self._sigma = core.step_sigma(p)[:, :, :, None] if p.day_ahead else None  # (n_noisy, H, K+1, 1)
        self._keys: tuple[str, ...] = ()  # the ledger keys of a dispatch step (day-ahead timeline)
        self._da_ref: np.ndarray | None = None  # day-ahead timeline: the DA forecast each row last observed
        self._t_info = np.zeros(n, dtype=np.int64)
        self._bidding = False
        self._start = np.zeros(n, dtype=np.int64)
        self._ep: core.EpisodeData | None = None
        self._state: core.State | None = None
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._autoreset = np.zeros(n, dtype=bool)
        self._rows = np.arange(n)
        self._mask_all = np.ones(n, dtype=bool)
        self._mask_all.flags.writeable = False
        self._nest = LedgerNester()
        self._totals: dict[str, np.ndarray] = {}

    # -- reset ------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-env, or those of ``options["reset_mask"]``; see the module docstring.

        Options: ``split`` (one for all), ``day`` (one for all, or a sequence of ``N``: an index in the
        split or an ISO date each, None = draw), ``reset_mask`` (boolean ``(N,)``).
        """
        n = self.num_envs
        options = dict(options or {})
        unknown = [k for k in options if k not in VECTOR_RESET_OPTIONS]
        if unknown:
            raise ValueError(
                f"reset options: unknown key {unknown[0]!r}; valid keys are {', '.join(VECTOR_RESET_OPTIONS)}"
            )
        mask = options.pop("reset_mask", None)
        if mask is None:
            rows = self._rows
        elif self.autoreset_mode is not AutoresetMode.DISABLED:
            raise ValueError(
                "reset options: reset_mask needs autoreset_mode='Disabled' (with autoreset every "
                "sub-env runs the same episode length in lockstep and resets by itself)"
            )
        else:
            mask = np.asarray(mask)
            if mask.shape != (n,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(
                    f"reset options: reset_mask must be a boolean array of shape ({n},) with at "
                    f"least one True, got dtype {mask.dtype} and shape {mask.shape}"
                )
            if self._state is None and not mask.all():
                raise ValueError("reset options: the first reset must reset every sub-env (no reset_mask)")
            rows = np.flatnonzero(mask)
        seeds = self._seeds(seed)
        for i in rows:
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i] = seeding.np_random(seeds[i])[0]
        split = options.get("split", self._proto.default_split)
        if split not in SPLITS:
            raise ValueError(f"reset options: split={split!r}; expected one of {', '.join(SPLITS)}")
        days = options.get("day")
        if days is None or isinstance(days, int | str | np.integer) or not hasattr(days, "__len__"):
            days = [days] * n
        elif len(days) != n:
            raise ValueError(f"reset options: day has {len(days)} entries; expected one (for all) or {n}")
        day_idx = [self._proto.parse_day(split, days[i]) for i in rows]
        info = self._reset_rows(rows, split, day_idx)
        self._autoreset[rows] = False
        return self._observe(), info

    def _seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        n = self.num_envs
        if seed is None:
            return [None] * n
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(n)]
        seeds = list(seed)  # type: ignore[arg-type]  # a bool is refused by the int check above
        if len(seeds) != n:
            raise ValueError(
                f"reset: {len(seeds)} seeds for {n} sub-envs; pass one int (sub-env i gets seed + i) "
                "or a list of num_envs seeds"
            )
        return seeds

    def _reset_rows(self, rows: np.ndarray, split: str, day_idx: list[int | None]) -> dict[str, Any]:
        """Start new episodes in ``rows`` (drawing from their generators) and return the reset info."""
        p = self.params
        n, T = self.num_envs, p.episode_steps
        starts = self.episode_starts[split]
        rngs = [self._rngs[i] for i in rows]
        assert all(g is not None for g in rngs)
        idx = np.array(
            [int(g.integers(len(starts))) if d is None else d for g, d in zip(rngs, day_idx, strict=True)],
            dtype=np.int64,
        )
        start = np.asarray(starts, dtype=np.int64)[idx]
        ep_rows = core.episode_rows(p, self.series, start)  # every column; the history of the observed ones only
        # the single env's draw order (core.build_episode): AGC signal, competitor stacks, forecast errors
        agc = core.draw_agc(p, rngs, len(rows))
        stacks = core.draw_stacks(p, ep_rows, rngs)
        full = len(rows) == n
        if full and self._z is not None:  # _z is read by _observe only (never handed out): drawn into in place
            _normal_into(rngs, self._z, self._scratch)
            z = None
        else:
            z = core.draw_forecast_errors(p, rngs, len(rows))
        cal = core.calendar_features(p, self.series, start).transpose(1, 2, 0)
        src = core.source_rows(p, self._obs_table, start)
        z = None if z is None else z.transpose(1, 2, 3, 0)
        if full:
            self._exo = np.ascontiguousarray(ep_rows[:, :T, :].transpose(1, 2, 0))
            # _cal is read by _observe only (never handed out): refilled in place, no new pages
            self._src, self._cal, self._start = src, _refill(self._cal, cal), start
            ep_agc, ep_stacks = agc, stacks
        else:  # copy on write: arrays already handed out in infos stay as they were
            self._exo = self._exo.copy()
            self._exo[:, :, rows] = ep_rows[:, :T, :].transpose(1, 2, 0)
            self._src, self._cal, self._start = self._src.copy(), self._cal.copy(), self._start.copy()
            self._src[:, :, rows], self._cal[:, :, rows], self._start[rows] = src, cal, start
            if z is not None:
                assert self._z is not None
                self._z = self._z.copy()
                self._z[..., rows] = z
            assert self._ep is not None
            ep_agc = None
            if agc is not None:
                assert self._ep.agc is not None
                ep_agc = self._ep.agc.copy()
                ep_agc[rows] = agc
            ep_stacks = {}
            for name, (mw, price) in stacks.items():
                old_mw, old_price = (a.copy() for a in self._ep.stacks[name])
                old_mw[rows], old_price[rows] = mw, price
                ep_stacks[name] = (old_mw, old_price)
        terminal: np.ndarray | None = core.terminal_price(p, ep_rows)
        id_price = core.intraday_prices(p, ep_rows)
        dr_baseline = demand_response.similar_days_baseline(p, self.series, start)
        if not full and self._ep is not None:
            terminal = _put_rows(self._ep.terminal_price, rows, terminal)
            id_price = _put_rows(self._ep.id_price, rows, id_price)
            dr_baseline = _put_rows(self._ep.dr_baseline_mw, rows, dr_baseline)
        # EpisodeData carries what the transition reads (AGC, stacks); the series live in step-major arrays here
        self._ep = core.EpisodeData(
            start=self._start,
            exo=np.empty((n, 0, len(core.ALL_NAMES))),
            obs_exo=np.empty((n, 0, p.n_obs), dtype=np.float32),
            agc=ep_agc,
            stacks=ep_stacks,
            terminal_price=terminal,
            id_price=id_price,
            dr_baseline_mw=dr_baseline,
        )
        if p.day_ahead and not self._keys:
            self._keys = core.dispatch_keys(p, self._ep, self._exo[0, :, 0].tolist())
        if full:
            self._state = core.initial_state(p, n)
        else:  # the first reset is always full (reset() checks it)
            assert self._state is not None
            self._state = _scatter(self._state, rows, core.initial_state(p, len(rows)))
        if self.episode_totals:
            for v in self._totals.values():
                v[rows] = 0.0
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        stamps = self.series.timestamps[start]
        day_index = np.zeros(n, dtype=np.int64)
        day_index[rows] = idx
        info: dict[str, Any] = {
            "split": np.full(n, split, dtype=object),
            "day_index": day_index,
            "start": np.zeros(n, dtype=stamps.dtype),
            "local_date": np.zeros(n, dtype="datetime64[D]"),
        }
        info["start"][rows] = stamps
        info["local_date"][rows] = (stamps + self.config.time.utc_offset).astype("datetime64[D]")
        for key in list(info):
            info[f"_{key}"] = mask
        return info

    # -- step -------------------------------------------------------------------------------------
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Advance every sub-env one interval (see the module docstring for autoreset and ``info``)."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        n = self.num_envs
        a = self._check_actions(actions)
        if self.autoreset_mode is AutoresetMode.NEXT_STEP and self._autoreset.any():
            assert self._autoreset.all(), "lockstep: every episode has the same length"
            rows = self._rows
            info = self._reset_rows(rows, self._proto.default_split, [None] * n)
            self._autoreset[:] = False
            return (self._observe(), np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), info)
        s = self._state
        p = self.params
        K = p.steps
        k = self._lockstep_t()
        if k is None:
            ended = s.k >= K
            if ended.any():
                raise RuntimeError(
                    f"sub-env {int(np.flatnonzero(ended)[0])} has ended; reset it with "
                    "reset(options={'reset_mask': mask}) before stepping it"
                )
            if p.day_ahead:
                raise RuntimeError(
                    "the day-ahead timeline steps the sub-envs in lockstep; after a partial reset, reset "
                    "every sub-env (reset_mask all True) before stepping"
                )
            x = self._exo[s.t, :, self._rows].T
        else:
            if k >= K:
                raise RuntimeError("the episodes have ended (terminated was returned); call reset()")
        if p.day_ahead and p.schedule.bid[k]:
            interval = int(p.schedule.interval[k])
            assert self._da_ref is not None  # the forecast the step observed (a copy: callers may write obs)
            ref = self._da_ref.astype(np.float64) * p.price_ref_per_mwh
            self._state, led = core.bid_transition(p, s, a, self._exo[interval], ref, np, self._ep, self._keys)
            t_info = np.full(n, interval)
            self._bidding = True
        else:
            if k is not None:
                x = self._exo[int(s.t[0])]
            t_info = s.t
            self._bidding = False
            self._state, led = core.transition(p, s, a, x, np, self._ep)
        terminated = self._state.k >= K
        self._t_info = t_info
        reward = led["reward"]
        info = self._info(led) if self.ledger_info else {}
        if self.episode_totals:
            self._add_totals(led, terminated, info)
        obs = self._observe()
        if terminated.any():
            if self.autoreset_mode is AutoresetMode.NEXT_STEP:
                self._autoreset = terminated.copy()
            elif self.autoreset_mode is AutoresetMode.SAME_STEP:
                rows = np.flatnonzero(terminated)
                final_obs = np.full(n, None, dtype=object)
                for i in rows:
                    final_obs[i] = obs[i]
                step_info = info
                info = self._reset_rows(rows, self._proto.default_split, [None] * len(rows))
                info["final_obs"], info["_final_obs"] = final_obs, terminated
                info["final_info"], info["_final_info"] = step_info, terminated
                obs = self._observe()
        return obs, reward, terminated, np.zeros(n, dtype=bool), info

    def _lockstep_t(self) -> int | None:
        """The common step index ``k`` of every sub-env, or None if they differ (after partial resets)."""
        k = self._state.k  # type: ignore[union-attr]
        k0 = int(k[0])
        return k0 if (k == k0).all() else None

    def _check_actions(self, actions: Any) -> list[np.ndarray]:
        a = real_array(actions, "actions")
        n, k = self.num_envs, len(self.action_names)
        if a.shape != (n, k):
            raise ValueError(
                f"actions have shape {a.shape}; expected ({n}, {k}): one row per sub-env, columns {self.action_names}"
            )
        bad = ~(np.abs(a) <= 1.0 + 1e-6)
        if bad.any():
            i, j = (int(v[0]) for v in np.nonzero(bad))
            raise ValueError(
                f"actions[{i}, {j}] ({self.action_names[j]!r}) = {float(a[i, j])!r} is outside [-1, 1] "
                "or not finite; clip actions to the action space before step()"
            )
        return list(np.ascontiguousarray(np.clip(a, -1.0, 1.0).T))

    # -- observation, info ------------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        """Observations ``(N, n_obs)`` float32, built feature-major: a step's writes are contiguous rows.

        The returned array is the transpose of an ``(n_obs, N)`` buffer (Fortran order); NumPy, torch
        and SB3 accept it as any array.
        """
        p = self.params
        s = self._state
        assert s is not None
        n, H = self.num_envs, p.horizon
        buf = np.empty((p.n_obs, n), dtype=np.float32)
        for j, col in enumerate(core.state_features(p, s, np)):
            buf[j] = col
        k = p.n_state_obs
        step = self._lockstep_t()
        sigma = None
        if step is not None:
            cal = self._cal[step]
            if p.day_ahead and p.schedule.bid[step]:  # (n_cols, H, n): the rows the gate's forecasts read
                win = self._src[self._col_idx, p.gate_sources[:, :, step]]
            elif p.day_ahead:  # a dispatch step reads the H intervals from its own (gate_sources' rows)
                row = p.history_steps + int(p.schedule.interval[step])
                win = self._src[:, row : row + H]
            else:
                win = self._src[:, step : step + H]
            z = self._z[step] if self._z is not None else None
            if self._sigma is not None:
                sigma = self._sigma[:, :, step]
        elif p.day_ahead:  # rows at different steps (after a partial reset): each row's own step
            ki = np.minimum(s.k, p.steps)
            cal = self._cal[ki, :, self._rows].T
            win = self._src[self._col_idx[:, :, None], p.gate_sources[:, :, ki], self._rows[None, None, :]]
            z = self._z[ki, :, :, self._rows].transpose(1, 2, 0) if self._z is not None else None
            if self._sigma is not None:
                sigma = self._sigma[:, :, ki, 0]
        else:  # the hour-ahead timeline (k == t)
            ti = np.minimum(s.t, p.episode_steps)
            cal = self._cal[ti, :, self._rows].T
            win = self._src[:, ti[None, :] + np.arange(H)[:, None], self._rows[None, :]]
            z = self._z[ti, :, :, self._rows].transpose(1, 2, 0) if self._z is not None else None
        buf[k : k + self._n_cal] = cal
        if p.announced_columns:  # demand-response events, seen once announced (vpp_gym.core.announcement)
            ki = np.full((n, 1), step) if step is not None else np.minimum(s.k, p.steps)[:, None]
            announcement.mask_windows(p, win, p.announce_mask[:, ki[:, 0]])
            ann = announcement.features(p, self._ep.dr_baseline_mw if self._ep is not None else None, ki)
            buf[p.announce_offset : p.announce_offset + ann.shape[2]] = ann[:, 0, :].T
        core.forecast_features(p, win, z, buf[self._fc_offset :].reshape(-1, H, n), sigma)
        if p.day_ahead:
            self._da_ref = buf[p.da_forecast_index].copy()
        return buf.T

    def _info(self, led: dict[str, Any]) -> dict[str, Any]:
        plan = self._nest.plan(led)
        values = list(led.values())
        m = self._mask_all
        info: dict[str, Any] = {}
        for g, where in plan:
            if isinstance(where, int):
                info[g] = values[where]
            else:
                sub = {}
                for item, i in where:
                    sub[item] = values[i]
                    sub[f"_{item}"] = m
                info[g] = sub
            info[f"_{g}"] = m
        info["t"], info["_t"] = self._t_info, m
        if self.params.day_ahead:
            info["bidding"], info["_bidding"] = np.full(self.num_envs, self._bidding), m
        return info

    def _add_totals(self, led: dict[str, Any], terminated: np.ndarray, info: dict[str, Any]) -> None:
        if not self._totals:
            self._totals = {k: np.zeros(self.num_envs) for k in TOTAL_KEYS if k in led}
        for k, v in self._totals.items():
            v += led[k]
        if terminated.any():
            info["episode_totals"] = {k: np.where(terminated, v, 0.0) for k, v in self._totals.items()}
            info["_episode_totals"] = terminated

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release (no subprocesses)."""


def _normal_into(rngs: list[np.random.Generator], out: np.ndarray, scratch: dict[str, np.ndarray]) -> None:
    """Standard normal float32 draws ``(..., N)`` into ``out``, column ``i`` from ``rngs[i]``: the numbers of
    :func:`vpp_gym.rng.normal` ``(N, ...)`` (its Box-Muller transform, the same operations on rows of the same
    length), transposed; drawn a block of rows at a time through ``scratch`` (kept for the next reset).

    :func:`~vpp_gym.core.episode.draw_forecast_errors` draws the same; this path only spares the reset
    the fresh ``(N, ...)`` temporaries, whose pages cost more than the arithmetic (the vector env's parity
    tests compare every bit with single envs, which draw through :mod:`vpp_gym.rng`).
    """
    m = int(np.prod(out.shape[:-1]))
    k = (m + 1) // 2
    block = max(1, min(len(rngs), (1 << 20) // (2 * k)))  # about 4 MB of uniforms
    if scratch.get("u", np.empty(0)).shape != (block, 2 * k):
        scratch.update(
            u=np.empty((block, 2 * k), np.float32),
            r=np.empty((block, k), np.float32),
            z=np.empty((block, 2 * k), np.float32),
        )
    u_all, r_all, z_all = scratch["u"], scratch["r"], scratch["z"]
    for lo in range(0, len(rngs), block):
        b = min(block, len(rngs) - lo)
        u, radius, z = u_all[:b], r_all[:b], z_all[:b]
        for g, row in zip(rngs[lo : lo + b], u, strict=True):
            g.random(dtype=np.float32, out=row)
        np.subtract(np.float32(1.0), u[:, :k], out=radius)
        np.log(radius, out=radius)
        radius *= np.float32(-2.0)
        np.sqrt(radius, out=radius)
        angle = u[:, k:]
        angle *= np.float32(2.0 * np.pi)
        np.cos(angle, out=z[:, :k])
        np.sin(angle, out=z[:, k:])
        z[:, :k] *= radius
        z[:, k:] *= radius
        out[..., lo : lo + b] = z[:, :m].reshape(b, *out.shape[:-1]).transpose(*range(1, out.ndim), 0)


def _refill(buf: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """``new`` as a C-contiguous array: copied into ``buf`` when it has the same shape and dtype, else a new one."""
    if buf is not None and buf.shape == new.shape and buf.dtype == new.dtype:
        np.copyto(buf, new)
        return buf
    return np.ascontiguousarray(new)


def _put_rows(old: np.ndarray | None, rows: np.ndarray, new: np.ndarray | None) -> np.ndarray | None:
    """A copy of ``old`` with ``rows`` replaced by ``new`` (None stays None)."""
    if old is None or new is None:
        return new
    out = old.copy()
    out[rows] = new
    return out


def _scatter(state: core.State, rows: np.ndarray, fresh: core.State) -> core.State:
    """``state`` with ``rows`` replaced by the rows of ``fresh`` (new arrays; the old ones are untouched)."""

    def put(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        out = old.copy()
        out[rows] = new
        return out

    return core.State._make(
        (
            tuple(map(put, old, new)) if isinstance(old, tuple) else put(old, new)  # position tuples
            for old, new in zip(state, fresh, strict=True)
        )
    )


class ArbitrageVectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/Arbitrage-v1`` (:class:`~vpp_gym.tasks.ArbitrageEnv`)."""

    single_env_cls = ArbitrageEnv


class LowCarbonVectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/LowCarbon-v1`` (:class:`~vpp_gym.tasks.LowCarbonEnv`)."""

    single_env_cls = LowCarbonEnv


class RegulationVectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/Regulation-v1`` (:class:`~vpp_gym.tasks.RegulationEnv`)."""

    single_env_cls = RegulationEnv


class JointVectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/Joint-v1`` (:class:`~vpp_gym.tasks.JointEnv`)."""

    single_env_cls = JointEnv


class ArbitrageV0VectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/Arbitrage-v0`` (:class:`~vpp_gym.tasks.ArbitrageV0Env`)."""

    single_env_cls = ArbitrageV0Env


class LowCarbonV0VectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/LowCarbon-v0`` (:class:`~vpp_gym.tasks.LowCarbonV0Env`)."""

    single_env_cls = LowCarbonV0Env


class RegulationV0VectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/Regulation-v0`` (:class:`~vpp_gym.tasks.RegulationV0Env`)."""

    single_env_cls = RegulationV0Env


class JointV0VectorEnv(VppVectorEnv):
    """Native vector env of ``vpp_gym/Joint-v0`` (:class:`~vpp_gym.tasks.JointV0Env`)."""

    single_env_cls = JointV0Env


VECTOR_TASKS: dict[str, type[VppVectorEnv]] = {
    cls.single_env_cls.__name__: cls
    for cls in (
        ArbitrageVectorEnv,
        LowCarbonVectorEnv,
        RegulationVectorEnv,
        JointVectorEnv,
        ArbitrageV0VectorEnv,
        LowCarbonV0VectorEnv,
        RegulationV0VectorEnv,
        JointV0VectorEnv,
    )
}
"""Vector env class by single-env class name."""
