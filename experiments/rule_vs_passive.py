"""The rule policy against the passive reference, on every task and market-stage preset, on both timelines.

Usage:
    python experiments/rule_vs_passive.py [--split test|val] [--timeline day_ahead|hour_ahead ...] [--version v1|v0]

Each row is an evaluation config of ``configs/evaluation/`` (Arbitrage, LowCarbon, Regulation, Joint),
and Joint again under each preset of ``configs/markets/``, played on the config's episodes as
:func:`agents.evaluate.evaluate` plays them (episode ``e`` on day ``e`` of the split, the env seeded
``seed + e``) by the passive reference and by :class:`agents.rule.PriceThresholdPolicy`, with
``markets.energy.timeline`` set to each timeline. Prints one markdown table: the mean profit per episode
of each policy, their difference and the number of episodes the rule wins. Use ``--split val`` for
anything tuned: the test days are for reporting. ``--version v0`` plays the ``-v0`` ids
(``configs/evaluation/<task>_v0.yaml``); the default is the v1 tasks.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents.base import PassivePolicy, Policy, run_episode
from agents.evaluate import load_evaluation
from agents.rule import PriceThresholdPolicy
from vpp_gym.config import packaged_config

CASES: tuple[tuple[str, str, str | None], ...] = (
    ("Arbitrage", "evaluation/arbitrage.yaml", None),
    ("LowCarbon", "evaluation/lowcarbon.yaml", None),
    ("Regulation", "evaluation/regulation.yaml", None),
    ("Joint", "evaluation/joint.yaml", None),
    ("Joint invitation", "evaluation/joint.yaml", "markets/invitation.yaml"),
    ("Joint transaction", "evaluation/joint.yaml", "markets/transaction.yaml"),
    ("Joint autonomous", "evaluation/joint.yaml", "markets/autonomous.yaml"),
)
"""``(label, evaluation config, market preset or None)``."""


def profits(evaluation: str, preset: str | None, timeline: str, split: str | None) -> dict[str, list[float]]:
    """Episode profits of the passive reference and the rule for one case and timeline."""
    extra: dict[str, Any] = {"overrides": {"markets.energy.timeline": timeline}}
    if preset is not None:
        extra["scenario"] = str(packaged_config(preset))
    if split is not None:
        extra["split"] = split
    cfg = load_evaluation(packaged_config(evaluation), extra)
    env = cfg.make_env()
    out: dict[str, list[float]] = {"passive": [], "rule": []}
    for e in range(cfg.episodes):
        options = {"split": cfg.split, "day": e}
        policies: dict[str, Policy] = {"passive": PassivePolicy(env), "rule": PriceThresholdPolicy(env)}
        for name, policy in policies.items():
            out[name].append(run_episode(env, policy, seed=cfg.seed + e, options=options)["profit"])
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("val", "test"), help="split (default: the configs', test)")
    parser.add_argument(
        "--timeline",
        action="append",
        choices=("day_ahead", "hour_ahead"),
        help="timeline (repeatable; default: both)",
    )
    parser.add_argument("--version", choices=("v1", "v0"), default="v1", help="task version (default v1)")
    args = parser.parse_args(argv)
    timelines = args.timeline or ["day_ahead", "hour_ahead"]
    suffix = "_v0.yaml" if args.version == "v0" else ".yaml"
    print("| timeline | case | episodes | passive | rule | rule - passive | rule wins |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for timeline in timelines:
        for label, evaluation, preset in CASES:
            res = profits(evaluation.removesuffix(".yaml") + suffix, preset, timeline, args.split)
            passive, rule = np.array(res["passive"]), np.array(res["rule"])
            print(
                f"| {timeline} | {label} | {len(rule)} | {passive.mean():,.1f} | {rule.mean():,.1f} | "
                f"{(rule - passive).mean():+,.1f} | {int((rule > passive).sum())}/{len(rule)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
