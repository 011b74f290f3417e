"""Market clearing: hand-worked invitation and transaction examples, edge cases, batching, a brute-force
property test and the competitor stack generator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpp_gym.markets.clearing import (
    CompetitorStackConfig,
    clear_invitation,
    clear_transaction,
    competitor_stack,
)
from vpp_gym.ops import SCALAR
from vpp_gym.validation import ConfigError, from_mapping

CAP = 300.0
REF = 18.0


def clear1(
    offer: tuple[float, float], stack: list[tuple[float, float]], need: float, cap: float = CAP, ref: float = REF
) -> tuple[float, float]:
    """Clear one interval (B = 1) given the VPP's offer ``(mw, price)`` and competitor offers."""
    q = np.array([[s[0] for s in stack]], dtype=float).reshape(1, len(stack))
    p = np.array([[s[1] for s in stack]], dtype=float).reshape(1, len(stack))
    acc, price = clear_transaction(
        np.array([offer[0]]), np.array([offer[1]]), q, p, np.array([need]), np.array([cap]), np.array([ref])
    )
    assert acc.shape == (1,) and price.shape == (1,)
    return float(acc[0]), float(price[0])


# ---------------------------------------------------------------- invitation form


def test_invitation_oversubscribed_is_scaled_pro_rata():
    # declared 30 + others 90 = 120 > need 60 -> factor 60 / 120 = 0.5 -> accepted 30 * 0.5 = 15
    np.testing.assert_allclose(clear_invitation(np.array([30.0]), np.array([90.0]), np.array([60.0])), [15.0])


def test_invitation_undersubscribed_and_empty_cases():
    declared = np.array([30.0, 0.0, 0.0, 30.0, -5.0])
    others = np.array([10.0, 0.0, 50.0, 0.0, 10.0])
    need = np.array([60.0, 60.0, 60.0, 0.0, 60.0])
    # 30 + 10 = 40 <= 60 -> all 30; total 0 -> 0; VPP declares nothing -> 0; need 0 -> 0; negative -> 0
    np.testing.assert_array_equal(clear_invitation(declared, others, need), [30.0, 0.0, 0.0, 0.0, 0.0])


def test_invitation_scalar_ops_match_numpy():
    for d, o, n in [(30.0, 90.0, 60.0), (30.0, 10.0, 60.0), (0.0, 0.0, 10.0), (12.5, 7.5, 10.0)]:
        assert clear_invitation(d, o, n, xp=SCALAR) == float(
            clear_invitation(np.array([d]), np.array([o]), np.array([n]))[0]
        )
    # 12.5 + 7.5 = 20 > 10 -> 12.5 * 10 / 20 = 6.25
    assert clear_invitation(12.5, 7.5, 10.0, xp=SCALAR) == 6.25


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1e4), st.floats(0, 1e4), st.floats(0, 1e4))
def test_invitation_never_exceeds_declaration_or_need(d, o, n):
    acc = float(clear_invitation(np.array([d]), np.array([o]), np.array([n]))[0])
    acc_others = float(clear_invitation(np.array([o]), np.array([d]), np.array([n]))[0])
    assert 0.0 <= acc <= d
    assert acc + acc_others <= max(n, 0.0) * (1 + 1e-12) + 1e-9
    if d + o <= n:
        assert acc == d


# ---------------------------------------------------------------- transaction form


def test_marginal_price_and_partial_acceptance():
    # need 100; merit order 10 (40 MW), VPP 15 (20 MW), 20 (50 MW), 25 (30 MW):
    #   40 @ 10 -> cumulative 40; VPP 20 @ 15 -> 60; 40 of 50 @ 20 -> 100 = need; 25 not reached.
    # marginal (highest accepted) price = 20, paid to every accepted offer, the VPP included.
    assert clear1((20.0, 15.0), [(40.0, 10.0), (50.0, 20.0), (30.0, 25.0)], 100.0) == (20.0, 20.0)


def test_zero_dimensional_inputs():
    # same example as above without a batch dimension
    acc, price = clear_transaction(
        20.0, 15.0, np.array([40.0, 50.0, 30.0]), np.array([10.0, 20.0, 25.0]), 100.0, CAP, REF
    )
    assert acc.shape == () and price.shape == ()
    assert (float(acc), float(price)) == (20.0, 20.0)


def test_tie_at_the_margin_fills_the_competitor_first():
    stack = [(30.0, 10.0), (40.0, 20.0)]
    # need 50: 30 @ 10 -> 30; at price 20 the competitor (40) is ahead of the VPP (40):
    #   competitor gets 20 of 40 -> 50 = need; the VPP gets nothing; price 20.
    assert clear1((40.0, 20.0), stack, 50.0) == (0.0, 20.0)
    # need 80: 30 + 40 = 70 before the VPP -> VPP gets 80 - 70 = 10 at price 20.
    assert clear1((40.0, 20.0), stack, 80.0) == (10.0, 20.0)
    # a competitor listed after a cheaper one at the same price is still ahead of the VPP
    assert clear1((40.0, 20.0), [(40.0, 20.0), (30.0, 10.0)], 50.0) == (0.0, 20.0)


