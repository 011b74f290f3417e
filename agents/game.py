"""Policies in the seats of the market game: :func:`play` and the single-agent view :class:`MarketGameEnv`.

The game itself, ``N`` VPPs bidding into one day-ahead energy market, is the PettingZoo env
:class:`vpp_gym.multi.MultiVppEnv` (its spaces, rewards, joint clearing, configs, seeding and
limitations are in :mod:`vpp_gym.multi`). This module puts a policy in its seats: it builds the
policies, so it lives in ``agents`` (``vpp_gym`` never imports ``agents``). Needs the ``multi`` extra
(``pip install vpp-gym[multi]``): it imports :mod:`vpp_gym.multi`, which imports PettingZoo.

**A policy in every seat.** :func:`play` runs an episode with a policy in every seat
(``play(game, {"vpp_0": "mpc", "vpp_1": "rule"}, seed=0)``: each agent's profit, return and ledger totals, the
cleared price and every agent's award of each interval, :class:`GameResult`). A seat's policy is a
:data:`PolicySpec`: a registered name (:mod:`agents.registry`), a trained agent's run or published model
folder, a mapping ``{"name": ..., **settings}`` or a policy object. Named policies are built on their seat's
single env (:func:`seat_env`: the seat's own config and params, and its live episode and state, the joint
clearing in its schedule), so every baseline reads its own seat, per-agent configs included: ``passive``,
``random``, ``rule`` and ``microgrid`` read the seat's config, params and observation; a trained agent is
checked against the seat's layouts (the public rows included with ``public_obs``).

**MPC as a price-taker.** ``mpc`` plays a seat as a price-taker (:class:`PriceTakerSeat`): it plans on its
seat's forecasts and params without competitor stacks, reading its seat's live episode and schedule, bids its
planned position as a limit curve around its price forecast (:class:`LimitCurveBids`; ``bids: flat`` for
the planner's own flat curves) and offers its capacity at 0; the seat is then cleared and settled as every
seat is.

**The oracle is refused.** The ``oracle`` cannot play a seat: its perfect foresight would include the clearing
of its offers, which depends on the other seats' offers (a :class:`~vpp_gym.validation.ConfigError` naming the
seat says so).

**The single-agent view** (``gymnasium.make("vpp_gym/MarketGame-v0", seat=..., rivals=...)``,
:class:`MarketGameEnv`): one learner seat, the other seats played by given policies inside ``step``; the
learner's spaces, its reward (``reward.scale`` x its profit, as in its single env), its info. SB3 trains
on it unchanged. The id is registered in :mod:`vpp_gym.tasks` with the entry-point string
``"agents.game:MarketGameEnv"``: ``import vpp_gym`` imports neither this module nor PettingZoo,
``gymnasium.make`` imports them.

**Seeding.** The game is reset with the episode's seed (:mod:`vpp_gym.multi`: seat ``i`` seeded ``s + i``).
Named policies that take a seed (MPC's forecast errors, random) are remade at every episode with
:func:`policy_seed` of the episode's seed and their seat, in :func:`play` as in the view (an unseeded episode
draws its seed: fresh entropy in :func:`play`, the view's generator in :class:`MarketGameEnv`): the same seed
gives the same trajectory, bit for bit.

**Limitations** (besides the game's, :mod:`vpp_gym.multi`):

- A seat's policy needs the agents as single cores (``batched=False``; :func:`play` refuses the batched
  core, which has no single env per seat to read). The single-agent view always runs them so: about
  1.4 ms per step with one passive rival, 1.9 ms with one rule rival, 6 ms with nine (Arbitrage-v1,
  15-minute intervals; MPC rivals about 10 times slower, their solves).
- MPC plays a seat as a price-taker (it bids its planned position as a limit curve around its price
  forecast and its capacity at 0, planning on forecast prices): the competitive reference, not a
  strategic bidder. A
  strategic planner (one that models the residual stack and its rivals) is not built.
- A trained agent plays a seat only with the layout it was trained on: the published v1 models were
  trained on the price-taker preset and are refused in the game (the autonomous preset opens more
  products and prices the offers: other rows).
- A policy object given for a seat is used as it is: it is not reseeded with the episode's seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium
import numpy as np

from agents import registry
from agents.base import add_summed
from agents.rl.policy import RlPolicy
from vpp_gym import core
from vpp_gym.config import ScenarioConfig
from vpp_gym.env import VppEnv
from vpp_gym.multi import PUBLIC_ROWS, ConfigLike, MultiVppEnv
from vpp_gym.validation import ConfigError


@runtime_checkable
class SeatPolicy(Protocol):
    """What plays a seat: the two methods of :class:`agents.base.Policy`."""

    def reset(self) -> None:
        """Forget any per-episode memory."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The seat's action for its observation and last info."""


