"""Resource models: frozen params plus pure, batched feasible-range and apply functions.

Every function works on arrays with a leading batch dimension; positive power is injection into
the grid. Each module's docstring states its equations.
"""

from vpp_gym.resources.battery import BatteryParams
from vpp_gym.resources.ev_fleet import EvFleetParams
from vpp_gym.resources.flex_load import FlexLoadParams
from vpp_gym.resources.gas_unit import GasUnitParams
from vpp_gym.resources.renewable import RenewableParams

__all__ = ["BatteryParams", "EvFleetParams", "FlexLoadParams", "GasUnitParams", "RenewableParams"]
