"""experiments/benchmark.py and generalisation.py: finding published models, the README markers, the scenarios.

No benchmark is run here; the scripts' helpers are called on hand-made folders.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import gymnasium as gym
import pytest

import vpp_gym  # noqa: F401  (registers the ids)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(experiment_script: Callable[[str], ModuleType]) -> ModuleType:
    return experiment_script("benchmark")


@pytest.fixture(scope="module")
def gen(experiment_script: Callable[[str], ModuleType]) -> ModuleType:
    return experiment_script("generalisation")


def _fake_model(folder: Path, **record: object) -> None:
    folder.mkdir(parents=True)
    (folder / "published.json").write_text(json.dumps({"unit": "best", "files": {}, **record}))


def test_published_models_found_missing_and_flagged(bench: ModuleType, tmp_path: Path, capsys) -> None:
    _fake_model(
        tmp_path / "ppo_joint_s0",
        config_file="configs/experiments/ppo_joint.yaml",
        config_changes={},
        training_steps=3_000_000,
        git_revision="abc",
    )
    _fake_model(
        tmp_path / "sac_joint_s0",
        config_file="configs/experiments/sac_joint.yaml",
        config_changes={"train.total_timesteps": 10},
    )
    assert bench.published_model("ppo", "joint", 0, tmp_path) == (tmp_path / "ppo_joint_s0", "")
    folder, note = bench.published_model("sac", "joint", 0, tmp_path)
    assert folder == tmp_path / "sac_joint_s0" and "train.total_timesteps=10" in note
    assert bench.published_model("ppo", "joint", 1, tmp_path) == (None, "")
    out = capsys.readouterr().out
    assert "ppo_joint_s1: missing" in out and "ppo_joint_s0: found" in out
    # the committed config changed since the model was trained: flagged, naming the keys
    committed = (ROOT / "configs/experiments/ppo_joint.yaml").read_text()
    (tmp_path / "ppo_joint_s0" / "config.yaml").write_text(committed)
    assert bench.published_model("ppo", "joint", 0, tmp_path) == (tmp_path / "ppo_joint_s0", "")
    changed = committed.replace("  n_epochs: 10", "  n_epochs: 3", 1)
    assert changed != committed
    (tmp_path / "ppo_joint_s0" / "config.yaml").write_text(changed)
    folder, note = bench.published_model("ppo", "joint", 0, tmp_path)
    assert folder == tmp_path / "ppo_joint_s0" and "now differs in agent.n_epochs" in note
    (tmp_path / "ppo_joint_s0" / "config.yaml").write_text(committed.replace("  n_epochs: 10", "  retired_key: 1", 1))
    folder, note = bench.published_model("ppo", "joint", 0, tmp_path)
    assert folder == tmp_path / "ppo_joint_s0" and "config.yaml, which this version cannot read" in note


def test_stat_rows_group_the_seeds(bench: ModuleType) -> None:
    kpis = [{"policy": "ppo_s1", "episode": 0, "profit": 1.0}, {"policy": "mpc", "episode": 0, "profit": 2.0}]
    rows = bench.stat_rows("joint", kpis, {"ppo_s1": ("ppo", 1)})
    assert [(r["policy"], r["run"]) for r in rows] == [("ppo", "s1"), ("mpc", "-")]


def test_readme_table_between_markers(bench: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench.README_START}\nold\n{bench.README_END}\nrest\n")
    bench.update_readme(["| a |", "| b |"], readme)
    assert readme.read_text() == f"intro\n{bench.README_START}\n| a |\n| b |\n{bench.README_END}\nrest\n"
    assert bench.README_START in (ROOT / "README.md").read_text()


def test_synthetic_seed_scenario_keeps_the_layout(gen: ModuleType, tmp_path: Path) -> None:
    variants, notes = gen.scenarios(3, tmp_path / "absent")
    assert list(variants) == ["training", "synthetic seed 3"] and "real data: skipped" in notes[0]
    base = gym.make("vpp_gym/Arbitrage-v1").unwrapped
    other = gym.make("vpp_gym/Arbitrage-v1", overrides=variants["synthetic seed 3"]).unwrapped
    assert other.observation_names == base.observation_names
    assert other.config.data.synthetic.seed == 3 and other.config.data.ancillary.seed == 3


@pytest.mark.realdata
@pytest.mark.skipif(not (ROOT.parent / "shared" / "data").is_dir(), reason="../shared/data is absent")
def test_real_data_scenario_keeps_the_layout_in_cny(gen: ModuleType) -> None:
    variants, _ = gen.scenarios(1, ROOT.parent / "shared" / "data")
    base = gym.make("vpp_gym/Joint-v1").unwrapped
    env = gym.make("vpp_gym/Joint-v1", overrides=variants["real data"])
    u = env.unwrapped
    assert u.observation_names == base.observation_names and u.action_names == base.action_names
    assert u.config.data.source == "files" and len(u.episode_starts["test"]) == 31
    _, info = env.reset(seed=0, options={"split": "test", "day": 0})
    assert info["start"].startswith("2022-08-01T06:00")  # local midnight in Houston
