"""Aggregate statistics of a benchmark with ``rliable``: normalised scores, IQM and mean with stratified-bootstrap
confidence intervals, the optimality gap, the probability of improvement over a reference, performance profiles.

Scores. The score of an episode (one policy, one training seed, one test day) is the share of the
oracle's gain over the passive reference that it captures,

    score = (profit - passive profit) / (oracle profit - passive profit),

so the passive reference scores 0 and the oracle (the optimum) 1 on every day. A day on which the
oracle gains nothing over the passive reference (``|oracle - passive| <= 1e-6 * max(1, |passive|)``)
has no score: it is left out for every policy of that task, and the report counts such days.

Runs. rliable's score matrices are ``runs x strata``: here, per task, the training seeds x the test
days. The baselines (rule, MPC) are deterministic given the episode, so they are one run per test
day (a matrix of one row), as is an agent with one trained seed.

Intervals. 95 % percentile intervals of the stratified bootstrap of rliable (Agarwal et al. 2021,
``rliable.library.StratifiedBootstrap`` with ``task_bootstrap=True``): each of the ``reps`` replicates
draws the test days with replacement and, within each day drawn, the seeds with replacement; the
statistic of every replicate is rliable's own function. With one run per day only the days are
resampled, so a baseline's interval is its uncertainty over test days; an agent's adds the spread over
seeds. The point estimates are :func:`rliable.metrics.aggregate_iqm` (the mean of the middle 50 % of
all seed x day scores), :func:`~rliable.metrics.aggregate_mean` and
:func:`~rliable.metrics.aggregate_optimality_gap` (``1 - mean(min(score, 1))``: how far below the
oracle, a score above the oracle's counting as 1).

Probability of improvement (:func:`rliable.metrics.probability_of_improvement`) of a policy X over the
reference Y (MPC): the mean over test days of ``P(X > Y)`` between X's runs and Y's runs on that day
(ties count one half). Its interval comes from the same two-level bootstrap, with the days drawn
once for X and Y together (paired: both played the same days) and the runs of each apart; the
replicates are computed vectorised (:func:`_poi_vectorised`, checked against rliable's function in
the tests).

Performance profiles: the share of a policy's seed x day scores above each threshold ``tau`` (rliable's
score distribution), with bootstrap bands.

Why the bootstrap is drawn here and not by ``rliable.library``: that module imports ``arch``, and
rliable 1.2 requires ``arch<8``, whose releases do not import under pandas 3 (the version a fresh
install resolves); ``rliable.metrics`` needs only NumPy and SciPy. Drawing the indices here also makes
the report reproducible: rliable 1.2's bootstrap takes its indices from NumPy's global generator
(ignoring its ``random_state``), while every estimate here has its own generator seeded from
``(seed, task, policy, statistic)``, so the same scores and seed give the same report whatever the
order of the policies.
"""

from __future__ import annotations

import csv
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPS = 2000
"""Bootstrap replicates of every interval."""
SEED = 20_270_000
"""Default seed of the bootstraps."""
CONFIDENCE = 0.95
TAUS = np.round(np.linspace(-1.0, 1.2, 45), 6)
"""Thresholds of the performance profiles (normalised score)."""
ALL_TASKS = "all"
"""The task label of the aggregate over every task's test days."""


def no_gain(oracle: np.ndarray, passive: np.ndarray) -> np.ndarray:
    """Days on which the oracle gains nothing over the passive reference (left out of the scores)."""
    return np.abs(oracle - passive) <= 1e-6 * np.maximum(1.0, np.abs(passive))


def normalised(profit: np.ndarray, passive: np.ndarray, oracle: np.ndarray) -> np.ndarray:
    """``(profit - passive) / (oracle - passive)`` per day (broadcast over leading axes); NaN where :func:`no_gain`."""
    gain = oracle - passive
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.asarray(profit, dtype=float) - passive) / gain
    return np.where(no_gain(oracle, passive), np.nan, out)


@dataclass
class ScoreTable:
    """The normalised scores of one task.

    Attributes:
        task: the task's label.
        days: the test days (episode indices) that have a score.
        dropped: the test days left out (the oracle gains nothing over the passive reference).
        scores: ``{policy: (runs x days)}``.
        runs: ``{policy: the run labels (seeds), in row order}``.
    """

    task: str
    days: list[int]
    dropped: list[int]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    runs: dict[str, list[str]] = field(default_factory=dict)


