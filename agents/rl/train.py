"""Train PPO or SAC from an experiment config into a run folder; resume an interrupted run.

A run folder holds everything needed to reproduce and to use the run:

```
config.yaml            the resolved experiment config (scenario path made absolute)
scenario.yaml          the resolved scenario the env was built from
command.txt            the command line
meta.json              algo, seeds, git revision, library versions, start time, resumptions,
                       SAC demonstrations (agents.rl.demo)
best/                  model with the best validation profit, as one unit (agents.rl.artifacts):
                       model.zip, normalizer.npz + normalizer.json, manifest.json (written last:
                       files with sizes and SHA-256, step, validation profit, observation layout)
final/                 the model at the end of training, the same way
checkpoint/            latest resumable state, the same way (plus the SAC replay buffer, state.json)
curve.csv              validation KPIs over training (one row per evaluation)
tb/                    TensorBoard logs (SB3 losses, vpp/* episode KPIs, eval/* validation KPIs)
INCOMPLETE             present until the run has finished: it says how to continue or start over
.lock                  the OS lock of the process writing the folder (released when it ends)
```

A run folder is written by one process at a time: ``vpp-gym train --out R`` and ``--resume R`` lock
it (:class:`agents.runfiles.FolderLock`) and a second one is refused. A new run needs a new or
empty folder; a folder holding an unfinished run is continued with ``--resume`` (from its last
checkpoint, or from step 0 if it stopped before the first one) or started over with ``--force``,
which removes only the run's own files. Units are replaced atomically (a kill never leaves the run
without a complete checkpoint) and checked against their manifests when loaded.

Validation runs the deterministic policy on the first ``eval.days`` days of the ``eval.split``
split (never the test split) with a fixed seed, in one native vector env, using the training
normalisation statistics; the best model by mean validation profit is kept.

Config errors are found before the run folder is created (:func:`preflight`): the env is built,
the device and the validation days are checked, and SAC's demonstrations are checked.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np

from agents import runinfo
from agents.base import add_summed
from agents.kpi import kpis_from_totals
from agents.rl.actions import dead_zone_spec, dead_zone_vec_env, find_dead_zone, with_dead_zone
from agents.rl.artifacts import (
    MODEL,
    ObsNormalizer,
    check_spaces,
    find_unit,
    read_manifest,
    recover_unit,
    save_unit,
    spaces_record,
    verify_unit,
)
from agents.rl.config import EVAL_SEED, ExperimentConfig, PpoConfig, SacConfig, experiment_yaml, load_experiment
from agents.rl.memory import find_memory_spec, memory_spec, memory_vec_env, with_memory
from agents.rl.search import check_search, search_config
from agents.runfiles import (
    INCOMPLETE,
    LOCK_NAME,
    FolderLock,
    RunFolderError,
    contents,
    fresh_folder,
    fsync_dir,
    make_folder,
    read_json,
    truncate_curve,
    write_text_atomic,
)
from vpp_gym.config import dump_yaml
from vpp_gym.validation import ConfigError

CHECKPOINT = "checkpoint"
RUN_FILES = frozenset(
    {
        "config.yaml",
        "scenario.yaml",
        "command.txt",
        "meta.json",
        "curve.csv",
        "summary.json",
        "tb",
        "spaces.json",  # an RLlib run's seat layout (agents/rl/rllib.py)
        INCOMPLETE,
        LOCK_NAME,
        *(f"{unit}{suffix}" for unit in ("best", "final", CHECKPOINT) for suffix in ("", ".tmp", ".old")),
        # the layout of earlier versions (a pickled normaliser beside each model)
        "best_model.zip",
        "final_model.zip",
        "best_vecnormalize.pkl",
        "final_vecnormalize.pkl",
        "best.json",
    }
)
"""Everything ``vpp-gym train`` writes into a run folder (``--force`` removes only these)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, with the one line that says what was kept and how to continue."""


def is_run_file(name: str) -> bool:
    """Whether a name in a run folder is one the run writes (:data:`RUN_FILES`, or a file being replaced)."""
    name = name.rstrip("/")
    return name in RUN_FILES or re.fullmatch(r"\..+\.tmp-\d+", name) is not None


def run_status(run: Path) -> str | None:
    """``"finished"``, ``"incomplete"`` or None (not a run folder of ``vpp-gym train``)."""
    if (run / INCOMPLETE).exists():
        return "incomplete"
    if (run / "config.yaml").is_file() or (run / "meta.json").is_file():
        return "finished" if (run / "summary.json").is_file() else "incomplete"
    return None


def _checkpoint_step(run: Path) -> int | None:
    found = find_unit(run, CHECKPOINT)
    if found is None:
        return None
    try:
        return int(read_manifest(found).get("timesteps") or 0)
    except RunFolderError:
        return None


def continue_hint(run: Path) -> str:
    """What to do with an unfinished run folder: resume it (from its checkpoint or from step 0) or start over."""
    step = _checkpoint_step(run)
    resume = (
        f"continue it from its checkpoint at step {step:,}: vpp-gym train --resume {run}"
        if step is not None
        else f"it stopped before its first checkpoint: vpp-gym train --resume {run} starts it over from step 0 "
        "with its config"
    )
    return f"{resume}; or start over with a config of your choice: vpp-gym train CONFIG --out {run} --force"


def _incomplete_text(run: Path) -> str:
    return (
        "This run of vpp-gym train has not finished (it is running, was interrupted or crashed).\n"
        f"Continue it:   vpp-gym train --resume {run}\n"
        "               (from its last checkpoint; from step 0 with its config if it has none)\n"
        f"Start over:    vpp-gym train CONFIG --out {run} --force   (removes this run's files)\n"
    )


def claim_run_folder(run: Path, force: bool = False) -> FolderLock:
    """Create and lock the folder of a new run; it must be new or empty (or, with ``force``, an unfinished run).

    Raises:
        RunFolderError: ``run`` is a file, is in use by another process, holds a finished run, holds
            an unfinished run (without ``force``), or holds files that are not a run's; the message
            says what to do.
    """
    make_folder(run)
    lock = FolderLock(run).acquire("vpp-gym train")
    try:
        found = contents(run)
        if not found:
            return lock
        status = run_status(run)
        foreign = [n for n in found if not is_run_file(n)]
        if status is None or foreign:
            what = "is not empty" if status is None else "holds files that are not the run's"
            raise RunFolderError(
                f"run folder {run} {what} ({', '.join((foreign or found)[:6])}); a run needs a new or empty folder: "
                "give another --out (--force removes only a run's own files, never yours)"
            )
        if status == "finished":
            raise RunFolderError(
                f"run folder {run} holds a finished run; choose another --out, or continue it to a larger total: "
                f"vpp-gym train --resume {run} train.total_timesteps=N"
            )
        if not force:
            raise RunFolderError(
                f"run folder {run} holds an unfinished run (marked {INCOMPLETE}); {continue_hint(run)}"
            )
        for name in found:
            path = run / name.rstrip("/")
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return lock
    except BaseException:
        lock.release()
        raise


def env_seed(seed: int) -> int:
    """The training envs' seed derived from the experiment seed (sub-env ``i`` gets ``env_seed + i``)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def _scenario_arg(cfg: ExperimentConfig, base_dir: Path) -> str | dict[str, Any] | None:
    if isinstance(cfg.scenario, str):
        path = Path(cfg.scenario)
        return str(path if path.is_absolute() else (base_dir / path).resolve())
    return cfg.scenario


