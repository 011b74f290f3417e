"""Regulation overselling earns nothing: the simulator awards at most the battery's symmetric headroom,
so the oracle (exact tracking within that headroom) stays an upper bound when offers are raised."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.oracle import solve

SMALL_BATTERY = {"resources.battery.p_charge_max_mw": 0.5, "resources.battery.p_discharge_max_mw": 0.5}


def _replay(env: gym.Env, actions: np.ndarray, day: int) -> tuple[float, list[dict]]:
    env.reset(seed=day, options={"split": "test", "day": day})
    total, infos = 0.0, []
    for a in actions:
        info = env.step(a.astype(np.float32))[4]
        total += info["profit"]
        infos.append(info["regulation"])
    return total, infos


@pytest.mark.parametrize(
    ("env_id", "overrides", "day"),
    [
        ("vpp_gym/Regulation-v0", SMALL_BATTERY, 0),  # the headroom binds: the case overselling used to win
        ("vpp_gym/Regulation-v0", {}, 1),
        ("vpp_gym/Joint-v0", {}, 0),
    ],
)
def test_raising_the_oracles_regulation_offers_earns_nothing(env_id: str, overrides: dict, day: int) -> None:
    env = gym.make(env_id, overrides=overrides)
    u = env.unwrapped
    env.reset(seed=day, options={"split": "test", "day": day})
    plan = solve(u.params, u.episode.exo[0], u.state, agc=u.episode.agc[0])
    base, infos = _replay(env, plan.actions, day)
    assert base == pytest.approx(plan.profit, rel=1e-6)
    j = u.params.action_index["regulation_mw"]
    for factor in (2.0, np.inf):  # doubled, and every offer at the maximum
        oversold = plan.actions.copy()
        oversold[:, j] = np.minimum(factor * np.maximum(oversold[:, j], 0.0), 1.0) if np.isfinite(factor) else 1.0
        more, infos = _replay(env, oversold, day)
        assert base >= more - 1e-6 * abs(base), (factor, base, more)
        for r in infos:  # the award never exceeds the capability, and what is awarded is followed exactly
            assert r["accepted_mw"] <= r["capability_mw"] + 1e-12
            assert r["accepted_mw"] <= r["cleared_mw"] + 1e-12
            if r["accepted_mw"] > 0:
                assert r["score"] == pytest.approx(1.0, abs=1e-9)
