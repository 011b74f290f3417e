"""Multi-agent PPO on the market game through Ray RLlib: ``vpp-gym train`` of an ``algo: rllib`` config.

Needs the ``ray`` extra with RLlib (``pip install "ray[rllib]"``; ``ray[rllib]`` 2.60 pins Gymnasium
1.2.2, on which the env's suite passes). Nothing else in the package imports RLlib.

The agents of a :class:`vpp_gym.multi.MultiVppEnv` (``n_agents`` VPPs of one v1 task, the autonomous
preset by default, their offers cleared jointly) learn with RLlib's PPO (new API stack: RLModules,
env runners, learners), either one policy shared by every seat (``policies: shared``, parameter
sharing) or one per seat (``policies: independent``, independent learners)::

    name: rllib_game
    algo: rllib
    env_id: vpp_gym/Arbitrage-v1       # every seat's task
    n_agents: 2
    scenario: null                     # a scenario YAML, an inline mapping or null (the autonomous preset)
    overrides: {}                      # dotted overrides: one mapping for all seats or a list, one per seat
    policies: shared                   # shared | independent
    seed: 0
    agent: {lr: 5.0e-5, gamma: 0.99, gae_lambda: 0.95, clip_param: 0.2, entropy_coeff: 0.0,
            train_batch_size: 4000, minibatch_size: 256, num_epochs: 10, net_arch: [256, 256]}
    train: {iterations: 100, checkpoint_every: 10, eval_every: 10, num_env_runners: 0}
    eval: {split: val, days: 8}

The run folder has the records of an SB3 run (``config.yaml``, ``command.txt``, ``meta.json`` with the
seeds, git revision and library versions, ``curve.csv``, ``INCOMPLETE`` until it has finished,
``summary.json``) and RLlib's own checkpoint in ``checkpoint/`` (written every ``checkpoint_every``
iterations and at the end; RLlib's format, pickles: load only runs you trust). ``vpp-gym train
--resume RUN`` continues from it (the curve's rows after it are dropped). ``curve.csv`` has, per
iteration, the env steps, the wall time and the mean training return, and every ``eval_every``
iterations the deterministic policies' mean profit per agent and day on the first ``eval.days`` days of
``eval.split`` (never the test split; seed ``20261127 + e`` as SB3 runs), each seat and their mean.

A trained seat plays as ``rllib`` (:class:`RllibPolicy`): ``agents.game.play(game, ["rllib", ...])``
with ``{"name": "rllib", "run": RUN}``, or ``vpp-gym evaluate --policies rllib=RUN`` on the seat's
single env (the same config; its observation layout is checked).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agents import runinfo
from agents.rl.config import EVAL_SEED, SEED_MAX, EvalConfig, experiment_yaml
from agents.runfiles import INCOMPLETE, RunFolderError, fsync_dir, read_json, truncate_curve, write_text_atomic
from vpp_gym.config import read_yaml
from vpp_gym.tasks import ALL_TASKS
from vpp_gym.validation import (
    ConfigError,
    from_mapping,
    merge_overrides,
    require,
    require_int,
    require_range,
)

ALGO = "rllib"
CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class RllibPpoConfig:
    """RLlib PPO hyperparameters (RLlib's names; ``gae_lambda`` is its ``lambda_``)."""

    lr: float = 5e-5
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_param: float = 0.2
    entropy_coeff: float = 0.0
    train_batch_size: int = 4000
    minibatch_size: int = 256
    num_epochs: int = 10
    net_arch: tuple[int, ...] = (256, 256)

    def __post_init__(self) -> None:
        require_range("agent.lr", self.lr, 0.0, 1.0, lo_open=True)
        require_range("agent.gamma", self.gamma, 0.0, 1.0)
        require_range("agent.gae_lambda", self.gae_lambda, 0.0, 1.0)
        require_range("agent.clip_param", self.clip_param, 0.0, 10.0, lo_open=True)
        require_range("agent.entropy_coeff", self.entropy_coeff, 0.0, 100.0)
        require_int("agent.train_batch_size", self.train_batch_size, 1, 10**9)
        require_int("agent.minibatch_size", self.minibatch_size, 1, self.train_batch_size)
        require_int("agent.num_epochs", self.num_epochs, 1, 10_000)
        require(bool(self.net_arch) and all(n > 0 for n in self.net_arch), "agent.net_arch", self.net_arch, "sizes > 0")


@dataclass(frozen=True)
class RllibTrainConfig:
    """Budget and records: iterations of RLlib's ``train()``, checkpoints and validations every so many."""

    iterations: int = 100
    checkpoint_every: int = 10
    eval_every: int = 10
    num_env_runners: int = 0

    def __post_init__(self) -> None:
        require_int("train.iterations", self.iterations, 1, 10**7)
        require_int("train.checkpoint_every", self.checkpoint_every, 0, 10**7)
        require_int("train.eval_every", self.eval_every, 0, 10**7)
        require_int("train.num_env_runners", self.num_env_runners, 0, 1024)


@dataclass(frozen=True)
class GameExperimentConfig:
    """A multi-agent RLlib run on the market game; see the module docstring for the YAML layout."""

    name: str
    env_id: str
    algo: Literal["rllib"]
    n_agents: int = 2
    scenario: str | dict[str, Any] | None = None
    overrides: dict[str, Any] | tuple[dict[str, Any], ...] = field(default_factory=dict)
    public_obs: bool = False
    policies: Literal["shared", "independent"] = "shared"
    seed: int = 0
    agent: RllibPpoConfig = field(default_factory=RllibPpoConfig)
    train: RllibTrainConfig = field(default_factory=RllibTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        require(self.env_id in ALL_TASKS, "env_id", self.env_id, "one of " + ", ".join(ALL_TASKS))
        require(bool(self.name) and "/" not in self.name, "name", self.name, "a non-empty name without '/'")
        require_int("n_agents", self.n_agents, 1, 1000)
        require_int("seed", self.seed, 0, SEED_MAX)
        if isinstance(self.overrides, tuple) and len(self.overrides) != self.n_agents:
            raise ConfigError(f"overrides: a list of {len(self.overrides)} mappings for {self.n_agents} agents")

    def module_of(self, agent: str) -> str:
        """The RLModule (policy) that plays ``agent``."""
        return "shared" if self.policies == "shared" else agent

    def agents(self) -> list[str]:
        """The seats' names (as :class:`vpp_gym.multi.MultiVppEnv` names them)."""
        return [f"vpp_{i}" for i in range(self.n_agents)]


def is_rllib_config(path: str | Path, overrides: dict[str, Any]) -> bool:
    """Whether the experiment YAML at ``path`` (with ``overrides``) is an RLlib one (``algo: rllib``)."""
    data = merge_overrides(read_yaml(path), overrides)
    return data.get("algo") == ALGO


def load_game_experiment(
    path: str | Path, overrides: dict[str, Any] | None = None
) -> tuple[GameExperimentConfig, Path]:
    """Load an ``algo: rllib`` experiment YAML with dotted ``overrides``; the scenario path made absolute."""
    data = merge_overrides(read_yaml(path), overrides or {})
    cfg = from_mapping(GameExperimentConfig, data)
    base = Path(path).resolve().parent
    if isinstance(cfg.scenario, str) and not Path(cfg.scenario).is_absolute():
        cfg = replace(cfg, scenario=str((base / cfg.scenario).resolve()))
    try:  # the scenario and overrides, checked by building the game once (before a run folder is made)
        make_game(cfg, split=cfg.eval.split)
    except ImportError as err:
        raise ConfigError(f"the market game needs PettingZoo ({err}): pip install 'vpp-gym[multi]'") from None
    return cfg, base


def make_game(cfg: GameExperimentConfig, split: str = "train") -> Any:
    """The :class:`vpp_gym.multi.MultiVppEnv` of the config."""
    from vpp_gym.multi import MultiVppEnv

    return MultiVppEnv(
        task=cfg.env_id,
        n_agents=cfg.n_agents,
        config=cfg.scenario,
        overrides=cfg.overrides or None,
        split=split,
        public_obs=cfg.public_obs,
    )


def _algo_config(cfg: GameExperimentConfig) -> Any:
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv
    from ray.tune.registry import register_env

    env_name = f"vpp_gym_game_{cfg.name}"
    register_env(env_name, lambda _c: ParallelPettingZooEnv(make_game(cfg)))
    modules = sorted({cfg.module_of(a) for a in cfg.agents()})
    a, tr = cfg.agent, cfg.train
    return (
        PPOConfig()
        .environment(env_name)
        .framework("torch")
        .env_runners(num_env_runners=tr.num_env_runners)
        .multi_agent(policies=set(modules), policy_mapping_fn=_mapping(cfg))
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=list(a.net_arch)))
        .training(
            lr=a.lr,
            gamma=a.gamma,
            lambda_=a.gae_lambda,
            clip_param=a.clip_param,
            entropy_coeff=a.entropy_coeff,
            train_batch_size_per_learner=a.train_batch_size,
            minibatch_size=a.minibatch_size,
            num_epochs=a.num_epochs,
        )
        .debugging(seed=cfg.seed)
    )


