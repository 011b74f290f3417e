"""Every committed experiment config loads, names an existing task and fits its validation split."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

from agents.rl.config import ExperimentConfig, load_experiment, parse_cli_overrides
from vpp_gym.validation import ConfigError

ROOT = Path(__file__).resolve().parents[3]
ALL_CONFIGS = sorted([*(ROOT / "configs" / "experiments").glob("*.yaml"), *(ROOT / "configs" / "quick").glob("*.yaml")])
CONFIGS = [p for p in ALL_CONFIGS if not p.stem.startswith("rllib_")]  # SB3 configs
RLLIB_CONFIGS = [p for p in ALL_CONFIGS if p.stem.startswith("rllib_")]  # multi-agent RLlib configs


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_committed_experiment_configs_are_valid(path: Path) -> None:
    cfg, _ = load_experiment(path)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.name == path.stem
    assert cfg.algo == path.stem.split("_")[0]
    if cfg.game is not None:  # trained in the market game: the learner's seat
        pytest.importorskip("pettingzoo")
        from agents.rl.seats import make_game

        env = make_game(cfg, batched=False).envs[cfg.game.seat]
    else:
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


def _numeric_fields(cls: type) -> list[tuple[str, type]]:
    import types
    import typing

    out = []
    for name, tp in typing.get_type_hints(cls).items():
        args = set(typing.get_args(tp)) if typing.get_origin(tp) in (typing.Union, types.UnionType) else {tp}
        kind = float if float in args else int if int in args else None
        if kind is not None:
            out.append((name, kind))
    return out


def _experiment_cases() -> list[tuple[type, str, type]]:
    from agents.evaluate import EvaluationConfig, MpcSettings
    from agents.rl.config import EvalConfig, NormalizeConfig, PpoConfig, SacConfig, TrainConfig

    classes = (ExperimentConfig, PpoConfig, SacConfig, TrainConfig, NormalizeConfig, EvalConfig)
    return [(cls, n, k) for cls in (*classes, EvaluationConfig, MpcSettings) for n, k in _numeric_fields(cls)]


@pytest.mark.parametrize(
    ("cls", "name", "kind"), _experiment_cases(), ids=[f"{c.__name__}.{n}" for c, n, _ in _experiment_cases()]
)
def test_every_numeric_experiment_and_evaluation_key_has_an_upper_bound(cls: type, name: str, kind: type) -> None:
    import dataclasses

    base = cls(name="x", env_id="vpp_gym/Arbitrage-v0", algo="ppo") if cls is ExperimentConfig else cls()
    with pytest.raises(ConfigError, match=rf"{name}: got "):
        dataclasses.replace(base, **{name: 1e308 if kind is float else 10**30})


def test_experiment_seeds_fit_what_sb3_seeds() -> None:
    # SB3 seeds NumPy's legacy generator, which takes seeds below 2**32: a larger one crashed the training
    base = {"name": "x", "env_id": "vpp_gym/Arbitrage-v0", "algo": "ppo"}
    load_experiment(mapping={**base, "seed": 2**32 - 1})
    with pytest.raises(ConfigError, match=r"seed: got 4294967296, expected an integer in \[0, 4294967295\]"):
        load_experiment(mapping={**base, "seed": 2**32})
    with pytest.raises(ConfigError, match=r"agent\.ent_coef"):
        load_experiment(mapping={**base, "algo": "sac", "agent": {"ent_coef": "auto_inf"}})


def test_experiment_keys_without_effect_are_reported() -> None:
    from vpp_gym.validation import ConfigWarning

    base = {"name": "x", "env_id": "vpp_gym/Arbitrage-v0", "algo": "sac"}
    with pytest.warns(ConfigWarning, match=r"agent\.demo_policy = 'oracle' has no effect: agent\.demo_episodes is 0"):
        load_experiment(mapping={**base, "agent": {"demo_policy": "oracle"}})
    with pytest.warns(ConfigWarning, match=r"normalize\.clip_obs = 5\.0 has no effect: normalize\.obs is false"):
        load_experiment(mapping={**base, "normalize": {"obs": False, "clip_obs": 5.0}})


@pytest.mark.filterwarnings("error::vpp_gym.validation.ConfigWarning")
@pytest.mark.parametrize("path", RLLIB_CONFIGS, ids=[p.stem for p in RLLIB_CONFIGS])
def test_committed_rllib_configs_are_valid(path: Path) -> None:
    from agents.rl.rllib import is_rllib_config, load_game_experiment, make_game

    assert is_rllib_config(path, {})
    cfg, _ = load_game_experiment(path)
    assert cfg.name == path.stem and cfg.algo == "rllib"
    pytest.importorskip("pettingzoo")
    game = make_game(cfg, split=cfg.eval.split)
    assert cfg.eval.days <= len(game.envs[0].episode_starts[cfg.eval.split])


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_committed_experiment_configs_set_no_key_without_effect(path: Path) -> None:
    load_experiment(path)
