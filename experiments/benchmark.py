"""The benchmark table: tasks x policies (x training seeds), mean +/- std, from committed configs.

Usage (one command reproduces the table, training what is missing):
    python experiments/benchmark.py --train [--seeds 0] [--tasks arbitrage lowcarbon regulation joint]
        [--algos ppo sac] [--runs-dir runs/benchmark] [--out experiments/results/benchmark]

``--algos`` with no names evaluates the baselines only (rule, MPC, the oracle and the passive reference).

For each task, the evaluation config ``configs/evaluation/<task>.yaml`` fixes the test episodes;
rule, MPC and the oracle (and the passive reference) play them, and so does each trained agent
``configs/experiments/<algo>_<task>.yaml`` with each seed (run folder ``<runs-dir>/<algo>_<task>_s<seed>``;
trained with ``--train`` when missing, resumed when unfinished, reused otherwise; a run trained with
another config is moved aside to ``<run>.superseded-<time>``, never deleted). Written into ``--out``:
``benchmark.md`` (the table), ``benchmark.csv`` (every policy x episode x seed KPI row) and the
per-task evaluation folders (``kpis.csv``, ``summary.json``, ``report.md``).

``--train-only`` trains what is missing and stops, so trainings can run in parallel processes (one
per core, on different tasks or seeds) before one evaluating run builds the table.

Table cells: the mean profit per episode over the test episodes, +/- the standard deviation over
training seeds of the per-seed means for the RL agents (over episodes for the others), and the
share of the oracle's gain over the passive reference captured (``oracle_capture`` of the means).
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

TASKS = ("arbitrage", "lowcarbon", "regulation", "joint")


def ensure_run(algo: str, task: str, seed: int, runs_dir: Path, train_missing: bool) -> Path | None:
    """The run folder of ``algo`` on ``task`` with ``seed``; trained first if missing and ``train_missing``."""
    from agents.rl.config import load_experiment

    run = runs_dir / f"{algo}_{task}_s{seed}"
    config = packaged_config(f"experiments/{algo}_{task}.yaml")
    if (run / "summary.json").is_file():
        from agents.rl.train import resolve

        committed, base = load_experiment(config, {"seed": seed})
        trained, _ = load_experiment(run / "config.yaml")
        if resolve(committed, base) == trained:
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


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument(
        "--algos", nargs="*", default=["ppo", "sac"], choices=["ppo", "sac"], help="none: the baselines only"
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--train", action="store_true", help="train the runs that are missing")
    ap.add_argument("--train-only", action="store_true", help="train the missing runs, then stop (no evaluation)")
    ap.add_argument("--episodes", type=int, help="override the evaluation configs' episode count")
    ap.add_argument("--runs-dir", default="runs/benchmark")
    ap.add_argument("--out", default="experiments/results/benchmark")
    args = ap.parse_args()
    revision = git_revision()  # before this run writes its outputs into the checkout
    out, runs_dir = Path(args.out), Path(args.runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    all_rows: list[dict[str, object]] = []
    table: list[tuple[str, str, float, float, float, int]] = []
    t0 = time.perf_counter()
    for task in args.tasks:
        cfg = load_evaluation(
            packaged_config(f"evaluation/{task}.yaml"), {"episodes": args.episodes} if args.episodes else None
        )
        runs = {}
        for algo in args.algos:
            for seed in args.seeds:
                run = ensure_run(algo, task, seed, runs_dir, args.train or args.train_only)
                if run is not None:
                    runs[f"{algo}_s{seed}"] = run
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
        by_policy: dict[str, list[float]] = {}
        for row in result.kpis:
            by_policy.setdefault(str(row["policy"]), []).append(float(row["profit"]))
        passive, oracle = float(np.mean(by_policy["passive"])), float(np.mean(by_policy.get("oracle", [np.nan])))
        groups: dict[str, list[str]] = {}
        for label in by_policy:
            groups.setdefault(label.split("_s")[0] if label in runs else label, []).append(label)
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
    names = list(dict.fromkeys(name for _, name, *_ in table))
    lines = [
        "# Benchmark: tasks x policies",
        "",
        f"Command: `python experiments/benchmark.py{' --train' if args.train else ''} --seeds "
        f"{' '.join(map(str, args.seeds))} --tasks {' '.join(args.tasks)} --algos {' '.join(args.algos)}"
        f"{f' --episodes {args.episodes}' if args.episodes else ''}` (git revision {revision}, "
        f"{time.perf_counter() - t0:.0f} s)",
        "",
        "Mean profit per test day (CNY); ± the std over training seeds for PPO/SAC (n/a with one seed), "
        "over test days for the others; in brackets the share of the oracle's gain over the passive "
        "reference captured; [k seeds] marks an agent with fewer trained seeds than asked for (runs not "
        "trained are left out). Episodes, seeds and configs: configs/evaluation/ and configs/experiments/.",
        "",
        "| task | " + " | ".join(names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for task in args.tasks:
        cells = []
        for name in names:
            hit = [x for x in table if x[0] == task and x[1] == name]
            if not hit:
                cells.append("–")
                continue
            _, _, mean, std, cap, n_seeds = hit[0]
            spread = "n/a" if np.isnan(std) else f"{std:,.0f}"
            fewer = f" [{n_seeds} seed{'s' if n_seeds > 1 else ''}]" if 0 < n_seeds < len(args.seeds) else ""
            cells.append(f"{mean:,.0f} ± {spread} ({cap:.2f}){fewer}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    (out / "benchmark.md").write_text("\n".join(lines) + "\n")
    (out / "benchmark.json").write_text(
        json.dumps(
            [dict(zip(("task", "policy", "mean", "std", "capture", "seeds"), x, strict=True)) for x in table], indent=1
        )
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