def score_tables(rows: Sequence[Mapping[str, Any]]) -> dict[str, ScoreTable]:
    """Score tables per task from rows with ``task``, ``policy``, ``run``, ``episode`` and ``profit``.

    ``policy`` groups the rows (e.g. ``ppo``), ``run`` tells its seeds apart (e.g. ``s0``; the
    baselines' one run any label). The ``passive`` and ``oracle`` rows are the references; a task
    without both has no table. Every run of a policy must have played the same episodes.
    """
    by_task: dict[str, dict[str, dict[str, dict[int, float]]]] = {}
    for r in rows:
        pol = by_task.setdefault(str(r["task"]), {}).setdefault(str(r["policy"]), {})
        pol.setdefault(str(r["run"]), {})[int(r["episode"])] = float(r["profit"])
    tables: dict[str, ScoreTable] = {}
    for task, policies in by_task.items():
        if "passive" not in policies or "oracle" not in policies:
            continue
        (passive,) = policies["passive"].values()
        (oracle,) = policies["oracle"].values()
        episodes = sorted(passive)
        p = np.array([passive[e] for e in episodes])
        o = np.array([oracle[e] for e in episodes])
        keep = ~no_gain(o, p)
        table = ScoreTable(
            task,
            [e for e, k in zip(episodes, keep, strict=True) if k],
            [e for e, k in zip(episodes, keep, strict=True) if not k],
        )
        for name, runs in policies.items():
            labels = sorted(runs)
            for label in labels:
                if sorted(runs[label]) != episodes:
                    raise ValueError(
                        f"{task}: {name} run {label} played episodes {sorted(runs[label])}, not {episodes}"
                    )
            profits = np.array([[runs[label][e] for e in episodes] for label in labels])
            table.scores[name] = normalised(profits, p, o)[:, keep]
            table.runs[name] = labels
        tables[task] = table
    return tables


def aggregate_table(tables: Mapping[str, ScoreTable]) -> ScoreTable | None:
    """Every task's days side by side (``task`` :data:`ALL_TASKS`), for the policies with the same runs on all tasks."""
    if len(tables) < 2:
        return None
    names = [n for n in next(iter(tables.values())).scores if all(n in t.scores for t in tables.values())]
    out = ScoreTable(
        ALL_TASKS,
        [d for t in tables.values() for d in t.days],
        [d for t in tables.values() for d in t.dropped],
    )
    for name in names:
        labels = {tuple(t.runs[name]) for t in tables.values()}
        if len(labels) != 1:
            continue
        out.scores[name] = np.concatenate([t.scores[name] for t in tables.values()], axis=1)
        out.runs[name] = list(labels.pop())
    return out


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator of its own for one estimate, seeded from ``seed`` and ``keys``."""
    return np.random.default_rng([seed % 2**32, *(zlib.crc32(k.encode()) for k in keys)])


def bootstrap(scores: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``reps`` stratified-bootstrap replicates of a ``runs x days`` matrix, ``(reps, runs, days)``.

    Each replicate draws the days with replacement, then for every position a run with replacement
    within the day drawn (rliable's ``StratifiedBootstrap(task_bootstrap=True)``).
    """
    n_runs, n_days = scores.shape
    days = rng.integers(0, n_days, size=(reps, 1, n_days))
    runs = rng.integers(0, n_runs, size=(reps, n_runs, n_days))
    return np.asarray(scores[runs, days])


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    alpha = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(values, [alpha, 100 - alpha], axis=0)
    return float(low), float(high)


def iqm(scores: np.ndarray) -> float:
    """rliable's IQM of a ``runs x days`` matrix."""
    from rliable import metrics

    return float(metrics.aggregate_iqm(scores))


def _interval(
    scores: np.ndarray, statistic: str, reps: int, seed: int, task: str, policy: str
) -> tuple[float, float, float]:
    """``(point, low, high)`` of ``statistic`` (``iqm``, ``mean``, ``optimality_gap``): rliable's, bootstrapped."""
    from rliable import metrics

    func = {
        "iqm": metrics.aggregate_iqm,
        "mean": metrics.aggregate_mean,
        "optimality_gap": metrics.aggregate_optimality_gap,
    }[statistic]
    boot = bootstrap(scores, reps, _rng(seed, task, policy, statistic))
    values = np.array([func(b) for b in boot], dtype=float)
    return (float(func(scores)), *_percentiles(values))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """rliable's probability of improvement of X (``runs_x x days``) over Y (``runs_y x days``)."""
    from rliable import metrics

    return float(metrics.probability_of_improvement(x, y))


