"""The type of one ledger entry (:class:`Entry`); :mod:`vpp_gym.ledger` assembles the schema from them.

A leaf module: resource specs declare their entries with it without importing the assembled schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "cash", "cost", "penalty", "emission", "quantity", "violation", "cumulative", "power", "price", "score", "total"
]
SIGN: dict[str, int] = {"cash": 1, "cost": -1, "penalty": -1}
SUMMED_KINDS = frozenset({"cash", "cost", "penalty", "emission", "quantity", "violation", "total"})
CURRENCY = "currency"


@dataclass(frozen=True)
class Entry:
    """One ledger entry.

    Attributes:
        key: flat key ``group.item`` (or a bare name such as ``profit``).
        kind: see the module docstring.
        unit: unit of the value (``currency`` is the scenario's currency, CNY for the built-in scenarios).
        doc: what the value is.
        kpi: the KPI column the entry adds into over an episode, or None.
        label: short label for plots and tables.
        violation: whether a positive value counts as a violation of the step (``violations`` KPI).
        owner: the resource (``cfg.resources.<owner>``) or capacity product whose step writes the
            entry, or None for the core's own entries. A summed entry of an absent owner is written
            as 0 every step, so totals and the profit identity always have every term; the owners
            of :data:`vpp_gym.ledger.UNWRITTEN_WHEN_ABSENT` (the timelines, the products added after
            v0) write nothing while absent.
    """

    key: str
    kind: Kind
    unit: str
    doc: str
    kpi: str | None = None
    label: str = ""
    violation: bool = False
    owner: str | None = None

    @property
    def sign(self) -> int:
        """Sign of the entry in the profit: +1 cash, -1 cost or penalty, 0 otherwise."""
        return SIGN.get(self.kind, 0)

    @property
    def summed(self) -> bool:
        """Whether the entry adds up over an episode (cash, costs, energy, emissions)."""
        return self.kind in SUMMED_KINDS

    @property
    def group(self) -> str:
        """The ``info`` group of the entry (the part before the dot; the key itself when bare)."""
        return self.key.partition(".")[0]
