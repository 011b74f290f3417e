"""Operating modes side by side: the same resources passive, as a microgrid, as a VPP, and a gas plant.

Usage:
    python experiments/operating_modes.py [--env vpp_gym/Joint-v1] [--episodes 4] [--run ppo=RUN_DIR]
        [--out experiments/results/operating_modes]

Modes, on the same test episodes (:func:`agents.evaluate.evaluate`):

* **passive**: the resources without any flexibility (no position, storage idle, gas off, no offers);
* **microgrid**: :class:`agents.rule.MicrogridPolicy`, local balance first and no market participation
  (no day-ahead position, no offers: the residual is imported or exported at the real-time price);
* **VPP (rule)**, **VPP (MPC)** and **VPP (oracle)**: every market of the task, with the price-threshold
  rule (:class:`agents.rule.PriceThresholdPolicy`), with forecasts and with perfect foresight; trained
  agents given with ``--run`` are VPPs too;
* **gas plant**: a conventional plant delivering the same energy as the VPP (oracle) mode's renewables,
  interval by interval, burning fuel at the scenario gas unit's cost and emission factor and paying the
  carbon market's base price on every tonne (no free allocation). It knows its output, so on the
  day-ahead timeline (the v1 tasks) it sells it all in the D-1 auction at the interval's day-ahead price
  and deviates by nothing; on the hour-ahead timeline (the v0 tasks) at the real-time price, as in v0.

On the day-ahead timeline the bid steps settle nothing (their ledger rows are zeros); the figures are
summed over the dispatch steps.

Columns: profit, gross emissions, renewable use (renewable energy delivered / available), flexibility
offered (MWh of capacity accepted in regulation, reserve and demand response over the day) and the
storage throughput. Writes ``operating_modes.md`` and ``operating_modes.csv`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents.evaluate import EvaluationConfig, evaluate, parse_policies
from agents.runinfo import git_revision

MODE_LABELS = {
    "passive": "passive",
    "microgrid": "microgrid",
    "rule": "VPP (rule)",
    "mpc": "VPP (MPC)",
    "oracle": "VPP (oracle)",
}
"""The built-in modes, in table order (the gas plant comes last)."""


def dispatch_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that dispatch an interval (all of them on the hour-ahead timeline, no bid step)."""
    return [r for r in rows if not r.get("bidding", False)]


def episode_figures(rows: list[dict[str, Any]], dt: float) -> dict[str, float]:
    """One episode's figures of a mode from its recorded rows (:func:`agents.evaluate.run_recorded`)."""
    rows = dispatch_rows(rows)
    renew = sum(r.get("renewable.output_mwh", 0.0) for r in rows)
    avail = sum((r.get("pv.available_mw", 0.0) + r.get("wind.available_mw", 0.0)) * dt for r in rows)
    flex = sum(
        (
            r.get("regulation.accepted_mw", 0.0)
            + r.get("reserve.accepted_mw", 0.0)
            + r.get("demand_response.accepted_mw", 0.0)
        )
        * dt
        for r in rows
    )
    storage = sum(abs(r.get("battery.applied_mw", 0.0)) * dt for r in rows)
    return {
        "profit": sum(r["profit"] for r in rows),
        "emissions_tco2": sum(r["carbon.emissions_t"] for r in rows),
        "renewable_use": renew / avail if avail > 0 else float("nan"),
        "flexibility_mwh": flex,
        "storage_throughput_mwh": storage,
    }


def gas_plant_figures(
    rows: list[dict[str, Any]], fuel: float, ef: float, carbon_price: float, day_ahead: bool
) -> dict[str, float]:
    """The gas plant delivering the renewable energy of ``rows`` (the oracle's), interval by interval.

    Sold at the day-ahead price on the day-ahead timeline (its schedule, bid at D-1, is met exactly),
    else at the real-time price; fuel at ``fuel`` per MWh and ``ef`` tCO2/MWh paid at ``carbon_price``.
    """
    rows = dispatch_rows(rows)
    energy = np.array([r.get("renewable.output_mwh", 0.0) for r in rows])
    price = np.array([r["series.price_da_per_mwh" if day_ahead else "series.price_rt_per_mwh"] for r in rows])
    emissions = float(energy.sum() * ef)
    profit = float((energy * (price - fuel)).sum() - emissions * carbon_price)
    return {
        "profit": profit,
        "emissions_tco2": emissions,
        "renewable_use": 0.0,
        "flexibility_mwh": 0.0,
        "storage_throughput_mwh": 0.0,
    }


