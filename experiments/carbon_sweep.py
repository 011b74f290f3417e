"""Electricity-carbon coupling: profit and emissions as the carbon price goes from 0 to 300 CNY/t.

Usage:
    python experiments/carbon_sweep.py [--env vpp_gym/LowCarbon-v1] [--episodes 4]
        [--prices 0 50 100 150 200 250 300] [--run ppo=RUN_DIR ...] [--out experiments/results/carbon_sweep]

For each price the scenario's ``markets.carbon.price_per_t`` is set (a stepped ladder keeps its
bands and growth from that base price) and the passive reference, the oracle, MPC and the given
trained agents play the same test episodes (:func:`agents.evaluate.evaluate`). The agents were
trained at the task's default price and do not observe the price: their row shows how a policy
tuned to one price fares at others, not what training at each price would give. Writes
``carbon_sweep.md`` (table), ``carbon_sweep.csv`` and ``carbon_sweep.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import vpp_gym  # noqa: F401  (registers the ids)
from agents.evaluate import EvaluationConfig, evaluate, parse_policies
from agents.kpi import summarize
from agents.report import pyplot

POLICY_ORDER = ("passive", "oracle", "mpc")


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="vpp_gym/LowCarbon-v1")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--prices", type=float, nargs="+", default=[0, 50, 100, 150, 200, 250, 300])
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR")
    ap.add_argument("--out", default="experiments/results/carbon_sweep")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    policies = parse_policies(",".join(["mpc", *args.run]))
    rows = []
    t0 = time.perf_counter()
    for price in args.prices:
        cfg = EvaluationConfig(
            env_id=args.env, episodes=args.episodes, overrides={"markets.carbon.price_per_t": float(price)}
        )
        summary = summarize(evaluate(cfg, policies, log=lambda _line: None).kpis)
        for label, stats in summary.items():
            rows.append(
                {
                    "carbon_price_per_t": price,
                    "policy": label,
                    "profit": stats["profit"]["mean"],
                    "profit_std": stats["profit"]["std"],
                    "emissions_tco2": stats["emissions_tco2"]["mean"],
                    "net_emissions_tco2": stats["net_emissions_tco2"]["mean"],
                    "cost_carbon": stats["cost_carbon"]["mean"],
                }
            )
        print(
            f"carbon price {price:>5.0f}: "
            + ", ".join(
                f"{r['policy']} {r['profit']:,.0f} / {r['emissions_tco2']:.2f} t"
                for r in rows
                if r["carbon_price_per_t"] == price
            )
            + f"   [{time.perf_counter() - t0:.0f} s]",
            flush=True,
        )
    with (out / "carbon_sweep.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    labels = list(dict.fromkeys(r["policy"] for r in rows))
    lines = [
        f"# Electricity-carbon coupling: {args.env}",
        "",
        f"Command: `python experiments/carbon_sweep.py --env {args.env} --episodes {args.episodes} "
        f"--prices {' '.join(f'{p:g}' for p in args.prices)}" + "".join(f" --run {r}" for r in args.run) + "`",
        "",
        f"Mean over the first {args.episodes} test days (same episodes at every price). Profit in CNY, "
        "emissions gross tCO2 per day. Trained agents were trained at the default carbon price and do "
        "not observe it.",
        "",
        "| carbon price (CNY/t) | " + " | ".join(f"{lbl} profit | {lbl} tCO2" for lbl in labels) + " |",
        "| ---: |" + " ---: | ---: |" * len(labels),
    ]
    for price in args.prices:
        cells = []
        for lbl in labels:
            r = next(x for x in rows if x["carbon_price_per_t"] == price and x["policy"] == lbl)
            cells += [f"{r['profit']:,.0f}", f"{r['emissions_tco2']:.2f}"]
        lines.append(f"| {price:g} | " + " | ".join(cells) + " |")
    lines += ["", "![carbon sweep](carbon_sweep.png)", ""]
    (out / "carbon_sweep.md").write_text("\n".join(lines))
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for lbl in labels:
        xs = [r["carbon_price_per_t"] for r in rows if r["policy"] == lbl]
        ax1.plot(xs, [r["profit"] for r in rows if r["policy"] == lbl], marker="o", label=lbl)
        ax2.plot(xs, [r["emissions_tco2"] for r in rows if r["policy"] == lbl], marker="o", label=lbl)
    ax1.set_xlabel("carbon price (CNY/t)")
    ax1.set_ylabel("profit per day")
    ax2.set_xlabel("carbon price (CNY/t)")
    ax2.set_ylabel("gross emissions (tCO2 per day)")
    ax1.legend(fontsize=8)
    fig.suptitle(f"Electricity-carbon coupling, {args.env}")
    fig.tight_layout()
    fig.savefig(out / "carbon_sweep.png", dpi=110)
    print(f"wrote {out / 'carbon_sweep.md'}")


if __name__ == "__main__":
    main()
