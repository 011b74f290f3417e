"""Energy-market rules of the v1 market timeline: D-1 offer curves, their clearing, deviation assessment, CfDs.

Pure functions over NumPy arrays (float64) with leading batch dimensions ``S`` (e.g. ``(B,)`` or
``(B, 96)``); per-row arguments broadcast against each other. Quantities in MW (positive = the VPP
sells / injects, negative = it buys), prices in currency per MWh, ``dt_h`` the interval length in
hours. Nothing is validated at run time beyond asserts on shapes: callers validate their configs, and
each function states its preconditions.

**Offer curve** (:func:`ladder`). In the day-ahead (D-1) market the VPP offers, per interval, a
monotone step curve of ``K`` segments, decoded from four numbers: two quantities ``q_a, q_b``, a mid
price ``p_mid`` and a spread ``s >= 0``::

    lo = min(q_a, q_b),  hi = max(q_a, q_b)      (sorted, so the curve is always monotone)
    base     = lo
    steps_j  = (hi - lo) / K                      j = 0..K-1   (>= 0)
    prices_j = p_mid + s * (2 (j + 0.5) / K - 1)  (evenly spaced, non-decreasing; K = 1: p_mid)

i.e. the segments are priced at the centres of ``K`` equal bands of ``[p_mid - s, p_mid + s]``.

The VPP's position at a price ``lam`` is::

    q(lam) = base + sum_j steps_j [prices_j <= lam]

a non-decreasing step function of ``lam`` (for any prices, as ``steps_j >= 0``): ``lo`` at low prices,
``hi`` (up to rounding) at high prices. A curve with ``lo < 0 < hi`` buys at low prices and sells at
high ones. A segment priced at exactly ``lam`` is accepted: it sells (or, on the buying part of the
curve, stops buying) at that price.

**Price-taker clearing** (:func:`position_at`): the whole curve against the realised day-ahead price,
``position = q(price)``.

**Price-maker clearing** (:func:`clear_curve`): a uniform-price, marginal-pricing auction of the VPP's
curve together with a competitor supply stack ``(stack_mw_m, stack_price_m)`` against an inelastic need
``N``. Competitor offers priced outside ``[floor, cap]`` are rejected (as ``price_cap`` in
:mod:`vpp_gym.markets.clearing`), and negative quantities count as 0. With the valid offers::

    C(lam)        = sum_m stack_mw_m [stack_price_m <= lam]        competitor supply
    q(lam)        = the VPP's curve (its buying part adds to demand, so it is net supply)
    q_strict(lam) = base + sum_j steps_j [prices_j < lam]          segments strictly below lam
    candidates    = {valid stack_price_m with stack_mw_m > 0} U {clip(prices_j, floor, cap)}
    lam*          = min { c in candidates : C(c) + q(c) >= N - tol }
    position      = q_strict(lam*) + clip(N - C(lam*) - q_strict(lam*), 0, q(lam*) - q_strict(lam*))

with ``tol = QUANTITY_TOL_MW`` (rounding residue of the sums). Supply only changes at candidate prices,
so ``lam*`` is the lowest price at which supply meets the need, i.e. the marginal price, paid and
charged to every accepted quantity (the VPP's sales and purchases alike). Ties: at ``lam*`` the
competitors' offers are accepted before the VPP's marginal segments (the tie rule of
:mod:`vpp_gym.markets.clearing`), so the VPP gains nothing from matching a competitor's price; its
segments priced exactly at ``lam*`` take only the remainder. The position always lies on the curve:
``q_strict(lam*) <= position <= q(lam*)``.

- Scarcity: if no candidate meets the need, ``lam* = cap`` and ``position = q(cap)`` (the formula
  above gives this, as ``N - C(cap) - q_strict(cap) > q(cap) - q_strict(cap)``).
- The VPP's curve is read with its own prices; only the candidate prices are clipped, so the clearing
  price stays in ``[floor, cap]``. A VPP segment priced above the cap is never accepted (rejected, as
  in :mod:`vpp_gym.markets.clearing`: on the buying part the VPP keeps buying); one priced below the
  floor is accepted at every admissible price, like ``base``. Offers decoded into ``[floor, cap]``
  never reach these cases.
- If the VPP's price-insensitive quantity (``base`` plus segments priced below the floor) meets the
  need on its own, the price is the lowest candidate (the lowest offer price, as the no-need rule of
  :mod:`vpp_gym.markets.clearing`) and the VPP's position is that quantity, even above the need: the
  model does not curtail it.
- Without competitors (``M = 0``) the VPP alone meets the need: its curve is read at the need, i.e.
  it supplies exactly ``N`` at the price of its marginal segment (the lowest segment price with
  ``q >= N``), or everything it offers at the cap when ``q(cap) < N``. Unlike
  :func:`vpp_gym.markets.clearing.clear_transaction`, ``M = 0`` is *not* a price-taker: for that,
  read the curve at the day-ahead price with :func:`position_at`.

One node, no network: a uniform price stands in for the nodal prices most provincial spot markets
clear (a simplification). Source of the rules' shape: 《电力现货市场基本规则（试行）》 (NDRC and NEA,
发改能源规〔2023〕1217号, 2023) and the provincial spot rules under it: day-ahead offers are multi-segment
price-quantity curves, monotone non-decreasing in price, and the market clears at the marginal price;
each province sets the number of segments (here ``K`` is the caller's). Not checked article by article.

**Deviation assessment** (偏差考核, :func:`deviation_penalty`). A deviation of the delivered injection
from the position within a free band is not assessed; beyond it, each MWh pays a penalty::

    band    = max(band_share * |position|, band_min_mw)
    penalty = max(|deviation| - band, 0) * dt_h * penalty_per_mwh      (>= 0)

The shape (a tolerance band of a few per cent of the quantity, a penalty price beyond it) is that of
the deviation assessment in provincial medium/long-term and spot rules, not taken from one
province's articles; a single band with a MW
floor and one flat penalty price is a simplification (no stepped penalty bands, no exemptions for
deviations the grid causes, no redistribution of the proceeds). The numbers are the caller's config.

**Contract for difference** (:func:`cfd_cash`). A medium/long-term contract of ``Qc`` MW at ``Pc`` is
settled by difference against the day-ahead price (中长期合同按差价结算); the physical position
``Q_DA`` clears in the day-ahead market. Of the interval's energy settlement::

    Qc * Pc + (Q_DA - Qc) * P_DA  =  Q_DA * P_DA  +  Qc * (Pc - P_DA)      (per hour; x dt_h)

the first term on the right is the day-ahead sale, the second the contract's cash computed here:
``cash = Qc * dt_h * (Pc - P_DA)`` (``Qc > 0`` a sell contract, ``Qc < 0`` a buy contract). Source:
the same Basic Rules (settlement of medium/long-term contracts by difference against the spot price).
Settling against the day-ahead price is the choice made here; provinces differ in the reference
price (day-ahead, real-time or a mix) and in how a contract's curve is split into intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vpp_gym.markets.clearing import QUANTITY_TOL_MW
from vpp_gym.ops import Array

__all__ = ["cfd_cash", "clear_curve", "clear_curves", "deviation_penalty", "ladder", "position_at"]


def _f64(x: Array) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def ladder(
    q_low_mw: Array, q_high_mw: Array, price_mid: Array, spread: Array, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the compact parametrisation of one interval's offer curve into ``K`` monotone segments.

    ``lo = min(q_low, q_high)``, ``hi = max(q_low, q_high)`` (sorted, so the curve is always monotone);
    ``base = lo``, every segment ``(hi - lo) / K`` MW, segment ``j`` priced
    ``price_mid + spread * (2 (j + 0.5) / K - 1)`` (see the module docstring).

    Args:
        q_low_mw: one quantity end of the curve (MW), shape ``S`` (or broadcastable to it).
        q_high_mw: the other quantity end (MW); either order gives the same curve.
        price_mid: the mid price of the segments (currency per MWh).
        spread: the segments are priced at the centres of ``K`` equal bands of
            ``[price_mid - spread, price_mid + spread]`` (precondition: ``>= 0``, so the prices are
            non-decreasing; 0 puts every segment at ``price_mid``).
        k: the number of segments ``K`` (precondition: ``>= 1``).

    Returns:
        ``(base_mw, prices, steps_mw)`` of shapes ``S``, ``S + (K,)``, ``S + (K,)``.
    """
    assert k >= 1, f"k must be >= 1, got {k}"
    q_a, q_b, mid, spr = (_f64(x) for x in (q_low_mw, q_high_mw, price_mid, spread))
    lo = np.minimum(q_a, q_b)
    hi = np.maximum(q_a, q_b)
    shape = np.broadcast_shapes(lo.shape, mid.shape, spr.shape)
    offsets = 2.0 * (np.arange(k, dtype=np.float64) + 0.5) / k - 1.0  # (K,), symmetric about 0
    prices = mid[..., None] + spr[..., None] * offsets
    steps = ((hi - lo) / k)[..., None]
    return (
        np.array(np.broadcast_to(lo, shape)),
        np.array(np.broadcast_to(prices, (*shape, k))),
        np.array(np.broadcast_to(steps, (*shape, k))),
    )


