"""Train / validation / test splits by date: hand-worked day indices, explicit dates, reset options, long episodes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym.validation import ConfigError

ENV_ID = "vpp_gym/Arbitrage-v0"
FIRST_DAY = dt.date(2025, 1, 1)  # default synthetic scenario: 365 days from 2025-01-01, 15-min steps


def _start_days(env: gym.Env, split: str) -> list[int]:
    """Day index (0 = 2025-01-01) of every episode start of a split; each start must be a midnight."""
    u = env.unwrapped
    stamps = u.series.timestamps[u.episode_starts[split]]
    assert np.all(stamps == stamps.astype("datetime64[D]")), f"{split}: a start row is not at 00:00"
    return [(d - FIRST_DAY).days for d in stamps.astype("datetime64[D]").tolist()]


def _date(day_index: int) -> str:
    return (FIRST_DAY + dt.timedelta(days=day_index)).isoformat()


def test_default_fractions_give_the_hand_worked_days() -> None:
    env = gym.make(ENV_ID)
    days = {s: _start_days(env, s) for s in ("train", "val", "test")}
    # 365 days: train 0.7 * 365 = 255.5 -> round() of the float 255.49999999999997 = 255 days (0 .. 254);
    # val ends at round(0.85 * 365 = 310.25) = 310, so val is days 255 .. 309 (55) and test 310 .. 364 (55).
    assert days["train"] == list(range(0, 255))
    assert days["val"] == list(range(255, 310))
    assert days["test"] == list(range(310, 365))
    # day 255 is 2025-09-13 (Sep 1 is day 243), day 310 is 2025-11-07 (Nov 1 is day 304)
    assert (_date(255), _date(310), _date(364)) == ("2025-09-13", "2025-11-07", "2025-12-31")
    # disjoint and ordered by date
    assert max(days["train"]) < min(days["val"]) and max(days["val"]) < min(days["test"])
    assert env.unwrapped.episode_starts["train"][0] == 0
    assert env.unwrapped.episode_starts["val"][0] == 255 * 96


EXPLICIT = {"val_start": "2025-06-01", "test_start": "2025-10-01"}


def _check_explicit_boundaries(env: gym.Env) -> None:
    # 2025-06-01 is day 151 (Jan 31 + Feb 28 + Mar 31 + Apr 30 + May 31), 2025-10-01 is day 273
    assert (_date(151), _date(273)) == ("2025-06-01", "2025-10-01")
    assert _start_days(env, "train") == list(range(0, 151))
    assert _start_days(env, "val") == list(range(151, 273))
    assert _start_days(env, "test") == list(range(273, 365))


def test_explicit_dates_move_the_boundaries() -> None:
    _check_explicit_boundaries(gym.make(ENV_ID, data={"splits": EXPLICIT}))
    # only val_start: test keeps its fraction boundary (day 310)
    env = gym.make(ENV_ID, data={"splits": {"val_start": "2025-06-01"}})
    assert _start_days(env, "val") == list(range(151, 310))
    assert _start_days(env, "test") == list(range(310, 365))


def test_unquoted_yaml_dates_work(tmp_path: Path) -> None:
    path = tmp_path / "splits.yaml"
    # unquoted: yaml.safe_load reads these as datetime.date, not str
    path.write_text("data:\n  splits:\n    val_start: 2025-06-01\n    test_start: 2025-10-01\n", encoding="utf-8")
    env = gym.make(ENV_ID, config=str(path))
    assert env.unwrapped.config.data.splits.val_start == "2025-06-01"
    assert env.unwrapped.config.data.splits.test_start == "2025-10-01"
    _check_explicit_boundaries(env)


def test_reset_with_split_only_draws_days_of_that_split() -> None:
    env = gym.make(ENV_ID)
    seen: dict[str, set[str]] = {}
    for split, first, last in [("test", "2025-11-07", "2025-12-31"), ("val", "2025-09-13", "2025-11-06")]:
        seen[split] = set()
        for seed in range(150):
            _, info = env.reset(seed=seed, options={"split": split})
            day = info["start"][:10]
            assert first <= day <= last, (split, seed, info)
            assert info["start"][10:].startswith("T00:00:00")
            assert info["split"] == split
            seen[split].add(day)
        # 150 draws from 55 days: about 55 * (1 - exp(-150 / 55)) = 51 distinct days expected
        assert len(seen[split]) >= 40
    # the default split is train
    for seed in range(30):
        _, info = env.reset(seed=seed)
        assert info["split"] == "train" and info["start"][:10] <= "2025-09-12"


def test_two_day_episodes_never_cross_a_split_boundary() -> None:
    env = gym.make(ENV_ID, time={"episode_hours": 48})
    u = env.unwrapped
    T = u.params.episode_steps
    assert T == 192
    # the boundaries stay at days 255 and 310; a start needs its next day inside the same split
    assert _start_days(env, "train") == list(range(0, 254))
    assert _start_days(env, "val") == list(range(255, 309))
    assert _start_days(env, "test") == list(range(310, 364))
    bounds = {"train": (0, 255 * 96), "val": (255 * 96, 310 * 96), "test": (310 * 96, 365 * 96)}
    for split, (lo, hi) in bounds.items():
        rows = u.episode_starts[split]
        assert np.all(rows >= lo) and np.all(rows + T <= hi), split
    # the last train episode ends exactly at the val boundary and runs to termination
    _, info = env.reset(seed=0, options={"split": "train", "day": 253})
    assert info["start"][:10] == "2025-09-11"
    steps, terminated = 0, False
    while not terminated:
        *_, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
        assert not truncated
        steps += 1
    assert steps == 192
    assert int(u._episode.start[0]) + T == 255 * 96


def test_day_as_iso_date_selects_that_day() -> None:
    env = gym.make(ENV_ID)
    _, info = env.reset(seed=0, options={"split": "val", "day": "2025-10-01"})
    # val starts on day 255 (2025-09-13); 2025-10-01 is day 273, i.e. the 18th val day
    assert info["start"].startswith("2025-10-01T00:00:00")
    assert info["day_index"] == 18
    assert int(env.unwrapped._episode.start[0]) == 273 * 96
    _, info = env.reset(seed=5, options={"split": "val", "day": dt.date(2025, 10, 1)})
    assert info["day_index"] == 18
    _, info = env.reset(seed=1, options={"split": "test", "day": 0})
    assert info["start"].startswith("2025-11-07")
    with pytest.raises(ValueError, match="not an episode day of the 'test' split"):
        env.reset(options={"split": "test", "day": "2025-10-01"})


# -- issue 16: a split may be empty while it is not used -------------------------------------------------


def test_a_one_year_scenario_may_have_a_year_long_test_split_only() -> None:
    env = gym.make(
        ENV_ID, time={"episode_hours": 8760.0}, data={"splits": {"train_frac": 0.0, "val_frac": 0.0}}
    ).unwrapped
    assert len(env.episode_starts["train"]) == 0 and len(env.episode_starts["val"]) == 0
    assert len(env.episode_starts["test"]) == 1
    _obs, info = env.reset(seed=0, options={"split": "test"})
    assert info["start"].startswith("2025-01-01") and env.params.episode_steps == 365 * 96
    env.step(env.action_space.sample())
    with pytest.raises(ConfigError, match=r"data\.splits: the 'train' split has no whole 8760-hour episode"):
        env.reset(seed=0)  # the default split is train
    with pytest.raises(ConfigError, match=r"no split has whole 9000-hour episode"):
        gym.make(ENV_ID, time={"episode_hours": 9000.0}, data={"splits": {"train_frac": 0.0, "val_frac": 0.0}})
