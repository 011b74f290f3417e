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
from typing import Any

import numpy as np

from vpp_gym.ops import Array
from vpp_gym.validation import require_range


@dataclass(frozen=True)
class RenewableParams:
    """A PV or wind plant.

    Attributes:
        p_max_mw: installed capacity (AC).
        curtailable: whether output may be reduced below what is available.
    """

    p_max_mw: float = 3.0
    curtailable: bool = True

    def __post_init__(self) -> None:
        require_range("p_max_mw", self.p_max_mw, 0.0)


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
