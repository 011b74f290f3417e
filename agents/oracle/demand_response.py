"""Demand response in the oracle: delivery against the baseline, payment (capped or in a band) and shortfall.

The rules are the simulator's (:mod:`vpp_gym.markets.demand_response`). The ``similar_days`` baseline is
a property of the episode (``EpisodeData.dr_baseline_mw``, from the days before it), not of the
exogenous columns: the oracle reads it from one more column of ``exo``, after the schema's
(:data:`DR_BASELINE_COLUMN`; :func:`exo_with_dr_baseline` appends it, :class:`~agents.oracle.OraclePolicy`
passes it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.baseline import passive_baseline, response_rows
from agents.oracle.context import OracleContext
from agents.oracle.scope import OracleScopeError
from vpp_gym.core import ALL_NAMES, I_DR_NEED, I_DR_P, CoreParams, EpisodeData

DR_BASELINE_COLUMN = len(ALL_NAMES)
"""With ``markets.demand_response.baseline: similar_days``: the column of ``exo`` (after the schema's) that
holds the episode's baseline (MW, net injection), ``EpisodeData.dr_baseline_mw``."""
BAND_MARGIN_MW = 1e-4
"""With ``payment: band``: a paid interval plans its delivery this far above the band's lower edge, so that
float32 actions replay on the paid side of it."""


@dataclass(frozen=True)
class DemandResponseVars:
    """Demand response ``(T,)``: delivered ``delivered``, paid ``pay`` (per segment against a stack), ``short``fall."""

    delivered: np.ndarray
    pay: np.ndarray
    short: np.ndarray


def exo_with_dr_baseline(p: CoreParams, episode: EpisodeData, row: int = 0) -> np.ndarray:
    """``episode.exo[row]`` ``(T, K)``, with the episode's similar-days baseline appended as column
    :data:`DR_BASELINE_COLUMN` when the scenario uses it (``(T, K + 1)``); unchanged otherwise."""
    exo = episode.exo[row]
    dc = p.cfg.markets.demand_response
    if dc is None or dc.baseline != "similar_days":
        return exo
    assert episode.dr_baseline_mw is not None
    return np.column_stack([exo, episode.dr_baseline_mw[row]])


def settlement_baseline(ctx: OracleContext) -> np.ndarray:
    """The baseline the simulator measures the response against: the passive one, or the similar-days one
    read from column :data:`DR_BASELINE_COLUMN` of ``exo``."""
    dc = ctx.p.cfg.markets.demand_response
    assert dc is not None
    if dc.baseline == "passive":
        return passive_baseline(ctx)
    if ctx.exo.shape[1] <= DR_BASELINE_COLUMN:
        raise OracleScopeError(
            "markets.demand_response.baseline: similar_days needs the episode's baseline: pass exo with it "
            "appended (agents.oracle.demand_response.exo_with_dr_baseline; OraclePolicy does)"
        )
    return np.asarray(ctx.exo[:, DR_BASELINE_COLUMN], dtype=float)


def demand_response_block(m: Model, ctx: OracleContext) -> DemandResponseVars:
    """Demand response against the baseline ``B``, paid ``pay * dt * price``, the shortfall penalised.

    With ``P`` the passive baseline and ``c[t] = dir[t] (P[t] - B[t])`` (0 for the passive baseline), the
    response ``o[t] = dir[t] (net[t] - D[t] - mean(s[t]) A_reg[t] - B[t])`` (``D`` the reserve delivered)
    is kept at or above the passive dispatch's, ``o >= c`` on event intervals (the oracle never moves
    against an event; ``o = 0`` elsewhere):

    ``demand_response.delivered``:  o[t] - dir[t] (net[t] - D[t] - mean(s[t]) A_reg[t]) = -dir[t] B[t]
                                    for event intervals t

    The simulator pays ``del = max(o, 0)``. Where ``c >= 0`` that is ``o`` itself. Where ``c < 0`` (the
    similar-days baseline above the passive one) a variable ``0 <= e <= U`` and a binary ``w`` (``U``
    the most delivery that can be paid: ``max(1, band_high_share) offer_max + 1``):

    ``demand_response.positive``:   e[t] - o[t] + |c[t]| w[t] <= |c[t]|       (w = 1: e <= o)
    ``demand_response.on``:         e[t] - U w[t] <= 0                         (w = 0: e = 0)

    so ``e <= max(o, 0)``, equal at the optimum (paying more delivery never loses; where it gains
    nothing the profit is the same). The shortfall, with ``f = 1`` (``capped``) or ``band_low_share``:

    ``demand_response.shortfall``:  short[t] - f A_dr[t] + del[t] >= 0        for t in 0..T-1

    and the payment rows of :func:`payment_rows`. Profit ``dt * (price * pay - penalty * short)``.
    """
    dc = ctx.p.cfg.markets.demand_response
    assert dc is not None
    T, dt = ctx.T, ctx.dt
    need = ctx.exo[:, I_DR_NEED]
    direction = np.sign(need)
    event = need != 0.0
    passive = passive_baseline(ctx)
    baseline = settlement_baseline(ctx)
    a_dr = ctx.vars.products["demand_response"].accepted
    if dc.baseline == "passive":
        shift = np.zeros(T)
        dl = m.var(T, 0.0, np.where(event, np.inf, 0.0))
    else:
        shift = np.where(event, direction * (passive - baseline), 0.0)
        dl = m.var(T, shift, np.where(event, np.inf, 0.0))
    response_rows(m, ctx, "demand_response.delivered", dl, direction, event, -direction * baseline)
    delivered = positive_part(m, ctx, dl, shift)
    pay = payment_rows(m, ctx, delivered)
    floor = dc.band_low_share if dc.payment == "band" else 1.0
    short = m.var(T, 0.0, np.inf)
    r3 = m.rows(T, 0.0, np.inf, name="demand_response.shortfall")
    m.coef(r3, short, 1.0)
    m.coef(r3, a_dr, -floor)
    m.coef(r3, delivered, 1.0)
    ctx.gain(short, -dt * dc.shortfall_penalty_per_mwh)
    return DemandResponseVars(delivered=delivered, pay=pay, short=short)


def positive_part(m: Model, ctx: OracleContext, o: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The paid delivery ``max(o, 0)`` per interval (see :func:`demand_response_block`): ``o`` where the
    response cannot fall below 0 (``shift >= 0``), the variable ``e`` (binary ``w``) elsewhere."""
    neg = np.flatnonzero(shift < 0.0)
    if len(neg) == 0:
        return o
    dc = ctx.p.cfg.markets.demand_response
    assert dc is not None
    n, gap = len(neg), -shift[neg]
    upper = max(1.0, dc.band_high_share if dc.payment == "band" else 1.0) * dc.offer_max_mw + 1.0
    e = m.var(n, 0.0, upper)
    w = m.var(n, 0.0, 1.0, integer=True)
    r1 = m.rows(n, -np.inf, gap, name="demand_response.positive")
    m.coef(r1, e, 1.0)
    m.coef(r1, o[neg], -1.0)
    m.coef(r1, w, gap)
    r2 = m.rows(n, -np.inf, 0.0, name="demand_response.on")
    m.coef(r2, e, 1.0)
    m.coef(r2, w, -upper)
    out = o.copy()
    out[neg] = e
    return out


def payment_rows(m: Model, ctx: OracleContext, dl: np.ndarray) -> np.ndarray:
    """The paid quantity: at most the delivery and at most ``cap`` times the accepted capacity (``cap = 1``,
    ``capped``; ``band_high_share``, ``band``), per segment against a stack.

    Price-taker, ``pay[t]`` at the published price:
    ``demand_response.paid_delivered``:  pay[t] - del[t] <= 0                              for t in 0..T-1
    ``demand_response.paid_accepted``:   pay[t] - cap A_dr[t] <= 0                         for t in 0..T-1

    Against a stack, ``pay[s]`` at the segment's price: ``sum_{s in t} pay[s] - del[t] <= 0`` per
    interval and ``pay[s] - cap a[s] <= 0`` per segment (same families). With ``payment: band``, the
    band's lower edge (:func:`band_rows`).
    """
    T, dt = ctx.T, ctx.dt
    dc = ctx.p.cfg.markets.demand_response
    assert dc is not None
    cap = dc.band_high_share if dc.payment == "band" else 1.0
    v = ctx.vars.products["demand_response"]
    seg = v.segments
    if seg is None:
        pay = m.var(T, 0.0, np.inf)
        r1 = m.rows(T, -np.inf, 0.0, name="demand_response.paid_delivered")
        m.coef(r1, pay, 1.0)
        m.coef(r1, dl, -1.0)
        r2 = m.rows(T, -np.inf, 0.0, name="demand_response.paid_accepted")
        m.coef(r2, pay, 1.0)
        m.coef(r2, v.accepted, -cap)
        ctx.gain(pay, dt * ctx.exo[:, I_DR_P])
        pay_t = np.arange(T)
    else:
        pay = m.var(len(seg.t), 0.0, np.inf)
        r1 = m.rows(T, -np.inf, 0.0, name="demand_response.paid_delivered")
        m.coef(r1[seg.t], pay, 1.0)
        m.coef(r1, dl, -1.0)
        r2 = m.rows(len(seg.t), -np.inf, 0.0, name="demand_response.paid_accepted")
        m.coef(r2, pay, 1.0)
        m.coef(r2, seg.a, -cap)
        ctx.gain(pay, dt * seg.price)
        pay_t = seg.t
    if dc.payment == "band":
        band_rows(m, ctx, dl, pay, pay_t)
    return pay


def band_rows(m: Model, ctx: OracleContext, dl: np.ndarray, pay: np.ndarray, pay_t: np.ndarray) -> None:
    """Nothing is paid below the band's lower edge: a binary ``z[t]`` per event interval (``lo`` =
    ``band_low_share``, ``M_p = band_high_share offer_max``, ``M_f = lo offer_max + 1``,
    ``m = BAND_MARGIN_MW``):

    ``demand_response.paid_on``:     sum_{pay of t} pay - M_p z[t] <= 0                  (z = 0: unpaid)
    ``demand_response.band_floor``:  del[t] - lo A_dr[t] - M_f z[t] >= m - M_f           (z = 1: del >= lo A + m)

    Unpaid intervals are not kept below the edge: at an optimum with a positive price an interval
    between ``lo A`` and ``lo A + m`` is paid (a smaller ``A`` costs nothing and makes it so).
    """
    dc = ctx.p.cfg.markets.demand_response
    assert dc is not None
    ev = np.flatnonzero(ctx.exo[:, I_DR_NEED] != 0.0)
    n = len(ev)
    if n == 0:
        return
    at = np.full(ctx.T, -1)
    at[ev] = np.arange(n)
    keep = at[pay_t] >= 0  # payments of non-event intervals are 0 already (no delivery there)
    m_pay = dc.band_high_share * dc.offer_max_mw
    m_floor = dc.band_low_share * dc.offer_max_mw + 1.0
    z = m.var(n, 0.0, 1.0, integer=True)
    on = m.rows(n, -np.inf, 0.0, name="demand_response.paid_on")
    m.coef(on[at[pay_t[keep]]], pay[keep], 1.0)
    m.coef(on, z, -m_pay)
    fl = m.rows(n, BAND_MARGIN_MW - m_floor, np.inf, name="demand_response.band_floor")
    m.coef(fl, dl[ev], 1.0)
    m.coef(fl, ctx.vars.products["demand_response"].accepted[ev], -dc.band_low_share)
    m.coef(fl, z, -m_floor)
