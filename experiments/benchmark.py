"""The benchmark table: tasks x policies (x training seeds), with rliable statistics, from committed configs.

Usage (evaluation only, from the published models of the checkout; no training):
    python experiments/benchmark.py [--seeds 0 1 2] [--tasks arbitrage lowcarbon regulation joint]
        [--algos ppo sac] [--models-dir models] [--out experiments/results/benchmark] [--[no-]update-readme]

Training what is missing instead (run folders, not published models):
    python experiments/benchmark.py --train [--runs-dir runs/benchmark] ...

``--algos`` with no names evaluates the baselines only (rule, MPC, the oracle and the passive reference).

For each task, the evaluation config ``configs/evaluation/<task>.yaml`` fixes the test episodes;
rule, MPC and the oracle (and the passive reference) play them, and so does each agent of
``configs/experiments/<algo>_<task>.yaml`` with each seed:

- by default the published model ``<models-dir>/<algo>_<task>_s<seed>`` (``vpp-gym publish``; the
  checkout's ``models/``, which is not in the wheel). The script says which it found and which are
  missing; the table marks missing ones, and names a model trained with another config than the
  committed one (its ``published.json``);
- with ``--train`` (or ``--train-only``, or ``--runs-dir``) the run folder ``<runs-dir>/<algo>_<task>_s<seed>``:
  trained with ``--train`` when missing, resumed when unfinished, reused otherwise; a run trained with
  another config is moved aside to ``<run>.superseded-<time>``, never deleted.

Written into ``--out``: ``benchmark.md`` (the table), ``benchmark.csv`` (every policy x episode x seed
KPI row), ``benchmark.json``, the per-task evaluation folders (``kpis.csv``, ``summary.json``,
``report.md``) and the rliable report (:mod:`agents.stats`): ``rliable.md``, ``rliable.csv``,
``rliable.json``, ``performance_profiles.png`` and ``.csv``. The full benchmark (every task, the
configs' episodes, the default ``--out``) also writes the table into ``README.md`` between its
``benchmark-table`` markers; ``--update-readme`` / ``--no-update-readme`` decide it for any run.

``--train-only`` trains what is missing and stops, so trainings can run in parallel processes (one
per core, on different tasks or seeds) before one evaluating run builds the table.

Table cells: the mean profit per test day, +/- the standard deviation over training seeds of the
per-seed means for the RL agents (over test days for the others), then the IQM of the normalised
score (share of the oracle's gain over the passive reference) over seeds x test days with its 95 %
stratified-bootstrap interval (:mod:`agents.stats`).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents.evaluate import evaluate, load_evaluation, parse_policies
from agents.report import clear_evaluation, write_outputs
from agents.runinfo import git_revision
from vpp_gym.config import packaged_config
from vpp_gym.validation import ConfigError, to_mapping

TASKS = ("arbitrage", "lowcarbon", "regulation", "joint")
ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
"""The checkout's published models (``vpp-gym publish``)."""
README_START, README_END = "<!-- benchmark-table:start -->", "<!-- benchmark-table:end -->"
BASELINES = ("passive", "oracle", "rule", "mpc")
OUT = "experiments/results/benchmark"


def ensure_run(algo: str, task: str, seed: int, runs_dir: Path, train_missing: bool) -> Path | None:
    """The run folder of ``algo`` on ``task`` with ``seed``; trained first if missing and ``train_missing``."""
    from agents.rl.config import load_experiment

    run = runs_dir / f"{algo}_{task}_s{seed}"
    config = packaged_config(f"experiments/{algo}_{task}.yaml")
    if (run / "summary.json").is_file():
        if not config_drift(run, algo, task, seed):
            return run
        if not train_missing:
            raise SystemExit(f"{run} was trained with another config than {config}; retrain it with --train")
        print(f"  {run}: trained with another config than {config}; training again", flush=True)
    if not train_missing:
        print(f"  {run}: not trained (pass --train to train it)", flush=True)
        return None
    from agents.rl.train import resume, run_status, train

    if run.exists() and run_status(run) == "finished":  # trained with another config: kept, not deleted
        aside = run.with_name(f"{run.name}.superseded-{time.strftime('%Y%m%d-%H%M%S')}")
        run.rename(aside)
        print(f"  {run}: moved to {aside}", flush=True)
    if run.exists() and run_status(run) == "incomplete":
        print(f"  resuming {run}", flush=True)
        resume(run, progress=False)  # from its checkpoint, or from step 0 if it stopped before the first
    else:
        cfg, base = load_experiment(config, {"seed": seed})
        print(f"  training {config.name} seed {seed} -> {run}", flush=True)
        train(cfg, run, base, command=f"python experiments/benchmark.py --train (seed {seed})", progress=False)
    return run


