"""Positions of the exogenous columns in the core's arrays, and the capacity products with their columns."""

from __future__ import annotations

from vpp_gym.data.schema import ALL_NAMES

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

PRODUCTS = ("regulation", "reserve", "demand_response")
# Exogenous columns of each product: (need, price).
PRODUCT_COLUMNS = {
    "regulation": (I_REG_NEED, I_REG_CAP_P),
    "reserve": (I_RES_NEED, I_RES_P),
    "demand_response": (I_DR_NEED, I_DR_P),
}
# Ancillary columns observed per open product, normalised by their largest absolute value.
PRODUCT_SERIES = {
    "regulation": ("reg_cap_price_per_mw", "reg_mileage_price_per_mw"),
    "reserve": ("reserve_price_per_mw",),
    "demand_response": ("dr_need_mw", "dr_price_per_mwh"),
}
