"""Arbitrage-v0 on real data (ERCOT 2022 DA prices, CAISO 2021 MOER): the env's numbers against the raw CSVs.

The CSVs are read here independently with the ``csv`` module; the env reads them with its own
loader, resamples them and shifts the CAISO year. Skipped where ``../shared/data`` is absent.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym.data.schema import COLUMN_NAMES

ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = ROOT.parent / "shared" / "data"
CONFIG = ROOT / "configs" / "scenarios" / "ercot_caiso_2022.yaml"
ERCOT = REAL_DATA / "ercot_dam_2022_hub_prices.csv"
CAISO = REAL_DATA / "caiso_sce_moer_2021_5min.csv"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} is absent (it lives beside the checkout)"
    ),
]

I_DA, I_EF = COLUMN_NAMES.index("price_da_per_mwh"), COLUMN_NAMES.index("grid_ef_t_per_mwh")
STEP = dt.timedelta(minutes=15)
LOCAL = dt.timedelta(hours=-6)  # time.utc_offset_h of the scenario: Houston, standard time


def _utc(text: str) -> dt.datetime:
    """'2022-01-01 06:00:00+00:00' -> naive UTC datetime."""
    stamp = dt.datetime.fromisoformat(text)
    assert stamp.utcoffset() == dt.timedelta(0), text
    return stamp.replace(tzinfo=None)


@pytest.fixture(scope="module")
def houston() -> dict[dt.datetime, float]:
    """ERCOT Houston hub DA price by UTC hour start."""
    with ERCOT.open(newline="", encoding="utf-8") as f:
        return {_utc(row["interval_start_utc"]): float(row["hb_houston_usd_per_mwh"]) for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def moer() -> dict[dt.datetime, float]:
    """CAISO SCE MOER by UTC 5-minute start (2021)."""
    with CAISO.open(newline="", encoding="utf-8") as f:
        return {_utc(row["time_utc"]): float(row["moer_t_per_mwh"]) for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def env() -> gym.Env:
    return gym.make("vpp_gym/Arbitrage-v0", config=str(CONFIG))


def _run_episode(
    env: gym.Env,
    houston: dict[dt.datetime, float],
    moer: dict[dt.datetime, float],
    seed: int,
    options: dict[str, object],
) -> tuple[dt.datetime, list[dict]]:
    """One full episode with extreme random actions; checks every step against the CSVs.

    Returns the episode's start in UTC (a local midnight) and the step infos.
    """
    u = env.unwrapped
    obs, info = env.reset(seed=seed, options=options)
    start = dt.datetime.fromisoformat(info["start"][:19])
    assert (start + LOCAL).time() == dt.time(0, 0)  # episodes start at local midnight
    assert info["local_date"] == (start + LOCAL).date().isoformat()
    space = env.observation_space
    rng = np.random.default_rng(seed)
    exo = u._episode.exo[0]
    infos, terminated, t = [], False, 0
    while not terminated:
        assert space.contains(obs), (t, np.flatnonzero(~((obs >= space.low) & (obs <= space.high))))
        a = rng.choice([-1.0, 1.0], env.action_space.shape) * rng.uniform(0.3, 1.0, env.action_space.shape)
        obs, reward, terminated, truncated, step = env.step(a.astype(np.float32))
        assert not truncated and step["t"] == t
        assert math.isfinite(reward) and math.isfinite(step["profit"])
        stamp = start + t * STEP
        # DA price of the interval = the ERCOT Houston value of the hour it lies in (hourly held over 15 min)
        hour = stamp.replace(minute=0)
        assert step["energy_da"]["price_per_mwh"] == pytest.approx(houston[hour], rel=1e-12, abs=1e-9), stamp
        # carbon intensity = mean of the three 5-min CAISO values of the same UTC interval of 2021
        old = stamp.replace(year=2021)
        expected_ef = sum(moer[old + k * dt.timedelta(minutes=5)] for k in range(3)) / 3.0
        assert exo[t, I_EF] == pytest.approx(expected_ef, rel=1e-12, abs=1e-12), stamp
        # ... and it is what the settlement charged on imports: emissions = import * dt * ef
        if step["net_mw"] < -1e-6:
            used = step["emissions"]["grid_t"] / (-step["net_mw"] * 0.25)
            assert used == pytest.approx(expected_ef, rel=1e-9, abs=1e-12), stamp
        else:
            assert step["emissions"]["grid_t"] == 0.0
        assert step["energy_da"]["price_per_mwh"] == exo[t, I_DA]
        infos.append(step)
        t += 1
    assert space.contains(obs)
    assert t == u.params.episode_steps == 96
    return start, infos


def test_builds_with_the_documented_period_and_splits(env: gym.Env) -> None:
    u = env.unwrapped
    assert str(u.series.timestamps[0]) == "2022-01-02T00:00:00.000000000"
    assert str(u.series.timestamps[-1]) == "2022-09-01T23:45:00.000000000"
    # 243 UTC days of data: Jan 2 00:00 .. Sep 1 23:45 UTC = Jan 1 18:00 .. Sep 1 17:45 local (UTC-6), so the
    # whole local days are Jan 2 .. Aug 31: train Jan 2 .. Jun 30 (180 d), val July (31 d), test August (31 d)
    assert len(u.series) == 243 * 96
    assert {k: len(v) for k, v in u.episode_starts.items()} == {"train": 180, "val": 31, "test": 31}


@pytest.mark.parametrize(("split", "seed"), [("train", 0), ("val", 1), ("test", 2)])
def test_full_episodes_match_the_raw_files(env: gym.Env, houston: dict, moer: dict, split: str, seed: int) -> None:
    start, infos = _run_episode(env, houston, moer, seed, {"split": split})
    bounds = {
        "train": ("2022-01-02", "2022-06-30"),
        "val": ("2022-07-01", "2022-07-31"),
        "test": ("2022-08-01", "2022-08-31"),
    }[split]
    assert bounds[0] <= (start + LOCAL).date().isoformat() <= bounds[1]
    assert any(i["net_mw"] < 0 for i in infos)  # the import branch of the carbon check was exercised


def test_price_spike_day_runs(env: gym.Env, houston: dict[dt.datetime, float], moer: dict) -> None:
    u = env.unwrapped
    daily_max: dict[dt.date, float] = defaultdict(lambda: -math.inf)
    for stamp, price in houston.items():  # by local date, as the episodes are
        day = (stamp + LOCAL).date()
        daily_max[day] = max(daily_max[day], price)
    split_of = {
        str(u.series.timestamps[row] + np.timedelta64(-6, "h"))[:10]: split
        for split, rows in u.episode_starts.items()
        for row in rows
    }
    # The year's top price (~2,500 USD/MWh) may lie outside the scenario period (the CAISO file ends in
    # September); then use the highest-price day inside it.
    top = max(daily_max, key=daily_max.get)
    if top.isoformat() not in split_of:
        top = max((d for d in daily_max if d.isoformat() in split_of), key=daily_max.get)
    assert daily_max[top] > 1000.0  # a scarcity spike, about 15 times the 2022 mean (~70 USD/MWh)
    start, infos = _run_episode(env, houston, moer, 3, {"split": split_of[top.isoformat()], "day": top.isoformat()})
    assert (start + LOCAL).date() == top
    prices = [i["energy_da"]["price_per_mwh"] for i in infos]
    assert max(prices) == pytest.approx(daily_max[top], rel=1e-12)
    assert all(math.isfinite(i["reward"]) for i in infos)
