"""Speed of the optimization baselines (issue: oracle for a year of Arbitrage, MPC for a day of Joint).

Usage: python experiments/bench_baselines.py [--mpc-replan K] [--repeats N] [--price-maker-only] [--oracle-only]
Prints the median wall time of each measurement over N repeats. The price-maker oracle (every task
under configs/markets/autonomous.yaml, a MILP against the competitor stacks) is timed once per task.

The oracle on long horizons and negative prices (issue 16), each on Arbitrage-v0's VPP at 15 min, solved
with :func:`agents.oracle.solve` over the whole series (the task's 24-hour episodes only fix the shift
windows):

* one synthetic year (the task's own series; its floor of -100 never makes spilling pay);
* one real year with negative hours: ERCOT West hub day-ahead prices of 2022 (``../shared/data``, 431
  negative hours; the real-time price is derived from them, the other series are synthetic) on the
  ``configs/scenarios/ercot_caiso_2022.yaml`` VPP, without a carbon price (Texas has none) and with a
  battery wear of 0.3 USD/MWh, so that charging and discharging at once would pay in the deepest
  negative hours (it does not at 3 USD/MWh: the break-even price is about -19.5 times the wear);
* one synthetic year with deeply negative middays: the task's series with a solar-glut dip on 30 % of
  the days, 1,500 deep, clipped at a floor of -500 (the EU day-ahead floor, in the scenario's currency);
* eight years (2,920 days, 280,320 intervals): the task's synthetic series generated for eight years
  (``data.synthetic.days``), with and without the deep middays;
* one year on the day-ahead timeline (``markets.energy.timeline: day_ahead``): a year-long episode of the
  task's synthetic series, planned from its first bid step (D-1 awards, intraday gates, terminal value).

Each line says how the plan was found (LP; MILP: binary charge/discharge modes by windows) and whether
it is proven optimal.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import vpp_gym  # noqa: F401  (registers the ids)
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy, solve
from vpp_gym import core
from vpp_gym.data.schema import ALL_NAMES


def oracle_year(repeats: int) -> None:
    env: Any = gym.make("vpp_gym/Arbitrage-v0").unwrapped  # the task class: series, params
    exo = np.stack([env.series.values[c] for c in ALL_NAMES], axis=1)
    times, profit = [], 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        plan = solve(env.params, exo, core.initial_state(env.params, None))
        times.append(time.perf_counter() - t0)
        profit = plan.profit
    print(
        f"oracle, Arbitrage-v0, one year at 15 min ({len(exo)} intervals, {'MILP' if plan.mip else 'LP'}): "
        f"median {statistics.median(times):.2f} s over {repeats} (profit {profit:,.0f})",
        flush=True,
    )


DAY_AHEAD_YEAR = {
    "markets.energy.timeline": "day_ahead",
    "time.episode_hours": 365 * 24,
    "data.splits": {"train_frac": 0.0, "val_frac": 0.0},  # the whole synthetic year is the test split's episode
}


def oracle_year_day_ahead(repeats: int) -> None:
    """The oracle on one year of Arbitrage-v0 at 15 min on the day-ahead timeline: a year-long episode (365 bid
    blocks, intraday gates, terminal value), solved from its first bid step (:func:`agents.oracle.solve`)."""
    env: Any = gym.make("vpp_gym/Arbitrage-v0", overrides=DAY_AHEAD_YEAR).unwrapped
    env.reset(seed=0, options={"split": "test", "day": 0})
    episode, state = env.live()
    times, plan = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        plan = solve(env.params, episode.exo[0], state, terminal_price=float(episode.terminal_price[0]))
        times.append(time.perf_counter() - t0)
    assert plan is not None
    print(
        f"oracle, Arbitrage-v0 on the day-ahead timeline, one year at 15 min ({env.params.episode_steps} intervals, "
        f"{env.params.steps} steps, {'MILP' if plan.mip else 'LP'}): median {statistics.median(times):.2f} s "
        f"over {repeats} (profit {plan.profit:,.0f})",
        flush=True,
    )


ERCOT_WEST_2022 = {
    "data.files": {
        "start": "2022-01-02",  # the file's whole UTC days (2022-01-01 06:00 UTC .. 2023-01-01 05:00 UTC)
        "end": "2023-01-01",
        "fill_missing": "synthetic",
        "synthetic": {
            "seed": 7,
            "utc_offset_h": -6.0,
            "latitude_deg": 31.9,  # Midland, in the West hub
            "longitude_deg": -102.1,
            "price_floor_per_mwh": -250.0,
            "price_cap_per_mwh": 5000.0,
            "price_mean_per_mwh": 70.0,
        },
        "sources": [
            {
                "path": "../../../shared/data/ercot_dam_2022_hub_prices.csv",
                "timestamp_column": "interval_start_utc",
                "columns": {"price_da_per_mwh": {"column": "hb_west_usd_per_mwh"}},
                "fill": "ffill",
            }
        ],
    },
    "markets.carbon.price_per_t": 0.0,
    "resources.battery.degradation_cost_per_mwh": 0.3,
}
DEEP_MIDDAYS = {
    "data.synthetic.dip_prob": 0.3,
    "data.synthetic.dip_size_per_mwh": 1500.0,
    "data.synthetic.price_floor_per_mwh": -500.0,
}


def oracle_long(
    label: str, overrides: dict[str, Any], repeats: int, days: int | None = None, config: str | None = None
) -> None:
    """Time the oracle over the whole series of Arbitrage-v0 with ``overrides`` (``days`` of it, if given)."""
    if days is not None:
        overrides = {**overrides, "data.synthetic.days": days + 2}
    try:
        env: Any = gym.make("vpp_gym/Arbitrage-v0", config=config, overrides=overrides).unwrapped
    except (OSError, ValueError) as err:  # the real data may be absent (DataError, ConfigError)
        print(f"oracle, {label}: skipped ({err})", flush=True)
        return
    exo = np.stack([env.series.values[c] for c in ALL_NAMES], axis=1)
    if days is not None:
        exo = exo[: days * 24 * 60 // env.params.cfg.time.interval_minutes]
    negative = int((exo[:, ALL_NAMES.index("price_da_per_mwh")] < 0).sum())
    times, plan = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        plan = solve(env.params, exo, core.initial_state(env.params, None))
        times.append(time.perf_counter() - t0)
    assert plan is not None
    how = "MILP (binary modes by windows)" if plan.mip else "LP"
    proven = "optimal" if plan.optimal else f"gap {plan.gap:.2e}"
    print(
        f"oracle, {label} ({len(exo)} intervals, {negative} with a negative day-ahead price; {how}, {proven}): "
        f"median {statistics.median(times):.2f} s over {repeats} (profit {plan.profit:,.2f})",
        flush=True,
    )


def oracle_issue16(repeats: int) -> None:
    """The oracle on negative-price years and on eight years (issue 16)."""
    ercot = str(Path(__file__).resolve().parents[1] / "configs" / "scenarios" / "ercot_caiso_2022.yaml")
    oracle_long("ERCOT West 2022, real day-ahead prices", ERCOT_WEST_2022, repeats, config=ercot)
    oracle_long("synthetic year, middays down to -500", DEEP_MIDDAYS, repeats)
    oracle_long("eight synthetic years", {}, 1, days=8 * 365)
    oracle_long("eight synthetic years, middays down to -500", DEEP_MIDDAYS, 1, days=8 * 365)


def one_day(
    env_id: str, make_policy: Callable[[gym.Env], Any], label: str, repeats: int, config: str | None = None
) -> None:
    env = gym.make(env_id, config=config)
    times, profit = [], 0.0
    for _ in range(repeats):
        policy = make_policy(env)
        t0 = time.perf_counter()
        profit = run_episode(env, policy, seed=0, options={"split": "test", "day": 0})["profit"]
        times.append(time.perf_counter() - t0)
    where = f"{env_id} ({config})" if config else env_id
    print(
        f"{label}, {where}, one test day: median {statistics.median(times):.2f} s over {repeats} "
        f"(profit {profit:,.0f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mpc-replan", type=int, default=4, help="MPC re-solves every K steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--price-maker-only", action="store_true", help="only time the price-maker oracle")
    parser.add_argument("--oracle-only", action="store_true", help="only time the oracle on long horizons")
    args = parser.parse_args()
    if args.oracle_only:
        oracle_year(args.repeats)
        oracle_year_day_ahead(args.repeats)
        oracle_issue16(args.repeats)
        return
    if not args.price_maker_only:
        oracle_year(args.repeats)
        oracle_year_day_ahead(args.repeats)
        oracle_issue16(args.repeats)
        for env_id in ("vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0"):
            one_day(env_id, OraclePolicy, "oracle", args.repeats)
            one_day(
                env_id,
                lambda e: MpcPolicy(e, replan_every=args.mpc_replan),
                f"MPC (re-solve every {args.mpc_replan})",
                args.repeats,
            )
        one_day("vpp_gym/Joint-v0", OraclePolicy, "oracle", args.repeats)
        one_day(
            "vpp_gym/Joint-v0",
            lambda e: MpcPolicy(e, replan_every=args.mpc_replan),
            f"MPC (re-solve every {args.mpc_replan})",
            args.repeats,
        )
        one_day("vpp_gym/Joint-v0", lambda e: MpcPolicy(e, replan_every=1), "MPC (re-solve every step)", 1)
    for env_id in ("vpp_gym/Arbitrage-v0", "vpp_gym/LowCarbon-v0", "vpp_gym/Regulation-v0", "vpp_gym/Joint-v0"):
        one_day(env_id, OraclePolicy, "oracle (price-maker)", 1, config="configs/markets/autonomous.yaml")


if __name__ == "__main__":
    main()
