"""Episode-end carbon compliance ``C(X_T)`` for a stateful carbon market (``vpp_gym.markets.carbon``).

``X_T = E - A - used`` from the state's totals plus the plan's: emissions of imports and gas,
allowances on the load served (consumption + EV charging), CCER on the renewable MWh not certified,
``used <= CCER``, ``used <= cap * E``. The env's per-step carbon cash sums to ``C(X_t0) - C(X_T)``.
The ladder is exact without binaries: the deficit side is convex (the LP fills the cheapest bands
first); a rewarded surplus is concave in ``X``, so it is solved one band at a time (``segment`` k:
``X`` in band k of the surplus, where ``C`` is linear; ``segment`` -1: ``X >= 0``) and
:func:`agents.oracle.solve` keeps the best segment. The search goes deeper into the surplus until a
band is out of reach or an upper bound on all the deeper bands (``tail``: the deepest reachable
band's reward rate applied from band k on, a relaxation of the ladder) is no better than the best
plan, so the search is exact.

Under an ETS regime or the 2023 certificate rules (:func:`carbon_rules_block`) the same ``X`` and
``used`` are built from the regime's totals: ``national_ets`` covers the gas unit only, with its
output-based allocation and the shortfall exemption; ``pilot_ets`` prices the gas unit's direct
emissions and the imports at the grid factor net of the certificates kept, with a fixed allocation;
and under ``china_2023`` the green matching also charges the MWh consumed on site whose attribute was
sold or credited.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext
from agents.oracle.flex_load import base_load_mw
from agents.oracle.gas import gas_params
from vpp_gym import core
from vpp_gym.core import I_EF, CoreParams
from vpp_gym.markets import carbon
from vpp_gym.markets.carbon import CarbonMarketConfig
from vpp_gym.ops import SCALAR


@dataclass(frozen=True)
class CarbonVars:
    """The episode-end net position ``x`` (= ``X_T``, t) and the CCER ``used`` (t), one variable each."""

    x: np.ndarray
    used: np.ndarray


def max_surplus_bands(p: CoreParams, state: core.State) -> int:
    """How many surplus bands the episode's net carbon position could possibly reach."""
    cm = p.cfg.markets.carbon
    x0, _ = position0(state, cm)
    return int(np.ceil((p.carbon_scale_t + abs(x0)) / cm.band_t)) + 1


def position0(state: core.State, cm: CarbonMarketConfig) -> tuple[float, float]:
    """The net position and the CCER used of a state's carbon totals (:func:`vpp_gym.markets.carbon.net_position`)."""
    e0, a0, c0, d0 = (float(v) for v in (state.emissions_t, state.allowances_t, state.ccer_t, state.direct_t))
    x0, used0 = carbon.net_position(e0, a0, c0, cm, SCALAR, d0)
    return float(x0), float(used0)


def surplus_offset(cm: CarbonMarketConfig, k: int) -> float:
    """Profit offset of surplus band ``k``: ``-C(X) = ladder(k d) + slope (|X| - k d)`` minus ``slope |X|``."""
    d = cm.band_t
    slope = cm.price_per_t * (1.0 + k * cm.growth)
    return -float(carbon.compliance_cost(-k * d, cm, SCALAR)) - slope * k * d