def position_at(base_mw: Array, prices: Array, steps_mw: Array, price: Array) -> np.ndarray:
    """Price-taker clearing: the curve's position at the realised price.

    ``q(lam) = base + sum_j steps_j [prices_j <= lam]``: a segment priced at exactly ``price`` is accepted.

    Args:
        base_mw: the curve's position below all segment prices (MW), shape ``S``.
        prices: segment prices, shape ``S + (K,)``.
        steps_mw: segment quantities (MW, precondition ``>= 0``), same shape as ``prices``.
        price: the clearing price, shape ``S``.

    Returns:
        The position (MW, positive = sell), shape ``S``.
    """
    p_v, q_v, lam = _f64(prices), _f64(steps_mw), _f64(price)
    assert p_v.ndim >= 1 and p_v.shape == q_v.shape, f"prices {p_v.shape} and steps_mw {q_v.shape} must be S + (K,)"
    q = _f64(base_mw)
    for j in range(p_v.shape[-1]):  # segment by segment, in order: the scalar core adds in the same order
        q = q + np.where(p_v[..., j] <= lam, q_v[..., j], 0.0)
    return q


def clear_curve(
    base_mw: Array,
    prices: Array,
    steps_mw: Array,
    stack_mw: Array,
    stack_price: Array,
    need_mw: Array,
    price_cap: Array,
    price_floor: Array,
) -> tuple[np.ndarray, np.ndarray]:
    """Price-maker clearing of the VPP's curve with a competitor stack against an inelastic need.

    Uniform price, marginal pricing, competitors ahead of the VPP at a tied marginal price; see the
    module docstring for the rule, the scarcity case and ``M = 0``. Vectorised, no loop over rows:
    the ``M + K`` offers of each row are sorted by candidate price and supply is their cumulative sum,
    ``O((M + K) log(M + K))`` per row.

    Args:
        base_mw: the VPP curve's base (MW), shape ``S``.
        prices: the VPP's segment prices, shape ``S + (K,)``, ``K >= 1``.
        steps_mw: the VPP's segment quantities (MW, precondition ``>= 0``), same shape as ``prices``.
        stack_mw: competitor offer quantities (MW; negative counts as 0), shape ``S + (M,)``, ``M >= 0``;
            need not be sorted.
        stack_price: competitor offer prices, same shape as ``stack_mw``; offers outside
            ``[price_floor, price_cap]`` are rejected.
        need_mw: the inelastic need (MW), shape ``S``.
        price_cap: the highest admissible price and the scarcity price, shape ``S`` or a scalar.
        price_floor: the lowest admissible price (precondition: ``<= price_cap``).

    Returns:
        ``(position_mw, clearing_price)``, both of shape ``S``.
    """
    base, p_v, q_v, q_c, p_c = (_f64(x) for x in (base_mw, prices, steps_mw, stack_mw, stack_price))
    need, cap, floor = _f64(need_mw), _f64(price_cap), _f64(price_floor)
    assert p_v.ndim >= 1 and p_v.shape == q_v.shape and p_v.shape[-1] >= 1, (
        f"prices {p_v.shape} and steps_mw {q_v.shape} must be S + (K,) with K >= 1"
    )
    # one agent of the joint clearing (which checks the stack): with A = 1 its every operation is this
    # rule's, bit for bit
    position, price = clear_curves(base[..., None], p_v[..., None, :], q_v[..., None, :], q_c, p_c, need, cap, floor)
    return position[..., 0], price


