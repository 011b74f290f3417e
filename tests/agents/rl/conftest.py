"""Shared helpers of the RL tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def tiny_clone_run(tmp_path: Path) -> Any:
    """A function ``(name, **agent) -> (config, run folder)`` that trains a tiny PPO run on Arbitrage-v1 (a clone
    of 8 rule episodes, 1,536 steps, validated once on 2 days) with the extra ``agent`` keys, from a YAML file,
    into the folder ``name`` of the test's temporary folder."""

    def run(name: str, **agent: Any) -> tuple[Any, Path]:
        import yaml

        from agents.rl.config import load_experiment
        from agents.rl.train import train

        cfg_text = {
            "name": name,
            "env_id": "vpp_gym/Arbitrage-v1",
            "algo": "ppo",
            "seed": 2,
            "agent": {
                "n_steps": 192,
                "batch_size": 512,
                "n_epochs": 1,
                "net_arch": [32, 32],
                "log_std_init": -3.0,
                "bc_episodes": 8,
                "bc_policy": "rule",
                "bc_epochs": 3,
                **agent,
            },
            "train": {"total_timesteps": 1536, "n_envs": 8, "eval_every_steps": 1536, "checkpoint_every_steps": 0},
            "eval": {"days": 2},
        }
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg_text))
        cfg, _ = load_experiment(tmp_path / f"{name}.yaml")
        return cfg, train(cfg, tmp_path / name, base_dir=tmp_path, progress=False)

    return run
