"""Train PPO or SAC from an experiment config into a run folder; resume an interrupted run.

A run folder holds everything needed to reproduce and to use the run:

```
config.yaml            the resolved experiment config (scenario path made absolute)
scenario.yaml          the resolved scenario the env was built from
command.txt            the command line
meta.json              algo, seeds, git revision, library versions, start time, resumptions,
                       SAC demonstrations (agents.rl.demo)
final_model.zip        model at the end of training, final_vecnormalize.pkl its normalisation
best_model.zip         model with the best validation profit, best_vecnormalize.pkl
checkpoint/            latest resumable state (model, normalisation, SAC replay buffer, state.json)
curve.csv              validation KPIs over training (one row per evaluation)
tb/                    TensorBoard logs (SB3 losses, vpp/* episode KPIs, eval/* validation KPIs)
```

Validation runs the deterministic policy on the first ``eval.days`` days of the ``eval.split``
split (never the test split) with a fixed seed, in one native vector env, using the training
normalisation statistics; the best model by mean validation profit is kept.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents import runinfo
from agents.kpi import kpis_from_totals
from agents.rl.config import ExperimentConfig, PpoConfig, SacConfig, experiment_yaml, load_experiment
from vpp_gym import ledger
from vpp_gym.config import dump_yaml
from vpp_gym.validation import ConfigError

EVAL_SEED = 20_261_127
"""Seed of the validation episodes' forecasts and signals: the same for every evaluation and run."""
CHECKPOINT = "checkpoint"


