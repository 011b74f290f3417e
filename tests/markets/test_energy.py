"""Energy-market rules: offer-curve decoding, price-taker and price-maker clearing (hand-worked cases and a
brute-force merit-order walk), deviation assessment and contracts for difference."""

from __future__ import annotations

import numpy as np
import pytest

from vpp_gym.markets.clearing import QUANTITY_TOL_MW
from vpp_gym.markets.energy import cfd_cash, clear_curve, deviation_penalty, ladder, position_at

CAP = 300.0
FLOOR = 0.0


def curve(base: float, segments: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row (B = 1) of a curve: ``base`` and segments ``(mw, price)``."""
    return (
        np.array([base]),
        np.array([[s[1] for s in segments]], dtype=float),
        np.array([[s[0] for s in segments]], dtype=float),
    )


def clear1(
    base: float,
    segments: list[tuple[float, float]],
    stack: list[tuple[float, float]],
    need: float,
    cap: float = CAP,
    floor: float = FLOOR,
) -> tuple[float, float]:
    """Clear one interval (B = 1): the VPP's curve, competitor offers ``(mw, price)``, the need."""
    b, p_v, q_v = curve(base, segments)
    q_c = np.array([[s[0] for s in stack]], dtype=float).reshape(1, len(stack))
    p_c = np.array([[s[1] for s in stack]], dtype=float).reshape(1, len(stack))
    pos, price = clear_curve(b, p_v, q_v, q_c, p_c, np.array([need]), np.array([cap]), np.array([floor]))
    assert pos.shape == (1,) and price.shape == (1,)
    return float(pos[0]), float(price[0])


# ---------------------------------------------------------------- offer curve decoding


def test_ladder_one_segment():
    # K = 1: base = lo = 1, one step of hi - lo = 4 - 1 = 3 MW at price_mid = 50 (spread ignored: offset 0)
    base, prices, steps = ladder(np.array([1.0]), np.array([4.0]), np.array([50.0]), np.array([20.0]), 1)
    assert base.shape == (1,) and prices.shape == (1, 1) and steps.shape == (1, 1)
    np.testing.assert_array_equal(base, [1.0])
    np.testing.assert_array_equal(prices, [[50.0]])
    np.testing.assert_array_equal(steps, [[3.0]])


def test_ladder_four_segments():
    # K = 4, mid 100, spread 40: offsets 2 (j + 0.5) / 4 - 1 = -0.75, -0.25, 0.25, 0.75
    #   -> prices 70, 90, 110, 130 (centres of 4 bands of [60, 140]); steps (6 - (-2)) / 4 = 2 MW each
    base, prices, steps = ladder(np.array([-2.0]), np.array([6.0]), np.array([100.0]), np.array([40.0]), 4)
    np.testing.assert_array_equal(base, [-2.0])
    np.testing.assert_array_equal(prices, [[70.0, 90.0, 110.0, 130.0]])
    np.testing.assert_array_equal(steps, [[2.0, 2.0, 2.0, 2.0]])


def test_ladder_sorts_swapped_quantities():
    # q_low = 6 > q_high = -2: sorted to lo = -2, hi = 6, the same curve as above
    swapped = ladder(np.array([6.0]), np.array([-2.0]), np.array([100.0]), np.array([40.0]), 4)
    ordered = ladder(np.array([-2.0]), np.array([6.0]), np.array([100.0]), np.array([40.0]), 4)
    for a, b in zip(swapped, ordered, strict=True):
        np.testing.assert_array_equal(a, b)


def test_ladder_zero_spread_and_broadcasting():
    # spread 0: all K = 3 segments at the mid price 80; steps (3 - 0) / 3 = 1 MW; a scalar price_mid and
    # spread broadcast against (2, 2) quantities
    q_lo = np.array([[0.0, 0.0], [0.0, 3.0]])
    q_hi = np.array([[3.0, 3.0], [3.0, 0.0]])
    base, prices, steps = ladder(q_lo, q_hi, 80.0, 0.0, 3)
    assert base.shape == (2, 2) and prices.shape == (2, 2, 3) and steps.shape == (2, 2, 3)
    np.testing.assert_array_equal(base, np.zeros((2, 2)))
    np.testing.assert_array_equal(prices, np.full((2, 2, 3), 80.0))
    np.testing.assert_array_equal(steps, np.ones((2, 2, 3)))
    # the whole curve switches at 80: 0 MW below, 3 MW at and above
    np.testing.assert_array_equal(
        position_at(base, prices, steps, np.array([[79.0, 80.0], [81.0, 0.0]])), [[0, 3], [3, 0]]
    )


# ---------------------------------------------------------------- price-taker clearing


def test_two_segment_curve_from_buying_to_selling():
    # ladder(-2, 3, mid 40, spread 20, K = 2): prices 40 -/+ 20 * 0.5 = 30, 50; steps 5 / 2 = 2.5 MW
    base, prices, steps = ladder(np.array([-2.0]), np.array([3.0]), np.array([40.0]), np.array([20.0]), 2)
    np.testing.assert_array_equal(prices, [[30.0, 50.0]])
    np.testing.assert_array_equal(steps, [[2.5, 2.5]])
    b, p, q = (np.repeat(x, 6, axis=0) for x in (base, prices, steps))
    lam = np.array([10.0, 30.0, 40.0, 50.0, 60.0, -20.0])
    # below both: buys 2; at 30 exactly (accepted): -2 + 2.5 = 0.5; between: 0.5; at 50 exactly: 3;
    # above both: 3; a negative price: buys 2
    np.testing.assert_array_equal(position_at(b, p, q, lam), [-2.0, 0.5, 0.5, 3.0, 3.0, -2.0])


def test_position_at_with_two_batch_dimensions():
    # base 1, segments 2 MW @ 20 and 4 MW @ 60 on a (2, 3) batch of prices
    base = np.ones((2, 3))
    prices = np.broadcast_to([20.0, 60.0], (2, 3, 2))
    steps = np.broadcast_to([2.0, 4.0], (2, 3, 2))
    lam = np.array([[0.0, 20.0, 59.0], [60.0, 61.0, 1e4]])
    np.testing.assert_array_equal(position_at(base, prices, steps, lam), [[1.0, 3.0, 3.0], [7.0, 7.0, 7.0]])


# ---------------------------------------------------------------- price-maker clearing


def test_vpp_segment_is_marginal_and_partially_accepted():
    # competitors 4 @ 20, 3 @ 35, 5 @ 50; VPP base 0, segments 2 @ 30, 3 @ 40; need 10
    #   supply at 20: 4 + 0 = 4; at 30: 4 + 2 = 6; at 35: 7 + 2 = 9; at 40: 7 + 5 = 12 >= 10 -> price 40
    #   VPP: q_strict(40) = 2, + clip(10 - 7 - 2, 0, 3) = 1 -> 3 MW (1 of its 3 MW segment); competitors 7
    assert clear1(0.0, [(2.0, 30.0), (3.0, 40.0)], [(4.0, 20.0), (3.0, 35.0), (5.0, 50.0)], 10.0) == (3.0, 40.0)


def test_tie_at_the_margin_fills_the_competitors_first():
    # competitors 4 @ 20, 3 @ 40; VPP 2 @ 30, 3 @ 40; need 10
    #   at 30: 6; at 40: 7 + 5 = 12 -> price 40; the competitor at 40 is taken whole (C(40) = 7),
    #   VPP 2 + clip(10 - 7 - 2, 0, 3) = 3
    assert clear1(0.0, [(2.0, 30.0), (3.0, 40.0)], [(4.0, 20.0), (3.0, 40.0)], 10.0) == (3.0, 40.0)
    # competitors 4 @ 20, 5 @ 40; need 8: at 40: 9 + 5 = 14 -> price 40;
    #   VPP 2 + clip(8 - 9 - 2, 0, 3) = 2: the competitor at 40 fills the margin (2 of its 5 MW)
    assert clear1(0.0, [(2.0, 30.0), (3.0, 40.0)], [(4.0, 20.0), (5.0, 40.0)], 8.0) == (2.0, 40.0)


def test_vpp_buy_segment_raises_the_price():
    stack = [(6.0, 20.0), (5.0, 30.0), (5.0, 50.0)]
    # without the VPP (a curve of 0 MW), need 10: at 20: 6; at 30: 11 >= 10 -> price 30
    assert clear1(0.0, [(0.0, 60.0)], stack, 10.0) == (0.0, 30.0)
    # VPP buys 2 MW below 60 (base -2, one segment 5 MW @ 60, i.e. it sells 3 above 60):
    #   at 30: 11 - 2 = 9 < 10; at 50: 16 - 2 = 14 >= 10 -> price 50; the VPP buys its 2 MW
    assert clear1(-2.0, [(5.0, 60.0)], stack, 10.0) == (-2.0, 50.0)
    # VPP buys 2 MW below 40 (segments 2 @ 40, 3 @ 60): at 30: 9 < 10; at 40: 11 + 0 = 11 -> price 40;
    #   its bid at 40 is marginal: -2 + clip(10 - 11 + 2, 0, 2) = -1, it buys 1 MW; competitors sell 11
    assert clear1(-2.0, [(2.0, 40.0), (3.0, 60.0)], stack, 10.0) == (-1.0, 40.0)


def test_scarcity_prices_at_the_cap():
    # competitors 4 @ 20, 3 @ 35, 5 @ 400 (> cap 300, rejected); VPP 2 @ 30, 3 @ 40; need 15:
    #   supply at the cap 7 + 5 = 12 < 15 -> price 300, the VPP sells all 5 MW
    assert clear1(0.0, [(2.0, 30.0), (3.0, 40.0)], [(4.0, 20.0), (3.0, 35.0), (5.0, 400.0)], 15.0) == (5.0, CAP)
    # a VPP segment above the cap is rejected too: q(cap) = 2
    assert clear1(0.0, [(2.0, 30.0), (3.0, 350.0)], [(4.0, 20.0), (3.0, 35.0)], 15.0) == (2.0, CAP)
    # a buying VPP in scarcity: keeps buying 2 below 350 (its stop-buying segment is above the cap)
    assert clear1(-2.0, [(5.0, 350.0)], [(4.0, 20.0)], 15.0) == (-2.0, CAP)


def test_competitor_below_the_floor_is_rejected():
    # competitor 5 @ -10 < floor 0 is rejected; 4 @ 20; VPP 3 @ 30; need 6:
    #   at 20: 4; at 30: 7 >= 6 -> price 30, VPP 0 + clip(6 - 4, 0, 3) = 2
    assert clear1(0.0, [(3.0, 30.0)], [(5.0, -10.0), (4.0, 20.0)], 6.0) == (2.0, 30.0)
    # with floor -20 it is valid: at -10: 5; at 20: 9 >= 6 -> price 20, VPP 0
    assert clear1(0.0, [(3.0, 30.0)], [(5.0, -10.0), (4.0, 20.0)], 6.0, floor=-20.0) == (0.0, 20.0)


def test_without_competitors_the_vpp_alone_meets_the_need():
    segs = [(2.0, 30.0), (3.0, 40.0)]
    empty: list[tuple[float, float]] = []
    # need 1: q(30) = 2 >= 1 -> price 30, the VPP supplies exactly 1
    assert clear1(0.0, segs, empty, 1.0) == (1.0, 30.0)
    # need 4: q(30) = 2 < 4, q(40) = 5 >= 4 -> price 40, supplies 4
    assert clear1(0.0, segs, empty, 4.0) == (4.0, 40.0)
    # need 6 > q(cap) = 5 -> scarcity: price 300, supplies 5
    assert clear1(0.0, segs, empty, 6.0) == (5.0, CAP)
    # need 0 with a base of 0: met at the lowest segment price 30; nothing supplied
    assert clear1(0.0, segs, empty, 0.0) == (0.0, 30.0)


def test_price_insensitive_quantity_and_segments_outside_the_price_range():
    # base 3 >= need 2: met at the lowest candidate (competitor 4 @ 20), position 3 (not curtailed)
    assert clear1(3.0, [(2.0, 30.0)], [(4.0, 20.0)], 2.0) == (3.0, 20.0)
    # a VPP segment below the floor (2 @ -50, floor 0) is accepted at every admissible price; its candidate
    #   is clipped to the floor: at 0: 0 + 2 = 2 < 5; at 20: 4 + 2 = 6 >= 5 -> price 20, VPP 2
    assert clear1(0.0, [(2.0, -50.0)], [(4.0, 20.0)], 5.0) == (2.0, 20.0)


def test_clear_curve_with_two_batch_dimensions_and_broadcast_need():
    # (2, 2) intervals, the curve and stack of test_vpp_segment_is_marginal_and_partially_accepted, needs
    # 10, 4, 15, 0 (the last: met at the lowest candidate, 20, with the VPP at 0)
    base = np.zeros((2, 2))
    prices = np.broadcast_to([30.0, 40.0], (2, 2, 2))
    steps = np.broadcast_to([2.0, 3.0], (2, 2, 2))
    q_c = np.broadcast_to([4.0, 3.0, 5.0], (2, 2, 3))
    p_c = np.broadcast_to([20.0, 35.0, 50.0], (2, 2, 3))
    need = np.array([[10.0, 4.0], [15.0, 0.0]])
    pos, price = clear_curve(base, prices, steps, q_c, p_c, need, CAP, FLOOR)
    # need 4: at 20: 4 >= 4 -> price 20, VPP 0; need 15: at 40: 7 + 5 = 12 < 15, at 50: 12 + 5 = 17 -> price
    #   50 (a competitor's), VPP q_strict(50) = 5 + clip(15 - 12 - 5, 0, 0) = 5
    np.testing.assert_array_equal(pos, [[3.0, 0.0], [5.0, 0.0]])
    np.testing.assert_array_equal(price, [[40.0, 20.0], [50.0, 20.0]])


def test_clear_curve_without_batch_dimensions():
    # S = (): the case of test_vpp_segment_is_marginal_and_partially_accepted, price 40, VPP 3 MW
    pos, price = clear_curve(
        0.0,
        np.array([30.0, 40.0]),
        np.array([2.0, 3.0]),
        np.array([4.0, 3.0, 5.0]),
        np.array([20.0, 35.0, 50.0]),
        10.0,
        CAP,
        FLOOR,
    )
    assert pos.shape == () and price.shape == ()
    assert (float(pos), float(price)) == (3.0, 40.0)


def brute_force(
    base: float,
    seg_p: list[float],
    seg_q: list[float],
    stack_q: list[float],
    stack_p: list[float],
    need: float,
    cap: float,
    floor: float,
) -> tuple[float, float]:
    """Independent merit-order walk, in plain Python.

    The VPP's fixed quantity (its base, plus segments priced below the floor: accepted at every admissible
    price) is taken first; then valid offers (competitors in [floor, cap] with positive quantity, VPP
    segments in [floor, cap]) are walked by (price, competitor before VPP) until the remaining need is
    met; the offer that meets it sets the price.
    """
    vpp = base + sum(q for p, q in zip(seg_p, seg_q, strict=True) if p < floor)
    offers = [(p, 0, q) for p, q in zip(stack_p, stack_q, strict=True) if floor <= p <= cap and q > 0]
    offers += [(p, 1, q) for p, q in zip(seg_p, seg_q, strict=True) if floor <= p <= cap]
    offers.sort(key=lambda o: (o[0], o[1]))
    remaining = need - vpp
    if remaining <= QUANTITY_TOL_MW:  # met by the fixed quantity: the lowest offer price
        lowest = [p for p, who, q in offers] + [min(max(p, floor), cap) for p in seg_p]
        return vpp, min(lowest)
    for price, who, q in offers:
        take = min(q, max(remaining, 0.0))
        remaining -= q  # competitors ahead in the order are taken whole until the need is met
        if who == 1:
            vpp += take
        if remaining <= QUANTITY_TOL_MW:
            return vpp, price
    return vpp, cap  # scarcity: everything valid is taken, at the cap


def test_clear_curve_matches_a_brute_force_merit_order_walk():
    rng = np.random.default_rng(20240601)
    n, m, k = 400, 5, 3
    # coarse grids so that prices tie and cumulative sums hit the need exactly (halves are exact floats);
    # prices reach below the floor (0) and above the cap (300)
    stack_p = rng.integers(-4, 25, (n, m)) * 15.0
    stack_q = rng.integers(-2, 9, (n, m)) * 0.5  # some negative and zero quantities
    seg_p = np.sort(rng.integers(-4, 25, (n, k)) * 15.0, axis=-1)
    seg_q = rng.integers(0, 7, (n, k)) * 0.5
    base = rng.integers(-6, 5, n) * 0.5
    need = rng.integers(-2, 30, n) * 0.5
    cap = np.full(n, CAP)
    floor = np.where(rng.random(n) < 0.5, FLOOR, -30.0)
    pos, price = clear_curve(base, seg_p, seg_q, stack_q, stack_p, need, cap, floor)
    expected = [
        brute_force(
            float(base[i]),
            list(seg_p[i]),
            list(seg_q[i]),
            list(stack_q[i]),
            list(stack_p[i]),
            float(need[i]),
            float(cap[i]),
            float(floor[i]),
        )
        for i in range(n)
    ]
    np.testing.assert_allclose(pos, [e[0] for e in expected], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(price, [e[1] for e in expected])
    # the draw covers the interesting cases: the VPP marginal, scarcity, a price below a segment's
    assert np.any(price == CAP) and np.any(price < CAP)
    assert np.any((pos > base) & (pos < base + seg_q.sum(-1)))  # partly accepted curves


def test_clear_curve_with_an_unsorted_stack_equals_the_sorted_one():
    rng = np.random.default_rng(7)
    n, m = 50, 6
    stack_p = rng.uniform(-10, 320, (n, m))
    stack_q = rng.uniform(0, 5, (n, m))
    base, prices, steps = ladder(rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), rng.uniform(0, 300, n), 40.0, 4)
    need = rng.uniform(0, 25, n)
    order = np.argsort(stack_p, axis=-1)
    sorted_q, sorted_p = np.take_along_axis(stack_q, order, -1), np.take_along_axis(stack_p, order, -1)
    a = clear_curve(base, prices, steps, stack_q, stack_p, need, CAP, FLOOR)
    b = clear_curve(base, prices, steps, sorted_q, sorted_p, need, CAP, FLOOR)
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-12)  # sums in another order: rounding only
    np.testing.assert_array_equal(a[1], b[1])  # the price is one of the candidates, exactly


