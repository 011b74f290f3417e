"""What a capacity product declares to the core: its data columns, observed series, ledger entries and steps.

A product module ends with one :class:`ProductSpec` (``SPEC``) and is registered by one line in
:data:`vpp_gym.markets.PRODUCT_REGISTRY`. The core clears every open product the same way (its
organisation form, :mod:`vpp_gym.markets.products`), then runs each product's own steps, in
registry order: ``award`` after the resources' base setpoints (caps on the award, deployment) and
``settle`` after the net injection (payment and penalties). Its section in ``markets`` (``null``
closes it) holds its :class:`~vpp_gym.markets.products.ProductMarketConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpp_gym.entries import Entry

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval

Step = Callable[["Interval", "Dispatch", dict[str, Any]], None]
"""A product step: ``(interval, dispatch, accepted MW by product)``; it may change the awards."""


def _no_step(c: Interval, d: Dispatch, accepted: dict[str, Any]) -> None:
    """A product without a step in this phase."""


@dataclass(frozen=True)
class ProductSpec:
    """A capacity product's declaration (see the module docstring).

    Attributes:
        name: its section under ``markets`` (``cfg.markets.<name>``) and its ledger group.
        label: a short label for docs and plots.
        need_column, price_column: the data columns of the grid's need (MW) and of the price
            (invitation: the announced price; transaction: the reference of the competitor stack).
        series: the columns whose forecasts are in the observation while the product is open.
        noisy_series: those of them forecast with an error (``forecast.ancillary_price_sigma_rel``).
        extra_entries: ledger entries it writes besides offer, award, price and cash.
        award: its step after the base setpoints.
        settle: its step after the net injection.
        zero_when_closed: whether its summed ledger entries are written as 0 while it is closed (the
            products of v0, whose zeros the golden trajectories record). A product added later
            declares False: a scenario without it writes none of its entries, so that every
            existing scenario's ledger, and so its trajectories, stay the same.
    """

    name: str
    label: str
    need_column: str
    price_column: str
    series: tuple[str, ...]
    noisy_series: tuple[str, ...] = ()
    extra_entries: tuple[Entry, ...] = ()
    award: Step = _no_step
    settle: Step = _no_step
    zero_when_closed: bool = True

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickle by reference to the registry (the declaration holds functions, which do not pickle)."""
        return registered, (self.name,)

    def config(self, cfg: Any) -> Any:
        """This product's market config in a scenario config (None when the product is closed)."""
        return getattr(cfg.markets, self.name)


def registered(name: str) -> ProductSpec:
    """The registered spec of product ``name`` (:data:`vpp_gym.markets.PRODUCT_REGISTRY`)."""
    from vpp_gym.markets import PRODUCT_REGISTRY  # the registry imports every product module, which import this one

    for spec in PRODUCT_REGISTRY:
        if spec.name == name:
            return spec
    raise KeyError(f"no registered product {name!r}; registered: {', '.join(s.name for s in PRODUCT_REGISTRY)}")