def _rival_arg(spec: Any, base_dir: Path) -> Any:
    """A rival's policy with a run folder's path made absolute (a registered name stays as it is)."""
    from agents.registry import policy_names

    if isinstance(spec, str) and spec not in policy_names() and not Path(spec).is_absolute():
        return str((base_dir / spec).resolve())
    if isinstance(spec, dict) and "name" in spec:
        run = spec.get("run")
        return {**spec, "run": _rival_arg(run, base_dir)} if isinstance(run, str) else spec
    if isinstance(spec, dict):  # agent -> spec
        return {agent: _rival_arg(v, base_dir) for agent, v in spec.items()}
    return spec


def resolve(cfg: ExperimentConfig, base_dir: Path) -> ExperimentConfig:
    """The config with its scenario path and its rivals' run folders made absolute (what a run folder stores)."""
    cfg = replace(cfg, scenario=_scenario_arg(cfg, base_dir))
    if cfg.game is not None and cfg.game.rivals is not None:
        cfg = replace(cfg, game=replace(cfg.game, rivals=_rival_arg(cfg.game.rivals, base_dir)))
    return cfg


class _EpisodeTotals(gym.Wrapper):
    """Sums a single env's ledger over an episode and reports it as ``info["episode_totals"]`` at its end
    (what the native vector env does itself), for the ``dummy`` vector env option."""

    def reset(self, **kwargs: Any) -> Any:
        self._totals: dict[str, float] = {}
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        add_summed(self._totals, info)
        if terminated or truncated:
            info = {**info, "episode_totals": dict(self._totals)}
        return obs, reward, terminated, truncated, info


def seed_train_env(venv: Any, cfg: ExperimentConfig, seed: int) -> None:
    """Seed a training vector env for its next reset: sub-env ``i`` with ``seed + i``, or, with
    ``agent.group_size: G > 1``, by groups of ``G`` alike (common random numbers, :mod:`agents.rl.groups`)."""
    venv.seed(seed)
    group = cfg.agent.group_size if isinstance(cfg.agent, PpoConfig) else 1
    if group > 1:
        from agents.rl.groups import seed_groups

        seed_groups(venv, seed, group)


