"""Multi-agent PPO through RLlib on the market game: config errors, a 2-iteration run, its records, resume,
and its checkpointed policies replayed in the game and in the single env."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from agents.cli import main
from vpp_gym.validation import ConfigError

pytestmark = pytest.mark.rl

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "experiments" / "rllib_ppo_game.yaml"
TINY = [
    "train.iterations=2",
    "train.eval_every=2",
    "train.checkpoint_every=1",
    "agent.train_batch_size=96",
    "agent.minibatch_size=48",
    "agent.num_epochs=1",
    "agent.net_arch=[16]",
    "eval.days=1",
    "overrides={time.interval_minutes: 60}",
]


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    from agents.rl.rllib import load_game_experiment

    cfg, _ = load_game_experiment(CONFIG)
    assert (cfg.algo, cfg.n_agents, cfg.policies) == ("rllib", 2, "shared")
    for override, message in [
        ({"agent.lrr": 1e-4}, "lrr"),
        ({"policies": "mixed"}, "policies"),
        ({"overrides": [{}, {}, {}]}, "overrides: a list of 3 mappings for 2 agents"),
        ({"agent.minibatch_size": 5000}, "agent.minibatch_size"),
        ({"eval.split": "test"}, "eval.split"),
    ]:
        with pytest.raises(ConfigError, match=None) as err:
            load_game_experiment(CONFIG, override)
        assert message in str(err.value)


def _curve(run: Path) -> list[dict[str, str]]:
    with (run / "curve.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_train_resume_and_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray.rllib")
    from agents.game import play
    from agents.rl.rllib import EVAL_SEED, RllibPolicy
    from vpp_gym.multi import MultiVppEnv

    monkeypatch.chdir(tmp_path)
    assert main(["train", str(CONFIG), "--out", "R", "--no-progress", *TINY]) == 0
    run = tmp_path / "R"
    meta = json.loads((run / "meta.json").read_text())
    assert meta["algo"] == "rllib" and meta["n_agents"] == 2 and "ray" in meta["versions"]
    assert not (run / "INCOMPLETE").exists() and (run / "summary.json").is_file()
    rows = _curve(run)
    assert [int(r["iteration"]) for r in rows] == [1, 2] and rows[0]["val_profit"] == ""
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["iterations"] == 2
    # the checkpointed policy, replayed by agents.game.play on the validation day: the curve's figures
    game = MultiVppEnv("vpp_gym/Arbitrage-v1", n_agents=2, overrides={"time.interval_minutes": 60}, batched=False)
    seats = [{"name": "rllib", "run": str(run)}] * 2
    result = play(game, seats, seed=EVAL_SEED, options={"split": "val", "day": 0})
    for agent in ("vpp_0", "vpp_1"):
        assert result.profits[agent] == pytest.approx(float(rows[1][f"val_profit_{agent}"]), rel=1e-9, abs=1e-6)
    # continue to a third iteration
    assert main(["train", "--resume", "R", "train.iterations=3", "--no-progress"]) == 0
    rows = _curve(run)
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3] and rows[2]["val_profit"] != ""
    assert int(rows[2]["env_steps"]) > int(rows[1]["env_steps"])
    assert json.loads((run / "meta.json").read_text())["resumed"][0]["at_iteration"] == 2
    with pytest.raises(ConfigError, match=r"checkpoint is at iteration 3"):
        from agents.rl.rllib import extend_iterations, read_run_config

        extend_iterations(run, read_run_config(run), 3)
    # the seat's policy in the single env of the same config (vpp-gym evaluate --policies rllib=RUN)
    from vpp_gym.config import packaged_config

    evaluation = {
        "env_id": "vpp_gym/Arbitrage-v1",
        "scenario": str(packaged_config("markets/autonomous.yaml")),
        "overrides": {"time.interval_minutes": 60},
        "split": "val",
        "episodes": 1,
    }
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump(evaluation))
    code = main(["evaluate", "--config", "eval.yaml", "--policies", "passive,rllib=R", "--out", "E"])
    assert code == 0 and any((tmp_path / "E").iterdir())
    policy = RllibPolicy.load(run)
    assert policy.n_actions == game.action_space("vpp_0").shape[0]
    # the seat's own layout loads; the same sizes with other rows are refused by name
    seat = game.envs[0]
    RllibPolicy.load(run, env=seat)
    swapped = SimpleNamespace(
        observation_names=(*seat.observation_names[1:], seat.observation_names[0]),
        action_names=seat.action_names,
        observation_space=seat.observation_space,
        action_space=seat.action_space,
    )
    with pytest.raises(ConfigError, match="another observation or action layout"):
        RllibPolicy.load(run, env=swapped)
    # a stop between the checkpoint's two renames: the complete copy is recovered at the next resume
    (run / "checkpoint").rename(run / "checkpoint.old")
    (run / "INCOMPLETE").write_text("x")
    assert main(["train", "--resume", "R", "train.iterations=4", "--no-progress"]) == 0
    assert (run / "checkpoint" / "vpp_gym_state.json").is_file() and not (run / "checkpoint.old").exists()


def test_bad_scenario_is_found_before_the_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pettingzoo")
    code = main(["train", str(CONFIG), "--out", str(tmp_path / "R"), "overrides={no_such_key: 1}"])
    assert code == 2 and "no_such_key" in capsys.readouterr().err
    assert not (tmp_path / "R").exists()