def env_seed(seed: int) -> int:
    """The training envs' seed derived from the experiment seed (sub-env ``i`` gets ``env_seed + i``)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def _scenario_arg(cfg: ExperimentConfig, base_dir: Path) -> str | dict[str, Any] | None:
    if isinstance(cfg.scenario, str):
        path = Path(cfg.scenario)
        return str(path if path.is_absolute() else (base_dir / path).resolve())
    return cfg.scenario


def resolve(cfg: ExperimentConfig, base_dir: Path) -> ExperimentConfig:
    """The config with its scenario path made absolute (what a run folder stores)."""
    return replace(cfg, scenario=_scenario_arg(cfg, base_dir))


class _EpisodeTotals(gym.Wrapper):
    """Sums a single env's ledger over an episode and reports it as ``info["episode_totals"]`` at its end
    (what the native vector env does itself), for the ``dummy`` vector env option."""

    def reset(self, **kwargs: Any) -> Any:
        self._totals: dict[str, float] = {}
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        for key in ledger.TOTAL_KEYS:
            group, _, item = key.partition(".")
            value = info.get(group, {}).get(item) if item else info.get(group)
            if value is not None:
                self._totals[key] = self._totals.get(key, 0.0) + float(value)
        if terminated or truncated:
            info = {**info, "episode_totals": dict(self._totals)}
        return obs, reward, terminated, truncated, info


def make_train_env(cfg: ExperimentConfig, n_envs: int | None = None, split: str = "train") -> Any:
    """The training ``VecEnv``: native (or dummy) vector env, ``VecMonitor``, ``VecNormalize``."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize

    from vpp_gym.sb3 import make_sb3_vec_env

    n = n_envs or cfg.train.n_envs
    seed = env_seed(cfg.seed)
    venv: VecEnv
    if cfg.train.vec_env == "native":
        venv = make_sb3_vec_env(cfg.env_id, n, cfg.scenario, cfg.overrides, split=split, seed=seed)
    else:

        def make() -> gym.Env:
            return _EpisodeTotals(gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides, split=split))

        venv = DummyVecEnv([make] * n)
        venv.seed(seed)
    assert cfg.agent is not None
    return VecNormalize(
        VecMonitor(venv),
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
        return PPO(
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
    assert isinstance(a, SacConfig)
    ent: Any = a.ent_coef if isinstance(a.ent_coef, str) else float(a.ent_coef)
    target: Any = a.target_entropy if isinstance(a.target_entropy, str) else float(a.target_entropy)
    return SAC(
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


class _Linear:
    """Picklable linear schedule: ``lr * progress_remaining``."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def __call__(self, progress_remaining: float) -> float:
        return self.lr * progress_remaining


def evaluate_days(
    policy_fn: Any, cfg: ExperimentConfig, split: str, days: int, seed: int = EVAL_SEED
) -> list[dict[str, float]]:
    """KPIs of one deterministic episode on each of the first ``days`` days of ``split`` (one vector env)."""
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
    n_days = len(venv.episode_starts[split])  # type: ignore[attr-defined]
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


class _Trainer:
    """Callbacks' shared state: validation, best model, checkpoints, episode KPI logging."""

    def __init__(self, cfg: ExperimentConfig, run: Path, env: Any, state: dict[str, Any], progress: bool) -> None:
        self.cfg, self.run, self.env, self.state, self.progress = cfg, run, env, state, progress
        self.t0 = time.perf_counter() - state.get("wall_s", 0.0)

    def callback(self) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        trainer = self

        class _Callback(BaseCallback):
            def _on_step(self) -> bool:
                for info in self.locals.get("infos", ()):
                    totals = info.get("episode_totals")
                    if totals is not None:
                        for k, v in kpis_from_totals(totals).items():
                            self.logger.record_mean(f"vpp/{k}", v)
                return trainer.on_step(self.model)

        return _Callback()

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

        return act

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
            model.save(self.run / "best_model.zip")
            self._save_normalizer(self.run / "best_vecnormalize.pkl")
            (self.run / "best.json").write_text(
                json.dumps({"best_val_profit": mean["profit"], "best_timesteps": model.num_timesteps})
            )
        if self.progress:
            print(
                f"  step {model.num_timesteps:>10,}  validation profit {mean['profit']:>12,.1f} "
                f"(+/- {std_profit:,.1f} over {ev.days} {ev.split} days; best {self.state['best_val_profit']:,.1f})",
                flush=True,
            )
        return mean["profit"]

    def _save_normalizer(self, path: Path) -> None:
        self.env.save(str(path))  # the running statistics, without the wrapped envs

    def checkpoint(self, model: Any) -> None:
        tmp = self.run / (CHECKPOINT + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save(tmp / "model.zip")
        self._save_normalizer(tmp / "vecnormalize.pkl")
        if hasattr(model, "save_replay_buffer"):
            model.save_replay_buffer(tmp / "replay_buffer.pkl")
        state = {**self.state, "num_timesteps": model.num_timesteps, "wall_s": time.perf_counter() - self.t0}
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
        final = self.run / CHECKPOINT
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)


def _apply_threads(cfg: ExperimentConfig) -> None:
    import torch

    torch.set_num_threads(cfg.train.torch_threads)


def train(
    cfg: ExperimentConfig,
    run_dir: Path,
    base_dir: Path | None = None,
    command: str | None = None,
    progress: bool = True,
) -> Path:
    """Train a new run into ``run_dir`` (must not exist or be empty); returns the run folder."""
    cfg = resolve(cfg, base_dir or Path.cwd())
    run = Path(run_dir)
    if run.exists() and any(run.iterdir()):
        raise FileExistsError(
            f"run folder {run} exists and is not empty; pick another --out or resume it with "
            f"vpp-gym train --resume {run}"
        )
    created = not run.exists()
    run.mkdir(parents=True, exist_ok=True)
    _apply_threads(cfg)
    env = make_train_env(cfg)
    n_days = len(env.get_attr("episode_starts")[0][cfg.eval.split])
    if cfg.eval.days > n_days:
        raise ConfigError(f"eval.days: got {cfg.eval.days}, but the {cfg.eval.split!r} split has only {n_days} days")
    (run / "config.yaml").write_text(experiment_yaml(cfg))
    (run / "scenario.yaml").write_text(dump_yaml(env.get_attr("config")[0]))
    (run / "command.txt").write_text((command or shlex.join(sys.argv)) + "\n")
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
    env.seed(env_seed(cfg.seed))  # after the model: SB3 seeds the env with the agent seed on construction
    if isinstance(cfg.agent, SacConfig) and cfg.agent.demo_episodes:
        from agents.rl.demo import fill_replay_buffer

        try:
            meta["demonstrations"] = fill_replay_buffer(model, env, cfg)
        except ConfigError:
            for item in run.iterdir():  # the folder was empty or new: leave nothing half-made behind
                shutil.rmtree(item) if item.is_dir() else item.unlink()
            if created:
                run.rmdir()
            raise
        (run / "meta.json").write_text(json.dumps(meta, indent=2))
        if progress:
            d = meta["demonstrations"]
            print(
                f"  replay buffer: {d['transitions']:,} transitions of {d['episodes']} {d['policy']} episodes "
                f"(mean profit {d['mean_profit']:,.1f}) in {d['wall_s']:.1f} s",
                flush=True,
            )
    state = {
        "next_eval": cfg.train.eval_every_steps,
        "next_checkpoint": cfg.train.checkpoint_every_steps,
        "best_val_profit": -float("inf"),
        "best_timesteps": None,
        "wall_s": meta.get("demonstrations", {}).get("wall_s", 0.0),
    }  # the run's wall time includes them
    return _learn(cfg, run, env, model, state, progress, reset=True)


def resume(run_dir: Path, total_timesteps: int | None = None, progress: bool = True) -> Path:
    """Continue a run from its checkpoint up to its ``train.total_timesteps`` (or a new, larger total)."""
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.rl.policy import load_model

    run = Path(run_dir)
    ck = run / CHECKPOINT
    if not (run / "config.yaml").is_file():
        raise FileNotFoundError(f"{run}: not a run folder of vpp-gym train (no config.yaml)")
    if not (ck / "state.json").is_file():
        raise FileNotFoundError(f"{run}: no checkpoint to resume from ({ck} is missing)")
    overrides = {} if total_timesteps is None else {"train.total_timesteps": total_timesteps}
    cfg, _ = load_experiment(run / "config.yaml", overrides)
    state = json.loads((ck / "state.json").read_text())
    done = int(state["num_timesteps"])
    if cfg.train.total_timesteps <= done:
        raise ConfigError(
            f"train.total_timesteps: the run is at step {done:,}; give a larger total to continue "
            f"(vpp-gym train --resume {run} train.total_timesteps=N)"
        )
    _apply_threads(cfg)
    fresh = make_train_env(cfg)
    env = VecNormalize.load(str(ck / "vecnormalize.pkl"), fresh.venv)
    model = load_model(cfg.algo, ck / "model.zip", env=env, device=cfg.train.device)
    if cfg.algo == "sac" and (ck / "replay_buffer.pkl").is_file():
        model.load_replay_buffer(ck / "replay_buffer.pkl")
        seal_open_episodes(model.replay_buffer)
    # fresh episodes after the checkpoint (not a replay of the run's first ones), reproducibly
    env.seed(int(np.random.SeedSequence([cfg.seed, 1, done]).generate_state(1)[0]))
    # the best model may have improved after the checkpoint (a hard kill): keep the better record
    best_path = run / "best.json"
    if best_path.is_file():
        best = json.loads(best_path.read_text())
        if best["best_val_profit"] > state["best_val_profit"]:
            state.update(best)
    _truncate_curve(run / "curve.csv", done)
    (run / "config.yaml").write_text(experiment_yaml(cfg))
    meta = json.loads((run / "meta.json").read_text())
    meta["resumed"].append(
        {
            "at_timesteps": done,
            "total_timesteps": cfg.train.total_timesteps,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_revision": runinfo.git_revision(),
        }
    )
    (run / "meta.json").write_text(json.dumps(meta, indent=2))
    return _learn(cfg, run, env, model, state, progress, reset=False)


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


def _truncate_curve(path: Path, timesteps: int) -> None:
    """Drop the curve rows after ``timesteps`` (evaluations after a checkpoint that a resume replays)."""
    if not path.is_file():
        return
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    kept = [r for r in rows if int(float(r["timesteps"])) <= timesteps]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)


def _learn(
    cfg: ExperimentConfig, run: Path, env: Any, model: Any, state: dict[str, Any], progress: bool, reset: bool
) -> Path:
    trainer = _Trainer(cfg, run, env, state, progress)
    remaining = cfg.train.total_timesteps - (0 if reset else model.num_timesteps)
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
        print(
            f"\ninterrupted at step {model.num_timesteps:,}; checkpoint saved. Continue with:\n"
            f"  vpp-gym train --resume {run}",
            file=sys.stderr,
        )
        raise
    if state.get("last_eval") != model.num_timesteps:
        trainer.evaluate(model)  # the final model is a candidate for the best one too
    model.save(run / "final_model.zip")
    trainer._save_normalizer(run / "final_vecnormalize.pkl")
    trainer.checkpoint(model)
    summary = {
        "num_timesteps": model.num_timesteps,
        "best_val_profit": state["best_val_profit"],
        "best_timesteps": state["best_timesteps"],
        "wall_s": round(time.perf_counter() - trainer.t0, 1),
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2))
    if progress:
        print(
            f"done: {model.num_timesteps:,} steps in {summary['wall_s']:.0f} s; best validation profit "
            f"{state['best_val_profit']:,.1f} at step {state['best_timesteps']:,}; run folder {run}"
        )
    return run