def _poi_vectorised(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Probability of improvement of stacked replicates: ``x (B, n_x, M)``, ``y (B, n_y, M)`` -> ``(B,)``.

    Per day the Mann-Whitney U statistic over ``n_x n_y`` (ties one half), as rliable computes it, then
    the mean over days.
    """
    diff = x[:, :, None, :] - y[:, None, :, :]
    wins = (diff > 0).mean(axis=(1, 2)) + 0.5 * (diff == 0).mean(axis=(1, 2))
    return np.asarray(wins.mean(axis=1))


def poi_interval(
    x: np.ndarray, y: np.ndarray, reps: int, seed: int, task: str, policy: str
) -> tuple[float, float, float]:
    """``(point, low, high)`` of the probability of improvement of X over Y: days drawn together, runs apart."""
    rng = _rng(seed, task, policy, "poi")
    n_x, m = x.shape
    n_y = y.shape[0]
    days = rng.integers(0, m, size=(reps, 1, m))
    bx = x[rng.integers(0, n_x, size=(reps, n_x, m)), days]
    by = y[rng.integers(0, n_y, size=(reps, n_y, m)), days]
    return (probability_of_improvement(x, y), *_percentiles(_poi_vectorised(bx, by)))


STAT_COLUMNS = (
    "task",
    "policy",
    "runs",
    "days",
    "dropped_days",
    "iqm",
    "iqm_low",
    "iqm_high",
    "mean",
    "mean_low",
    "mean_high",
    "optimality_gap",
    "optimality_gap_low",
    "optimality_gap_high",
    "poi",
    "poi_low",
    "poi_high",
)
"""The columns of ``rliable.csv``: one row per task x policy."""


def analyse(
    tables: Mapping[str, ScoreTable],
    reference: str = "mpc",
    reps: int = REPS,
    seed: int = SEED,
    skip: tuple[str, ...] = ("passive", "oracle"),
) -> list[dict[str, Any]]:
    """One row of :data:`STAT_COLUMNS` per task x policy (the references ``skip`` left out: they score 0 and 1).

    The probability of improvement over ``reference`` is empty for the reference itself and where it is absent.
    """
    out: list[dict[str, Any]] = []
    for task, table in tables.items():
        for policy, scores in table.scores.items():
            if policy in skip or scores.shape[1] == 0:
                continue
            row: dict[str, Any] = {
                "task": task,
                "policy": policy,
                "runs": scores.shape[0],
                "days": scores.shape[1],
                "dropped_days": len(table.dropped),
            }
            for stat in ("iqm", "mean", "optimality_gap"):
                row[stat], row[f"{stat}_low"], row[f"{stat}_high"] = _interval(scores, stat, reps, seed, task, policy)
            ref = table.scores.get(reference)
            if ref is not None and policy != reference:
                row["poi"], row["poi_low"], row["poi_high"] = poi_interval(scores, ref, reps, seed, task, policy)
            else:
                row["poi"] = row["poi_low"] = row["poi_high"] = None
            out.append(row)
    return out


def performance_profiles(
    tables: Mapping[str, ScoreTable],
    taus: np.ndarray = TAUS,
    reps: int = REPS,
    seed: int = SEED,
    skip: tuple[str, ...] = ("passive", "oracle"),
) -> list[dict[str, Any]]:
    """Rows ``task, policy, tau, fraction, low, high``: the share of seed x day scores above ``tau``, with its band
    (rliable's score distribution, ``np.mean(scores > tau)``)."""
    out: list[dict[str, Any]] = []
    for task, table in tables.items():
        for policy, scores in table.scores.items():
            if policy in skip or scores.shape[1] == 0:
                continue
            boot = bootstrap(scores, reps, _rng(seed, task, policy, "profile"))
            for tau in taus:
                low, high = _percentiles((boot > tau).mean(axis=(1, 2)))
                out.append(
                    {
                        "task": task,
                        "policy": policy,
                        "tau": float(tau),
                        "fraction": float(np.mean(scores > tau)),
                        "low": low,
                        "high": high,
                    }
                )
    return out


def interval_text(row: Mapping[str, Any], stat: str = "iqm", digits: int = 2) -> str:
    """``0.83 [0.78, 0.88]`` of a row of :func:`analyse`."""
    if row.get(stat) is None:
        return "–"
    return f"{row[stat]:.{digits}f} [{row[f'{stat}_low']:.{digits}f}, {row[f'{stat}_high']:.{digits}f}]"


def plot_profiles(profiles: Sequence[Mapping[str, Any]], path: Path) -> None:
    """``performance_profiles.png``: one panel per task, a line and its band per policy."""
    from agents.report import pyplot

    plt = pyplot()
    tasks = list(dict.fromkeys(str(r["task"]) for r in profiles))
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.2 * max(len(tasks), 1), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=False):
        rows = [r for r in profiles if r["task"] == task]
        for policy in dict.fromkeys(str(r["policy"]) for r in rows):
            mine = [r for r in rows if r["policy"] == policy]
            tau = [r["tau"] for r in mine]
            (line,) = ax.plot(tau, [r["fraction"] for r in mine], label=policy)
            ax.fill_between(tau, [r["low"] for r in mine], [r["high"] for r in mine], alpha=0.2, color=line.get_color())
        ax.axvline(0.0, color="0.5", lw=0.6, ls=":")
        ax.axvline(1.0, color="0.5", lw=0.6, ls=":")
        ax.set_title(task)
        ax.set_xlabel("normalised score τ (0 passive, 1 oracle)")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("share of seed x day scores > τ")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def write_report(
    out: Path,
    stats: Sequence[Mapping[str, Any]],
    profiles: Sequence[Mapping[str, Any]],
    reference: str = "mpc",
    reps: int = REPS,
    seed: int = SEED,
    header: Sequence[str] = (),
) -> list[str]:
    """``rliable.md``, ``rliable.csv``, ``rliable.json``, ``performance_profiles.csv`` and ``.png`` into ``out``.

    Returns the names written.
    """
    out.mkdir(parents=True, exist_ok=True)
    with (out / "rliable.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(STAT_COLUMNS))
        writer.writeheader()
        writer.writerows({k: ("" if row.get(k) is None else row[k]) for k in STAT_COLUMNS} for row in stats)
    with (out / "performance_profiles.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["task", "policy", "tau", "fraction", "low", "high"])
        writer.writeheader()
        writer.writerows(profiles)
    (out / "rliable.json").write_text(
        json.dumps(
            {
                "reps": reps,
                "seed": seed,
                "confidence": CONFIDENCE,
                "reference": reference,
                "stats": [{k: _clean(v) for k, v in r.items()} for r in stats],
            },
            indent=1,
        )
    )
    plot_profiles(profiles, out / "performance_profiles.png")
    lines = [
        "# Benchmark statistics (rliable)",
        "",
        *header,
        "Normalised score of an episode = (profit - passive) / (oracle - passive): 0 is the passive reference, "
        "1 the oracle. Per task and policy over its training seeds x test days (the baselines: one run per day): "
        f"the IQM and the mean (rliable's metrics) with {CONFIDENCE:.0%} percentile intervals of a stratified "
        "bootstrap "
        f"({reps} replicates resampling the test days and the seeds within each day, seeded {seed}); the "
        "optimality gap 1 - mean(min(score, 1)); the probability that the policy improves on "
        f"{reference.upper() if reference == 'mpc' else reference} on a test day (0.5: as often better as worse). "
        "Days on which the oracle gains nothing over the passive reference are left out (counted in `dropped`). "
        "Method: `agents/stats.py`. Figures: `rliable.csv` / `rliable.json`; performance profiles: "
        "`performance_profiles.png` / `.csv`.",
        "",
        f"| task | policy | runs x days | IQM | mean | optimality gap | P(better than {reference}) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in stats:
        dropped = f" ({r['dropped_days']} dropped)" if r.get("dropped_days") else ""
        lines.append(
            f"| {r['task']} | {r['policy']} | {r['runs']} x {r['days']}{dropped} | {interval_text(r, 'iqm')} | "
            f"{interval_text(r, 'mean')} | {interval_text(r, 'optimality_gap')} | "
            f"{interval_text(r, 'poi') if r.get('poi') is not None else '–'} |"
        )
    lines += ["", "![performance profiles](performance_profiles.png)", ""]
    (out / "rliable.md").write_text("\n".join(lines))
    return ["rliable.md", "rliable.csv", "rliable.json", "performance_profiles.csv", "performance_profiles.png"]