def findings(table: dict[str, list[dict[str, float]]]) -> list[str]:
    """What the table shows, in sentences built from its means (``table``: mode -> figures per episode)."""
    mean = {m: {k: float(np.mean([f[k] for f in eps])) for k in eps[0]} for m, eps in table.items()}
    order = sorted(mean, key=lambda m: -mean[m]["profit"])
    out = ["Profit, highest first: " + ", ".join(f"{m} {mean[m]['profit']:,.0f}" for m in order) + "."]
    ref = mean.get("passive")
    if ref is not None:
        for m in ("microgrid", *(m for m in mean if m.startswith("VPP"))):
            if m in mean:
                d, de = mean[m]["profit"] - ref["profit"], mean[m]["emissions_tco2"] - ref["emissions_tco2"]
                out.append(
                    f"{m} against passive: profit {d:+,.0f} CNY/day, emissions {de:+.1f} tCO2/day, "
                    f"flexibility {mean[m]['flexibility_mwh']:.1f} MWh, storage throughput "
                    f"{mean[m]['storage_throughput_mwh']:.1f} MWh."
                )
    if "gas plant" in mean and "VPP (oracle)" in mean:
        g, o = mean["gas plant"], mean["VPP (oracle)"]
        out.append(
            f"The gas plant delivering the oracle VPP's renewable energy earns {g['profit']:,.0f} CNY/day "
            f"({g['profit'] - o['profit']:+,.0f} against the oracle VPP) and emits {g['emissions_tco2']:.1f} "
            f"tCO2/day ({g['emissions_tco2'] - o['emissions_tco2']:+.1f})."
        )
    return out


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="vpp_gym/Joint-v1")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR")
    ap.add_argument("--out", default="experiments/results/operating_modes")
    args = ap.parse_args()
    t_start = time.perf_counter()
    revision = git_revision()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = EvaluationConfig(env_id=args.env, episodes=args.episodes)
    env = cfg.make_env().unwrapped
    scen = env.config  # type: ignore[attr-defined]
    dt = scen.time.dt_h
    gas = scen.resources.gas
    if gas is None:
        raise SystemExit(f"{args.env} has no gas unit to take the conventional plant's parameters from")
    day_ahead = scen.markets.energy.timeline == "day_ahead"
    policies = parse_policies(",".join(["microgrid", "rule", "mpc", *args.run]))
    result = evaluate(cfg, policies, export_all=True, log=lambda line: print(line, flush=True))
    if ("oracle", 0) not in result.episodes:
        raise SystemExit(
            f"the oracle cannot model {args.env}'s scenario; the VPP (oracle) mode and the gas plant need it"
        )
    labels = [*MODE_LABELS, *(lbl for lbl, _ in policies if lbl not in MODE_LABELS)]
    table: dict[str, list[dict[str, float]]] = {}
    for lbl in labels:
        table[MODE_LABELS.get(lbl, f"VPP ({lbl})")] = [
            episode_figures(result.episodes[(lbl, e)], dt) for e in range(cfg.episodes)
        ]
    table["gas plant"] = [
        gas_plant_figures(
            result.episodes[("oracle", e)],
            gas.fuel_cost_per_mwh,
            gas.ef_t_per_mwh,
            scen.markets.carbon.price_per_t,
            day_ahead,
        )
        for e in range(cfg.episodes)
    ]
    keys = ("profit", "emissions_tco2", "renewable_use", "flexibility_mwh", "storage_throughput_mwh")
    with (out / "operating_modes.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["mode", "episode", *keys])
        writer.writeheader()
        for mode, eps in table.items():
            for e, fig in enumerate(eps):
                writer.writerow({"mode": mode, "episode": e, **fig})
    wall_s = time.perf_counter() - t_start
    version = args.env.rsplit("-", 1)[-1] if "/" in args.env else "?"
    lines = [
        f"# Operating modes: {args.env}",
        "",
        f"Command: `python experiments/operating_modes.py --env {args.env} --episodes {args.episodes}"
        + "".join(f" --run {r}" for r in args.run)
        + "`",
        "",
        f"Revision: `{revision}`. Wall time: {wall_s / 60:.1f} min ({wall_s:.0f} s). Task version: {version} "
        f"({'day-ahead timeline: D-1 bid steps, then dispatch' if day_ahead else 'hour-ahead timeline'}).",
        "",
        f"Mean ± std over the first {args.episodes} test days ({', '.join(result.dates)}). Profit in CNY per "
        "day; emissions gross tCO2 per day; renewable use = renewable energy delivered / available; "
        "flexibility = MWh of capacity accepted in regulation, reserve and demand response; the gas plant "
        "delivers the VPP (oracle) mode's renewable energy profile, sold at the "
        + ("day-ahead" if day_ahead else "real-time")
        + " price (definitions in the script's docstring). MPC re-plans every "
        f"{cfg.mpc.replan_every} steps (the evaluation default).",
    ]
    if not args.run:
        lines += [
            "",
            "No RL rows: the PPO and SAC models of the v0 comparison were trained on the v0 task, whose "
            "observation and action spaces differ from v1's (the day-ahead timeline adds bid steps, action "
            "components and observation rows), so they cannot play v1; agents trained on the v1 tasks come "
            "with issue 18 (add them with `--run LABEL=RUN_DIR`)."
            if version != "v0"
            else "No RL rows (add trained agents with `--run LABEL=RUN_DIR`).",
        ]
    lines += [
        "",
        "| mode | profit | tCO2 | renewable use | flexibility (MWh) | storage throughput (MWh) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, eps in table.items():
        cells = []
        for k in keys:
            x = np.array([f[k] for f in eps], dtype=float)
            fmt = ".3f" if k == "renewable_use" else ",.1f" if k != "profit" else ",.0f"
            cells.append(f"{format(x.mean(), fmt)} ± {format(x.std(ddof=1) if len(x) > 1 else 0.0, fmt)}")
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    lines += ["", "## What it shows", "", "Built from the means of the table:", ""]
    lines += [f"- {sentence}" for sentence in findings(table)]
    (out / "operating_modes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
