"""The market game: ``N`` VPPs bidding into one day-ahead energy market (PettingZoo ``ParallelEnv``).

First slice of issue #17. Needs the ``multi`` extra (``pip install vpp-gym[multi]``): this module
imports PettingZoo, ``import vpp_gym`` does not import this module.

**The game.** ``N`` agents (``"vpp_0"`` ... ``"vpp_{N-1}"``), each a VPP of one v1 task (day-ahead
timeline, :mod:`vpp_gym.core.timeline`) with its own portfolio and config, play the same episode (the
same day, the same realised prices). At every bid step each agent submits its D-1 offer curve for
the interval (the single env's ``da_*`` actions, decoded as there); the curves of all agents clear
together with an exogenous residual stack (the competitor stack of ``vpp_0``'s episode, drawn as the
single env draws it) against the energy need in one uniform-price, marginal-pricing auction
(:func:`vpp_gym.markets.energy.clear_curves`), so each agent's offer can move the price everyone
is paid. At the stack's ties the stack is accepted first, then the agents' marginal segments pro rata.
Each agent's award and the cleared price go into its schedule and are settled at delivery exactly as
in the single env.

**Spaces.** Agent ``i``'s action and observation spaces are those of its single env
(:class:`~vpp_gym.env.VppEnv` of the task with its config): the observation is its own resources,
forecasts and calendar, never a rival's private state. The public results of the clearing (the
cleared price and the agents' total award of the interval) are in every agent's ``info["market"]``
at bid steps; with ``public_obs=True`` they are also two rows appended to every observation:

========================  ==============================================================================
``market_price``          the last cleared day-ahead price / ``price_ref_per_mwh`` (0 before the first)
``market_award``          the agents' total award of that interval / ``need_mw`` (MW if 0; 0 before)
========================  ==============================================================================

**Rewards and info.** Agent ``i``'s reward is its single env's (``reward.scale`` x its profit); its info is its
single env's ledger (``info["energy_da"]["cash"]`` etc.), plus ``info["market"]`` at bid steps:
``price`` (the joint clearing price), ``award_mw`` (the agent's own award), ``total_award_mw`` (all
agents) and ``interval``. Every agent's episode ends at the same step (``terminations`` all True);
then ``agents`` is empty.

**Configs.** ``config`` is one scenario config for all agents or a list of ``N`` (each as accepted
by :class:`~vpp_gym.env.VppEnv`); ``overrides`` is one mapping of dotted keys for all or a list of
``N`` (per-agent overrides, e.g. ``[{}, {"resources.battery.e_max_mwh": 8.0}]``). The default config
is the autonomous preset (``configs/markets/autonomous.yaml``: transaction form, competitor stacks).
The market's rules (the need, the price cap and floor, the stack) are ``vpp_0``'s; the agents must
agree on the time grid, the data (the same episode days), the day-ahead timeline, the transaction
form of energy, the need, cap, floor and the number of curve segments (checked, a
:class:`~vpp_gym.validation.ConfigError` otherwise).

**Seeding.** ``reset(seed=s)`` resets ``vpp_0`` as a single env with seed ``s`` (its day, its draws:
AGC, stacks, forecast errors) and agent ``i`` with seed ``s + i`` on ``vpp_0``'s day. With one agent
the env therefore reproduces the single env: same seed and actions, the same observations, rewards
and ledgers, bit for bit (the joint clearing of one curve is :func:`~vpp_gym.markets.energy.clear_curve`'s
arithmetic in the same order; ``tests/multi/test_equivalence.py``).

**A policy in every seat.** :func:`play` runs an episode with a policy in every seat
(``play(game, {"vpp_0": "mpc", "vpp_1": "rule"}, seed=0)``: each agent's profit, return and ledger totals, the
cleared price and every agent's award of each interval, :class:`GameResult`). A seat's policy is a
:data:`PolicySpec`: a registered name (:mod:`agents.registry`, imported only when a policy is named), a
trained agent's run or published model folder, a mapping ``{"name": ..., **settings}`` or a policy object.
Named policies are built on their seat's single env (:func:`seat_env`: the seat's own config and params,
and its live episode and state, the joint clearing in its schedule), so every baseline reads its own
seat, per-agent configs included: ``passive``, ``random``, ``rule`` and ``microgrid`` read the seat's
config, params and observation; a trained agent is checked against the seat's layouts (the public rows
included with ``public_obs``); ``mpc`` plays as a price-taker (:class:`PriceTakerSeat`: it plans on its
seat's forecasts and params without competitor stacks, reading its seat's live episode and schedule).
The ``oracle`` cannot play a seat: its perfect foresight would include the clearing of its offers, which
depends on the other seats' offers (a :class:`~vpp_gym.validation.ConfigError` naming the seat says so).

**The single-agent view** (``gymnasium.make("vpp_gym/MarketGame-v0", seat=..., rivals=...)``,
:class:`MarketGameEnv`): one learner seat, the other seats played by given policies inside ``step``; the
learner's spaces, its reward (``reward.scale`` x its profit, as in its single env), its info. SB3 trains
on it unchanged. Named rivals that take a seed (MPC's forecast errors, random) are remade at every
episode with :func:`policy_seed` of the episode's seed and their seat, as :func:`play` seeds them: the
same seed gives the same trajectory, bit for bit.

**Limitations of this slice** (issue #17 asks for more):

- Only the day-ahead energy offers clear jointly. The other products (regulation, reserve, demand
  response, intraday, real time) stay per agent as in the single env: each agent clears its
  capacity offers against its own drawn competitor stack, and rivals do not move those prices.
- The agents are rows of the batched core (:class:`~vpp_gym.vector.VppVectorEnv`, about 0.7 ms per
  step for 1 agent, 1.5 ms for 10, 5 ms for 50 on Arbitrage-v1) only when they share one config.
  Per-agent configs give per-agent core params, which the batched core does not take yet: then the
  agents run as ``N`` single cores (one :class:`~vpp_gym.env.VppEnv` each, stepped one after the
  other; about 0.3 ms per agent and step). Both paths give the same trajectories, bit for bit
  (``tests/multi/test_multi_equivalence.py``).
- Without a competitor stack (``markets.energy.competitors.n_offers: 0``) the agents alone meet the
  need (:func:`~vpp_gym.markets.energy.clear_curve`'s ``M = 0`` rule), unlike the single env, which is
  then a price-taker.
- Reset options: ``split`` and ``day`` as for the single env; any other key is not used and says so
  in a warning (not an error: PettingZoo's API test passes one).
- A seat's policy needs the agents as single cores (``batched=False``; :func:`play` refuses the batched
  core, which has no single env per seat to read). The single-agent view always runs them so: about
  1.4 ms per step with one passive rival, 1.9 ms with one rule rival, 6 ms with nine (Arbitrage-v1,
  15-minute intervals; MPC rivals about 10 times slower, their solves).
- MPC plays a seat as a price-taker (it bids its planned schedule as flat curves at every price and its
  capacity at 0, planning on forecast prices): the competitive reference, not a strategic bidder. A
  strategic planner (one that models the residual stack and its rivals) is not built.
- A trained agent plays a seat only with the layout it was trained on: the published v1 models were
  trained on the price-taker preset and are refused in the game (the autonomous preset opens more
  products and prices the offers: other rows).
- A policy object given for a seat is used as it is: it is not reseeded with the episode's seed.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

try:
    from pettingzoo import ParallelEnv
except ModuleNotFoundError as _err:  # pragma: no cover - depends on the installation
    if _err.name != "pettingzoo":
        raise
    raise ModuleNotFoundError(
        "vpp_gym.multi (the market game, vpp_gym/MarketGame-v0) needs PettingZoo, in the 'multi' extra: "
        'pip install "vpp-gym[multi]"',
        name="pettingzoo",
    ) from None

from vpp_gym import core, ledger
from vpp_gym.config import ScenarioConfig, packaged_config
from vpp_gym.env import VppEnv
from vpp_gym.markets import energy
from vpp_gym.validation import ConfigError
from vpp_gym.vector import VECTOR_TASKS, VppVectorEnv

ConfigLike = str | Path | dict[str, Any] | ScenarioConfig | None

OFFER_KEYS = ("offer_low_mw", "offer_high_mw", "offer_mid_price", "offer_spread")
"""The ledger entries (under ``energy_da``) of a bid step that describe the agent's offer curve."""

