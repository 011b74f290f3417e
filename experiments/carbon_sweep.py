"""Electricity-carbon coupling: profit and emissions as the carbon price goes from 0 to 300 CNY/t, per carbon regime.

Usage:
    python experiments/carbon_sweep.py [--env vpp_gym/LowCarbon-v1] [--episodes 4]
        [--prices 0 50 100 150 200 250 300] [--regimes pilot_ets national_ets stepped_price]
        [--run ppo=RUN_DIR ...] [--out experiments/results/carbon_sweep]

For each regime and each price, the regime's carbon keys (:func:`regime_overrides`) are set over the
task's defaults and the passive reference, the oracle, the rule policy, MPC and the given trained agents
play the same test episodes (:func:`agents.evaluate.evaluate`):

- ``pilot_ets`` (the v1 default): the gas unit's direct emissions and the grid imports at the official
  grid factor, net of the green certificates kept, at a flat price;
- ``national_ets``: China's national ETS, only the gas unit covered, output-based free allocation, flat;
- ``stepped_price``: the v0 research-literature ladder (the keys of ``LowCarbon-v0``: allowances per MWh
  of load served, 2 t bands +25 %, CCER, legacy certificates, half sold at 50 CNY/MWh), for reference.

The price is the flat allowance price, or the ladder's base price (its bands and growth kept). Trained
agents (``--run``) were trained at the task's default carbon rules and do not observe the price: their
row shows how a policy tuned to one setting fares at others. Writes ``carbon_sweep.md`` (one table per
regime), ``carbon_sweep.csv`` (a ``regime`` column) and ``carbon_sweep.png`` (a column of panels per
regime) into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import vpp_gym  # noqa: F401  (registers the ids)
from agents.evaluate import EvaluationConfig, evaluate, parse_policies
from agents.kpi import summarize
from agents.report import pyplot
from agents.runinfo import git_revision
from vpp_gym.tasks import LowCarbonV0Env
from vpp_gym.validation import ConfigError

REGIMES = ("pilot_ets", "national_ets", "stepped_price")
"""The regimes swept by default, in table order (:mod:`vpp_gym.markets.carbon`)."""

STEPPED_PRICE_V0: dict[str, Any] = {
    "regime": "stepped_price",
    "certificates": "legacy",
    **{k: v for k, v in LowCarbonV0Env.DEFAULTS["markets"]["carbon"].items() if k != "price_per_t"},
}
"""The v0 carbon rule of ``LowCarbon-v0`` (``vpp_gym.tasks.LowCarbonV0Env.DEFAULTS``) but its base price."""

REGIME_TITLES = {
    "pilot_ets": "pilot_ets: China's regional ETS pilots (the v1 default)",
    "national_ets": "national_ets: China's national ETS (power sector)",
    "stepped_price": "stepped_price: the v0 research-literature ladder, for reference",
}
REGIME_NOTES = {
    "pilot_ets": "The gas unit's direct emissions plus the grid imports at the official grid factor "
    "(0.5366 tCO2/MWh), net of the green certificates the VPP keeps; no free allocation; flat price "
    "(overrides: `regime: pilot_ets, pricing: flat`; certificates `china_2023` as in v1).",
    "national_ets": "Only the gas unit is covered, with output-based free allocation (0.392 tCO2/MWh) and "
    "the gas units' shortfall exemption (a unit surrenders no more than its allocation); loads and grid "
    "imports are not covered; flat price (overrides: `regime: national_ets, pricing: flat`; certificates "
    "`china_2023` as in v1).",
    "stepped_price": "Not a Chinese market rule: free allowances of 0.3 tCO2 per MWh of load served, a "
    "reward-and-penalty ladder from the base price (2 t bands, +25 % per band), CCER 0.5 t per renewable "
    "MWh (up to 5 % of gross emissions), legacy certificates, half sold at 50 CNY/MWh: the carbon keys of "
    "`LowCarbon-v0` with the swept base price.",
}


def regime_overrides(regime: str, price: float) -> dict[str, Any]:
    """Nested scenario overrides putting the carbon market under ``regime`` at ``price`` CNY/t.

    Merged over the task's defaults: ``pilot_ets`` and ``national_ets`` keep the v1 certificate rules
    and price flat; ``stepped_price`` restores the v0 ladder of ``LowCarbon-v0`` (:data:`STEPPED_PRICE_V0`)
    with ``price`` as its base price.
    """
    if regime == "stepped_price":
        carbon: dict[str, Any] = dict(STEPPED_PRICE_V0)
    elif regime in ("pilot_ets", "national_ets"):
        carbon = {"regime": regime, "pricing": "flat"}
    else:
        raise ValueError(f"unknown regime {regime!r}; expected one of {', '.join(REGIMES)}")
    carbon["price_per_t"] = float(price)
    return {"markets": {"carbon": carbon}}


def build_parser() -> argparse.ArgumentParser:
    """The command line (``--regimes`` restricted to :data:`REGIMES`)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="vpp_gym/LowCarbon-v1")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--prices", type=float, nargs="+", default=[0, 50, 100, 150, 200, 250, 300])
    ap.add_argument("--regimes", nargs="+", choices=REGIMES, default=list(REGIMES), metavar="REGIME")
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR")
    ap.add_argument("--out", default="experiments/results/carbon_sweep")
    return ap


