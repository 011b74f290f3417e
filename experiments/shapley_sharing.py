"""Contribution-based revenue sharing: Shapley values of resource groups per scenario.

Usage:
    python experiments/shapley_sharing.py [--episodes 2] [--scenario TASK_OR_YAML ...]
        [--out experiments/results/shapley]

For each scenario (a task's default, or a scenario YAML merged over Joint-v1), the value of each
coalition of the resource groups present is the oracle's mean profit over the first ``--episodes``
test days with only those resources (:mod:`agents.shapley`), and the exact Shapley value of each
group splits the grand coalition's profit. Writes ``scenario_<name>.json`` per scenario (kept across
runs with the same ``--episodes``, so scenarios can be added run by run) and ``shapley.md`` over all.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.evaluate import EvaluationConfig
from agents.lp import SolveError
from agents.runfiles import read_json
from agents.shapley import coalition_values, present_groups, shapley_values
from vpp_gym.tasks import ALL_TASKS

DEFAULT = ["vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0", "vpp_gym/Joint-v1"]


def _name(item: str) -> str:
    return item.split("/")[-1] if item in ALL_TASKS else Path(item).stem


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument(
        "--scenario",
        nargs="*",
        default=DEFAULT,
        help="task ids (their default scenario) or scenario YAMLs (merged over Joint-v1)",
    )
    ap.add_argument("--out", default="experiments/results/shapley")
    ap.add_argument("--report-only", action="store_true", help="rewrite shapley.md from the saved scenarios")
    args = ap.parse_args()
    if args.report_only:
        args.scenario = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    failed: list[tuple[str, str]] = []
    for path in sorted(out.glob("scenario_*.json")):  # earlier scenarios of this folder are kept
        done = read_json(path, "an earlier scenario's result; delete it to compute it again")
        if done["scenario"] not in args.scenario and done["episodes"] == args.episodes:
            if "error" in done:
                failed.append((done["scenario"], done["error"]))
            else:
                results.append(done)
    for item in args.scenario:
        if item in ALL_TASKS:
            cfg = EvaluationConfig(env_id=item, episodes=args.episodes)
        else:
            cfg = EvaluationConfig(
                env_id="vpp_gym/Joint-v1", scenario=str(Path(item).resolve()), episodes=args.episodes
            )
        groups = present_groups(cfg)
        t0 = time.perf_counter()
        try:
            values = coalition_values(cfg, groups, log=lambda line: print(line, flush=True))
        except SolveError as err:  # reported, not hidden: the scenario gets no shares
            print(f"{item}: not computed: the oracle failed on a coalition ({err})", flush=True)
            failed.append((item, str(err)))
            (out / f"scenario_{_name(item)}.json").write_text(
                json.dumps({"scenario": item, "episodes": args.episodes, "error": str(err)}, indent=1)
            )
            continue
        phi = shapley_values(groups, values)
        grand = values[frozenset(groups)]
        results.append(
            {
                "scenario": item,
                "episodes": args.episodes,
                "groups": groups,
                "grand_coalition_profit": grand,
                "shapley": phi,
                "coalitions": {"+".join(sorted(k)) or "(none)": v for k, v in values.items()},
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        (out / f"scenario_{_name(item)}.json").write_text(json.dumps(results[-1], indent=1))
        print(
            f"{item}: v(N) = {grand:,.1f}; "
            + ", ".join(f"{g} {v:,.1f}" for g, v in phi.items())
            + f"  [{2 ** len(groups) - 1} coalitions, {time.perf_counter() - t0:.0f} s]",
            flush=True,
        )
    lines = [
        "# Shapley revenue sharing among resource groups",
        "",
        f"Command: `python experiments/shapley_sharing.py --episodes {args.episodes} --scenario "
        f"{' '.join(r['scenario'] for r in results)}` (scenarios may come from several runs)",
        "",
        f"Oracle profit per day (CNY), mean over the first {args.episodes} test days; a coalition's value is "
        "the oracle's profit with only its resources (v(empty) = 0). The shares sum to the grand "
        "coalition's profit; a negative share is a member whose presence costs (a load to serve).",
        "",
    ]
    for r in results:
        lines += [
            f"## {r['scenario']}",
            "",
            f"Grand coalition: {r['grand_coalition_profit']:,.1f}",
            "",
            "| group | Shapley value | share |",
            "| --- | ---: | ---: |",
        ]
        for g, v in r["shapley"].items():
            # a share of a loss would read backwards: shown only for a positive grand coalition
            share = f"{v / r['grand_coalition_profit']:.1%}" if r["grand_coalition_profit"] > 0 else "–"
            lines.append(f"| {g} | {v:,.1f} | {share} |")
        lines.append("")
    for item, error in failed:
        lines += [f"## {item}", "", f"Not computed: the oracle failed on one of its coalitions ({error}).", ""]
    (out / "shapley.md").write_text("\n".join(lines))
    print(f"wrote {out / 'shapley.md'}")


if __name__ == "__main__":
    main()