def carbon_block(m: Model, ctx: OracleContext) -> CarbonVars:
    """The net position and its compliance cost (the constant ``C(X_t0)`` goes to ``ctx.objective``).

    ``carbon.net_position``:  X + used - dt sum_t (EF[t] imp[t] + ef_gas g[t]) + bench sum_t (served[t])
                              = E0 - A0                                   (``bench`` = allowance per MWh * dt)
    ``carbon.ccer_credits``:  used - dt (1 - gec_share) ccer sum_t renewable[t] <= CCER0
    ``carbon.ccer_cap``:      used - cap dt sum_t (EF[t] imp[t] + ef_gas g[t]) <= cap E0

    and the pricing rows of :func:`compliance_cost_rows` (the v0 rules; the others: :func:`carbon_rules_block`).
    """
    if not ctx.p.cfg.markets.carbon.legacy:
        return carbon_rules_block(m, ctx)
    cm, dt, exo = ctx.p.cfg.markets.carbon, ctx.dt, ctx.exo
    imp = ctx.require(ctx.vars.imports, "imports").imp
    gas = ctx.vars.gas
    X = m.var(1, -np.inf, np.inf)
    used = m.var(1, 0.0, np.inf)
    xdef = m.rows(1, 0.0, 0.0, name="carbon.net_position")
    m.coef(xdef, X, 1.0)
    m.coef(xdef, used, 1.0)
    m.coef(xdef, imp, -dt * exo[:, I_EF])
    if gas is not None:
        m.coef(xdef, gas.p, -dt * gas_params(ctx).ef_t_per_mwh)
    served_allowances(m, ctx, xdef, cm.free_allowance_t_per_mwh * dt)
    m.add_rhs(xdef, float(ctx.state.emissions_t) - float(ctx.state.allowances_t))
    cap_c = m.rows(1, -np.inf, float(ctx.state.ccer_t), name="carbon.ccer_credits")
    m.coef(cap_c, used, 1.0)
    for ren in ctx.vars.renewables.values():
        m.coef(cap_c, ren.p, -dt * (1.0 - cm.gec_share) * cm.ccer_t_per_mwh)
    cap_e = m.rows(1, -np.inf, cm.ccer_cap_share * float(ctx.state.emissions_t), name="carbon.ccer_cap")
    m.coef(cap_e, used, 1.0)
    m.coef(cap_e, imp, -cm.ccer_cap_share * dt * exo[:, I_EF])
    if gas is not None:
        m.coef(cap_e, gas.p, -cm.ccer_cap_share * dt * gas_params(ctx).ef_t_per_mwh)
    v = CarbonVars(x=X, used=used)
    ctx.objective.constant += compliance_cost_rows(m, ctx, v)
    return v