def test_clear_curve_shape_mismatch_fails():
    with pytest.raises(AssertionError):
        clear_curve(np.zeros(2), np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 1)), np.zeros((2, 1)), 1.0, CAP, 0.0)


# ---------------------------------------------------------------- deviation assessment


def test_deviation_penalty_inside_and_outside_the_band():
    dt_h, pen = 0.25, 100.0
    # position 10, share 5 %, band_min 0.2: band = max(0.5, 0.2) = 0.5 (the share binds)
    #   dev 0.3 -> 0; dev -0.5 (at the band edge) -> 0; dev -1.5 -> (1.5 - 0.5) * 0.25 * 100 = 25
    # position -2 (buying), share 5 %, band_min 0.2: band = max(0.1, 0.2) = 0.2 (the minimum binds)
    #   dev 0.15 -> 0; dev 0.5 -> (0.5 - 0.2) * 0.25 * 100 = 7.5
    # position 0: band = band_min 0.2; dev -1 -> 0.8 * 0.25 * 100 = 20
    dev = np.array([0.3, -0.5, -1.5, 0.15, 0.5, -1.0])
    position = np.array([10.0, 10.0, 10.0, -2.0, -2.0, 0.0])
    np.testing.assert_allclose(
        deviation_penalty(dev, position, 0.05, 0.2, pen, dt_h), [0.0, 0.0, 25.0, 0.0, 7.5, 20.0], rtol=1e-12
    )