def sweep_rows(
    env_id: str, episodes: int, regime: str, price: float, policies: list[tuple[str, str | None]]
) -> list[dict[str, Any]]:
    """One row per policy: the means (and profit std) over the episodes at one regime and price."""
    cfg = EvaluationConfig(env_id=env_id, episodes=episodes, overrides=regime_overrides(regime, price))
    summary = summarize(evaluate(cfg, policies, log=lambda _line: None).kpis)
    return [
        {
            "regime": regime,
            "carbon_price_per_t": price,
            "policy": label,
            "profit": stats["profit"]["mean"],
            "profit_std": stats["profit"]["std"],
            "emissions_tco2": stats["emissions_tco2"]["mean"],
            "net_emissions_tco2": stats["net_emissions_tco2"]["mean"],
            "cost_carbon": stats["cost_carbon"]["mean"],
            "cost_fuel": stats["cost_fuel"]["mean"],
        }
        for label, stats in summary.items()
    ]


def _row(rows: list[dict[str, Any]], regime: str, price: float, policy: str) -> dict[str, Any]:
    return next(r for r in rows if r["regime"] == regime and r["carbon_price_per_t"] == price and r["policy"] == policy)


def _fmt(x: float, spec: str) -> str:
    """``x`` formatted, without the sign of a value that rounds to zero ("-0")."""
    text = f"{x:{spec}}"
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "")) == 0.0 else text


def _span(a: float, b: float, spec: str, unit: str = "") -> str:
    """``a unit at every price``, or ``a -> b unit``."""
    fa, fb = _fmt(a, spec), _fmt(b, spec)
    unit = f" {unit}" if unit else ""
    return f"{fa}{unit} at every price" if fa == fb else f"{fa} -> {fb}{unit}"


def _cash(row: dict[str, Any]) -> float:
    """The carbon settlement received (+) or paid (-), CNY per day."""
    return -float(row["cost_carbon"])


