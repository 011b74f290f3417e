"""Small gas unit (CCGT/OCGT class) with minimum stable output, ramp limits, fuel cost and emissions.

With previous output ``p0`` and interval ``dt``, the unit is either off (``p = 0``) or on with

    max(p_min, p0 - ramp * dt) <= p <= min(p_max, p0 + ramp * dt)      if it was on (p0 > 0)
    p_min <= p <= max(p_min, min(p_max, ramp * dt))                     if it starts (p0 = 0)

It may shut down (``p = 0``) only from an output it could ramp down to ``p_min`` this interval:
``p0 - ramp * dt <= p_min`` (within ``SHUTDOWN_TOL_MW``, for rounding of float32 actions). A
requested setpoint below ``p_min / 2`` asks for off; otherwise it is
clipped to the on-range (and a refused shutdown goes to the lowest on-output). Per interval:

    fuel cost  = fuel_cost_per_mwh * p * dt + startup_cost * [p0 = 0 and p > 0]
    emissions  = ef_t_per_mwh * p * dt                                  (tCO2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vpp_gym.ops import Array
from vpp_gym.resources.spec import power_entries

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval
from vpp_gym.resources.spec import ResourceSpec, StateField
from vpp_gym.validation import (
    MAX_COST,
    MAX_POWER_MW,
    MAX_PRICE_PER_MWH,
    MAX_RATE_MW_PER_H,
    fmt_num,
    require,
    require_range,
)

SHUTDOWN_TOL_MW = 1e-6
"""Shutdown is allowed from up to this much above ``p_min + ramp * dt`` (float and float32 rounding)."""


@dataclass(frozen=True)
class GasUnitParams:
    """Gas unit parameters.

    Attributes:
        p_min_mw: minimum stable output when on.
        p_max_mw: maximum output.
        ramp_mw_per_h: ramp limit (both directions) when on.
        fuel_cost_per_mwh: fuel cost per MWh of electricity.
        startup_cost: cost of one start (currency).
        ef_t_per_mwh: emission factor (CCGT ~0.35-0.40, OCGT ~0.45-0.49 tCO2/MWh).
        p_init_mw: output before the episode starts (0 = off).
    """

    p_min_mw: float = 0.6
    p_max_mw: float = 2.0
    ramp_mw_per_h: float = 4.0
    fuel_cost_per_mwh: float = 550.0
    startup_cost: float = 200.0
    ef_t_per_mwh: float = 0.42
    p_init_mw: float = 0.0

    def __post_init__(self) -> None:
        require_range("p_max_mw", self.p_max_mw, 0.0, MAX_POWER_MW, lo_open=True)
        require_range("p_min_mw", self.p_min_mw, 0.0, self.p_max_mw)
        require_range("ramp_mw_per_h", self.ramp_mw_per_h, 0.0, MAX_RATE_MW_PER_H, lo_open=True)
        require_range("fuel_cost_per_mwh", self.fuel_cost_per_mwh, 0.0, MAX_PRICE_PER_MWH)
        require_range("startup_cost", self.startup_cost, 0.0, MAX_COST)
        require_range("ef_t_per_mwh", self.ef_t_per_mwh, 0.0, 2.0)
        require(
            self.p_init_mw == 0.0 or self.p_min_mw <= self.p_init_mw <= self.p_max_mw,
            "p_init_mw",
            self.p_init_mw,
            f"0 (off) or within [p_min_mw, p_max_mw] = [{fmt_num(self.p_min_mw)}, {fmt_num(self.p_max_mw)}]",
        )


def feasible_range(params: GasUnitParams, p_prev_mw: Array, dt_h: float, xp: Any = np) -> tuple[Array, Array, Array]:
    """The on-range and whether off is allowed: ``(on_lo_mw, on_hi_mw, can_be_off)``."""
    ramp = params.ramp_mw_per_h * dt_h
    was_on = p_prev_mw > 0.0
    on_lo = xp.where(was_on, xp.maximum(params.p_min_mw, p_prev_mw - ramp), params.p_min_mw)
    on_hi = xp.where(
        was_on, xp.minimum(params.p_max_mw, p_prev_mw + ramp), max(params.p_min_mw, min(params.p_max_mw, ramp))
    )
    # tolerance: 1.6 - 1.0 is 0.6000000000000001, and float32 actions resolve about 1e-7 of p_max
    can_be_off = p_prev_mw - ramp <= params.p_min_mw + SHUTDOWN_TOL_MW
    return on_lo, on_hi, can_be_off


def apply(
    params: GasUnitParams, p_prev_mw: Array, p_request_mw: Array, dt_h: float, xp: Any = np
) -> tuple[Array, Array]:
    """Project the setpoint; return ``(p_applied_mw, started)`` (started: 1.0 where the unit started)."""
    on_lo, on_hi, can_be_off = feasible_range(params, p_prev_mw, dt_h, xp)
    off = (p_request_mw < 0.5 * params.p_min_mw) & can_be_off
    p = xp.where(off, 0.0, xp.minimum(xp.maximum(p_request_mw, on_lo), on_hi))
    started = xp.where((p_prev_mw <= 0.0) & (p > 0.0), 1.0, 0.0)
    return p, started


def setpoint(c: Interval, d: Dispatch, g: GasUnitParams) -> None:
    """Setpoint ``(a + 1) / 2 * p_max``, projected (:func:`apply`); the on-range's top for reserve."""
    req = (c.action("gas") + 1.0) * (0.5 * g.p_max_mw)
    gas_prev = d.gas_p
    d.gas_p, d.started = apply(g, gas_prev, req, c.dt, c.xp)
    if c.p.open_products:
        d.gas_on_hi = feasible_range(g, gas_prev, c.dt, c.xp)[1]
    c.led["gas.requested_mw"] = req


def inject(c: Interval, d: Dispatch, g: GasUnitParams) -> None:
    """The final output (after reserve) into the net injection; fuel, start-up and emissions."""
    dt, led = c.dt, c.led
    led["gas.applied_mw"] = d.gas_p
    d.net = d.net + d.gas_p
    d.state["gas_p_mw"] = d.gas_p
    led["cost.fuel"] = d.gas_p * (dt * g.fuel_cost_per_mwh)
    led["cost.startup"] = d.started * g.startup_cost
    led["emissions.gas_t"] = d.gas_p * (dt * g.ef_t_per_mwh)


SPEC = ResourceSpec(
    setpoint=setpoint,
    inject=inject,
    ledger=power_entries("gas", "gas"),
    name="gas",
    actions=lambda prm: (("gas", "setpoint ``(a + 1) / 2 * p_max_mw`` (below ``p_min_mw / 2`` = off)"),),
    state=(StateField("gas_p_mw", lambda prm: prm.p_init_mw),),
    obs_rows=lambda p, prm: (("gas_output", 0.0, 1.0, "last gas output / p_max_mw"),),
    features=lambda p, prm, s, xp: [s.gas_p_mw * (1.0 / prm.p_max_mw)],
    action_rank=5,
    obs_rank=3,
)
"""The gas unit's declaration to the core (:mod:`vpp_gym.resources.spec`)."""