def test_deviation_penalty_without_a_band():
    # share 0, band_min 0: every MWh pays; |dev| 2 * 1 h * 50 = 100, on a (2, 1) batch
    out = deviation_penalty(np.array([[2.0], [-2.0]]), np.array([[5.0], [5.0]]), 0.0, 0.0, 50.0, 1.0)
    assert out.shape == (2, 1)
    np.testing.assert_array_equal(out, [[100.0], [100.0]])


# ---------------------------------------------------------------- contracts for difference


def test_cfd_cash_by_hand():
    # sell 5 MW at 400 for 0.25 h, DA 350: 5 * 0.25 * (400 - 350) = 62.5
    # the same contract with DA 450: 5 * 0.25 * (-50) = -62.5
    # buy contract -4 MW at 300 for 1 h, DA -100 (negative price): -4 * 1 * (300 + 100) = -1600
    qc = np.array([5.0, 5.0, -4.0])
    pc = np.array([400.0, 400.0, 300.0])
    p_da = np.array([350.0, 450.0, -100.0])
    dt_h = np.array([0.25, 0.25, 1.0])
    cash = cfd_cash(qc, pc, p_da, dt_h)
    np.testing.assert_array_equal(cash, [62.5, -62.5, -1600.0])
    # settlement by difference: Qc Pc + (Q_DA - Qc) P_DA - Q_DA P_DA, for any day-ahead position Q_DA
    q_da = np.array([3.0, 8.0, -1.0])
    np.testing.assert_allclose(cash, dt_h * (qc * pc + (q_da - qc) * p_da - q_da * p_da), rtol=1e-12)
