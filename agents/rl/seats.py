"""Training in the market game with Stable-Baselines3: an experiment config's ``game`` section (issue #17).

An experiment config with a ``game`` section (:class:`agents.rl.config.GameConfig`) trains a learner in the
market game (:class:`vpp_gym.multi.MultiVppEnv`: ``game.n_agents`` identical VPPs of ``env_id``, built from
the config's ``scenario`` and ``overrides``; a null scenario is the game's default, the autonomous preset)
instead of the single env. Two ways to learn:

- ``learners: one``: seat ``game.seat`` learns against ``game.rivals`` (a registered policy, MPC by default,
  played in every other seat inside ``step``): the training env is a ``DummyVecEnv`` of single-agent views
  (:class:`agents.game.MarketGameEnv`, ``vpp_gym/MarketGame-v0``), one game per sub-env.
- ``learners: shared``: every seat plays one policy and every seat's experience trains it (parameter
  sharing, each seat a learner that sees the others as its environment): the training env is
  :class:`SeatsVecEnv`, whose sub-envs are the seats of ``train.n_envs / game.n_agents`` games (the
  ``native`` vector env option runs each game's seats as rows of the batched core, ``dummy`` as single
  cores; the same trajectories).

Behaviour cloning (``agent.bc_episodes``) fits the clone to games in which the teacher
(``agent.bc_policy``) plays every seat; the demonstrations are the learner seat's (``game.seat``).
Validation (best-model selection, ``eval``) plays the deterministic policy in the learner's seat against
the rivals (``one``) or in every seat (``shared``; the profit of seat ``game.seat`` is recorded) on the first
``eval.days`` days of ``eval.split``, day ``e`` seeded ``EVAL_SEED + e``. A trained run then plays any seat of
:func:`agents.game.play` (its folder as the seat's policy) and the study of ``experiments/market_game.py``.

Simplifications, stated where they act: the teacher's demonstrations are the learner seat's only (in a
game of teachers every seat plays the same policy, so the other seats' would add samples, not behaviour);
SAC is not offered in the game (its demonstrations and replay buffer are built on the single env).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from agents.base import add_summed
from agents.game import MarketGameEnv
from agents.rl.config import EVAL_SEED, ExperimentConfig, GameConfig
from vpp_gym.multi import PUBLIC_ROWS, MultiVppEnv
from vpp_gym.validation import ConfigError


def _game(cfg: ExperimentConfig) -> GameConfig:
    if cfg.game is None:
        raise ValueError(f"{cfg.name}: the config has no game section")
    return cfg.game


def make_game(cfg: ExperimentConfig, split: str = "train", batched: bool | None = None) -> MultiVppEnv:
    """The config's market game: ``game.n_agents`` VPPs of ``env_id`` with the config's scenario and overrides."""
    g = _game(cfg)
    return MultiVppEnv(
        cfg.env_id,
        g.n_agents,
        cfg.scenario,
        cfg.overrides or None,
        split=split,
        public_obs=g.public_obs,
        batched=batched,
    )


def make_view(cfg: ExperimentConfig, split: str = "train", rivals: Any = None) -> MarketGameEnv:
    """The learner seat's single-agent view, the rivals ``rivals`` (default: the config's ``game.rivals``)."""
    g = _game(cfg)
    spec = g.rivals if rivals is None else rivals
    if spec is None:
        raise ValueError(f"{cfg.name}: a view needs the rivals' policy (game.learners: {g.learners})")
    try:
        return MarketGameEnv(
            cfg.env_id,
            g.n_agents,
            cfg.scenario,
            cfg.overrides or None,
            seat=g.seat,
            rivals=spec,
            split=split,
            public_obs=g.public_obs,
        )
    except ConfigError as err:  # the view names its argument (rivals...): the config's key is game.rivals
        if rivals is None and str(err).startswith("rivals"):
            raise ConfigError(f"game.{err}") from None
        raise


class SeatsVecEnv(VecEnv):
    """Every seat of ``n_games`` market games as one sub-env of a Stable-Baselines3 ``VecEnv``.

    Sub-env ``k * N + i`` is seat ``i`` of game ``k`` (``N`` seats): one policy acting in every seat and
    learning from all of them (parameter sharing). All seats of a game end together; the game is then reset
    with the next episode seed (an episode's day is drawn from its seed, as in the single env) and the
    seats' ``terminal_observation``, ``episode_totals`` (their ledgers summed over the episode) and
    ``TimeLimit.truncated`` go into their infos, as SB3's vector envs report them.

    Seeding: :meth:`seed` restarts a generator (unseeded: fresh entropy); every game's every episode is reset
    with a seed drawn from it, so the same seed gives the same trajectories, bit for bit.
    """

    def __init__(self, make: Callable[[], MultiVppEnv], n_games: int) -> None:
        if n_games < 1:
            raise ValueError(f"n_games={n_games}; expected at least 1")
        self.games = [make() for _ in range(n_games)]
        first = self.games[0]
        self.agents = list(first.possible_agents)
        a0 = self.agents[0]
        seat = first.envs[0]
        self._attrs: dict[str, Any] = {
            "config": seat.config,
            "params": seat.params,
            "episode_starts": seat.episode_starts,
            "observation_names": seat.observation_names + (PUBLIC_ROWS if first.public_obs else ()),
            "action_names": seat.action_names,
            "render_mode": None,
        }
        super().__init__(n_games * len(self.agents), first.observation_space(a0), first.action_space(a0))
        self._rng = np.random.default_rng()
        self._actions: np.ndarray | None = None
        self._totals: list[dict[str, float]] = [{} for _ in range(self.num_envs)]

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Restart the episode-seed generator from ``seed``; the next :meth:`reset` starts every game anew."""
        self._rng = np.random.default_rng(seed)
        return [seed] * self.num_envs

    def _next_seed(self) -> int:
        return int(self._rng.integers(2**31))

    def _start(self, k: int) -> np.ndarray:
        obs, _infos = self.games[k].reset(seed=self._next_seed())
        for i in range(len(self.agents)):
            self._totals[k * len(self.agents) + i] = {}
        return np.stack([obs[a] for a in self.agents])

    def reset(self) -> np.ndarray:
        """Start an episode in every game; the stacked observations of every seat."""
        return np.concatenate([self._start(k) for k in range(len(self.games))]).astype(np.float32)

    def step_async(self, actions: np.ndarray) -> None:
        """Store every seat's action for :meth:`step_wait`."""
        self._actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, -1)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step every game with its seats' actions; an ended game is reset."""
        if self._actions is None:
            raise RuntimeError("step_wait() before step_async()")
        n = len(self.agents)
        obs_out = np.empty((self.num_envs, *self.observation_space.shape), dtype=np.float32)  # type: ignore[misc]
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for k, game in enumerate(self.games):
            acts = {a: self._actions[k * n + i] for i, a in enumerate(self.agents)}
            obs, rew, terms, truncs, step_infos = game.step(acts)
            for i, a in enumerate(self.agents):
                j = k * n + i
                obs_out[j] = obs[a]
                rewards[j] = rew[a]
                info = dict(step_infos[a])
                add_summed(self._totals[j], info)
                done = bool(terms[a] or truncs[a])
                dones[j] = done
                if done:
                    info["terminal_observation"] = np.asarray(obs[a], dtype=np.float32)
                    info["TimeLimit.truncated"] = bool(truncs[a] and not terms[a])
                    info["episode_totals"] = dict(self._totals[j])
                infos[j] = info
            if dones[k * n : (k + 1) * n].any():
                if not dones[k * n : (k + 1) * n].all():
                    raise RuntimeError("the seats of one game ended at different steps")
                obs_out[k * n : (k + 1) * n] = self._start(k)
        self._actions = None
        return obs_out, rewards, dones, infos

    def close(self) -> None:
        """Close every game."""
        for game in self.games:
            game.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The seat's ``config``, ``params``, ``episode_starts``, layouts (``observation_names``, ``action_names``)."""
        if attr_name not in self._attrs:
            raise AttributeError(f"SeatsVecEnv has no sub-env attribute {attr_name!r}")
        return [self._attrs[attr_name]] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Not supported: the seats share their game."""
        raise AttributeError(f"SeatsVecEnv: cannot set {attr_name!r} on a seat")

    def env_method(self, method_name: str, *args: Any, indices: VecEnvIndices = None, **kwargs: Any) -> list[Any]:
        """Not supported: the seats are not separate envs."""
        raise AttributeError(f"SeatsVecEnv: the seats have no method {method_name!r} of their own")

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """No seat is wrapped."""
        return [False] * len(list(self._get_indices(indices)))


class _Batch:
    """A batch policy function (observations ``(B, n_obs)`` -> actions) as a seat policy (``reset``, ``act``)."""

    def __init__(self, policy_fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.policy_fn = policy_fn

    def reset(self) -> None:
        """Nothing to forget."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The action for one observation."""
        return np.asarray(self.policy_fn(np.asarray(obs, dtype=np.float32)[None]))[0]


