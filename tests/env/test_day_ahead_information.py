"""The day-ahead timeline's information rule: nothing realised at or after the D-1 gate is observable at it.

Two copies of the same scenario differ only in what becomes known after the gate of day 1 (every
column of every such row is scaled and shifted, within the schema's ranges). Stepped with
the same actions, the two envs must give bit-identical observations at every bid step (for day 0,
whose gate precedes the episode, and for day 1: the state at the gate and the gate's forecasts);
the first dispatch step after the gate must differ (the perturbation is visible once it is
realised, so the test can fail). Dispatch steps' own forecasts are nowcasts of the coming hours
(truth plus a seeded error, ``forecast.*``), not gate information.

Demand-response events are not realised but announced: day D's events (need, window, price; the
similar-days baseline) at ``markets.demand_response.announce_hour`` on D-1, before the gate
(:mod:`vpp_gym.core.announcement`). Perturbing a day's events changes nothing observed before its
announcement and changes what is observed after it (the last two tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401

Perturb = Callable[[Any, dict[str, int], int], Any]
"""The ``perturb`` fixture of the root conftest.py (:func:`conftest.perturbed_series`)."""

OVERRIDES = {"markets.energy.timeline": "day_ahead", "time.episode_hours": 48}
ANNOUNCED = ("dr_need_mw", "dr_price_per_mwh")
"""The demand-response event columns (announced at D-1, :data:`vpp_gym.core.announcement.ANNOUNCED_SERIES`)."""


def test_nothing_realised_after_the_gate_is_observed_at_it(perturb: Perturb) -> None:
    envs = [gym.make("vpp_gym/Joint-v0", overrides=OVERRIDES).unwrapped for _ in range(2)]
    p = envs[0].params
    sch = p.schedule
    obs = [envs[i].reset(seed=5, options={"split": "train", "day": 3})[0] for i in range(2)]
    start = int(envs[0].episode.start[0])
    # the first row of each column not known at the gate of day 1 (10:00 of day 0): measured series from
    # the gate on; intraday prices from the first interval traded at a gate after it (known when cleared)
    gate_row = start + sch.gate_step
    lead = p.cfg.markets.energy.intraday.lead_steps
    # the day-ahead auctions' needs and prices (energy and the capacity products) of day 0 were cleared at its
    # own D-1 gate, before the episode: they are known at day 1's gate
    auctioned = ("price_da_per_mwh", "reg_need_mw", "reg_cap_price_per_mw", "reserve_need_mw")
    auctioned += ("reserve_price_per_mw",)
    first = {name: start + sch.day_steps for name in auctioned}
    # the demand-response events of day 1 were announced at 09:00 of day 0, before the gate: those of day 2 are not
    first.update(dict.fromkeys(ANNOUNCED, start + 2 * sch.day_steps))
    first["price_id_per_mwh"] = gate_row + lead
    envs[1].series = perturb(envs[0].series, first, gate_row)
    obs[1] = envs[1].reset(seed=5, options={"split": "train", "day": 3})[0]
    rng = np.random.default_rng(0)
    k_first_dispatch_after_gate = None
    bid_steps_checked = 0
    for k in range(sch.steps):
        if sch.bid[k]:  # the bid steps for day 0 (gate before the episode) and day 1 (gate at 10:00 of day 0)
            np.testing.assert_array_equal(obs[0], obs[1], err_msg=f"bid step {k} for interval {sch.interval[k]}")
            bid_steps_checked += 1
        elif sch.interval[k] >= sch.gate_step and k_first_dispatch_after_gate is None:
            k_first_dispatch_after_gate = k
            assert not np.array_equal(obs[0], obs[1]), "the perturbation is visible once realised"
        a = rng.uniform(-1.0, 1.0, len(envs[0].action_names))
        obs = [env.step(a)[0] for env in envs]
        if k_first_dispatch_after_gate is not None:
            break
    assert bid_steps_checked == 2 * sch.day_steps
    assert k_first_dispatch_after_gate is not None


def test_day_zero_bids_observe_nothing_of_day_zero(perturb: Perturb) -> None:
    # The gate of day 0 precedes the episode: everything of day 0 (its auctioned prices and needs too) becomes
    # known after it, except its demand-response events (announced before the gate). Perturbing all of it
    # leaves every day-0 bid step's observation unchanged, also after earlier bid steps of the block have been
    # cleared (their awards are published only after the gate).
    envs = [gym.make("vpp_gym/Joint-v0", overrides=OVERRIDES).unwrapped for _ in range(2)]
    sch = envs[0].params.schedule
    envs[0].reset(seed=5, options={"split": "train", "day": 3})
    start = int(envs[0].episode.start[0])
    envs[1].series = perturb(envs[0].series, dict.fromkeys(ANNOUNCED, start + sch.day_steps), start)
    obs = [env.reset(seed=5, options={"split": "train", "day": 3})[0] for env in envs]
    rng = np.random.default_rng(1)
    for k in range(sch.day_steps):
        assert sch.bid[k]
        np.testing.assert_array_equal(obs[0], obs[1], err_msg=f"bid step {k}")
        a = rng.uniform(-1.0, 1.0, len(envs[0].action_names))
        obs = [env.step(a)[0] for env in envs]
    assert not np.array_equal(obs[0], obs[1]), "the first dispatch step sees the realised day"


def with_event(series: Any, rows: slice, need_mw: float, price: float) -> Any:
    """A copy of a series with a demand-response event of ``need_mw`` at ``price`` on ``rows`` (and nothing
    else changed)."""
    values = dict(series.values)
    for name, v in (("dr_need_mw", need_mw), ("dr_price_per_mwh", price)):
        values[name] = values[name].copy()
        values[name][rows] = v
    return dataclasses.replace(series, values=values)


@pytest.mark.parametrize("baseline", ["passive", "similar_days"])
def test_an_event_is_observed_from_its_announcement_on(baseline: str) -> None:
    """Day 1 has an event from 01:00 to 03:00 (valley filling, -2 MW at 500) in one copy, none in the other.
    It is announced at 09:00 of day 0 (interval a = 36): every step before (the 96 bid steps for day 0, the
    dispatch steps of intervals 0..35) observes the same; with a horizon of a whole day (H = 96) the dispatch
    step at 09:00 sees it (intervals 100..107 are leads 64..71), the one at 08:45 does not (day 1 is leads
    61.. there: not announced, 0 and flagged 0); the bid steps for day 1 see it at lead 0."""
    overrides = {**OVERRIDES, "forecast.horizon_steps": 96, "markets.demand_response.baseline": baseline}
    envs = [gym.make("vpp_gym/Joint-v0", overrides=overrides).unwrapped for _ in range(2)]
    p = envs[0].params
    sch, names = p.schedule, envs[0].observation_names
    assert (sch.day_steps, sch.gate_step, p.horizon) == (96, 40, 96)
    options = {"split": "train", "day": 3}
    envs[0].reset(seed=5, options=options)
    start = int(envs[0].episode.start[0])
    event = slice(start + 100, start + 108)  # 01:00 to 03:00 of day 1
    series = envs[0].series
    envs[0].series = with_event(series, event, 0.0, 0.0)
    envs[1].series = with_event(series, event, -2.0, 500.0)
    obs = [env.reset(seed=5, options=options)[0] for env in envs]
    need0 = names.index("dr_need_mw[t+0]")
    flag0 = names.index("dr_announced[t+0]")
    need_unit = np.float32(-2.0) / np.float32(p.obs_scale("dr_need_mw"))
    price_unit = np.float32(500.0) / np.float32(p.obs_scale("dr_price_per_mwh"))
    rng = np.random.default_rng(2)
    seen = {}
    for k in range(sch.steps):
        i, bid = int(sch.interval[k]), bool(sch.bid[k])
        if (bid and i < 96) or (not bid and i < 36):  # information time before 09:00 of day 0
            np.testing.assert_array_equal(obs[0], obs[1], err_msg=f"step {k} (interval {i})")
        if not bid and i == 35:
            flags = obs[1][flag0 : flag0 + 96]
            np.testing.assert_array_equal(flags, [1.0] * 61 + [0.0] * 35)  # interval 96 = 35 + 61 is day 1
            assert not obs[1][need0 : need0 + 96].any()
            if baseline == "similar_days":
                base = envs[1].episode.dr_baseline_mw[0]
                row0 = names.index("dr_baseline[t+0]")
                scale = max(4.0 + 3.0, p.cfg.resources.flex_load.peak_mw * p.hi["load_pu"])  # PV + wind, or load
                expected = np.where(np.arange(96) < 61, base[np.minimum(35 + np.arange(96), 191)] / scale, 0.0)
                np.testing.assert_array_equal(obs[1][row0 : row0 + 96], expected.astype(np.float32))
        if not bid and i == 36:
            assert (obs[1][flag0 : flag0 + 96] == 1.0).all()  # day 1 is announced at 09:00
            np.testing.assert_array_equal(obs[0][need0 + 64 : need0 + 72], 0.0)
            np.testing.assert_array_equal(obs[1][need0 + 64 : need0 + 72], need_unit)
            price0 = names.index("dr_price_per_mwh[t+0]")
            np.testing.assert_array_equal(obs[1][price0 + 64 : price0 + 72], price_unit)
            differ = np.flatnonzero(obs[0] != obs[1])
            assert set(names[j] for j in differ) == (
                {f"dr_need_mw[t+{h}]" for h in range(64, 72)} | {f"dr_price_per_mwh[t+{h}]" for h in range(64, 72)}
            )
            seen["dispatch"] = True
        if bid and i == 100:  # the bid step for 01:00 of day 1, at the gate (10:00 of day 0)
            assert obs[1][need0] == need_unit and obs[0][need0] == 0.0 and obs[1][flag0] == 1.0
            seen["bid"] = True
            break
        a = rng.uniform(-1.0, 1.0, len(envs[0].action_names))
        obs = [env.step(a)[0] for env in envs]
    assert seen == {"dispatch": True, "bid": True}