def published_model(algo: str, task: str, seed: int, models_dir: Path) -> tuple[Path | None, str]:
    """The published model ``<models_dir>/<algo>_<task>_s<seed>`` (None if absent) and a note on its config."""
    from agents.rl.artifacts import read_published

    folder = models_dir / f"{algo}_{task}_s{seed}"
    record = read_published(folder) if folder.is_dir() else None
    if record is None:
        print(f"  {folder}: missing (no published model)", flush=True)
        return None, ""
    committed = f"configs/experiments/{algo}_{task}.yaml"
    changes = record.get("config_changes") or {}
    if record.get("config_file") != committed or changes:
        shown = ", ".join(f"{k}={v}" for k, v in changes.items())
        note = f"trained with {record.get('config_file') or record.get('config_name')}{' + ' + shown if shown else ''}"
        print(f"  {folder}: found; note: {note}, not {committed} as committed", flush=True)
        return folder, note
    differ: list[str] = []
    if (folder / "config.yaml").is_file():  # without it there is nothing to compare (loading reports the damage)
        try:
            differ = config_drift(folder, algo, task, seed)
        except ConfigError as err:  # e.g. a key this version no longer has: a drift, not a reason to stop
            differ = [f"config.yaml, which this version cannot read ({err})"]
    if differ:  # the committed config changed since the model was trained
        note = f"trained with an earlier {committed} (now differs in {', '.join(differ)})"
        print(f"  {folder}: found; note: {note}", flush=True)
        return folder, note
    steps = record.get("training_steps")
    print(f"  {folder}: found ({steps or 0:,} steps, git {str(record.get('git_revision'))[:10]})", flush=True)
    return folder, ""


def config_drift(folder: Path, algo: str, task: str, seed: int) -> list[str]:
    """The dotted keys in which the ``config.yaml`` of a run or published model differs from the committed
    config now, resolved with the folder's seed (empty when they agree).

    Raises:
        ConfigError: the ``config.yaml`` is missing or this version cannot read it.
    """
    from agents.rl.artifacts import config_diff
    from agents.rl.config import load_experiment
    from agents.rl.train import resolve

    committed, base = load_experiment(packaged_config(f"experiments/{algo}_{task}.yaml"), {"seed": seed})
    trained, _ = load_experiment(folder / "config.yaml")
    return sorted(key for key, _, _ in config_diff(to_mapping(trained), to_mapping(resolve(committed, base))))


def stat_rows(task: str, kpis: list[dict[str, object]], agents: dict[str, tuple[str, int]]) -> list[dict[str, object]]:
    """The rows :func:`agents.stats.score_tables` reads: an agent's label ``<algo>_s<seed>`` -> policy and run."""
    out = []
    for row in kpis:
        label = str(row["policy"])
        policy, run = (agents[label][0], f"s{agents[label][1]}") if label in agents else (label, "-")
        out.append({"task": task, "policy": policy, "run": run, "episode": row["episode"], "profit": row["profit"]})
    return out