def make_train_env(cfg: ExperimentConfig, n_envs: int | None = None, split: str = "train") -> Any:
    """The training ``VecEnv``: native (or dummy) vector env, ``VecMonitor``, ``VecNormalize``."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize

    from vpp_gym.sb3 import make_sb3_vec_env

    n = n_envs or cfg.train.n_envs
    seed = env_seed(cfg.seed)
    venv: VecEnv
    if cfg.game is not None:  # the market game (agents.rl.seats)
        from agents.rl import seats

        if cfg.game.learners == "shared":
            if n % cfg.game.n_agents:
                raise ValueError(f"n_envs={n}: the seats of whole games, a multiple of {cfg.game.n_agents}")
            batched = cfg.train.vec_env == "native"
            venv = seats.SeatsVecEnv(lambda: seats.make_game(cfg, split, batched), n // cfg.game.n_agents)
        else:
            venv = DummyVecEnv([lambda: _EpisodeTotals(seats.make_view(cfg, split))] * n)
        venv.seed(seed)
    elif cfg.train.vec_env == "native":
        venv = make_sb3_vec_env(cfg.env_id, n, cfg.scenario, cfg.overrides, split=split)
        seed_train_env(venv, cfg, seed)
    else:

        def make() -> gym.Env:
            return _EpisodeTotals(gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split=split))

        venv = DummyVecEnv([make] * n)
        venv.seed(seed)
    assert cfg.agent is not None
    spec = memory_spec(cfg)
    if spec is not None:  # the agent's plan memory (agents.rl.memory): rows appended to the observations
        venv = memory_vec_env(venv, spec)
    dz = dead_zone_spec(cfg)
    if dz is not None:  # the battery dead zone (agents.rl.actions): the policy's actions mapped to the env's
        venv = dead_zone_vec_env(venv, dz)
    return VecNormalize(
        VecMonitor(venv),
        training=cfg.normalize.update,  # false: the statistics stay as the pretraining left them
        norm_obs=cfg.normalize.obs,
        norm_reward=cfg.normalize.reward,
        clip_obs=cfg.normalize.clip_obs,
        clip_reward=cfg.normalize.clip_reward,
        gamma=cfg.agent.gamma,
    )


def build_model(cfg: ExperimentConfig, env: Any, tb_dir: Path | None) -> Any:
    """A fresh PPO or SAC model from the config's hyperparameters."""
    import torch
    from stable_baselines3 import PPO, SAC

    a = cfg.agent
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[a.activation]  # type: ignore[union-attr]
    lr: Any = a.learning_rate  # type: ignore[union-attr]
    if a.lr_schedule == "linear":  # type: ignore[union-attr]
        lr = _Linear(a.learning_rate)  # type: ignore[union-attr]
    common: dict[str, Any] = {
        "seed": cfg.seed,
        "device": cfg.train.device,
        "verbose": 0,
        "tensorboard_log": str(tb_dir) if tb_dir is not None else None,
    }
    if isinstance(a, PpoConfig):
        kwargs = {"pi": list(a.net_arch), "vf": list(a.net_arch)}
        model = PPO(
            "MlpPolicy",
            env,
            learning_rate=lr,
            n_steps=a.n_steps,
            batch_size=a.batch_size,
            n_epochs=a.n_epochs,
            gamma=a.gamma,
            gae_lambda=a.gae_lambda,
            clip_range=a.clip_range,
            ent_coef=a.ent_coef,
            vf_coef=a.vf_coef,
            max_grad_norm=a.max_grad_norm,
            target_kl=a.target_kl,
            policy_kwargs={"net_arch": kwargs, "activation_fn": act, "log_std_init": a.log_std_init},
            **common,
        )
        if a.init_mean == "passive":
            bias: Any = model.policy.action_net.bias
            with torch.no_grad():
                bias.copy_(torch.as_tensor(passive_action(cfg)))
        return model
    assert isinstance(a, SacConfig)
    ent: Any = a.ent_coef if isinstance(a.ent_coef, str) else float(a.ent_coef)
    target: Any = a.target_entropy if isinstance(a.target_entropy, str) else float(a.target_entropy)
    sac = SAC(
        "MlpPolicy",
        env,
        learning_rate=lr,
        buffer_size=a.buffer_size,
        learning_starts=a.learning_starts,
        batch_size=a.batch_size,
        tau=a.tau,
        gamma=a.gamma,
        train_freq=a.train_freq,
        gradient_steps=a.gradient_steps,
        n_steps=a.n_steps,
        ent_coef=ent,
        target_entropy=target,
        policy_kwargs={"net_arch": {"pi": list(a.net_arch), "qf": list(a.net_arch)}, "activation_fn": act},
        **common,
    )
    if a.log_std_init is not None:  # the same log std in every state, until SAC moves it
        layer: Any = sac.policy.actor.log_std
        with torch.no_grad():
            layer.weight.zero_()
            layer.bias.fill_(a.log_std_init)
    return sac


def passive_action(cfg: ExperimentConfig) -> np.ndarray:
    """The passive reference's action (:class:`agents.base.PassivePolicy`) in the config's env."""
    from agents.base import PassivePolicy

    if cfg.game is not None:  # the learner's seat of the market game
        from agents.rl.seats import make_game

        env: Any = make_game(cfg, batched=False).envs[cfg.game.seat]
    else:
        env = gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides)
    try:
        shape: Any = env.observation_space.shape
        return PassivePolicy(env).act(np.zeros(shape, np.float32), {})
    finally:
        env.close()


class _Linear:
    """Picklable linear schedule: ``lr * progress_remaining``, never below 0.

    SB3 computes the progress after each rollout as ``1 - steps / total``; the last rollout can pass the
    budget (it collects ``n_steps x n_envs`` steps whole), and a negative progress would make the last
    update climb the loss instead of descending it.
    """

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def __call__(self, progress_remaining: float) -> float:
        return self.lr * max(progress_remaining, 0.0)