def _mapping(cfg: GameExperimentConfig) -> Any:
    shared = cfg.policies == "shared"

    def policy_mapping_fn(agent_id: str, *args: Any, **kwargs: Any) -> str:
        return "shared" if shared else agent_id

    return policy_mapping_fn


def greedy_action(module: Any, obs: np.ndarray, n_actions: int) -> np.ndarray:
    """The deterministic action of an RLlib PPO module: the Gaussian's mean, clipped to the box ``[-1, 1]``."""
    import torch

    with torch.no_grad():
        out = module.forward_inference({"obs": torch.as_tensor(np.asarray(obs, np.float32)[None])})
    mean = out["action_dist_inputs"][0, :n_actions].numpy()
    return np.clip(mean, -1.0, 1.0).astype(np.float32)


def evaluate_game(cfg: GameExperimentConfig, modules: dict[str, Any], split: str, days: int) -> dict[str, float]:
    """Mean profit per agent and day of the deterministic policies on the first ``days`` days of ``split``."""
    game = make_game(cfg, split=split)
    n_act = {a: int(game.action_space(a).shape[0]) for a in game.possible_agents}
    totals = dict.fromkeys(game.possible_agents, 0.0)
    for e in range(days):
        obs, _ = game.reset(seed=EVAL_SEED + e, options={"split": split, "day": e})
        while game.agents:
            acts = {a: greedy_action(modules[cfg.module_of(a)], obs[a], n_act[a]) for a in game.agents}
            obs, _, _, _, infos = game.step(acts)
            for a, info in infos.items():
                totals[a] += float(info["profit"])
    return {a: v / days for a, v in totals.items()}