def clear_curves(
    base_mw: Array,
    prices: Array,
    steps_mw: Array,
    stack_mw: Array,
    stack_price: Array,
    need_mw: Array,
    price_cap: Array,
    price_floor: Array,
) -> tuple[np.ndarray, np.ndarray]:
    """Price-maker clearing of ``A`` VPPs' curves together with a competitor stack (the multi-VPP market game).

    :func:`clear_curve` with an agent axis: the ``A K`` segments of every agent and the stack make one
    supply curve, and ``lam*`` is the lowest candidate price at which it meets the need (the same rule,
    the agents' bases summed). With ``q_a``, ``q_strict_a`` agent ``a``'s curve at and strictly below
    ``lam*``, ``Q``, ``Q_strict`` their sums over the agents::

        R          = clip(N - C(lam*) - Q_strict, 0, Q - Q_strict)             (what the margin supplies)
        position_a = q_strict_a + R (q_a - q_strict_a) / (Q - Q_strict)        (0 / 0 read as 0)

    Ties at ``lam*``: the stack's offers first (as in :func:`clear_curve`), then the agents' marginal
    segments pro rata to their quantity at ``lam*``. With ``A = 1`` the share is ``d / d = 1`` exactly and
    every other operation is :func:`clear_curve`'s in the same order, so the result is the same bits.

    Args:
        base_mw: the agents' curve bases (MW), shape ``S + (A,)``.
        prices: the agents' segment prices, shape ``S + (A, K)``, ``K >= 1``.
        steps_mw: the agents' segment quantities (MW, ``>= 0``), same shape as ``prices``.
        stack_mw, stack_price: the competitor stack, shape ``S + (M,)``, ``M >= 0``.
        need_mw: the inelastic need (MW), shape ``S``.
        price_cap, price_floor: as for :func:`clear_curve`.

    Returns:
        ``(positions_mw, clearing_price)`` of shapes ``S + (A,)`` and ``S``.
    """
    base, p_v, q_v, q_c, p_c = (_f64(x) for x in (base_mw, prices, steps_mw, stack_mw, stack_price))
    need, cap, floor = _f64(need_mw), _f64(price_cap), _f64(price_floor)
    assert p_v.ndim >= 2 and p_v.shape == q_v.shape and p_v.shape[-1] >= 1, (
        f"prices {p_v.shape} and steps_mw {q_v.shape} must be S + (A, K) with K >= 1"
    )
    assert q_c.ndim >= 1 and q_c.shape == p_c.shape, (
        f"stack_mw {q_c.shape} and stack_price {p_c.shape} must be S + (M,)"
    )
    a, k, m = p_v.shape[-2], p_v.shape[-1], q_c.shape[-1]
    shape = np.broadcast_shapes(base.shape[:-1], need.shape, cap.shape, floor.shape, p_v.shape[:-2], q_c.shape[:-1])
    cap_1, floor_1 = cap[..., None], floor[..., None]
    cap_2 = cap[..., None, None]

    valid_c = (p_c >= floor_1) & (p_c <= cap_1) & (q_c > 0.0)
    q_c = np.where(valid_c, q_c, 0.0)
    p_flat = np.broadcast_to(p_v, (*shape, a, k)).reshape(*shape, a * k)  # agent after agent
    q_flat = np.broadcast_to(np.where(p_v <= cap_2, q_v, 0.0), (*shape, a, k)).reshape(*shape, a * k)
    p_all = np.concatenate(
        [np.broadcast_to(np.where(valid_c, p_c, cap_1), (*shape, m)), np.clip(p_flat, floor_1, cap_1)], axis=-1
    )
    q_all = np.concatenate([np.broadcast_to(q_c, (*shape, m)), q_flat], axis=-1)
    order = np.argsort(p_all, axis=-1, kind="stable")
    p_sorted = np.take_along_axis(p_all, order, axis=-1)
    base_total = np.sum(np.broadcast_to(base, (*shape, a)), axis=-1)
    supply = base_total[..., None] + np.cumsum(np.take_along_axis(q_all, order, axis=-1), axis=-1)
    meets = supply >= need[..., None] - QUANTITY_TOL_MW
    first = np.argmax(meets, axis=-1)[..., None]
    price = np.where(np.any(meets, axis=-1), np.take_along_axis(p_sorted, first, axis=-1)[..., 0], cap)

    lam = price[..., None]
    c_at = np.sum(np.where(p_c <= lam, q_c, 0.0), axis=-1)
    q_at = base + np.sum(np.where(p_v <= lam[..., None], q_v, 0.0), axis=-1)  # S + (A,)
    q_lt = base + np.sum(np.where(p_v < lam[..., None], q_v, 0.0), axis=-1)
    total_at, total_lt = np.sum(q_at, axis=-1), np.sum(q_lt, axis=-1)
    margin = np.clip(need - c_at - total_lt, 0.0, total_at - total_lt)
    width, total_width = q_at - q_lt, (total_at - total_lt)[..., None]
    share = np.where(total_width > 0.0, width / np.where(total_width > 0.0, total_width, 1.0), 0.0)
    position = q_lt + margin[..., None] * share
    return np.array(np.broadcast_to(position, (*shape, a))), np.array(np.broadcast_to(price, shape))