def carbon_rules_block(m: Model, ctx: OracleContext) -> CarbonVars:
    """:func:`carbon_block` under ``markets.carbon.regime`` and ``certificates`` (:mod:`vpp_gym.markets.carbon`).

    With ``E0``, ``A0``, ``CCER0`` the state's totals, ``O0`` their obligation, ``p_i[t]`` the renewables'
    output and their :class:`~vpp_gym.markets.carbon.CertificateSplit` shares ``ccer_i``, ``green_i``:

    ``carbon.net_position``:  X + used - (O - A)_plan = O0 - A0, where (O - A)_plan is
        ``stepped_price``:  dt sum_t (EF[t] imp[t] + ef_gas g[t]) - bench sum_t served[t]
        ``national_ets``:   rate dt sum_t g[t],  rate = min(ef_gas - b, s b) with the exemption, else ef_gas - b
                            (``b`` the gas benchmark, ``s`` the cap share: E and A both grow with g, so the
                            exemption's branch is the same for every MWh)
        ``pilot_ets``:      the row is  X + used - e - ef_gas dt sum_t g[t] = D0 - A_T  (``e`` the variable
                            below, ``D0`` the state's direct emissions, ``A_T`` the episode's allocation:
                            the gas term outside the floor of ``e``, so certificates do not net it)
    ``carbon.ccer_credits``:  used - ccer dt sum_i ccer_i sum_t p_i[t] <= CCER0
    ``carbon.ccer_cap``:      used - cap O_plan <= cap O0 (``pilot_ets``: used <= cap A_T)

    ``pilot_ets`` (``f`` the grid factor, ``N[t] = sum_i (1 - green_i) p_i[t]``, ``K[t] = sum_i green_i
    p_i[t]``, exports ``net[t] + imp[t]``):

    ``carbon.grey_supply``:   w[t] - N[t] + net[t] + imp[t] >= 0      (w >= N - exports)
    ``carbon.green_export``:  w[t] + K[t] >= 0                        (w >= -K)
    ``carbon.indirect``:      e - f dt sum_t (imp[t] + w[t]) >= E0,   e >= 0

    (the cost rises with ``w`` and ``e``, so both take their ``max`` at an optimum: exact without binaries).
    Under ``china_2023`` with a green-matching penalty:

    ``carbon.unmatched``:     v[t] - N[t] + net[t] + imp[t] >= 0,   v >= 0, paid ``dt x penalty`` each.
    """
    p, cm, dt, exo, T = ctx.p, ctx.p.cfg.markets.carbon, ctx.dt, ctx.exo, ctx.T
    imp = ctx.require(ctx.vars.imports, "imports").imp
    net = ctx.require(ctx.vars.grid, "grid").net
    gas = ctx.vars.gas
    split = {sp.name: sp for sp in p.certificate_split}
    e0, a0, c0 = float(ctx.state.emissions_t), float(ctx.state.allowances_t), float(ctx.state.ccer_t)
    d0 = float(ctx.state.direct_t)  # pilot_ets: the direct emissions so far (0 under the other regimes)
    o0 = float(carbon.obligation(e0, a0, cm, SCALAR, d0))
    a_total = a0 + cm.allocation_t_per_day * (dt / 24.0) * T  # pilot_ets: the episode's allocation
    pilot = cm.regime == "pilot_ets"
    X = m.var(1, -np.inf, np.inf)
    used = m.var(1, 0.0, np.inf)
    rhs = d0 - a_total if pilot else o0 - a0
    xdef = m.rows(1, rhs, rhs, name="carbon.net_position")
    m.coef(xdef, X, 1.0)
    m.coef(xdef, used, 1.0)
    cap_e = m.rows(1, -np.inf, cm.ccer_cap_share * (a_total if pilot else o0), name="carbon.ccer_cap")
    m.coef(cap_e, used, 1.0)
    if cm.regime == "stepped_price":
        m.coef(xdef, imp, -dt * exo[:, I_EF])
        m.coef(cap_e, imp, -cm.ccer_cap_share * dt * exo[:, I_EF])
        if gas is not None:
            m.coef(xdef, gas.p, -dt * gas_params(ctx).ef_t_per_mwh)
            m.coef(cap_e, gas.p, -cm.ccer_cap_share * dt * gas_params(ctx).ef_t_per_mwh)
        served_allowances(m, ctx, xdef, cm.free_allowance_t_per_mwh * dt)
    elif cm.regime == "national_ets":
        if gas is not None:
            ef, b, s = gas_params(ctx).ef_t_per_mwh, cm.gas_benchmark_t_per_mwh, cm.shortfall_cap_share
            rate, due = ef - b, ef
            if cm.shortfall_exemption and ef - b > s * b:
                rate, due = s * b, (1.0 + s) * b
            m.coef(xdef, gas.p, -dt * rate)
            m.coef(cap_e, gas.p, -cm.ccer_cap_share * dt * due)
    else:  # X + used - e - ef_gas dt sum g = D0 - A_T, used <= cap A_T
        e = m.var(1, 0.0, np.inf)
        m.coef(xdef, e, -1.0)
        if gas is not None:  # direct emissions: outside the floor of e
            m.coef(xdef, gas.p, -dt * gas_params(ctx).ef_t_per_mwh)
        w = m.var(T, -np.inf, np.inf)
        grey_supply_rows(m, ctx, w, net, imp, split, "carbon.grey_supply")
        kept = m.rows(T, 0.0, np.inf, name="carbon.green_export")
        m.coef(kept, w, 1.0)
        for name, ren in ctx.vars.renewables.items():
            m.coef(kept, ren.p, split[name].green)
        ind = m.rows(1, e0, np.inf, name="carbon.indirect")
        m.coef(ind, e, 1.0)
        m.coef(ind, imp, -cm.grid_factor_t_per_mwh * dt)
        m.coef(ind, w, -cm.grid_factor_t_per_mwh * dt)
    cap_c = m.rows(1, -np.inf, c0, name="carbon.ccer_credits")
    m.coef(cap_c, used, 1.0)
    for name, ren in ctx.vars.renewables.items():
        if split[name].ccer > 0.0:
            m.coef(cap_c, ren.p, -dt * split[name].ccer * cm.ccer_t_per_mwh)
    penalty = cm.unmatched_import_penalty_per_mwh
    if cm.certificates == "china_2023" and penalty > 0.0 and any(sp.green < 1.0 for sp in split.values()):
        v = m.var(T, 0.0, np.inf)
        grey_supply_rows(m, ctx, v, net, imp, split, "carbon.unmatched")
        ctx.gain(v, -dt * penalty)
    out = CarbonVars(x=X, used=used)
    ctx.objective.constant += compliance_cost_rows(m, ctx, out)
    return out


def served_allowances(m: Model, ctx: OracleContext, xdef: np.ndarray, bench: float) -> None:
    """``- bench sum_t served[t]`` in the net-position row (served = base load - curtailed - shifted + EV charging)."""
    if ctx.vars.flex_load is not None:  # served = base - c - s
        m.coef(xdef, ctx.vars.flex_load.curtail, -bench)
        m.coef(xdef, ctx.vars.flex_load.shift, -bench)
        m.add_rhs(xdef, -bench * float(np.sum(base_load_mw(ctx))))
    if ctx.vars.ev is not None:
        m.coef(xdef, ctx.vars.ev.ch, bench)