DEFAULT_CONFIG = "markets/autonomous.yaml"
"""The default config of every agent (below ``configs/``): the price-maker preset."""


def task_class(task: str | type[VppEnv]) -> type[VppEnv]:
    """The single-env class of a task: a :class:`~vpp_gym.env.VppEnv` subclass or a registered id."""
    if isinstance(task, type) and issubclass(task, VppEnv):
        return task
    if isinstance(task, str):
        entry = gymnasium.spec(task).entry_point
        cls = gymnasium.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
        if isinstance(cls, type) and issubclass(cls, VppEnv):
            return cls
    raise ValueError(f"task={task!r}; expected a registered vpp_gym id (e.g. 'vpp_gym/Arbitrage-v1') or a VppEnv class")


def _per_agent(value: Any, n: int, what: str) -> list[Any]:
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise ValueError(f"{what}: {len(value)} entries for {n} agents; pass one for all or a list of {n}")
        return list(value)
    return [value] * n


class MultiVppEnv(ParallelEnv[str, np.ndarray, np.ndarray]):
    """``N`` VPPs of one v1 task in one day-ahead energy market; see the module docstring for the spec.

    Arguments:
        task: the single-env task, a registered id (``"vpp_gym/Arbitrage-v1"``) or its class.
        n_agents: the number of agents ``N``; default the length of the ``config`` or ``overrides``
            list, else 2.
        config: one scenario config for every agent or a list of ``N`` (default the autonomous preset).
        overrides: one mapping of dotted keys for every agent or a list of ``N`` (per-agent overrides).
        split: the split resets draw the day from (``"train"``, ``"val"``, ``"test"``).
        public_obs: append the last clearing's public result (``market_price``, ``market_award``) to
            every observation (default False: each agent observes exactly what its single env does).
        batched: run the agents as rows of the batched core (:class:`~vpp_gym.vector.VppVectorEnv`);
            needs one config for all. Default: batched when every agent's config is the same and
            ``N > 1``, else ``N`` single cores. Both give the same trajectories, bit for bit.
    """

    metadata: dict[str, Any] = {"name": "vpp_gym_multi_v0", "render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        task: str | type[VppEnv] = "vpp_gym/Arbitrage-v1",
        n_agents: int | None = None,
        config: ConfigLike | Sequence[ConfigLike] = None,
        overrides: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        *,
        split: str = "train",
        public_obs: bool = False,
        batched: bool | None = None,
    ) -> None:
        cls = task_class(task)
        if n_agents is None:
            n_agents = next((len(v) for v in (config, overrides) if isinstance(v, list | tuple)), 2)
        if isinstance(n_agents, bool) or not isinstance(n_agents, int) or n_agents < 1:
            raise ValueError(f"n_agents={n_agents!r}; expected an integer >= 1")
        configs = _per_agent(config, n_agents, "config")
        configs = [packaged_config(DEFAULT_CONFIG) if c is None else c for c in configs]
        overs = _per_agent(overrides, n_agents, "overrides")
        self.envs: list[VppEnv] = [
            cls(c, dict(o) if o else None, split=split) for c, o in zip(configs, overs, strict=True)
        ]
        self.possible_agents = [f"vpp_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self._check_market()
        same = all(e.config == self.envs[0].config for e in self.envs[1:])
        if batched and not same:
            raise ValueError("batched=True needs the same config for every agent (the rows share the core's params)")
        self._vec: VppVectorEnv | None = None
        if (same and n_agents > 1) if batched is None else batched:
            vec_cls = VECTOR_TASKS.get(cls.__name__) or type(
                f"{cls.__name__}Vector", (VppVectorEnv,), {"single_env_cls": cls}
            )
            self._vec = vec_cls(
                n_agents, configs[0], dict(overs[0]) if overs[0] else None, split=split, autoreset_mode="Disabled"
            )
        pairs = list(zip(self.possible_agents, self.envs, strict=True))
        self.public_obs = bool(public_obs)
        self._public = np.zeros(2, dtype=np.float32)  # the last clearing's public result, as observed
        self._observation_spaces = {a: self._obs_space(e) for a, e in pairs}
        self._action_spaces = {a: e.action_space for a, e in pairs}

    def _obs_space(self, env: VppEnv) -> spaces.Box:
        """The agent's single-env observation space, with the public rows appended if ``public_obs``."""
        box = env.observation_space
        assert isinstance(box, spaces.Box)
        if not self.public_obs:
            return box
        p0 = self.envs[0].params
        em0 = p0.cfg.markets.energy
        ref = p0.price_ref_per_mwh
        pmax = sum(e.params.cfg.markets.energy.position_max_mw for e in self.envs) / (em0.need_mw or 1.0)
        low = [min(em0.price_floor_per_mwh, 0.0) / ref, -pmax]
        high = [max(em0.price_cap_per_mwh, 0.0) / ref, pmax]
        return spaces.Box(
            np.concatenate([box.low, np.array(low, dtype=np.float32)]),
            np.concatenate([box.high, np.array(high, dtype=np.float32)]),
            dtype=np.float32,
        )

    def _with_public(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.public_obs:
            return obs
        return {a: np.concatenate([o, self._public]) for a, o in obs.items()}

    def _check_market(self) -> None:
        env0 = self.envs[0]
        p0 = env0.params
        if not p0.day_ahead or not p0.energy_transaction:
            raise ConfigError(
                "the market game needs the day-ahead timeline and the transaction form of energy "
                "(markets.energy.timeline: day_ahead, markets.energy.form: transaction; e.g. the "
                f"{DEFAULT_CONFIG} preset over a v1 task)"
            )
        em0 = p0.cfg.markets.energy
        for i, env in enumerate(self.envs[1:], start=1):
            p, em = env.params, env.params.cfg.markets.energy
            same = {
                "time": p.cfg.time == p0.cfg.time,
                "data (the episode days)": all(
                    np.array_equal(env.series.timestamps[env.episode_starts[s]], env0.series.timestamps[v])
                    for s, v in env0.episode_starts.items()
                ),
                "markets.energy.timeline": p.day_ahead,
                "markets.energy.form": p.energy_transaction,
                "markets.energy.need_mw": em.need_mw == em0.need_mw,
                "markets.energy.price_cap_per_mwh": em.price_cap_per_mwh == em0.price_cap_per_mwh,
                "markets.energy.price_floor_per_mwh": em.price_floor_per_mwh == em0.price_floor_per_mwh,
                "markets.energy.curve_segments": em.curve_segments == em0.curve_segments,
                "markets.energy.gate_hour": em.gate_hour == em0.gate_hour,
            }
            bad = [k for k, ok in same.items() if not ok]
            if bad:
                raise ConfigError(f"agent vpp_{i}: {bad[0]} differs from vpp_0's; the agents share one market")

    # -- PettingZoo API ---------------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Space[Any]:
        """Agent ``agent``'s observation space: its single env's."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        """Agent ``agent``'s action space: its single env's."""
        return self._action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode for every agent on one day (see the module docstring for seeding and options)."""
        unused = sorted(set(options or {}) - {"split", "day"})
        if unused:  # not silently: PettingZoo's API test passes an arbitrary key, so a warning, not an error
            warnings.warn(f"MultiVppEnv.reset: options {unused} are not used (only 'split' and 'day')", stacklevel=2)
        opts = {k: v for k, v in (options or {}).items() if k in ("split", "day")}
        self._public = np.zeros(2, dtype=np.float32)
        self.agents = list(self.possible_agents)
        if self._vec is not None:
            return self._reset_rows(seed, opts)
        obs: dict[str, np.ndarray] = {}
        infos: dict[str, dict[str, Any]] = {}
        for i, (agent, env) in enumerate(zip(self.possible_agents, self.envs, strict=True)):
            if i > 0:
                opts = {**opts, "day": infos["vpp_0"]["day_index"], "split": infos["vpp_0"]["split"]}
            obs[agent], infos[agent] = env.reset(seed=None if seed is None else seed + i, options=opts)
        return self._with_public(obs), infos

    def _reset_rows(
        self, seed: int | None, opts: dict[str, Any]
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """``reset`` on the batched core: row ``i`` seeded ``seed + i``; the rows > 0 get row 0's day."""
        vec, env0, n = self._vec, self.envs[0], len(self.possible_agents)
        assert vec is not None
        split = opts.get("split", env0.default_split)
        day = env0.parse_day(split, opts.get("day")) if split in env0.episode_starts else opts.get("day")
        if day is None:  # row 0 draws its day first from its generator: read that draw from a copy
            for i in range(n):
                if seed is not None or vec._rngs[i] is None:
                    vec._rngs[i] = seeding.np_random(None if seed is None else seed + i)[0]
            rng0 = vec._rngs[0]
            assert rng0 is not None
            day = int(copy.deepcopy(rng0).integers(len(env0.episode_starts[split])))
            obs, info = vec.reset(options={"split": split, "day": [None] + [day] * (n - 1)})
        else:
            obs, info = vec.reset(seed=seed, options={"split": split, "day": [day] * n})
        infos = {
            a: {
                "split": str(info["split"][i]),
                "day_index": int(info["day_index"][i]),
                "start": str(info["start"][i]),
                "local_date": str(info["local_date"][i]),
            }
            for i, a in enumerate(self.possible_agents)
        }
        return self._with_public({a: obs[i] for i, a in enumerate(self.possible_agents)}), infos

    def step(
        self, actions: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]]:
        """Step every agent one step; at a bid step clear the agents' energy curves jointly."""
        if not self.agents:
            raise RuntimeError("the episode has ended (or reset() was not called); call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions: no action for agent {missing[0]!r}; every live agent acts every step")
        if self._vec is not None:
            return self._step_rows(actions)
        p0 = self.envs[0].params
        s0 = self.envs[0].state
        assert s0 is not None
        bidding = bool(p0.schedule.bid[s0.k])
        obs, rewards, terms, truncs, infos = {}, {}, {}, {}, {}
        for agent, env in zip(self.agents, self.envs, strict=True):
            obs[agent], rewards[agent], terms[agent], truncs[agent], infos[agent] = env.step(actions[agent])
        if bidding:
            interval = int(p0.schedule.interval[s0.k])
            offers = [infos[a]["energy_da"] for a in self.agents]
            pos, cleared = self._clear(interval, *(np.array([o[k] for o in offers], np.float64) for k in OFFER_KEYS))
            for j, (agent, env) in enumerate(zip(self.agents, self.envs, strict=True)):
                s, ep = env.state, env.episode
                assert s is not None and ep is not None
                slot = interval % env.params.schedule.ring
                award = float(pos[j])
                # the env's own clearing (its curve alone against the stack) is replaced by the joint one
                env._state = s._replace(
                    da_mw=(*s.da_mw[:slot], award, *s.da_mw[slot + 1 :]),
                    da_price=(*s.da_price[:slot], cleared, *s.da_price[slot + 1 :]),
                )
                obs[agent] = core.observe_one(env.params, env._state, ep)
                infos[agent]["market"] = self._market(interval, award, cleared, pos)
        rewards = {a: float(r) for a, r in rewards.items()}
        if any(terms.values()):
            self.agents = []
        return self._with_public(obs), rewards, terms, truncs, infos

    def _step_rows(
        self, actions: dict[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]]:
        """``step`` on the batched core: the agents are its rows."""
        vec = self._vec
        assert vec is not None and vec._state is not None
        p = vec.params
        k = int(vec._state.k[0])
        a = np.stack([np.asarray(actions[agent], dtype=np.float32) for agent in self.agents])
        obs_b, rew_b, term_b, trunc_b, info_b = vec.step(a)
        market: dict[str, Any] | None = None
        pos = np.zeros(0)
        if p.schedule.bid[k]:
            interval = int(p.schedule.interval[k])
            pos, cleared = self._clear(
                interval, *(np.asarray(info_b["energy_da"][key], np.float64) for key in OFFER_KEYS)
            )
            s = vec._state
            slot = interval % p.schedule.ring
            # the rows' own clearings (each curve alone against its stack) are replaced by the joint one
            vec._state = s._replace(
                da_mw=(*s.da_mw[:slot], pos, *s.da_mw[slot + 1 :]),
                da_price=(*s.da_price[:slot], np.full(len(pos), cleared), *s.da_price[slot + 1 :]),
            )
            obs_b = vec._observe()
            market = {"interval": interval, "price": cleared}
        obs, rewards, terms, truncs, infos = {}, {}, {}, {}, {}
        for i, agent in enumerate(self.agents):
            obs[agent] = obs_b[i]
            rewards[agent], terms[agent], truncs[agent] = float(rew_b[i]), bool(term_b[i]), bool(trunc_b[i])
            info = {
                g: (
                    {key: _item(v[i]) for key, v in sub.items() if not key.startswith("_")}
                    if isinstance(sub, dict)
                    else _item(sub[i])
                )
                for g, sub in info_b.items()
                if not g.startswith("_")
            }
            if market is not None:
                info["market"] = self._market(market["interval"], float(pos[i]), market["price"], pos)
            infos[agent] = info
        if any(terms.values()):
            self.agents = []
        return self._with_public(obs), rewards, terms, truncs, infos

    def _clear(
        self, interval: int, lo: np.ndarray, hi: np.ndarray, mid: np.ndarray, spread: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """The joint clearing of the agents' curves for ``interval`` (as ``core.bid_transition`` decodes them)
        with ``vpp_0``'s competitor stack: ``(awards (N,), price)``; records the public result."""
        env0 = self.envs[0]
        em = env0.params.cfg.markets.energy
        base, prices, steps = energy.ladder(lo, hi, mid, spread, em.curve_segments)
        prices = np.clip(prices, em.price_floor_per_mwh, em.price_cap_per_mwh)
        ep0 = self._vec._ep if self._vec is not None else env0.episode
        assert ep0 is not None
        stack = ep0.stacks.get("energy")
        if stack is None:
            stack_mw, stack_price = np.zeros((1, 0)), np.zeros((1, 0))
        else:
            stack_mw, stack_price = stack[0][0:1, interval], stack[1][0:1, interval]
        pos, price = energy.clear_curves(
            base[None],
            prices[None],
            steps[None],
            stack_mw,
            stack_price,
            np.full(1, em.need_mw),
            em.price_cap_per_mwh,
            em.price_floor_per_mwh,
        )
        cleared = float(price[0])
        total = float(np.sum(pos[0]))
        ref = env0.params.price_ref_per_mwh
        self._public = np.array([cleared / ref, total / (em.need_mw or 1.0)], dtype=np.float32)
        return pos[0], cleared

    @staticmethod
    def _market(interval: int, award: float, price: float, pos: np.ndarray) -> dict[str, Any]:
        return {"price": price, "award_mw": award, "total_award_mw": float(np.sum(pos)), "interval": interval}

    def render(self) -> None:
        """No rendering."""

    def close(self) -> None:
        """Nothing to release."""


def _item(value: Any) -> Any:
    """A NumPy scalar as the Python scalar the single env reports (other values as they are)."""
    return value.item() if isinstance(value, np.generic) else value


def parallel_env(**kwargs: Any) -> MultiVppEnv:
    """PettingZoo-style constructor: ``vpp_gym.multi.parallel_env(task=..., n_agents=...)``."""
    return MultiVppEnv(**kwargs)


# -- a policy in every seat ---------------------------------------------------------------------------------------


@runtime_checkable
class SeatPolicy(Protocol):
    """What plays a seat: the two methods of :class:`agents.base.Policy` (``agents`` is imported only to build
    a named policy)."""

    def reset(self) -> None:
        """Forget any per-episode memory."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The seat's action for its observation and last info."""


PolicySpec = str | Path | Mapping[str, Any] | SeatPolicy
"""A seat's policy: a registered name (``"rule"``, ``"mpc"``, ``"passive"``, ...; :mod:`agents.registry`), a
run or published model folder of a trained agent, a mapping ``{"name": NAME, **settings}`` (e.g.
``{"name": "mpc", "replan_every": 8}``, ``{"name": "ppo", "run": FOLDER}``) or a policy object
(``reset()`` and ``act(obs, info)``, used as it is: give each seat its own object when the policy keeps
a memory of the episode, as the rule does)."""

PUBLIC_ROWS = ("market_price", "market_award")
"""The names of the public rows appended to every observation with ``public_obs=True``."""

PRICE_TAKERS = frozenset({"mpc"})
"""Registered policies that plan as price-takers: they are built on :class:`PriceTakerSeat` (see there)."""


def seat_index(multi: MultiVppEnv, seat: int | str, key: str = "seat") -> int:
    """The index of ``seat`` (an index ``0..N-1`` or an agent name); a :class:`ConfigError` naming ``key`` otherwise."""
    agents = multi.possible_agents
    if isinstance(seat, str) and seat in agents:
        return agents.index(seat)
    if isinstance(seat, int | np.integer) and not isinstance(seat, bool) and 0 <= seat < len(agents):
        return int(seat)
    raise ConfigError(
        f"{key}={seat!r}: no such seat in a game of {len(agents)} agents; expected an index 0..{len(agents) - 1} "
        f"or one of {', '.join(agents)}"
    )


def seat_env(multi: MultiVppEnv, seat: int | str) -> VppEnv:
    """The single env of ``seat`` as its policy reads it: config, params, layouts, and (after a reset) the
    seat's live episode and state, with the joint clearing's awards and prices in its schedule.

    Needs the agents as single cores (``MultiVppEnv(..., batched=False)``): the rows of the batched core have no
    single env to read (a :class:`ConfigError` naming ``batched``).
    """
    i = seat_index(multi, seat)
    if multi._vec is not None:
        raise ConfigError(
            "batched: this MultiVppEnv runs its agents as rows of the batched core, which a seat's policy cannot "
            "read (a planner reads its seat's live episode and state); construct it with batched=False"
        )
    return multi.envs[i]


def without_stacks(cfg: ScenarioConfig) -> ScenarioConfig:
    """``cfg`` with every market's competitor stack removed (``competitors.n_offers: 0``); the rest unchanged."""
    mk = cfg.markets
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(mk):
        market = getattr(mk, f.name)
        comp = getattr(market, "competitors", None)
        if comp is not None and comp.n_offers > 0:
            changes[f.name] = dataclasses.replace(market, competitors=dataclasses.replace(comp, n_offers=0))
    return dataclasses.replace(cfg, markets=dataclasses.replace(mk, **changes)) if changes else cfg


class PriceTakerSeat(VppEnv):
    """A seat as a price-taking planner sees it: the seat's live episode and state, its params without stacks.

    MPC (:class:`agents.mpc.MpcPolicy`) plans from forecasts of published prices and refuses a market that
    clears against a competitor stack (planning a price-maker's offers without knowing the stack is not
    modelled). In the game no stack of its own clears a seat's energy anyway: the joint clearing does, with
    the other seats' curves, which no one knows before they are made. So MPC plays a seat as a
    **price-taker**: it plans on the seat's params with every market's competitor stack removed
    (:func:`without_stacks`: day-ahead energy and capacity at its forecast prices), bids its planned schedule
    as flat (price-independent) curves and offers its capacity at 0, as in the single env without stacks;
    the seat is then cleared and settled as every seat is (the joint clearing's award and price; its
    capacity offers against its own stack). The rest of what MPC reads is the seat's own: its config and
    resources, its series, and through :meth:`live` its live episode (realised series to draw forecasts
    from, its forecast errors) and state (the joint awards and prices in the schedule rings).

    Not steppable: reset and step the game.
    """

    def __init__(self, seat: VppEnv) -> None:
        # no VppEnv.__init__: the seat's series, spaces and layouts are shared, not rebuilt
        self.__dict__.update(seat.__dict__)
        self.seat = seat
        self.config = without_stacks(seat.config)
        self.params = core.CoreParams.from_series(self.config, seat.series)
        same = self.params.action_names == seat.params.action_names and (
            self.params.observation_layout() == seat.params.observation_layout()
        )
        if not same:  # pragma: no cover - the stacks enter the clearing only
            raise RuntimeError("removing the competitor stacks changed the seat's layouts")

    @property
    def episode(self) -> core.EpisodeData | None:
        """The seat's current episode."""
        return self.seat.episode

    @property
    def state(self) -> core.State | None:
        """The seat's current state."""
        return self.seat.state

    def live(self) -> tuple[core.EpisodeData, core.State]:
        """The seat's current episode and state (:meth:`vpp_gym.env.VppEnv.live`)."""
        return self.seat.live()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Not steppable: a RuntimeError."""
        raise RuntimeError("a PriceTakerSeat is a planning view of a seat of the market game; reset the game")

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Not steppable: a RuntimeError."""
        raise RuntimeError("a PriceTakerSeat is a planning view of a seat of the market game; step the game")


@dataclass(frozen=True)
class _Layout:
    """What a trained agent's loader checks of an env: its config and layouts (the seat's, with the public rows)."""

    config: ScenarioConfig
    observation_names: tuple[str, ...]
    action_names: tuple[str, ...]


def policy_seed(seed: int, index: int) -> int:
    """The seed of the policy in seat ``index`` for an episode seeded ``seed``: ``SeedSequence([seed, index])``'s
    first word (independent of the seat env's own draws, which are seeded ``seed + index``)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _registry() -> Any:
    """:mod:`agents.registry`, imported when a policy is named (``vpp_gym`` itself never imports ``agents``)."""
    try:
        from agents import registry
    except ModuleNotFoundError as err:  # pragma: no cover - agents ships with vpp_gym
        raise ModuleNotFoundError(
            f"naming a seat's policy needs the agents package of vpp-gym ({err}); pass policy objects instead"
        ) from err
    return registry


@dataclass
class _Player:
    """The policy of one seat and how it was made (named policies that take a seed are remade each episode)."""

    index: int
    agent: str
    name: str | None  # the registered name, None for a policy object or a model folder
    settings: dict[str, Any]
    env: Any  # what the named policy is built on
    policy: SeatPolicy

    @property
    def reseeded(self) -> bool:
        """Whether the policy is remade with the episode's seed at every episode."""
        if self.name is None or "seed" in self.settings:
            return False
        return "seed" in _registry().policy_entry(self.name).settings

    def start(self, episode_seed: int) -> None:
        """Start an episode: remake a seeded policy with the seat's episode seed, then reset it."""
        if self.reseeded:
            self.policy = _registry().make_policy(
                self.name, self.env, seed=policy_seed(episode_seed, self.index), **self.settings
            )
        self.policy.reset()


def _player(multi: MultiVppEnv, index: int, spec: PolicySpec, key: str) -> _Player:
    """Build the policy ``spec`` for seat ``index`` (errors name ``key.<agent>``)."""
    agent = multi.possible_agents[index]
    where = f"{key}.{agent}"
    if not isinstance(spec, str | Path | Mapping):
        if isinstance(spec, SeatPolicy):
            return _Player(index, agent, None, {}, None, spec)
        raise ConfigError(
            f"{where}={spec!r}: expected a policy name, a model folder, a mapping {{name: NAME, settings...}} "
            "or a policy object (reset() and act(obs, info))"
        )
    settings: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        settings = dict(spec)
        name = settings.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(f"{where}.name={name!r}: expected a registered policy name (e.g. 'mpc')")
    else:
        name = str(spec)
    registry = _registry()
    env = seat_env(multi, index)
    if name not in registry.policy_names():
        if Path(name).is_dir():
            return _Player(index, agent, None, {}, None, _trained(multi, env, name, where))
        names = ", ".join(n for n in registry.policy_names(trained=False) if n != "oracle")
        raise ConfigError(
            f"{where}: unknown policy {name!r} (and no such folder); expected one of {names}, "
            "a trained agent's run or published model folder, "
            f"or a mapping {{name: NAME, settings...}} (a trained agent: {{name: ppo, run: FOLDER}})"
        )
    if name == "oracle":
        raise ConfigError(
            f"{where}: the oracle cannot play seat {agent} of the market game: it plans with perfect foresight of "
            f"its market's clearing, and the joint clearing of {agent}'s offers depends on the other seats' "
            "offers, unknown until they are made; use 'mpc' (a price-taker planning on forecasts) instead"
        )
    entry = registry.policy_entry(name)
    if entry.trained:
        run = settings.get("run")
        if run is None:
            raise ConfigError(f"{where}: {name!r} is a trained agent: give its folder, {{name: {name}, run: FOLDER}}")
        if registry.run_algo(run) != name:
            raise ConfigError(f"{where}: {run} is not a {name} run")
        return _Player(index, agent, None, {}, None, _trained(multi, env, run, where))
    target = PriceTakerSeat(env) if name in PRICE_TAKERS else env
    try:
        policy = registry.make_policy(name, target, **{"seed": policy_seed(0, index), **settings})
    except TypeError as err:  # a setting no policy takes
        raise ConfigError(f"{where}: {err}") from None
    return _Player(index, agent, name, settings, target, policy)


def _trained(multi: MultiVppEnv, env: VppEnv, run: str | Path, where: str) -> SeatPolicy:
    """A trained agent from a run or published model folder, checked against the seat's layouts."""
    from agents.rl.policy import RlPolicy

    names = env.observation_names + (PUBLIC_ROWS if multi.public_obs else ())
    try:
        return RlPolicy.load(run, env=_Layout(env.config, names, env.action_names))
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _all_seats(multi: MultiVppEnv, policies: Mapping[str, PolicySpec] | Sequence[PolicySpec], key: str) -> list[Any]:
    """One spec per seat from a mapping agent -> spec or a list in seat order."""
    agents = multi.possible_agents
    if isinstance(policies, Mapping):
        unknown = [a for a in policies if a not in agents]
        if unknown:
            raise ConfigError(f"{key}.{unknown[0]}: no such seat; the seats are {', '.join(agents)}")
        missing = [a for a in agents if a not in policies]
        if missing:
            raise ConfigError(f"{key}: no policy for {missing[0]}; give one for every seat ({', '.join(agents)})")
        return [policies[a] for a in agents]
    if isinstance(policies, str | Path) or not isinstance(policies, Sequence):
        raise ConfigError(f"{key}: expected a mapping agent -> policy or a list of {len(agents)} (one per seat)")
    if len(policies) != len(agents):
        raise ConfigError(f"{key}: {len(policies)} policies for {len(agents)} seats; give one per seat")
    return list(policies)


@dataclass(frozen=True)
class GameResult:
    """One episode of the market game with a policy in every seat (:func:`play`).

    Attributes:
        profits: each agent's profit over the episode (currency; its ledger's ``profit`` summed).
        rewards: each agent's return (the sum of its rewards: ``reward.scale`` x its profit, step by step).
        totals: each agent's summed ledger (``profit``, ``reward``, ``group.item`` -> total; the entries
            that add up, :attr:`vpp_gym.ledger.Entry.summed`).
        intervals: the intervals bid for, ascending ``(T,)``.
        prices: the day-ahead price the joint clearing set for each of them ``(T,)``.
        awards_mw: each agent's day-ahead award of each of them ``(T,)``.
        split, day_index: the episode's day.
        steps: the steps of the episode.
    """

    profits: dict[str, float]
    rewards: dict[str, float]
    totals: dict[str, dict[str, float]]
    intervals: np.ndarray
    prices: np.ndarray
    awards_mw: dict[str, np.ndarray]
    split: str
    day_index: int
    steps: int


def _summed(info: Mapping[str, Any], into: dict[str, float]) -> None:
    """Add the step's summed ledger entries of ``info`` (``profit``, ``group.item``) into ``into``."""
    flat = [(g, v) for g, v in info.items() if not isinstance(v, Mapping)]
    flat += [(f"{g}.{k}", v) for g, sub in info.items() if isinstance(sub, Mapping) for k, v in sub.items()]
    for key, value in flat:
        entry = ledger.BY_KEY.get(key)
        if entry is not None and entry.summed and isinstance(value, int | float) and not isinstance(value, bool):
            into[key] = into.get(key, 0.0) + float(value)


def play(
    multi: MultiVppEnv,
    policies: Mapping[str, PolicySpec] | Sequence[PolicySpec],
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
) -> GameResult:
    """Play one episode of ``multi`` with a policy in every seat.

    Arguments:
        multi: the game, with its agents as single cores (``MultiVppEnv(..., batched=False)``; see :func:`seat_env`).
        policies: one :data:`PolicySpec` per seat, a mapping agent -> spec (``{"vpp_0": "mpc", "vpp_1": "rule"}``)
            or a list in seat order. Named policies are built on their seat (:func:`seat_env`; MPC on
            :class:`PriceTakerSeat`); the oracle cannot play a seat (a :class:`ConfigError` says why).
        seed: the episode's seed: ``multi.reset(seed=seed)``, and the named policies that take a seed (MPC's
            forecast errors, random) get ``policy_seed(seed, i)`` in seat ``i`` (fresh entropy if None), as the
            single-agent view :class:`MarketGameEnv` seeds its rivals: the same seed gives the same episode.
        options: reset options (``split``, ``day``).

    Returns:
        the profits, ledger totals, cleared prices and awards of the episode (:class:`GameResult`).
    """
    specs = _all_seats(multi, policies, "policies")
    players = [_player(multi, i, spec, "policies") for i, spec in enumerate(specs)]
    episode_seed = int(np.random.SeedSequence().generate_state(1)[0]) if seed is None else seed
    obs, infos = multi.reset(seed=seed, options=options)
    first = infos[multi.possible_agents[0]]
    for player in players:
        player.start(episode_seed)
    returns = dict.fromkeys(multi.possible_agents, 0.0)
    totals: dict[str, dict[str, float]] = {a: {} for a in multi.possible_agents}
    prices: dict[int, float] = {}
    awards: dict[str, dict[int, float]] = {a: {} for a in multi.possible_agents}
    steps = 0
    while multi.agents:
        actions = {p.agent: p.policy.act(obs[p.agent], infos[p.agent]) for p in players}
        obs, rewards, _terms, _truncs, infos = multi.step(actions)
        steps += 1
        for agent, info in infos.items():
            returns[agent] += rewards[agent]
            _summed(info, totals[agent])
            market = info.get("market")
            if market is not None:
                prices[market["interval"]] = market["price"]
                awards[agent][market["interval"]] = market["award_mw"]
    intervals = np.array(sorted(prices), dtype=np.int64)
    return GameResult(
        profits={a: totals[a].get("profit", 0.0) for a in multi.possible_agents},
        rewards=returns,
        totals=totals,
        intervals=intervals,
        prices=np.array([prices[i] for i in intervals], dtype=np.float64),
        awards_mw={a: np.array([awards[a][i] for i in intervals], dtype=np.float64) for a in awards},
        split=str(first["split"]),
        day_index=int(first["day_index"]),
        steps=steps,
    )


# -- the single-agent view ----------------------------------------------------------------------------------------


def _rival_specs(multi: MultiVppEnv, learner: int, rivals: Any) -> dict[int, Any]:
    """One spec per rival seat (index -> spec) from one spec for all, a list of ``N - 1`` or a mapping agent -> spec."""
    agents = multi.possible_agents
    seats = [i for i in range(len(agents)) if i != learner]
    if isinstance(rivals, Mapping) and "name" not in rivals:  # agent -> spec (a mapping with a name is one spec)
        for a in rivals:
            if a not in agents:
                raise ConfigError(
                    f"rivals.{a}: no such seat; the seats are {', '.join(agents)} (one policy with settings for "
                    "every rival is a mapping with a 'name')"
                )
            if a == agents[learner]:
                raise ConfigError(f"rivals.{a}: {a} is the learner's seat (seat={learner}); give the other seats only")
        missing = [agents[i] for i in seats if agents[i] not in rivals]
        if missing:
            raise ConfigError(f"rivals: no policy for {missing[0]}; give one for every seat but the learner's")
        return {i: rivals[agents[i]] for i in seats}
    if isinstance(rivals, list | tuple):
        if len(rivals) != len(seats):
            raise ConfigError(
                f"rivals: {len(rivals)} policies for {len(seats)} rival seats ({', '.join(agents[i] for i in seats)}); "
                f"give one for all, a list of {len(seats)} in seat order (the learner's seat left out) or a mapping "
                "agent -> policy"
            )
        return dict(zip(seats, rivals, strict=True))
    return dict.fromkeys(seats, rivals)


class MarketGameEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """One seat of the market game (:class:`MultiVppEnv`) as a Gymnasium env: ``vpp_gym/MarketGame-v0``.

    A learner plays one seat; the other seats are played by given policies (the rivals) inside ``step``.
    SB3 and every single-agent tool train and evaluate on it unchanged. Needs the ``multi`` extra.

    ## Action Space

    The learner seat's: its single env's ``Box(-1, 1, (A,))``, decoded as there (the task's spec in
    :mod:`vpp_gym.tasks`); its day-ahead curves clear jointly with the rivals' and the residual stack.

    ## Observation Space

    The learner seat's observation in the game: its single env's (:attr:`observation_names`), with the two
    public rows ``market_price`` and ``market_award`` appended if ``public_obs`` (module docstring).

    ## Rewards

    The learner's reward in its single env: ``reward.scale`` x its profit of the step (``info["profit"]``,
    in currency), with the day-ahead award and price of the joint clearing settled at delivery.

    ## Info

    The learner's info in the game: its ledger, and ``info["market"]`` at bid steps (the joint clearing's
    ``price``, the learner's ``award_mw``, all seats' ``total_award_mw``, the ``interval``).

    ## Episode End

    As the single env's: terminated after the last dispatch step, never truncated.

    ## Arguments

    - ``task``, ``n_agents``, ``config``, ``overrides``, ``split``, ``public_obs``: the game's
      (:class:`MultiVppEnv`; ``n_agents`` defaults to the length of a list of ``config``, ``overrides`` or
      ``rivals`` (plus the learner), else 2). The agents run as single cores (``batched=False``), so that a
      rival's policy reads its own seat.
    - ``seat``: the learner's seat, an index ``0..N-1`` or an agent name (default 0, ``"vpp_0"``).
    - ``rivals``: the rivals' policies (:data:`PolicySpec` each): one for all (default ``"rule"``), a list of
      ``N - 1`` in seat order with the learner's seat left out, or a mapping agent -> policy (a mapping with a
      ``name`` key is one policy with settings, for all). Each is built on its own seat (its config and
      params, :func:`seat_env`), MPC as a price-taker (:class:`PriceTakerSeat`); a trained agent's layouts
      are checked against its seat's. The oracle cannot play a seat.

    ## Seeding

    ``reset(seed=s)`` resets the game with seed ``s`` (the seats' draws, module docstring) and remakes every
    named rival that takes a seed (MPC's forecast errors, random) with ``policy_seed(s, i)`` in seat ``i``;
    an unseeded reset draws that episode seed from the env's generator. The same seed gives the same
    trajectory, bit for bit, and the same as :func:`play` with the learner's actions in its seat.

    ## Version History

    * v0: first version (issue #17): day-ahead energy clears jointly; the rest of the game's limitations
      are in the module docstring.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        task: str | type[VppEnv] = "vpp_gym/Arbitrage-v1",
        n_agents: int | None = None,
        config: ConfigLike | Sequence[ConfigLike] = None,
        overrides: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        *,
        seat: int | str = 0,
        rivals: PolicySpec | Sequence[PolicySpec] | Mapping[str, PolicySpec] = "rule",
        split: str = "train",
        public_obs: bool = False,
    ) -> None:
        if n_agents is None and isinstance(rivals, list | tuple):
            n_agents = len(rivals) + 1
            lists = [len(v) for v in (config, overrides) if isinstance(v, list | tuple)]
            if lists and lists[0] != n_agents:
                raise ConfigError(
                    f"rivals: {len(rivals)} policies for {lists[0] - 1} rival seats (a game of {lists[0]} by its "
                    f"config or overrides); give {lists[0] - 1}"
                )
        self.multi = MultiVppEnv(task, n_agents, config, overrides, split=split, public_obs=public_obs, batched=False)
        learner = seat_index(self.multi, seat)
        self.seat: str = self.multi.possible_agents[learner]
        """The learner's agent name."""
        self._players = [
            _player(self.multi, i, spec, "rivals") for i, spec in _rival_specs(self.multi, learner, rivals).items()
        ]
        env = self.multi.envs[learner]
        self.config = env.config
        self.params = env.params
        self.action_names = env.action_names
        self.observation_names = env.observation_names + (PUBLIC_ROWS if self.multi.public_obs else ())
        self.action_space = self.multi.action_space(self.seat)
        self.observation_space = self.multi.observation_space(self.seat)
        self._obs: dict[str, np.ndarray] = {}
        self._infos: dict[str, dict[str, Any]] = {}

    @property
    def rivals(self) -> dict[str, SeatPolicy]:
        """The rivals' policies now, by agent."""
        return {p.agent: p.policy for p in self._players}

    @property
    def game_infos(self) -> dict[str, dict[str, Any]]:
        """The last reset's or step's info of every seat, the rivals' included (their ledgers, for analysis)."""
        return dict(self._infos)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode of the game (see Seeding); the learner's observation and info."""
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(2**31)) if seed is None else seed
        self._obs, self._infos = self.multi.reset(seed=seed, options=options)
        for player in self._players:
            player.start(episode_seed)
        return self._obs[self.seat], self._infos[self.seat]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The rivals act on their own observations, the learner plays ``action``; the game steps."""
        if not self.multi.agents:
            raise RuntimeError("the episode has ended (or reset() was not called); call reset()")
        actions = {p.agent: p.policy.act(self._obs[p.agent], self._infos[p.agent]) for p in self._players}
        actions[self.seat] = action
        obs, rewards, terms, truncs, infos = self.multi.step(actions)
        self._obs, self._infos = obs, infos
        a = self.seat
        return obs[a], rewards[a], terms[a], truncs[a], infos[a]
