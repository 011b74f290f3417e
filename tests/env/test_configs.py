"""The scenario YAMLs under configs/scenarios load and run; the province one is the task default written out."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml

import vpp_gym
from vpp_gym import config as config_module
from vpp_gym.config import find_config, packaged_config, read_yaml
from vpp_gym.validation import from_mapping, to_mapping

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


def _param(path: Path) -> Any:
    """A scenario YAML as a test parameter; one built from files (the real data beside the checkout) is realdata."""
    files_based = (read_yaml(path).get("data") or {}).get("source") == "files"
    return pytest.param(path, id=path.stem, marks=[pytest.mark.realdata] if files_based else [])


@pytest.mark.parametrize("path", [_param(p) for p in YAMLS])
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
    from_yaml = gym.make("vpp_gym/Arbitrage-v1", config=str(path)).unwrapped.config
    default = gym.make("vpp_gym/Arbitrage-v1").unwrapped.config
    assert from_yaml == default
    assert _leaves(read_yaml(path)) == _leaves(to_mapping(default))


@pytest.mark.parametrize("env_id", ["vpp_gym/Regulation-v1", "vpp_gym/Joint-v1", "vpp_gym/Joint-v0"])
def test_resolved_config_round_trips(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    again = gym.make(env_id, config=env.config).unwrapped
    assert again.config == env.config


def test_the_module_docstring_example_has_only_real_keys() -> None:
    example = re.search(r"```yaml\n(.*?)```", config_module.__doc__ or "", re.S)
    assert example is not None
    text = example.group(1).replace("{...}", "{}").replace(", ...}", "}")
    mapping = yaml.safe_load(text)
    sections = typing.get_type_hints(config_module.ScenarioConfig)
    assert set(mapping) == set(sections)
    for section, keys in mapping.items():
        if isinstance(keys, dict):  # every key the example names is a field of that section
            assert set(keys) <= {f.name for f in dataclasses.fields(sections[section])}, section
    for section in ("time", "forecast", "reward"):  # the sections it gives in full are valid
        from_mapping(sections[section], mapping[section], section)


def test_packaged_configs_are_found_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shipped = packaged_config("markets/autonomous.yaml")
    assert shipped.is_absolute() and shipped.is_file()
    assert packaged_config("configs/experiments").is_dir()
    with pytest.raises(FileNotFoundError, match=r"ships no config 'markets/nope\.yaml'"):
        packaged_config("markets/nope.yaml")
    with pytest.raises(ValueError, match="below configs/"):
        packaged_config("configs")
    # a user's path: the working directory first, then the shipped copy of a configs/... path
    assert find_config("configs/markets/autonomous.yaml") == shipped
    mine = tmp_path / "configs" / "markets" / "autonomous.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("name: mine\n")
    assert find_config("configs/markets/autonomous.yaml") == Path("configs/markets/autonomous.yaml")
    assert find_config("elsewhere/x.yaml") == Path("elsewhere/x.yaml")  # left for the caller's error
