"""SB3 training in the market game (an experiment config's ``game`` section): :mod:`agents.rl.seats`.

The seats' vector env is checked against the game stepped by hand; a run trained in the game (each way of
learning) is checked against :func:`agents.game.play` with the run in its seat, on the days and seeds of the
run's own validation. Short episodes (60-minute intervals) keep it fast.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytest.importorskip("pettingzoo")
pytest.importorskip("stable_baselines3")

from agents.game import play
from agents.rl.config import EVAL_SEED, load_experiment
from agents.rl.seats import SeatsVecEnv
from vpp_gym.multi import MultiVppEnv
from vpp_gym.validation import ConfigError

ROOT = Path(__file__).resolve().parents[3]
TASK = "vpp_gym/Arbitrage-v1"
HOURLY = {"time.interval_minutes": 60}


def _rollout(venv: SeatsVecEnv, steps: int, seed: int) -> list[tuple[Any, ...]]:
    venv.seed(seed)
    out: list[tuple[Any, ...]] = [(venv.reset(),)]
    rng = np.random.default_rng(7)
    for _ in range(steps):
        actions = rng.uniform(-1, 1, (venv.num_envs, *venv.action_space.shape)).astype(np.float32)
        venv.step_async(actions)
        out.append((actions, *venv.step_wait()))
    return out


@pytest.mark.parametrize("batched", [False, True])
def test_seats_vec_env_is_the_game_stepped_by_hand(batched: bool) -> None:
    """Two games of two seats for two episodes each: every seat's observation, reward, end and episode totals
    are those of the games reset with the seeds drawn from the vector env's generator and stepped by hand;
    the batched core gives the same arrays as single cores."""
    venv = SeatsVecEnv(lambda: MultiVppEnv(TASK, 2, overrides=HOURLY, batched=batched), 2)
    steps = 2 * 48  # two hourly days: 24 bid steps and 24 dispatch steps each
    got = _rollout(venv, steps, seed=11)

    seeds = np.random.default_rng(11)
    games = [MultiVppEnv(TASK, 2, overrides=HOURLY, batched=False) for _ in range(2)]
    obs = [g.reset(seed=int(seeds.integers(2**31)))[0] for g in games]
    np.testing.assert_array_equal(got[0][0], np.stack([o[a] for o in obs for a in ("vpp_0", "vpp_1")]))
    profit = np.zeros(4)
    ends = 0
    for actions, v_obs, v_rew, v_done, v_infos in got[1:]:
        for k, game in enumerate(games):
            acts = {a: actions[2 * k + i] for i, a in enumerate(("vpp_0", "vpp_1"))}
            o, r, term, _trunc, infos = game.step(acts)
            for i, a in enumerate(("vpp_0", "vpp_1")):
                j = 2 * k + i
                assert v_rew[j] == np.float32(r[a])
                profit[j] += infos[a]["profit"]
                assert v_done[j] == term[a]
                if term[a]:
                    np.testing.assert_array_equal(v_infos[j]["terminal_observation"], o[a])
                    assert v_infos[j]["episode_totals"]["profit"] == pytest.approx(profit[j], rel=1e-12)
                    assert v_infos[j]["TimeLimit.truncated"] is False
                    profit[j] = 0.0
                    ends += 1
            if term["vpp_0"]:
                o = game.reset(seed=int(seeds.integers(2**31)))[0]
            np.testing.assert_array_equal(v_obs[2 * k : 2 * k + 2], np.stack([o["vpp_0"], o["vpp_1"]]))
    assert ends == 8  # 2 games x 2 seats x 2 episodes
    assert venv.get_attr("observation_names")[0] == games[0].envs[0].observation_names
    with pytest.raises(AttributeError, match="no sub-env attribute 'foo'"):
        venv.get_attr("foo")


BASE: dict[str, Any] = {
    "name": "g",
    "env_id": TASK,
    "algo": "ppo",
    "overrides": HOURLY,
    "agent": {"n_steps": 48, "batch_size": 96, "n_epochs": 1, "net_arch": [16]},
    "train": {"total_timesteps": 192, "n_envs": 2, "vec_env": "dummy", "eval_every_steps": 96},
    "eval": {"days": 2},
}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"game": {"n_agents": 2, "learners": "one"}}, r"game\.rivals: .*registered name"),
        ({"game": {"n_agents": 2, "learners": "shared", "rivals": "mpc"}}, r"game\.rivals: .*null with learners"),
        ({"game": {"n_agents": 2, "learners": "all"}}, r"game\.learners: got 'all', expected one of 'one', 'shared'"),
        ({"game": {"n_agents": 1, "learners": "shared"}}, r"game\.n_agents"),
        ({"game": {"n_agents": 2, "seat": 2, "rivals": "rule"}}, r"game\.seat"),
        ({"game": {"n_agents": 2, "rivals": "rule", "colour": 1}}, r"colour"),
        (
            {"game": {"n_agents": 2, "rivals": "rule"}, "train": {**BASE["train"], "vec_env": "native"}},
            r"train\.vec_env: .*dummy with game\.learners: one",
        ),
        (
            {"game": {"n_agents": 4, "learners": "shared"}, "train": {**BASE["train"], "n_envs": 6}},
            r"train\.n_envs: got 6, expected a multiple of game\.n_agents \(4\)",
        ),
        ({"game": {"n_agents": 2, "rivals": "rule"}, "algo": "sac", "agent": {}}, r"algo: .*SAC is not offered"),
        (
            {"game": {"n_agents": 2, "rivals": "rule"}, "agent": {**BASE["agent"], "dagger_rounds": 1}},
            r"agent\.dagger_rounds: got 1; DAgger is not offered in the game",
        ),
        (
            {"game": {"n_agents": 2, "rivals": "rule"}, "agent": {**BASE["agent"], "battery_dead_zone": 0.4}},
            r"agent\.battery_dead_zone: got 0\.4; the dead zone is not offered in the game",
        ),
    ],
)
def test_bad_game_sections_name_the_key(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_experiment(mapping={**BASE, **changes})


def test_rivals_are_resolved_against_the_config_folder_and_errors_name_game_rivals(tmp_path: Path) -> None:
    from agents.rl.seats import make_view
    from agents.rl.train import resolve

    cfg, _ = load_experiment(
        mapping={**BASE, "game": {"n_agents": 3, "rivals": {"vpp_1": "../runs/a", "vpp_2": "mpc"}}}
    )
    got = resolve(cfg, tmp_path / "configs")
    assert got.game is not None and got.game.rivals == {"vpp_1": str(tmp_path / "runs" / "a"), "vpp_2": "mpc"}
    cfg, _ = load_experiment(mapping={**BASE, "game": {"n_agents": 2, "rivals": {"name": "ppo", "run": "r"}}})
    assert resolve(cfg, tmp_path).game.rivals == {"name": "ppo", "run": str(tmp_path / "r")}  # type: ignore[union-attr]
    cfg, _ = load_experiment(mapping={**BASE, "game": {"n_agents": 2, "rivals": "nope"}})
    with pytest.raises(ConfigError, match=r"^game\.rivals\.vpp_1: unknown policy '.*nope' \(and no such folder\)"):
        make_view(resolve(cfg, tmp_path))


def _curve(run: Path) -> list[dict[str, float]]:
    with (run / "curve.csv").open() as fh:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]


@pytest.mark.rl
@pytest.mark.parametrize("learners", ["one", "shared"])
def test_a_run_trained_in_the_game_plays_its_seat_as_validated(tmp_path: Path, learners: str) -> None:
    """``vpp-gym train`` with a game section (rule clone, then PPO) end to end; the best unit, played by
    :func:`play` in the learner's seat (against the rule rivals, or in every seat) on the validation days with
    the validation seeds, makes the profit the run recorded for it."""
    game = {"n_agents": 2, "learners": learners, "seat": 1}
    if learners == "one":
        game["rivals"] = "rule"
    cfg = {
        **BASE,
        "agent": {**BASE["agent"], "bc_episodes": 2, "bc_policy": "rule", "bc_epochs": 2, "log_std_init": -2.0},
        "game": game,
    }
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [sys.executable, "-m", "agents.cli", "train", "g.yaml", "--out", "run", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    best = max(_curve(run), key=lambda row: row["val_profit"])
    multi = MultiVppEnv(TASK, 2, overrides=HOURLY, batched=False, split="val")
    policies = ["rule", str(run)] if learners == "one" else [str(run), str(run)]
    profits = [
        play(multi, policies, seed=EVAL_SEED + e, options={"split": "val", "day": e}).profits["vpp_1"] for e in range(2)
    ]
    assert float(np.mean(profits)) == pytest.approx(best["val_profit"], rel=1e-6, abs=1e-6)
    # the final unit (the model after the last update) as a mapping with its unit: the loaded final model
    from agents.rl.policy import RlPolicy

    final = {"name": "ppo", "run": str(run), "unit": "final"}
    loaded = RlPolicy.load(run, "final")
    assert play(multi, ["rule", final], seed=3).rewards == play(multi, ["rule", loaded], seed=3).rewards
    # alone in its single env it would meet none of its rivals: vpp-gym evaluate refuses it
    import gymnasium as gym

    from agents.registry import make_policy

    with pytest.raises(ConfigError, match="trained in the market game"):
        make_policy("ppo", gym.make(TASK, overrides=HOURLY), run=str(run))
    for bad, match in [
        ({"unit": "last"}, r"policies\.vpp_1\.unit='last': expected best"),
        ({"module": "x"}, "not 'module'"),
    ]:
        with pytest.raises(ConfigError, match=match):
            play(multi, ["rule", {**final, **bad}], seed=0)