def update_readme(table: list[str], readme: Path = ROOT / "README.md") -> None:
    """Replace the lines between the README's benchmark-table markers with ``table``."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme} has no {README_START} ... {README_END} markers; not updated")
    before, rest = text.split(README_START, 1)
    _, after = rest.split(README_END, 1)
    readme.write_text(before + README_START + "\n" + "\n".join(table) + "\n" + README_END + after)


def main() -> None:
    """Command line entry point."""
    from agents import stats

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument(
        "--algos", nargs="*", default=["ppo", "sac"], choices=["ppo", "sac"], help="none: the baselines only"
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--train", action="store_true", help="train the runs that are missing (run folders, not models)")
    ap.add_argument("--train-only", action="store_true", help="train the missing runs, then stop (no evaluation)")
    ap.add_argument("--episodes", type=int, help="override the evaluation configs' episode count")
    ap.add_argument(
        "--runs-dir", help="evaluate (and with --train, train) run folders here (default with --train: runs/benchmark)"
    )
    ap.add_argument(
        "--models-dir", default=str(MODELS_DIR), help="published models, <algo>_<task>_s<seed> (default: models/)"
    )
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--reps", type=int, default=stats.REPS, help="bootstrap replicates of the intervals")
    ap.add_argument(
        "--update-readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the table into README.md between its markers (default: only for the full benchmark: every "
        "task, the configs' episodes, the default --out)",
    )
    args = ap.parse_args()
    revision = git_revision()  # before this run writes its outputs into the checkout
    from_runs = args.train or args.train_only or args.runs_dir is not None
    out, runs_dir, models_dir = Path(args.out), Path(args.runs_dir or "runs/benchmark"), Path(args.models_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_rows: list[dict[str, object]] = []
    score_rows: list[dict[str, object]] = []
    table: list[tuple[str, str, float, float, float, int]] = []
    missing: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    print(f"agents from {'run folders in ' + str(runs_dir) if from_runs else 'published models in ' + str(models_dir)}")
    for task in args.tasks:
        cfg = load_evaluation(
            packaged_config(f"evaluation/{task}.yaml"), {"episodes": args.episodes} if args.episodes else None
        )
        runs: dict[str, Path] = {}
        agents: dict[str, tuple[str, int]] = {}
        for algo in args.algos:
            for seed in args.seeds:
                if from_runs:
                    run = ensure_run(algo, task, seed, runs_dir, args.train or args.train_only)
                    note = ""
                else:
                    run, note = published_model(algo, task, seed, models_dir)
                if run is None:
                    missing.setdefault(f"{task}/{algo}", []).append(f"s{seed}")
                    continue
                runs[f"{algo}_s{seed}"] = run
                agents[f"{algo}_s{seed}"] = (algo, seed)
                if note:
                    notes[f"{task}/{algo}_s{seed}"] = note
        if args.train_only:
            continue
        spec = ",".join(["rule", "mpc", *(f"{label}={run}" for label, run in runs.items())])
        print(
            f"{cfg.env_id}: evaluating {spec} on {cfg.episodes} {cfg.split} episodes "
            f"[{time.perf_counter() - t0:.0f} s]",
            flush=True,
        )
        result = evaluate(cfg, parse_policies(spec), log=lambda _line: None)
        clear_evaluation(out / task)  # this script's own earlier output for the task, and nothing else
        write_outputs(result, cfg, out / task, command="python experiments/benchmark.py")
        for row in result.kpis:
            all_rows.append({"task": task, **row})
        score_rows += stat_rows(task, result.kpis, agents)
        by_policy: dict[str, list[float]] = {}
        for row in result.kpis:
            by_policy.setdefault(str(row["policy"]), []).append(float(row["profit"]))
        passive, oracle = float(np.mean(by_policy["passive"])), float(np.mean(by_policy.get("oracle", [np.nan])))
        groups: dict[str, list[str]] = {}
        for label in by_policy:
            groups.setdefault(agents[label][0] if label in agents else label, []).append(label)
        for name, labels in groups.items():
            means = [float(np.mean(by_policy[lbl])) for lbl in labels]
            mean = float(np.mean(means))
            if name in args.algos:
                std = float(np.std(means, ddof=1)) if len(means) > 1 else float("nan")
            else:
                std = float(np.std(by_policy[labels[0]], ddof=1))
            capture = (mean - passive) / (oracle - passive) if abs(oracle - passive) > 1e-9 else float("nan")
            table.append((task, name, mean, std, capture, len(labels) if name in args.algos else 0))
    if args.train_only:
        return
    with (out / "benchmark.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(all_rows[0]))
        writer.writeheader()
        writer.writerows(all_rows)
    tables = stats.score_tables(score_rows)
    if len(tables) > 1:
        combined = stats.aggregate_table(tables)
        if combined is not None:
            tables[stats.ALL_TASKS] = combined
    results = stats.analyse(tables, reps=args.reps)
    profiles = stats.performance_profiles(tables, reps=args.reps)
    by_cell = {(str(r["task"]), str(r["policy"])): r for r in results}
    command = (
        f"python experiments/benchmark.py{' --train' if args.train else ''} --seeds "
        f"{' '.join(map(str, args.seeds))} --tasks {' '.join(args.tasks)} --algos{''.join(' ' + a for a in args.algos)}"
        f"{f' --episodes {args.episodes}' if args.episodes else ''}"
    )
    names = [n for n in (*BASELINES, *args.algos) if n in {x[1] for x in table} or n in args.algos]
    env_ids = {task: load_evaluation(packaged_config(f"evaluation/{task}.yaml")).env_id for task in args.tasks}
    grid = [
        "| task | " + " | ".join("MPC" if n == "mpc" else n.upper() if n in args.algos else n for n in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    source = "run folder" if from_runs else "published model"
    for task in args.tasks:
        cells = []
        for name in names:
            hit = [x for x in table if x[0] == task and x[1] == name]
            if not hit:
                cells.append(f"missing (no {source})" if name in args.algos else "–")
                continue
            _, _, mean, std, cap, n_seeds = hit[0]
            spread = "" if np.isnan(std) else f" ± {std:,.0f}"
            stat = by_cell.get((task, name))
            iqm = f"; IQM {stats.interval_text(stat)}" if stat is not None else f" ({cap:.2f})"
            fewer = f" [{n_seeds} of {len(args.seeds)} seeds]" if 0 < n_seeds < len(args.seeds) else ""
            flagged = any(k.startswith(f"{task}/{name}_s") for k in notes)
            cells.append(f"{mean:,.0f}{spread}{iqm}{fewer}{' †' if flagged else ''}")
        lines_task = env_ids[task].split("/")[-1]
        grid.append(f"| {lines_task} | " + " | ".join(cells) + " |")
    lines = [
        "# Benchmark: tasks x policies",
        "",
        f"Command: `{command}` (git revision {revision}, {time.perf_counter() - t0:.0f} s); agents from "
        f"{'run folders' if from_runs else 'the published models of models/'}.",
        "",
        "Mean profit per test day (CNY); ± the std over training seeds for PPO/SAC (none with one seed), over test "
        "days for the others; then the IQM of the normalised score (share of the oracle's gain over the passive "
        "reference; passive 0, oracle 1) over seeds x test days with its 95 % stratified-bootstrap interval "
        f"({args.reps} replicates; `rliable.md` has the mean, the optimality gap, the probability of improving on "
        "MPC and the performance profiles). [k of n seeds] marks an agent with fewer seeds than asked for; "
        f"'missing' an agent with no {source}; † a model trained with another config than the committed one. "
        "Episodes, seeds and configs: configs/evaluation/ and configs/experiments/.",
        "",
        *grid,
        "",
    ]
    if missing:
        lines += ["Missing (asked for, not found): " + "; ".join(f"{k} {', '.join(v)}" for k, v in missing.items()), ""]
    if notes:
        lines += ["† " + "; ".join(f"{k}: {v}" for k, v in notes.items()), ""]
    (out / "benchmark.md").write_text("\n".join(lines))
    (out / "benchmark.json").write_text(
        json.dumps(
            {
                "table": [
                    {
                        **dict(zip(("task", "policy", "mean", "std", "capture", "seeds"), x, strict=True)),
                        **{
                            k: by_cell.get((x[0], x[1]), {}).get(k)
                            for k in ("iqm", "iqm_low", "iqm_high", "mean_low", "mean_high")
                        },
                    }
                    for x in table
                ],
                "missing": missing,
                "notes": notes,
            },
            indent=1,
        )
    )
    stats.write_report(
        out,
        results,
        profiles,
        reps=args.reps,
        header=[f"Command: `{command}` (git revision {revision}). Task `all`: every task's test days together.", ""],
    )
    full = set(args.tasks) == set(TASKS) and not args.episodes and Path(args.out) == Path(OUT)
    if args.update_readme or (args.update_readme is None and full):
        update_readme(grid)
        print(f"README.md: the table between {README_START} and {README_END} rewritten")
    print("\n".join(lines))
    print((out / "rliable.md").read_text())


if __name__ == "__main__":
    main()
