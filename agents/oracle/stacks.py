"""Price-maker clearing against a known competitor stack: the segments on which an offer clears at a known price.

With the valid competitor offers of an interval sorted by price, ``Q_m`` the quantity of the first
``m`` and ``N`` the need, an offer priced below competitor ``m`` and accepted for ``a`` with
``N - Q_m <= a < N - Q_{m-1}`` leaves competitor ``m`` marginal, so it clears at ``p_m`` whatever the
offer's own price; ``a`` below ``N - Q_M`` (a short stack) clears at the price cap. The revenue
``a * price(a)``, a step function, is modelled with one binary per segment (at most one per interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from vpp_gym.core import CoreParams
from vpp_gym.markets.clearing import QUANTITY_TOL_MW

STACK_MARGIN_MW = 1e-4
"""Price-maker segments stop this far inside their ends, so float32 offer quantities replay on the same side."""


def stacked_markets(p: CoreParams) -> list[str]:
    """The markets of the scenario that clear against a competitor stack (price-maker clearing)."""
    mk = p.cfg.markets
    return [
        n
        for n in ("energy", *p.open_products)
        if getattr(mk, n).form == "transaction" and getattr(mk, n).competitors.n_offers > 0
    ]


@dataclass(frozen=True)
class Segments:
    """The price-maker segments of one market (see :func:`stack_segments`) and their variables."""

    a: np.ndarray  # accepted MW in the segment (variable indices)
    y: np.ndarray  # the segment is chosen (binary variable indices)
    t: np.ndarray  # interval of each segment
    price: np.ndarray  # clearing price when the accepted quantity lies in the segment


def stack_segments(
    stack_mw: np.ndarray,
    stack_price: np.ndarray,
    need_mw: np.ndarray,
    price_cap: float,
    margin_mw: float = STACK_MARGIN_MW,
) -> tuple[np.ndarray, ...]:
    """Quantity ranges on which an offer against a known competitor stack clears at a known price.

    Per interval, with the valid competitor offers (priced at most ``price_cap``, more than
    ``QUANTITY_TOL_MW``) sorted by price, ``Q_m`` the quantity of the first ``m`` and ``N`` the need:
    an offer priced below ``p_m`` and accepted for ``a`` in ``[N - Q_m, N - Q_{m-1})`` leaves
    competitor ``m`` marginal and clears at ``p_m`` (segments with ``p_m = 0`` are left out: an offer
    cannot be priced below 0); if the stack is short (``Q_M < N``), ``a < N - Q_M`` clears at the
    cap. Each range is shortened by ``margin_mw`` at both ends. Every segment clears for an offer
    priced at 0 (below every marginal competitor it has).

    Args:
        stack_mw: ``(T, M)`` competitor quantities.
        stack_price: ``(T, M)`` competitor prices.
        need_mw: ``(T,)`` the need (negative counts as 0).
        price_cap: the market's price cap.
        margin_mw: how far inside its ends each segment stops.

    Returns:
        ``(t, lo, hi, price)``, one entry per segment: its interval, quantity range and clearing price.
    """
    out: list[tuple[int, float, float, float]] = []
    for t in range(stack_mw.shape[0]):
        n = max(float(need_mw[t]), 0.0)
        valid = (stack_price[t] <= price_cap) & (stack_mw[t] > QUANTITY_TOL_MW)
        order = np.argsort(stack_price[t][valid], kind="stable")
        q, pr = stack_mw[t][valid][order], stack_price[t][valid][order]
        cum = np.concatenate([[0.0], np.cumsum(q)])
        for k in range(len(q)):
            lo = max(n - cum[k + 1], 0.0) + margin_mw
            hi = n - cum[k] - margin_mw
            if pr[k] > 0.0 and hi >= lo:
                out.append((t, lo, hi, float(pr[k])))
        if n - cum[-1] > 2.0 * margin_mw:
            out.append((t, margin_mw, n - cum[-1] - margin_mw, price_cap))
    if not out:
        return (np.zeros(0, dtype=int), *(np.zeros(0) for _ in range(3)))
    t_, lo_, hi_, price_ = (np.array(c) for c in zip(*out, strict=True))
    return t_.astype(int), lo_, hi_, price_


def segments_block(
    m: Model,
    market: str,
    stack: tuple[np.ndarray, np.ndarray],
    need: np.ndarray,
    price_cap: float,
    upper_mw: float,
    total: np.ndarray,
) -> Segments:
    """Segment variables of one market, linked to its per-interval accepted quantity ``total``.

    ``<market>.segment_upper``:  a[s] - min(hi[s], upper) * y[s] <= 0           for every segment s
    ``<market>.segment_lower``:  a[s] - lo[s] * y[s] >= 0                       for every segment s
    ``<market>.one_segment``:    sum_{s in t} y[s] <= 1                         for t in 0..T-1
    ``<market>.segment_total``:  total[t] - sum_{s in t} a[s] = 0               for t in 0..T-1
    """
    t, lo, hi, price = stack_segments(stack[0], stack[1], need, price_cap)
    keep = lo <= upper_mw
    t, lo, hi, price = t[keep], lo[keep], np.minimum(hi[keep], upper_mw), price[keep]
    return segment_vars(m, market, (t, lo, hi, price), total, exactly_one=False)


def segment_vars(
    m: Model, market: str, segments: tuple[np.ndarray, ...], total: np.ndarray, exactly_one: bool
) -> Segments:
    """The variables and rows of :func:`segments_block` for given segments ``(t, lo, hi, price)`` (``lo <= hi``,
    either sign); with ``exactly_one`` the ``<market>.one_segment`` rows are equalities (``sum y = 1``: the
    clearing price of every interval is defined, e.g. for a contract settled against it)."""
    t, lo, hi, price = segments
    T = len(total)
    n = len(t)
    a = m.var(n, np.minimum(lo, 0.0), np.maximum(hi, 0.0))
    y = m.var(n, 0.0, 1.0, integer=True)
    r_hi = m.rows(n, -np.inf, 0.0, name=f"{market}.segment_upper")
    m.coef(r_hi, a, 1.0)
    m.coef(r_hi, y, -hi)
    r_lo = m.rows(n, 0.0, np.inf, name=f"{market}.segment_lower")
    m.coef(r_lo, a, 1.0)
    m.coef(r_lo, y, -lo)
    one = m.rows(T, 1.0 if exactly_one else -np.inf, 1.0, name=f"{market}.one_segment")
    m.coef(one[t], y, 1.0)
    link = m.rows(T, 0.0, 0.0, name=f"{market}.segment_total")
    m.coef(link, total, 1.0)
    m.coef(link[t], a, -1.0)
    return Segments(a=a, y=y, t=t, price=price)


def curve_segments(
    stack_mw: np.ndarray,
    stack_price: np.ndarray,
    need_mw: np.ndarray,
    price_cap: float,
    price_floor: float,
    lo_mw: float,
    hi_mw: float,
    margin_mw: float = STACK_MARGIN_MW,
) -> tuple[np.ndarray, ...]:
    """Positions of a flat day-ahead offer curve on which it clears against a known stack at a known price.

    A flat curve (``da_low = da_high``: the whole quantity ``q`` in the curve's base, no segment) is
    awarded ``q`` whatever the price (:func:`vpp_gym.markets.energy.clear_curve`: the base is
    price-insensitive supply; negative ``q`` is demand). With the valid competitor offers of an interval
    (priced in ``[floor, cap]``, more than 0 MW) grouped by price ``P_1 < ... < P_M``, ``C_m`` the quantity
    offered at ``P_m`` or less and ``N`` the need, the market clears at the lowest ``P_m`` with
    ``q + C_m >= N``: ``P_m`` for ``q`` in ``[N - C_m, N - C_{m-1})`` (``C_0 = 0``), the cap below
    ``N - C_M`` (scarcity). At ``q >= N`` the price is the lowest candidate, which may be one of the VPP's
    own (empty) segment prices: that range is left out. Each range is shortened by ``margin_mw`` at both
    ends (float32 actions replay on the same side; the tolerance ``QUANTITY_TOL_MW`` of the clearing is
    far smaller) and clipped to ``[lo_mw, hi_mw]``.

    Args:
        stack_mw: ``(T, M)`` competitor quantities.
        stack_price: ``(T, M)`` competitor prices.
        need_mw: ``(T,)`` the need.
        price_cap, price_floor: the market's admissible prices (and the scarcity price, the cap).
        lo_mw, hi_mw: the positions the VPP may take.
        margin_mw: how far inside its ends each range stops.

    Returns:
        ``(t, lo, hi, price)``, one entry per range: its interval, position range and clearing price.
    """
    out: list[tuple[int, float, float, float]] = []
    for t in range(stack_mw.shape[0]):
        n = float(need_mw[t])
        valid = (stack_price[t] >= price_floor) & (stack_price[t] <= price_cap) & (stack_mw[t] > 0.0)
        levels, inverse = np.unique(stack_price[t][valid], return_inverse=True)
        cum = np.concatenate([[0.0], np.cumsum(np.bincount(inverse, weights=stack_mw[t][valid]))])
        bounds = [(n - cum[k + 1], n - cum[k], float(levels[k])) for k in range(len(levels))]
        bounds.append((-np.inf, n - cum[-1], price_cap))
        for below, above, price in bounds:
            lo = max(below + margin_mw, lo_mw)
            hi = min(above - margin_mw, hi_mw)
            if hi >= lo:
                out.append((t, lo, hi, price))
    if not out:
        return (np.zeros(0, dtype=int), *(np.zeros(0) for _ in range(3)))
    t_, lo_, hi_, price_ = (np.array(c) for c in zip(*out, strict=True))
    return t_.astype(int), lo_, hi_, price_


def check_stacks(
    p: CoreParams, stacks: dict[str, tuple[np.ndarray, np.ndarray]], T: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The stacks of the scenario's price-maker markets as float arrays ``(T, M)``, checked."""
    out = {}
    for name in stacked_markets(p):
        if name not in stacks:
            raise ValueError(f"solve: the {name} market clears against a competitor stack; pass stacks[{name!r}]")
        mw, price = (np.asarray(a, dtype=float) for a in stacks[name])
        if mw.shape != price.shape or mw.ndim != 2 or mw.shape[0] != T:
            raise ValueError(
                f"solve: stacks[{name!r}] must be two (T, M) arrays for the {T} intervals of exo "
                f"(sliced like exo), got shapes {mw.shape} and {price.shape}"
            )
        out[name] = (mw, price)
    return out
