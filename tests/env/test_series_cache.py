"""The scenario-series cache is bounded by size, least recently used out (issue 16.8).

Before the bound, 40 envs with different synthetic seeds kept about 200 MB after they were closed.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import gymnasium as gym
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym import scenario


@pytest.fixture
def small_cache() -> Iterator[int]:
    """A cache bound of three 40-day series, restored afterwards."""
    env = gym.make("vpp_gym/Arbitrage-v0", data={"synthetic": {"days": 40, "seed": 999}}).unwrapped
    one = scenario.series_nbytes(env.series)
    scenario.set_series_cache_limit(3.5 * one / 2**20)
    try:
        yield one
    finally:
        scenario.set_series_cache_limit(None)


def test_closed_envs_do_not_keep_their_series(small_cache: int) -> None:
    first = gym.make("vpp_gym/Arbitrage-v0", data={"synthetic": {"days": 40, "seed": 0}})
    ref = weakref.ref(first.unwrapped.series)  # type: ignore[attr-defined]
    first.close()
    del first
    for seed in range(1, 40):
        env = gym.make("vpp_gym/Arbitrage-v0", data={"synthetic": {"days": 40, "seed": seed}})
        env.close()
        info = scenario.series_cache_info()
        assert info["bytes"] <= info["limit_bytes"] and info["entries"] <= 3
    gc.collect()
    assert ref() is None  # evicted and freed


def test_recently_used_series_stay_and_equal_configs_share_one(small_cache: int) -> None:
    def make(seed: int) -> gym.Env:
        return gym.make("vpp_gym/Arbitrage-v0", data={"synthetic": {"days": 40, "seed": seed}})

    a = make(0).unwrapped.series  # type: ignore[attr-defined]
    make(1), make(2)
    assert make(0).unwrapped.series is a  # type: ignore[attr-defined]  # a hit moves it to the back
    make(3)  # evicts seed 1, the least recently used
    assert make(0).unwrapped.series is a  # type: ignore[attr-defined]


def test_the_cache_can_be_disabled_and_is_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario.set_series_cache_limit(0)
    try:
        gym.make("vpp_gym/Arbitrage-v0", data={"synthetic": {"days": 40, "seed": 5}})
        assert scenario.series_cache_info()["entries"] == 0
    finally:
        scenario.set_series_cache_limit(None)
    assert "VPP_GYM_SERIES_CACHE_MB" in (scenario.scenario_series.__doc__ or "")
    monkeypatch.setenv("VPP_GYM_SERIES_CACHE_MB", "lots")
    with pytest.raises(scenario.ConfigError, match="VPP_GYM_SERIES_CACHE_MB='lots'"):
        scenario._read_limit()
