"""Shapley revenue sharing: the formula on a game solved by hand, and a real two-resource scenario."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.evaluate import EvaluationConfig
from agents.shapley import coalition_values, present_groups, shapley_values
from vpp_gym.core import I_DA, I_PV, I_RT


def test_two_player_game_solved_by_hand() -> None:
    # v(a)=3, v(b)=1, v(ab)=10: phi_a = (3 - 0)/2 + (10 - 1)/2 = 6, phi_b = (1 - 0)/2 + (10 - 3)/2 = 4
    v = {frozenset("a"): 3.0, frozenset("b"): 1.0, frozenset("ab"): 10.0}
    assert shapley_values(["a", "b"], v) == pytest.approx({"a": 6.0, "b": 4.0})


def test_three_player_game_symmetry_dummy_and_efficiency() -> None:
    # c is a dummy (adds nothing); a and b symmetric: each gets half of v(ab) = 8
    base = {frozenset(): 0.0, frozenset("a"): 2.0, frozenset("b"): 2.0, frozenset("ab"): 8.0}
    v = {**base, **{s | {"c"}: x for s, x in base.items()}}
    phi = shapley_values(["a", "b", "c"], v)
    assert phi == pytest.approx({"a": 4.0, "b": 4.0, "c": 0.0})
    with pytest.raises(ValueError, match="coalition"):
        shapley_values(["a", "b", "c"], base)


def _pv_only_optimum(env_id: str, overrides: dict, seed: int, day: int) -> float:
    """The PV-only VPP's best profit, by enumeration: per interval, position q in {-Q, g, Q} (the kinks of
    q DA + (g - q) RT - pen |g - q|) and output g in {0, available} (curtailment), positions of the first
    L intervals fixed at 0."""
    env = gym.make(env_id, overrides=overrides)
    env.reset(seed=seed, options={"split": "test", "day": day})
    u = env.unwrapped
    cfg = u.config
    em = cfg.markets.energy
    dt = cfg.time.dt_h
    exo = u.episode.exo[0]
    total = 0.0
    for t, x in enumerate(exo):
        avail = cfg.resources.pv.p_max_mw * x[I_PV]
        qs = [0.0] if t < em.da_lead_steps else [-em.position_max_mw, em.position_max_mw]
        best = -np.inf
        for g in (0.0, avail):
            for q in [*qs, g] if t >= em.da_lead_steps else qs:
                best = max(best, (q * x[I_DA] + (g - q) * x[I_RT] - em.imbalance_penalty_per_mwh * abs(g - q)) * dt)
        total += best
    return total


def test_pv_and_battery_shares_sum_to_the_grand_coalition_and_the_pv_value_is_right() -> None:
    cfg = EvaluationConfig(env_id="vpp_gym/Arbitrage-v0", episodes=1, overrides={"resources.flex_load": None})
    groups = present_groups(cfg)
    assert groups == ["pv", "battery"]
    v = coalition_values(cfg, groups)
    assert v[frozenset({"pv"})] == pytest.approx(
        _pv_only_optimum(cfg.env_id, {"resources.flex_load": None, "resources.battery": None}, cfg.seed, 0), rel=1e-6
    )
    phi = shapley_values(groups, v)
    assert sum(phi.values()) == pytest.approx(v[frozenset(groups)], rel=1e-12)
    # by hand for two players
    pv, bat, both = (v[frozenset(s)] for s in (["pv"], ["battery"], groups))
    assert phi["pv"] == pytest.approx(pv / 2 + (both - bat) / 2)
    assert phi["battery"] == pytest.approx(bat / 2 + (both - pv) / 2)
    # an idle battery and curtailed PV cost nothing, so neither member can lower the other's value
    assert both >= max(pv, bat) - 1e-6


def test_removing_a_resource_changes_only_the_forecasts() -> None:
    """Coalitions are played on the same episodes: the AGC signal (drawn before the forecasts, whose
    columns depend on the resources) and the realisation are those of the grand coalition."""
    full = gym.make("vpp_gym/Joint-v0")
    no_pv = gym.make("vpp_gym/Joint-v0", overrides={"resources.pv": None})
    for env in (full, no_pv):
        env.reset(seed=5, options={"split": "test", "day": 2})
    np.testing.assert_array_equal(full.unwrapped.episode.agc, no_pv.unwrapped.episode.agc)
    np.testing.assert_array_equal(full.unwrapped.episode.exo, no_pv.unwrapped.episode.exo)