def evaluate_days(
    policy_fn: Any, cfg: ExperimentConfig, split: str, days: int, seed: int = EVAL_SEED
) -> list[dict[str, float]]:
    """KPIs of one deterministic episode on each of the first ``days`` days of ``split`` (one vector env).

    In the market game (a config with ``game``), the learner seat's KPIs, day ``e`` seeded ``seed + e``
    (:func:`agents.rl.seats.evaluate_game_days`).
    """
    if cfg.game is not None:
        from agents.rl.seats import evaluate_game_days

        return [kpis_from_totals(t) for t in evaluate_game_days(policy_fn, cfg, split, days, seed)]
    venv = gym.make_vec(
        cfg.env_id,
        num_envs=days,
        vectorization_mode="vector_entry_point",
        config=cfg.scenario,
        overrides=cfg.overrides,
        split=split,
        autoreset_mode="Disabled",
        ledger_info=False,
        episode_totals=True,
    ).unwrapped
    n_days = len(cast(Any, venv).episode_starts[split])  # typed differently across Gymnasium versions
    if days > n_days:
        raise ConfigError(f"eval.days: got {days}, but the {split!r} split has only {n_days} days")
    obs, _ = venv.reset(seed=seed, options={"day": list(range(days))})
    done = np.zeros(days, dtype=bool)
    info: dict[str, Any] = {}
    while not done.all():
        obs, _r, terminated, truncated, info = venv.step(policy_fn(obs))
        done = terminated | truncated
    totals = info["episode_totals"]
    return [kpis_from_totals({k: float(v[i]) for k, v in totals.items()}) for i in range(days)]


OnEval = Callable[[int, float], None]
"""Called after each validation with ``(timesteps, mean validation profit)`` (e.g. a Ray Tune report)."""


def _search(cfg: ExperimentConfig, run: Path, env: Any, model: Any, trainer: _Trainer) -> None:
    """``agent.search`` (:mod:`agents.rl.search`) from the best unit of the PPO stage, recorded in ``meta.json``.

    The start (the best unit's network and normaliser, put into ``model`` and ``env``) is checkpointed first, so
    that a run stopped inside the search resumes (``vpp-gym train --resume``) by searching again from that
    same start, with the same draws: what it finds is what an uninterrupted run finds.
    """
    from agents.rl.search import random_search

    state = trainer.state
    if getattr(model, "_logger", None) is None:  # resumed inside the search: PPO's learn() set up no logger
        from stable_baselines3.common.utils import configure_logger

        model.set_logger(configure_logger(0, str(run / "tb"), "run", reset_num_timesteps=False))
    if not state.get("search_started"):
        best = find_unit(run, "best")
        if best is not None:
            from agents.rl.policy import load_model

            model.policy.load_state_dict(load_model(cfg.algo, best / MODEL, device="cpu").policy.state_dict())
            ObsNormalizer.load(best).apply_to(env)
        state["search_started"] = True
        trainer.checkpoint(model)
    try:
        rec = random_search(model, env, cfg, trainer.evaluate, trainer.progress)
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"interrupted in the random search; its start is checkpointed; search again with: "
            f"vpp-gym train --resume {run}"
        ) from None
    state["search_done"] = True
    meta = read_json(run / "meta.json", "the run's record")
    meta["search"] = rec
    write_text_atomic(run / "meta.json", json.dumps(meta, indent=2))


