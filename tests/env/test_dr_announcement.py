"""The D-1 announcement of demand-response events (:mod:`vpp_gym.core.announcement`): its config key, the
rows it adds (day-ahead timeline with demand response open only), the masks by hand, and the vector env.

What is observed before and after an announcement is checked by perturbation in
``tests/env/test_day_ahead_information.py``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym.core import announcement
from vpp_gym.validation import ConfigError, ConfigWarning

DA: dict[str, Any] = {"markets.energy.timeline": "day_ahead"}
V1_DR: dict[str, Any] = {  # the demand-response rules proposed as the v1 defaults
    **DA,
    "data.ancillary.dr_event_rule": "scarcity",
    "markets.demand_response.baseline": "similar_days",
    "markets.demand_response.payment": "band",
}


def test_announce_hour_must_not_follow_the_gate() -> None:
    with pytest.raises(
        ConfigError, match=r"markets\.demand_response\.announce_hour: got 11\.0.*at most.*gate_hour = 10"
    ):
        gym.make("vpp_gym/Joint-v0", overrides={**DA, "markets.demand_response.announce_hour": 11.0})
    with pytest.raises(ConfigError, match=r"announce_hour"):
        gym.make("vpp_gym/Joint-v0", overrides={**DA, "markets.demand_response.announce_hour": 24.0})
    gym.make("vpp_gym/Joint-v0", overrides={**DA, "markets.demand_response.announce_hour": 10.0})  # at the gate


def test_announce_hour_is_reported_unused_on_the_hour_ahead_timeline() -> None:
    with pytest.warns(ConfigWarning, match=r"markets\.demand_response\.announce_hour = 8\.0 has no effect"):
        gym.make("vpp_gym/Joint-v0", overrides={"markets.demand_response.announce_hour": 8.0})


def test_rows_only_on_the_day_ahead_timeline_with_demand_response() -> None:
    hour_ahead = gym.make("vpp_gym/Joint-v0").unwrapped
    assert not any(n.startswith("dr_announced") for n in hour_ahead.observation_names)
    arbitrage = gym.make("vpp_gym/Arbitrage-v0", overrides=DA).unwrapped  # no demand response
    assert not any(n.startswith("dr_") for n in arbitrage.observation_names)
    passive = gym.make("vpp_gym/Joint-v0", overrides=DA).unwrapped
    H = passive.params.horizon
    names = passive.observation_names
    flags = [f"dr_announced[t+{h}]" for h in range(H)]
    start = names.index(flags[0])
    assert list(names[start : start + H]) == flags and start == passive.params.announce_offset
    assert not any(n.startswith("dr_baseline") for n in names)  # the passive baseline is not announced
    v1 = gym.make("vpp_gym/Joint-v0", overrides=V1_DR).unwrapped
    assert len(v1.observation_names) == len(names) + H
    assert v1.observation_names[start + H] == "dr_baseline[t+0]"
    assert names[-1] == hour_ahead.observation_names[-1]  # the forecast block stays last


def test_mask_by_hand() -> None:
    # 1-hour intervals, two days, gate 10:00, announcement 09:00, H = 3. Bid steps for day 0 (gate 10:00 of day
    # -1: information time -14) see day 0 (announced at 09:00 of day -1 = -15), not day 1 (announced at 9);
    # the dispatch step of interval 8 does not see day 1 either, that of interval 9 does; bid steps for day 1
    # (information time 10) see day 1; nothing after the episode (interval 48) is announced.
    env = gym.make(
        "vpp_gym/Joint-v0",
        overrides={**DA, "time.interval_minutes": 60, "time.episode_hours": 48, "forecast.horizon_steps": 3},
    ).unwrapped
    p = env.params
    sch = p.schedule
    info = announcement.info_times(p)
    m = p.announce_mask
    k_bid0_last = 23  # the bid step for interval 23 (lead 0: day 0; leads 1, 2: day 1)
    assert sch.bid[k_bid0_last] and sch.interval[k_bid0_last] == 23 and info[k_bid0_last] == -14
    np.testing.assert_array_equal(m[:, k_bid0_last], [True, False, False])
    k8, k9 = 24 + 8, 24 + 9  # dispatch steps of intervals 8 and 9
    assert info[k8] == 8 and info[k9] == 9
    np.testing.assert_array_equal(m[:, k8], [True, True, True])  # intervals 8, 9, 10: day 0
    k22 = 24 + 10 + 24 + 12  # the dispatch step of interval 22 (after day 1's bids): 22, 23 and 24 of day 1
    assert sch.interval[k22] == 22
    np.testing.assert_array_equal(m[:, k22], [True, True, True])  # day 1 announced at 9
    k_bid1 = 24 + 10  # the first bid step for day 1 (interval 24), at the gate (information time 10)
    assert sch.bid[k_bid1] and sch.interval[k_bid1] == 24 and info[k_bid1] == 10
    np.testing.assert_array_equal(m[:, k_bid1], [True, True, True])
    k_last = sch.steps - 1  # the dispatch step of interval 47: 48 and 49 are after the episode
    np.testing.assert_array_equal(m[:, k_last], [True, False, False])
    # interval 24 (day 1) is announced at 9: not at information time 8, at 9
    assert announcement.announced(p, np.array(8), np.array(24)) == np.False_
    assert announcement.announced(p, np.array(9), np.array(24)) == np.True_


def test_vector_env_matches_single_envs_with_the_announcement() -> None:
    overrides = {**V1_DR, "forecast.horizon_steps": 96}
    n, seed = 2, 3
    vec = gym.make_vec("vpp_gym/Joint-v0", num_envs=n, vectorization_mode="vector_entry_point", overrides=overrides)
    singles = [gym.make("vpp_gym/Joint-v0", overrides=overrides) for _ in range(n)]
    days = [11, 13]  # test days with an event under the scarcity rule
    obs, _ = vec.reset(seed=seed, options={"split": "test", "day": days})
    ref = [
        e.reset(seed=seed + i, options={"split": "test", "day": d})[0]
        for i, (e, d) in enumerate(zip(singles, days, strict=True))
    ]
    assert obs.tobytes() == np.stack(ref).tobytes()
    names = vec.unwrapped.observation_names
    flag = names.index("dr_announced[t+0]")
    rng = np.random.default_rng(0)
    seen_base = False
    for k in range(vec.unwrapped.params.steps):
        a = rng.uniform(-1.0, 1.0, (n, len(vec.unwrapped.action_names)))
        obs, reward, *_ = vec.step(a)
        for i, e in enumerate(singles):
            o, r, *_ = e.step(a[i])
            assert obs[i].tobytes() == o.tobytes(), (k, i)
            assert reward[i] == r
        seen_base |= bool(obs[:, flag + 96 :].any())
    assert seen_base


def test_vector_env_partial_reset_observes_each_rows_announcement_at_its_own_step() -> None:
    # after a partial reset the rows are at different steps: each row's announcement rows and DR forecasts are
    # those of its own step (the single env's)
    kwargs = {"vectorization_mode": "vector_entry_point", "overrides": V1_DR, "autoreset_mode": "Disabled"}
    vec = gym.make_vec("vpp_gym/Joint-v0", num_envs=2, **kwargs)
    days = [11, 13]
    vec.reset(seed=0, options={"split": "test", "day": days})
    a = np.zeros((2, len(vec.unwrapped.action_names)))
    for _ in range(100):  # past the bid steps, into day 0's dispatch
        vec.step(a)
    obs, _ = vec.reset(seed=[None, 7], options={"reset_mask": np.array([False, True]), "split": "test", "day": days})
    fresh, _ = gym.make("vpp_gym/Joint-v0", overrides=V1_DR).reset(seed=7, options={"split": "test", "day": 13})
    stepped = gym.make("vpp_gym/Joint-v0", overrides=V1_DR)
    o, _ = stepped.reset(seed=0, options={"split": "test", "day": 11})
    for _ in range(100):
        o, *_ = stepped.step(a[0])
    assert obs[1].tobytes() == fresh.tobytes() and obs[0].tobytes() == o.tobytes()
