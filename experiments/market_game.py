"""The market game with baselines and learners in its seats: profits per agent and the prices their offers clear at.

Usage:
    python experiments/market_game.py [--env vpp_gym/Joint-v1] [--agents 4] [--episodes 4]
        [--lineups passive rule mpc mpc_flat rule_vs_mpc] [--vs-mpc RUN ...] [--shared RUN ...]
        [--out experiments/results/market_game]

Issue #17's study (item 3). ``--agents`` identical VPPs (the task's portfolio) play the market game
(:class:`vpp_gym.multi.MultiVppEnv`, the autonomous preset: their D-1 energy curves and capacity offers
clear together with the residual competitor stacks, one marginal price per product) on the first
``--episodes`` test days, episode ``e`` seeded ``20270000 + e`` as in ``vpp-gym evaluate``, with a policy in
every seat (:func:`agents.game.play`). The line-ups:

- ``passive``: no energy offers; the stack alone meets the need (the price without the VPPs);
- ``rule``: the rule policy in every seat, which in the price-maker case bids curves from 0 to its planned
  position priced around its forecast;
- ``mpc``: rolling-horizon MPC as a price-taker in every seat, its planned position bid as a limit curve
  around its forecast (:class:`agents.game.LimitCurveBids`): the competitive reference, each seat bidding
  its own valuation (the all-truthful outcome);
- ``mpc_flat``: the same plans bid as flat curves (any price), as MPC bids against a published price in the
  single env: what taking the price as given does when the VPPs together move it;
- ``rule_vs_mpc``: the rule policy in seat 0 against MPC rivals (what the learners below are cloned from);
- ``ppo_vs_mpc s<seed> best|final`` (``--vs-mpc``, runs of ``configs/experiments/ppo_game_vs_mpc.yaml``): a PPO learner
  trained in seat 0 against MPC rivals, in seat 0 against MPC rivals;
- ``ppo_shared s<seed> best|final`` (``--shared``, runs of ``configs/experiments/ppo_game_shared.yaml``): one PPO policy
  trained in every seat at once (parameter sharing), in every seat.

The published price is the day-ahead price of the data (the centre of the stack's offers). Writes
``market_game.md`` (one row per line-up: mean profit of seat 0, of the other seats and of all, the spread
between agents, mean cleared and published prices, the markup, the VPPs' mean award), ``market_game.csv``
(one row per line-up, day and agent) and ``market_game.png`` (the cleared price by interval on day 0, per
line-up) into ``--out``. Each run plays twice: its best unit (the best validation profit of its training,
which may be the behaviour clone at step 0) and its final one (the policy after all its training).
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import vpp_gym  # noqa: F401  (registers the ids)
from agents.game import play, seat_env
from agents.report import pyplot
from agents.runinfo import git_revision
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.multi import MultiVppEnv
from vpp_gym.validation import ConfigError

LINEUPS: dict[str, Any] = {
    "passive": "passive",
    "rule": "rule",
    "mpc": "mpc",
    "mpc_flat": {"name": "mpc", "bids": "flat"},
    "rule_vs_mpc": ["rule", "mpc"],
}
"""Each line-up's policy, played in every seat, or ``[seat 0's, every other seat's]``."""
SEED = 20_270_000
"""Episode ``e`` is seeded ``SEED + e`` (``vpp-gym evaluate``'s default)."""


def seat_policies(policy: Any, n_agents: int) -> list[Any]:
    """Every seat's policy: one for all, or ``[seat 0's, every other seat's]``."""
    if isinstance(policy, list):
        return [policy[0]] + [policy[1]] * (n_agents - 1)
    return [policy] * n_agents


