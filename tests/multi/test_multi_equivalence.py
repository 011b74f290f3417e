"""One agent in the market game is the single env: same seed and actions, the same trajectory, bit for bit.

Why exact and not within a tolerance: the agent's env *is* the single env (the same core, the same
draws from the same seed); the only change is that its day-ahead award and price are replaced by the
joint clearing's, and for one curve :func:`vpp_gym.markets.energy.clear_curves` performs
:func:`~vpp_gym.markets.energy.clear_curve`'s floating-point operations in the same order (a sum over
one agent is the value itself; the pro-rata share is ``d / d = 1.0`` exactly).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

import gymnasium as gym

from vpp_gym.config import packaged_config
from vpp_gym.multi import MultiVppEnv


def _flat(info: dict) -> dict:
    out = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out.update({f"{k}.{i}": w for i, w in v.items()})
        else:
            out[k] = v
    return out


@pytest.mark.parametrize(("task", "seed"), [("vpp_gym/Arbitrage-v1", 7), ("vpp_gym/Joint-v1", 21)])
def test_one_agent_reproduces_the_single_env(task: str, seed: int) -> None:
    cfg = packaged_config("markets/autonomous.yaml")
    single = gym.make(task, config=cfg).unwrapped
    multi = MultiVppEnv(task, n_agents=1)
    obs_s, info_s = single.reset(seed=seed)
    obs_m, info_m = multi.reset(seed=seed)
    assert np.array_equal(obs_s, obs_m["vpp_0"]) and info_s == info_m["vpp_0"]
    rng = np.random.default_rng(seed)
    bids = 0
    done = False
    total = 0.0
    while not done:
        a = rng.uniform(-1.0, 1.0, single.action_space.shape).astype(np.float32)
        obs_s, r_s, done, trunc_s, info_s = single.step(a)
        obs_m, r_m, term_m, trunc_m, info_m = multi.step({"vpp_0": a})
        assert np.array_equal(obs_s, obs_m["vpp_0"])
        assert r_s == r_m["vpp_0"] and done == term_m["vpp_0"] and trunc_s == trunc_m["vpp_0"]
        market = info_m["vpp_0"].pop("market", None)
        assert _flat(info_s) == _flat(info_m["vpp_0"])  # every ledger entry, exactly
        assert single.state == multi.envs[0].state  # the schedule rings included
        if market is not None:  # a bid step: the joint clearing gave the single env's award and price
            bids += 1
            slot = market["interval"] % single.params.schedule.ring
            assert market["award_mw"] == single.state.da_mw[slot] == market["total_award_mw"]
            assert market["price"] == single.state.da_price[slot]
        total += r_s
    assert bids == 96 and multi.agents == []
    assert total != 0.0
