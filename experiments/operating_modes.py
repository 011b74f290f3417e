"""Operating modes side by side: the same resources passive, as a microgrid, as a VPP, and a gas plant.

Usage:
    python experiments/operating_modes.py [--env vpp_gym/Joint-v1] [--episodes 4] [--run ppo=RUN_DIR]
        [--out experiments/results/operating_modes]

Modes, on the same test episodes (:func:`agents.evaluate.evaluate`):

* **passive**: the resources without any flexibility (no position, storage idle, gas off, no offers);
* **microgrid**: :class:`agents.rule.MicrogridPolicy`, local balance first and no market participation
  (the residual is imported or exported at the real-time price);
* **VPP (MPC)** and **VPP (oracle)**: every market of the task, with forecasts and with perfect
  foresight; trained agents given with ``--run`` are VPPs too;
* **gas plant**: a conventional plant delivering the same energy as the VPP (oracle) mode's renewables,
  interval by interval, sold at the real-time price, burning fuel at the scenario gas unit's cost and
  emission factor and paying the carbon market's base price on every tonne.

Columns: profit, gross emissions, renewable use (renewable energy delivered / available), flexibility
offered (MWh of capacity accepted in regulation, reserve and demand response over the day) and the
storage throughput. Writes ``operating_modes.md`` and ``operating_modes.csv`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents.evaluate import EvaluationConfig, evaluate, parse_policies

MODE_LABELS = {"passive": "passive", "microgrid": "microgrid", "mpc": "VPP (MPC)", "oracle": "VPP (oracle)"}


def _episode_figures(rows: list[dict[str, Any]], dt: float) -> dict[str, float]:
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


def _gas_plant(rows: list[dict[str, Any]], dt: float, fuel: float, ef: float, carbon_price: float) -> dict[str, float]:
    energy = np.array([r.get("renewable.output_mwh", 0.0) for r in rows])
    rt = np.array([r["series.price_rt_per_mwh"] for r in rows])
    emissions = float(energy.sum() * ef)
    profit = float((energy * (rt - fuel)).sum() - emissions * carbon_price)
    return {
        "profit": profit,
        "emissions_tco2": emissions,
        "renewable_use": 0.0,
        "flexibility_mwh": 0.0,
        "storage_throughput_mwh": 0.0,
    }


def main() -> None:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="vpp_gym/Joint-v1")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR")
    ap.add_argument("--out", default="experiments/results/operating_modes")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = EvaluationConfig(env_id=args.env, episodes=args.episodes)
    env = cfg.make_env().unwrapped
    scen = env.config  # type: ignore[attr-defined]
    dt = scen.time.dt_h
    gas = scen.resources.gas
    if gas is None:
        raise SystemExit(f"{args.env} has no gas unit to take the conventional plant's parameters from")
    policies = parse_policies(",".join(["microgrid", "mpc", *args.run]))
    result = evaluate(cfg, policies, export_all=True, log=lambda line: print(line, flush=True))
    if ("oracle", 0) not in result.episodes:
        raise SystemExit(
            f"the oracle cannot model {args.env}'s scenario; the VPP (oracle) mode and the gas plant need it"
        )
    labels = ["passive", "microgrid", "mpc", "oracle", *(lbl for lbl, _ in policies if lbl not in MODE_LABELS)]
    table: dict[str, list[dict[str, float]]] = {}
    for lbl in labels:
        table[MODE_LABELS.get(lbl, f"VPP ({lbl})")] = [
            _episode_figures(result.episodes[(lbl, e)], dt) for e in range(cfg.episodes)
        ]
    table["gas plant"] = [
        _gas_plant(
            result.episodes[("oracle", e)], dt, gas.fuel_cost_per_mwh, gas.ef_t_per_mwh, scen.markets.carbon.price_per_t
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
    lines = [
        f"# Operating modes: {args.env}",
        "",
        f"Command: `python experiments/operating_modes.py --env {args.env} --episodes {args.episodes}"
        + "".join(f" --run {r}" for r in args.run)
        + "`",
        "",
        f"Mean ± std over the first {args.episodes} test days ({', '.join(result.dates)}). Profit in CNY per "
        "day; emissions gross tCO2 per day; renewable use = renewable energy delivered / available; "
        "flexibility = MWh of capacity accepted in regulation, reserve and demand response; the gas plant "
        "delivers the VPP (oracle) mode's renewable energy profile (definitions in the script's docstring).",
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
    (out / "operating_modes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
