"""Generalisation: the published agents on scenarios they were not trained on, beside rule, MPC and the oracle.

Usage (evaluation only, from the published models of the checkout):
    python experiments/generalisation.py [--tasks arbitrage lowcarbon regulation joint] [--algos ppo sac]
        [--seeds 0] [--models-dir models] [--episodes N] [--data-seed 1] [--real-data ../shared/data]
        [--out experiments/results/generalisation]

For each task, every policy (passive reference, oracle, rule, MPC and each published agent
``<models-dir>/<algo>_<task>_s<seed>``) plays the test days of ``configs/evaluation/<task>.yaml``
(``--episodes`` overrides their number) on three scenarios:

- ``training``: the task's default scenario, the one the agents were trained on (synthetic data seed 0);
- ``synthetic seed K``: the same scenario with another seed of the synthetic data generator
  (``data.synthetic.seed`` and ``data.ancillary.seed`` = ``--data-seed``): other prices, weather,
  loads and ancillary-service series drawn from the same model;
- ``real data``: the task's own resources and markets on real series: the data section and clock of
  ``configs/scenarios/ercot_caiso_2022.yaml`` (ERCOT Houston-hub day-ahead prices of 2022, CAISO SCE
  marginal emission rates of 2021 moved onto 2022, the rest synthesized on Houston's clock; test days
  2022-08-01 ..), its files read from ``--real-data`` (default ``../shared/data`` beside the checkout).
  The prices are converted to CNY at :data:`CNY_PER_USD` so that the agent sees prices of the size it
  was trained on (the resources' costs are the task's CNY ones). Skipped, with a message, when the
  data folder is absent.

An agent is only evaluated where its observation and action layouts are the scenario's (same task and
resources); otherwise the report names the rows that differ and leaves it out.

Written into ``--out``: ``generalisation.md`` (the capture, i.e. the share of the oracle's gain over the
passive reference captured by the means, on the training scenario and on each new one, with the drop),
``generalisation.csv`` (one row per task x scenario x policy: mean profit, capture, IQM of the normalised
score with its 95 % stratified-bootstrap interval, :mod:`agents.stats`) and ``kpis.csv`` (every episode).
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents import stats
from agents.evaluate import EvaluationConfig, evaluate, load_evaluation, parse_policies
from agents.runinfo import git_revision
from vpp_gym.config import packaged_config, read_yaml
from vpp_gym.validation import ConfigError, merge_overrides

TASKS = ("arbitrage", "lowcarbon", "regulation", "joint")
ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
REAL_DATA = ROOT.parent / "shared" / "data"
CNY_PER_USD = 7.0
"""Conversion of the real (USD) prices to the CNY the tasks are calibrated in (about the 2022 rate)."""
REAL_SCENARIO = "scenarios/ercot_caiso_2022.yaml"


def real_data_overrides(folder: Path) -> dict[str, Any]:
    """Overrides that put a task on the real series of :data:`REAL_SCENARIO`, files read from ``folder``."""
    scenario = read_yaml(packaged_config(REAL_SCENARIO))
    data = scenario["data"]
    for source in data["files"]["sources"]:
        source["path"] = str(folder / Path(source["path"]).name)
        for column, spec in source["columns"].items():
            if column.startswith("price_"):
                spec["scale"] = float(spec.get("scale", 1.0)) * CNY_PER_USD
                spec["offset"] = float(spec.get("offset", 0.0)) * CNY_PER_USD
    synthetic = data["files"]["synthetic"]
    for key in ("price_floor_per_mwh", "price_cap_per_mwh", "price_mean_per_mwh"):
        synthetic[key] = float(synthetic[key]) * CNY_PER_USD
    return {"data": data, "time": {"utc_offset_h": scenario["time"]["utc_offset_h"]}}


def scenarios(data_seed: int, real_data: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``{label: overrides}`` of the scenarios, and notes on those skipped."""
    out: dict[str, dict[str, Any]] = {
        "training": {},
        f"synthetic seed {data_seed}": {"data": {"synthetic": {"seed": data_seed}, "ancillary": {"seed": data_seed}}},
    }
    notes = []
    if real_data.is_dir():
        out["real data"] = real_data_overrides(real_data)
    else:
        notes.append(f"real data: skipped, the data folder {real_data} is absent (it lives beside the checkout)")
    return out, notes


