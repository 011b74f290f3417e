"""Resource models: frozen params plus pure, batched feasible-range and apply functions.

Every function works on arrays with a leading batch dimension; positive power is injection into
the grid. Each module's docstring states its equations, and its ``SPEC`` declares the resource to
the core (:mod:`vpp_gym.resources.spec`); :data:`REGISTRY` lists them.
"""

from vpp_gym.resources import battery, ev_fleet, flex_load, gas_unit, renewable
from vpp_gym.resources.battery import BatteryParams
from vpp_gym.resources.ev_fleet import EvFleetParams
from vpp_gym.resources.flex_load import FlexLoadParams
from vpp_gym.resources.gas_unit import GasUnitParams
from vpp_gym.resources.renewable import RenewableParams
from vpp_gym.resources.spec import ResourceSpec

REGISTRY: tuple[ResourceSpec, ...] = (
    renewable.PV_SPEC,
    renewable.WIND_SPEC,
    ev_fleet.SPEC,
    battery.SPEC,
    flex_load.SPEC,
    gas_unit.SPEC,
)
"""Every resource the core knows, one line each, in the order of the net injection sum."""

__all__ = ["REGISTRY", "BatteryParams", "EvFleetParams", "FlexLoadParams", "GasUnitParams", "RenewableParams"]