def evaluate_game_days(
    policy_fn: Callable[[np.ndarray], np.ndarray], cfg: ExperimentConfig, split: str, days: int, seed: int = EVAL_SEED
) -> list[dict[str, float]]:
    """Ledger totals of the learner seat's deterministic episode on each of the first ``days`` days of ``split``.

    The learner plays ``policy_fn`` in seat ``game.seat`` against ``game.rivals`` (``learners: one``) or in
    every seat (``shared``); day ``e`` is seeded ``seed + e``. The days are played in lockstep, so the
    learner's actions come in one batch per step. Returns each day's episode totals (ledger keys).
    """
    g = _game(cfg)
    rivals = g.rivals if g.learners == "one" else _Batch(policy_fn)
    views = [make_view(cfg, split, rivals) for _ in range(days)]
    obs = np.stack([v.reset(seed=seed + e, options={"split": split, "day": e})[0] for e, v in enumerate(views)])
    totals: list[dict[str, float]] = [{} for _ in range(days)]
    done = np.zeros(days, dtype=bool)
    while not done.all():
        actions = policy_fn(obs)
        for e, view in enumerate(views):
            if done[e]:
                continue
            o, _r, term, trunc, info = view.step(actions[e])
            obs[e] = o
            add_summed(totals[e], info)
            done[e] = term or trunc
    for view in views:
        view.close()
    return totals