def _modules(algo: Any, cfg: GameExperimentConfig) -> dict[str, Any]:
    return {m: algo.get_module(m) for m in {cfg.module_of(a) for a in cfg.agents()}}


def start_ray(address: str | None = None) -> bool:
    """Start Ray unless it runs already: a local instance with the machine's CPUs, or with ``address`` a
    connection to that cluster. Returns whether it was started here (then the caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    return True


def train_rllib(
    cfg: GameExperimentConfig,
    run: Path,
    command: str,
    progress: bool = True,
    resume: bool = False,
    on_eval: Callable[[int, float], None] | None = None,
) -> Path:
    """Train (or with ``resume`` continue) the run in the locked folder ``run``; returns it.

    ``on_eval`` is called with ``(env steps, mean validation profit)`` after every validation but the last
    (``vpp-gym tune`` reports to Ray Tune with it; the last is read from ``curve.csv`` once the run's records
    are complete).
    """
    import ray

    started = start_ray()
    try:
        if resume:
            from ray.rllib.algorithms.algorithm import Algorithm

            _recover_checkpoint(run)
            register = _algo_config(cfg)  # registers the env for the restored algorithm
            del register
            algo = Algorithm.from_checkpoint(str((run / CHECKPOINT).resolve()))
            state = read_json(run / CHECKPOINT / "vpp_gym_state.json", "the checkpoint's state")
            truncate_curve(run / "curve.csv", int(state["iteration"]), "iteration")
            meta = read_json(run / "meta.json")
            meta.setdefault("resumed", []).append(
                {"at_iteration": state["iteration"], "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            )
            (run / "meta.json").write_text(json.dumps(meta, indent=2))
            it0, wall0 = int(state["iteration"]), float(state["wall_s"])
        else:
            write_text_atomic(
                run / INCOMPLETE, f"an unfinished RLlib run; continue it with: vpp-gym train --resume {run}\n"
            )
            (run / "config.yaml").write_text(experiment_yaml(cfg))
            (run / "command.txt").write_text(command + "\n")
            meta = {
                "name": cfg.name,
                "env_id": cfg.env_id,
                "algo": ALGO,
                "n_agents": cfg.n_agents,
                "policies": cfg.policies,
                "seeds": {"agent": cfg.seed, "eval": EVAL_SEED},
                "git_revision": runinfo.git_revision(),
                "versions": {**runinfo.versions(), "ray": ray.__version__},
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "cpu_count": os.cpu_count(),
                "resumed": [],
            }
            (run / "meta.json").write_text(json.dumps(meta, indent=2))
            game = make_game(cfg)
            seat = game.envs[0]
            public = ("market_price", "market_award") if cfg.public_obs else ()
            layout = {"observation_names": [*seat.observation_names, *public], "action_names": list(seat.action_names)}
            (run / "spaces.json").write_text(json.dumps(layout, indent=2))
            algo = _algo_config(cfg).build_algo()
            it0, wall0 = 0, 0.0
        t0 = time.perf_counter() - wall0
        tr, ev = cfg.train, cfg.eval
        for it in range(it0 + 1, tr.iterations + 1):
            result = algo.train()
            runners = result.get("env_runners", {})
            row: dict[str, Any] = {
                "iteration": it,
                "env_steps": int(runners.get("num_env_steps_sampled_lifetime", 0)),
                "wall_s": round(time.perf_counter() - t0, 1),
                "train_return_mean": float(runners.get("episode_return_mean", float("nan"))),
            }
            last = it == tr.iterations
            if (tr.eval_every and it % tr.eval_every == 0) or last:
                profits = evaluate_game(cfg, _modules(algo, cfg), ev.split, ev.days)
                row.update({f"val_profit_{a}": v for a, v in profits.items()})
                row["val_profit"] = float(np.mean(list(profits.values())))
            _append_curve(run / "curve.csv", row, cfg)
            if on_eval is not None and "val_profit" in row and not last:  # after the row: a stop may follow
                on_eval(row["env_steps"], row["val_profit"])
            if progress:
                extra = f", validation profit {row['val_profit']:,.1f}" if "val_profit" in row else ""
                print(f"  iteration {it:>6}  env steps {row['env_steps']:>10,}{extra}", flush=True)
            if (tr.checkpoint_every and it % tr.checkpoint_every == 0) or last:
                _checkpoint(algo, run, it, row["wall_s"])
        summary = {"iterations": tr.iterations, "wall_s": round(time.perf_counter() - t0, 1)}
        write_text_atomic(run / "summary.json", json.dumps(summary, indent=2))
        (run / INCOMPLETE).unlink(missing_ok=True)
        fsync_dir(run)
        algo.stop()
    finally:
        if started:
            ray.shutdown()
    return run


def _curve_fields(cfg: GameExperimentConfig) -> list[str]:
    return [
        "iteration",
        "env_steps",
        "wall_s",
        "train_return_mean",
        "val_profit",
        *(f"val_profit_{a}" for a in cfg.agents()),
    ]


def _append_curve(path: Path, row: dict[str, Any], cfg: GameExperimentConfig) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=_curve_fields(cfg), restval="")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _recover_checkpoint(run: Path) -> None:
    """Before a resume: a checkpoint that a stop between :func:`_checkpoint`'s two renames left as
    ``checkpoint.tmp/`` (complete: its state file is written last) or ``checkpoint.old/`` becomes
    ``checkpoint/`` again. A :class:`RunFolderError` if the run has none."""
    final = run / CHECKPOINT
    if (final / "vpp_gym_state.json").is_file():
        return
    for name in (f"{CHECKPOINT}.tmp", f"{CHECKPOINT}.old"):
        cand = run / name
        if (cand / "vpp_gym_state.json").is_file():
            shutil.rmtree(final, ignore_errors=True)
            cand.rename(final)
            fsync_dir(run)
            return
    raise RunFolderError(
        f"{run} has no complete checkpoint (it stopped before its first one); start it over: "
        f"vpp-gym train CONFIG --out {run} --force"
    )


def _checkpoint(algo: Any, run: Path, iteration: int, wall_s: float) -> None:
    """RLlib's checkpoint into ``checkpoint.tmp/``, then renamed over ``checkpoint/`` (never half-written)."""
    tmp, final = run / f"{CHECKPOINT}.tmp", run / CHECKPOINT
    shutil.rmtree(tmp, ignore_errors=True)
    algo.save_to_path(str(tmp.resolve()))
    write_text_atomic(tmp / "vpp_gym_state.json", json.dumps({"iteration": iteration, "wall_s": wall_s}))
    old = run / f"{CHECKPOINT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    fsync_dir(run)


