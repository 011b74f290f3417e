"""PV and wind plants: installed MW times a capacity-factor series, optionally curtailable.

Available power ``p_avail = p_max_mw * cf`` (cf in [0, 1] from the scenario). The plant injects
``p`` with

    0 <= p <= p_avail      if curtailable
    p = p_avail            otherwise

A requested output outside that range is projected onto it. Curtailed energy is
``(p_avail - p) * dt``. Renewables have no fuel cost and no direct emissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.ops import Array
from vpp_gym.resources.spec import ResourceSpec, power_entries

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval
from vpp_gym.validation import MAX_POWER_MW, require_range


@dataclass(frozen=True)
class RenewableParams:
    """A PV or wind plant.

    Attributes:
        p_max_mw: installed capacity (AC).
        curtailable: whether output may be reduced below what is available.
        offshore: an offshore plant (its technology for CCER eligibility,
            :func:`vpp_gym.markets.carbon.technology`; onshore by default). No effect on the physics.
    """

    p_max_mw: float = 3.0
    curtailable: bool = True
    offshore: bool = False

    def __post_init__(self) -> None:
        require_range("p_max_mw", self.p_max_mw, 0.0, MAX_POWER_MW)


def feasible_range(params: RenewableParams, cf: Array) -> tuple[Array, Array]:
    """Feasible output ``(p_lo, p_hi)`` in MW for capacity factor ``cf``."""
    p_avail = params.p_max_mw * cf
    return (0.0 * p_avail if params.curtailable else p_avail), p_avail


def apply(params: RenewableParams, cf: Array, p_request_mw: Array, xp: Any = np) -> tuple[Array, Array]:
    """Project the requested output; return ``(p_applied_mw, p_available_mw)``."""
    p_avail = params.p_max_mw * cf
    if not params.curtailable:
        return p_avail, p_avail
    return xp.minimum(xp.maximum(p_request_mw, 0.0), p_avail), p_avail


def setpoint(c: Interval, d: Dispatch, prm: RenewableParams, name: str, icol: int) -> None:
    """Output ``p_max * cf * (1 - max(a, 0))`` (curtailable) or ``p_max * cf``, projected (:func:`apply`).

    Adds the injection, the available output to the passive baseline, and the delivered and
    curtailed energy to the renewable totals.
    """
    xp, dt = c.xp, c.dt
    cf = c.x[icol]
    if prm.curtailable:
        share = xp.maximum(c.action(f"{name}_curtail"), 0.0)
        req = prm.p_max_mw * cf * (1.0 - share)
    else:
        req = prm.p_max_mw * cf
    p_out, p_avail = apply(prm, cf, req, xp)
    c.led[f"{name}.requested_mw"], c.led[f"{name}.applied_mw"] = req, p_out
    c.led[f"{name}.available_mw"] = p_avail
    d.net = d.net + p_out
    d.baseline = d.baseline + p_avail
    d.renew_mwh = d.renew_mwh + p_out * dt
    d.curtailed_mwh = d.curtailed_mwh + (p_avail - p_out) * dt


def _spec(name: str, column: str, rank: int) -> ResourceSpec:
    icol = ALL_NAMES.index(column)
    return ResourceSpec(
        name=name,
        setpoint=lambda c, d, prm: setpoint(c, d, prm, name, icol),
        ledger=power_entries(name, "PV" if name == "pv" else name, available=True),
        actions=lambda prm: (
            ((f"{name}_curtail", "curtailed share of available output ``max(a, 0)``"),) if prm.curtailable else ()
        ),
        series=(column,),
        action_rank=rank,
        series_rank=rank - 1,
    )


PV_SPEC = _spec("pv", "pv_cf", 1)
"""The PV plant's declaration to the core (:mod:`vpp_gym.resources.spec`)."""
WIND_SPEC = _spec("wind", "wind_cf", 2)
"""The wind plant's declaration to the core (:mod:`vpp_gym.resources.spec`)."""
