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
    T = len(total)
    t, lo, hi, price = stack_segments(stack[0], stack[1], need, price_cap)
    keep = lo <= upper_mw
    t, lo, hi, price = t[keep], lo[keep], np.minimum(hi[keep], upper_mw), price[keep]
    n = len(t)
    a = m.var(n, 0.0, hi)
    y = m.var(n, 0.0, 1.0, integer=True)
    r_hi = m.rows(n, -np.inf, 0.0, name=f"{market}.segment_upper")
    m.coef(r_hi, a, 1.0)
    m.coef(r_hi, y, -hi)
    r_lo = m.rows(n, 0.0, np.inf, name=f"{market}.segment_lower")
    m.coef(r_lo, a, 1.0)
    m.coef(r_lo, y, -lo)
    one = m.rows(T, -np.inf, 1.0, name=f"{market}.one_segment")
    m.coef(one[t], y, 1.0)
    link = m.rows(T, 0.0, 0.0, name=f"{market}.segment_total")
    m.coef(link, total, 1.0)
    m.coef(link[t], a, -1.0)
    return Segments(a=a, y=y, t=t, price=price)


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
