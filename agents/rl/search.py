"""Random search over rows of the policy's action head, after PPO (``agent.search``).

PPO around a behaviour clone does not improve it on the day-ahead tasks
(``experiments/results/rl_attempts/v1/README.md``): each step's advantage carries the noise of the
policy's later actions in up to 18 components over up to 191 later steps, which swamps what one action is
worth. A search in parameter space does not assign credit to steps at all. It compares whole days played by
deterministic policies. This module runs augmented random search (Mania, Guy and Recht, "Simple random
search of static linear policies is competitive for reinforcement learning", NeurIPS 2018: antithetic
perturbations, the update from the best directions, scaled by the standard deviation of their profits) on
the last layer's rows of chosen action components (``agent.search.rows``, the battery's by default). The
rest of the network, and the observation normaliser, are kept as they are.

One iteration:

1. draws ``directions`` Gaussian directions ``delta_k`` of the searched parameters ``theta``, and
   ``days`` train days, each with an env seed;
2. plays each of the ``2 * directions`` candidates ``theta +- sigma * delta_k`` deterministically on the same
   days with the same seeds (common random numbers: the same prices, forecast errors and signals), all in
   one native vector env. A candidate's score is its mean profit over the days, so the day-to-day spread
   cancels in the difference of a pair;
3. keeps the ``top`` directions by the better of their two scores and moves
   ``theta += step_size / (top * s) * sum_k (score_k+ - score_k-) * delta_k``, with ``s`` the standard
   deviation of those ``2 * top`` scores.

Every ``eval_every`` iterations (and after the last one) the trainer validates the policy on its validation
days, as during PPO (:mod:`agents.rl.train`): a better validation profit replaces the run's ``best/`` unit,
and ``curve.csv`` gets a row. The search starts from the best unit of the PPO stage (the clone or a PPO
iterate, with its normaliser). Only train days are played; the episodes count in the run's timesteps.
The policy stays a plain SB3 PPO model: :class:`agents.rl.policy.RlPolicy`, ``vpp-gym evaluate`` and
``vpp-gym publish`` use it unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from agents.kpi import kpis_from_totals
from agents.rl.actions import find_dead_zone
from agents.rl.config import ExperimentConfig, PpoConfig, SearchConfig
from vpp_gym.validation import ConfigError

SEARCH_STREAM = 4
"""Seed stream of the search's draws (directions, days, env seeds): ``SeedSequence([seed, SEARCH_STREAM])``."""


def search_config(cfg: ExperimentConfig) -> SearchConfig | None:
    """The config's search, or None when it is off (or the algorithm has none)."""
    a = cfg.agent
    if isinstance(a, PpoConfig) and a.search.iterations:
        return a.search
    return None


def search_rows(action_names: list[str] | tuple[str, ...], rows: tuple[str, ...]) -> list[int]:
    """The indices of the action components ``rows`` in ``action_names``.

    Raises:
        ConfigError: naming ``agent.search.rows`` and the task's components, for a name it does not have.
    """
    names = list(action_names)
    missing = [r for r in rows if r not in names]
    if missing:
        raise ConfigError(
            f"agent.search.rows: {missing[0]!r} is not an action component of this task; its components are "
            f"{', '.join(names)}"
        )
    return [names.index(r) for r in rows]


def check_search(cfg: ExperimentConfig, env: Any) -> None:
    """The search's checks that need the training env (an SB3 ``VecEnv``; run before a run folder exists): the
    rows name action components."""
    s = search_config(cfg)
    if s is not None:
        search_rows(env.get_attr("action_names")[0], s.rows)


