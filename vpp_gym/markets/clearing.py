"""The two organisation forms of a market product: invitation (邀约型) and transaction (交易型) clearing.

Every function works on arrays with leading batch dimensions ``S`` (usually ``(B,)``, or ``(B, T)``);
per-row arguments broadcast against each other. Quantities are in MW, prices in currency per MW(h)
of the product. Negative quantities and a negative need are treated as zero.

Invitation form (:func:`clear_invitation`). The grid announces a need ``N`` and a fixed price; the
VPP declares ``d >= 0`` and the competitors declare ``o >= 0`` in total. Oversubscription is scaled
pro rata:

    accepted = d * min(1, N / (d + o))            (0 where d + o = 0)

so ``accepted <= d`` and the total accepted ``<= N``. Payment (accepted quantity x the fixed price)
and the penalty for delivering less than accepted are settled by the caller, not here.

Transaction form (:func:`clear_transaction`), a single-sided uniform-price auction. Offers
``(q_i, p_i)``, the VPP's one offer among a competitor stack of ``M`` offers, are taken in merit
order (ascending price) until the need ``N`` is met:

    before_i   = sum of q_j over the offers j ahead of i in merit order
    accepted_i = min(q_i, max(0, N - before_i))                     (the marginal offer is partial)
    price      = max { p_i : accepted_i > 0 }                       (every accepted offer is paid it)

Choices made here, on purpose:

- Ties: at equal prices competitor offers are ahead of the VPP's offer (among competitors, the
  stack order), so the VPP gains nothing from matching a competitor's price exactly.
- Price cap: an offer priced above ``price_cap`` (the VPP's or a competitor's) is rejected, as if it
  had offered 0 MW. A caller who wants an above-cap bid to count as a bid *at* the cap clips the
  price before calling (an action decoded into ``[floor, cap]`` never reaches this rule).
- Scarcity: if the valid supply (offers at or below the cap) is below the need, everything offered
  is accepted and the price is ``price_cap``.
- No need: if ``N = 0`` nothing is accepted and the price is the lowest valid offer price, or
  ``ref_price`` when there is no valid offer.
- Rounding: accepted quantities of at most ``QUANTITY_TOL_MW`` (and offers that small) are rounding
  residue of the cumulative sums; they are set to zero and neither are paid nor set the price. The
  scarcity test uses the same tolerance (``N - supply > QUANTITY_TOL_MW``).
- Price-taker: with ``M = 0`` (no competitor stack) the price is the reference price series and the
  VPP's offer is accepted up to the need if it is priced at or below it:
  ``accepted = min(q, N) if p <= min(ref_price, price_cap) else 0``, ``price = ref_price``.
  With a stack the VPP is a price-maker: its offer can become the marginal one or push the most
  expensive competitor out of the merit order.

Implementation: the stack is handled offers-first, as ``(M, n)`` arrays, where reductions over
the few offers are fast; the cumulative quantity ahead of each offer is one matrix product with a
strictly lower-triangular matrix. A stack already sorted by price (as :func:`competitor_stack`
returns) is used as is; an unsorted one is stably sorted first (slower).

Competitor stacks (:func:`competitor_stack`) are a stratified sample of a piecewise-linear
merit-order curve. In units of the need, cumulative competitor supply runs over ``x in [0, r]``
(``r = supply_ratio``) and the curve is

    u(x) = x - 1                for x <= 1        (price rises from ref * (1 - s) to ref at x = 1)
    u(x) = (x - 1) / (r - 1)    for x > 1         (and on to ref * (1 + s) at x = r)
    price(x) = max(ref, 0) * (1 + s * u(x))       (s = price_spread)

Offer ``k`` holds a block of weight ``w_k = 1 + quantity_noise * U(-1, 1)`` (quantities
``q_k = r * N * w_k / sum(w)``) and its price is the curve read at a uniformly random point inside
its block. So the competitors priced below the reference price supply about the need: with a VPP
offer at the reference price the clearing price is near the reference price on average, and the
offers come out sorted by price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vpp_gym import rng as rnd
from vpp_gym.ops import Array
from vpp_gym.validation import require_int, require_range

QUANTITY_TOL_MW = 1e-9
"""Accepted quantities (and offers) of at most this many MW are treated as zero."""

_TINY = 1e-300


def clear_invitation(declared_mw: Array, others_mw: Array, need_mw: Array, xp: Any = np) -> Array:
    """Invitation form: scale the declarations pro rata when they exceed the announced need.

    ``accepted = declared * min(1, need / (declared + others))``, 0 where ``declared + others = 0``.
    Payment at the fixed price and shortfall penalties are settled by the caller.

    Args:
        declared_mw: the VPP's declared quantity (negative values count as 0).
        others_mw: the competitors' total declared quantity (negative values count as 0).
        need_mw: the quantity the grid asks for (negative values count as 0).
        xp: ``numpy`` for arrays (the default) or :data:`vpp_gym.ops.SCALAR` for Python floats.

    Returns:
        The VPP's accepted quantity (MW), broadcast over the arguments.
    """
    declared = xp.maximum(declared_mw, 0.0)
    total = declared + xp.maximum(others_mw, 0.0)
    need = xp.maximum(need_mw, 0.0)
    over = total > need  # oversubscribed; then total > 0 and need / total < 1
    return xp.where(over, declared * (need / xp.where(over, total, 1.0)), declared)


def clear_transaction(
    offer_mw: Array,
    offer_price: Array,
    stack_mw: Array,
    stack_price: Array,
    need_mw: Array,
    price_cap: Array,
    ref_price: Array,
) -> tuple[np.ndarray, np.ndarray]:
    """Transaction form: uniform-price merit-order clearing of the VPP's offer among a competitor stack.

    See the module docstring for the rule, the tie-breaking and the edge cases (scarcity, zero
    need, price cap, price-taker with ``M = 0``).

    Args:
        offer_mw: the VPP's offered quantity, shape ``S`` (or broadcastable to it).
        offer_price: the VPP's offer price, shape ``S``.
        stack_mw: competitor offer quantities, shape ``S + (M,)``; ``M = 0`` makes the VPP a price-taker.
        stack_price: competitor offer prices, same shape as ``stack_mw``.
        need_mw: the quantity to procure, shape ``S``.
        price_cap: the highest admissible offer price and the scarcity price, shape ``S`` or a scalar.
        ref_price: the reference price series: the price for a price-taker, and the price when
            nothing is needed and nothing is offered.

    Returns:
        ``(accepted_mw, clearing_price)``, both of shape ``S``: the VPP's accepted quantity and the
        price paid to every accepted offer.
    """
    q_c = np.asarray(stack_mw, dtype=float)
    p_c = np.asarray(stack_price, dtype=float)
    if q_c.ndim < 1 or q_c.shape != p_c.shape:
        raise ValueError(f"stack_mw and stack_price must have the same shape S + (M,), got {q_c.shape} and {p_c.shape}")
    n_stack = q_c.shape[-1]
    q_v = np.maximum(np.asarray(offer_mw, dtype=float), 0.0)
    p_v = np.asarray(offer_price, dtype=float)
    need = np.maximum(np.asarray(need_mw, dtype=float), 0.0)
    cap = np.asarray(price_cap, dtype=float)
    ref = np.asarray(ref_price, dtype=float)
    shape = np.broadcast_shapes(q_v.shape, p_v.shape, need.shape, cap.shape, ref.shape, q_c.shape[:-1])

    if n_stack == 0:  # price-taker
        ok = (p_v <= cap) & (p_v <= ref)
        accepted = np.where(ok, np.minimum(q_v, need), 0.0)
        return np.array(np.broadcast_to(accepted, shape)), np.array(np.broadcast_to(ref, shape))

    n = math.prod(shape)
    q_v, p_v, need, cap, ref = (np.broadcast_to(x, shape).reshape(n) for x in (q_v, p_v, need, cap, ref))
    # Offers first: (M, n), so that reductions over the offers run across contiguous rows.
    q_c = np.ascontiguousarray(np.broadcast_to(q_c, (*shape, n_stack)).reshape(n, n_stack).T)
    p_c = np.ascontiguousarray(np.broadcast_to(p_c, (*shape, n_stack)).reshape(n, n_stack).T)
    if n_stack > 1 and np.any(p_c[1:] < p_c[:-1]):
        order = np.argsort(p_c, axis=0, kind="stable")
        q_c = np.take_along_axis(q_c, order, axis=0)
        p_c = np.take_along_axis(p_c, order, axis=0)

    # Rejected (above the cap) and negligible offers offer nothing.
    q_c = np.where((p_c <= cap) & (q_c > QUANTITY_TOL_MW), q_c, 0.0)
    q_v = np.where((p_v <= cap) & (q_v > QUANTITY_TOL_MW), q_v, 0.0)

    vpp_ahead = p_v < p_c  # the VPP is ahead of competitor k only if strictly cheaper (ties: competitor first)
    # Sums over the offers run in merit order, one offer after the other (np.add.accumulate), so that a
    # row's result does not depend on the batch it is cleared in (a pairwise sum or a matrix product
    # would group the terms differently for different batch sizes).
    running = np.add.accumulate(q_c, axis=0)
    before_c = np.concatenate([np.zeros((1, n)), running[:-1]]) + np.where(vpp_ahead, q_v, 0.0)
    before_v = np.add.accumulate(np.where(vpp_ahead, 0.0, q_c), axis=0)[-1]

    room_v = need - before_v
    acc_v = (q_v > 0.0) & (room_v > QUANTITY_TOL_MW)
    acc_c = (q_c > 0.0) & (need - before_c > QUANTITY_TOL_MW)
    accepted = np.where(acc_v, np.minimum(q_v, room_v), 0.0)

    price = np.maximum(np.max(np.where(acc_c, p_c, -np.inf), axis=0), np.where(acc_v, p_v, -np.inf))
    idle = price == -np.inf  # nothing accepted: no need (or only a negligible one)
    if np.any(idle):
        low = np.minimum(np.min(np.where(q_c > 0.0, p_c, np.inf), axis=0), np.where(q_v > 0.0, p_v, np.inf))
        price = np.where(idle, np.where(low < np.inf, low, ref), price)
    scarce = need - (running[-1] + q_v) > QUANTITY_TOL_MW
    price = np.where(scarce, cap, price)
    return accepted.reshape(shape), price.reshape(shape)


@dataclass(frozen=True)
class CompetitorStackConfig:
    """Shape of the competitor offer stack of a transaction-form product.

    Attributes:
        n_offers: number of competitor offers ``M`` per interval (at most 1000); 0 makes the VPP a price-taker.
        supply_ratio: total competitor quantity as a multiple of the need (``r``, at most 100).
        price_spread: offer prices lie in ``ref * [1 - s, 1 + s]`` (``s``, at most 1 so prices stay >= 0).
        quantity_noise: relative spread of the offer quantities (each block weight is ``1 + noise * U(-1, 1)``).
    """

    n_offers: int = 0
    supply_ratio: float = 1.3
    price_spread: float = 0.5
    quantity_noise: float = 0.2

    def __post_init__(self) -> None:
        require_int("n_offers", self.n_offers, 0, 1000)
        require_range("supply_ratio", self.supply_ratio, 0.0, 100.0, lo_open=True)
        require_range("price_spread", self.price_spread, 0.0, 1.0)
        require_range("quantity_noise", self.quantity_noise, 0.0, 1.0)


def competitor_stack(
    cfg: CompetitorStackConfig, need_mw: Array, ref_price: Array, rng: rnd.Rng
) -> tuple[np.ndarray, np.ndarray]:
    """Draw competitor offer stacks, one per interval, sorted by price (see the module docstring).

    Draws, in this order, the block weights and the positions inside the blocks from ``rng``, so
    the same seed gives the same stack. With ``n_offers = 0`` nothing is drawn.

    Args:
        cfg: the stack shape.
        need_mw: the need per interval, shape ``S`` (e.g. ``(B, T)``); negative values count as 0.
        ref_price: the reference price per interval, broadcastable with ``need_mw``; a negative
            reference price gives a stack priced at 0.
        rng: the generator all draws come from, or one generator per row of the first axis
            (see :mod:`vpp_gym.rng`).

    Returns:
        ``(stack_mw, stack_price)`` of shape ``S + (n_offers,)``: nonnegative quantities summing to
        ``supply_ratio * need`` and prices ``>= 0``, ascending along the last axis.
    """
    need = np.maximum(np.asarray(need_mw, dtype=float), 0.0)
    ref = np.maximum(np.asarray(ref_price, dtype=float), 0.0)
    shape = np.broadcast_shapes(need.shape, ref.shape)
    size = (*shape, cfg.n_offers)
    if cfg.n_offers == 0:
        return np.zeros(size), np.zeros(size)
    r = cfg.supply_ratio
    w = 1.0 + cfg.quantity_noise * rnd.uniform(rng, -1.0, 1.0, size)
    pos = rnd.random(rng, size)
    cum = np.cumsum(w, axis=-1)
    total = np.maximum(cum[..., -1:], _TINY)
    stack_mw = (r * need)[..., None] * (w / total)
    x = r * (cum - w * (1.0 - pos)) / total  # a random point inside each block, in units of the need
    u = np.where(x <= 1.0, x - 1.0, (x - 1.0) / max(r - 1.0, _TINY))
    stack_price = ref[..., None] * (1.0 + cfg.price_spread * np.clip(u, -1.0, 1.0))
    # The curve is increasing, so this only removes rounding-level inversions between neighbours.
    return stack_mw, np.maximum.accumulate(stack_price, axis=-1)