def deviation_penalty(
    deviation_mw: Array, position_mw: Array, band_share: Array, band_min_mw: Array, penalty_per_mwh: Array, dt_h: Array
) -> np.ndarray:
    """Deviation assessment: ``max(|deviation| - max(band_share |position|, band_min_mw), 0) * dt_h * penalty``.

    Args:
        deviation_mw: delivered injection minus the position (MW), shape ``S``.
        position_mw: the position the deviation is measured from (MW).
        band_share: the free band as a share of ``|position|`` (precondition ``>= 0``).
        band_min_mw: the smallest free band (MW, precondition ``>= 0``).
        penalty_per_mwh: the charge per MWh beyond the band (precondition ``>= 0``).
        dt_h: the interval length (hours).

    Returns:
        The penalty (currency, ``>= 0``), broadcast over the arguments.
    """
    band = np.maximum(_f64(band_share) * np.abs(_f64(position_mw)), _f64(band_min_mw))
    excess = np.maximum(np.abs(_f64(deviation_mw)) - band, 0.0)
    return np.asarray(excess * _f64(dt_h) * _f64(penalty_per_mwh))


def cfd_cash(contract_mw: Array, contract_price: Array, price_da: Array, dt_h: Array) -> np.ndarray:
    """Cash of a contract for difference settled against the day-ahead price: ``Qc * dt_h * (Pc - P_DA)``.

    Equals ``Qc Pc + (Q_DA - Qc) P_DA - Q_DA P_DA`` (times ``dt_h``): China's settlement of
    medium/long-term contracts by difference, with the day-ahead sale ``Q_DA P_DA`` settled apart.

    Args:
        contract_mw: the contract quantity ``Qc`` (MW, positive = the VPP sells), shape ``S``.
        contract_price: the contract price ``Pc`` (currency per MWh).
        price_da: the day-ahead price ``P_DA`` (currency per MWh).
        dt_h: the interval length (hours).

    Returns:
        The contract's cash for the interval (currency, positive = received), broadcast over the arguments.
    """
    return np.asarray(_f64(contract_mw) * _f64(dt_h) * (_f64(contract_price) - _f64(price_da)))