PolicySpec = str | Path | Mapping[str, Any] | SeatPolicy
"""A seat's policy: a registered name (``"rule"``, ``"mpc"``, ``"passive"``, ...; :mod:`agents.registry`), a
run or published model folder of a trained agent, a mapping ``{"name": NAME, **settings}`` (e.g.
``{"name": "mpc", "replan_every": 8}``, ``{"name": "ppo", "run": FOLDER}``; a trained SB3 agent's
``unit``: ``best``, the default, or ``final``) or a policy object
(``reset()`` and ``act(obs, info)``, used as it is: give each seat its own object when the policy keeps
a memory of the episode, as the rule does)."""

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
    if multi.batched:
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
    (in the game as limit curves, :class:`LimitCurveBids`) and offers its capacity at 0;
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


MAKER_SPREAD = 0.25
"""Half-width of a price-taking seat's limit curve, as a share of the offer band (the rule policy's
``maker_spread`` default, :class:`agents.rule.PriceThresholdPolicy`)."""


class LimitCurveBids:
    """A price-taking planner's D-1 bids as limit curves, the way the rule policy bids where it is a price-maker.

    MPC plans at its price forecast and bids its planned net position ``q`` as a flat curve: the same
    quantity at every price. Against a single env's published price that is harmless; in the joint
    clearing a flat buy curve buys at any price up to the cap, and a flat sell curve sells at any price
    down to the floor, so a planner that takes the price as given would bid its way into prices it never
    planned for (four MPC seats buying flat on Joint-v1 cleared a test day at 786 CNY/MWh against a
    published 292). At every bid step this wrapper keeps the plan's quantity and turns it into a limit
    curve around the seat's observed price forecast: ``da_low = min(q, 0)``, ``da_high = max(q, 0)``,
    ``da_price = 0`` (mid price = the forecast) and ``da_spread = 2 * spread - 1`` (segments spread
    evenly within ``spread`` x the offer band either side of the forecast): a seller's quantity comes in
    as the price rises through the forecast (half of it below), a buyer's goes out as it rises through
    it, so a seat bids about its own valuation and no more. Dispatch steps and
    capacity offers are the planner's own. ``{"name": "mpc", "bids": "flat"}`` keeps the flat curves.
    """

    def __init__(self, policy: SeatPolicy, env: VppEnv, spread: float = MAKER_SPREAD) -> None:
        self.policy = policy
        self._bidding = env.observation_names.index("bidding")
        idx = {n: i for i, n in enumerate(env.action_names)}
        self._lo, self._hi, self._mid, self._spread = (idx[k] for k in ("da_low", "da_high", "da_price", "da_spread"))
        self.spread = spread

    def reset(self) -> None:
        """Reset the planner."""
        self.policy.reset()

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The planner's action, its bid (at a bid step) as a limit curve."""
        a = np.array(self.policy.act(obs, info), dtype=np.float32)
        if obs[self._bidding] > 0.5:
            q = float(a[self._lo])  # the planner bids da_low = da_high = q
            a[self._lo], a[self._hi] = min(q, 0.0), max(q, 0.0)
            a[self._mid], a[self._spread] = 0.0, 2.0 * self.spread - 1.0
        return a


BIDS = ("limit", "flat")
"""How a price-taking seat bids (its ``bids`` setting): limit curves (:class:`LimitCurveBids`, default) or flat."""


@dataclass(frozen=True)
class _Layout:
    """What a trained agent's loader checks of an env: its config and layouts (the seat's, with the public rows)."""

    config: ScenarioConfig
    observation_names: tuple[str, ...]
    action_names: tuple[str, ...]


@dataclass(frozen=True)
class _Spaces:
    """A seat's spaces, what an RLlib module is checked against."""

    observation_space: Any
    action_space: Any


def policy_seed(seed: int, index: int) -> int:
    """The seed of the policy in seat ``index`` for an episode seeded ``seed``: ``SeedSequence([seed, index])``'s
    first word (independent of the seat env's own draws, which are seeded ``seed + index``)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


@dataclass
class _Player:
    """The policy of one seat and how it was made (named policies that take a seed are remade each episode)."""

    index: int
    agent: str
    name: str | None  # the registered name, None for a policy object or a model folder
    settings: dict[str, Any]
    env: Any  # what the named policy is built on
    policy: SeatPolicy
    limit_curves: bool = False  # a price-taking seat's bids as limit curves (LimitCurveBids)

    @property
    def reseeded(self) -> bool:
        """Whether the policy is remade with the episode's seed at every episode."""
        if self.name is None or "seed" in self.settings:
            return False
        return "seed" in registry.policy_entry(self.name).settings

    def start(self, episode_seed: int) -> None:
        """Start an episode: remake a seeded policy with the seat's episode seed, then reset it."""
        if self.reseeded:
            assert self.name is not None  # reseeded: a named policy
            self.policy = _bids(
                registry.make_policy(self.name, self.env, seed=policy_seed(episode_seed, self.index), **self.settings),
                self.env,
                self.limit_curves,
            )
        self.policy.reset()