def test_price_maker_vpp_offer_is_the_marginal_one():
    stack = [(60.0, 10.0), (60.0, 30.0)]
    # without the VPP: 60 @ 10, then 40 of 60 @ 30 -> price 30
    assert clear1((0.0, 20.0), stack, 100.0) == (0.0, 30.0)
    # VPP 50 @ 20: 60 @ 10 -> 60; VPP 40 of 50 @ 20 -> 100 = need: the VPP is marginal, price 20
    assert clear1((50.0, 20.0), stack, 100.0) == (40.0, 20.0)


def test_cheap_vpp_offer_pushes_a_competitor_out_and_lowers_the_price():
    stack = [(50.0, 10.0), (30.0, 20.0), (40.0, 30.0)]
    # without the VPP, need 80: 50 @ 10 + 30 @ 20 = 80 -> price 20
    assert clear1((0.0, 5.0), stack, 80.0) == (0.0, 20.0)
    # VPP 30 @ 5: 30 @ 5 + 50 @ 10 = 80 -> the 20-offer is out, price drops to 10
    assert clear1((30.0, 5.0), stack, 80.0) == (30.0, 10.0)


def test_scarcity_accepts_everything_at_the_cap():
    # supply 30 + 40 + VPP 20 = 90 < need 100 -> all accepted, price = cap 300
    assert clear1((20.0, 50.0), [(30.0, 10.0), (40.0, 20.0)], 100.0) == (20.0, CAP)
    # no offers at all and a positive need -> cap
    assert clear1((0.0, 50.0), [(0.0, 10.0)], 100.0) == (0.0, CAP)


def test_offer_above_the_cap_is_rejected():
    stack = [(40.0, 10.0), (40.0, 20.0)]
    # VPP 30 @ 350 > cap 300 is rejected: supply 80 < need 100 -> scarcity, price 300, VPP 0
    assert clear1((30.0, 350.0), stack, 100.0) == (0.0, CAP)
    # at exactly the cap it is valid: 40 + 40 = 80, VPP 20 of 30 @ 300 -> VPP marginal, price 300
    assert clear1((30.0, CAP), stack, 100.0) == (20.0, CAP)
    # a competitor above the cap is rejected too: 40 @ 10 + VPP 5 @ 50 = 45 < 50 -> scarcity
    assert clear1((5.0, 50.0), [(40.0, 10.0), (40.0, 500.0)], 50.0) == (5.0, CAP)


def test_zero_need_accepts_nothing_and_prices_at_the_lowest_offer():
    # need 0: nothing accepted; price = lowest valid offer price = min(10, 15) = 10
    assert clear1((20.0, 15.0), [(40.0, 10.0), (50.0, 20.0)], 0.0) == (0.0, 10.0)
    # the VPP's offer can be the lowest one
    assert clear1((20.0, 5.0), [(40.0, 10.0)], 0.0) == (0.0, 5.0)
    # no (valid) offers: reference price
    assert clear1((0.0, 5.0), [(0.0, 10.0), (40.0, 400.0)], 0.0) == (0.0, REF)


