"""The oracle's blocks of the dispatchable resources, by resource name, and what the oracle models.

A resource of :data:`vpp_gym.resources.REGISTRY` is modelled when its name is a key here (or a
renewable of :data:`~agents.oracle.renewable.RENEWABLES`); :func:`~agents.oracle.scope.check_scope`
refuses a scenario with any other (``OracleScopeError`` naming it); the same for the capacity
products (:data:`MODELLED_PRODUCTS`). A new resource adds its block module
``agents/oracle/<name>.py`` and one line here: ``block(m, ctx) -> record`` adds its variables
and named constraint families, ``decode(ctx, record, x, draft)`` writes its actions. The blocks are
built and decoded in this order (after the renewables and the products), which fixes the model's
variable and row order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.lp import Model
from agents.oracle.battery import battery_block, battery_decode
from agents.oracle.context import OracleContext, PlanDraft
from agents.oracle.ev import ev_block, ev_decode
from agents.oracle.flex_load import flex_load_block, flex_load_decode
from agents.oracle.gas import gas_block, gas_decode
from agents.oracle.peak_regulation import peak_regulation_block
from agents.oracle.renewable import RENEWABLES

Block = Callable[[Model, OracleContext], Any]
Decode = Callable[[OracleContext, Any, np.ndarray, PlanDraft], None]

RESOURCE_BLOCKS: dict[str, tuple[Block, Decode]] = {
    "battery": (battery_block, battery_decode),
    "flex_load": (flex_load_block, flex_load_decode),
    "ev": (ev_block, ev_decode),
    "gas": (gas_block, gas_decode),
}
"""``name -> (block, decode)`` of every dispatchable resource the oracle models, in build order."""

MODELLED_RESOURCES: tuple[str, ...] = (*(name for name, _ in RENEWABLES), *RESOURCE_BLOCKS)
"""Every resource the oracle models."""

PRODUCT_BLOCKS: dict[str, Block] = {
    "peak_regulation": peak_regulation_block,
}
"""``name -> block`` of the capacity products added after regulation, reserve and demand response (whose
blocks :func:`agents.oracle.model.build` calls in a fixed, interleaved order that fixes the model's
numbering). Every product's award ``ctx.vars.products[name]`` and its offer decoding are generic; a
new product's block adds its payment, penalties and delivery rows, and its record is kept in
``ctx.vars.extra[name]``."""

MODELLED_PRODUCTS: tuple[str, ...] = ("regulation", "reserve", "demand_response", *PRODUCT_BLOCKS)
"""Every capacity product the oracle models."""