def read_run_config(run: str | Path) -> GameExperimentConfig:
    """The config of an RLlib run folder (its ``config.yaml``)."""
    path = Path(run) / "config.yaml"
    if not path.is_file():
        raise RunFolderError(f"{run}: no config.yaml; not a run folder of vpp-gym train")
    return from_mapping(GameExperimentConfig, read_yaml(path))


def extend_iterations(run: Path, cfg: GameExperimentConfig, iterations: Any) -> GameExperimentConfig:
    """The run's config with ``train.iterations`` raised to ``iterations`` (written to its ``config.yaml``; the
    run is marked unfinished again). A :class:`ConfigError` unless it is above the checkpoint's iteration."""
    _recover_checkpoint(run)
    state = read_json(run / CHECKPOINT / "vpp_gym_state.json", "the checkpoint's state")
    done = int(state["iteration"])
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations <= done:
        raise ConfigError(
            f"train.iterations: got {iterations!r}; the run's checkpoint is at iteration {done}, give more"
        )
    cfg = replace(cfg, train=replace(cfg.train, iterations=iterations))
    (run / "config.yaml").write_text(experiment_yaml(cfg))
    write_text_atomic(run / INCOMPLETE, f"an unfinished RLlib run; continue it with: vpp-gym train --resume {run}\n")
    return cfg


