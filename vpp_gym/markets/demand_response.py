"""Demand response: events measured against the passive baseline, paid per MWh delivered, shortfall penalised.

Rules (:class:`~vpp_gym.markets.products.DemandResponseConfig`): an event asks for ``dr_need_mw``
(+ = consume less / inject more, - = the reverse). The response is the net injection's move
against the **passive baseline** (renewables uncurtailed, storage and EVs idle, base load, gas
off) in the event's direction, net of deployed reserve and regulation energy:
``delivered = max(direction * (net - reserve deployed - regulation energy - baseline), 0)``.
Payment ``min(delivered, accepted) * dt * price``; shortfall ``max(accepted - delivered, 0) * dt *
shortfall_penalty_per_mwh``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.entries import Entry
from vpp_gym.markets.spec import ProductSpec

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval

I_NEED = ALL_NAMES.index("dr_need_mw")
"""Column of the event's need in the exogenous rows."""


def settle(c: Interval, d: Dispatch, accepted: dict[str, Any]) -> None:
    """Pay the response against the passive baseline; penalise the shortfall (module docstring)."""
    xp, dt, led = c.xp, c.dt, c.led
    dc = c.p.cfg.markets.demand_response
    assert dc is not None  # the step runs only while the product is open
    need = c.x[I_NEED]
    direction = xp.where(need > 0.0, 1.0, xp.where(need < 0.0, -1.0, 0.0))
    own = d.net - led.get("reserve.delivered_mw", c.zero) - d.reg_energy_mw - d.baseline
    delivered = xp.maximum(direction * own, 0.0)
    acc = accepted["demand_response"]
    led["demand_response.delivered_mw"] = delivered
    led["demand_response.cash"] = xp.minimum(delivered, acc) * dt * led["demand_response.price"]
    led["penalty.dr_shortfall"] = xp.maximum(acc - delivered, 0.0) * (dt * dc.shortfall_penalty_per_mwh)


SPEC = ProductSpec(
    name="demand_response",
    label="demand response",
    need_column="dr_need_mw",
    price_column="dr_price_per_mwh",
    series=("dr_need_mw", "dr_price_per_mwh"),
    extra_entries=(
        Entry("demand_response.delivered_mw", "power", "MW", "demand response: response against the baseline"),
    ),
    settle=settle,
)
"""Demand response's declaration to the core (:mod:`vpp_gym.markets.spec`)."""