class _Trainer:
    """Callbacks' shared state: validation, best model, checkpoints, episode KPI logging."""

    def __init__(
        self,
        cfg: ExperimentConfig,
        run: Path,
        env: Any,
        state: dict[str, Any],
        progress: bool,
        on_eval: OnEval | None = None,
    ) -> None:
        self.cfg, self.run, self.env, self.state, self.progress = cfg, run, env, state, progress
        self.on_eval = on_eval
        self.t0 = time.perf_counter() - state.get("wall_s", 0.0)

    def callback(self) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        trainer = self

        class _Callback(BaseCallback):
            def _on_training_start(self) -> None:
                if trainer.state.pop("eval_at_start", False) and self.model.num_timesteps == 0:
                    trainer.evaluate(self.model)

            def _on_rollout_end(self) -> None:
                trainer.warm_up_critics(self.model)
                a = trainer.cfg.agent
                if isinstance(a, PpoConfig) and a.group_size > 1:
                    from agents.rl.groups import group_advantages

                    group_advantages(cast(Any, self.model).rollout_buffer, a.group_size, a.gamma)

            def _on_step(self) -> bool:
                for info in self.locals.get("infos", ()):
                    totals = info.get("episode_totals")
                    if totals is not None:
                        for k, v in kpis_from_totals(totals).items():
                            self.logger.record_mean(f"vpp/{k}", v)
                return trainer.on_step(self.model)

        return _Callback()

    def warm_up_critics(self, model: Any) -> None:
        """SAC's critic warm-up (``agent.critic_warmup_steps``), once, just before its first update.

        SB3 updates after a rollout once ``num_timesteps > learning_starts``; the replay buffer then
        holds the demonstrations and the first ``learning_starts`` steps the (cloned) actor played.
        Recorded in ``meta.json`` as ``critic_warmup``.
        """
        steps = self.state.get("critic_warmup_pending", 0)
        if not steps or model.num_timesteps <= model.learning_starts:
            return
        from agents.rl.pretrain import warm_up_critics

        rec = {"at_timesteps": model.num_timesteps, **warm_up_critics(model, steps)}
        self.state["critic_warmup_pending"] = 0
        meta = read_json(self.run / "meta.json", "the run's record")
        meta["critic_warmup"] = rec
        write_text_atomic(self.run / "meta.json", json.dumps(meta, indent=2))
        if self.progress:
            print(
                f"  critic warm-up at step {model.num_timesteps:,}: {steps:,} gradient steps on the replay buffer "
                f"(critic loss {rec['critic_loss']:.4g}) in {rec['wall_s']:.1f} s",
                flush=True,
            )

    def on_step(self, model: Any) -> bool:
        n = model.num_timesteps
        tr = self.cfg.train
        if tr.eval_every_steps and n >= self.state["next_eval"]:
            self.evaluate(model)
            while self.state["next_eval"] <= n:
                self.state["next_eval"] += tr.eval_every_steps
        if tr.checkpoint_every_steps and n >= self.state["next_checkpoint"]:
            self.checkpoint(model)
            while self.state["next_checkpoint"] <= n:
                self.state["next_checkpoint"] += tr.checkpoint_every_steps
        return True

    def policy_fn(self, model: Any) -> Any:
        def act(obs: np.ndarray) -> np.ndarray:
            x = self.env.normalize_obs(obs) if self.cfg.normalize.obs else obs
            return model.predict(x, deterministic=True)[0]

        return with_dead_zone(with_memory(act, find_memory_spec(self.env)), find_dead_zone(self.env))

    def evaluate(self, model: Any) -> float:
        ev = self.cfg.eval
        rows = evaluate_days(self.policy_fn(model), self.cfg, ev.split, ev.days)
        keys = list(rows[0])
        mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        std_profit = float(np.std([r["profit"] for r in rows]))
        for k, v in mean.items():
            model.logger.record(f"eval/{k}", v)
        model.logger.dump(model.num_timesteps)
        row = {
            "timesteps": model.num_timesteps,
            "wall_s": round(time.perf_counter() - self.t0, 1),
            "val_profit_std": std_profit,
            **{f"val_{k}": v for k, v in mean.items()},
        }
        path = self.run / "curve.csv"
        new = not path.is_file() or path.stat().st_size == 0
        fields = list(row)
        if not new:  # a resumed run appends under the header it has (its columns may be in another order)
            with path.open(newline="") as fh:
                fields = next(csv.reader(fh), fields)
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            if new:
                writer.writeheader()
            writer.writerow(row)
        self.state["last_eval"] = model.num_timesteps
        if mean["profit"] > self.state["best_val_profit"]:
            self.state["best_val_profit"] = mean["profit"]
            self.state["best_timesteps"] = model.num_timesteps
            self.save_unit(model, "best", {"val_profit": mean["profit"]})
        if self.progress:
            print(
                f"  step {model.num_timesteps:>10,}  validation profit {mean['profit']:>12,.1f} "
                f"(+/- {std_profit:,.1f} over {ev.days} {ev.split} days; best {self.state['best_val_profit']:,.1f})",
                flush=True,
            )
        if self.on_eval is not None:  # after the curve row and the best unit are on disk
            self.on_eval(model.num_timesteps, mean["profit"])
        return mean["profit"]

    def save_unit(self, model: Any, name: str, info: dict[str, Any], extra: bool = False) -> None:
        """Save ``model`` with its normaliser as the unit ``name`` (atomically, manifest last).

        ``extra``: a checkpoint, with the SAC replay buffer and the trainer's state.
        """
        normalizer = ObsNormalizer.from_vecnormalize(self.env)
        state = {**self.state, "num_timesteps": model.num_timesteps, "wall_s": time.perf_counter() - self.t0}

        def write(folder: Path) -> None:
            model.save(folder / MODEL)
            normalizer.save(folder)
            if extra:
                if hasattr(model, "save_replay_buffer"):
                    model.save_replay_buffer(folder / "replay_buffer.pkl")
                (folder / "state.json").write_text(json.dumps(state, indent=2))

        record = {"timesteps": model.num_timesteps, "algo": self.cfg.algo, **info, "spaces": spaces_record(self.env)}
        spec = find_memory_spec(self.env)
        if spec is not None:  # RlPolicy rebuilds the plan memory from it
            record["memory"] = spec.to_record()
        dz = find_dead_zone(self.env)
        if dz is not None:  # RlPolicy maps the model's actions through it
            record["dead_zone"] = dz.to_record()
        save_unit(self.run, name, write, record)

    def checkpoint(self, model: Any) -> None:
        """The resumable state: model, normaliser, replay buffer, trainer state (replacing the last one atomically)."""
        self.save_unit(model, CHECKPOINT, {}, extra=True)
        self.state["checkpointed"] = model.num_timesteps


def _apply_threads(cfg: ExperimentConfig) -> None:
    import torch

    torch.set_num_threads(cfg.train.torch_threads)


def check_device(device: str) -> None:
    """A ``train.device`` torch can use here; a :class:`ConfigError` naming it otherwise (before any folder)."""
    import torch

    if device == "auto":
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise ConfigError(
            f"train.device: got {device!r}, expected 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto' ({err})"
        ) from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if dev.type not in available:
        raise ConfigError(f"train.device: got {device!r}, expected 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'")
    if not available[dev.type]:
        raise ConfigError(f"train.device: got {device!r}, but this machine has no {dev.type} device; use 'cpu'")


