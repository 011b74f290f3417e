"""The joint clearing of the market game (vpp_gym.markets.energy.clear_curves), worked by hand.

Need N = 20 MW, cap 1000, floor 0. Residual stack: 8 MW at 300, 8 MW at 400, 10 MW at 600.
Agent A offers 5 MW at 350, agent B 8 MW at 380 (one segment each, base 0). Merit order:

    300 stack 8   -> 8
    350 A     5   -> 13
    380 B     8   -> 21 >= 20: B is the marginal offer, the price is 380 (set by B's offer)

Awards: the stack 8, A 5, B the rest, 20 - 8 - 5 = 7 MW; everyone is paid 380. The stack's 400
offer is left out. B moving its price to 390 moves the price to 390; at 420 B is out of the merit
order and the stack's 400 offer sets the price (A 5, B 0, the stack 8 + 7).
"""

from __future__ import annotations

import numpy as np
import pytest

from vpp_gym.markets.energy import clear_curve, clear_curves

STACK_MW = np.array([[8.0, 8.0, 10.0]])
STACK_PRICE = np.array([[300.0, 400.0, 600.0]])


def clear(price_a: float, q_a: float, price_b: float, q_b: float, stack_mw=STACK_MW, stack_price=STACK_PRICE):
    pos, price = clear_curves(
        np.zeros((1, 2)),
        np.array([[[price_a], [price_b]]]),
        np.array([[[q_a], [q_b]]]),
        stack_mw,
        stack_price,
        np.array([20.0]),
        1000.0,
        0.0,
    )
    return pos[0].tolist(), float(price[0])


def test_agent_b_sets_the_price() -> None:
    assert clear(350.0, 5.0, 380.0, 8.0) == ([5.0, 7.0], 380.0)


def test_agent_b_moves_the_price() -> None:
    assert clear(350.0, 5.0, 390.0, 8.0) == ([5.0, 7.0], 390.0)


def test_agent_b_priced_out() -> None:
    assert clear(350.0, 5.0, 420.0, 8.0) == ([5.0, 0.0], 400.0)


def test_tied_agents_share_the_margin_pro_rata() -> None:
    # A and B both 8 MW at 380: supply 8 + 16 >= 20 at 380; the margin 20 - 8 = 12 MW is split 8 : 8
    assert clear(380.0, 8.0, 380.0, 8.0, np.array([[8.0, 10.0]]), np.array([[300.0, 600.0]])) == ([6.0, 6.0], 380.0)
    # A 4 MW and B 12 MW at 380: the 12 MW margin split 4 : 12, i.e. 3 and 9
    assert clear(380.0, 4.0, 380.0, 12.0, np.array([[8.0, 10.0]]), np.array([[300.0, 600.0]])) == ([3.0, 9.0], 380.0)


def test_stack_goes_first_at_a_tie() -> None:
    # a 4 MW stack offer at 380 too: it is accepted first (20 - 8 - 4 = 8 MW left for A and B)
    stack_mw, stack_price = np.array([[8.0, 4.0, 10.0]]), np.array([[300.0, 380.0, 600.0]])
    assert clear(380.0, 8.0, 380.0, 8.0, stack_mw, stack_price) == ([4.0, 4.0], 380.0)


def test_scarcity_pays_the_cap() -> None:
    # 1 + 2 + 8 MW of supply in all < 20: everything is accepted at the cap
    assert clear(350.0, 1.0, 380.0, 2.0, np.array([[8.0]]), np.array([[300.0]])) == ([1.0, 2.0], 1000.0)


@pytest.mark.parametrize("seed", range(20))
def test_one_agent_is_clear_curve_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s, k, m = 50, 4, 6
    base = rng.uniform(-5.0, 5.0, s)
    prices = np.sort(rng.choice([100.0, 200.0, 300.0, 321.5], (s, k)), axis=-1)
    steps = rng.uniform(0.0, 5.0, (s, k))
    stack_mw = rng.uniform(0.0, 10.0, (s, m))
    stack_price = np.sort(rng.choice([100.0, 200.0, 300.0, 456.7], (s, m)), axis=-1)
    need = rng.uniform(0.0, 40.0, s)
    pos, price = clear_curve(base, prices, steps, stack_mw, stack_price, need, 400.0, 0.0)
    pos_n, price_n = clear_curves(
        base[:, None], prices[:, None], steps[:, None], stack_mw, stack_price, need, 400.0, 0.0
    )
    assert np.array_equal(pos, pos_n[:, 0]) and np.array_equal(price, price_n)


@pytest.mark.parametrize("seed", range(20))
def test_awards_meet_the_need_and_lie_on_the_curves(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s, a, k, m = 40, 3, 4, 5
    prices = np.sort(rng.uniform(0.0, 500.0, (s, a, k)), axis=-1)
    steps = rng.uniform(0.0, 5.0, (s, a, k))
    stack_mw = rng.uniform(0.0, 10.0, (s, m))
    stack_price = np.sort(rng.uniform(0.0, 500.0, (s, m)), axis=-1)
    need = np.full(s, 30.0)
    pos, price = clear_curves(np.zeros((s, a)), prices, steps, stack_mw, stack_price, need, 1000.0, 0.0)
    lam = price[:, None, None]
    q_at = np.sum(np.where(prices <= lam, steps, 0.0), axis=-1)
    q_lt = np.sum(np.where(prices < lam, steps, 0.0), axis=-1)
    assert np.all(pos >= q_lt - 1e-9) and np.all(pos <= q_at + 1e-9)
    stack_at = np.sum(np.where(stack_price <= price[:, None], stack_mw, 0.0), axis=-1)
    served = np.minimum(stack_at + pos.sum(axis=-1), need)  # the stack is first at the price
    scarce = price == 1000.0
    assert np.allclose(served[~scarce], need[~scarce])