def _bids(policy: SeatPolicy, env: Any, limit_curves: bool) -> SeatPolicy:
    return LimitCurveBids(policy, env) if limit_curves else policy


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
        takes = {"run", "module"} if name == "rllib" else {"run", "unit"}
        unknown = sorted(set(settings) - takes)
        if unknown:
            raise ConfigError(
                f"{where}: a trained {name} agent takes the settings {' and '.join(sorted(takes))}, not {unknown[0]!r}"
            )
        unit = settings.get("unit", "best")
        if unit not in ("best", "final"):
            raise ConfigError(f"{where}.unit={unit!r}: expected best (the best validation) or final")
        player = _trained(multi, env, run, where, unit, settings.get("module"))
        return _Player(index, agent, None, {}, None, player)
    target = PriceTakerSeat(env) if name in PRICE_TAKERS else env
    limit = False
    if name in PRICE_TAKERS:
        bids = settings.pop("bids", "limit")
        if bids not in BIDS:
            raise ConfigError(f"{where}.bids={bids!r}: expected one of {', '.join(BIDS)}")
        limit = bids == "limit"
    try:
        policy = registry.make_policy(name, target, **{"seed": policy_seed(0, index), **settings})
    except TypeError as err:  # a setting no policy takes
        raise ConfigError(f"{where}: {err}") from None
    return _Player(index, agent, name, settings, target, _bids(policy, target, limit), limit)


def _trained(
    multi: MultiVppEnv, env: VppEnv, run: str | Path, where: str, unit: str = "best", module: str | None = None
) -> SeatPolicy:
    """A trained agent from a run or published model folder (an SB3 run's ``unit``: ``best`` or ``final``),
    checked against the seat's layouts. An RLlib run's ``module`` defaults to the seat's own (the shared one,
    or with independent policies the module of the seat's agent name)."""
    names = env.observation_names + (PUBLIC_ROWS if multi.public_obs else ())
    try:
        if registry.run_algo(run) == "rllib":  # a module of a multi-agent RLlib run: sizes checked
            from agents.rl.rllib import RllibPolicy, read_run_config

            agent = multi.possible_agents[multi.envs.index(env)]
            spaces = _Spaces(multi.observation_space(agent), multi.action_space(agent))
            return RllibPolicy.load(run, env=spaces, module=module or read_run_config(run).module_of(agent))
        return RlPolicy.load(run, unit, env=_Layout(env.config, names, env.action_names))
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
            add_summed(totals[agent], info)
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
    """One seat of the market game (:class:`~vpp_gym.multi.MultiVppEnv`) as a Gymnasium env: ``vpp_gym/MarketGame-v0``.

    A learner plays one seat; the other seats are played by given policies (the rivals) inside ``step``.
    SB3 and every single-agent tool train and evaluate on it unchanged. Needs the ``multi`` extra.

    ## Action Space

    The learner seat's: its single env's ``Box(-1, 1, (A,))``, decoded as there (the task's spec in
    :mod:`vpp_gym.tasks`); its day-ahead curves clear jointly with the rivals' and the residual stack.

    ## Observation Space

    The learner seat's observation in the game: its single env's (:attr:`observation_names`), with the two
    public rows ``market_price`` and ``market_award`` appended if ``public_obs`` (:mod:`vpp_gym.multi`).

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
      (:class:`~vpp_gym.multi.MultiVppEnv`; ``n_agents`` defaults to the length of a list of ``config``,
      ``overrides`` or ``rivals`` (plus the learner), else 2). The agents run as single cores
      (``batched=False``), so that a rival's policy reads its own seat.
    - ``seat``: the learner's seat, an index ``0..N-1`` or an agent name (default 0, ``"vpp_0"``).
    - ``rivals``: the rivals' policies (:data:`PolicySpec` each): one for all (default ``"rule"``), a list of
      ``N - 1`` in seat order with the learner's seat left out, or a mapping agent -> policy (a mapping with a
      ``name`` key is one policy with settings, for all). Each is built on its own seat (its config and
      params, :func:`seat_env`), MPC as a price-taker (:class:`PriceTakerSeat`); a trained agent's layouts
      are checked against its seat's. The oracle cannot play a seat.

    ## Seeding

    ``reset(seed=s)`` resets the game with seed ``s`` (the seats' draws, :mod:`vpp_gym.multi`) and remakes every
    named rival that takes a seed (MPC's forecast errors, random) with ``policy_seed(s, i)`` in seat ``i``;
    an unseeded reset draws that episode seed from the env's generator. The same seed gives the same
    trajectory, bit for bit, and the same as :func:`play` with the learner's actions in its seat.

    ## Version History

    * v0: first version (issue #17): day-ahead energy clears jointly; the rest of the game's limitations
      are in the docstrings of :mod:`vpp_gym.multi` and of this module.
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
    def episode_starts(self) -> dict[str, np.ndarray]:
        """The learner seat's episode starts by split (its single env's)."""
        return self.multi.envs[self.multi.possible_agents.index(self.seat)].episode_starts

    def seat_policy(self, spec: PolicySpec, seed: int, key: str = "policy") -> SeatPolicy:
        """The policy ``spec`` built on the learner's seat as a rival's would be on its own (:func:`play`'s rules:
        its seat's config, params and live episode, MPC as a price-taker), for the episode seeded ``seed``; a
        teacher labelling the learner's states (behaviour cloning). Errors name ``key``."""
        player = _player(self.multi, self.multi.possible_agents.index(self.seat), spec, key)
        player.start(seed)
        return player.policy

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