def preflight(cfg: ExperimentConfig) -> Any:
    """Every check that needs no run folder: the device, the training env, the splits, SAC's demonstrations.

    Returns the training env (built here anyway).
    """
    check_device(cfg.train.device)
    env = make_train_env(cfg)
    starts = env.get_attr("episode_starts")[0]
    if len(starts["train"]) == 0:
        raise ConfigError("data.splits: the 'train' split has no whole episode; training needs train days")
    n_days = len(starts[cfg.eval.split])
    if cfg.eval.days > n_days:
        raise ConfigError(f"eval.days: got {cfg.eval.days}, but the {cfg.eval.split!r} split has only {n_days} days")
    if isinstance(cfg.agent, PpoConfig) and cfg.agent.group_size > 1:
        steps = int(env.get_attr("params")[0].steps)
        if cfg.agent.n_steps % steps:
            raise ConfigError(
                f"agent.n_steps: got {cfg.agent.n_steps}, expected a multiple of the episode's {steps} steps with "
                f"agent.group_size: {cfg.agent.group_size} (each rollout must hold whole episodes)"
            )
    check_search(cfg, env)
    if isinstance(cfg.agent, SacConfig) and cfg.agent.demo_episodes:
        from agents.rl.demo import check_demonstrations

        check_demonstrations(cfg)
    if isinstance(cfg.agent, PpoConfig | SacConfig) and cfg.agent.bc_episodes:
        from agents.rl.pretrain import check_cloning

        check_cloning(cfg)
    return env


def train(
    cfg: ExperimentConfig,
    run_dir: Path,
    base_dir: Path | None = None,
    command: str | None = None,
    progress: bool = True,
    force: bool = False,
    fresh: bool = False,
    on_eval: OnEval | None = None,
) -> Path:
    """Train a new run into ``run_dir``; returns the run folder.

    ``run_dir`` must be new or empty; with ``force`` it may hold an unfinished run, whose files are
    removed (files that are not the run's are never removed: that is an error). With ``fresh``, the
    run goes into a new folder named ``run_dir`` (or ``run_dir-2``, ... if that exists). The config is
    checked (:func:`preflight`) before the folder is created. ``on_eval`` is called after every
    validation (:data:`OnEval`; ``vpp-gym tune`` reports to Ray Tune with it).
    """
    cfg = resolve(cfg, base_dir or Path.cwd())
    run = Path(run_dir)
    if run.exists() and not run.is_dir():
        raise RunFolderError(f"--out {run} is a file, not a folder; give a folder path")
    _apply_threads(cfg)
    env = preflight(cfg)
    if fresh:
        run = fresh_folder(run)
    lock = claim_run_folder(run, force)
    try:
        return _start(cfg, run, env, command or shlex.join(sys.argv), progress, on_eval)
    finally:
        lock.release()


def _start(
    cfg: ExperimentConfig, run: Path, env: Any, command: str, progress: bool, on_eval: OnEval | None = None
) -> Path:
    """Write the run's records into the locked, empty folder and train from step 0."""
    write_text_atomic(run / INCOMPLETE, _incomplete_text(run))  # first: a stop from here on leaves it marked
    try:
        (run / "config.yaml").write_text(experiment_yaml(cfg))
        (run / "scenario.yaml").write_text(dump_yaml(env.get_attr("config")[0]))
        (run / "command.txt").write_text(command + "\n")
        meta: dict[str, Any] = {
            "name": cfg.name,
            "env_id": cfg.env_id,
            "algo": cfg.algo,
            "seeds": {"agent": cfg.seed, "env": env_seed(cfg.seed), "eval": EVAL_SEED},
            "git_revision": runinfo.git_revision(),
            "versions": runinfo.versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cpu_count": os.cpu_count(),
            "resumed": [],
        }
        (run / "meta.json").write_text(json.dumps(meta, indent=2))
        model = build_model(cfg, env, run / "tb")
        seed_train_env(env, cfg, env_seed(cfg.seed))  # after the model: SB3 seeds the env with the agent seed
        _pretrain(cfg, model, env, run, meta, progress)
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"interrupted before the first checkpoint; {run} is marked {INCOMPLETE}: {continue_hint(run)}"
        ) from None
    state = {
        "next_eval": cfg.train.eval_every_steps,
        "next_checkpoint": cfg.train.checkpoint_every_steps,
        "best_val_profit": -float("inf"),
        "best_timesteps": None,
        "wall_s": sum(meta.get(k, {}).get("wall_s", 0.0) for k in ("demonstrations", "behaviour_cloning")),
        "eval_at_start": "behaviour_cloning" in meta,  # the clone is a candidate for the best unit
    }  # the run's wall time includes them
    if isinstance(cfg.agent, SacConfig) and cfg.agent.critic_warmup_steps:
        state["critic_warmup_pending"] = cfg.agent.critic_warmup_steps  # when SAC's updates start
    return _learn(cfg, run, env, model, state, progress, reset=True, on_eval=on_eval)


