"""Positions of the exogenous columns in the core's arrays, and the capacity products with their columns."""

from __future__ import annotations

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.markets import PRODUCT_REGISTRY

# Column positions of the exogenous array (:data:`~vpp_gym.data.schema.ALL_NAMES` order), by name.
I_DA = ALL_NAMES.index("price_da_per_mwh")
I_RT = ALL_NAMES.index("price_rt_per_mwh")
I_ID = ALL_NAMES.index("price_id_per_mwh")
I_EF = ALL_NAMES.index("grid_ef_t_per_mwh")
I_PV = ALL_NAMES.index("pv_cf")
I_WIND = ALL_NAMES.index("wind_cf")
I_LOAD = ALL_NAMES.index("load_pu")
I_EV_PLUG = ALL_NAMES.index("ev_plugged_share")
I_EV_ARR = ALL_NAMES.index("ev_arrival_need_pu")
I_EV_DEP = ALL_NAMES.index("ev_departure_share")
I_REG_NEED = ALL_NAMES.index("reg_need_mw")
I_REG_CAP_P = ALL_NAMES.index("reg_cap_price_per_mw")
I_REG_MIL_P = ALL_NAMES.index("reg_mileage_price_per_mw")
I_RES_NEED = ALL_NAMES.index("reserve_need_mw")
I_RES_P = ALL_NAMES.index("reserve_price_per_mw")
I_RES_CALL = ALL_NAMES.index("reserve_call_share")
I_DR_NEED = ALL_NAMES.index("dr_need_mw")
I_DR_P = ALL_NAMES.index("dr_price_per_mwh")
I_PR_NEED = ALL_NAMES.index("peak_reg_need_mw")
I_PR_P = ALL_NAMES.index("peak_reg_price_per_mwh")

PRODUCTS = tuple(spec.name for spec in PRODUCT_REGISTRY)
"""The capacity products, in registry order (:data:`vpp_gym.markets.PRODUCT_REGISTRY`)."""
PRODUCT_COLUMNS = {
    spec.name: (ALL_NAMES.index(spec.need_column), ALL_NAMES.index(spec.price_column)) for spec in PRODUCT_REGISTRY
}
"""Exogenous columns of each product: ``(need, price)``."""
PRODUCT_SERIES = {spec.name: spec.series for spec in PRODUCT_REGISTRY}
"""Ancillary columns observed per open product, normalised by their largest absolute value."""