class RllibPolicy:
    """A seat's trained RLlib module as a :class:`agents.base.Policy`: observation in, deterministic action out.

    ``module``: the RLModule to play (default: the shared one, or ``vpp_0``'s with independent policies).
    """

    def __init__(self, module: Any, n_actions: int) -> None:
        self.module, self.n_actions = module, n_actions

    @classmethod
    def load(cls, run: str | Path, env: Any | None = None, module: str | None = None) -> RllibPolicy:
        """Load the module of the run's checkpoint; with ``env`` check its observation and action sizes."""
        from ray.rllib.core.rl_module.rl_module import RLModule

        cfg = read_run_config(run)
        name = module or cfg.module_of("vpp_0")
        path = Path(run) / CHECKPOINT / "learner_group" / "learner" / "rl_module" / name
        if not path.is_dir():
            raise RunFolderError(f"{run}: no checkpoint of module {name!r} ({path}); has the run checkpointed yet?")
        if (Path(run) / INCOMPLETE).is_file():
            warnings.warn(f"{run} is an unfinished RLlib run: its last checkpoint is used", stacklevel=2)
        base = getattr(env, "unwrapped", env) if env is not None else None
        if base is not None and hasattr(base, "observation_names") and (Path(run) / "spaces.json").is_file():
            layout = read_json(Path(run) / "spaces.json", "the run's seat layout")
            names = list(base.observation_names)
            if layout["observation_names"] != names or layout["action_names"] != list(base.action_names):
                differ = next(
                    (
                        f"{a!r} against {b!r}"
                        for a, b in zip(layout["observation_names"], names, strict=False)
                        if a != b
                    ),
                    f"{len(layout['observation_names'])} rows against {len(names)}",
                )
                raise ConfigError(
                    f"{run}: trained on another observation or action layout than this env's (first difference: "
                    f"{differ}); evaluate it on the config it was trained on ({cfg.env_id} with its scenario and "
                    "overrides)"
                )
        mod: Any = RLModule.from_checkpoint(str(path.resolve()))
        n_obs, n_act = int(mod.observation_space.shape[0]), int(mod.action_space.shape[0])
        if env is not None:
            e_obs = int(env.observation_space.shape[0])
            e_act = int(env.action_space.shape[0])
            if (e_obs, e_act) != (n_obs, n_act):
                raise ConfigError(
                    f"{run}: module {name!r} takes {n_obs} observations and gives {n_act} actions; this env has "
                    f"{e_obs} and {e_act} (evaluate it on the config it was trained on: {cfg.env_id} with its "
                    "scenario and overrides)"
                )
        return cls(mod, n_act)

    def reset(self) -> None:
        """Stateless."""

    def act(self, obs: np.ndarray, info: dict[str, Any] | None = None) -> np.ndarray:
        """The deterministic action (one row per batch row for a 2-D ``obs``)."""
        if np.ndim(obs) == 2:
            return np.stack([greedy_action(self.module, o, self.n_actions) for o in obs])
        return greedy_action(self.module, obs, self.n_actions)
