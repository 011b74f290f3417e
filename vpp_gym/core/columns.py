"""Positions of the exogenous columns in the core's arrays, and the capacity products with their columns."""

from __future__ import annotations

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.markets import PRODUCT_REGISTRY

# Column positions of the exogenous array (schema order, then the ancillary columns).
(
    I_DA,
    I_RT,
    I_EF,
    I_PV,
    I_WIND,
    I_LOAD,
    I_EV_PLUG,
    I_EV_ARR,
    I_EV_DEP,
    I_REG_NEED,
    I_REG_CAP_P,
    I_REG_MIL_P,
    I_RES_NEED,
    I_RES_P,
    I_RES_CALL,
    I_DR_NEED,
    I_DR_P,
) = range(len(ALL_NAMES))
assert ALL_NAMES[I_DR_P] == "dr_price_per_mwh"

PRODUCTS = tuple(spec.name for spec in PRODUCT_REGISTRY)
"""The capacity products, in registry order (:data:`vpp_gym.markets.PRODUCT_REGISTRY`)."""
PRODUCT_COLUMNS = {
    spec.name: (ALL_NAMES.index(spec.need_column), ALL_NAMES.index(spec.price_column)) for spec in PRODUCT_REGISTRY
}
"""Exogenous columns of each product: ``(need, price)``."""
PRODUCT_SERIES = {spec.name: spec.series for spec in PRODUCT_REGISTRY}
"""Ancillary columns observed per open product, normalised by their largest absolute value."""