RECOVERY_TOL_MW = 1e-4
"""Smallest deviation or adjustment the excess-profit recovery assesses (0.1 kW, below any settlement meter's
resolution): smaller ones are rounding (float32 actions), not trading."""


def recovery(quantity_mw: Array, price: Array, price_da: Array, dt_h: float, xp: Any = np) -> Array:
    """Excess-profit recovery (超额获利回收) of energy traded away from the day-ahead schedule.

    ``max(q (price - price_DA), 0) dt``: what ``q`` MW (+ = sold) settled at ``price`` (the real-time price
    of a deviation, the intraday price of an adjustment) earned over the day-ahead price is taken back,
    and a loss is kept; so the energy settles at the less favourable of the two prices. Without it a
    policy could earn the DA-RT spread with positions it never means to deliver (any position up to
    ``position_max_mw``, whatever the portfolio). The rule follows the excess-profit recovery of the
    provincial rules (Shaanxi 2025, ``docs/market_rules.md`` 1.1), simplified: no free band, the
    reference is the day-ahead price series (not the VPP's own cleared price under the autonomous
    preset), every interval on its own; below :data:`RECOVERY_TOL_MW` nothing is recovered. ``xp``:
    ``numpy`` for arrays, :data:`vpp_gym.ops.SCALAR` for floats (the same operations in the same order).
    """
    q = xp.where(abs(quantity_mw) < RECOVERY_TOL_MW, 0.0, quantity_mw)
    return xp.maximum(q * (price - price_da), 0.0) * dt_h
