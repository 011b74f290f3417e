"""``vpp-gym tune`` of an RLlib config: a 2-trial sweep on a local Ray instance (its own module, so that the
parallel test workers can run it beside the SB3 sweep of ``test_tune.py``)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from agents.cli import main
from agents.rl.tune import SweepConfig, check_sweep
from vpp_gym.validation import ConfigError, from_mapping, to_mapping

pytestmark = pytest.mark.rl

SPACE = {
    "num_samples": 2,
    "max_concurrent": 2,
    "seed": 0,
    "scheduler": "asha",
}


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


RLLIB = Path(__file__).resolve().parents[3] / "configs" / "experiments" / "rllib_ppo_game.yaml"
RLLIB_TINY = {
    "train.iterations": 2,
    "train.eval_every": 1,
    "train.checkpoint_every": 0,
    "agent.train_batch_size": 96,
    "agent.minibatch_size": 48,
    "agent.num_epochs": 1,
    "agent.net_arch": [16],
    "eval.days": 1,
    "overrides": {"time.interval_minutes": 60},
}
RLLIB_SPACE = {
    **SPACE,
    "asha": {"grace_period_steps": 96, "reduction_factor": 2},
    "search_space": {"agent.lr": {"loguniform": [1.0e-5, 1.0e-3]}, "agent.num_epochs": {"integer": [1, 2]}},
}


def test_rllib_sweeps_are_checked_in_env_steps() -> None:
    """An RLlib experiment's budget is its iterations x agent.train_batch_size env steps; its fixed keys and
    ASHA's rungs are checked in those units, each searched key at its edges against the RLlib config."""
    pytest.importorskip("pettingzoo")
    from agents.rl.rllib import load_game_experiment
    from agents.rl.tune import budget_steps

    cfg, _ = load_game_experiment(RLLIB, RLLIB_TINY)
    assert budget_steps(cfg) == (192, 96)
    base = to_mapping(cfg)
    check_sweep(from_mapping(SweepConfig, RLLIB_SPACE), cfg, base)
    for space, match in [
        ({"search_space": {"train.iterations": {"choice": [1, 2]}}}, r"search_space\.train\.iterations: the budget"),
        ({"search_space": {"agent.lrr": {"choice": [1.0e-4]}}}, r"search_space\.agent\.lrr = 0\.0001 gives an invalid"),
        ({"asha": {"grace_period_steps": 192, "reduction_factor": 2}}, r"not below the experiment's train\.iterations"),
        ({"asha": {"grace_period_steps": 50, "reduction_factor": 2}}, r"train\.eval_every x agent\.train_batch_size"),
    ]:
        with pytest.raises(ConfigError, match=match):
            check_sweep(from_mapping(SweepConfig, {**RLLIB_SPACE, **space}), cfg, base)


@pytest.mark.slow
def test_two_trial_rllib_sweep_on_local_ray(tmp_path: Path) -> None:
    """A 2-trial sweep of the committed RLlib config (tiny budgets): each trial is an RLlib run in its own folder,
    and the results table and best config are read back from those folders."""
    pytest.importorskip("ray.rllib")
    space = _write(tmp_path / "space.yaml", {**RLLIB_SPACE, "scheduler": "fifo"})  # ASHA: the SB3 sweep's test
    out = tmp_path / "sweep"
    fixed = {k: v for k, v in RLLIB_TINY.items() if k not in RLLIB_SPACE["search_space"]}
    fixed["train.iterations"] = 1
    args = [f"{k}={json.dumps(v)}" for k, v in fixed.items()]
    assert main(["tune", str(RLLIB), "--space", str(space), "--out", str(out), *args]) == 0
    with (out / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    for row in rows:
        run = Path(row["run"])
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        assert math.isclose(cfg["agent"]["lr"], float(row["agent.lr"]), rel_tol=1e-12)
        assert cfg["agent"]["num_epochs"] == int(row["agent.num_epochs"])
        with (run / "curve.csv").open(newline="") as fh:
            curve = [r for r in csv.DictReader(fh) if r["val_profit"]]
        assert float(row["best_val_profit"]) == max(float(r["val_profit"]) for r in curve)
        assert int(row["timesteps_reached"]) == int(curve[-1]["env_steps"])
        done = (run / "summary.json").is_file()
        assert done and row["status"] == "completed"
    best = yaml.safe_load((out / "best_config.yaml").read_text())
    assert best["algo"] == "rllib" and math.isclose(best["agent"]["lr"], float(rows[0]["agent.lr"]), rel_tol=1e-12)
