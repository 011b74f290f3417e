"""Perfect-foresight oracle: one (MI)LP over the whole episode, built from the simulator's own params.

The model uses the same :class:`vpp_gym.core.CoreParams` as the simulator and the realised exogenous
series of the episode, and returns its plan as env actions, so replaying the plan through the env
reproduces the oracle's objective (the equivalence test). Decision variables per interval ``t``:

    q[t]            day-ahead position for t (fixed to the committed ones for the first L intervals)
    pv[t], wd[t]    renewable output, 0 <= . <= available (= available if not curtailable)
    bd[t], bc[t]    battery discharge / charge (>= 0), e[t] stored energy after t
    c[t], s[t]      load curtailment and shift, b[t] shift backlog after t, v[t] forced-make-up excess
    ed[t], ec[t]    EV discharge / charge, n[t] need after departures
    g[t], u[t]      gas output and on/off (binary), st[t] start-up indicator
    dp[t], dm[t]    real-time deviation split (imbalance penalty), imp[t] grid import (emissions)

with the constraints below (each family's equation is in its block's docstring, see Layout):

    net[t]  = pv + wd + bd - bc + ed - ec + g - (L[t] - c - s)
    e[t]    = e[t-1] - dt * (bd / eta_d - bc * eta_c),        e_min <= e <= e_high
    b[t]    = b[t-1] + s * dt;  at a window end s = -b[t-1] / dt, b[t] = 0, |s| <= s_max + v / dt
    n1[t]   = n[t-1] + a[t] E - ec eta_c dt + ed dt / eta_d,  n[t] = (1 - d[t]) n1[t],  unmet = d[t] n1[t]
    gas:    p_min u <= g <= p_max u;  g[t] <= g[t-1] + R u[t-1] + U0 (1 - u[t-1]);
            g[t] >= g[t-1] - R - p_max (1 - u[t]);  shutdown only from g[t-1] <= p_min + R
    dp - dm = net - q,   imp >= -net,  imp >= 0

and the objective: the env's profit (cash flows minus costs and penalties), maximised. It is an LP
unless the scenario has a gas unit (binaries for on/off) or reserve calls (the deployment order).
Storage that would charge and discharge in the same interval (only ever optimal when energy is worth
less than nothing) cannot be replayed, so such intervals get binary charge/discharge modes: in short
windows around them, proven exact by a Lagrangian bound priced with the LP's duals
(:mod:`agents.oracle.windows`), or, failing that, over the whole horizon. A long LP (two months and
more) is solved a month at a time, stitched and proven optimal by its duals (:mod:`agents.oracle.chunks`).
:func:`solve`'s time limit bounds the whole call (see :mod:`agents.oracle.search`).

The carbon market is settled at the episode end as in the simulator: ``C(X_T)`` of the net position
``X = emissions - allowances - CCER used`` (flat or stepped ladder, see :mod:`agents.oracle.carbon`).

Ancillary products, in the invitation form and the transaction form (price-taker: an offer at price 0,
accepted up to the need; price-maker against a known competitor stack: see below):

    A_p[t]          accepted capacity of product p, at most what the clearing can give the largest offer
    regulation      followed exactly (score 1) by the battery at the AGC sub-steps, within its
                    feasible range (:func:`agents.oracle.battery.substep_block`); paid capacity and mileage
    reserve         the call ``k[t] A_res`` is deployed as the simulator does: battery spare headroom,
                    then the gas unit, then extra load curtailment, the rest short and penalised
                    (:func:`agents.oracle.reserve.priority_block`: binaries in call intervals only)
    demand response delivered against the passive or the similar-days baseline (the latter passed as a last
                    ``exo`` column), paid capped or in the band (binaries) (:mod:`agents.oracle.demand_response`)
    peak regulation likewise, paid in tiers by depth (:mod:`agents.oracle.peak_regulation`: binaries
                    keep the tiers in order where their prices rise with depth, the default)

Price-maker clearing (a transaction-form market with a competitor stack, ``configs/markets/autonomous.yaml``).
The oracle knows the episode's stacks (perfect foresight). With the valid competitor offers of an
interval sorted by price, ``Q_m`` the quantity of the first ``m`` and ``N`` the need, an offer priced
below competitor ``m`` and accepted for ``a`` with ``N - Q_m <= a < N - Q_{m-1}`` leaves competitor
``m`` marginal, so it clears at ``p_m`` whatever the offer's own price; ``a`` below ``N - Q_M`` (a
short stack) clears at the price cap. These ranges are the segments of :func:`stack_segments`, and
the revenue ``a * price(a)``, a step function, is modelled with one binary per segment (at most one
per interval):

    y_s lo_s <= a_s <= y_s hi_s,   sum_{s in t} y_s <= 1,   A[t] = sum_{s in t} a_s,   paid sum price_s a_s

The oracle's offers are priced at 0: every segment clears the same for any offer price below its
marginal competitor's, so a price-maker moves the price by the quantity it offers (withholding).
Left out: the offer as the marginal one (``a = N - Q_{m-1}`` exactly, paid its own price, which can
approach ``p_m`` from below but not reach it: the supremum is not attained), and the segments stop
``STACK_MARGIN_MW`` inside both ends so float32 actions replay on the same side. So the oracle is
optimal over the price-maker plans up to ``STACK_MARGIN_MW * dt`` MWh at the segment's price at
each end of a segment (``2 * STACK_MARGIN_MW * cap * dt`` per interval at most). A day-ahead energy
sale clears against the stack this way; a purchase pays the price the stack clears at without the
VPP's offer. Demand response is paid ``min(delivered, A_dr)`` at its segment's price (one ``pay_s
<= a_s`` per segment). MPC does not see the stacks (competitors' private offers), so a price-maker
scenario is outside its scope.

The day-ahead timeline (``markets.energy.timeline: day_ahead``, :mod:`vpp_gym.core.timeline`;
:mod:`agents.oracle.day_ahead`). The same blocks, with the grid's block replaced: per interval the
day-ahead award ``qd[t]`` (free in ``[-P, P]`` until its bid step, then fixed to the award in the
state's rings) and the intraday adjustment ``qi[t]`` (what is traded already plus at most ``max_mw`` per
gate still ahead that trades ``t``; none for the first ``lead`` intervals), settled

    dt * (qd P_DA + qi P_ID + (net - qd - qi) P_RT) - penalty + dt Qc (Pc - P_DA) + (e[T-1] - e_init) P_term

with the contract for difference ``Qc`` (a constant as a price-taker) and the terminal value of the
stored energy on the episode's last interval (``P_term`` the last day's mean day-ahead price). Against the
energy stack (``autonomous.yaml``) a flat curve is awarded its whole quantity and clears at the price
the stack sets for it, a step function of ``qd`` (one binary per range of
:func:`~agents.oracle.stacks.curve_segments`; a position at or above the need is left out, as is
``STACK_MARGIN_MW`` at each end of a range); the contract then pays against that price. The capacity
products keep their blocks: awarded at the bid steps, delivered at dispatch; an award in the rings is
fixed (regulation: held up to it, the rest paid ``shortfall_penalty_per_mwh``). The deviation
assessment's free band ``max(share |q|, b0)`` (either timeline) is modelled exactly: a constant band
keeps the LP, a band growing with ``|q|`` (not convex) takes two binaries per interval
(:func:`~agents.oracle.grid.deviation_penalty`). The plan is played as flat curves ``da_low = da_high
= qd / P`` and the products' offers (priced at 0) at the bid steps, setpoints and intraday orders at the
dispatch steps.

Scope: imperfect regulation tracking (response delay, ramp limit) and regulation from the EV fleet or
the flexible load (``markets.regulation.providers``) raise :class:`OracleScopeError` naming what is not
modelled, and so does a price-maker scenario without its stacks (MPC).

The class of plans the oracle is optimal over (every plan in it replays exactly):

* regulation: the simulator awards at most the battery's symmetric headroom around its base
  setpoint and only the battery follows, so every award is followed exactly (score 1 without a
  response delay or ramp limit) and ``p_lo <= base - A_reg``, ``base + A_reg (+ D_bat) <= p_hi``
  describe every feasible plan: nothing outside the class (an offer beyond the headroom is simply not
  awarded; ``tests/agents/test_oracle_regulation_scope.py`` checks that overselling earns nothing).
* reserve: a shortfall is planned only with the load's curtailment at ``curtail_share * base``
  (see :func:`agents.oracle.reserve.priority_block`).

Layout: one module per resource or market (``grid``, ``day_ahead``, ``renewable``, ``battery``, ``flex_load``,
``ev``, ``gas``, ``products``, ``reserve``, ``demand_response``, ``peak_regulation``, ``carbon``, ``stacks``),
and the solution methods (``windows``, ``chunks``). Each has a block
``block(m: Model, ctx: OracleContext) -> Record`` (renewables and products also take their name) that
adds its variables, returned as a frozen record of index arrays (e.g.
:class:`~agents.oracle.battery.BatteryVars`), and its named constraint families (``battery.energy_balance``,
``gas.ramp_up``, ...: ``Model.row_names()``, ``Model.family(name)``), each family's equation in the
block's docstring; and a ``decode(ctx, record, x, draft)`` that writes its part of the plan.
:mod:`agents.oracle.model` builds the blocks in order (:func:`build_model` builds without solving),
:mod:`agents.oracle.search` is :func:`solve`, :mod:`agents.oracle.policy` the policy.
"""