def findings(rows: list[dict[str, Any]], regime: str, prices: list[float]) -> str:
    """What the table of one regime shows, in words built from its numbers (lowest to highest price)."""
    lo, hi = min(prices), max(prices)
    p0, p1 = _row(rows, regime, lo, "passive"), _row(rows, regime, hi, "passive")
    o0, o1 = _row(rows, regime, lo, "oracle"), _row(rows, regime, hi, "oracle")
    profit = _span(p0["profit"], p1["profit"], ",.0f", "CNY/day")
    cash = _span(_cash(p0), _cash(p1), ",.0f", "CNY/day")
    dp = p1["profit"] - p0["profit"]
    if dp > 1.0:
        passive = (
            f"the passive reference's profit grows with the price ({profit}; its carbon cash {cash}): "
            "it is paid for doing nothing, the artefact of issue #15"
        )
    elif dp < -1.0:
        passive = f"the passive reference's profit falls with the price ({profit}; its carbon cash {cash})"
    else:
        passive = (
            f"the passive reference's profit does not move with the price ({profit}; its carbon cash {cash}): "
            "no reward for doing nothing"
        )
    de = o1["emissions_tco2"] - o0["emissions_tco2"]
    verb = "fall" if de < -0.005 else "rise" if de > 0.005 else "do not respond"
    oracle = (
        f"the oracle's gross emissions {verb} ({_span(o0['emissions_tco2'], o1['emissions_tco2'], '.2f', 'tCO2/day')}"
        f"; passive {_fmt(p0['emissions_tco2'], '.2f')}), its profit {_span(o0['profit'], o1['profit'], ',.0f')}, "
        f"its carbon cash {_span(_cash(o0), _cash(o1), ',.0f')}"
    )
    others = [lbl for lbl in dict.fromkeys(r["policy"] for r in rows) if lbl not in ("passive", "oracle")]
    rest = "; ".join(
        f"{lbl}: emissions {_span(a['emissions_tco2'], b['emissions_tco2'], '.2f', 't')}, profit "
        f"{_span(a['profit'], b['profit'], ',.0f')}, carbon cash {_span(_cash(a), _cash(b), ',.0f')}"
        for lbl in others
        for a, b in [(_row(rows, regime, lo, lbl), _row(rows, regime, hi, lbl))]
    )
    text = f"**{regime}**, {lo:g} -> {hi:g} CNY/t: {passive}; {oracle}" + (f". {rest}." if rest else ".")
    mine = [r for r in rows if r["regime"] == regime]
    if all(abs(r["cost_fuel"]) < 0.5 for r in mine):
        text += " No policy runs the gas unit at any price (no fuel cost): every tonne is from grid imports."
    if all(abs(r["cost_carbon"]) < 0.5 for r in mine):
        text += " No policy pays or receives any carbon at any price."
    elif regime != "stepped_price" and hi > 0:  # a flat price: the tonnes settled are the cash over the price
        labels = list(dict.fromkeys(r["policy"] for r in mine))
        text += (
            f" Tonnes settled at {hi:g} CNY/t (carbon cash / price): "
            + ", ".join(f"{lbl} {_fmt(-_cash(_row(rows, regime, hi, lbl)) / hi, '.2f')}" for lbl in labels)
            + " tCO2/day."
        )
    return text


