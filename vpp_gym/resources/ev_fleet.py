"""Aggregate EV fleet: charging (and optional V2G) of the plugged-in vehicles against their needs.

The fleet is one aggregate battery of ``e_fleet_mwh`` (all vehicles) of which the share
``s`` (``ev_plugged_share``) is plugged in. Its state is the energy still needed by the plugged-in
vehicles, ``n`` (MWh). Each interval, with arrivals ``a`` (``ev_arrival_need_pu``, per MWh of fleet
capacity) and departures ``d`` (``ev_departure_share``, share of plugged vehicles leaving at the end):

    n0 = min(n + a * e_fleet, e_fleet)                     arrivals bring their need
    n1 = n0 + dt * (min(p, 0) * eta_c + max(p, 0) / eta_d)  charging (p < 0) lowers the need,
                                                           V2G discharge (p > 0) raises it
    unmet = d * n1                                         need leaving unserved (penalised)
    n' = (1 - d) * n1                                      vehicles leave with a mixed need

Power limits (``p > 0`` = injection by V2G):

    p >= -min(s * p_charge_max, n0 / (eta_c * dt))          never charge beyond the need
    p <= min(s * p_discharge_max, max(s * e_fleet - n0, 0) * eta_d / dt)   if v2g, else p <= 0

The need never exceeds the fleet's capacity: arrival needs beyond what the fleet can hold are
dropped (consistent data never triggers this), and ``n1`` is floored at 0 against rounding.
The mix is homogeneous: departing vehicles carry the average need (a documented simplification).
Costs: ``unmet_penalty_per_mwh * unmet + degradation_cost_per_mwh * max(p, 0) * dt`` (V2G wear).
When the fleet provides frequency regulation (``markets.regulation.providers``), ``p`` moves at the AGC
sub-steps around the setpoint inside ``[p_lo, p_hi]``; ``min(p, 0)`` and ``max(p, 0)`` above are then
the means of the sub-step profile (:func:`charge_and_depart`), so the bounds still hold.
Dwell periods cross episode boundaries (vehicles plugged in the evening leave the next morning), so
the need still outstanding when the episode ends is charged at ``terminal_price_per_mwh`` (by
default the scenario's mean absolute day-ahead price / ``eta_charge``: what charging it later would
cost); energy taken by V2G is therefore never free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.ops import Array, lift, lower
from vpp_gym.resources.spec import power_entries

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval
from vpp_gym.resources.spec import ResourceSpec, StateField
from vpp_gym.validation import MAX_ENERGY_MWH, MAX_POWER_MW, MAX_PRICE_PER_MWH, require_range


@dataclass(frozen=True)
class EvFleetParams:
    """Aggregate EV fleet parameters.

    Attributes:
        e_fleet_mwh: battery capacity of the whole fleet.
        p_charge_max_mw: charging power with the whole fleet plugged in.
        p_discharge_max_mw: V2G power with the whole fleet plugged in (used only if ``v2g``).
        v2g: whether vehicles may discharge into the grid.
        eta_charge: charging efficiency.
        eta_discharge: discharging efficiency.
        unmet_penalty_per_mwh: penalty on energy still needed when a vehicle departs.
        degradation_cost_per_mwh: wear cost of V2G discharge.
        terminal_price_per_mwh: value of the need outstanding at the episode end (null = the
            scenario's mean absolute day-ahead price / eta_charge).
    """

    e_fleet_mwh: float = 6.0
    p_charge_max_mw: float = 2.0
    p_discharge_max_mw: float = 1.0
    v2g: bool = False
    eta_charge: float = 0.92
    eta_discharge: float = 0.92
    unmet_penalty_per_mwh: float = 800.0
    degradation_cost_per_mwh: float = 30.0
    terminal_price_per_mwh: float | None = None

    def __post_init__(self) -> None:
        require_range("e_fleet_mwh", self.e_fleet_mwh, 0.0, MAX_ENERGY_MWH)
        require_range("p_charge_max_mw", self.p_charge_max_mw, 0.0, MAX_POWER_MW)
        require_range("p_discharge_max_mw", self.p_discharge_max_mw, 0.0, MAX_POWER_MW)
        require_range("eta_charge", self.eta_charge, 0.0, 1.0, lo_open=True)
        require_range("eta_discharge", self.eta_discharge, 0.0, 1.0, lo_open=True)
        require_range("unmet_penalty_per_mwh", self.unmet_penalty_per_mwh, 0.0, MAX_PRICE_PER_MWH)
        require_range("degradation_cost_per_mwh", self.degradation_cost_per_mwh, 0.0, MAX_PRICE_PER_MWH)
        if self.terminal_price_per_mwh is not None:
            require_range("terminal_price_per_mwh", self.terminal_price_per_mwh, 0.0, MAX_PRICE_PER_MWH)


def feasible_range(
    params: EvFleetParams, need_mwh: Array, plugged: Array, arrival_pu: Array, dt_h: float, xp: Any = np
) -> tuple[Array, Array]:
    """Feasible fleet power ``(p_lo, p_hi)`` in MW this interval (see module docstring)."""
    n0 = xp.minimum(need_mwh + arrival_pu * params.e_fleet_mwh, params.e_fleet_mwh)
    p_lo = -xp.minimum(plugged * params.p_charge_max_mw, n0 / (params.eta_charge * dt_h))
    if not params.v2g:
        return p_lo, 0.0 * p_lo
    room = xp.maximum(plugged * params.e_fleet_mwh - n0, 0.0)
    p_hi = xp.minimum(plugged * params.p_discharge_max_mw, room * (params.eta_discharge / dt_h))
    return p_lo, p_hi


def apply(
    params: EvFleetParams,
    need_mwh: Array,
    plugged: Array,
    arrival_pu: Array,
    departure: Array,
    p_request_mw: Array,
    dt_h: float,
    xp: Any = np,
) -> tuple[Array, Array, Array]:
    """Project the requested power, charge, then let vehicles depart.

    Returns:
        ``(p_applied_mw, need_next_mwh, unmet_mwh)``.
    """
    p_lo, p_hi = feasible_range(params, need_mwh, plugged, arrival_pu, dt_h, xp)
    p = xp.minimum(xp.maximum(p_request_mw, p_lo), p_hi)
    need_next, unmet = charge_and_depart(
        params, need_mwh, arrival_pu, departure, xp.minimum(p, 0.0), xp.maximum(p, 0.0), dt_h, xp
    )
    return p, need_next, unmet


def charge_and_depart(
    params: EvFleetParams,
    need_mwh: Array,
    arrival_pu: Array,
    departure: Array,
    charge_part_mw: Array,
    v2g_part_mw: Array,
    dt_h: float,
    xp: Any = np,
) -> tuple[Array, Array]:
    """The need after the interval: arrivals, charging ``min(p, 0)`` and V2G ``max(p, 0)`` (each the mean over
    the interval of a power profile, or of the constant setpoint), then departures.

    Returns:
        ``(need_next_mwh, unmet_mwh)``.
    """
    n0 = xp.minimum(need_mwh + arrival_pu * params.e_fleet_mwh, params.e_fleet_mwh)
    n1 = n0 + dt_h * (charge_part_mw * params.eta_charge + v2g_part_mw / params.eta_discharge)
    n1 = xp.maximum(n1, 0.0)
    unmet = departure * n1
    return n1 - unmet, unmet


I_EV_PLUG, I_EV_ARR, I_EV_DEP = (
    ALL_NAMES.index(c) for c in ("ev_plugged_share", "ev_arrival_need_pu", "ev_departure_share")
)
"""Columns of the EV data in the exogenous rows."""


def setpoint(c: Interval, d: Dispatch, e: EvFleetParams) -> None:
    """Fleet setpoint ``a * p_discharge_max`` (V2G, a >= 0) or ``a * p_charge_max``, projected onto the
    feasible range of the interval (``d.ev_p`` within ``[d.ev_lo, d.ev_hi]``); the energy follows in
    :func:`inject`, once the regulation response (if the fleet regulates) is known."""
    xp, x = c.xp, c.x
    a = c.action("ev")
    req = xp.maximum(a, 0.0) * e.p_discharge_max_mw + xp.minimum(a, 0.0) * e.p_charge_max_mw
    d.ev_lo, d.ev_hi = feasible_range(e, d.state["ev_need_mwh"], x[I_EV_PLUG], x[I_EV_ARR], c.dt, xp)
    d.ev_p = xp.minimum(xp.maximum(req, d.ev_lo), d.ev_hi)
    c.led["ev.requested_mw"] = req


def reg_headroom(c: Interval, d: Dispatch, e: EvFleetParams) -> tuple[Array, Array]:
    """Regulation headroom ``(up, down)`` around the setpoint within the interval's feasible range: less
    charging or more V2G up to ``ev_hi``, more charging down to ``ev_lo`` (the plugged-in vehicles' power
    and the energy they still need, or can give, :func:`feasible_range`)."""
    return d.ev_hi - d.ev_p, d.ev_p - d.ev_lo


def reg_follow(c: Interval, d: Dispatch, e: EvFleetParams, r: np.ndarray) -> None:
    """The fleet's power profile ``ev_p + r_k`` over the sub-steps (``(B, S)``, inside ``[ev_lo, ev_hi]``):
    its means of ``p``, ``min(p, 0)``, ``max(p, 0)`` and ``max(-p, 0)`` for :func:`inject`."""
    batched = c.batched
    prof = lift(d.ev_p, batched)[:, None] + r
    inv = 1.0 / prof.shape[1]
    d.ev_flow = tuple(
        lower(np.add.reduce(v, axis=1) * inv, batched)
        for v in (prof, np.minimum(prof, 0.0), np.maximum(prof, 0.0), np.maximum(-prof, 0.0))
    )


def inject(c: Interval, d: Dispatch, e: EvFleetParams) -> None:
    """Charge and depart (:func:`charge_and_depart`) over the setpoint, or over its regulation profile.

    Adds the injection, V2G wear ``mean max(p, 0) dt x cost``, the charging to the load served, the
    unmet-need penalty and, in the last interval, the value of the need still outstanding.
    """
    xp, dt, x, led = c.xp, c.dt, c.x, c.led
    p_ev = d.ev_p
    if d.ev_flow is None:  # the setpoint held over the interval
        neg, pos, charging = xp.minimum(p_ev, 0.0), xp.maximum(p_ev, 0.0), xp.maximum(-p_ev, 0.0)
    else:
        p_ev, neg, pos, charging = d.ev_flow
    need, unmet = charge_and_depart(e, d.state["ev_need_mwh"], x[I_EV_ARR], x[I_EV_DEP], neg, pos, dt, xp)
    d.state["ev_need_mwh"] = need
    led["ev.applied_mw"] = p_ev
    d.net = d.net + p_ev
    d.served = d.served + charging
    led["cost.ev_terminal"] = xp.where(c.s.t + 1 == c.p.episode_steps, need * c.p.ev_terminal_price_per_mwh, 0.0)
    d.degradation = d.degradation + pos * (dt * e.degradation_cost_per_mwh)
    led["penalty.ev_unmet"] = unmet * e.unmet_penalty_per_mwh
    led["violation.ev_unmet_mwh"] = unmet


SPEC = ResourceSpec(
    setpoint=setpoint,
    inject=inject,
    reg_headroom=reg_headroom,
    reg_follow=reg_follow,
    ledger=power_entries("ev", "EV fleet"),
    name="ev",
    actions=lambda prm: (("ev", "fleet setpoint ``a * p_discharge_max_mw`` (V2G, a >= 0) or ``a * p_charge_max_mw``"),),
    state=(StateField("ev_need_mwh", lambda prm: 0.0),),
    obs_rows=lambda p, prm: (("ev_need", 0.0, 1.0, "energy needed by plugged EVs / e_fleet_mwh"),),
    features=lambda p, prm, s, xp: [s.ev_need_mwh * (1.0 / prm.e_fleet_mwh if prm.e_fleet_mwh > 0 else 0.0)],
    series=("ev_plugged_share", "ev_arrival_need_pu", "ev_departure_share"),
    action_rank=3,
    obs_rank=2,
    series_rank=3,
)
"""The EV fleet's declaration to the core (:mod:`vpp_gym.resources.spec`)."""
