"""Battery energy storage: frozen params, energy state, pure feasible-range and apply functions.

Sign convention: ``p_mw > 0`` discharges into the grid, ``p_mw < 0`` charges. With stored energy
``e`` (MWh), interval length ``dt`` (h), efficiencies ``eta_c``, ``eta_d``:

    e' = e - dt * max(p, 0) / eta_d - dt * min(p, 0) * eta_c                       (energy balance)
    soc_min * e_max <= e' <= soc_max * e_max                                      (SOC bounds)
    -p_charge_max <= p <= p_discharge_max                                         (power limits)

so the feasible power this interval is ``[p_lo, p_hi]`` with

    p_hi = min(p_discharge_max, (e - soc_min * e_max) * eta_d / dt)
    p_lo = -min(p_charge_max, (soc_max * e_max - e) / (eta_c * dt))

A requested setpoint outside ``[p_lo, p_hi]`` is projected onto it (clipped). Degradation cost is
charged on the energy through the terminals: ``cost = degradation_cost_per_mwh * |p| * dt``.
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
from vpp_gym.validation import MAX_ENERGY_MWH, MAX_POWER_MW, MAX_PRICE_PER_MWH, fmt_num, require, require_range


@dataclass(frozen=True)
class BatteryParams:
    """Battery parameters (fixed for an episode).

    Attributes:
        e_max_mwh: energy capacity.
        p_charge_max_mw: maximum charging power (a positive number).
        p_discharge_max_mw: maximum discharging power.
        eta_charge: charging efficiency (grid to cell).
        eta_discharge: discharging efficiency (cell to grid).
        soc_min: lowest state of charge, share of ``e_max_mwh``.
        soc_max: highest state of charge.
        soc_init: state of charge at the start of an episode.
        degradation_cost_per_mwh: cost per MWh of throughput at the terminals.
    """

    e_max_mwh: float = 4.0
    p_charge_max_mw: float = 2.0
    p_discharge_max_mw: float = 2.0
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    soc_min: float = 0.1
    soc_max: float = 0.9
    soc_init: float = 0.5
    degradation_cost_per_mwh: float = 20.0

    def __post_init__(self) -> None:
        require_range("e_max_mwh", self.e_max_mwh, 0.0, MAX_ENERGY_MWH, lo_open=True)
        require_range("p_charge_max_mw", self.p_charge_max_mw, 0.0, MAX_POWER_MW)
        require_range("p_discharge_max_mw", self.p_discharge_max_mw, 0.0, MAX_POWER_MW)
        require_range("eta_charge", self.eta_charge, 0.0, 1.0, lo_open=True)
        require_range("eta_discharge", self.eta_discharge, 0.0, 1.0, lo_open=True)
        require_range("soc_min", self.soc_min, 0.0, 1.0)
        require_range("soc_max", self.soc_max, 0.0, 1.0)
        require(self.soc_min < self.soc_max, "soc_max", self.soc_max, f"greater than soc_min={fmt_num(self.soc_min)}")
        require_range("soc_init", self.soc_init, self.soc_min, self.soc_max)
        require_range("degradation_cost_per_mwh", self.degradation_cost_per_mwh, 0.0, MAX_PRICE_PER_MWH)

    @property
    def e_min_mwh(self) -> float:
        """Lowest allowed stored energy."""
        return self.soc_min * self.e_max_mwh

    @property
    def e_high_mwh(self) -> float:
        """Highest allowed stored energy."""
        return self.soc_max * self.e_max_mwh

    @property
    def e_init_mwh(self) -> float:
        """Stored energy at episode start."""
        return self.soc_init * self.e_max_mwh


def initial_energy(params: BatteryParams, batch: int) -> np.ndarray:
    """Stored energy (MWh) at the start of an episode, shape ``(batch,)``."""
    return np.full(batch, params.e_init_mwh)


def feasible_range(params: BatteryParams, e_mwh: Array, dt_h: float, xp: Any = np) -> tuple[Array, Array]:
    """Feasible power ``(p_lo, p_hi)`` in MW this interval (see module docstring)."""
    p_hi = xp.minimum(params.p_discharge_max_mw, (e_mwh - params.e_min_mwh) * (params.eta_discharge / dt_h))
    p_lo = -xp.minimum(params.p_charge_max_mw, (params.e_high_mwh - e_mwh) / (params.eta_charge * dt_h))
    # Guard against rounding putting e a hair outside its bounds.
    return xp.minimum(p_lo, 0.0), xp.maximum(p_hi, 0.0)


def apply(params: BatteryParams, e_mwh: Array, p_request_mw: Array, dt_h: float, xp: Any = np) -> tuple[Array, Array]:
    """Project the requested power onto the feasible range and advance the stored energy.

    Returns:
        ``(p_applied_mw, e_next_mwh)``.
    """
    p_lo, p_hi = feasible_range(params, e_mwh, dt_h, xp)
    p = xp.minimum(xp.maximum(p_request_mw, p_lo), p_hi)
    return p, energy_after(params, e_mwh, dt_h * cell_power(params, p, xp), xp)


def cell_power(params: BatteryParams, p_mw: Array, xp: Any = np) -> Array:
    """Power drawn from the cells at terminal power ``p_mw``: ``max(p, 0) / eta_d + min(p, 0) * eta_c`` (MW)."""
    return xp.maximum(p_mw, 0.0) / params.eta_discharge + xp.minimum(p_mw, 0.0) * params.eta_charge


def energy_after(params: BatteryParams, e_mwh: Array, cell_mwh: Array, xp: Any = np) -> Array:
    """The energy balance: ``e' = e - cell_mwh``, kept inside the SOC bounds (rounding only).

    ``cell_mwh`` is the energy drawn from the cells over the interval: ``dt * cell_power(p)`` for a
    constant setpoint, or ``dt / S * sum_k cell_power(p_k)`` for a profile of ``S`` sub-steps.
    """
    return xp.minimum(xp.maximum(e_mwh - cell_mwh, params.e_min_mwh), params.e_high_mwh)


def setpoint(c: Interval, d: Dispatch, b: BatteryParams) -> None:
    """Base setpoint ``a * p_discharge_max`` (a >= 0) or ``a * p_charge_max``, projected onto ``[p_lo, p_hi]``.

    Without capacity products the energy advances now; with them only the setpoint is clipped, and
    the energy advances over the interval's power profile once reserve and regulation are known.
    """
    xp = c.xp
    a = c.action("battery")
    req = xp.maximum(a, 0.0) * b.p_discharge_max_mw + xp.minimum(a, 0.0) * b.p_charge_max_mw
    if c.p.open_products:
        d.bat_lo, d.bat_hi = feasible_range(b, d.state["e_bat_mwh"], c.dt, xp)
        d.p_bat = xp.minimum(xp.maximum(req, d.bat_lo), d.bat_hi)
    else:
        d.p_bat, d.state["e_bat_mwh"] = apply(b, d.state["e_bat_mwh"], req, c.dt, xp)
    d.bat_throughput = abs(d.p_bat)
    c.led["battery.requested_mw"] = req


def inject(c: Interval, d: Dispatch, b: BatteryParams) -> None:
    """The final setpoint (after reserve and regulation) into the net injection; wear on the throughput."""
    c.led["battery.applied_mw"] = d.p_bat
    d.net = d.net + d.p_bat
    d.degradation = d.degradation + d.bat_throughput * (c.dt * b.degradation_cost_per_mwh)


def reg_headroom(c: Interval, d: Dispatch, b: BatteryParams) -> tuple[Array, Array]:
    """Regulation headroom ``(up, down)`` around the base setpoint within the SOC-feasible range."""
    return d.bat_hi - d.p_bat, d.p_bat - d.bat_lo


SPEC = ResourceSpec(
    setpoint=setpoint,
    inject=inject,
    reg_headroom=reg_headroom,
    ledger=power_entries("battery", "battery"),
    name="battery",
    actions=lambda prm: (
        (
            "battery",
            "base setpoint ``a * p_discharge_max_mw`` (a >= 0) or ``a * p_charge_max_mw``, projected onto the "
            "SOC/power-feasible range",
        ),
    ),
    state=(StateField("e_bat_mwh", lambda prm: prm.e_init_mwh),),
    obs_rows=lambda p, prm: (("battery_soc", 0.0, 1.0, "stored energy / e_max_mwh"),),
    features=lambda p, prm, s, xp: [s.e_bat_mwh * (1.0 / prm.e_max_mwh)],
    action_rank=0,
    obs_rank=0,
)
"""The battery's declaration to the core (:mod:`vpp_gym.resources.spec`)."""