class ActionHeadSearch:
    """Candidates of the action head's rows: play them on train days and update the searched parameters.

    Args:
        model: the SB3 PPO model (its ``policy.action_net`` rows are searched and written back).
        venv: the training ``VecNormalize`` (its observation statistics normalise the candidates' inputs, and
            its battery dead zone, if any, maps their actions).
        cfg: the experiment config (``agent.search``, the task, the seed).
    """

    def __init__(self, model: Any, venv: Any, cfg: ExperimentConfig) -> None:
        import torch

        s = search_config(cfg)
        if s is None:
            raise ValueError("ActionHeadSearch: the config's agent.search.iterations is 0")
        self.s, self.cfg, self.model, self.venv = s, cfg, model, venv
        self.env = gym.make_vec(
            cfg.env_id,
            num_envs=2 * s.directions * s.days,
            vectorization_mode="vector_entry_point",
            config=cfg.scenario,
            overrides=cfg.overrides,
            split="train",
            autoreset_mode="Disabled",
            ledger_info=False,
            episode_totals=True,
        ).unwrapped
        self.rows = search_rows(self.env.action_names, s.rows)
        self.n_train = len(self.env.episode_starts["train"])
        self.steps_per_episode = int(self.env.params.steps)
        self.dead_zone = find_dead_zone(venv)
        net = model.policy.action_net
        self.hidden = int(net.weight.shape[1])
        self.theta = np.concatenate(
            [net.weight.detach().numpy()[self.rows].astype(np.float64).ravel(), net.bias.detach().numpy()[self.rows]]
        )
        self.rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, SEARCH_STREAM]))
        self.low = torch.as_tensor(self.env.single_action_space.low)
        self.high = torch.as_tensor(self.env.single_action_space.high)

    @property
    def episode_steps(self) -> int:
        """Env steps one iteration plays (every candidate on every day)."""
        return self.env.num_envs * self.steps_per_episode

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``theta`` (or a batch, ``(..., D)``) as the rows' weights ``(..., R, hidden)`` and biases ``(..., R)``."""
        r = len(self.rows)
        lead = theta.shape[:-1]
        return theta[..., : r * self.hidden].reshape(*lead, r, self.hidden), theta[..., r * self.hidden :]

    def actions(self, obs: np.ndarray, thetas: np.ndarray) -> np.ndarray:
        """The env's actions of the candidates ``thetas`` (one row ``(D,)`` per sub-env) for observations ``obs``.

        What :meth:`agents.rl.train._Trainer.policy_fn` plays for a model whose searched rows are each row of
        ``thetas``: the normalised observation through the network, the mean action clipped to the box, then
        the battery dead zone (if any).
        """
        import torch

        policy = self.model.policy
        x = self.venv.normalize_obs(obs) if self.venv.norm_obs else obs
        with torch.no_grad():
            latent, _ = policy.mlp_extractor(policy.extract_features(torch.as_tensor(x, dtype=torch.float32)))
            mean = policy.action_net(latent)
            w, b = self.split(thetas)
            w_t = torch.as_tensor(w, dtype=torch.float32)
            b_t = torch.as_tensor(b, dtype=torch.float32)
            mean[:, self.rows] = torch.einsum("nh,nrh->nr", latent, w_t) + b_t
            a = torch.clamp(mean, self.low, self.high).numpy()
        return self.dead_zone.to_env(a) if self.dead_zone is not None else a

    def play(self, thetas: np.ndarray, days: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Mean profit of each candidate over its days: ``thetas`` ``(C, D)``, ``days`` and ``seeds`` ``(M,)``
        (every candidate plays every day with that day's seed; ``C * M`` is the env's ``2 * directions * days``);
        returns ``(C,)``."""
        c, m = len(thetas), len(days)
        env = self.env
        if c * m != env.num_envs:
            raise ValueError(f"play: {c} candidates x {m} days; the search's vector env has {env.num_envs} sub-envs")
        obs, _ = env.reset(
            seed=[int(x) for x in np.tile(seeds, c)],
            options={"day": [int(d) for d in np.tile(days, c)], "split": "train"},
        )
        per_env = np.repeat(thetas, m, axis=0)
        done = np.zeros(env.num_envs, dtype=bool)
        info: dict[str, Any] = {}
        while not done.all():
            obs, _r, terminated, truncated, info = env.step(self.actions(obs, per_env))
            done = terminated | truncated
        totals = info["episode_totals"]
        profit = np.array(
            [kpis_from_totals({k: float(v[i]) for k, v in totals.items()})["profit"] for i in range(env.num_envs)]
        )
        return profit.reshape(c, m).mean(axis=1)

    def iterate(self) -> dict[str, float]:
        """One iteration (module docstring); returns the scores' mean and the mean gap within a pair."""
        s = self.s
        delta = self.rng.standard_normal((s.directions, self.theta.size))
        days = self.rng.integers(self.n_train, size=s.days)
        seeds = self.rng.integers(2**31, size=s.days)
        cand = np.concatenate([self.theta + s.sigma * delta, self.theta - s.sigma * delta])
        score = self.play(cand, days, seeds)
        plus, minus = score[: s.directions], score[s.directions :]
        top = np.argsort(-np.maximum(plus, minus), kind="stable")[: s.top]
        spread = float(np.concatenate([plus[top], minus[top]]).std())
        if spread > 0.0:
            self.theta = self.theta + s.step_size / (s.top * spread) * ((plus[top] - minus[top]) @ delta[top])
        return {"mean_score": float(score.mean()), "pair_gap": float(np.abs(plus - minus).mean())}

    def write_back(self) -> None:
        """Put the searched parameters into the model's action head."""
        import torch

        w, b = self.split(self.theta)
        net = self.model.policy.action_net
        with torch.no_grad():
            net.weight[self.rows] = torch.as_tensor(w, dtype=net.weight.dtype)
            net.bias[self.rows] = torch.as_tensor(b, dtype=net.bias.dtype)

    def close(self) -> None:
        """Close the search's vector env."""
        self.env.close()


def random_search(
    model: Any, venv: Any, cfg: ExperimentConfig, validate: Callable[[Any], float], progress: bool = False
) -> dict[str, Any]:
    """Run ``agent.search`` on ``model`` (module docstring); returns the record kept in the run's ``meta.json``.

    ``validate(model)`` is called every ``eval_every`` iterations and after the last one, with the searched
    rows written into the model and its ``num_timesteps`` advanced by the episodes played so far (the
    trainer's validation, which keeps the best unit and writes ``curve.csv``).
    """
    t0 = time.perf_counter()
    search = ActionHeadSearch(model, venv, cfg)
    s = search.s
    if progress:
        print(
            f"  random search: {search.theta.size:,} parameters (rows {', '.join(s.rows)}), {s.iterations} iterations "
            f"of {2 * s.directions} candidates x {s.days} train days",
            flush=True,
        )
    last: dict[str, float] = {}
    try:
        for it in range(1, s.iterations + 1):
            last = search.iterate()
            model.num_timesteps += search.episode_steps
            if it % s.eval_every == 0 or it == s.iterations:
                search.write_back()
                validate(model)
    finally:
        search.close()
    return {
        "iterations": s.iterations,
        "rows": list(s.rows),
        "parameters": int(search.theta.size),
        "env_steps": s.iterations * search.episode_steps,
        "last_mean_score": last.get("mean_score"),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
