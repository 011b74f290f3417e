"""``vpp-gym tune``: search spaces checked before Ray starts, and a 2-trial sweep on a local Ray instance.

The sweep trains two tiny PPO runs on Arbitrage-v1 (a few seconds each); its results table is checked
against the trials' own run folders, which are read independently here.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.cli import main
from agents.rl.config import load_experiment
from agents.rl.tune import SweepConfig, check_sweep, load_sweep
from vpp_gym.validation import ConfigError, from_mapping, to_mapping

pytestmark = pytest.mark.rl

TINY = {
    "name": "tiny",
    "env_id": "vpp_gym/Arbitrage-v1",
    "algo": "ppo",
    "seed": 0,
    "agent": {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "net_arch": [16, 16]},
    "train": {
        "total_timesteps": 512,
        "n_envs": 4,
        "eval_every_steps": 128,
        "checkpoint_every_steps": 0,
        "torch_threads": 1,
    },
    "eval": {"split": "val", "days": 1},
}
SPACE = {
    "num_samples": 2,
    "max_concurrent": 2,
    "seed": 0,
    "scheduler": "asha",
    "asha": {"grace_period_steps": 256, "reduction_factor": 2},
    "search_space": {
        "agent.learning_rate": {"loguniform": [1.0e-5, 1.0e-3]},
        "agent.n_epochs": {"integer": [1, 3]},
    },
}


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _check(space: dict, experiment: dict | None = None) -> None:
    cfg, _ = load_experiment(mapping=experiment or TINY)
    check_sweep(from_mapping(SweepConfig, space), cfg, to_mapping(cfg))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"search_space": {"agent.learnin_rate": {"uniform": [0.1, 0.2]}}}, "agent.learnin_rate"),
        ({"search_space": {"agent.learning_rate": {"normal": [0.1, 0.2]}}}, "unknown distribution 'normal'"),
        ({"search_space": {"agent.learning_rate": {"uniform": [0.2, 0.1]}}}, "low < high"),
        ({"search_space": {"agent.learning_rate": {"loguniform": [0.0, 0.1]}}}, "must be > 0"),
        ({"search_space": {"agent.n_epochs": {"integer": [1, 2.5]}}}, "two integers"),
        # the high end is out of the experiment's range: found at the edge, before Ray starts
        ({"search_space": {"agent.clip_range": {"uniform": [0.1, 2000.0]}}}, "search_space.agent.clip_range = 2000.0"),
        ({"search_space": {"eval.split": {"choice": ["val", "test"]}}}, "search_space.eval.split: the budget"),
        ({"search_space": {"train.total_timesteps": {"choice": [512, 1024]}}}, "search_space.train.total_timesteps"),
        ({"search_space": {"train.eval_every_steps": {"choice": [128, 256]}}}, "search_space.train.eval_every_steps"),
        ({"search_space": {"seed": {"integer": [0, 3]}}}, "search_space.seed"),
        ({"search_space": {}}, "search_space"),
        ({"asha": {"grace_period_steps": 512}}, "not below the experiment's train.total_timesteps"),
        ({"num_samples": 0}, "num_samples"),
        ({"scheduler": "hyperband"}, "scheduler"),
        ({"searchspace": {}}, "searchspace"),
    ],
)
def test_bad_search_spaces_are_named(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        _check({**SPACE, **change})
    assert message in str(err.value)


def test_a_key_both_given_and_searched_is_refused() -> None:
    cfg, _ = load_experiment(mapping=TINY, overrides={"agent.learning_rate": 1e-4})
    with pytest.raises(ConfigError, match=r"agent\.learning_rate is both given on the command line"):
        check_sweep(from_mapping(SweepConfig, SPACE), cfg, to_mapping(cfg), {"agent.learning_rate": 1e-4})


SPACES = sorted((Path(__file__).resolve().parents[3] / "configs" / "tune").glob("*.yaml"))


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_committed_search_spaces_fit_their_experiments(path: Path) -> None:
    """Each committed space passes every check of ``vpp-gym tune`` against its experiment (the same name)."""
    root = path.parents[1]
    (exp,) = [p for p in (root / "experiments" / path.name, root / "quick" / path.name) if p.is_file()]
    sweep = load_sweep(path)
    if exp.stem.startswith("rllib_"):
        pytest.importorskip("pettingzoo")
        from agents.rl.rllib import load_game_experiment

        cfg, _ = load_game_experiment(exp)
    else:
        cfg, _ = load_experiment(exp)
    check_sweep(sweep, cfg, to_mapping(cfg))


def test_asha_needs_validation_reports() -> None:
    no_eval = {**TINY, "train": {**TINY["train"], "eval_every_steps": 0}}
    with pytest.raises(ConfigError, match=r"train\.eval_every_steps is 0"):
        _check(SPACE, no_eval)
    sparse = {**TINY, "train": {**TINY["train"], "eval_every_steps": 384}}
    with pytest.raises(ConfigError, match="without a report"):
        _check(SPACE, sparse)
    _check({**SPACE, "scheduler": "fifo"}, no_eval)  # no early stopping: no reports needed


def test_cli_errors_leave_no_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = _write(tmp_path / "exp.yaml", TINY)
    space = _write(tmp_path / "space.yaml", {**SPACE, "search_space": {"agent.nope": {"choice": [1]}}})
    out = tmp_path / "out"
    assert main(["tune", str(exp), "--space", str(space), "--out", str(out)]) == 2
    assert "search_space.agent.nope" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_two_trial_sweep_on_local_ray(tmp_path: Path) -> None:
    pytest.importorskip("ray.tune")
    exp = _write(tmp_path / "exp.yaml", TINY)
    space = _write(tmp_path / "space.yaml", SPACE)
    out = tmp_path / "sweep"
    assert main(["tune", str(exp), "--space", str(space), "--out", str(out), "seed=3"]) == 0

    with (out / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2
    for row in rows:
        lr, epochs = float(row["agent.learning_rate"]), int(row["agent.n_epochs"])
        assert 1e-5 <= lr <= 1e-3 and 1 <= epochs <= 3
        run = Path(row["run"])
        assert run.parent == out / "trials" and run.name == row["trial"]
        # the trial trained the experiment with its values and the fixed override, in its own run folder
        cfg, _ = load_experiment(run / "config.yaml")
        assert (cfg.seed, cfg.agent.n_epochs) == (3, epochs)
        assert math.isclose(cfg.agent.learning_rate, lr, rel_tol=1e-12)
        with (run / "curve.csv").open(newline="") as fh:
            curve = list(csv.DictReader(fh))
        best = max(curve, key=lambda r: float(r["val_profit"]))
        assert float(row["best_val_profit"]) == float(best["val_profit"])
        assert int(row["timesteps_reached"]) == int(curve[-1]["timesteps"])
        done = (run / "summary.json").is_file()
        assert row["status"] == "completed" if done else row["status"].startswith("stopped by ASHA")
        assert (run / "best" / "manifest.json").is_file()
    # best first; best_config.yaml is the experiment with the best trial's values
    assert float(rows[0]["best_val_profit"]) >= float(rows[1]["best_val_profit"])
    best_cfg, _ = load_experiment(out / "best_config.yaml")
    assert best_cfg.seed == 3 and best_cfg.agent.n_epochs == int(rows[0]["agent.n_epochs"])
    assert math.isclose(best_cfg.agent.learning_rate, float(rows[0]["agent.learning_rate"]), rel_tol=1e-12)
    assert load_sweep(out / "sweep.yaml") == from_mapping(SweepConfig, SPACE)
