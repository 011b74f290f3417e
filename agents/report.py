"""Every file an evaluation writes: ``kpis.csv``, ``summary.json``, ``meta.json``, the episodes' CSVs,
``report.md`` and its PNG plots (matplotlib, headless), into a new or empty folder that then holds
exactly the files ``meta.json`` and the report list.

The table's rows and the plots' series are generated from :mod:`agents.kpi` and the ledger schema
(:mod:`vpp_gym.ledger`).
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from agents import kpi, runinfo
from agents.evaluate import EvaluationConfig, EvaluationResult
from agents.runfiles import LOCK_NAME, RunFolderError, contents, make_folder, read_json
from vpp_gym import ledger
from vpp_gym.validation import to_mapping

TABLE_KPIS = kpi.TABLE_COLUMNS
"""The KPIs of the report's table (rows), in order."""
RESOURCE_POWER: tuple[tuple[str, str], ...] = tuple(
    (e.key, e.label)
    for e in ledger.ENTRIES
    if e.key.endswith(".applied_mw") and e.label and not e.group.startswith("load")
)
"""Applied power of the resources stacked in the dispatch plot, with their labels. Load flexibility
(``load_curtail``, ``load_shift``) is not stacked: it is inside ``load.consumption_mw``, drawn as the load."""
LOAD = ledger.BY_KEY["load.consumption_mw"]
NET = ledger.BY_KEY["net_mw"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fmt(stat: dict[str, float | None]) -> str:
    if stat["mean"] is None:
        return "–"
    m, s = stat["mean"], stat["std"] or 0.0
    digits = 3 if abs(m) < 10 else 1 if abs(m) < 1000 else 0
    return f"{m:,.{digits}f} ± {s:,.{digits}f}"


def dispatch_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps that dispatch an interval: every step, but the bid steps of the day-ahead timeline."""
    return [r for r in rows if not r.get("bidding", False)]


def plot_dispatch(rows: list[dict[str, Any]], title: str, path: Path) -> None:
    """Stacked resource output (MW, + = injection), load consumption, net injection, and SOC (per interval)."""
    rows = dispatch_rows(rows)
    plt = pyplot()
    t = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(10, 4.2))
    pos = np.zeros(len(rows))
    neg = np.zeros(len(rows))
    for key, label in RESOURCE_POWER:
        if key not in rows[0]:
            continue
        v = np.array([r[key] for r in rows])
        up, down = np.maximum(v, 0.0), np.minimum(v, 0.0)
        bars = ax.bar(t, up, bottom=pos, width=1.0, label=label, alpha=0.8)
        ax.bar(t, down, bottom=neg, width=1.0, color=bars.patches[0].get_facecolor(), alpha=0.8)
        pos, neg = pos + up, neg + down
    if LOAD.key in rows[0]:
        load = -np.array([r[LOAD.key] for r in rows])
        ax.bar(t, load, bottom=neg, width=1.0, label=LOAD.label, color="0.6", alpha=0.7)
    ax.plot(t, [r[NET.key] for r in rows], color="k", lw=1.2, label=NET.label)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("interval")
    ax.set_ylabel("MW (+ = injection)")
    soc = [k for k in rows[0] if k == "state.battery_soc"]
    if soc:
        ax2 = ax.twinx()
        ax2.plot(t, [r[soc[0]] for r in rows], color="tab:purple", lw=1.5, ls="--", label="battery SOC")
        ax2.set_ylim(0.0, 1.0)
        ax2.set_ylabel("SOC")
        ax2.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8, ncol=4)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_prices(rows: list[dict[str, Any]], title: str, path: Path) -> None:
    """Realised day-ahead and real-time prices with the day-ahead positions (and offer prices) made; on the
    day-ahead timeline the schedule delivered per interval (day-ahead award and intraday adjustment, MWh)."""
    rows = dispatch_rows(rows)
    plt = pyplot()
    t = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.plot(t, [r["series.price_da_per_mwh"] for r in rows], label="day-ahead price", color="tab:blue")
    ax.plot(t, [r["series.price_rt_per_mwh"] for r in rows], label="real-time price", color="tab:orange", alpha=0.8)
    if "energy_da.offer_price" in rows[0]:
        ax.scatter(t, [r["energy_da.offer_price"] for r in rows], s=6, color="k", label="offer price")
    ax.set_xlabel("interval")
    ax.set_ylabel("price per MWh")
    ax2 = ax.twinx()
    if "energy_da.commit_mw" in rows[0]:
        ax2.bar(
            t,
            [r["energy_da.commit_mw"] for r in rows],
            width=1.0,
            alpha=0.3,
            color="tab:green",
            label="day-ahead position committed (MW)",
        )
        ax2.set_ylabel("MW")
    else:  # the day-ahead timeline: the schedule of each interval, settled at delivery
        da = np.array([r["energy_da.quantity_mwh"] for r in rows])
        ax2.bar(t, da, width=1.0, alpha=0.3, color="tab:green", label="day-ahead award (MWh)")
        if "energy_id.quantity_mwh" in rows[0]:
            ax2.bar(
                t,
                [r["energy_id.quantity_mwh"] for r in rows],
                bottom=da,
                width=1.0,
                alpha=0.3,
                color="tab:red",
                label="intraday adjustment (MWh)",
            )
        ax2.set_ylabel("MWh per interval")
    lines = ax.get_legend_handles_labels()
    bars = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + bars[0], lines[1] + bars[1], fontsize=8, loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_bars(summary: dict[str, Any], keys: list[tuple[str, str]], ylabel: str, title: str, path: Path) -> None:
    """Grouped bars of KPI means (error bars: standard deviation) per policy."""
    plt = pyplot()
    policies = list(summary)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / max(len(keys), 1)
    x = np.arange(len(policies))
    for i, (key, label) in enumerate(keys):
        m = [summary[p][key]["mean"] or 0.0 for p in policies]
        s = [summary[p][key]["std"] or 0.0 for p in policies]
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, m, width, yerr=s, label=label, capsize=2)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xticks(x, policies)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    out: Path,
    cfg: EvaluationConfig,
    result: EvaluationResult,
    summary: dict[str, Any],
    command: str = "",
    files: list[str] | None = None,
) -> None:
    """Write ``report.md`` and its plots into ``out`` (with ``files``, a list of what the folder holds)."""
    lines = [f"# Evaluation: {cfg.env_id}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        f"{cfg.episodes} episodes: the first days of the `{cfg.split}` split ({', '.join(result.dates)}), "
        f"episode e seeded {cfg.seed} + e; every policy plays the same episodes. Scenario: "
        f"{cfg.scenario or 'the task default'}{', overrides ' + str(cfg.overrides) if cfg.overrides else ''}. "
        "Mean ± standard deviation over the episodes; KPIs are defined in `agents/kpi.py`. "
        "`oracle_capture` is the share of the oracle's gain over the passive reference captured.",
        "",
    ]
    policies = list(summary)
    lines.append("| KPI | " + " | ".join(policies) + " |")
    lines.append("| --- |" + " ---: |" * len(policies))
    for k in TABLE_KPIS:
        lines.append(f"| {k} | " + " | ".join(_fmt(summary[p][k]) for p in policies) + " |")
    lines.append("")
    plot_bars(
        summary,
        [(k, k.removeprefix("revenue_")) for k in kpi.REVENUE_COLUMNS] + [("cost_carbon", "carbon cost")],
        "per episode",
        "Revenue by market (and carbon cost)",
        out / "revenue_by_market.png",
    )
    plot_bars(
        summary,
        [
            ("emissions_tco2", "gross"),
            ("net_emissions_tco2", "net of offsets"),
            ("avoided_emissions_tco2", "avoided vs passive"),
        ],
        "tCO2 per episode",
        "Emissions",
        out / "emissions.png",
    )
    lines += ["![revenue by market](revenue_by_market.png)", "", "![emissions](emissions.png)", ""]
    lines += ["## Episode 0: dispatch and prices", ""]
    for label in policies:
        rows = result.episodes.get((label, 0))
        if not rows:
            continue
        plot_dispatch(rows, f"{label}: dispatch, {result.dates[0]}", out / f"dispatch_{label}.png")
        plot_prices(rows, f"{label}: prices and day-ahead positions, {result.dates[0]}", out / f"prices_{label}.png")
        lines += [
            f"### {label}",
            "",
            f"![dispatch {label}](dispatch_{label}.png)",
            "",
            f"![prices {label}](prices_{label}.png)",
            "",
        ]
    if files is not None:
        lines += ["## Files", "", "This folder holds exactly these files (also listed in `meta.json`):", ""]
        lines += [f"- `{name}`" for name in files]
        lines.append("")
    (out / "report.md").write_text("\n".join(lines))


def evaluation_meta(result: EvaluationResult, cfg: EvaluationConfig, command: str = "") -> dict[str, Any]:
    """Provenance of an evaluation, as a training run's ``meta.json`` records it for a run (:mod:`agents.runinfo`)."""
    return {
        "kind": "evaluation",
        "env_id": cfg.env_id,
        "command": command,
        "config": to_mapping(cfg),
        "policies": [{"label": label, "run": run} for label, run in result.policies],
        "skipped": list(result.skipped),
        "seeds": {
            "episodes": [cfg.seed + e for e in range(cfg.episodes)],
            "note": "episode e: env reset seed, and the seed of MPC's forecast errors and of the random policy",
        },
        "dates": list(result.dates),
        "git_revision": runinfo.git_revision(),
        "versions": runinfo.versions(),
        "started": result.started,
        "wall_s": result.wall_s,
    }


def write_outputs(
    result: EvaluationResult, cfg: EvaluationConfig, out: Path, command: str = "", present: tuple[str, ...] = ()
) -> list[str]:
    """``kpis.csv``, ``summary.json``, ``meta.json``, ``episodes/*.csv``, ``report.md`` and plots into ``out``.

    ``out`` must be new or empty (a ``.lock`` of the caller and the entries named in ``present``, e.g.
    ``vpp-gym run``'s ``ppo_run/``, aside): nothing of the user's is overwritten and no output of an
    earlier evaluation is left beside the new report. ``meta.json`` (``files``) and ``report.md`` list
    exactly what the folder then holds. Returns that list.

    Raises:
        RunFolderError: ``out`` is a file or holds anything else.
    """
    make_folder(out)
    found = [n for n in contents(out) if n.rstrip("/") not in present]
    if found:
        raise RunFolderError(
            f"--out {out} is not empty (it holds {', '.join(found[:6])}{' ...' if len(found) > 6 else ''}); "
            "an evaluation writes into a new or empty folder: give another --out, or leave it out for a fresh one"
        )
    summary = kpi.summarize(result.kpis)
    plots = ["revenue_by_market.png", "emissions.png"]
    for label in summary:
        if result.episodes.get((label, 0)):
            plots += [f"dispatch_{label}.png", f"prices_{label}.png"]
    episodes = [f"episodes/{label}_{e}.csv" for (label, e) in result.episodes]
    files = sorted(
        [
            *(p + "/" for p in present),
            "kpis.csv",
            "summary.json",
            "meta.json",
            "report.md",
            "episodes/",
            *plots,
            *episodes,
        ]
    )
    with (out / "kpis.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["policy", "episode", "date", "seed", *kpi.KPI_COLUMNS])
        writer.writeheader()
        for row in result.kpis:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    meta = evaluation_meta(result, cfg, command)
    meta["files"] = files
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    ep_dir = out / "episodes"
    ep_dir.mkdir(exist_ok=True)
    for (label, e), rows in result.episodes.items():
        with (ep_dir / f"{label}_{e}.csv").open("w", newline="") as fh:
            fields = list(dict.fromkeys(k for r in rows for k in r))
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    write_report(out, cfg, result, summary, command, files)
    return files


EVALUATION_OUTPUTS = re.compile(r"(kpis\.csv|summary\.json|meta\.json|report\.md|[\w.-]+\.png|episodes/[\w.-]+\.csv)")
"""Names an evaluation writes (for :func:`clear_evaluation`)."""


def clear_evaluation(out: Path) -> None:
    """Remove an earlier evaluation's outputs from ``out`` so that a script can write a new one there.

    Only files an evaluation writes are removed (those its ``meta.json`` lists, or for an evaluation of
    an earlier version, the names evaluations write), and only if the folder holds nothing else.

    Raises:
        RunFolderError: ``out`` is not an evaluation's folder or holds other files (named).
    """
    if not out.exists():
        return
    meta = out / "meta.json"
    record = read_json(meta, f"{out} is not an evaluation's output folder") if meta.is_file() else None
    if not isinstance(record, dict) or record.get("kind") != "evaluation":
        if not any(out.iterdir()):
            return
        raise RunFolderError(f"{out} is not the output folder of an evaluation (no meta.json of one); not touching it")
    listed = set(record.get("files") or [])
    names = sorted(str(p.relative_to(out)) + ("/" if p.is_dir() else "") for p in out.rglob("*") if p.name != LOCK_NAME)
    ours = [n for n in names if n in listed or EVALUATION_OUTPUTS.fullmatch(n) or n == "episodes/"]
    others = [n for n in names if n not in ours]
    if others:
        raise RunFolderError(
            f"{out} holds files that are not an evaluation's ({', '.join(others[:6])}); move them away first"
        )
    for n in sorted(ours, key=lambda n: -len(Path(n.rstrip("/")).parts)):  # a folder after what it holds
        p = out / n.rstrip("/")
        p.rmdir() if p.is_dir() else p.unlink()
