"""Reserve: capacity paid per MW and hour, deployment calls served from spare flexibility, shortfall penalised.

Rules (:class:`~vpp_gym.markets.products.ReserveMarketConfig`): the accepted capacity ``C`` is paid
``C * price * dt``. A call of share ``k`` (``reserve_call_share``) asks for ``k * C`` MW of extra
injection for the interval, deployed in order from the battery's spare headroom (above its
setpoint and its share of the regulation award), a running gas unit up to its on-range, then more load
curtailment (up to the load's curtailment limit). Called energy not delivered pays
``(called - delivered) * dt * shortfall_penalty_per_mwh``. Deployed energy is settled in real time
and is instructed, not an imbalance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.entries import Entry
from vpp_gym.markets.spec import ProductSpec

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval

I_CALL = ALL_NAMES.index("reserve_call_share")
"""Column of the call share in the exogenous rows."""


def deploy(c: Interval, d: Dispatch, accepted: dict[str, Any]) -> None:
    """Deploy the called reserve ``call share x award``: battery, then gas, then load curtailment."""
    xp, r = c.xp, c.p.cfg.resources
    reg_cap = d.reg_bat_mw  # the battery's share of the regulation award (all of it by default)
    called = c.x[I_CALL] * accepted["reserve"]
    remaining = called
    if r.battery is not None:
        d_bat = xp.minimum(remaining, xp.maximum(d.bat_hi - d.p_bat - reg_cap, 0.0))
        d.p_bat = d.p_bat + d_bat
        remaining = remaining - d_bat
    if r.gas is not None:
        d_gas = xp.where(d.gas_p > 0.0, xp.minimum(remaining, xp.maximum(d.gas_on_hi - d.gas_p, 0.0)), 0.0)
        d.gas_p = d.gas_p + d_gas
        remaining = remaining - d_gas
    if r.flex_load is not None:
        d_c = xp.minimum(remaining, xp.maximum(d.c_max - d.c, 0.0))
        d.c = d.c + d_c
        remaining = remaining - d_c
    c.led["reserve.called_mw"], c.led["reserve.delivered_mw"] = called, called - remaining


def settle(c: Interval, d: Dispatch, accepted: dict[str, Any]) -> None:
    """Capacity payment ``C * price * dt``; shortfall ``(called - delivered) * dt * penalty``."""
    rv = c.p.cfg.markets.reserve
    assert rv is not None  # the step runs only while the product is open
    led, dt = c.led, c.dt
    led["reserve.cash"] = accepted["reserve"] * dt * led["reserve.price"]
    led["penalty.reserve_shortfall"] = (led["reserve.called_mw"] - led["reserve.delivered_mw"]) * (
        dt * rv.shortfall_penalty_per_mwh
    )


SPEC = ProductSpec(
    name="reserve",
    label="reserve",
    need_column="reserve_need_mw",
    price_column="reserve_price_per_mw",
    series=("reserve_price_per_mw",),
    noisy_series=("reserve_price_per_mw",),
    extra_entries=(
        Entry("reserve.called_mw", "power", "MW", "reserve: deployment called by the grid"),
        Entry("reserve.delivered_mw", "power", "MW", "reserve: deployment delivered"),
    ),
    award=deploy,
    settle=settle,
)
"""Reserve's declaration to the core (:mod:`vpp_gym.markets.spec`)."""
