"""Behaviour cloning for PPO and SAC: the policy starts from a baseline's actions instead of from noise.

With ``agent.bc_episodes > 0``, before the first PPO update the policy is fitted to episodes of
``agent.bc_policy`` (:func:`agents.registry.make_policy`: ``rule`` by default) played on days of the
train split, never the validation or test split:

* the Gaussian policy's **mean action** is fitted to the teacher's actions (squared error on the
  observation as the training normaliser will present it; where the teacher plays a bound of the
  action box, only a mean short of the bound counts as an error, :func:`clone_error`, because the
  policy's action is clipped to the box: a regression to the mean would otherwise pull an action
  the teacher plays at its bound, such as the largest regulation offer, inside it);
* the **value network** to the teacher's discounted returns, in the units PPO will see (rewards
  scaled and clipped as ``VecNormalize`` scales them), so the first advantages are not noise;
* the observation normaliser (and the return normaliser, with ``normalize.reward``) is updated with
  the demonstrations, as if the agent had played them.

With ``agent.dagger_rounds > 0`` the cloning is followed by rounds of DAgger (Ross, Gordon and
Bagnell, AISTATS 2011): the clone plays ``agent.dagger_episodes`` train days, the teacher is asked
what it would do in every state the clone reached, and the fit is repeated on all labelled states
so far, so that the clone also learns to recover from its own mistakes (the teacher must act on the
state it is given: ``rule`` and ``mpc`` do, the oracle plans the day from its start).

For SAC (``agent.bc_episodes`` of :class:`agents.rl.config.SacConfig`) the same teacher episodes
fit the **actor's deterministic action**, the tanh of its Gaussian mean (in SB3's ``[-1, 1]`` action
units, with a bound-aware error made for the tanh, :func:`squashed_clone_error`), and update the
observation normaliser; the critics are not fitted here (they learn from the replay buffer, which
may start with :mod:`agents.rl.demo`'s demonstrations; see also ``agent.critic_warmup_steps``) and
there is no DAgger.

The trained agent stays a pure policy: observation in, action out; the teacher is used only here, at
training time (issue #18 lists demonstrations among the allowed agent-side methods). PPO then
improves the clone on its own episodes; the trainer evaluates the clone before the first update, so
the best unit (chosen on the validation days) is never worse than the clone on those days.

Why: on the day-ahead timeline a bid step's reward arrives about one day (96 steps) later, so a
policy that starts from noise learns the bid slowly; the rule policy's bids and dispatch are a
reasonable starting point that costs seconds to produce (MPC's or the oracle's can be chosen; the
oracle acts on information the observation does not hold, so its clone averages over it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from agents.rl.actions import DeadZone, find_dead_zone, with_dead_zone
from agents.rl.config import ExperimentConfig, PpoConfig, SacConfig
from agents.rl.demo import demo_days, episode_seed, teacher_episodes
from agents.rl.memory import MemorySpec, augment_episodes

BC_STREAM = 3
"""Seed stream of the cloning's days and episodes (:func:`agents.rl.demo.demo_days`; SAC's buffer uses 2)."""
BC_BATCH = 512
"""Minibatch size of the cloning (transitions)."""


def returns_to_go(rewards: np.ndarray, gamma: float, starts: np.ndarray | None = None) -> np.ndarray:
    """Discounted returns ``G_t = sum_k gamma^k r_{t+k}`` of whole episodes ``(n, T)`` (0 after the end).

    With ``starts`` ``(n, T)`` (1 where an episode starts at ``t``), a row holds several episodes and each
    return stops at the end of its own.
    """
    out = np.zeros_like(rewards, dtype=np.float64)
    g = np.zeros(rewards.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        if starts is not None and t + 1 < rewards.shape[1]:
            g = g * (1.0 - starts[:, t + 1])
        g = rewards[:, t] + gamma * g
        out[:, t] = g
    return out


def clone_error(
    mean: Any, target: Any, low: float = -1.0, high: float = 1.0, idle: Any | None = None, width: float = 0.0
) -> Any:
    """The cloning error of the policy's mean action (torch tensors): ``mean - target``, except where the
    target is at a bound of the box, where it is only the shortfall (``min(mean - high, 0)`` at ``high``,
    ``max(mean - low, 0)`` at ``low``): a mean beyond the bound plays the bound. Where the boolean mask
    ``idle`` is set (a battery dead zone of ``width``, :mod:`agents.rl.actions`) it is only the excess
    ``max(|mean| - width, 0)``: any mean in the dead zone idles exactly."""
    import torch

    err = mean - target
    err = torch.where(target >= high, torch.clamp(err, max=0.0), err)
    err = torch.where(target <= low, torch.clamp(mean - low, min=0.0), err)
    if idle is not None:
        err = torch.where(idle, torch.clamp(mean.abs() - width, min=0.0), err)
    return err


BOUND_GAP = 0.01
"""SAC's clone: where the teacher plays a bound of the box, the clone's action must be within this of it."""


def squashed_clone_error(pre_tanh: Any, target: Any, gap: float = BOUND_GAP) -> Any:
    """The cloning error of a tanh-squashed action ``tanh(pre_tanh)`` (SAC's deterministic action) in ``[-1, 1]``.

    Inside the box, ``tanh(pre_tanh) - target``. Where the target is at a bound, only a shortfall of
    ``pre_tanh`` from ``atanh(1 - gap)`` (``-atanh(1 - gap)`` at the lower bound) counts, in those
    pre-tanh units: the tanh reaches a bound only at infinity and its gradient vanishes on the way,
    so an error on the squashed action there would leave the clone short of the bound (0.89 of it in
    a test of 4 rule days) where the teacher plays it, e.g. a gas unit fully off.
    """
    import torch

    edge = float(np.arctanh(1.0 - gap))
    err = torch.tanh(pre_tanh) - target
    err = torch.where(target >= 1.0, torch.clamp(pre_tanh - edge, max=0.0), err)
    return torch.where(target <= -1.0, torch.clamp(pre_tanh + edge, min=0.0), err)


def bc_seed(seed: int, k: int, round_: int = 0) -> int:
    """Seed of cloning episode ``k`` (env and teacher) of round ``round_`` (0: the teacher's episodes, r > 0:
    DAgger round r) of a run with experiment seed ``seed``."""
    return episode_seed(seed, 1_000_000 * (round_ + 1) + k)


def collect(
    cfg: ExperimentConfig,
    n_parallel: int,
    episodes: int | None = None,
    round_: int = 0,
    actor: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """Episodes labelled by the teacher ``agent.bc_policy``, ``n_parallel`` at a time.

    Round 0 (``agent.bc_episodes`` episodes): the teacher plays. Round ``r > 0`` (DAgger,
    ``agent.dagger_episodes``): ``actor`` plays and the teacher labels the states it reaches.
    Episode ``k`` is on train day ``days[k]`` (:func:`agents.rl.demo.demo_days`, stream
    ``BC_STREAM + r``) with seed :func:`bc_seed`. Returns the arrays of
    :func:`agents.rl.demo.teacher_episodes`, stacked, and the days; with ``agent.memory: plan``, the
    teacher noting its battery plan at the bid steps and the memory's rows appended to the observations
    (:func:`agents.rl.memory.augment_episodes`).
    """
    a = cfg.agent
    assert isinstance(a, PpoConfig | SacConfig)
    count = a.bc_episodes if episodes is None else episodes
    n = max(1, min(n_parallel, count))
    envs: list[Any]
    if cfg.game is not None:  # games with the teacher in every seat; the learner seat's demonstrations
        from agents.rl.seats import make_view

        envs = [make_view(cfg, "train", rivals=a.bc_policy) for _ in range(n)]
    else:
        envs = [gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split="train") for _ in range(n)]
    notes = getattr(a, "memory", "none") == "plan"
    try:
        spec = MemorySpec.from_env(envs[0]) if notes else None  # the plan memory's (agents.rl.memory)
        n_days = len(envs[0].unwrapped.episode_starts["train"])
        days = demo_days(cfg.seed, BC_STREAM + round_, count, n_days)
        parts = []
        for start in range(0, count, n):
            ks = list(range(start, min(start + n, count)))
            parts.append(
                teacher_episodes(
                    envs[: len(ks)],
                    a.bc_policy,
                    [bc_seed(cfg.seed, k, round_) for k in ks],
                    [int(days[k]) for k in ks],
                    actor,
                    notes=notes,
                )
            )
    finally:
        for env in envs:
            env.close()
    obs, actions, rewards, profits = (np.concatenate([p[i] for p in parts]) for i in range(4))
    if spec is not None:  # the plan memory: the teacher noted its battery plan at the bid steps; rows appended
        obs = augment_episodes(spec, obs, actions)
    return obs, actions, rewards, profits, days


def _observe(venv: Any, obs: np.ndarray, rewards: np.ndarray) -> None:
    """Update the training normalisers with whole episodes, as if the agent had played them."""
    E, T = rewards.shape
    if venv.norm_obs:
        venv.obs_rms.update(obs[:, :T].reshape(E * T, -1))
    if venv.norm_reward:
        running = np.zeros(E)
        for t in range(T):  # the running discounted return VecNormalize keeps, step by step
            running = running * venv.gamma + rewards[:, t]
            venv.ret_rms.update(running)


def behaviour_clone(model: Any, venv: Any, cfg: ExperimentConfig) -> dict[str, Any]:
    """Fit ``model``'s (a fresh SB3 PPO) mean action and value to the teacher's episodes; update ``venv``'s statistics.

    A SAC model (a :class:`agents.rl.config.SacConfig` config) goes to :func:`clone_actor` instead.

    ``venv`` is the training ``VecNormalize``. Then ``agent.dagger_rounds`` rounds of DAgger: the clone
    plays ``agent.dagger_episodes`` train days, the teacher labels the states it reached, and the fit
    is repeated on all the labelled states so far. Deterministic for a seed: the minibatch order comes
    from a generator seeded with the experiment seed. Returns the record kept in the run's
    ``meta.json``: episodes, policy, the teacher's mean profit, the clone's mean profit on the train
    days of each DAgger round, the final losses and the wall time.
    """
    import torch

    if isinstance(cfg.agent, SacConfig):
        return clone_actor(model, venv, cfg)
    a = cfg.agent
    assert isinstance(a, PpoConfig)
    t0 = time.perf_counter()
    policy = model.policy
    low, high = float(venv.action_space.low.min()), float(venv.action_space.high.max())
    if not (np.all(venv.action_space.low == low) and np.all(venv.action_space.high == high)):
        raise ValueError("behaviour cloning needs an action box with one low and one high bound")
    opt = torch.optim.Adam(policy.parameters(), lr=a.bc_learning_rate)
    gen = torch.Generator().manual_seed(cfg.seed)
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    record: dict[str, Any] = {"episodes": a.bc_episodes, "policy": a.bc_policy, "epochs": a.bc_epochs}

    dz = find_dead_zone(venv)  # the battery dead zone (agents.rl.actions), or None

    def predict(obs: np.ndarray) -> np.ndarray:
        x = venv.normalize_obs(obs) if venv.norm_obs else obs
        return model.predict(x, deterministic=True)[0]

    student = with_dead_zone(predict, dz)  # DAgger's student plays the env's actions

    for round_ in range(a.dagger_rounds + 1):
        obs, labels, rewards, profits, _days = collect(
            cfg,
            venv.num_envs,
            None if round_ == 0 else a.dagger_episodes,
            round_,
            None if round_ == 0 else student,
        )
        if round_ == 0:
            record["mean_profit"] = float(np.mean(profits))
        else:
            record.setdefault("dagger_clone_profit", []).append(float(np.mean(profits)))
        _observe(venv, obs, rewards)
        data.append((obs[:, : rewards.shape[1]], labels, rewards))
        record["action_mse"], record["value_mse"] = _fit(policy, opt, gen, venv, data, a, low, high, dz)
    record["transitions"] = sum(r.size for _o, _l, r in data)
    record["wall_s"] = round(time.perf_counter() - t0, 1)
    return record


def clone_actor(model: Any, venv: Any, cfg: ExperimentConfig) -> dict[str, Any]:
    """Fit a fresh SB3 SAC ``model``'s deterministic action to ``agent.bc_episodes`` teacher episodes.

    The deterministic action is ``tanh(mu(s))`` in SB3's ``[-1, 1]`` units (the teacher's actions are
    scaled to them); the error is :func:`squashed_clone_error` (a teacher at a bound of the box asks
    for an action within :data:`BOUND_GAP` of it). Only the parameters of the actor's mean move (its
    hidden layers and mean layer); the log std layer, the critics and the entropy coefficient are
    left to SAC. ``venv``'s observation (and return) statistics are updated with the episodes.
    Deterministic for a seed.
    Returns the record kept in ``meta.json`` (as :func:`behaviour_clone`'s, without a value loss).
    """
    import torch

    a = cfg.agent
    assert isinstance(a, SacConfig)
    t0 = time.perf_counter()
    actor = model.policy.actor
    obs, labels, rewards, profits, _days = collect(cfg, venv.num_envs)
    _observe(venv, obs, rewards)
    states = obs[:, : rewards.shape[1]].reshape(-1, obs.shape[-1])
    target = model.policy.scale_action(labels.reshape(-1, labels.shape[-1]))  # labels are clipped to the box
    x = torch.as_tensor(venv.normalize_obs(states) if venv.norm_obs else states, dtype=torch.float32)
    y = torch.as_tensor(target, dtype=torch.float32)
    params = [*actor.latent_pi.parameters(), *actor.mu.parameters()]  # the deterministic action's parameters
    opt = torch.optim.Adam(params, lr=a.bc_learning_rate)
    gen = torch.Generator().manual_seed(cfg.seed)
    actor.set_training_mode(True)
    n, loss = len(x), float("nan")
    for _ in range(a.bc_epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, BC_BATCH):
            idx = perm[i : i + BC_BATCH]
            pre_tanh = actor.mu(actor.latent_pi(actor.extract_features(x[idx], actor.features_extractor)))
            la = (squashed_clone_error(pre_tanh, y[idx]) ** 2).mean()
            opt.zero_grad()
            la.backward()
            opt.step()
            total += float(la.detach()) * len(idx)
        loss = total / n
    actor.set_training_mode(False)
    return {
        "episodes": a.bc_episodes,
        "policy": a.bc_policy,
        "epochs": a.bc_epochs,
        "mean_profit": float(np.mean(profits)),
        "action_mse": loss,
        "transitions": int(rewards.size),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def warm_up_critics(model: Any, steps: int) -> dict[str, Any]:
    """``steps`` gradient steps on a SAC ``model``'s critics alone, on its replay buffer.

    SAC's critic update exactly (SB3 2.x ``SAC.train``: soft n-step target from the target critics
    and the current actor, Polyak-averaged target critics), without the actor's and the entropy
    coefficient's updates: the actor (a clone) first meets a critic that has learnt what the stored
    days (demonstrations, the clone's own first steps) are worth under it, not a random one. The
    trainer calls it just before SAC's first update (``agent.critic_warmup_steps``). Returns the last
    step's critic loss and the wall time.
    """
    import torch
    from stable_baselines3.common.utils import polyak_update
    from torch.nn import functional

    t0 = time.perf_counter()
    model.policy.set_training_mode(True)
    ent_coef = torch.exp(model.log_ent_coef.detach()) if model.ent_coef_optimizer is not None else model.ent_coef_tensor
    loss = float("nan")
    for step in range(steps):
        data = model.replay_buffer.sample(model.batch_size, env=model._vec_normalize_env)
        discounts = data.discounts if data.discounts is not None else model.gamma
        with torch.no_grad():
            next_actions, next_log_prob = model.actor.action_log_prob(data.next_observations)
            next_q, _ = torch.min(
                torch.cat(model.critic_target(data.next_observations, next_actions), dim=1), dim=1, keepdim=True
            )
            target = data.rewards + (1 - data.dones) * discounts * (next_q - ent_coef * next_log_prob.reshape(-1, 1))
        critic_loss = 0.5 * sum(functional.mse_loss(q, target) for q in model.critic(data.observations, data.actions))
        model.critic.optimizer.zero_grad()
        critic_loss.backward()  # type: ignore[union-attr]
        model.critic.optimizer.step()
        if step % model.target_update_interval == 0:
            polyak_update(model.critic.parameters(), model.critic_target.parameters(), model.tau)
            polyak_update(model.batch_norm_stats, model.batch_norm_stats_target, 1.0)
        loss = float(critic_loss.detach())  # type: ignore[union-attr]
    model.policy.set_training_mode(False)
    return {"steps": steps, "critic_loss": loss, "wall_s": round(time.perf_counter() - t0, 1)}


def _fit(
    policy: Any,
    opt: Any,
    gen: Any,
    venv: Any,
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    a: PpoConfig,
    low: float,
    high: float,
    dz: DeadZone | None = None,
) -> tuple[float, float]:
    """``agent.bc_epochs`` passes of Adam over every labelled state so far; returns the last pass's losses.

    With a battery dead zone ``dz`` the battery labels are fitted in the policy's units
    (:meth:`agents.rl.actions.DeadZone.clone_targets`): an idle step's error is only ``max(|mean| - d, 0)``.
    """
    import torch

    states = np.concatenate([o.reshape(-1, o.shape[-1]) for o, _l, _r in data])
    labels = np.concatenate([lab.reshape(-1, lab.shape[-1]) for _o, lab, _r in data])
    idle = None
    if dz is not None:
        labels, idle_rows = dz.clone_targets(labels)
        idle = torch.zeros(labels.shape, dtype=torch.bool)
        idle[:, dz.index] = torch.as_tensor(idle_rows)
    returns = []
    for _o, _l, rewards in data:  # each episode's returns in the units PPO will see
        scaled = rewards.astype(np.float64)
        if venv.norm_reward:
            scaled = np.clip(rewards / np.sqrt(venv.ret_rms.var + venv.epsilon), -venv.clip_reward, venv.clip_reward)
        returns.append(returns_to_go(scaled, a.gamma).reshape(-1))
    x = torch.as_tensor(venv.normalize_obs(states) if venv.norm_obs else states, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.float32)
    g = torch.as_tensor(np.concatenate(returns), dtype=torch.float32)
    policy.set_training_mode(True)
    n = len(x)
    act_loss = val_loss = float("nan")
    for _ in range(a.bc_epochs):
        perm = torch.randperm(n, generator=gen)
        sums = [0.0, 0.0]
        for i in range(0, n, BC_BATCH):
            idx = perm[i : i + BC_BATCH]
            latent_pi, latent_vf = policy.mlp_extractor(policy.extract_features(x[idx]))
            mask = idle[idx] if idle is not None else None
            err = clone_error(policy.action_net(latent_pi), y[idx], low, high, mask, dz.width if dz else 0.0)
            la = (err**2).mean()
            lv = ((policy.value_net(latent_vf).squeeze(-1) - g[idx]) ** 2).mean()
            opt.zero_grad()
            (la + a.vf_coef * lv).backward()
            opt.step()
            sums[0] += float(la.detach()) * len(idx)
            sums[1] += float(lv.detach()) * len(idx)
        act_loss, val_loss = sums[0] / n, sums[1] / n
    policy.set_training_mode(False)
    return act_loss, val_loss


def check_cloning(cfg: ExperimentConfig) -> None:
    """The check that needs no model: the teacher can play the config's scenario (before a run folder exists).

    Raises:
        ConfigError: naming ``agent.bc_policy``.
    """
    from agents.rl.demo import _teacher

    a = cfg.agent
    assert isinstance(a, PpoConfig | SacConfig)
    env: Any
    if cfg.game is not None:  # the teacher on the learner's seat of the game
        from agents.rl.seats import make_view

        env = make_view(cfg, "train", rivals="passive")
    else:
        env = gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split="train")
    try:
        _teacher(a.bc_policy, env, 0, key="agent.bc_policy", off="agent.bc_episodes")
    finally:
        env.close()
