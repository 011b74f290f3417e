"""The ``vpp-gym`` command line: ``run`` (main job, the quick benchmark), ``bench`` (throughput), ``train`` (RL
agents), ``evaluate`` (every policy on the same held-out episodes: KPIs and report) and ``publish`` (a
trained run's model as a small folder under ``models/``).

Config paths given here are read relative to the working directory first; a ``configs/...`` path
that is not there is the copy that ships with the package (:func:`vpp_gym.config.find_config`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import vpp_gym
from agents import kpi
from agents.evaluate import (
    EvaluationConfig,
    evaluate,
    load_evaluation,
    parse_policies,
    parse_policy_items,
    split_policies,
)
from agents.registry import policy_names, run_algo
from agents.report import write_outputs
from agents.runfiles import INCOMPLETE, FolderLock, RunFolderError, claim_output_folder, fresh_folder
from vpp_gym.config import TIMELINES, find_config, packaged_config
from vpp_gym.data.loader import DataError
from vpp_gym.tasks import ALL_TASKS
from vpp_gym.validation import ConfigError

TIMELINE_KEY = "markets.energy.timeline"
QUICK_PPO = "quick/ppo_joint_quick.yaml"  # below configs/ (vpp_gym.config.packaged_config)
RUN_COLUMNS = (
    "profit",
    "oracle_capture",
    *kpi.REVENUE_COLUMNS,
    "cost_carbon",
    "emissions_tco2",
    "avoided_emissions_tco2",
)
"""The KPI means ``vpp-gym run`` prints: profit, capture, revenue by market, carbon cost, emissions."""
EVALUATE_COLUMNS = ("profit", "oracle_capture", "emissions_tco2", "avoided_emissions_tco2")
"""The KPI means ``vpp-gym evaluate`` prints (the rest is in its report)."""


def print_means(summary: dict[str, dict[str, dict[str, float | None]]], columns: Sequence[str], currency: str) -> None:
    """One row per policy: the mean of each KPI column, headed by its label (:func:`agents.kpi.label`).

    Amounts of money use the format ``currency`` (e.g. ``,.0f``), tCO2 ``,.2f``, ratios ``.3f``;
    a KPI without a value (e.g. the capture without an oracle) is ``-``.
    """
    fmt = {"currency": currency, "tCO2": ",.2f", "1": ".3f"}
    cells = {
        policy: [
            "-" if stats[c]["mean"] is None else format(stats[c]["mean"], fmt.get(kpi.unit(c), ",.2f")) for c in columns
        ]
        for policy, stats in summary.items()
    }
    labels = [kpi.label(c) for c in columns]
    widths = [max([10, len(lbl) + 2, *(len(row[i]) + 2 for row in cells.values())]) for i, lbl in enumerate(labels)]
    first = max([10, *(len(p) + 1 for p in summary)])
    print(f"{'policy':<{first}}" + "".join(f"{lbl:>{w}}" for lbl, w in zip(labels, widths, strict=True)))
    for policy, row in cells.items():
        print(f"{policy:<{first}}" + "".join(f"{v:>{w}}" for v, w in zip(row, widths, strict=True)))


def _output_folder(out: str | None, default: Path, what: str) -> tuple[Path, FolderLock, bool]:
    """The locked output folder of ``run``/``evaluate``: ``--out`` (new or empty) or a fresh ``default``.

    Returns ``(folder, lock, created)``; ``created``: the folder did not exist before.
    """
    if out is not None:
        folder = Path(out)
        created = not folder.exists()
        return folder, claim_output_folder(folder, what), created
    folder = fresh_folder(default)
    return folder, claim_output_folder(folder, what), True


def _drop_if_unused(folder: Path, lock: FolderLock, created: bool) -> None:
    """After a failure: release the lock; remove the folder if this command made it and nothing was written."""
    lock.release(remove=True)
    if created and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _cmd_run(args: argparse.Namespace) -> int:
    """The quick benchmark: rule, MPC, oracle and a short PPO training on the default scenario's test days."""
    t_start = time.perf_counter()
    scenario = str(find_config(args.config).resolve()) if args.config else None
    cfg = EvaluationConfig(env_id=args.env, scenario=scenario, episodes=args.episodes)
    n_days = len(cfg.make_env().unwrapped.episode_starts["test"])  # type: ignore[attr-defined]
    if cfg.episodes > n_days:
        raise ConfigError(f"--episodes: got {cfg.episodes}, but the test split has only {n_days} days")
    exp = base = None
    if not args.no_ppo:
        try:
            import stable_baselines3  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            print(
                "  (PPO skipped: torch and stable-baselines3 are not installed; "
                "pip install torch==2.13.0 && pip install -e '.[rl]')",
                flush=True,
            )
        else:
            from agents.rl.config import load_experiment

            overrides: dict[str, object] = {"env_id": cfg.env_id}
            if args.ppo_steps is not None:
                overrides["train.total_timesteps"] = args.ppo_steps
            if scenario:
                overrides["scenario"] = scenario
            exp, base = load_experiment(packaged_config(QUICK_PPO), overrides)
    # every config error above is found before the output folder is made
    out, lock, created = _output_folder(
        args.out, Path("out") / f"quick-{time.strftime('%Y%m%d-%H%M%S')}", "vpp-gym run"
    )
    try:
        print(
            f"vpp-gym {vpp_gym.__version__} quick benchmark: {cfg.env_id}, "
            f"{'scenario ' + args.config if args.config else 'default scenario'}, {cfg.episodes} test days -> {out}",
            flush=True,
        )
        policies = "rule,mpc,oracle"
        present: tuple[str, ...] = ()
        if exp is not None:
            from agents.rl.config import PpoConfig
            from agents.rl.train import train

            run = out / "ppo_run"  # inside the new or empty output folder: nothing of the user's is there
            agent = exp.agent
            clone = (
                f"behaviour cloning of {agent.bc_policy} on {agent.bc_episodes} train days, then "
                if isinstance(agent, PpoConfig) and agent.bc_episodes
                else ""
            )
            print(
                f"[1/2] training PPO: {clone}{exp.train.total_timesteps:,} PPO steps (train split, validation "
                f"on {exp.eval.days} val days)",
                flush=True,
            )
            train(exp, run, base, command="vpp-gym run", progress=True)
            policies += f",ppo={run}"
            present = ("ppo_run",)
        print(
            f"[2/2] evaluating {policies.replace(',ppo=' + str(out / 'ppo_run'), ', ppo')} (+ passive reference) on "
            f"{cfg.episodes} test days",
            flush=True,
        )
        result = evaluate(cfg, parse_policies(policies), log=lambda line: print(line, flush=True))
        write_outputs(result, cfg, out, command=shlex.join(["vpp-gym", *(args.argv or [])]), present=present)
    except BaseException:
        _drop_if_unused(out, lock, created)
        raise
    lock.release(remove=True)
    print(
        "\nmean over the test days (currency of the scenario; tCO2). capture = share of the oracle's gain "
        "over the passive reference"
    )
    print_means(kpi.summarize(result.kpis), RUN_COLUMNS, ",.0f")
    print(
        f"\nreport: {out / 'report.md'}  (kpis.csv, summary.json, meta.json, plots, episodes/)  "
        f"total {time.perf_counter() - t_start:.0f} s"
    )
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from vpp_gym.bench import BATCH_SIZES, parse_overrides, run

    sizes = tuple(args.batch_sizes) if args.batch_sizes else BATCH_SIZES
    if args.agents < 0:
        raise ConfigError(
            f"--agents: got {args.agents}; give the market game's number of agents, or 0 for no game table"
        )
    overrides = parse_overrides(args.override or [])
    if args.timeline is not None:
        given = overrides.setdefault(TIMELINE_KEY, args.timeline)
        if given != args.timeline:
            raise ConfigError(f"--timeline {args.timeline} contradicts --override {TIMELINE_KEY}={given}")
    run(
        args.env or None,
        steps=args.steps,
        repeats=args.repeats,
        batch_sizes=sizes,
        overrides=overrides,
        n_agents=args.agents,
    )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        from agents.rl.config import load_experiment, parse_cli_overrides
        from agents.rl.train import resume, train
    except ImportError as err:
        print(
            f"vpp-gym train: error: {err}; install the RL extra: pip install torch==2.13.0 && pip install -e '.[rl]'",
            file=sys.stderr,
        )
        return 2
    overrides = parse_cli_overrides(args.overrides)
    progress = not args.no_progress
    if args.resume and _rllib_run(Path(args.resume)):
        return _train_rllib(args, overrides, progress)
    if args.config is not None and not args.resume and Path(find_config(args.config)).is_file():
        from agents.rl.rllib import is_rllib_config

        if is_rllib_config(find_config(args.config), overrides):
            return _train_rllib(args, overrides, progress)
    if args.resume:
        if args.config is not None and "=" not in args.config:
            raise ConfigError("--resume takes the run folder's own config; give no CONFIG")
        if args.force:
            raise ConfigError("--force starts a run over; it does not go with --resume")
        if args.config is not None:
            overrides = {**parse_cli_overrides([args.config]), **overrides}
        extra = set(overrides) - {"train.total_timesteps"}
        if extra:
            raise ConfigError(f"--resume accepts only train.total_timesteps=N as an override, got {sorted(extra)[0]}")
        resume(Path(args.resume), overrides.get("train.total_timesteps"), progress=progress)
        return 0
    if args.config is None:
        raise ConfigError("give an experiment config (e.g. configs/experiments/ppo_arbitrage.yaml) or --resume RUN")
    if "=" in args.config and not Path(args.config).exists():
        raise ConfigError(f"{args.config!r} looks like an override; give the experiment config first: CONFIG key=value")
    cfg, base_dir = load_experiment(find_config(args.config), overrides)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{cfg.name}-seed{cfg.seed}-{stamp}"
    print(
        f"vpp-gym train: {cfg.algo.upper()} on {cfg.env_id}, {cfg.train.total_timesteps:,} steps, "
        f"{cfg.train.n_envs} envs, seed {cfg.seed} -> {out}",
        flush=True,
    )
    train(
        cfg,
        out,
        base_dir,
        command=shlex.join(["vpp-gym", *(args.argv or [])]),
        progress=progress,
        force=args.force,
        fresh=not args.out,  # the default folder: a new one (another name if it exists)
    )
    return 0