def agents_for(task: str, algos: list[str], seeds: list[int], models_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """``{label <algo>_s<seed>: published folder}`` of the published agents of ``task``, and the missing ones."""
    from agents.rl.artifacts import read_published

    found, missing = {}, []
    for algo in algos:
        for seed in seeds:
            folder = models_dir / f"{algo}_{task}_s{seed}"
            if folder.is_dir() and read_published(folder) is not None:
                found[f"{algo}_s{seed}"] = folder
            else:
                missing.append(folder.name)
    return found, missing


def layout_problem(folder: Path, cfg: EvaluationConfig) -> str | None:
    """Why the agent of ``folder`` cannot play ``cfg``'s scenario (its layouts differ), or None."""
    from agents.rl.policy import RlPolicy

    try:
        RlPolicy.check(folder, env=cfg.make_env())
    except ConfigError as err:
        return str(err)
    return None


def evaluate_scenario(
    task: str, label: str, cfg: EvaluationConfig, agents: dict[str, Path], notes: list[str]
) -> list[dict[str, Any]]:
    """KPI rows (with ``task``, ``scenario``) of every policy on ``cfg``'s test days; agents that do not fit: noted."""
    playable = {}
    for name, folder in agents.items():
        problem = layout_problem(folder, cfg)
        if problem is None:
            playable[name] = folder
        else:
            notes.append(f"{task}, {label}: {name} not evaluated: {problem}")
            print(f"  {name}: not evaluated ({problem})", flush=True)
    spec = ",".join(["rule", "mpc", *(f"{name}={folder}" for name, folder in playable.items())])
    result = evaluate(cfg, parse_policies(spec), log=lambda _line: None)
    for skipped in result.skipped:
        notes.append(f"{task}, {label}: {skipped} not run (outside its scope)")
    return [{"task": task, "scenario": label, **row} for row in result.kpis]


def summarise(rows: list[dict[str, Any]], reps: int) -> list[dict[str, Any]]:
    """One row per task x scenario x policy group: mean profit, capture of the means, IQM [interval]."""
    out: list[dict[str, Any]] = []
    keys = list(dict.fromkeys((r["task"], r["scenario"]) for r in rows))
    for task, scenario in keys:
        mine = [r for r in rows if r["task"] == task and r["scenario"] == scenario]
        score_rows = []
        for r in mine:
            label = str(r["policy"])
            group, run = (label.rsplit("_s", 1)[0], "s" + label.rsplit("_s", 1)[1]) if "_s" in label else (label, "-")
            score_rows.append(
                {"task": task, "policy": group, "run": run, "episode": r["episode"], "profit": r["profit"]}
            )
        tables = stats.score_tables(score_rows)
        by_cell = {str(s["policy"]): s for s in stats.analyse(tables, reps=reps, skip=())} if tables else {}
        profits: dict[str, dict[str, list[float]]] = {}
        for s in score_rows:
            profits.setdefault(str(s["policy"]), {}).setdefault(str(s["run"]), []).append(float(s["profit"]))
        passive = float(np.mean(profits["passive"]["-"]))
        oracle = float(np.mean(profits["oracle"]["-"])) if "oracle" in profits else float("nan")
        for group, runs in profits.items():
            mean = float(np.mean([np.mean(v) for v in runs.values()]))
            gain = oracle - passive
            cell = by_cell.get(group)
            out.append(
                {
                    "task": task,
                    "scenario": scenario,
                    "policy": group,
                    "seeds": len(runs) if group not in ("passive", "oracle", "rule", "mpc") else 0,
                    "days": len(runs[next(iter(runs))]),
                    "mean_profit": mean,
                    "capture": (mean - passive) / gain if abs(gain) > 1e-9 else float("nan"),
                    "iqm": cell["iqm"] if cell else None,
                    "iqm_low": cell["iqm_low"] if cell else None,
                    "iqm_high": cell["iqm_high"] if cell else None,
                }
            )
    return out


def report(summary: list[dict[str, Any]], notes: list[str], header: list[str], out: Path) -> list[str]:
    """``generalisation.md``: per task, the capture on each scenario and its drop from the training scenario."""
    lines = ["# Generalisation: published agents on scenarios they were not trained on", "", *header, ""]
    scen = list(dict.fromkeys(str(r["scenario"]) for r in summary))
    others = [s for s in scen if s != "training"]
    head = "| task | policy | training | " + " | ".join(f"{s} | drop" for s in others) + " |"
    lines += [head, "| --- | --- |" + " ---: |" * (1 + 2 * len(others))]
    cell = {(r["task"], r["scenario"], r["policy"]): r for r in summary}

    def show(r: dict[str, Any] | None) -> str:
        if r is None:
            return "–"
        iqm = f"; IQM {stats.interval_text(r)}" if r.get("iqm") is not None else ""
        return f"{r['capture']:.2f}{iqm}"

    for task in dict.fromkeys(str(r["task"]) for r in summary):
        for policy in dict.fromkeys(str(r["policy"]) for r in summary if r["task"] == task):
            if policy in ("passive", "oracle"):
                continue
            base = cell.get((task, "training", policy))
            cells = [show(base)]
            for s in others:
                new = cell.get((task, s, policy))
                cells.append(show(new))
                drop = base["capture"] - new["capture"] if base is not None and new is not None else None
                cells.append("–" if drop is None or np.isnan(drop) else f"{drop:+.2f}")
            lines.append(f"| {task} | {policy} | " + " | ".join(cells) + " |")
    lines += [""]
    if notes:
        lines += ["Notes:", "", *(f"- {n}" for n in notes), ""]
    (out / "generalisation.md").write_text("\n".join(lines))
    return lines


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--algos", nargs="*", default=["ppo", "sac"], choices=["ppo", "sac"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models-dir", default=str(MODELS_DIR))
    ap.add_argument("--episodes", type=int, help="test days per scenario (default: the evaluation config's)")
    ap.add_argument("--data-seed", type=int, default=1, help="the other synthetic data seed (training: 0)")
    ap.add_argument("--real-data", default=str(REAL_DATA), help="folder of the real data files")
    ap.add_argument("--reps", type=int, default=stats.REPS)
    ap.add_argument("--out", default="experiments/results/generalisation")
    args = ap.parse_args()
    if args.data_seed == 0:
        raise SystemExit("--data-seed 0 is the training scenario's seed; give another")
    revision = git_revision()
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants, notes = scenarios(args.data_seed, Path(args.real_data))
    rows: list[dict[str, Any]] = []
    for task in args.tasks:
        base = load_evaluation(
            packaged_config(f"evaluation/{task}.yaml"), {"episodes": args.episodes} if args.episodes else None
        )
        agents, missing = agents_for(task, args.algos, args.seeds, Path(args.models_dir))
        if missing:
            where = Path(args.models_dir).resolve()
            shown = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where  # the checkout's models/
            notes.append(f"{task}: no published model {', '.join(missing)} in {shown} (not evaluated)")
        for label, overrides in variants.items():
            cfg = replace(base, overrides=merge_overrides(base.overrides, overrides))
            print(
                f"{cfg.env_id}, {label}: rule, mpc, {', '.join(agents) or 'no agents'} on {cfg.episodes} test days "
                f"[{time.perf_counter() - t0:.0f} s]",
                flush=True,
            )
            rows += evaluate_scenario(task, label, cfg, agents, notes)
    summary = summarise(rows, args.reps)
    with (out / "kpis.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (out / "generalisation.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    command = (
        f"python experiments/generalisation.py --tasks {' '.join(args.tasks)} --algos {' '.join(args.algos)} "
        f"--seeds {' '.join(map(str, args.seeds))} --data-seed {args.data_seed}"
        f"{f' --episodes {args.episodes}' if args.episodes else ''}"
    )
    header = [
        f"Command: `{command}` (git revision {revision}, {time.perf_counter() - t0:.0f} s).",
        "",
        "Capture = the share of the oracle's gain over the passive reference captured by the mean profit over "
        "the test days (1: the oracle, 0: no better than the passive reference; for an agent the mean over its "
        "seeds), on the training scenario (the task's default: synthetic data seed 0) and on each new one; "
        "drop = training capture - new capture (positive: worse on the new scenario). IQM: the normalised score "
        "over seeds x test days with its 95 % stratified-bootstrap interval (`agents/stats.py`). Scenarios: "
        f"`synthetic seed {args.data_seed}` redraws every synthetic series; `real data` runs the task's resources "
        "and markets on ERCOT Houston 2022 day-ahead prices (x "
        f"{CNY_PER_USD:g} CNY/USD) and CAISO marginal emission rates, test days from 2022-08-01 "
        "(`configs/scenarios/ercot_caiso_2022.yaml`'s data). Method: `experiments/generalisation.py`.",
    ]
    lines = report(summary, notes, header, out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