def _pretrain(cfg: ExperimentConfig, model: Any, env: Any, run: Path, meta: dict[str, Any], progress: bool) -> None:
    """SAC's demonstrations (:mod:`agents.rl.demo`), then the behaviour cloning of PPO or SAC
    (:mod:`agents.rl.pretrain`), if the config asks for them: recorded in ``meta.json`` (and printed
    with ``progress``)."""
    a = cfg.agent
    steps: list[tuple[str, dict[str, Any], str, str]] = []
    if isinstance(a, SacConfig) and a.demo_episodes:
        from agents.rl.demo import fill_replay_buffer

        rec = fill_replay_buffer(model, env, cfg)
        what = f"replay buffer: {rec['transitions']:,} transitions of {rec['episodes']} {rec['policy']} episodes"
        steps.append(("demonstrations", rec, what, f"in {rec['wall_s']:.1f} s"))
    if isinstance(a, PpoConfig | SacConfig) and a.bc_episodes:
        from agents.rl.pretrain import behaviour_clone

        rec = behaviour_clone(model, env, cfg)
        what = f"behaviour cloning: {rec['transitions']:,} transitions of {rec['episodes']} {rec['policy']} episodes"
        steps.append(("behaviour_cloning", rec, what, f"{rec['epochs']} epochs in {rec['wall_s']:.1f} s"))
    for key, rec, what, done in steps:
        meta[key] = rec
        (run / "meta.json").write_text(json.dumps(meta, indent=2))
        if progress:
            profit = f" (mean profit {rec['mean_profit']:,.1f})" if "mean_profit" in rec else ""
            print(f"  {what}{profit}, {done}", flush=True)


def resume(run_dir: Path, total_timesteps: int | None = None, progress: bool = True) -> Path:
    """Continue a run from its checkpoint up to its ``train.total_timesteps`` (or a new, larger total).

    A run that stopped before its first checkpoint starts over from step 0 with its own config. A
    checkpoint cut short by a kill while it was being replaced is recovered (the newest complete
    one of ``checkpoint/``, ``checkpoint.tmp/``, ``checkpoint.old/``).
    """
    run = Path(run_dir)
    if run.exists() and not run.is_dir():
        raise RunFolderError(f"--resume {run} is a file, not a run folder")
    if not (run / "config.yaml").is_file():
        if (run / INCOMPLETE).is_file():
            raise RunFolderError(
                f"{run} stopped before it recorded its config (config.yaml), so it cannot be resumed; start "
                f"over: vpp-gym train CONFIG --out {run} --force"
            )
        raise RunFolderError(f"{run}: not a run folder of vpp-gym train (no config.yaml)")
    lock = FolderLock(run).acquire("vpp-gym train --resume")
    try:
        return _resume(run, total_timesteps, progress)
    finally:
        lock.release()


def _resume(run: Path, total_timesteps: int | None, progress: bool) -> Path:
    from agents.rl.policy import load_model

    overrides = {} if total_timesteps is None else {"train.total_timesteps": total_timesteps}
    cfg, _ = load_experiment(run / "config.yaml", overrides)
    ck = recover_unit(run, CHECKPOINT)
    for unit in ("best", "final"):  # a kill while one was replaced: keep its newest complete copy
        recover_unit(run, unit)
    if ck is None:
        for path in (run / CHECKPOINT, run / f"{CHECKPOINT}.tmp", run / f"{CHECKPOINT}.old"):
            if path.is_dir():  # a checkpoint, but none complete: name the damage, delete nothing
                try:
                    verify_unit(path)
                except RunFolderError as err:
                    todo = (
                        f"start over with vpp-gym train CONFIG --out {run} --force"
                        if run_status(run) == "incomplete"
                        else "its best/ and final/ models are not affected; train further in a new run"
                    )
                    raise RunFolderError(f"{err}; no complete checkpoint is left to resume from: {todo}") from None
        if run_status(run) != "incomplete":
            raise RunFolderError(f"{run}: no checkpoint to resume from ({run / CHECKPOINT} is missing)")
        print(
            f"vpp-gym train: {run} stopped before its first checkpoint; starting it over from step 0 with its config",
            file=sys.stderr,
            flush=True,
        )
        _apply_threads(cfg)
        env = preflight(cfg)
        command = (run / "command.txt").read_text().strip() if (run / "command.txt").is_file() else ""
        for name in contents(run):  # the run's own files (the folder was empty or new when it started)
            if name.rstrip("/") != "config.yaml" and is_run_file(name):
                path = run / name.rstrip("/")
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        note = f"{shlex.join(['vpp-gym', 'train', '--resume', str(run)])}  # started over: no checkpoint"
        return _start(cfg, run, env, f"{command}\n{note}".strip(), progress)
    manifest = verify_unit(ck)
    state = read_json(ck / "state.json", "the trainer's state in the checkpoint")
    try:
        done = int(state["num_timesteps"])
        float(state["best_val_profit"])
    except (KeyError, TypeError, ValueError):
        raise RunFolderError(
            f"{ck / 'state.json'} lacks num_timesteps or best_val_profit; the file is damaged"
        ) from None
    if cfg.train.total_timesteps <= done and not (state.get("search_started") and not state.get("search_done")):
        raise ConfigError(
            f"train.total_timesteps: the run is at step {done:,}; give a larger total to continue "
            f"(vpp-gym train --resume {run} train.total_timesteps=N)"
        )
    meta_path = run / "meta.json"
    meta = read_json(meta_path, "the run's record")
    _apply_threads(cfg)
    env = make_train_env(cfg)
    check_spaces(manifest.get("spaces"), spaces_record(env), str(run))
    ObsNormalizer.load(ck).apply_to(env)
    model = load_model(cfg.algo, ck / MODEL, env=env, device=cfg.train.device)
    if cfg.algo == "sac" and (ck / "replay_buffer.pkl").is_file():
        try:
            model.load_replay_buffer(ck / "replay_buffer.pkl")
        except Exception as err:  # pickle and SB3 raise many kinds
            raise RunFolderError(f"cannot load {ck / 'replay_buffer.pkl'}: {type(err).__name__}: {err}") from None
        seal_open_episodes(model.replay_buffer)
    # fresh episodes after the checkpoint (not a replay of the run's first ones), reproducibly
    seed_train_env(env, cfg, int(np.random.SeedSequence([cfg.seed, 1, done]).generate_state(1)[0]))
    # the best model may have improved after the checkpoint (a hard kill): keep the better record
    best = find_unit(run, "best")
    if best is not None:
        rec = read_manifest(best)
        if rec.get("val_profit") is not None and rec["val_profit"] > state["best_val_profit"]:
            state.update(best_val_profit=rec["val_profit"], best_timesteps=rec["timesteps"])
    truncate_curve(run / "curve.csv", done)
    _truncate_tensorboard(run / "tb", done)  # a kill after the checkpoint logged steps that are played again
    write_text_atomic(run / INCOMPLETE, _incomplete_text(run))  # a finished run extended is unfinished again
    (run / "summary.json").unlink(missing_ok=True)
    write_text_atomic(run / "config.yaml", experiment_yaml(cfg))
    meta.setdefault("resumed", []).append(
        {
            "at_timesteps": done,
            "total_timesteps": cfg.train.total_timesteps,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_revision": runinfo.git_revision(),
        }
    )
    write_text_atomic(meta_path, json.dumps(meta, indent=2))
    return _learn(cfg, run, env, model, state, progress, reset=False)


