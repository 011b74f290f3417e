"""experiments/market_game.py: the line-ups it plays are agents.game.play's episodes on the test days; its price
comparison with the competitive reference; a run folder it cannot use is named."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

pytest.importorskip("pettingzoo")

from agents.game import play
from vpp_gym.multi import MultiVppEnv
from vpp_gym.validation import ConfigError


@pytest.fixture(scope="module")
def script(experiment_script: Callable[[str], ModuleType]) -> ModuleType:
    return experiment_script("market_game")


def test_rows_are_the_games_played_on_the_test_days(script: ModuleType, tmp_path: Path) -> None:
    env = "vpp_gym/Arbitrage-v1"
    args = ["--env", env, "--agents", "2", "--episodes", "2", "--lineups", "rule", "--out", str(tmp_path)]
    assert script.main(args) == 0
    with (tmp_path / "market_game.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["day"], r["agent"]) for r in rows] == [("0", "vpp_0"), ("0", "vpp_1"), ("1", "vpp_0"), ("1", "vpp_1")]
    game = MultiVppEnv(env, 2, batched=False, split="test")
    for day in (0, 1):
        res = play(game, ["rule", "rule"], seed=script.SEED + day, options={"split": "test", "day": day})
        for r in rows[2 * day : 2 * day + 2]:
            assert float(r["profit"]) == pytest.approx(res.profits[r["agent"]], rel=1e-5)
            assert float(r["cleared_price"]) == pytest.approx(float(np.mean(res.prices)), rel=1e-5)
    assert "| rule |" in (tmp_path / "market_game.md").read_text()


def test_seat_policies_and_the_paired_interval(script: ModuleType) -> None:
    assert script.seat_policies(["rule", "mpc"], 4) == ["rule", "mpc", "mpc", "mpc"]
    assert script.seat_policies("mpc", 2) == ["mpc", "mpc"]
    mean, lo, hi = script.paired_interval(np.array([1.0, 3.0]))
    assert mean == 2.0 and 1.0 <= lo <= 2.0 <= hi <= 3.0
    assert script.paired_interval(np.full(5, 4.0)) == (4.0, 4.0, 4.0)


def test_a_folder_that_is_no_run_is_named(script: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--shared .*nope: not a run folder"):
        script.main(["--shared", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])


def test_a_run_is_played_only_as_it_was_trained(script: ModuleType, tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "meta.json").write_text('{"seeds": {"agent": 7}}')
    game = {"n_agents": 4, "learners": "shared", "seat": 0, "rivals": None}
    (run / "config.yaml").write_text(yaml.safe_dump({"env_id": "vpp_gym/Joint-v1", "game": game}))
    assert script.check_run(str(run), "shared", "vpp_gym/Joint-v1", 4) == 7
    with pytest.raises(ConfigError, match=r"--vs-mpc .*trained with game .*not as this line-up plays it"):
        script.check_run(str(run), "vs_mpc", "vpp_gym/Joint-v1", 4)
    with pytest.raises(ConfigError, match=r"trained in a game of 4 VPPs of vpp_gym/Joint-v1, not of 3"):
        script.check_run(str(run), "shared", "vpp_gym/Joint-v1", 3)
