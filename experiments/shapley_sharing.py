"""Contribution-based revenue sharing: Shapley values of resource groups per scenario.

Usage:
    python experiments/shapley_sharing.py [--episodes 2] [--scenario TASK_OR_YAML ...]
        [--commission SHARE] [--out experiments/results/shapley]

For each scenario (a task's default, or a scenario YAML merged over Joint-v1), the value of each
coalition of the resource groups present is the oracle's mean profit over the first ``--episodes``
test days with only those resources (:mod:`agents.shapley`), and the exact Shapley value of each
group splits the grand coalition's profit. Writes ``scenario_<name>.json`` per scenario (kept across
runs with the same ``--episodes``, so scenarios can be added run by run) and ``shapley.md`` over all.

**Aggregator's commission** (``--commission c``, ``0 <= c < 1``; :func:`commission_shares`): the
aggregator that operates a coalition keeps the share ``c`` of its profit when that profit is positive and
takes nothing from a loss (a commission on profit, not a partner in losses). The resource groups then
share what is left, ``v_c(N) = v(N) - c max(v(N), 0)``, by the Shapley values of the game the members
actually play, ``v_c(S) = v(S) - c max(v(S), 0)``: a group's marginal contribution is measured in what the
members would take home from each coalition, since any coalition would pay the same commission. The
shares sum to ``v_c(N)``; with ``c = 0`` they are the plain Shapley values; where every coalition's profit
is non-negative they are ``(1 - c)`` times them. Where some coalitions lose money (those with a load to
serve and too little to serve it with), the commission falls only on the profit above zero: the part of a
group's contribution that covers a loss pays none, so a group that turns a loss into a profit keeps more
than ``(1 - c)`` of its Shapley value, and a member whose cost turns a profit into a loss is relieved of
less than ``c`` of that cost (the aggregator shares no loss). With ``v(N) <= 0`` the aggregator gets
nothing, and the shares still differ from the plain ones where some smaller coalition has a profit (its
value to the members is net of the commission). Why not simply ``(1 - c) phi_i`` for ``v(N) > 0`` and
``phi_i`` otherwise: that jumps at ``v(N) = 0`` and values a group's contribution to loss-making coalitions
as if the aggregator shared their losses; the rule chosen is continuous in the coalition values and
charges every coalition alike. Computed at report time from the saved coalition values, so it needs no new
oracle runs. The report adds the aggregator's row and an after-commission column.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.evaluate import EvaluationConfig
from agents.lp import SolveError
from agents.runfiles import read_json
from agents.runinfo import git_revision
from agents.shapley import coalition_values, present_groups, shapley_values
from vpp_gym.tasks import ALL_TASKS

DEFAULT = ["vpp_gym/Arbitrage-v1", "vpp_gym/LowCarbon-v1", "vpp_gym/Regulation-v1", "vpp_gym/Joint-v1"]
YAML_BASE = "vpp_gym/Joint-v1"
"""The task a scenario YAML is merged over."""


def _name(item: str) -> str:
    return item.split("/")[-1] if item in ALL_TASKS else Path(item).stem


def _version(item: str) -> str:
    """The task version a scenario's figures are of (a YAML: its base task's)."""
    return (item if item in ALL_TASKS else YAML_BASE).rsplit("-", 1)[-1]


def commission_shares(
    groups: Sequence[str], value: Mapping[frozenset[str], float], commission: float
) -> tuple[float, dict[str, float]]:
    """The aggregator's commission on the grand coalition and the groups' Shapley shares of the rest.

    Every coalition pays ``commission x max(v(S), 0)``; the groups share by the Shapley values of
    ``v_c(S) = v(S) - commission x max(v(S), 0)`` (the module docstring says why). Returns
    ``(commission on v(N), {group: share})``; the shares sum to ``v(N)`` less that commission.
    """
    if not 0.0 <= commission < 1.0:
        raise ValueError(f"commission: got {commission}, expected a share in [0, 1)")
    net = {s: v - commission * max(v, 0.0) for s, v in value.items()}
    grand = value[frozenset(groups)]
    return commission * max(grand, 0.0), shapley_values(groups, net)


def _share(v: float, total: float) -> str:
    """``v`` as a share of ``total``; a share of a loss would read backwards: only for a positive total."""
    return f"{v / total:.1%}" if total > 0 else "–"


def _coalitions(saved: Mapping[str, float]) -> dict[frozenset[str], float]:
    """Coalition values from a scenario file's ``coalitions`` (``"battery+pv"``, ``"(none)"``)."""
    return {frozenset() if k == "(none)" else frozenset(k.split("+")): v for k, v in saved.items()}


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
    ap.add_argument(
        "--commission",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="the aggregator's commission: the share of a positive profit it keeps (e.g. 0.1); 0: none",
    )
    ap.add_argument("--out", default="experiments/results/shapley")
    ap.add_argument("--report-only", action="store_true", help="rewrite shapley.md from the saved scenarios")
    args = ap.parse_args()
    if not 0.0 <= args.commission < 1.0:
        ap.error(f"--commission: got {args.commission}, expected a share in [0, 1)")
    t_start = time.perf_counter()
    revision = git_revision()
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
            cfg = EvaluationConfig(env_id=YAML_BASE, scenario=str(Path(item).resolve()), episodes=args.episodes)
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
                "revision": revision,
            }
        )
        (out / f"scenario_{_name(item)}.json").write_text(json.dumps(results[-1], indent=1))
        print(
            f"{item}: v(N) = {grand:,.1f}; "
            + ", ".join(f"{g} {v:,.1f}" for g, v in phi.items())
            + f"  [{2 ** len(groups) - 1} coalitions, {time.perf_counter() - t0:.0f} s]",
            flush=True,
        )
    wall_s = time.perf_counter() - t_start
    versions = sorted({_version(r["scenario"]) for r in results} | {_version(item) for item, _ in failed})
    c = args.commission
    lines = [
        "# Shapley revenue sharing among resource groups",
        "",
        f"Command: `python experiments/shapley_sharing.py --episodes {args.episodes} --scenario "
        f"{' '.join(r['scenario'] for r in results)}" + (f" --commission {c:g}" if c > 0 else "") + "` "
        "(scenarios may come from several runs: each scenario's revision and time are in its section)",
        "",
        f"Revision: `{revision}`. Wall time of this run: {wall_s / 60:.1f} min ({wall_s:.0f} s). Task version "
        f"of the figures: {', '.join(versions) or '-'} (a scenario YAML is merged over {YAML_BASE}).",
        "",
        f"Oracle profit per day (CNY), mean over the first {args.episodes} test days; a coalition's value is "
        "the oracle's profit with only its resources (v(empty) = 0). The shares sum to the grand "
        "coalition's profit; a negative share is a member whose presence costs (a load to serve).",
        "",
    ]
    if c > 0:
        lines += [
            f"Aggregator's commission {c:.0%}: the aggregator keeps {c:.0%} of a coalition's profit when it is "
            "positive and nothing of a loss; the groups share the rest by the Shapley values of the game "
            "net of the commission, v_c(S) = v(S) - c max(v(S), 0) (each coalition would pay it), so the "
            "after-commission column sums to v(N) less the aggregator's row. It is (1 - c) x the Shapley value "
            "where no coalition loses money; where some do, the commission falls on the profit above zero "
            "only, so the groups that turn a loss into a profit keep more than (1 - c) of their Shapley value "
            "and a load whose cost turns a profit into a loss is relieved of less than c of it (rule and "
            "reasons: the script's docstring).",
            "",
        ]
    for r in results:
        values = _coalitions(r["coalitions"])
        grand = r["grand_coalition_profit"]
        lines += [
            f"## {r['scenario']}",
            "",
            f"Grand coalition: {grand:,.1f} ({_version(r['scenario'])}; {2 ** len(r['groups']) - 1} coalitions "
            f"in {r['seconds']:,.0f} s"
            + (
                f" at revision `{r['revision'][:12]}{'-dirty' if r['revision'].endswith('-dirty') else ''}`"
                if "revision" in r
                else ""
            )
            + ")",
            "",
        ]

        if c > 0:
            fee, after = commission_shares(r["groups"], values, c)
            lines += [
                f"| group | Shapley value | share | after {c:.0%} commission | share |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for g, v in r["shapley"].items():
                lines.append(f"| {g} | {v:,.1f} | {_share(v, grand)} | {after[g]:,.1f} | {_share(after[g], grand)} |")
            lines.append(f"| aggregator (commission) | – | – | {fee:,.1f} | {_share(fee, grand)} |")
        else:
            lines += ["| group | Shapley value | share |", "| --- | ---: | ---: |"]
            for g, v in r["shapley"].items():
                lines.append(f"| {g} | {v:,.1f} | {_share(v, grand)} |")
        lines.append("")
    for item, error in failed:
        lines += [f"## {item}", "", f"Not computed: the oracle failed on one of its coalitions ({error}).", ""]
    (out / "shapley.md").write_text("\n".join(lines))
    print(f"wrote {out / 'shapley.md'}")


if __name__ == "__main__":
    main()