def _truncate_tensorboard(tb_dir: Path, timesteps: int) -> None:
    """Drop TensorBoard events logged after ``timesteps`` (a resume logs those steps again: no duplicates)."""
    files = sorted(tb_dir.rglob("events.out.tfevents.*")) if tb_dir.is_dir() else []
    if not files:
        return
    from tensorboard.backend.event_processing.event_file_loader import (  # type: ignore[import-untyped]
        RawEventFileLoader,
    )
    from tensorboard.compat.proto import event_pb2  # type: ignore[import-untyped]
    from tensorboard.summary.writer.record_writer import RecordWriter  # type: ignore[import-untyped]

    for path in files:
        records = list(RawEventFileLoader(str(path)).Load())
        kept = [r for r in records if event_pb2.Event.FromString(r).step <= timesteps]
        if len(kept) == len(records):
            continue
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            writer = RecordWriter(fh)
            for r in kept:
                writer.write(r)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)


def seal_open_episodes(buffer: Any) -> None:
    """Mark each sub-env's last stored transition as a time-out where its episode was still running.

    A resumed run resets its envs, so the rows it adds next belong to new episodes; without the
    mark, SB3's n-step returns would run from the interrupted episode into them. A time-out stops
    the n-step sum there and bootstraps from the stored next observation (for one-step returns it
    changes nothing: SB3 reads time-outs only on terminal rows).
    """
    if not getattr(buffer, "handle_timeout_termination", False) or (buffer.pos == 0 and not buffer.full):
        return
    last = (buffer.pos - 1) % buffer.buffer_size
    buffer.timeouts[last] = np.logical_or(buffer.timeouts[last], buffer.dones[last] == 0)


def _learn(
    cfg: ExperimentConfig,
    run: Path,
    env: Any,
    model: Any,
    state: dict[str, Any],
    progress: bool,
    reset: bool,
    on_eval: OnEval | None = None,
) -> Path:
    trainer = _Trainer(cfg, run, env, state, progress, on_eval)
    remaining = cfg.train.total_timesteps - (0 if reset else model.num_timesteps)
    if not state.get("search_started"):  # a resume inside the search has no PPO steps left
        try:
            model.learn(
                total_timesteps=remaining,
                callback=trainer.callback(),
                reset_num_timesteps=reset,
                tb_log_name="run",
                progress_bar=progress,
            )
        except KeyboardInterrupt:
            trainer.checkpoint(model)
            raise TrainingInterrupted(
                f"interrupted at step {model.num_timesteps:,}; checkpoint saved; continue with: "
                f"vpp-gym train --resume {run}"
            ) from None
        if state.get("last_eval") != model.num_timesteps:
            trainer.evaluate(model)  # the final model is a candidate for the best one too
    if search_config(cfg) is not None and not state.get("search_done"):
        _search(cfg, run, env, model, trainer)
    trainer.save_unit(model, "final", {})
    trainer.checkpoint(model)
    summary = {
        "num_timesteps": model.num_timesteps,
        "best_val_profit": state["best_val_profit"],
        "best_timesteps": state["best_timesteps"],
        "wall_s": round(time.perf_counter() - trainer.t0, 1),
    }
    write_text_atomic(run / "summary.json", json.dumps(summary, indent=2))
    (run / INCOMPLETE).unlink(missing_ok=True)
    fsync_dir(run)
    if progress:
        print(
            f"done: {model.num_timesteps:,} steps in {summary['wall_s']:.0f} s; best validation profit "
            f"{state['best_val_profit']:,.1f} at step {state['best_timesteps']:,}; run folder {run}"
        )
    return run
