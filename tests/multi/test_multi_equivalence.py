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


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize(("task", "seed"), [("vpp_gym/Arbitrage-v1", 7), ("vpp_gym/Joint-v1", 21)])
def test_one_agent_reproduces_the_single_env(task: str, seed: int, batched: bool) -> None:
    cfg = packaged_config("markets/autonomous.yaml")
    single = gym.make(task, config=cfg).unwrapped
    multi = MultiVppEnv(task, n_agents=1, batched=batched)
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
        if not batched:
            assert single.state == multi.envs[0].state  # the schedule rings included
        if market is not None:  # a bid step: the joint clearing gave the single env's award and price
            bids += 1
            slot = market["interval"] % single.params.schedule.ring
            assert market["award_mw"] == single.state.da_mw[slot] == market["total_award_mw"]
            assert market["price"] == single.state.da_price[slot]
        total += r_s
    assert bids == 96 and multi.agents == []
    assert total != 0.0


def _same(x: object, y: object) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, tuple) and isinstance(y, tuple):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.array_equal(x, y)
    return type(x) is type(y) and x == y


@pytest.mark.parametrize("public_obs", [False, True])
def test_rows_of_the_batched_core_are_the_single_cores(public_obs: bool) -> None:
    """Three identical agents: the batched path and N single cores give the same trajectory, bit for bit."""
    rows = MultiVppEnv("vpp_gym/Joint-v1", n_agents=3, batched=True, public_obs=public_obs)
    cores = MultiVppEnv("vpp_gym/Joint-v1", n_agents=3, batched=False, public_obs=public_obs)
    for seed, options in ((3, None), (None, None), (8, {"split": "val", "day": 1})):
        out_r, out_c = rows.reset(seed=seed, options=options), cores.reset(seed=seed, options=options)
        if seed is None:  # unseeded generators differ; reseed both for the rest
            out_r, out_c = rows.reset(seed=5), cores.reset(seed=5)
        assert _same(out_r, out_c)
        rng = np.random.default_rng(seed)
        while rows.agents:
            actions = {a: rng.uniform(-1.0, 1.0, rows.action_space(a).shape).astype(np.float32) for a in rows.agents}
            assert _same(rows.step(actions), cores.step(actions))
        assert cores.agents == []
