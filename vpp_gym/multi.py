"""The market game: ``N`` VPPs bidding into one day-ahead market per product (PettingZoo ``ParallelEnv``).

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

**Capacity products.** With two agents or more, the D-1 offers of every open capacity product
(regulation, reserve, demand response, peak regulation; the single env's ``<product>_mw`` and
``<product>_price`` actions) clear jointly too, interval by interval, each product in its form. In the
transaction form the agents' offers and ``vpp_0``'s competitor stack of the product make one merit
order against the interval's need, at one marginal price (:func:`~vpp_gym.markets.energy.clear_curves`
with one-segment curves: the stack first at a tied price, then the agents pro rata); regulation under
K-value rules ranks each agent's offer at its price over its own K, as the single env ranks one. As in
the single env (:func:`~vpp_gym.markets.clearing.clear_transaction`), an offer above the price cap or
of no quantity offers nothing and sets no price, and without a competitor stack of the product every
agent is a price-taker (accepted if priced at or below the published price, scaled pro rata if the
accepted offers exceed the need, paid the published price); with no need nothing is accepted at the
lowest valid offer's price (the published price if there is none). In the invitation form the agents'
declarations and the others' (``others_ratio`` x need) are scaled pro rata
when they exceed the need, at the announced price. The awards and prices replace each agent's own
clearing in its schedule and are delivered and settled as in the single env. The agents must then
agree on the open products and each product's form, price cap and ``others_ratio`` (checked). With one
agent its own clearing stands (the same rule; the single env bit for bit).

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

**Policies in the seats** are in ``agents/game.py`` (:mod:`agents.game`; ``vpp_gym`` never imports
``agents``): ``play`` runs an episode with a policy in every seat (each built on its seat's single env,
:attr:`MultiVppEnv.envs`), and ``MarketGameEnv`` is the single-agent view of the game
(``gymnasium.make("vpp_gym/MarketGame-v0", seat=..., rivals=...)``: one learner seat, the other seats
played by given policies inside ``step``), registered in :mod:`vpp_gym.tasks` by an entry-point string.

**Limitations of this slice** (issue #17 asks for more):

- Intraday and real time stay per agent as in the single env (each agent trades at its own
  intraday and real-time prices, which rivals do not move). The capacity products' needs, reference
  prices and stacks are ``vpp_0``'s (the agents share the days).
- The agents are rows of the batched core (:class:`~vpp_gym.vector.VppVectorEnv`, about 0.5 ms per
  step for 1 agent, 1.0 ms for 10, 1.8 ms for 50 on Arbitrage-v1 with the default preset; ``vpp-gym
  bench`` prints the game's agent-steps/s beside the single env's steps/s with the same preset) only
  when they share one config.
  Per-agent configs give per-agent core params, which the batched core does not take yet: then the
  agents run as ``N`` single cores (one :class:`~vpp_gym.env.VppEnv` each, stepped one after the
  other; about 0.3 ms per agent and step). Both paths give the same trajectories, bit for bit
  (``tests/multi/test_multi_equivalence.py``).
- Without a competitor stack (``markets.energy.competitors.n_offers: 0``) the agents alone meet the
  need (:func:`~vpp_gym.markets.energy.clear_curve`'s ``M = 0`` rule), unlike the single env, which is
  then a price-taker.
- Reset options: ``split`` and ``day`` as for the single env; any other key is not used and says so
  in a warning (not an error: PettingZoo's API test passes one).
- The limitations of the policies in the seats (single cores only, MPC as a price-taker, trained agents
  only on their layout, policy objects not reseeded) are in :mod:`agents.game`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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

from vpp_gym import core
from vpp_gym.config import ScenarioConfig, packaged_config
from vpp_gym.core.columns import PRODUCT_COLUMNS
from vpp_gym.env import VppEnv
from vpp_gym.markets import energy, regulation
from vpp_gym.markets.clearing import QUANTITY_TOL_MW
from vpp_gym.validation import ConfigError
from vpp_gym.vector import VECTOR_TASKS, VppVectorEnv

ConfigLike = str | Path | dict[str, Any] | ScenarioConfig | None

OFFER_KEYS = ("offer_low_mw", "offer_high_mw", "offer_mid_price", "offer_spread")
"""The ledger entries (under ``energy_da``) of a bid step that describe the agent's offer curve."""
CAPACITY_KEYS = ("offer_mw", "offer_price")
"""What a capacity product's ledger reports of an offer at a bid step (no price in the invitation form: 0)."""

DEFAULT_CONFIG = "markets/autonomous.yaml"
"""The default config of every agent (below ``configs/``): the price-maker preset."""