def run_lineup(env_id: str, n_agents: int, episodes: int, policy: Any) -> list[dict[str, Any]]:
    """One row per day and agent: profit, mean cleared and published prices, the agent's mean award."""
    game = MultiVppEnv(task=env_id, n_agents=n_agents, batched=False, split="test")
    price_col = ALL_NAMES.index("price_da_per_mwh")
    rows = []
    seats = seat_policies(policy, n_agents)
    for e in range(episodes):
        res = play(game, seats, seed=SEED + e, options={"split": "test", "day": e})
        ep = seat_env(game, 0).episode
        assert ep is not None
        published = ep.exo[0, res.intervals, price_col]
        for agent in game.possible_agents:
            rows.append(
                {
                    "day": e,
                    "agent": agent,
                    "profit": res.profits[agent],
                    "cleared_price": float(np.mean(res.prices)),
                    "published_price": float(np.mean(published)),
                    "award_mw": float(np.mean(res.awards_mw[agent])),
                    "prices": res.prices,
                }
            )
    return rows


def check_run(run: str, kind: str, env_id: str, n_agents: int) -> int:
    """The seed of a run trained as the line-up ``kind`` plays it (``vs_mpc``: seat 0 against MPC; ``shared``:
    every seat), in this game (``env_id``, ``n_agents`` seats); a :class:`ConfigError` naming what differs."""
    flag = f"--{kind.replace('_', '-')} {run}"
    if not Path(run, "meta.json").is_file() or not Path(run, "config.yaml").is_file():
        raise ConfigError(f"{flag}: not a run folder of vpp-gym train (no meta.json or config.yaml)")
    cfg = yaml.safe_load(Path(run, "config.yaml").read_text())
    game = cfg.get("game") or {}
    want = {"learners": "one", "seat": 0, "rivals": "mpc"} if kind == "vs_mpc" else {"learners": "shared"}
    got = {k: game.get(k) for k in want}
    if not game or got != want:
        raise ConfigError(f"{flag}: trained with game {game or None}, not as this line-up plays it ({want})")
    if cfg.get("env_id") != env_id or game.get("n_agents") != n_agents:
        raise ConfigError(
            f"{flag}: trained in a game of {game.get('n_agents')} VPPs of {cfg.get('env_id')}, not of {n_agents} "
            f"of {env_id}; pass --env and --agents as it was trained"
        )
    return int(json.loads(Path(run, "meta.json").read_text())["seeds"]["agent"])


def daily_prices(rows: list[dict[str, Any]]) -> np.ndarray:
    """The mean cleared price of each day of a line-up (every agent's row of a day holds the same)."""
    by_day = {r["day"]: r["cleared_price"] for r in rows}
    return np.array([by_day[d] for d in sorted(by_day)])