def grey_supply_rows(
    m: Model,
    ctx: OracleContext,
    w: np.ndarray,
    net: np.ndarray,
    imp: np.ndarray,
    split: dict[str, carbon.CertificateSplit],
    name: str,
) -> None:
    """``w[t] >= N[t] - exports[t]``: ``w[t] - sum_i (1 - green_i) p_i[t] + net[t] + imp[t] >= 0``."""
    rows = m.rows(ctx.T, 0.0, np.inf, name=name)
    m.coef(rows, w, 1.0)
    m.coef(rows, net, 1.0)
    m.coef(rows, imp, 1.0)
    for res, ren in ctx.vars.renewables.items():
        if split[res].green < 1.0:
            m.coef(rows, ren.p, -(1.0 - split[res].green))


def compliance_cost_rows(m: Model, ctx: OracleContext, v: CarbonVars) -> float:
    """The compliance cost ``C(X)`` in the profit; returns the profit constant (``C(X_t0)`` and band offsets).

    Flat price: ``-lam X`` if a surplus is rewarded, else ``-lam X+``; a stepped ladder, on the deficit
    side (``segment`` None or -1, the bands filled cheapest first; -1 also ``X >= 0``):

    ``carbon.position_split``:  X - X+ + X- = 0
    ``carbon.deficit_ladder``:  sum_j x_j - X+ = 0,   0 <= x_j <= band, paid ``lam (1 + j growth)`` each

    and in surplus band ``k`` (``X+ = 0``): ``carbon.surplus_band``: ``k d <= X- <= (k+1) d`` (no upper
    end for the ``tail`` bound, at the deepest reachable band's rate).
    """
    p, state, cm, segment = ctx.p, ctx.state, ctx.p.cfg.markets.carbon, ctx.carbon_segment
    lam = cm.price_per_t
    x0, _ = position0(state, cm)
    c0 = float(carbon.compliance_cost(x0, cm, SCALAR))
    if cm.pricing == "flat" and cm.reward_surplus:
        ctx.gain(v.x, -lam)
        return c0
    xp = m.var(1, 0.0, np.inf)
    xm = m.var(1, 0.0, np.inf)
    split = m.rows(1, 0.0, 0.0, name="carbon.position_split")
    m.coef(split, v.x, 1.0)
    m.coef(split, xp, -1.0)
    m.coef(split, xm, 1.0)
    if cm.pricing == "flat":  # C = lam * max(X, 0); a surplus is worth nothing
        ctx.gain(xp, -lam)
        return c0
    d = cm.band_t
    if segment is None or segment < 0:  # the deficit side (convex): bands filled cheapest first by the LP
        if cm.reward_surplus:
            m.fix(xm, 0.0)  # segment -1: X >= 0
        n_bands = int(np.ceil((p.carbon_scale_t + abs(x0) + 1.0) / d)) + 1
        prices = lam * (1.0 + cm.growth * np.arange(n_bands))
        ub = np.full(n_bands, d)
        ub[-1] = np.inf
        bp = m.var(n_bands, 0.0, ub)
        sum_p = m.rows(1, 0.0, 0.0, name="carbon.deficit_ladder")
        m.coef(sum_p, bp, 1.0)
        m.coef(sum_p, xp, -1.0)
        ctx.gain(bp, -prices)
        return c0
    # a rewarded surplus in band k: X in [-(k+1) d, -k d], where C is linear:
    # C(X) = -(ladder(k d) + lam (1 + k g) (-X - k d))
    k = segment
    m.fix(xp, 0.0)
    if ctx.tail:  # every band from k on, each at most at the deepest reachable band's rate: an upper bound
        slope = lam * (1.0 + (max_surplus_bands(p, state) - 1) * cm.growth)
        band = m.rows(1, k * d, np.inf, name="carbon.surplus_band")
        m.coef(band, xm, 1.0)
        ctx.gain(xm, slope)
        return c0 - float(carbon.compliance_cost(-k * d, cm, SCALAR)) - slope * k * d
    band = m.rows(1, k * d, (k + 1) * d, name="carbon.surplus_band")
    m.coef(band, xm, 1.0)
    ctx.gain(xm, lam * (1.0 + k * cm.growth))
    return c0 + surplus_offset(cm, k)