def _rllib_run(run: Path) -> bool:
    """Whether ``run`` is a run folder of an RLlib training (:func:`agents.registry.run_algo` says ``rllib``)."""
    try:
        return run_algo(run) == "rllib"
    except (ConfigError, RunFolderError):  # not a run folder, or a damaged one: the SB3 path says what is wrong
        return False


def _train_rllib(args: argparse.Namespace, overrides: dict[str, object], progress: bool) -> int:
    """``vpp-gym train`` of an ``algo: rllib`` config, or ``--resume`` of such a run (agents/rl/rllib.py)."""
    try:
        from agents.rl.config import parse_cli_overrides
        from agents.rl.rllib import extend_iterations, load_game_experiment, read_run_config, train_rllib
    except ImportError as err:  # pragma: no cover - RLlib is absent
        raise ConfigError(f"RLlib is not installed ({err}): pip install 'ray[rllib]'") from None
    from agents.rl.train import claim_run_folder

    if args.resume:
        if args.config is not None:  # an override given where the config would be
            overrides = {**parse_cli_overrides([args.config]), **overrides}
        extra = set(overrides) - {"train.iterations"}
        if extra or args.force:
            raise ConfigError(
                "--resume of an RLlib run accepts only train.iterations=N"
                + (f", got {sorted(extra)[0]}" if extra else " (no --force)")
            )
        run = Path(args.resume)
        lock = FolderLock(run).acquire("vpp-gym train --resume")
        try:
            cfg = read_run_config(run)
            if "train.iterations" in overrides:
                cfg = extend_iterations(run, cfg, overrides["train.iterations"])
            elif not (run / INCOMPLETE).is_file():
                raise RunFolderError(
                    f"{run} holds a finished RLlib run; continue it to more iterations: "
                    f"vpp-gym train --resume {run} train.iterations=N"
                )
            train_rllib(cfg, run, shlex.join(["vpp-gym", *(args.argv or [])]), progress, resume=True)
        finally:
            lock.release()
        return 0
    cfg, _ = load_game_experiment(find_config(args.config), dict(overrides))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else fresh_folder(Path("runs") / f"{cfg.name}-seed{cfg.seed}-{stamp}")
    print(
        f"vpp-gym train: RLlib PPO on the market game of {cfg.n_agents} {cfg.env_id} VPPs ({cfg.policies} "
        f"policies), {cfg.train.iterations} iterations, seed {cfg.seed} -> {out}",
        flush=True,
    )
    lock = claim_run_folder(out, args.force)
    try:
        train_rllib(cfg, out, shlex.join(["vpp-gym", *(args.argv or [])]), progress)
    finally:
        lock.release()
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.env:
        overrides["env_id"] = args.env
    if args.episodes is not None:
        overrides["episodes"] = args.episodes
    if args.split:
        overrides["split"] = args.split
    cfg = load_evaluation(find_config(args.config) if args.config else None, overrides)
    spec = args.policies if args.policies is not None else ("" if args.policy else "rule,mpc,oracle")
    items = [*split_policies(spec), *(args.policy or [])]
    policies = parse_policy_items(items)
    env = cfg.make_env()
    n_days = len(env.unwrapped.episode_starts[cfg.split])  # type: ignore[attr-defined]
    if cfg.episodes > n_days:
        raise ConfigError(f"episodes: got {cfg.episodes}, but the {cfg.split!r} split has only {n_days} days")
    for _label, run in policies:  # a trained agent's files and layout, before any episode is played
        if run is not None:
            from agents.rl.policy import RlPolicy

            if _rllib_run(Path(run)):  # a module of a multi-agent RLlib run: loaded, its sizes checked
                from agents.rl.rllib import RllibPolicy

                RllibPolicy.load(run, env=env)
            else:
                RlPolicy.check(run, env=env)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    default = Path("out") / f"evaluate-{cfg.env_id.split('/')[-1]}-{stamp}"
    out, lock, created = _output_folder(args.out, default, "vpp-gym evaluate")
    try:
        print(
            f"vpp-gym evaluate: {cfg.env_id}, {cfg.episodes} {cfg.split} episodes, policies "
            f"{', '.join(label for label, _ in policies)} (+ passive reference and oracle) -> {out}",
            flush=True,
        )
        result = evaluate(cfg, policies, export_all=args.export_all, log=lambda line: print(line, flush=True))
        write_outputs(result, cfg, out, command=shlex.join(["vpp-gym", *(args.argv or [])]))
    except BaseException:
        _drop_if_unused(out, lock, created)
        raise
    lock.release(remove=True)
    print()
    print_means(kpi.summarize(result.kpis), EVALUATE_COLUMNS, ",.1f")
    print(f"report: {out / 'report.md'}")
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    try:
        from agents.rl.publish import publish, write_index
    except ImportError as err:  # pragma: no cover - the rl extra is absent
        print(f"vpp-gym publish: error: {err}; install the RL extra: pip install -e '.[rl]'", file=sys.stderr)
        return 2
    if args.index_only:
        if args.run is not None:
            raise ConfigError("--index-only regenerates the index; give no RUN")
        print(f"index: {write_index(Path(args.models_dir))}")
        return 0
    if args.run is None or args.name is None:
        raise ConfigError("give the run folder and a name: vpp-gym publish RUN --name NAME")
    publish(
        args.run,
        args.name,
        models_dir=args.models_dir,
        which=args.which,
        force=args.force,
        log=lambda line: print(line, flush=True),
    )
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    try:
        from agents.rl.config import parse_cli_overrides
        from agents.rl.tune import tune_experiment
    except ImportError as err:  # pragma: no cover - the rl extra is absent
        print(f"vpp-gym tune: error: {err}; install the RL extra: pip install -e '.[rl,ray]'", file=sys.stderr)
        return 2
    overrides = parse_cli_overrides(args.overrides)
    default = Path("runs") / f"tune-{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, lock, created = _output_folder(args.out, default, "vpp-gym tune")
    try:
        rows = tune_experiment(
            find_config(args.config),
            find_config(args.space),
            out,
            overrides,
            address=args.address,
            command=shlex.join(["vpp-gym", *(args.argv or [])]),
        )
    except BaseException:
        _drop_if_unused(out, lock, created)
        raise
    lock.release()
    best = next((r for r in rows if r["best_val_profit"] is not None), None)
    print(f"{len(rows)} trials; results: {out / 'results.md'}")
    if best is not None:
        print(
            f"best: {best['trial']}, validation profit {best['best_val_profit']:,.1f}; "
            f"config: {out / 'best_config.yaml'}"
        )
    return 0


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vpp-gym``."""
    parser = argparse.ArgumentParser(prog="vpp-gym", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser(
        "run",
        help="quick benchmark: rule, MPC, oracle and a short PPO training, evaluated on "
        "test days; KPI table and report",
    )
    p_run.add_argument("--env", choices=list(ALL_TASKS), default="vpp_gym/Joint-v1", help="task id")
    p_run.add_argument("--config", help="scenario YAML merged over the task's defaults")
    p_run.add_argument("--episodes", type=positive_int, default=4, help="test days")
    p_run.add_argument(
        "--ppo-steps",
        type=positive_int,
        default=None,
        help=f"PPO training steps (default: train.total_timesteps of configs/{QUICK_PPO})",
    )
    p_run.add_argument("--no-ppo", action="store_true", help="baselines only")
    p_run.add_argument("--out", help="output folder, new or empty (default: a new out/quick-<time>)")
    p_run.set_defaults(func=_cmd_run)
    p_bench = sub.add_parser(
        "bench",
        help="env-steps/s of the single env, the native vector env and the generic "
        "vectorisers, and memory per env, for each task",
    )
    p_bench.add_argument(
        "--env", action="append", choices=list(ALL_TASKS), help="task id (repeatable; default: every v1 task)"
    )
    p_bench.add_argument("--steps", type=positive_int, default=20_000, help="steps per single-env repeat")
    p_bench.add_argument("--repeats", type=positive_int, default=5, help="single-env repeats")
    p_bench.add_argument(
        "--batch-sizes", type=positive_int, nargs="+", help="N of the native vector env (default 1 16 256 1024 4096)"
    )
    p_bench.add_argument(
        "--timeline",
        choices=TIMELINES,
        help=f"market timeline of every task ({TIMELINE_KEY}; default the task's own)",
    )
    p_bench.add_argument(
        "--override",
        action="append",
        metavar="KEY=VALUE",
        help="scenario override of every task, dotted key, value read as YAML (repeatable), "
        "e.g. time.episode_hours=168",
    )
    p_bench.add_argument(
        "--agents",
        type=int,
        default=10,
        help="agents of the market game table (vpp_gym.multi; needs the multi extra); 0: no game table",
    )
    p_bench.set_defaults(func=_cmd_bench)
    p_train = sub.add_parser(
        "train",
        help="train PPO or SAC from an experiment config into a run folder",
        description="Train PPO or SAC from a YAML experiment config. Dotted overrides follow "
        "the config: vpp-gym train configs/experiments/ppo_arbitrage.yaml "
        "agent.learning_rate=1e-4 seed=3",
    )
    p_train.add_argument("config", nargs="?", help="experiment YAML (configs/experiments/*.yaml)")
    p_train.add_argument("overrides", nargs="*", help="dotted key=value overrides of the config")
    p_train.add_argument("--out", help="run folder, new or empty (default: a new runs/<name>-seed<seed>-<time>)")
    p_train.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run folder RUN from its checkpoint (from step 0 if it stopped before its first one)",
    )
    p_train.add_argument(
        "--force",
        action="store_true",
        help="start over in an --out folder that holds an unfinished run (removes only that run's files)",
    )
    p_train.add_argument("--no-progress", action="store_true", help="no progress bar or validation lines")
    p_train.set_defaults(func=_cmd_train)
    p_eval = sub.add_parser("evaluate", help="every policy on the same held-out episodes: KPIs, summary, report")
    p_eval.add_argument("--config", help="evaluation YAML (configs/evaluation/*.yaml); default: Joint-v1 defaults")
    p_eval.add_argument("--env", choices=list(ALL_TASKS), help="task id (overrides the config's)")
    p_eval.add_argument(
        "--policies",
        default=None,
        help=f"comma-separated: {', '.join(policy_names(trained=False))}, or LABEL=RUN_DIR of a trained agent "
        f"({', '.join(policy_names(trained=True))}); default rule,mpc,oracle (without --policy)",
    )
    p_eval.add_argument(
        "--policy",
        action="append",
        metavar="LABEL=RUN_DIR",
        help="a trained agent (or a built-in name), repeatable; the path is taken whole, commas included",
    )
    p_eval.add_argument("--episodes", type=positive_int, help="number of episodes (first days of the split)")
    p_eval.add_argument("--split", choices=("val", "test"), help="split (default: the config's, test)")
    p_eval.add_argument("--out", help="output folder, new or empty (default: a new out/evaluate-<task>-<time>)")
    p_eval.add_argument("--export-all", action="store_true", help="export every episode's steps, not only episode 0")
    p_eval.set_defaults(func=_cmd_evaluate)
    p_pub = sub.add_parser(
        "publish",
        help="copy a finished run's best (or final) model, normaliser and records into models/NAME and index it",
        description="Copy the best (or final) unit of a finished run of vpp-gym train (model, normaliser, "
        "manifest) with the run's config, scenario, command and records into MODELS_DIR/NAME, play it on test "
        "day 0 of configs/evaluation/<task>.yaml and record the profit, then regenerate MODELS_DIR/README.md. "
        "No checkpoint, replay buffer or TensorBoard logs are copied.",
    )
    p_pub.add_argument("run", nargs="?", help="the run folder of vpp-gym train")
    p_pub.add_argument("--name", help="the published folder's name, e.g. ppo_joint_s0 (<algo>_<task>_s<seed>)")
    p_pub.add_argument("--models-dir", default="models", help="where published models live (default: models)")
    p_pub.add_argument("--which", choices=("best", "final"), default="best", help="the unit to publish")
    p_pub.add_argument("--force", action="store_true", help="replace an existing published model of that name")
    p_pub.add_argument("--index-only", action="store_true", help="only regenerate MODELS_DIR/README.md")
    p_pub.set_defaults(func=_cmd_publish)
    p_tune = sub.add_parser(
        "tune",
        help="hyperparameter sweep of an experiment config on Ray Tune (ASHA on validation profit)",
        description="Train one run of the experiment CONFIG per trial, with values drawn from the search space "
        "SPACE (configs/tune/*.yaml) as dotted overrides; ASHA stops trials that fall behind on validation profit. "
        "Writes results.csv/.md, best_config.yaml and one run folder per trial into --out. Needs the ray extra.",
    )
    p_tune.add_argument("config", help="experiment YAML (configs/experiments/*.yaml, configs/quick/*.yaml)")
    p_tune.add_argument(
        "overrides", nargs="*", help="dotted key=value overrides of the experiment, fixed in every trial"
    )
    p_tune.add_argument("--space", required=True, help="search space YAML (configs/tune/*.yaml)")
    p_tune.add_argument("--out", help="output folder, new or empty (default: a new runs/tune-<config>-<time>)")
    p_tune.add_argument(
        "--address", help="an existing Ray cluster (HOST:PORT; default: RAY_ADDRESS, else a local Ray instance)"
    )
    p_tune.set_defaults(func=_cmd_tune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vpp-gym`` console script.

    Errors of the user's making (configs, data, run and output folders, files) are one line on
    stderr (exit 2), and Ctrl-C is one line saying what was kept (exit 130): no traceback.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # dotted overrides may follow options: vpp-gym train CONFIG --out R agent.learning_rate=1e-4
        if args.command in ("train", "tune") and all("=" in x and not x.startswith("-") for x in extra):
            args.overrides = [*args.overrides, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt as err:
        detail = str(err) if type(err).__name__ == "TrainingInterrupted" else "interrupted"
        print(f"\nvpp-gym {args.command}: {detail}", file=sys.stderr)
        return 130
    except (ConfigError, DataError, RunFolderError, FileNotFoundError) as err:
        print(f"vpp-gym {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. no space left, permission denied: name the file
        where = f" ({err.filename})" if err.filename else ""
        print(f"vpp-gym {args.command}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
