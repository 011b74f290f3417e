"""Market products: clearing rules (invitation and transaction forms) and the settlement of each market.

Capacity products declare themselves with a :class:`~vpp_gym.markets.spec.ProductSpec` in their own
module and are registered here, one line each, in the order their steps run.
"""

from vpp_gym.markets import demand_response, peak_regulation, regulation, reserve
from vpp_gym.markets.spec import ProductSpec

PRODUCT_REGISTRY: tuple[ProductSpec, ...] = (
    regulation.SPEC,
    reserve.SPEC,
    demand_response.SPEC,
    peak_regulation.SPEC,
)
"""Every capacity product the core knows, one line each, in the order their steps run."""

__all__ = ["PRODUCT_REGISTRY", "ProductSpec"]