def test_price_taker_without_a_stack():
    empty: list[tuple[float, float]] = []
    # offer 30 @ 40 <= ref 50, need 20 -> accepted min(30, 20) = 20, price = ref 50
    assert clear1((30.0, 40.0), empty, 20.0, ref=50.0) == (20.0, 50.0)
    # at exactly the reference price: accepted min(30, 40) = 30
    assert clear1((30.0, 50.0), empty, 40.0, ref=50.0) == (30.0, 50.0)
    # offer 30 @ 60 > ref 50 -> rejected, price still 50
    assert clear1((30.0, 60.0), empty, 20.0, ref=50.0) == (0.0, 50.0)
    # below the reference price but above the cap -> rejected
    assert clear1((30.0, 40.0), empty, 20.0, cap=35.0, ref=50.0) == (0.0, 50.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same shape"):
        clear_transaction(np.ones(2), np.ones(2), np.ones((2, 3)), np.ones((2, 2)), np.ones(2), CAP, REF)


CASES = [  # (vpp offer, stack padded to M = 3 with zero quantities, need, cap, ref)
    ((20.0, 15.0), [(40.0, 10.0), (50.0, 20.0), (30.0, 25.0)], 100.0, CAP, REF),
    ((40.0, 20.0), [(30.0, 10.0), (40.0, 20.0), (0.0, 0.0)], 50.0, CAP, REF),
    ((50.0, 20.0), [(60.0, 10.0), (60.0, 30.0), (0.0, 99.0)], 100.0, CAP, REF),
    ((30.0, 5.0), [(50.0, 10.0), (30.0, 20.0), (40.0, 30.0)], 80.0, CAP, REF),
    ((20.0, 50.0), [(30.0, 10.0), (40.0, 20.0), (0.0, 1.0)], 100.0, 250.0, REF),
    ((30.0, 350.0), [(40.0, 10.0), (40.0, 20.0), (0.0, 0.0)], 100.0, CAP, REF),
    ((20.0, 15.0), [(40.0, 10.0), (50.0, 20.0), (0.0, 0.0)], 0.0, CAP, 42.0),
    ((0.0, 5.0), [(0.0, 10.0), (0.0, 3.0), (0.0, 0.0)], 0.0, CAP, 42.0),
    ((7.0, 30.0), [(5.0, 40.0), (6.0, 30.0), (9.0, 10.0)], 12.0, CAP, REF),  # unsorted stack
]


def _as_batch(cases):
    q_v = np.array([c[0][0] for c in cases])
    p_v = np.array([c[0][1] for c in cases])
    q_c = np.array([[s[0] for s in c[1]] for c in cases])
    p_c = np.array([[s[1] for s in c[1]] for c in cases])
    need, cap, ref = (np.array([c[k] for c in cases]) for k in (2, 3, 4))
    return q_v, p_v, q_c, p_c, need, cap, ref


def test_a_batch_of_cases_equals_one_at_a_time():
    acc, price = clear_transaction(*_as_batch(CASES))
    single = [clear1(c[0], c[1], c[2], c[3], c[4]) for c in CASES]
    np.testing.assert_array_equal(acc, [s[0] for s in single])
    np.testing.assert_array_equal(price, [s[1] for s in single])
    # last case (unsorted stack), need 12: 9 @ 10 -> 9; at price 30 the competitor (6) is ahead of the
    #   VPP (7): 3 of 6 -> 12 = need; the VPP gets 0; price 30
    assert (acc[-1], price[-1]) == (0.0, 30.0)


def test_two_batch_dimensions_equal_the_flattened_batch():
    q_v, p_v, q_c, p_c, need, cap, ref = _as_batch(CASES[:8])
    acc, price = clear_transaction(
        q_v.reshape(2, 4),
        p_v.reshape(2, 4),
        q_c.reshape(2, 4, 3),
        p_c.reshape(2, 4, 3),
        need.reshape(2, 4),
        cap.reshape(2, 4),
        ref.reshape(2, 4),
    )
    acc_f, price_f = clear_transaction(q_v, p_v, q_c, p_c, need, cap, ref)
    assert acc.shape == (2, 4)
    np.testing.assert_array_equal(acc.ravel(), acc_f)
    np.testing.assert_array_equal(price.ravel(), price_f)
    # a scalar cap broadcasts like a per-row one
    acc_s, price_s = clear_transaction(q_v[:4], p_v[:4], q_c[:4], p_c[:4], need[:4], CAP, ref[:4])
    np.testing.assert_array_equal(acc_s, acc_f[:4])
    np.testing.assert_array_equal(price_s, price_f[:4])


# ---------------------------------------------------------------- property test against a brute force


def brute_force(offer, stack, need, cap, ref):
    """Plain merit-order loop: competitors keep their index as tie rank, the VPP ranks after all of them."""
    offers = [(p, k, q, False) for k, (q, p) in enumerate(stack)] + [(offer[1], len(stack), offer[0], True)]
    offers = sorted((o for o in offers if o[0] <= cap and o[2] > 0), key=lambda o: (o[0], o[1]))
    if need <= 0:
        return 0.0, (offers[0][0] if offers else ref)
    remaining, price, vpp = need, None, 0.0
    for p, _, q, is_vpp in offers:
        take = min(q, remaining)
        if take <= 0:
            break
        remaining -= take
        price = p
        if is_vpp:
            vpp = take
    return vpp, (cap if remaining > 0 else price)


qty = st.integers(0, 12).map(float)
prc = st.integers(0, 6).map(lambda k: 5.0 * k)  # few distinct prices -> many ties
stack_st = st.lists(st.tuples(qty, prc), min_size=1, max_size=6)
row_st = st.tuples(
    st.tuples(qty, st.integers(0, 8).map(lambda k: 5.0 * k)),
    stack_st,
    st.integers(0, 50).map(float),
    st.sampled_from([20.0, 25.0, 300.0]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(row_st, min_size=1, max_size=6), st.integers(1, 6))
def test_clearing_matches_a_brute_force_merit_order_loop(rows, m):
    # pad/truncate every stack to a common M = m so the rows form one batch (zero-quantity padding)
    cases = [(offer, (stack + [(0.0, 0.0)] * m)[:m], need, cap, REF) for offer, stack, need, cap in rows]
    acc, price = clear_transaction(*_as_batch(cases))
    expected = [brute_force(*c) for c in cases]
    np.testing.assert_array_equal(acc, [e[0] for e in expected])
    np.testing.assert_array_equal(price, [e[1] for e in expected])
    # the same stacks pre-sorted by price (the fast path) give the same VPP outcome
    q_v, p_v, q_c, p_c, need, cap, ref = _as_batch(cases)
    order = np.argsort(p_c, axis=1, kind="stable")
    acc_s, price_s = clear_transaction(
        q_v, p_v, np.take_along_axis(q_c, order, 1), np.take_along_axis(p_c, order, 1), need, cap, ref
    )
    np.testing.assert_array_equal(acc_s, acc)
    np.testing.assert_array_equal(price_s, price)
    assert np.all(acc <= np.minimum(q_v, need)) and np.all(price <= np.maximum(cap, ref))


# ---------------------------------------------------------------- competitor stack


def test_competitor_stack_shapes_determinism_and_bounds():
    cfg = CompetitorStackConfig(n_offers=5, supply_ratio=1.3, price_spread=0.5, quantity_noise=0.2)
    need = np.random.default_rng(1).uniform(10.0, 100.0, (3, 7))
    ref = np.random.default_rng(2).uniform(20.0, 80.0, (3, 7))
    q1, p1 = competitor_stack(cfg, need, ref, np.random.default_rng(7))
    q2, p2 = competitor_stack(cfg, need, ref, np.random.default_rng(7))
    q3, _ = competitor_stack(cfg, need, ref, np.random.default_rng(8))
    assert q1.shape == p1.shape == (3, 7, 5)
    np.testing.assert_array_equal(q1, q2)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(q1, q3)
    assert np.all(q1 >= 0.0) and np.all(p1 >= 0.0)
    np.testing.assert_allclose(q1.sum(axis=-1), 1.3 * need, rtol=1e-12)
    assert np.all(np.diff(p1, axis=-1) >= 0.0)  # sorted by price
    assert np.all(p1 >= 0.5 * ref[..., None] - 1e-9) and np.all(p1 <= 1.5 * ref[..., None] + 1e-9)


def test_competitor_stack_without_offers_and_with_odd_inputs():
    rng = np.random.default_rng(0)
    q, p = competitor_stack(CompetitorStackConfig(), np.ones((2, 3)), np.ones((2, 3)), rng)
    assert q.shape == p.shape == (2, 3, 0)
    assert rng.random() == np.random.default_rng(0).random()  # nothing drawn for a price-taker
    # negative reference price -> stack priced at 0; zero need -> zero quantities; full noise stays >= 0
    cfg = CompetitorStackConfig(n_offers=4, quantity_noise=1.0, price_spread=1.0, supply_ratio=0.8)
    q, p = competitor_stack(cfg, np.array([0.0, 50.0]), np.array([-10.0, 40.0]), rng)
    np.testing.assert_array_equal(q[0], 0.0)
    np.testing.assert_array_equal(p[0], 0.0)
    assert np.all(q[1] >= 0.0) and np.all(p[1] >= 0.0) and np.all(p[1] <= 40.0)  # r < 1: all below ref


def test_vpp_offer_at_the_reference_price_clears_near_it_on_average():
    rng = np.random.default_rng(123)
    n = 4000
    need = rng.uniform(50.0, 150.0, n)
    ref = rng.uniform(20.0, 80.0, n)
    q_c, p_c = competitor_stack(CompetitorStackConfig(n_offers=8), need, ref, rng)
    acc, price = clear_transaction(0.1 * need, ref, q_c, p_c, need, 1000.0, ref)
    ratio = price / ref
    assert abs(ratio.mean() - 1.0) < 0.03
    assert np.all(ratio >= 0.5 - 1e-12) and np.all(ratio <= 1.5 + 1e-12)  # supply 1.3 x need: never scarce
    assert 0.0 < acc.mean() < 0.1 * need.mean()


def test_competitor_stack_config_validation():
    for bad in (
        {"n_offers": -1},
        {"n_offers": 1.5},
        {"n_offers": True},
        {"supply_ratio": 0.0},
        {"price_spread": 1.5},
        {"quantity_noise": -0.1},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            CompetitorStackConfig(**bad)
    assert from_mapping(CompetitorStackConfig, {"n_offers": 8}) == CompetitorStackConfig(n_offers=8)
    with pytest.raises(ConfigError, match="n_offers"):
        from_mapping(CompetitorStackConfig, {"n_offers": 2.0})
