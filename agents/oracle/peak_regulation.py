"""Peak regulation in the oracle: the response against the passive baseline, its tiered pay and the shortfall.

The simulator (:mod:`vpp_gym.markets.peak_regulation`) pays ``dt sum_k p_k x_k`` with ``x_k`` the part
of ``r = min(delivered, A)`` in tier ``k`` (width ``w_k``, price ``p_k = min(m_k p, cap)``). The
oracle splits the paid response into one variable per tier, ``x[u, k] <= w_k``, per *unit* ``u``:
an interval of a call (price-taker: base price ``p[t]``, award ``A[t]``) or, against a competitor
stack, a segment ``s`` of :func:`~agents.oracle.stacks.stack_segments` (price ``p_s``, award
``a_s``, at most one per interval). Maximising ``sum_k p_k x[u, k]`` fills the tiers in order by
itself when the prices do not rise with depth (concave pay: an LP); where they rise (the default
tiers), binaries ``z[u, k]`` (tier ``k`` full before tier ``k + 1`` is used) keep the order, in the
call intervals only (a MILP; said so by ``Plan.mip``). Every term is exact, so the plan replays to its
objective.

The plan class: as demand response's block (:mod:`agents.oracle.demand_response`), the oracle never
moves against a call (``dir (net - D - R - B) >= 0`` in a call interval), so the simulator's
``max(., 0)`` is the identity; a plan that would move against a call is left out (it could only
earn energy revenue against a penalty, and the scenarios' calls are in the valleys where the VPP
consumes anyway).

Cost of a solve: valley filling pays for consumption, so where the storage is full the LP may run it
charging and discharging at once to burn energy through its losses, which the simulator cannot replay;
the search (:mod:`agents.oracle.search`) then adds binary storage modes in those intervals, exactly but
slower (a Joint-v0 day: seconds without such intervals, minutes with many).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.baseline import passive_baseline, response_rows
from agents.oracle.context import OracleContext
from vpp_gym.core import I_PR_NEED, I_PR_P
from vpp_gym.markets.peak_regulation import PeakRegulationConfig


@dataclass(frozen=True)
class PeakRegulationVars:
    """Peak regulation's variables.

    Attributes:
        delivered: the response against the baseline ``del[t]`` ``(T,)`` (0 outside calls).
        tiers: the paid response per unit and tier ``x[u, k]``, ``(n_units, K)``.
        unit_t: the interval of each unit ``(n_units,)``.
        short: the shortfall ``sf[t]`` ``(T,)``.
        fill: the fill-order binaries ``z[u, k]`` of the units that need them ``(n, K - 1)`` (empty for an LP).
    """

    delivered: np.ndarray
    tiers: np.ndarray
    unit_t: np.ndarray
    short: np.ndarray
    fill: np.ndarray


def peak_regulation_config(ctx: OracleContext) -> PeakRegulationConfig:
    """The product's config (the block is built only when it is open)."""
    cfg = ctx.p.cfg.markets.peak_regulation
    assert cfg is not None
    return cfg


def peak_regulation_block(m: Model, ctx: OracleContext) -> PeakRegulationVars:
    """The response, its tiered pay per unit, the fill order where the tier prices rise, and the shortfall.

    ``peak_regulation.delivered``:  del[t] - dir[t] (net[t] - D[t] - mean(s[t]) A_reg[t]) = -dir[t] B[t]
                                    for call intervals t (``D`` the reserve deployed; ``del = 0`` elsewhere)
    ``peak_regulation.shortfall``:  sf[t] - A[t] + del[t] >= 0                                  for t in 0..T-1

    and the rows of :func:`tier_rows`. Profit ``dt (sum_{u,k} p[u, k] x[u, k] - penalty sum_t sf[t])``.
    """
    pc = peak_regulation_config(ctx)
    T, dt = ctx.T, ctx.dt
    need = ctx.exo[:, I_PR_NEED]
    direction = np.sign(need)
    call = need != 0.0
    baseline = passive_baseline(ctx)
    award = ctx.vars.products["peak_regulation"].accepted
    dl = m.var(T, 0.0, np.where(call, np.inf, 0.0))
    response_rows(m, ctx, "peak_regulation.delivered", dl, direction, call, -direction * baseline)
    tiers, unit_t, fill = tier_rows(m, ctx, dl, call)
    short = m.var(T, 0.0, np.inf)
    sf = m.rows(T, 0.0, np.inf, name="peak_regulation.shortfall")
    m.coef(sf, short, 1.0)
    m.coef(sf, award, -1.0)
    m.coef(sf, dl, 1.0)
    ctx.gain(short, -dt * pc.shortfall_penalty_per_mwh)
    return PeakRegulationVars(delivered=dl, tiers=tiers, unit_t=unit_t, short=short, fill=fill)


