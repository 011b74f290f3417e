"""Hyperparameter sweeps of an experiment config on Ray Tune: ``vpp-gym tune CONFIG --space SPACE``.

Needs the ``ray`` extra (``pip install vpp-gym[ray]``); nothing else in the package imports Ray.

Every trial is one ``vpp-gym train`` run of the experiment ``CONFIG`` (any committed config: SB3's
``configs/experiments/*.yaml`` and ``configs/quick/*.yaml``, or an RLlib multi-agent one, ``algo: rllib``,
:mod:`agents.rl.rllib`) with the trial's sampled values applied as dotted overrides, in its own run folder
with the usual records (config, command, ``meta.json``, ``curve.csv``, best unit or checkpoint). Each
validation of the run is reported to Tune as ``val_profit`` (mean profit per day on the experiment's
``eval`` days, never the test split; an RLlib run's mean over its seats) at ``timesteps`` (environment
steps; an RLlib run's ``env_steps``, its iterations times ``agent.train_batch_size``); ASHA stops the
trials that fall behind at its rungs. All trials train with the experiment's seed, so they differ only
by their hyperparameters. An RLlib trial keeps its checkpoints (``train.checkpoint_every``) in its run
folder; its rungs are in environment steps too, so ``asha.grace_period_steps`` is a multiple of what one
iteration samples.

The search space is a YAML file (``configs/tune/*.yaml``) loaded into :class:`SweepConfig`::

    num_samples: 8              # trials drawn from the space
    max_concurrent: 2           # trials at once (each takes cpus_per_trial Ray CPUs)
    cpus_per_trial: 1
    seed: 0                     # of the search's draws (the same seed draws the same trials)
    scheduler: asha             # asha | fifo (no early stopping)
    asha: {grace_period_steps: 100000, reduction_factor: 2}
    search_space:               # dotted experiment key -> one distribution
      agent.learning_rate: {loguniform: [1.0e-5, 3.0e-4]}
      agent.log_std_init: {choice: [-3.0, -2.0]}
      agent.clip_range: {uniform: [0.1, 0.3]}
      agent.n_epochs: {integer: [5, 20]}        # both ends included

Before Ray starts, every key is applied at both ends of its range (and with every choice) and the
experiment config is validated, so a wrong key or value is a one-line error, not a failed trial.

**Outputs** (``--out``, default ``runs/tune-<name>-<time>``): ``sweep.yaml`` (the space as used),
``command.txt``, ``trials/<trial>/`` (one run folder per trial), ``ray/`` (Ray Tune's own experiment
folder), ``results.csv`` and ``results.md`` (one row per trial: its values, status, best validation
profit and step, steps reached, wall time, run folder; best first) and ``best_config.yaml`` (the
experiment config with the best trial's values, ready for ``vpp-gym train``).

**Where it runs.** Without ``--address`` the command starts a local Ray instance with the machine's
CPUs and stops it at the end. With ``--address HOST:PORT`` (or ``RAY_ADDRESS`` in the environment)
it joins an existing cluster (``ray start --head`` on one node, ``ray start --address HEAD:6379``
on the others) and the trials run on its workers; every node must then have vpp-gym installed and
``--out`` must be a folder that all nodes can write (a shared filesystem), since each trial writes
its run folder where it runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from agents.rl.config import ExperimentConfig, experiment_yaml, load_experiment
from agents.rl.rllib import start_ray
from agents.runfiles import read_json, write_text_atomic
from vpp_gym.config import read_yaml
from vpp_gym.validation import (
    ConfigError,
    from_mapping,
    merge_overrides,
    require,
    require_int,
    require_range,
    to_mapping,
)

METRIC = "val_profit"
"""The metric every trial reports and the sweep maximises: mean validation profit per day (CNY)."""
TIME_ATTR = "timesteps"
"""The progress measure of ASHA's rungs: environment steps of the trial's training."""

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "integer")


@dataclass(frozen=True)
class AshaConfig:
    """ASHA early stopping (Ray Tune's ``ASHAScheduler``) on :data:`METRIC` over :data:`TIME_ATTR`.

    Attributes:
        grace_period_steps: steps every trial trains before it can be stopped (the first rung).
        reduction_factor: a rung keeps the best ``1 / reduction_factor`` of the trials that reach it.
    """

    grace_period_steps: int = 100_000
    reduction_factor: int = 2

    def __post_init__(self) -> None:
        require_int("asha.grace_period_steps", self.grace_period_steps, 1, 10**12)
        require_int("asha.reduction_factor", self.reduction_factor, 2, 1000)


@dataclass(frozen=True)
class SweepConfig:
    """A search space and how to search it; see the module docstring for the YAML layout."""

    search_space: dict[str, dict[str, Any]]
    num_samples: int = 8
    max_concurrent: int = 2
    cpus_per_trial: float = 1.0
    seed: int = 0
    scheduler: Literal["asha", "fifo"] = "asha"
    asha: AshaConfig = field(default_factory=AshaConfig)

    def __post_init__(self) -> None:
        require(bool(self.search_space), "search_space", self.search_space, "at least one dotted key to search")
        for key, dist in self.search_space.items():
            _check_distribution(key, dist)
        require_int("num_samples", self.num_samples, 1, 100_000)
        require_int("max_concurrent", self.max_concurrent, 1, 100_000)
        require_range("cpus_per_trial", self.cpus_per_trial, 0.0, 1024.0, lo_open=True)
        require_int("seed", self.seed, 0, 2**32 - 1)


def _check_distribution(key: str, dist: Any) -> None:
    where = f"search_space.{key}"
    if not isinstance(dist, Mapping) or len(dist) != 1:
        raise ConfigError(
            f"{where}: expected one distribution as a mapping, e.g. {{loguniform: [1.0e-5, 1.0e-3]}} "
            f"(one of {', '.join(DISTRIBUTIONS)}), got {dist!r}"
        )
    ((kind, args),) = dist.items()
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"{where}: unknown distribution {kind!r}; use one of {', '.join(DISTRIBUTIONS)}")
    if not isinstance(args, list) or not args:
        raise ConfigError(f"{where}.{kind}: expected a non-empty list, got {args!r}")
    if kind == "choice":
        return
    if len(args) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in args):
        raise ConfigError(f"{where}.{kind}: expected [low, high] (two numbers), got {args!r}")
    lo, hi = args
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ConfigError(f"{where}.{kind}: expected finite low < high, got {args!r}")
    if kind == "loguniform" and lo <= 0:
        raise ConfigError(f"{where}.loguniform: the low end must be > 0, got {lo!r}")
    if kind == "integer" and not (float(lo).is_integer() and float(hi).is_integer()):
        raise ConfigError(f"{where}.integer: expected two integers, got {args!r}")


def _edge_values(dist: Mapping[str, Any]) -> list[Any]:
    """The values a distribution can take at its edges (every choice, both ends of a range)."""
    ((kind, args),) = dist.items()
    if kind == "choice":
        return list(args)
    if kind == "integer":
        return [int(args[0]), int(args[1])]
    return [float(args[0]), float(args[1])]


def load_sweep(path: str | Path) -> SweepConfig:
    """Read a search-space YAML into a :class:`SweepConfig` (unknown keys rejected)."""
    data = read_yaml(path)
    try:
        return from_mapping(SweepConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


FIXED_KEYS = ("train.total_timesteps", "train.eval_every_steps", "eval.", "seed")
"""Keys no sweep searches: the budget and the validation schedule that ASHA's rungs read from the experiment,
the validation days, and the seed every trial shares."""
RLLIB_FIXED_KEYS = ("train.iterations", "train.eval_every", "agent.train_batch_size", "eval.", "seed")
"""The same for an RLlib experiment (its budget is iterations of ``agent.train_batch_size`` environment steps)."""

Experiment = Any
"""An experiment config: :class:`agents.rl.config.ExperimentConfig` (SB3) or
:class:`agents.rl.rllib.GameExperimentConfig` (RLlib)."""


def _is_rllib(base: Mapping[str, Any]) -> bool:
    return base.get("algo") == "rllib"


def _load(base: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Experiment:
    """The experiment config of the mapping ``base`` with dotted ``overrides`` (SB3 or RLlib by its ``algo``)."""
    if _is_rllib(base):
        from agents.rl.rllib import GameExperimentConfig

        return from_mapping(GameExperimentConfig, merge_overrides(dict(base), dict(overrides or {})))
    return load_experiment(mapping=dict(base), overrides=dict(overrides or {}))[0]


def budget_steps(cfg: Experiment) -> tuple[int, int]:
    """``(training budget, steps between validations)`` in environment steps (0: validation only at the end)."""
    if isinstance(cfg, ExperimentConfig):
        return cfg.train.total_timesteps, cfg.train.eval_every_steps
    per = cfg.agent.train_batch_size
    return cfg.train.iterations * per, cfg.train.eval_every * per


def check_sweep(
    sweep: SweepConfig, cfg: Experiment, base: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> None:
    """Every searched key, at every edge of its range, gives a valid experiment config; ASHA gets reports.

    Raises:
        ConfigError: naming the search key (or the experiment key) and how to fix it.
    """
    fixed = RLLIB_FIXED_KEYS if _is_rllib(base) else FIXED_KEYS
    for key in sweep.search_space:
        if key in (overrides or {}):
            raise ConfigError(
                f"{key} is both given on the command line ({key}={(overrides or {})[key]!r}) and searched "
                "(search_space); drop one: every trial would replace the command line's value"
            )
        if any(key == k or (k.endswith(".") and key.startswith(k)) for k in fixed):
            raise ConfigError(
                f"search_space.{key}: the budget, the validation schedule and days and the seed are the same in every "
                "trial (ASHA compares trials at the experiment's steps); set them in the experiment config instead"
            )
    for key, dist in sweep.search_space.items():
        for value in _edge_values(dist):
            try:
                _load(base, {key: value})
            except ConfigError as err:
                raise ConfigError(f"search_space.{key} = {value!r} gives an invalid experiment: {err}") from None
    total, every = budget_steps(cfg)
    rllib = not isinstance(cfg, ExperimentConfig)
    total_key = "train.iterations x agent.train_batch_size" if rllib else "train.total_timesteps"
    every_key = "train.eval_every x agent.train_batch_size" if rllib else "train.eval_every_steps"
    if sweep.scheduler == "asha":
        if every <= 0:
            raise ConfigError(
                f"{every_key.split(' ')[0]} is 0: ASHA stops trials on their validation reports; set it to a "
                "positive number (validations at most asha.grace_period_steps apart) or use scheduler: fifo"
            )
        if sweep.asha.grace_period_steps >= total:
            raise ConfigError(
                f"asha.grace_period_steps ({sweep.asha.grace_period_steps:,}) is not below the experiment's "
                f"{total_key} ({total:,} steps): no trial could be stopped early; lower it or use scheduler: fifo"
            )
        if every > sweep.asha.grace_period_steps:
            raise ConfigError(
                f"{every_key} ({every:,} steps) is above asha.grace_period_steps "
                f"({sweep.asha.grace_period_steps:,}): a trial would reach the first rung without a report; "
                "validate more often or raise the grace period"
            )


def _param_space(sweep: SweepConfig) -> dict[str, Any]:
    from ray import tune

    space: dict[str, Any] = {}
    for key, dist in sweep.search_space.items():
        ((kind, args),) = dist.items()
        if kind == "choice":
            space[key] = tune.choice(list(args))
        elif kind == "uniform":
            space[key] = tune.uniform(float(args[0]), float(args[1]))
        elif kind == "loguniform":
            space[key] = tune.loguniform(float(args[0]), float(args[1]))
        else:  # integer, both ends included (Ray's randint excludes the high end)
            space[key] = tune.randint(int(args[0]), int(args[1]) + 1)
    return space


def _trial(params: dict[str, Any], base: dict[str, Any], trials_dir: str, command: str) -> None:
    """One trial: ``vpp-gym train`` of the experiment with ``params`` as overrides, reporting validations."""
    from ray import tune

    overrides = {k: _plain(v) for k, v in params.items()}
    cfg = _load(base, overrides)
    name = tune.get_context().get_trial_name() or "trial"
    run = Path(trials_dir) / name
    values = " ".join(f"{k}={v}" for k, v in overrides.items())
    trial_command = f"{command}  # trial {name}: {values}"

    if isinstance(cfg, ExperimentConfig):
        from agents.rl.train import train

        total = cfg.train.total_timesteps

        def report(timesteps: int, profit: float) -> None:
            if timesteps < total:  # the last validation is reported once the run's records are complete
                tune.report({METRIC: profit, TIME_ATTR: timesteps})

        train(cfg, run, command=trial_command, progress=False, on_eval=report)
    else:  # RLlib: its last validation is not passed to on_eval
        from agents.rl.rllib import train_rllib

        run.mkdir(parents=True)
        train_rllib(
            cfg,
            run,
            trial_command,
            progress=False,
            on_eval=lambda steps, profit: tune.report({METRIC: profit, TIME_ATTR: steps}),
        )
    last = _validations(run)[-1]
    tune.report({METRIC: float(last["val_profit"]), TIME_ATTR: _steps(last)})


def _validations(run: Path) -> list[dict[str, str]]:
    """The rows of a run's ``curve.csv`` that hold a validation (an RLlib run validates every so many iterations)."""
    with (run / "curve.csv").open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r.get("val_profit")]


