"""``vpp-gym train`` end to end in subprocesses: run folder, reload, evaluation, resume, errors, reproducibility.

Trainings run in fresh interpreters (``python -m agents.cli``), as a user runs them; the argument and
config errors, which stop before any training, call :func:`agents.cli.main` in this process.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.cli import main
from agents.rl.config import load_experiment
from agents.rl.policy import RlPolicy
from agents.rl.train import evaluate_days

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.rl

SMOKE = {
    "name": "smoke",
    "env_id": "vpp_gym/Arbitrage-v0",
    "algo": "ppo",
    "seed": 1,
    "agent": {"n_steps": 32, "batch_size": 256, "n_epochs": 2, "net_arch": [32, 32]},
    "train": {"total_timesteps": 4096, "n_envs": 16, "eval_every_steps": 1024, "checkpoint_every_steps": 2048},
    "eval": {"days": 3},
}


def _train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", "train", *args, "--no-progress"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def _curve(run: Path) -> list[dict[str, float]]:
    with (run / "curve.csv").open() as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ppo")
    (tmp / "smoke.yaml").write_text(yaml.safe_dump(SMOKE))
    proc = _train("smoke.yaml", "train.total_timesteps=2048", "agent.learning_rate=1e-3", "--out", "run", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return tmp / "run"


@pytest.mark.slow
def test_run_folder_records_everything_needed_to_reproduce_the_run(ppo_run: Path) -> None:
    for name in (
        "config.yaml",
        "scenario.yaml",
        "command.txt",
        "meta.json",
        "final/model.zip",
        "final/normalizer.npz",
        "final/manifest.json",
        "best/model.zip",
        "best/normalizer.npz",
        "best/normalizer.json",
        "best/manifest.json",
        "curve.csv",
        "summary.json",
        "checkpoint/model.zip",
        "checkpoint/normalizer.npz",
        "checkpoint/state.json",
        "checkpoint/manifest.json",
    ):
        assert (ppo_run / name).is_file(), name
    assert not (ppo_run / "INCOMPLETE").exists()  # a finished run
    assert not list(ppo_run.rglob("*.pkl"))  # the normalisers are not pickles (PPO has no replay buffer)
    assert any((ppo_run / "tb").rglob("events.out.tfevents.*"))
    cfg, _ = load_experiment(ppo_run / "config.yaml")
    assert cfg.train.total_timesteps == 2048 and cfg.agent is not None and cfg.agent.learning_rate == 1e-3
    meta = json.loads((ppo_run / "meta.json").read_text())
    assert meta["algo"] == "ppo" and meta["seeds"]["agent"] == 1
    assert {"torch", "stable_baselines3", "gymnasium", "numpy", "python"} <= set(meta["versions"])
    assert meta["git_revision"]
    assert "train.total_timesteps=2048" in (ppo_run / "command.txt").read_text()
    curve = _curve(ppo_run)
    assert [r["timesteps"] for r in curve] == [1024, 2048]
    summary = json.loads((ppo_run / "summary.json").read_text())
    assert summary["num_timesteps"] == 2048
    assert summary["best_val_profit"] == max(r["val_profit"] for r in curve)


@pytest.mark.slow
def test_reloaded_best_model_reproduces_its_recorded_validation_profit(ppo_run: Path) -> None:
    cfg, _ = load_experiment(ppo_run / "config.yaml")
    policy = RlPolicy.load(ppo_run, "best")
    rows = evaluate_days(policy.act, cfg, "val", cfg.eval.days)
    best = json.loads((ppo_run / "summary.json").read_text())["best_val_profit"]
    assert np.mean([r["profit"] for r in rows]) == pytest.approx(best, rel=1e-9)
    # the KPIs add up to the profit
    r = rows[0]
    revenue = sum(v for k, v in r.items() if k.startswith("revenue_"))
    cost = sum(v for k, v in r.items() if k.startswith("cost_"))
    assert revenue - cost == pytest.approx(r["profit"], rel=1e-9, abs=1e-6)
    # a Policy on single observations and on batches
    obs = np.zeros((2, policy.model.observation_space.shape[0]), dtype=np.float32)
    assert policy.act(obs).shape == (2, policy.model.action_space.shape[0])
    assert policy.act(obs[0]).shape == policy.model.action_space.shape


@pytest.mark.slow
def test_resume_continues_the_step_count(ppo_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)
    before = _curve(run)
    with (run / "curve.csv").open("w", newline="") as fh:  # a curve written with its columns in another order
        writer = csv.DictWriter(fh, fieldnames=list(reversed(before[0])))
        writer.writeheader()
        writer.writerows(before)
    proc = _train("--resume", str(run), "train.total_timesteps=4096", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "summary.json").read_text())["num_timesteps"] == 4096
    curve = _curve(run)  # the resumed rows are appended under the header the file has
    assert [r["timesteps"] for r in curve] == [1024, 2048, 3072, 4096]
    assert curve[:2] == before and all(r["val_profit_std"] >= 0.0 and r["wall_s"] > 0.0 for r in curve)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["resumed"][0]["at_timesteps"] == 2048
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["num_timesteps"] == 4096


@pytest.mark.slow
def test_same_config_and_seed_give_the_same_figures(ppo_run: Path, tmp_path: Path) -> None:
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(SMOKE))
    proc = _train(
        "smoke.yaml", "train.total_timesteps=2048", "agent.learning_rate=1e-3", "--out", "again", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr

    def figures(run: Path) -> list[dict[str, float]]:
        return [{k: v for k, v in row.items() if k != "wall_s"} for row in _curve(run)]

    assert figures(tmp_path / "again") == figures(ppo_run)  # bit for bit, not within a tolerance


@pytest.mark.slow
def test_sac_trains_and_reloads(tmp_path: Path) -> None:
    cfg = {
        **SMOKE,
        "algo": "sac",
        "agent": {
            "learning_starts": 200,
            "batch_size": 64,
            "net_arch": [32, 32],
            "buffer_size": 5000,
            "n_steps": 4,
            "demo_episodes": 4,
            "demo_policy": "rule",
        },
        "train": {"total_timesteps": 800, "n_envs": 4, "eval_every_steps": 400, "checkpoint_every_steps": 400},
    }
    (tmp_path / "sac.yaml").write_text(yaml.safe_dump(cfg))
    proc = _train("sac.yaml", "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "checkpoint" / "replay_buffer.pkl").is_file()
    policy = RlPolicy.load(tmp_path / "run", "final")
    assert policy.act(np.zeros(policy.model.observation_space.shape, dtype=np.float32)).shape == (5,)
    assert policy.model.n_steps == 4  # n-step returns reached SB3
    # the 4 demonstration days (one 96-step row block per sub-env) stay ahead of the 800 / 4 agent steps
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["demonstrations"]["transitions"] == 4 * 96
    policy.model.load_replay_buffer(tmp_path / "run" / "checkpoint" / "replay_buffer.pkl")
    assert policy.model.replay_buffer.pos == 96 + 800 // 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["smoke.yaml", "agent.learnin_rate=1e-4"],
            "agent: unknown key 'learnin_rate' (did you mean 'learning_rate'?)",
        ),
        (["smoke.yaml", "agent.gamma=1.5"], "agent.gamma"),
        (["smoke.yaml", "train.vec_env=fast"], "train.vec_env"),
        (["smoke.yaml", "env_id=vpp_gym/Nope-v0"], "env_id"),
        (["smoke.yaml", "algo=dqn"], "algo"),
        (["smoke.yaml", "seed"], "expected key=value"),
        (["missing.yaml"], "config file not found"),
        (["--resume", "nowhere"], "not a run folder"),
    ],
)
def test_bad_configs_and_arguments_are_errors_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(SMOKE))
    monkeypatch.chdir(tmp_path)
    code = main(["train", *args, "--no-progress"])  # an exception here would be a traceback for the user
    stderr = capsys.readouterr().err
    assert code == 2
    assert message in stderr
    assert "Traceback" not in stderr


def test_linear_schedule_never_goes_below_zero() -> None:
    """The last rollout may pass the budget (progress remaining < 0): the step size is then 0, not negative."""
    from agents.rl.train import _Linear

    lr = _Linear(1e-3)
    assert lr(1.0) == 1e-3 and lr(0.25) == 2.5e-4 and lr(0.0) == 0.0
    assert lr(-0.0076) == 0.0  # 1,511,424 steps of a 1,500,000-step budget (64 x 192 per rollout)
