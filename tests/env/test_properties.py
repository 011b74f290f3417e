"""Property-based tests: invariants of the dynamics and the ledger under random actions and configs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vpp_gym  # noqa: F401

# A short synthetic scenario keeps each example cheap; the series is generated once and cached.
DATA = {"synthetic": {"days": 40, "seed": 11}}


def _get(info: dict, key: str) -> float:
    group, _, item = key.partition(".")
    return info[group][item] if item else info[group]


@st.composite
def configs(draw):
    soc_min = draw(st.floats(0.0, 0.4))
    soc_max = draw(st.floats(soc_min + 0.1, 1.0))
    battery = {
        "e_max_mwh": draw(st.floats(0.5, 20.0)),
        "p_charge_max_mw": draw(st.floats(0.0, 10.0)),
        "p_discharge_max_mw": draw(st.floats(0.0, 10.0)),
        "eta_charge": draw(st.floats(0.5, 1.0)),
        "eta_discharge": draw(st.floats(0.5, 1.0)),
        "soc_min": soc_min,
        "soc_max": soc_max,
        "soc_init": draw(st.floats(soc_min, soc_max)),
    }
    curtail = draw(st.floats(0.0, 0.5))
    flex = {
        "peak_mw": draw(st.floats(0.0, 10.0)),
        "curtail_share": curtail,
        "shift_share": draw(st.floats(0.0, 1.0 - curtail)),
        "shift_window_h": draw(st.sampled_from([1.0, 2.0, 4.0])),
    }
    lead = draw(st.integers(1, 6))
    return {
        "data": DATA,
        "resources": {
            "battery": battery,
            "flex_load": flex,
            "pv": {"p_max_mw": draw(st.floats(0.0, 10.0)), "curtailable": draw(st.booleans())},
        },
        "markets": {
            "energy": {"da_lead_steps": lead, "imbalance_penalty_per_mwh": draw(st.floats(0.0, 100.0))},
            "carbon": {"price_per_t": draw(st.floats(0.0, 300.0))},
        },
        "forecast": {"horizon_steps": lead + draw(st.integers(1, 4))},
        "reward": {"scale": draw(st.floats(1e-4, 1.0))},
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), seed=st.integers(0, 2**16), extreme=st.booleans())
def test_invariants_under_random_actions(cfg: dict, seed: int, extreme: bool) -> None:
    env = gym.make("vpp_gym/Arbitrage-v0", **cfg).unwrapped
    b = env.config.resources.battery
    fl = env.config.resources.flex_load
    dt = env.params.dt_h
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    total_reward = total_profit = 0.0
    backlog = 0.0
    for t in range(env.params.episode_steps):
        a = rng.uniform(-1, 1, env.action_space.shape)
        if extreme:
            a = np.sign(a)
        e_before = env._state.e_bat_mwh
        obs, reward, terminated, _trunc, info = env.step(a)
        # power balance: the net injection is the sum of what every resource applied
        parts = info["battery"]["applied_mw"] + info["pv"]["applied_mw"] - info["load"]["consumption_mw"]
        assert np.isclose(info["net_mw"], parts, rtol=0, atol=1e-9)
        # RT quantity is the deviation of the net injection from the held position
        assert np.isclose(
            info["energy_rt"]["quantity_mwh"] + info["energy_da"]["quantity_mwh"], info["net_mw"] * dt, atol=1e-9
        )
        # SOC within bounds, and the energy balance of the applied power
        e_after = env._state.e_bat_mwh
        assert b.e_min_mwh - 1e-9 <= e_after <= b.e_high_mwh + 1e-9
        p = info["battery"]["applied_mw"]
        expected = e_before - dt * (max(p, 0) / b.eta_discharge + min(p, 0) * b.eta_charge)
        assert abs(e_after - expected) < 1e-9
        # flexible load: energy-neutral at every window end
        backlog += info["load_shift"]["applied_mw"] * dt
        if (t + 1) % fl.window_steps(dt) == 0:
            # (a make-up that cannot be delivered is reported as a violation of at least its size)
            assert abs(backlog) <= info["violation"]["shift_mwh"] + 1e-9 and env._state.backlog_mwh == 0.0
            backlog = 0.0
        # reward is the documented sum of its parts
        profit = sum(sign * _get(info, key) for key, sign in env.params.profit_terms)
        assert np.isclose(profit, info["profit"], rtol=1e-12, atol=1e-9)
        assert reward == info["reward"] and np.isclose(reward, env.config.reward.scale * profit, rtol=1e-12, atol=1e-12)
        total_reward += reward
        total_profit += info["profit"]
        assert env.observation_space.contains(obs)
        if terminated:
            break
    assert terminated
    assert np.isclose(total_reward, env.config.reward.scale * total_profit, rtol=1e-9, atol=1e-9)