PUBLIC_ROWS = ("market_price", "market_award")
"""The names of the public rows appended to every observation with ``public_obs=True``."""


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

    Attributes:
        envs: the agents' single envs, in seat order (:class:`~vpp_gym.env.VppEnv`: config, params, layouts;
            with single cores, :attr:`batched` False, also each seat's live episode and state, the joint
            clearing's awards and prices in its schedule). A seat's policy is built on its seat's
            (:mod:`agents.game`).
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

    @property
    def batched(self) -> bool:
        """Whether the agents run as rows of the batched core (then :attr:`envs` hold no live episode or state)."""
        return self._vec is not None

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
                "the open capacity products": p.open_products == p0.open_products,
            }
            for prod in p0.open_products:  # the capacity products clear jointly too: one rule for all
                c, c0 = p.product(prod), p0.product(prod)
                if c is not None and c0 is not None:
                    same[f"markets.{prod}.form"] = c.form == c0.form
                    same[f"markets.{prod}.price_cap"] = c.price_cap == c0.price_cap
                    same[f"markets.{prod}.others_ratio"] = c.others_ratio == c0.others_ratio
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
            capacity = self._clear_capacity(
                interval,
                {
                    prod: tuple(np.array([infos[a][prod].get(k, 0.0) for a in self.agents]) for k in CAPACITY_KEYS)
                    for prod in p0.open_products
                },
                np.array([float(env.state.reg_score) for env in self.envs if env.state is not None]),
            )
            for j, (agent, env) in enumerate(zip(self.agents, self.envs, strict=True)):
                s, ep = env.state, env.episode
                assert s is not None and ep is not None
                slot = interval % env.params.schedule.ring
                award = float(pos[j])
                # the env's own clearings (its curve and offers alone against the stacks) are replaced by the joint ones
                s = s._replace(
                    da_mw=(*s.da_mw[:slot], award, *s.da_mw[slot + 1 :]),
                    da_price=(*s.da_price[:slot], cleared, *s.da_price[slot + 1 :]),
                )
                env._state = self._put_awards(s, env.params, interval, capacity, j)
                obs[agent] = core.observe_one(env.params, env._state, ep)
                infos[agent]["market"] = self._market(interval, award, cleared, pos, capacity, j)
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
        capacity: dict[str, tuple[np.ndarray, float]] = {}
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
            capacity = self._clear_capacity(
                interval,
                {
                    prod: tuple(
                        np.asarray(info_b[prod][k], np.float64) if k in info_b[prod] else np.zeros(len(pos))
                        for k in CAPACITY_KEYS
                    )
                    for prod in p.open_products
                },
                np.asarray(vec._state.reg_score, np.float64),
            )
            vec._state = self._put_awards(vec._state, p, interval, capacity, slice(None))
            obs_b = vec._observe()
            market = {"interval": interval, "price": cleared}
        obs, rewards, terms, truncs, infos = {}, {}, {}, {}, {}
        # the ledger's columns as Python lists once per step (one C call each), then one row per agent
        columns = {
            g: (
                {key: _rows(v) for key, v in sub.items() if not key.startswith("_")}
                if isinstance(sub, dict)
                else _rows(sub)
            )
            for g, sub in info_b.items()
            if not g.startswith("_")
        }
        for i, agent in enumerate(self.agents):
            obs[agent] = obs_b[i]
            rewards[agent], terms[agent], truncs[agent] = float(rew_b[i]), bool(term_b[i]), bool(trunc_b[i])
            info = {
                g: ({key: v[i] for key, v in col.items()} if isinstance(col, dict) else col[i])
                for g, col in columns.items()
            }
            if market is not None:
                info["market"] = self._market(market["interval"], float(pos[i]), market["price"], pos, capacity, i)
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

    def _clear_capacity(
        self, interval: int, offers: dict[str, tuple[np.ndarray, ...]], reg_score: np.ndarray
    ) -> dict[str, tuple[np.ndarray, float]]:
        """The joint clearing of the agents' capacity offers for ``interval``, product by product: ``prod ->
        (awards (N,), price)``; none with one agent (its own clearing is the joint one).

        ``offers[prod]`` is ``(offer_mw, offer_price)`` per agent, as the agents' ledgers report them at the
        bid step. Transaction form: one merit order of ``vpp_0``'s competitor stack and every agent's offer
        (regulation under K-value rules ranked at ``price / K``, each agent with its own K, as
        :func:`vpp_gym.core.dynamics.clear_offers` ranks one), cleared against the interval's need at one
        marginal price (:func:`vpp_gym.markets.energy.clear_curves` with one-segment supply curves: the
        stack first at a tied price, then the agents pro rata). Invitation form: the declarations are
        scaled pro rata when they, with the others' (``others_ratio`` x need), exceed the need; the
        announced price.
        """
        if len(self.agents) < 2:
            return {}
        env0 = self.envs[0]
        p0 = env0.params
        ep0 = self._vec._ep if self._vec is not None else env0.episode
        assert ep0 is not None
        # vpp_0's realised values of the interval, as its core reads them at the bid step
        x0 = self._vec._exo[interval, :, 0] if self._vec is not None else env0._exo_rows[interval]
        out: dict[str, tuple[np.ndarray, float]] = {}
        for prod, (q, price) in offers.items():
            cfg = p0.product(prod)
            assert cfg is not None
            i_need, i_price = PRODUCT_COLUMNS[prod]
            need, ref = abs(float(x0[i_need])), float(x0[i_price])
            q = np.maximum(q, 0.0)
            if cfg.form == "invitation":
                total = float(np.sum(q)) + max(cfg.others_ratio * need, 0.0)
                acc = q * (need / total) if total > need else q
                out[prod] = (acc, ref)
                continue
            ranked = price
            if prod == "regulation" and p0.regulation_k_value:
                rc = p0.cfg.markets.regulation
                assert rc is not None
                ranked = regulation.ranking_price(price, regulation.ranking_k(reg_score, rc.k_value))
            # the single env's rules (vpp_gym.markets.clearing.clear_transaction): an offer above the cap or of
            # no quantity offers nothing and sets no price; without a stack every agent is a price-taker
            ranked = np.asarray(ranked, np.float64)
            valid = (ranked <= cfg.price_cap) & (q > QUANTITY_TOL_MW)
            q = np.where(valid, q, 0.0)
            ranked = np.where(valid, ranked, cfg.price_cap)
            stack = ep0.stacks.get(prod)
            if stack is None or stack[0].shape[-1] == 0:
                taken = np.where(ranked <= min(ref, cfg.price_cap), q, 0.0)
                total = float(np.sum(taken))
                out[prod] = (taken * (need / total) if total > need else taken, ref)
                continue
            stack_mw, stack_price = stack[0][0:1, interval], stack[1][0:1, interval]
            if need <= QUANTITY_TOL_MW:  # nothing needed: nothing accepted, the lowest valid offer's price
                live = (stack_mw[0] > QUANTITY_TOL_MW) & (stack_price[0] <= cfg.price_cap)
                prices = [*stack_price[0][live].tolist(), *ranked[q > 0.0].tolist()]
                out[prod] = (np.zeros(len(q)), float(min(prices)) if prices else ref)
                continue
            acc2, cleared = energy.clear_curves(
                np.zeros((1, len(q))),
                ranked[None, :, None],
                q[None, :, None],
                stack_mw,
                stack_price,
                np.full(1, need),
                cfg.price_cap,
                0.0,
            )
            out[prod] = (acc2[0], float(cleared[0]))
        return out

    @staticmethod
    def _put_awards(
        s: core.State, p: core.CoreParams, interval: int, capacity: dict[str, tuple[np.ndarray, float]], row: Any
    ) -> core.State:
        """``s`` with the joint capacity awards and prices of ``interval`` in its rings (``row``: the agent's
        index for a single core, ``slice(None)`` for the batched core's rows)."""
        if not capacity:
            return s
        ring = p.schedule.ring
        slot = interval % ring
        aw_mw, aw_price = list(s.aw_mw), list(s.aw_price)
        for j, prod in enumerate(p.open_products):
            acc, price = capacity[prod]
            i = j * ring + slot
            if isinstance(row, slice):
                aw_mw[i], aw_price[i] = np.array(acc, np.float64), np.full(len(acc), price)
            else:
                aw_mw[i], aw_price[i] = float(acc[row]), price
        return s._replace(aw_mw=tuple(aw_mw), aw_price=tuple(aw_price))

    @staticmethod
    def _market(
        interval: int,
        award: float,
        price: float,
        pos: np.ndarray,
        capacity: dict[str, tuple[np.ndarray, float]] | None = None,
        row: int = 0,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "price": price,
            "award_mw": award,
            "total_award_mw": float(np.sum(pos)),
            "interval": interval,
        }
        for prod, (acc, cleared) in (capacity or {}).items():
            out[prod] = {"price": cleared, "award_mw": float(acc[row]), "total_award_mw": float(np.sum(acc))}
        return out

    def render(self) -> None:
        """No rendering."""

    def close(self) -> None:
        """Nothing to release."""


def _item(value: Any) -> Any:
    """A NumPy scalar as the Python scalar the single env reports (other values as they are)."""
    return value.item() if isinstance(value, np.generic) else value


def _rows(column: Any) -> list[Any]:
    """A batched info column as one entry per row, each as :func:`_item` gives it: a 1-D array's
    entries as Python scalars (``tolist``: the same values as ``item``), a row of a wider array as
    that row's array."""
    if isinstance(column, np.ndarray) and column.ndim == 1:
        return column.tolist()
    return [_item(x) for x in column]


def parallel_env(**kwargs: Any) -> MultiVppEnv:
    """PettingZoo-style constructor: ``vpp_gym.multi.parallel_env(task=..., n_agents=...)``."""
    return MultiVppEnv(**kwargs)