def _steps(row: Mapping[str, str]) -> int:
    """A curve row's environment steps (``timesteps`` in an SB3 run, ``env_steps`` in an RLlib one)."""
    return int(row["timesteps"] if "timesteps" in row else row["env_steps"])


def _trial_name(trial: Any) -> str:
    """``trial_<id>``: the name of the trial, of Ray's folder of it and of its run folder."""
    return f"trial_{trial.trial_id}"


def _plain(value: Any) -> Any:
    """A sampled value as a plain Python number or text (NumPy scalars from Ray's samplers)."""
    return value.item() if hasattr(value, "item") else value


def tune_experiment(
    config_path: str | Path,
    space_path: str | Path,
    out: Path,
    overrides: Mapping[str, Any] | None = None,
    address: str | None = None,
    command: str | None = None,
) -> list[dict[str, Any]]:
    """Run the sweep of ``space_path`` over the experiment ``config_path`` into ``out`` (new or empty, locked).

    Returns the results table's rows, best first (also written to ``out``).
    """
    cfg: Experiment
    if read_yaml(config_path).get("algo") == "rllib":
        from agents.rl.rllib import load_game_experiment

        cfg, _ = load_game_experiment(config_path, dict(overrides or {}))  # the scenario's path made absolute
    else:
        cfg, base_dir = load_experiment(config_path, dict(overrides or {}))
        from agents.rl.train import resolve

        cfg = resolve(cfg, base_dir)
    base = to_mapping(cfg)
    sweep = load_sweep(space_path)
    check_sweep(sweep, cfg, base, overrides)
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
        from ray.tune.search import BasicVariantGenerator
    except ImportError as err:
        raise ConfigError(
            f"vpp-gym tune needs Ray Tune ({err}); install the ray extra: pip install 'vpp-gym[ray]'"
        ) from None

    out = Path(out).resolve()
    command = command or "vpp-gym tune"
    write_text_atomic(out / "sweep.yaml", yaml.safe_dump(to_mapping(sweep), sort_keys=False))
    (out / "command.txt").write_text(command + "\n")
    trials_dir = out / "trials"
    trials_dir.mkdir()
    address = address or os.environ.get("RAY_ADDRESS") or None
    started_here = start_ray(address)
    scheduler: Any
    if sweep.scheduler == "asha":
        scheduler = ASHAScheduler(
            time_attr=TIME_ATTR,
            max_t=budget_steps(cfg)[0],
            grace_period=sweep.asha.grace_period_steps,
            reduction_factor=sweep.asha.reduction_factor,
        )
    else:
        scheduler = FIFOScheduler()
    trainable = tune.with_resources(
        tune.with_parameters(_trial, base=base, trials_dir=str(trials_dir), command=command),
        {"cpu": sweep.cpus_per_trial},
    )
    t0 = time.perf_counter()
    try:
        tuner = tune.Tuner(
            trainable,
            param_space=_param_space(sweep),
            tune_config=tune.TuneConfig(
                metric=METRIC,
                mode="max",
                num_samples=sweep.num_samples,
                scheduler=scheduler,
                search_alg=BasicVariantGenerator(random_state=sweep.seed, max_concurrent=sweep.max_concurrent),
                trial_name_creator=_trial_name,
                trial_dirname_creator=_trial_name,
            ),
            run_config=tune.RunConfig(name="sweep", storage_path=str(out / "ray"), verbose=0),
        )
        grid = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    rows = [_row(grid[i], trials_dir, list(sweep.search_space), sweep.scheduler) for i in range(len(grid))]
    rows.sort(key=lambda r: -math.inf if r["best_val_profit"] is None else r["best_val_profit"], reverse=True)
    _write_results(out, rows, list(sweep.search_space))
    best = next((r for r in rows if r["best_val_profit"] is not None and not r["status"].startswith("error")), None)
    if best is not None:
        best_cfg = _load(base, {k: best[k] for k in sweep.search_space})
        said = command.replace("\r", " ").replace("\n", " ")  # one comment line, whatever the arguments hold
        text = f"# best trial of {said} ({best['trial']}, validation profit {best['best_val_profit']:,.1f})\n"
        write_text_atomic(out / "best_config.yaml", text + experiment_yaml(best_cfg))
    summary = {"trials": len(rows), "wall_s": round(time.perf_counter() - t0, 1), "best": best}
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, default=str))
    return rows