def tier_rows(
    m: Model, ctx: OracleContext, dl: np.ndarray, call: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paid response per unit and tier, at most the delivery and the award, in tier order.

    Units ``u`` (module docstring): the call intervals (price-taker) or the stack's segments. With
    ``0 <= x[u, k] <= w_k``:

    ``peak_regulation.paid_delivered``:  sum_{u in t} sum_k x[u, k] - del[t] <= 0              for t in 0..T-1
    ``peak_regulation.paid_accepted``:   sum_k x[u, k] - A[u] <= 0                              for every unit u

    with ``A[u]`` the award (price-taker) or the segment's ``a[s]``, paid ``dt min(m_k p[u], cap) x[u, k]``.
    Where a unit's tier prices rise somewhere with depth, binaries ``z[u, k]`` for ``k = 0..K-2``:

    ``peak_regulation.tier_full``:   x[u, k] - w_k z[u, k] >= 0                                 (tier k full if z = 1)
    ``peak_regulation.tier_order``:  x[u, k+1] - w_{k+1} z[u, k] <= 0                           (tier k+1 only then)

    Returns:
        ``(x (n_units, K), the unit's interval (n_units,), z (n_fill, K - 1))``.
    """
    pc = peak_regulation_config(ctx)
    v = ctx.vars.products["peak_regulation"]
    widths = np.array(pc.tier_widths_mw)
    mult = np.array([t.multiplier for t in pc.tiers])
    K, T = len(widths), ctx.T
    if v.segments is None:
        unit_t = np.flatnonzero(call)
        award, base = v.accepted[unit_t], ctx.exo[unit_t, I_PR_P]
    else:
        unit_t, award, base = v.segments.t, v.segments.a, v.segments.price
    n = len(unit_t)
    x = m.var(n * K, 0.0, np.tile(widths, n)).reshape(n, K)
    prices = np.minimum(base[:, None] * mult[None, :], pc.price_cap)  # (n, K)
    ctx.gain(x.ravel(), ctx.dt * prices.ravel())
    r1 = m.rows(T, -np.inf, 0.0, name="peak_regulation.paid_delivered")
    m.coef(r1, dl, -1.0)
    r2 = m.rows(n, -np.inf, 0.0, name="peak_regulation.paid_accepted")
    m.coef(r2, award, -1.0)
    for k in range(K):
        m.coef(r1[unit_t], x[:, k], 1.0)
        m.coef(r2, x[:, k], 1.0)
    rising = np.flatnonzero((np.diff(prices, axis=1) > 0.0).any(axis=1)) if K > 1 else np.zeros(0, dtype=int)
    nf = len(rising)
    z = m.var(nf * (K - 1), 0.0, 1.0, integer=True).reshape(nf, K - 1)
    if nf:
        full = m.rows(nf * (K - 1), 0.0, np.inf, name="peak_regulation.tier_full").reshape(nf, K - 1)
        order = m.rows(nf * (K - 1), -np.inf, 0.0, name="peak_regulation.tier_order").reshape(nf, K - 1)
        for k in range(K - 1):
            m.coef(full[:, k], x[rising, k], 1.0)
            m.coef(full[:, k], z[:, k], -widths[k])
            m.coef(order[:, k], x[rising, k + 1], 1.0)
            m.coef(order[:, k], z[:, k], -widths[k + 1])
    return x, unit_t, z
