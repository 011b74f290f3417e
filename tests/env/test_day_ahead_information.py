"""The day-ahead timeline's information rule: nothing realised at or after the D-1 gate is observable at it.

Two copies of the same scenario differ only in what becomes known after the gate of day 1 (every
column of every such row is scaled and shifted, within the schema's ranges). Stepped with
the same actions, the two envs must give bit-identical observations at every bid step (for day 0,
whose gate precedes the episode, and for day 1: the state at the gate and the gate's forecasts);
the first dispatch step after the gate must differ (the perturbation is visible once it is
realised, so the test can fail). Dispatch steps' own forecasts are nowcasts of the coming hours
(truth plus a seeded error, ``forecast.*``), not gate information.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import vpp_gym  # noqa: F401

Perturb = Callable[[Any, dict[str, int], int], Any]
"""The ``perturb`` fixture of the root conftest.py (:func:`conftest.perturbed_series`)."""

OVERRIDES = {"markets.energy.timeline": "day_ahead", "time.episode_hours": 48}


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
    auctioned += ("reserve_price_per_mw", "dr_need_mw", "dr_price_per_mwh")
    first = {name: start + sch.day_steps for name in auctioned}
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
    # known after it. Perturbing all of it leaves every day-0 bid step's observation unchanged, also after
    # earlier bid steps of the block have been cleared (their awards are published only after the gate).
    envs = [gym.make("vpp_gym/Joint-v0", overrides=OVERRIDES).unwrapped for _ in range(2)]
    sch = envs[0].params.schedule
    envs[0].reset(seed=5, options={"split": "train", "day": 3})
    start = int(envs[0].episode.start[0])
    envs[1].series = perturb(envs[0].series, {}, start)
    obs = [env.reset(seed=5, options={"split": "train", "day": 3})[0] for env in envs]
    rng = np.random.default_rng(1)
    for k in range(sch.day_steps):
        assert sch.bid[k]
        np.testing.assert_array_equal(obs[0], obs[1], err_msg=f"bid step {k}")
        a = rng.uniform(-1.0, 1.0, len(envs[0].action_names))
        obs = [env.step(a)[0] for env in envs]
    assert not np.array_equal(obs[0], obs[1]), "the first dispatch step sees the realised day"
