"""Price-maker clearing in the oracle: offers against a known competitor stack (configs/markets/autonomous.yaml).

The segments of :func:`agents.oracle.stack_segments` are checked by hand and against the simulator's
own clearing function by brute force; the whole oracle is checked by replaying its plan through the
env on price-maker scenarios, and by comparison with other policies on the same episodes.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import run_episode
from agents.mpc import MpcPolicy
from agents.oracle import STACK_MARGIN_MW, OraclePolicy, OracleScopeError, solve, stack_segments
from agents.rule import PriceThresholdPolicy
from vpp_gym.config import packaged_config
from vpp_gym.markets.clearing import clear_transaction

AUTONOMOUS = packaged_config("markets/autonomous.yaml")
D = STACK_MARGIN_MW


def test_segments_of_a_three_offer_stack_by_hand() -> None:
    # need 10 MW; competitors 4 MW at 10, 4 MW at 20, 4 MW at 30 (Q = 0, 4, 8, 12), cap 50.
    # Accepted a in [6, 10): competitor 1 is marginal, price 10; [2, 6): competitor 2, price 20;
    # [0, 2): competitor 3, price 30. Revenue a * price peaks at a -> 6 (120), not at a = 10 (100).
    t, lo, hi, price = stack_segments(
        np.array([[4.0, 4.0, 4.0]]), np.array([[10.0, 20.0, 30.0]]), np.array([10.0]), 50.0
    )
    assert t.tolist() == [0, 0, 0]
    np.testing.assert_allclose(lo, [6 + D, 2 + D, D])
    np.testing.assert_allclose(hi, [10 - D, 6 - D, 2 - D])
    np.testing.assert_allclose(price, [10.0, 20.0, 30.0])
    assert max(price * hi) == pytest.approx(20.0 * (6 - D))

    # a short stack (6 MW for a 10 MW need): below 4 MW everything clears at the cap
    t, lo, hi, price = stack_segments(np.array([[3.0, 3.0]]), np.array([[10.0, 20.0]]), np.array([10.0]), 50.0)
    np.testing.assert_allclose(np.c_[lo, hi, price], [[7 + D, 10 - D, 10.0], [4 + D, 7 - D, 20.0], [D, 4 - D, 50.0]])

    # the offer above the cap is rejected (valid supply 10 MW for a 12 MW need: short), and the
    # zero-priced competitor cannot be undercut, so [7, 12) has no segment
    t, lo, hi, price = stack_segments(
        np.array([[5.0, 5.0, 5.0]]), np.array([[0.0, 20.0, 90.0]]), np.array([12.0]), 50.0
    )
    np.testing.assert_allclose(np.c_[lo, hi, price], [[2 + D, 7 - D, 20.0], [D, 2 - D, 50.0]])


def test_segments_agree_with_the_simulators_clearing_by_brute_force() -> None:
    """Every segment clears at its price for an offer priced at 0; no offer at any price beats the best one."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        m = int(rng.integers(1, 7))
        q_c = rng.uniform(0.5, 6.0, m)
        p_c = np.sort(np.round(rng.uniform(0.0, 60.0, m), 1))
        need, cap, upper = float(rng.uniform(2.0, 25.0)), 50.0, float(rng.uniform(1.0, 12.0))
        _, lo, hi, price = stack_segments(q_c[None], p_c[None], np.array([need]), cap)
        for a_lo, a_hi, pr in zip(lo, hi, price, strict=True):
            for a in (a_lo, 0.5 * (a_lo + a_hi), a_hi):
                acc, clearing = clear_transaction(a, 0.0, q_c, p_c, need, cap, 0.0)
                assert acc == pytest.approx(a, abs=1e-12) and clearing == pytest.approx(pr), (a, pr)
        ok = lo <= upper
        best = float(np.max(price[ok] * np.minimum(hi[ok], upper), initial=0.0))
        # brute force over offer quantities and prices (every competitor price, just below and above it,
        # midpoints, 0 and the cap): the revenue accepted * price never beats the best segment by more
        # than the margins the segments leave out
        prices = np.unique(
            np.concatenate([[0.0, cap], p_c, np.maximum(p_c - 1e-7, 0.0), p_c + 1e-7, 0.5 * (p_c[1:] + p_c[:-1])])
        )
        prices = prices[prices <= cap]
        cum = np.concatenate([[0.0], np.cumsum(q_c)])
        qs = np.unique(
            np.clip(np.concatenate([np.linspace(0.0, upper, 401), need - cum, need - cum - 1e-7]), 0.0, upper)
        )
        acc, clearing = clear_transaction(qs[:, None], prices[None, :], q_c, p_c, need, cap, 0.0)
        brute = float(np.max(acc * clearing))
        assert brute <= best + 2 * D * cap + 1e-9, (brute, best)
        assert best <= brute + 2 * D * cap + 1e-9, (brute, best)


@pytest.mark.parametrize(
    ("env_id", "overrides", "day"),
    [
        ("vpp_gym/Arbitrage-v0", {}, 0),  # day-ahead energy against an 8-offer stack
        ("vpp_gym/Arbitrage-v0", {}, 1),
        ("vpp_gym/Regulation-v0", {}, 0),  # energy, regulation and reserve stacks
        ("vpp_gym/Joint-v0", {"time": {"episode_hours": 6}}, 0),  # every market, demand response included
    ],
)
def test_price_maker_oracle_replays_exactly_and_beats_other_offers(env_id: str, overrides: dict, day: int) -> None:
    env = gym.make(env_id, config=AUTONOMOUS, **overrides)
    opts = {"split": "test", "day": day}
    oracle = OraclePolicy(env)
    replay = run_episode(env, oracle, seed=day, options=opts)
    plan = oracle.plan
    assert plan is not None and plan.mip
    assert replay["profit"] == pytest.approx(plan.profit, rel=1e-6, abs=1e-6)
    rule = run_episode(env, PriceThresholdPolicy(env), seed=day, options=opts)["profit"]
    assert replay["profit"] >= rule - 1e-6 * abs(replay["profit"])
    # the oracle withholds: the same plan with every capacity offer at its maximum quantity (the stack
    # then clears at a lower price) is never better, and on these days strictly worse
    u = env.unwrapped
    cols = [u.params.action_index[f"{prod}_mw"] for prod in u.params.open_products]
    full = plan.actions.copy()
    full[:, cols] = 1.0
    env.reset(seed=day, options=opts)
    flooded = sum(env.step(a.astype(np.float32))[4]["profit"] for a in full)
    assert replay["profit"] > flooded, (replay["profit"], flooded)


def test_mpc_and_a_solve_without_stacks_are_out_of_scope() -> None:
    env = gym.make("vpp_gym/Arbitrage-v0", config=AUTONOMOUS)
    with pytest.raises(OracleScopeError, match=r"competitor stacks .* energy"):
        MpcPolicy(env)  # MPC sees what the agent sees; the competitors' offers are private
    u = env.unwrapped
    u.reset(seed=0)
    with pytest.raises(OracleScopeError, match="energy"):
        solve(u.params, u.episode.exo[0], u.state)
    with pytest.raises(ValueError, match=r"stacks\['energy'\]"):
        solve(u.params, u.episode.exo[0], u.state, stacks={"energy": (np.zeros((3, 8)), np.zeros((3, 8)))})
