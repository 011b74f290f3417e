"""Every committed experiment config loads, names an existing task and fits its validation split."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

from agents.rl.config import ExperimentConfig, load_experiment, parse_cli_overrides
from vpp_gym.validation import ConfigError

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = sorted([*(ROOT / "configs" / "experiments").glob("*.yaml"), *(ROOT / "configs" / "quick").glob("*.yaml")])


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_committed_experiment_configs_are_valid(path: Path) -> None:
    cfg, _ = load_experiment(path)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.name == path.stem
    assert cfg.algo == path.stem.split("_")[0]
    env = gym.make(cfg.env_id, config=cfg.scenario, overrides=cfg.overrides).unwrapped
    assert cfg.eval.days <= len(env.episode_starts[cfg.eval.split])  # type: ignore[attr-defined]


def test_cli_override_values_are_read_as_yaml_with_numbers_in_python_notation() -> None:
    assert parse_cli_overrides(
        [
            "agent.learning_rate=1e-4",
            "seed=3",
            "agent.net_arch=[64, 64]",
            "normalize.obs=false",
            "agent.ent_coef=auto",
            "scenario=null",
        ]
    ) == {
        "agent.learning_rate": 1e-4,
        "seed": 3,
        "agent.net_arch": [64, 64],
        "normalize.obs": False,
        "agent.ent_coef": "auto",
        "scenario": None,
    }
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_cli_overrides(["=3"])


def test_sac_entropy_settings_take_numbers_and_auto() -> None:
    path = ROOT / "configs" / "experiments" / "sac_arbitrage.yaml"
    cfg, _ = load_experiment(path, parse_cli_overrides(["agent.ent_coef=0.01", "agent.target_entropy=-3"]))
    assert cfg.agent.ent_coef == 0.01 and cfg.agent.target_entropy == -3.0  # type: ignore[union-attr]
    cfg, _ = load_experiment(path, parse_cli_overrides(["agent.ent_coef=auto_0.1"]))
    assert cfg.agent.ent_coef == "auto_0.1"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"agent\.ent_coef"):
        load_experiment(path, parse_cli_overrides(["agent.ent_coef='0.01'"]))  # quoted: text, not a number