def write_markdown(
    path: Path, args: argparse.Namespace, rows: list[dict[str, Any]], command: str, revision: str, wall_s: float
) -> None:
    """``carbon_sweep.md``: provenance, one table per regime, what the numbers show."""
    labels = list(dict.fromkeys(r["policy"] for r in rows))
    lines = [
        f"# Electricity-carbon coupling under each carbon regime: {args.env}",
        "",
        f"Command: `{command}`",
        "",
        f"Revision: `{revision}`. Wall time: {wall_s / 60:.1f} min ({wall_s:.0f} s). "
        f"Regimes: {', '.join(args.regimes)}; prices: {' '.join(f'{p:g}' for p in args.prices)} CNY/t.",
        "",
        f"Mean over the first {args.episodes} test days (the same episodes at every regime and price). Profit in "
        "CNY per day; emissions gross tCO2 per day (grid imports at the interval's grid intensity + gas); "
        "passive carbon cash: the passive reference's carbon settlement in CNY per day (+ = received, - = "
        "paid), so that a profit growing with the price for doing nothing shows. Each regime is set as "
        "overrides of `markets.carbon` over the task's v1 defaults; the price is the flat allowance price or, "
        "under `stepped_price`, the ladder's base price. MPC re-plans every 4 steps (the evaluation default).",
        "",
    ]
    if not args.run:
        lines += [
            "RL agents are omitted: the PPO and SAC models of the v0 sweep were trained on LowCarbon-v0, whose "
            "observation and action spaces differ from v1's (the day-ahead timeline adds bid steps, action "
            "components and observation rows), so they cannot play v1. Add `--run LABEL=RUN_DIR` for agents "
            "trained on the v1 task.",
            "",
        ]
    for regime in args.regimes:
        lines += [
            f"## {REGIME_TITLES[regime]}",
            "",
            REGIME_NOTES[regime],
            "",
            "| carbon price (CNY/t) | "
            + " | ".join(f"{lbl} profit | {lbl} tCO2" for lbl in labels)
            + " | passive carbon cash |",
            "| ---: |" + " ---: | ---: |" * len(labels) + " ---: |",
        ]
        for price in args.prices:
            cells = []
            for lbl in labels:
                r = _row(rows, regime, price, lbl)
                cells += [_fmt(r["profit"], ",.0f"), _fmt(r["emissions_tco2"], ".2f")]
            cells.append(_fmt(_cash(_row(rows, regime, price, "passive")), ",.0f"))
            lines.append(f"| {price:g} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## What it shows", "", "Built from the tables (lowest to highest price):", ""]
    lines += [f"- {findings(rows, regime, args.prices)}" for regime in args.regimes]
    lines += ["", "![carbon sweep](carbon_sweep.png)", ""]
    path.write_text("\n".join(lines))


def write_plot(path: Path, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """``carbon_sweep.png``: per regime a column, profit above and gross emissions below."""
    plt = pyplot()
    labels = list(dict.fromkeys(r["policy"] for r in rows))
    n = len(args.regimes)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 6.5), squeeze=False, sharex=True)
    for j, regime in enumerate(args.regimes):
        for lbl in labels:
            rr = [r for r in rows if r["regime"] == regime and r["policy"] == lbl]
            xs = [r["carbon_price_per_t"] for r in rr]
            axes[0, j].plot(xs, [r["profit"] for r in rr], marker="o", label=lbl)
            axes[1, j].plot(xs, [r["emissions_tco2"] for r in rr], marker="o", label=lbl)
        axes[0, j].set_title(regime + (" (v0 ladder, reference)" if regime == "stepped_price" else ""), fontsize=10)
        axes[1, j].set_xlabel("carbon price (CNY/t)")
    axes[0, 0].set_ylabel("profit (CNY per day)")
    axes[1, 0].set_ylabel("gross emissions (tCO2 per day)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Electricity-carbon coupling per carbon regime, {args.env}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if any(p < 0 for p in args.prices):
        ap.error("--prices: a carbon price is >= 0")
    if args.episodes < 1:
        ap.error("--episodes: at least 1")
    try:
        policies = parse_policies(",".join(["rule", "mpc", *args.run]))
    except ConfigError as err:
        ap.error(str(err).replace("--policies", "--run"))
    command = shlex.join(["python", "experiments/carbon_sweep.py", *(sys.argv[1:] if argv is None else argv)])
    revision = git_revision()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for regime in args.regimes:
        for price in args.prices:
            new = sweep_rows(args.env, args.episodes, regime, price, policies)
            rows += new
            print(
                f"{regime:<13} {price:>5.0f} CNY/t: "
                + ", ".join(f"{r['policy']} {r['profit']:,.0f} / {r['emissions_tco2']:.2f} t" for r in new)
                + f"   [{time.perf_counter() - t0:.0f} s]",
                flush=True,
            )
    wall_s = time.perf_counter() - t0
    with (out / "carbon_sweep.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_markdown(out / "carbon_sweep.md", args, rows, command, revision, wall_s)
    write_plot(out / "carbon_sweep.png", args, rows)
    print(f"wrote {out / 'carbon_sweep.md'} ({wall_s / 60:.1f} min)")


if __name__ == "__main__":
    main()
