"""The random search over the action head (agents/rl/search.py): its update, its candidates, and a run with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.rl.config import SearchConfig, load_experiment
from agents.rl.search import ActionHeadSearch
from vpp_gym.validation import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def _bare_search(s: SearchConfig, theta: np.ndarray, score: Any) -> ActionHeadSearch:
    """An ActionHeadSearch without a model or env: ``score(thetas) -> (C,)`` stands in for playing days."""
    search = object.__new__(ActionHeadSearch)
    search.s, search.theta, search.n_train = s, np.array(theta, dtype=float), 10
    search.rng = np.random.default_rng(0)
    search.play = lambda thetas, days, seeds: score(thetas)  # type: ignore[method-assign]
    return search


def test_one_direction_moves_twice_the_step_along_the_better_side() -> None:
    # with one direction and top 1 the profits' standard deviation is |r+ - r-| / 2, so the update is
    # 2 * step_size * sign(r+ - r-) * delta whatever the size of the profit difference
    target = np.array([3.0, -1.0, 0.5])
    s = SearchConfig(iterations=1, directions=1, top=1, sigma=0.1, step_size=0.05)
    search = _bare_search(s, np.zeros(3), lambda th: -1000.0 * ((th - target) ** 2).sum(axis=1))
    delta = np.random.default_rng(0).standard_normal((1, 3))[0]  # the search's first draw
    better = 1.0 if delta @ target > 0 else -1.0  # theta = 0: the side towards the target scores higher
    search.iterate()
    np.testing.assert_allclose(search.theta, 2 * 0.05 * better * delta)


def test_the_search_climbs_a_quadratic() -> None:
    target = np.linspace(-1.0, 1.0, 10)
    s = SearchConfig(iterations=300, directions=8, top=4, sigma=0.05, step_size=0.02)
    search = _bare_search(s, np.zeros(10), lambda th: -((th - target) ** 2).sum(axis=1))
    start = float(((search.theta - target) ** 2).sum())
    for _ in range(300):
        search.iterate()
    assert float(((search.theta - target) ** 2).sum()) < 0.01 * start


def test_bad_settings_are_errors_naming_the_key() -> None:
    from agents.rl.train import preflight

    base = ROOT / "configs" / "experiments" / "ppo_arbitrage.yaml"
    for overrides, match in (
        ({"agent.search.top": 17}, r"agent\.search\.top"),
        ({"agent.search.sigma": 0.0}, r"agent\.search\.sigma"),
        ({"agent.search.rows": []}, r"agent\.search\.rows"),
        ({"agent.search.rows": ["battery", "battery"]}, r"agent\.search\.rows"),
        ({"agent.search.iterations": 5, "agent.battery_dead_zone": 0.0, "agent.memory": "plan"}, r"agent\.search"),
        ({"agent.search.speed": 1}, r"agent\.search: unknown key 'speed'"),
    ):
        with pytest.raises(ConfigError, match=match):
            load_experiment(base, overrides)
    cfg, _ = load_experiment(base, {"agent.search.rows": ["battery", "gas"]})
    with pytest.raises(ConfigError, match=r"agent\.search\.rows: 'gas' is not an action component.*load_shift"):
        preflight(cfg)


def test_the_game_refuses_the_search() -> None:
    with pytest.raises(ConfigError, match=r"agent\.search\.iterations: got 3; the search is not offered in the game"):
        load_experiment(ROOT / "configs" / "experiments" / "ppo_game_shared.yaml", {"agent.search.iterations": 3})


SEARCH = {"iterations": 2, "directions": 2, "top": 1, "days": 2, "eval_every": 1, "sigma": 0.3, "step_size": 0.3}


@pytest.fixture
def searched(tiny_clone_run: Any) -> tuple[Any, Path]:
    return tiny_clone_run("search", battery_dead_zone=0.4, search=SEARCH)


def test_a_run_with_the_search_keeps_its_best_iterate_and_plays_what_it_scored(
    searched: tuple[Any, Path], tmp_path: Path
) -> None:
    pytest.importorskip("stable_baselines3")
    from agents.rl.artifacts import ObsNormalizer
    from agents.rl.policy import RlPolicy, load_model
    from agents.rl.train import evaluate_days, make_train_env

    cfg, run = searched
    per_iteration = 2 * 2 * 2 * 192  # 2 directions x 2 signs x 2 days x 192 steps
    curve = np.genfromtxt(run / "curve.csv", delimiter=",", names=True)
    assert list(curve["timesteps"]) == [0, 1536, 1536 + per_iteration, 1536 + 2 * per_iteration]
    assert len(set(curve["val_profit"])) == 4  # the search's iterates are other policies than its start
    meta = json.loads((run / "meta.json").read_text())
    assert meta["search"]["env_steps"] == 2 * per_iteration and meta["search"]["parameters"] == 33  # 32 + bias
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_val_profit"] == pytest.approx(float(curve["val_profit"].max()), rel=1e-12)
    # the best unit, loaded as users load it, reproduces its validation profit
    policy = RlPolicy.load(run, "best")
    rows = evaluate_days(policy.act, cfg, "val", cfg.eval.days)
    assert np.mean([r["profit"] for r in rows]) == pytest.approx(summary["best_val_profit"], rel=1e-9)

    # a candidate with the model's own rows plays what the trainer's policy plays: the same actions, and on
    # train days with given seeds the profit that evaluate_days finds for RlPolicy (days 0, 1 seeded 77, 78)
    venv = make_train_env(cfg)
    ObsNormalizer.load(run / "final").apply_to(venv)
    model = load_model("ppo", run / "final" / "model.zip", device="cpu")
    search = ActionHeadSearch(model, venv, cfg)
    final = RlPolicy.load(run, "final")
    obs = np.stack(_observations(cfg))
    np.testing.assert_allclose(search.actions(obs, np.tile(search.theta, (len(obs), 1))), final.act(obs), atol=1e-6)
    same = search.play(np.tile(search.theta, (4, 1)), np.array([0, 1]), np.array([77, 78]))  # the env's 8 sub-envs
    assert np.all(same == same[0])  # common random numbers: the same candidate, the same days and draws
    direct = evaluate_days(final.act, cfg, "train", 2, seed=77)
    # (the candidates' head is an einsum, the model's a Linear layer: float32 rounding apart, the same profit)
    assert same[0] == pytest.approx(np.mean([r["profit"] for r in direct]), rel=1e-7)
    search.close()


def _observations(cfg: Any) -> list[np.ndarray]:
    """Observations of a bid step and of dispatch steps of a train day."""
    import gymnasium as gym

    env = gym.make(cfg.env_id, split="train")
    obs, _ = env.reset(seed=3, options={"day": 1})
    out = [obs]
    for _ in range(120):
        obs, *_ = env.step(env.action_space.sample() * 0)
        out.append(obs)
    return out[::10]


def test_a_run_stopped_inside_the_search_resumes_to_what_an_uninterrupted_run_finds(
    searched: tuple[Any, Path], tiny_clone_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("stable_baselines3")
    from agents.rl import search as search_module
    from agents.rl.train import TrainingInterrupted, resume

    _cfg, whole = searched
    calls = {"n": 0}
    original = search_module.ActionHeadSearch.iterate

    def stop_in_the_second(self: ActionHeadSearch) -> dict[str, float]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(search_module.ActionHeadSearch, "iterate", stop_in_the_second)
    with pytest.raises(TrainingInterrupted, match="--resume"):
        tiny_clone_run("stopped", battery_dead_zone=0.4, search=SEARCH)
    monkeypatch.setattr(search_module.ActionHeadSearch, "iterate", original)
    stopped = whole.parent / "stopped"
    resume(stopped, progress=False)
    keys = ("num_timesteps", "best_val_profit", "best_timesteps")
    a, b = (json.loads((r / "summary.json").read_text()) for r in (whole, stopped))
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    rows = [np.genfromtxt(r / "curve.csv", delimiter=",", names=True) for r in (whole, stopped)]
    np.testing.assert_array_equal(rows[0]["timesteps"], rows[1]["timesteps"])
    np.testing.assert_array_equal(rows[0]["val_profit"], rows[1]["val_profit"])