from agents.oracle.battery import BatteryVars
from agents.oracle.carbon import CarbonVars
from agents.oracle.context import SIMULTANEOUS_TOL_MW, OracleContext, OracleVars, Plan
from agents.oracle.day_ahead import DayAheadVars, DayAheadView, day_ahead_view
from agents.oracle.demand_response import DemandResponseVars
from agents.oracle.ev import EvVars
from agents.oracle.flex_load import FlexLoadVars
from agents.oracle.gas import GasVars
from agents.oracle.grid import GridVars, ImportVars
from agents.oracle.model import build_model
from agents.oracle.peak_regulation import PeakRegulationVars
from agents.oracle.policy import OraclePolicy
from agents.oracle.products import ProductVars
from agents.oracle.renewable import RenewableVars
from agents.oracle.reserve import ReserveVars
from agents.oracle.scope import OracleScopeError, check_scope
from agents.oracle.search import solve
from agents.oracle.stacks import STACK_MARGIN_MW, Segments, curve_segments, stack_segments, stacked_markets

__all__ = [
    "SIMULTANEOUS_TOL_MW",
    "STACK_MARGIN_MW",
    "BatteryVars",
    "CarbonVars",
    "DayAheadVars",
    "DayAheadView",
    "DemandResponseVars",
    "EvVars",
    "FlexLoadVars",
    "GasVars",
    "GridVars",
    "ImportVars",
    "OracleContext",
    "OraclePolicy",
    "OracleScopeError",
    "OracleVars",
    "PeakRegulationVars",
    "Plan",
    "ProductVars",
    "RenewableVars",
    "ReserveVars",
    "Segments",
    "build_model",
    "check_scope",
    "curve_segments",
    "day_ahead_view",
    "solve",
    "stack_segments",
    "stacked_markets",
]
