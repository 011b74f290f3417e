"""The scenario YAMLs under configs/scenarios load and run; the province one is the task default written out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym
from vpp_gym.config import read_yaml
from vpp_gym.validation import to_mapping

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"
YAMLS = sorted(SCENARIOS.glob("*.yaml"))


def _missing_files(path: Path) -> list[Path]:
    """Data files a files-based scenario names that do not exist (relative to the YAML's directory)."""
    data = read_yaml(path).get("data") or {}
    if data.get("source") != "files":
        return []
    sources = (data.get("files") or {}).get("sources") or []
    return [p for p in ((path.parent / s["path"]).resolve() for s in sources) if not p.is_file()]


def test_the_expected_scenarios_exist() -> None:
    assert {
        "arbitrage_province.yaml",
        "ercot_caiso_2022.yaml",
        "dr_heavy_city.yaml",
        "ev_heavy_city.yaml",
        "green_park.yaml",
    } <= {p.name for p in YAMLS}


@pytest.mark.parametrize("path", YAMLS, ids=[p.stem for p in YAMLS])
def test_scenario_loads_and_runs_ten_steps(path: Path) -> None:
    missing = _missing_files(path)
    if missing:
        pytest.skip(f"{path.name} needs data files that are absent: {', '.join(map(str, missing))}")
    for env_id in vpp_gym.TASKS:  # a scenario YAML merges over any task
        _run_ten_steps_per_split(gym.make(env_id, config=str(path)))


def _run_ten_steps_per_split(env: gym.Env) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        obs, _ = env.reset(seed=1, options={"split": split})
        for _ in range(10):
            assert env.observation_space.contains(obs)
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(action)
            assert np.isfinite(reward) and not terminated and not truncated


def _leaves(mapping: Any, prefix: str = "") -> set[str]:
    """Dotted keys of every leaf (a null or a scalar) of a nested mapping."""
    if not isinstance(mapping, dict):
        return {prefix}
    return set().union(*(_leaves(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in mapping.items()))


def test_province_yaml_is_the_arbitrage_default_with_every_key_written_out() -> None:
    path = SCENARIOS / "arbitrage_province.yaml"
    from_yaml = gym.make("vpp_gym/Arbitrage-v0", config=str(path)).unwrapped.config
    default = gym.make("vpp_gym/Arbitrage-v0").unwrapped.config
    assert from_yaml == default
    assert _leaves(read_yaml(path)) == _leaves(to_mapping(default))
