"""PettingZoo contract of the market game (vpp_gym.multi): the parallel API test and the seed test."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test

from vpp_gym.multi import MultiVppEnv


def make_two() -> MultiVppEnv:
    return MultiVppEnv("vpp_gym/Arbitrage-v1", overrides=[{}, {"resources.battery.e_max_mwh": 8.0}])


def test_parallel_api() -> None:
    parallel_api_test(make_two(), num_cycles=400)  # a whole episode (192 steps) and a reset


def test_seed() -> None:
    try:
        from pettingzoo.test import parallel_seed_test
    except ImportError:  # pragma: no cover - older PettingZoo
        pytest.skip("this PettingZoo has no parallel_seed_test")
    parallel_seed_test(make_two, num_cycles=250)


def test_per_agent_overrides_and_spaces() -> None:
    env = make_two()
    assert env.possible_agents == ["vpp_0", "vpp_1"]
    assert env.envs[1].config.resources.battery.e_max_mwh == 8.0
    assert env.envs[0].config.resources.battery.e_max_mwh != 8.0
    assert env.observation_space("vpp_0") is env.envs[0].observation_space
    obs, _ = env.reset(seed=3)
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())


def test_market_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="need_mw differs"):
        MultiVppEnv("vpp_gym/Arbitrage-v1", overrides=[{}, {"markets.energy.need_mw": 30.0}])


def test_same_day_for_every_agent() -> None:
    env = make_two()
    _, infos = env.reset(seed=11)
    assert infos["vpp_0"]["day_index"] == infos["vpp_1"]["day_index"]
    _, infos = env.reset(seed=11, options={"split": "val", "day": 2})
    assert [i["day_index"] for i in infos.values()] == [2, 2] and infos["vpp_1"]["split"] == "val"


def test_import_vpp_gym_does_not_import_pettingzoo() -> None:
    """Nor agents: the environment never imports agents (the view of the game, agents.game, is registered by name)."""
    code = (
        "import sys, vpp_gym; assert 'pettingzoo' not in sys.modules and 'vpp_gym.multi' not in sys.modules\n"
        "assert 'agents' not in sys.modules, sorted(m for m in sys.modules if m.split('.')[0] == 'agents')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rival_offer_moves_the_price() -> None:
    """At a bid step both agents get the same joint price; a rival's cheap large offer lowers it."""
    env = make_two()
    names = env.envs[0].action_names
    i_low, i_high, i_price = (names.index(n) for n in ("da_low", "da_high", "da_price"))

    def first_bid(rival: np.ndarray) -> dict:
        env.reset(seed=5)
        a0 = np.zeros(len(names), dtype=np.float32)
        _, _, _, _, infos = env.step({"vpp_0": a0, "vpp_1": rival})
        return infos

    idle = np.zeros(len(names), dtype=np.float32)  # mid-price curve of 0 MW
    idle[i_low] = idle[i_high] = 0.0
    cheap = np.zeros(len(names), dtype=np.float32)
    cheap[i_low] = cheap[i_high] = 1.0  # the whole position at any price
    cheap[i_price] = -1.0
    m_idle, m_cheap = (first_bid(a) for a in (idle, cheap))
    for infos in (m_idle, m_cheap):
        assert infos["vpp_0"]["market"]["price"] == infos["vpp_1"]["market"]["price"]
    assert m_cheap["vpp_1"]["market"]["award_mw"] > 0.0
    assert m_cheap["vpp_0"]["market"]["price"] < m_idle["vpp_0"]["market"]["price"]


def test_joint_awards_are_settled_at_delivery() -> None:
    """Each agent's day-ahead settlement at delivery is its joint-clearing award at the joint price."""
    env = make_two()
    env.reset(seed=9)
    dt = env.envs[0].config.time.interval_minutes / 60.0
    rng = np.random.default_rng(9)
    cleared: dict[int, dict[str, dict]] = {}
    settled = 0
    while env.agents:
        actions = {a: rng.uniform(-1.0, 1.0, env.action_space(a).shape).astype(np.float32) for a in env.agents}
        _, _, _, _, infos = env.step(actions)
        for agent, info in infos.items():
            if info["bidding"]:
                cleared.setdefault(info["t"], {})[agent] = info["market"]
            else:
                market = cleared[info["t"]][agent]
                assert info["energy_da"]["quantity_mwh"] == market["award_mw"] * dt
                assert info["energy_da"]["price_per_mwh"] == market["price"]
                settled += 1
    assert settled == 2 * 96
    prices = [m["vpp_0"]["price"] for m in cleared.values()]
    assert all(m["vpp_0"]["price"] == m["vpp_1"]["price"] for m in cleared.values()) and len(set(prices)) > 1
    assert any(abs(m["vpp_0"]["award_mw"]) > 0 and abs(m["vpp_1"]["award_mw"]) > 0 for m in cleared.values())


def test_public_results_as_observation_rows() -> None:
    env = MultiVppEnv("vpp_gym/Arbitrage-v1", n_agents=2, public_obs=True)
    parallel_api_test(env, num_cycles=200)
    plain = MultiVppEnv("vpp_gym/Arbitrage-v1", n_agents=2)
    obs, _ = env.reset(seed=4)
    obs_p, _ = plain.reset(seed=4)
    n = plain.observation_space("vpp_0").shape[0]
    assert env.observation_space("vpp_0").shape == (n + 2,)
    assert np.array_equal(obs["vpp_1"][:n], obs_p["vpp_1"]) and np.array_equal(obs["vpp_1"][n:], [0.0, 0.0])
    p = env.envs[0].params
    rng = np.random.default_rng(4)
    for _ in range(3):
        actions = {a: rng.uniform(-1.0, 1.0, plain.action_space(a).shape).astype(np.float32) for a in env.agents}
        obs, _, _, _, infos = env.step(actions)
        obs_p, _, _, _, _ = plain.step(actions)
        market = infos["vpp_0"]["market"]
        expected = np.array([market["price"] / p.price_ref_per_mwh, market["total_award_mw"] / 20.0], np.float32)
        for a in env.agents:
            assert np.array_equal(obs[a][n:], expected) and np.array_equal(obs[a][:n], obs_p[a])
            assert env.observation_space(a).contains(obs[a])


def test_seed_batched() -> None:
    try:
        from pettingzoo.test import parallel_seed_test
    except ImportError:  # pragma: no cover - older PettingZoo
        pytest.skip("this PettingZoo has no parallel_seed_test")
    env = MultiVppEnv("vpp_gym/Arbitrage-v1", n_agents=2)
    assert env._vec is not None  # one config for both: the agents are rows of the batched core
    parallel_seed_test(lambda: MultiVppEnv("vpp_gym/Arbitrage-v1", n_agents=2), num_cycles=250)