def paired_interval(diff: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of the per-day differences and its 95 % percentile-bootstrap interval over days (seeded)."""
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (reps, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="vpp_gym/Joint-v1")
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--lineups", nargs="+", default=list(LINEUPS), choices=list(LINEUPS))
    ap.add_argument("--vs-mpc", nargs="*", default=[], metavar="RUN", help="runs trained in seat 0 against MPC")
    ap.add_argument("--shared", nargs="*", default=[], metavar="RUN", help="runs trained in every seat at once")
    ap.add_argument("--out", default="experiments/results/market_game")
    args = ap.parse_args(argv)
    if args.agents < 1 or args.episodes < 1:
        raise ConfigError(f"--agents and --episodes must be >= 1, got {args.agents} and {args.episodes}")
    lineups: dict[str, Any] = {name: LINEUPS[name] for name in args.lineups}
    trained = [(kind, run) for kind, runs in (("vs_mpc", args.vs_mpc), ("shared", args.shared)) for run in runs]
    for kind, run in trained:
        seed = check_run(run, kind, args.env, args.agents)
        label = f"ppo_{kind} s{seed}"
        if f"{label} best" in lineups:  # two runs of one seed: told apart by their folders
            label = f"{label} ({Path(run).name})"
        for unit in ("best", "final"):
            spec = {"name": "ppo", "run": str(run), "unit": unit}
            lineups[f"{label} {unit}"] = [spec, "mpc"] if kind == "vs_mpc" else spec
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    results = {}
    for name, policy in lineups.items():
        t = time.perf_counter()
        results[name] = run_lineup(args.env, args.agents, args.episodes, policy)
        print(f"{name}: {time.perf_counter() - t:.1f} s", flush=True)
    with (out / "market_game.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["lineup", "day", "agent", "profit", "cleared_price", "published_price", "award_mw"])
        for name, rows in results.items():
            for r in rows:
                keys = ("profit", "cleared_price", "published_price", "award_mw")
                w.writerow([name, r["day"], r["agent"], *(f"{r[k]:.6g}" for k in keys)])
    lines = [
        f"# Market game: {args.agents} identical VPPs of {args.env}, baselines and learners in the seats",
        "",
        f"`{shlex.join(['python', 'experiments/market_game.py', *(argv if argv is not None else sys.argv[1:])])}`"
        f" (git {git_revision()}; {time.perf_counter() - t0:.0f} s). Test days 0-{args.episodes - 1}, episode e "
        f"seeded {SEED} + e; the autonomous preset (`configs/markets/autonomous.yaml`): the VPPs' D-1 energy "
        "curves, and their offers of each capacity product, clear jointly with the residual competitor stacks "
        "at one marginal price per product and interval. Prices in CNY/MWh "
        "(interval means), profits in CNY per agent and day, award in MW (+ = sold).",
        "",
        "| line-up | seat 0 | other seats | all seats | min-max over agents | cleared price | published price | "
        "markup | price - mpc's [95 % CI] | award per agent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    reference = daily_prices(results["mpc"]) if "mpc" in results else None
    for name, rows in results.items():
        by_agent: dict[str, list[float]] = {}
        for r in rows:
            by_agent.setdefault(r["agent"], []).append(r["profit"])
        means = [float(np.mean(v)) for v in by_agent.values()]
        others = f"{np.mean(means[1:]):,.0f}" if len(means) > 1 else "-"
        cleared = float(np.mean([r["cleared_price"] for r in rows]))
        published = float(np.mean([r["published_price"] for r in rows]))
        award = float(np.mean([r["award_mw"] for r in rows]))
        versus = "-"
        if reference is not None and name != "mpc":
            mean, lo, hi = paired_interval(daily_prices(rows) - reference)
            versus = f"{mean:+,.1f} [{lo:+,.1f}, {hi:+,.1f}]"
        lines.append(
            f"| {name} | {means[0]:,.0f} | {others} | {np.mean(means):,.0f} | {min(means):,.0f} to {max(means):,.0f} | "
            f"{cleared:,.1f} | "
            f"{published:,.1f} | {cleared - published:+,.1f} | {versus} | {award:+.3f} |"
        )
    if trained:
        lines += [
            "",
            "Trained runs (`vpp-gym train`; their curves in their folders):",
            "",
            "| line-up | run | seed | git revision | steps | wall s | best validation (step) | final validation |",
            "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
        ]
        for kind, run in trained:
            meta = json.loads(Path(run, "meta.json").read_text())
            summary = json.loads(Path(run, "summary.json").read_text()) if Path(run, "summary.json").is_file() else {}
            with Path(run, "curve.csv").open(newline="") as fh:
                curve = list(csv.DictReader(fh))
            best = max(curve, key=lambda r: float(r["val_profit"]))
            last = float(curve[-1]["val_profit"])
            lines.append(
                f"| ppo_{kind} | `{Path(run).name}` | {meta['seeds']['agent']} | {meta['git_revision'][:7]} | "
                f"{int(curve[-1]['timesteps']):,} | {summary.get('wall_s', float('nan')):,.0f} | "
                f"{float(best['val_profit']):,.1f} ({int(best['timesteps']):,}) | {last:,.1f} |"
            )
    (out / "market_game.md").write_text("\n".join(lines) + "\n")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, rows in results.items():
        ax.plot(rows[0]["prices"], label=name, lw=1.2)
    ax.set_xlabel("interval of test day 0")
    ax.set_ylabel("cleared day-ahead price (CNY/MWh)")
    ax.set_title(f"{args.agents} VPPs of {args.env}: the joint clearing by line-up")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "market_game.png", dpi=110)
    print((out / "market_game.md").read_text())
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConfigError as err:
        print(f"market_game.py: error: {err}", file=sys.stderr)
        sys.exit(2)
