"""``vpp-gym publish``: a finished run's unit and records as a small folder that loads like a run folder.

A tiny PPO run on Arbitrage-v1 is trained once in this process (a few seconds) and published into
``tmp_path`` folders; nothing is written into the checkout's ``models/``.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.cli import main
from agents.rl import publish as pub
from agents.rl.artifacts import PUBLISHED, verify_published
from agents.rl.policy import RlPolicy
from agents.runfiles import RunFolderError
from vpp_gym.validation import ConfigError

pytestmark = pytest.mark.rl

TINY = {
    "name": "tiny",
    "env_id": "vpp_gym/Arbitrage-v1",
    "algo": "ppo",
    "seed": 2,
    "agent": {"n_steps": 32, "batch_size": 256, "n_epochs": 1, "net_arch": [16]},
    "train": {"total_timesteps": 512, "n_envs": 8, "eval_every_steps": 256, "checkpoint_every_steps": 256},
    "eval": {"days": 2},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("publish")
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    assert main(["train", str(tmp / "tiny.yaml"), "--out", str(tmp / "run"), "--no-progress"]) == 0
    return tmp / "run"


@pytest.fixture(scope="module")
def published(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    return pub.publish(run, "ppo_arbitrage_s2", models_dir=models, log=lambda _line: None)


def test_published_folder_holds_the_unit_and_records_only(published: Path, run: Path) -> None:
    names = sorted(p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file())
    assert names == sorted(
        [
            "best/manifest.json",
            "best/model.zip",
            "best/normalizer.json",
            "best/normalizer.npz",
            "command.txt",
            "config.yaml",
            "curve.csv",
            "meta.json",
            "published.json",
            "scenario.yaml",
            "summary.json",
        ]
    )  # no checkpoint, no final unit, no TensorBoard logs
    assert (run / "checkpoint").is_dir() and (run / "tb").is_dir()
    unit = json.loads((published / "best" / "manifest.json").read_text())
    assert unit["optimizer_state"] == "dropped"  # (this best unit was saved before the first update)
    record = verify_published(published)
    summary = json.loads((run / "summary.json").read_text())
    meta = json.loads((run / "meta.json").read_text())
    assert record["unit"] == "best" and record["algo"] == "ppo" and record["seed"] == 2
    assert record["env_id"] == "vpp_gym/Arbitrage-v1" and record["git_revision"] == meta["git_revision"]
    assert record["training_steps"] == summary["num_timesteps"] == 512
    assert record["wall_s"] == summary["wall_s"]
    assert record["config_file"] is None and record["config_name"] == "tiny"  # not a committed config
    assert record["bytes"] == sum(f["bytes"] for f in record["files"].values()) < pub.SIZE_LIMIT
    assert record["test_day"]["config"] == "configs/evaluation/arbitrage.yaml"
    assert (record["test_day"]["day"], record["test_day"]["split"]) == (0, "test")
    index = (published.parent / "README.md").read_text()
    assert "| `ppo_arbitrage_s2` | vpp_gym/Arbitrage-v1 | tiny (no committed file) | ppo | 2 |" in index
    assert f"{record['test_day']['profit']:,.1f}" in index


def test_evaluate_reproduces_the_recorded_test_day(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", "--config", "configs/evaluation/arbitrage.yaml", "--episodes", "1"]
    assert main([*args, "--policies", f"ppo={published}", "--out", str(out)]) == 0
    with (out / "kpis.csv").open() as fh:
        row = next(r for r in csv.DictReader(fh) if r["policy"] == "ppo")
    record = json.loads((published / PUBLISHED).read_text())
    assert float(row["profit"]) == pytest.approx(record["test_day"]["profit"], rel=1e-9, abs=1e-6)
    assert row["date"] == record["test_day"]["date"]


def test_refuses_to_overwrite_without_force(run: Path, published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = published.parent
    before = (published / PUBLISHED).read_text()
    assert main(["publish", str(run), "--name", published.name, "--models-dir", str(models)]) == 2
    assert "exists; give another --name, or --force" in capsys.readouterr().err
    assert (published / PUBLISHED).read_text() == before
    (models / "mine").mkdir()
    (models / "mine" / "notes.txt").write_text("mine")
    assert main(["publish", str(run), "--name", "mine", "--models-dir", str(models), "--force"]) == 2
    assert "is not a published model" in capsys.readouterr().err
    assert (models / "mine" / "notes.txt").read_text() == "mine"


def test_force_replaces_and_final_unit(run: Path, published: Path, tmp_path: Path) -> None:
    first = pub.publish(run, "m", models_dir=tmp_path, log=lambda _line: None)
    again = pub.publish(run, "m", models_dir=tmp_path, which="final", force=True, log=lambda _line: None)
    assert again == first and (again / "final").is_dir() and not (again / "best").exists()
    # the final model without Adam's moments: smaller, same actions (drop_optimizer_state checks them)
    assert (again / "final" / "model.zip").stat().st_size < 0.8 * (run / "final" / "model.zip").stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "m"]  # no temporary folder left
    algo, unit = RlPolicy.check(again)  # the default which="best" stands for the published unit
    assert (algo, unit) == ("ppo", again / "final")
    assert RlPolicy.check(again, which="final")[1] == again / "final"
    with pytest.raises(RunFolderError, match="holding only its best/ unit, not final/"):
        RlPolicy.check(published, which="final")


def test_integrity_errors_name_the_file(published: Path, tmp_path: Path) -> None:
    env = gym.make("vpp_gym/Arbitrage-v1")
    RlPolicy.load(published, env=env)  # intact
    bad = shutil.copytree(published, tmp_path / "bad")
    model = bad / "best" / "model.zip"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    model.write_bytes(bytes(data))
    with pytest.raises(RunFolderError, match=r"model\.zip was changed or is damaged"):
        RlPolicy.check(bad)
    gone = shutil.copytree(published, tmp_path / "gone")
    (gone / "best" / "normalizer.npz").unlink()
    with pytest.raises(RunFolderError, match=r"normalizer\.npz is missing"):
        RlPolicy.check(gone)
    edited = shutil.copytree(published, tmp_path / "edited")
    (edited / "config.yaml").write_text((edited / "config.yaml").read_text() + "\n")
    with pytest.raises(RunFolderError, match=r"config\.yaml is truncated or was changed"):
        RlPolicy.check(edited)
    with pytest.raises(ConfigError, match="trained on another layout"):
        RlPolicy.check(published, env=gym.make("vpp_gym/Joint-v1"))


def test_refuses_unfinished_runs_and_published_folders(run: Path, published: Path, tmp_path: Path) -> None:
    unfinished = shutil.copytree(run, tmp_path / "unfinished", ignore=shutil.ignore_patterns(".lock"))
    (unfinished / "INCOMPLETE").write_text("x")
    with pytest.raises(RunFolderError, match="has not finished"):
        pub.publish(unfinished, "x", models_dir=tmp_path / "models", log=lambda _line: None)
    with pytest.raises(RunFolderError, match="is a published model already"):
        pub.publish(published, "x", models_dir=tmp_path / "models", log=lambda _line: None)
    with pytest.raises(ConfigError, match="--name"):
        pub.publish(run, "../x", models_dir=tmp_path / "models", log=lambda _line: None)
    assert not (tmp_path / "models" / "x").exists()


def test_size_warning(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(pub, "SIZE_LIMIT", 1000)
    pub.publish(run, "big", models_dir=tmp_path, log=lambda _line: None)
    err = capsys.readouterr().err
    assert "warning: big is" in err and "largest: best/model.zip" in err
    assert "(above 2 MiB)" in (tmp_path / "README.md").read_text()