def _row(res: Any, trials_dir: Path, keys: Sequence[str], scheduler: str = "asha") -> dict[str, Any]:
    """One trial's row, from its run folder (curve, summary) and Ray's result (values, error)."""
    cfg = {k: _plain(v) for k, v in (res.config or {}).items()}
    name = Path(res.path).name if res.path else "?"  # Ray's trial folder: the trial's name (_trial_name)
    run = trials_dir / name if (trials_dir / name).is_dir() else None
    best = best_step = last = wall = None
    if run is not None and (run / "curve.csv").is_file():
        curve = _validations(run)
        if curve:
            top = max(curve, key=lambda r: float(r["val_profit"]))
            best, best_step = float(top["val_profit"]), _steps(top)
            last, wall = _steps(curve[-1]), float(curve[-1]["wall_s"])
    if res.error is not None:
        status = f"error: {str(res.error).strip().splitlines()[-1][:200]}"
    elif run is not None and (run / "summary.json").is_file():
        status = "completed"
        wall = read_json(run / "summary.json").get("wall_s", wall)
    else:
        how = "stopped by ASHA" if scheduler == "asha" else "unfinished"
        status = f"{how} at step {last:,}" if last is not None else f"{how} before its first validation"
    return {
        "trial": run.name if run is not None else name,
        **{k: cfg.get(k) for k in keys},
        "status": status,
        "best_val_profit": best,
        "best_timesteps": best_step,
        "timesteps_reached": last,
        "wall_s": wall,
        "run": str(run) if run is not None else "",
    }


def _write_results(out: Path, rows: list[dict[str, Any]], keys: list[str]) -> None:
    fields = ["trial", *keys, "status", "best_val_profit", "best_timesteps", "timesteps_reached", "wall_s", "run"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "results.csv", buf.getvalue())

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.4g}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v)

    head = ["trial", *keys, "status", "best validation profit", "at step", "steps reached", "wall s"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for r in rows:
        vals = [r["trial"], *(r[k] for k in keys), r["status"], r["best_val_profit"], r["best_timesteps"]]
        vals += [r["timesteps_reached"], r["wall_s"]]
        lines.append("| " + " | ".join(cell(v) for v in vals) + " |")
    write_text_atomic(out / "results.md", "\n".join(lines) + "\n")


def command_line(argv: Sequence[str]) -> str:
    """The command as recorded in ``command.txt``."""
    return shlex.join(["vpp-gym", *argv])
