"""The ledger schema: every entry a step writes into ``info``, in one table.

Each :class:`Entry` names a flat ledger key (``group.item``; ``info[group][item]`` in the nested
``info``), its kind, its unit, the KPI column it adds into, its plot label and its sign in the
profit. Everything that lists ledger keys is generated from this table: the core's profit identity
(:func:`profit_terms`), the vector env's episode totals (:data:`TOTAL_KEYS`), the KPI columns and
their formulas (:func:`kpi_columns`, :func:`kpi_terms`), the violation counters
(:data:`VIOLATION_KEYS`) and the profit lines of the task docstrings (:func:`profit_doc`).

Kinds:

===========  ====================================================================  ======  ======
kind         meaning                                                               sign    summed
===========  ====================================================================  ======  ======
cash         money received from a market (+ = income, - = payment)                +1      yes
cost         a cost the VPP bears (+ = paid)                                        -1      yes
penalty      a penalty the VPP pays (+ = paid)                                      -1      yes
emission     tCO2 emitted in the step                                               0       yes
quantity     an amount of energy or of allowances in the step (MWh, tCO2)          0       yes
violation    a physical or contractual shortfall in the step (MWh)                  0       yes
cumulative   a running total over the episode so far (its last value is the total)  0       no
power        a rate over the interval (MW)                                          0       no
price        a price (currency per MWh or per MW and hour)                          0       no
score        a dimensionless performance measure                                    0       no
total        the step's profit and reward                                           0       yes
===========  ====================================================================  ======  ======

``profit = sum(cash) - sum(cost) - sum(penalty)``, term by term as listed by :func:`profit_terms`;
``reward = reward.scale * profit``. A KPI column adds up its entries over an episode: a revenue
column (``revenue_*``) the cash it collects, a cost column (``cost_*``) its costs and penalties
and the negative of its cash (a net payment), any other column the plain sum. Every cash, cost and
penalty entry belongs to exactly one revenue or cost column, so ``profit = sum(revenue_*) -
sum(cost_*)`` holds for every episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from vpp_gym.entries import CURRENCY, Entry
from vpp_gym.markets import PRODUCT_REGISTRY
from vpp_gym.resources import REGISTRY


def _product_entries(product: str, label: str, revenue_kpi: str, extra: Iterable[Entry] = ()) -> list[Entry]:
    """The entries every capacity product writes (offer, award, price, cash), then its own."""
    return [
        Entry(f"{product}.offer_mw", "power", "MW", f"{label}: quantity declared / offered", owner=product),
        Entry(
            f"{product}.offer_price",
            "price",
            "currency/MW/h",
            f"{label}: offer price (transaction form only)",
            owner=product,
        ),
        Entry(f"{product}.accepted_mw", "power", "MW", f"{label}: quantity awarded", owner=product),
        Entry(f"{product}.price", "price", "currency/MW/h", f"{label}: price paid for the award", owner=product),
        *(replace(e, owner=product) for e in extra),
        Entry(
            f"{product}.cash",
            "cash",
            CURRENCY,
            f"{label}: settlement of the interval",
            revenue_kpi,
            label,
            owner=product,
        ),
    ]


DAY_AHEAD = "day_ahead"
"""Owner of the entries of the day-ahead timeline (written only on it)."""
INTRADAY = "intraday"
"""Owner of the intraday entries (written on the day-ahead timeline with intraday gates)."""
TIMELINE_OWNERS = (DAY_AHEAD, INTRADAY)
"""The timelines' owners: a scenario on another timeline does not write their entries at all (not even as 0)."""
UNWRITTEN_WHEN_ABSENT = TIMELINE_OWNERS + tuple(spec.name for spec in PRODUCT_REGISTRY if not spec.zero_when_closed)
"""Owners whose entries a scenario without them does not write at all (not even as 0): the timelines' and
the products added after v0 (:attr:`~vpp_gym.markets.spec.ProductSpec.zero_when_closed`)."""

CORE_ENTRIES: tuple[Entry, ...] = (
    # -- totals
    Entry("profit", "total", CURRENCY, "cash flows - costs - penalties of the step", "profit", "profit"),
    Entry("reward", "total", "1", "reward.scale x profit"),
    Entry("net_mw", "power", "MW", "net injection into the grid (+ = export)", label="net injection"),
    # -- energy
    Entry("energy_da.quantity_mwh", "quantity", "MWh", "day-ahead position delivered in the interval (+ = sold)"),
    Entry("energy_da.price_per_mwh", "price", "currency/MWh", "day-ahead (or cleared) price of the interval"),
    Entry("energy_da.commit_mw", "power", "MW", "position committed in this step for interval t + L"),
    Entry("energy_da.offer_price", "price", "currency/MWh", "offer price of that commitment (transaction form)"),
    Entry(
        "energy_da.cash",
        "cash",
        CURRENCY,
        "day-ahead position x day-ahead price",
        "revenue_energy_da",
        "day-ahead energy",
    ),
    # -- the day-ahead timeline (markets.energy.timeline: day_ahead; vpp_gym.core.timeline)
    Entry(
        "energy_da.offer_low_mw", "power", "MW", "bid step: the offer curve's position at low prices", owner=DAY_AHEAD
    ),
    Entry(
        "energy_da.offer_high_mw", "power", "MW", "bid step: the offer curve's position at high prices", owner=DAY_AHEAD
    ),
    Entry("energy_da.offer_mid_price", "price", "currency/MWh", "bid step: the curve's mid price", owner=DAY_AHEAD),
    Entry(
        "energy_da.offer_spread", "price", "currency/MWh", "bid step: half-width of the curve's prices", owner=DAY_AHEAD
    ),
    Entry("contract.quantity_mwh", "quantity", "MWh", "contract quantity of the interval (+ = sold)", owner=DAY_AHEAD),
    Entry(
        "contract.cash",
        "cash",
        CURRENCY,
        "contract for difference: quantity x (contract price - day-ahead price)",
        "revenue_contract",
        "contract (CfD)",
        owner=DAY_AHEAD,
    ),
    Entry("energy_id.offer_mw", "power", "MW", "intraday adjustment offered at this gate", owner=INTRADAY),
    Entry("energy_id.quantity_mwh", "quantity", "MWh", "intraday adjustment delivered in the interval", owner=INTRADAY),
    Entry("energy_id.price_per_mwh", "price", "currency/MWh", "intraday price of the interval", owner=INTRADAY),
    Entry(
        "energy_id.cash",
        "cash",
        CURRENCY,
        "intraday adjustment x intraday price",
        "revenue_energy_id",
        "intraday energy",
        owner=INTRADAY,
    ),
    Entry(
        "terminal.value",
        "cash",
        CURRENCY,
        "stored energy at the episode end above its initial level x terminal price (last step only)",
        "revenue_terminal",
        "terminal value",
        owner=DAY_AHEAD,
    ),
    Entry("energy_rt.quantity_mwh", "quantity", "MWh", "deviation of the net injection from the position"),
    Entry("energy_rt.price_per_mwh", "price", "currency/MWh", "real-time price of the interval"),
    Entry("energy_rt.cash", "cash", CURRENCY, "deviation x real-time price", "revenue_energy_rt", "real-time energy"),
    # -- capacity products
    *(
        e
        for spec in PRODUCT_REGISTRY
        for e in _product_entries(spec.name, spec.label, f"revenue_{spec.name}", spec.extra_entries)
    ),
    # -- certificates
    Entry("green_cert.quantity_mwh", "quantity", "MWh", "green certificates sold (renewable MWh x gec_share)"),
    Entry(
        "green_cert.cash",
        "cash",
        CURRENCY,
        "green certificate sales",
        "revenue_green_certificates",
        "green certificates",
    ),
    # -- costs
    Entry("cost.degradation", "cost", CURRENCY, "battery and V2G wear", "cost_degradation", "degradation"),
    Entry(
        "cost.curtailment",
        "cost",
        CURRENCY,
        "compensation of curtailed load",
        "cost_other",
        "load curtailment",
        owner="flex_load",
    ),
    Entry("cost.load_shift", "cost", CURRENCY, "cost of shifted load", "cost_other", "load shift", owner="flex_load"),
    Entry("cost.fuel", "cost", CURRENCY, "gas unit fuel", "cost_fuel", "fuel", owner="gas"),
    Entry("cost.startup", "cost", CURRENCY, "gas unit start-ups", "cost_fuel", "start-up", owner="gas"),
    Entry(
        "cost.ev_terminal",
        "cost",
        CURRENCY,
        "value of EV need left at the episode end",
        "cost_other",
        "EV terminal",
        owner="ev",
    ),
    # -- penalties
    Entry(
        "penalty.imbalance",
        "penalty",
        CURRENCY,
        "uninstructed deviation x imbalance penalty",
        "cost_penalties",
        "imbalance",
    ),
    Entry(
        "penalty.shift_violation",
        "penalty",
        CURRENCY,
        "shift backlog not repaid at a window end",
        "cost_penalties",
        "shift violation",
        owner="flex_load",
    ),
    Entry(
        "penalty.ev_unmet",
        "penalty",
        CURRENCY,
        "EV energy not delivered by departure",
        "cost_penalties",
        "EV unmet",
        owner="ev",
    ),
    Entry(
        "penalty.reserve_shortfall",
        "penalty",
        CURRENCY,
        "called reserve not delivered",
        "cost_penalties",
        "reserve shortfall",
        violation=True,
        owner="reserve",
    ),
    Entry(
        "penalty.dr_shortfall",
        "penalty",
        CURRENCY,
        "accepted demand response not delivered",
        "cost_penalties",
        "DR shortfall",
        violation=True,
        owner="demand_response",
    ),
    Entry(
        "penalty.regulation_shortfall",
        "penalty",
        CURRENCY,
        "regulation capacity awarded at D-1 that the headroom could not hold (day-ahead timeline)",
        "cost_penalties",
        "regulation shortfall",
        violation=True,
        owner=DAY_AHEAD,
    ),
    Entry(
        "penalty.green_matching",
        "penalty",
        CURRENCY,
        "grid imports not matched by green supply",
        "cost_penalties",
        "green matching",
    ),
    # -- carbon
    Entry(
        "carbon.emissions_t",
        "emission",
        "tCO2",
        "gross emissions of the step (grid imports + gas)",
        "emissions_tco2",
        "emissions",
    ),
    Entry("carbon.allowances_t", "quantity", "tCO2", "free allowances accrued in the step"),
    Entry("carbon.ccer_used_t", "cumulative", "tCO2", "CCER credits used against the obligation so far"),
    Entry("carbon.net_position_t", "cumulative", "tCO2", "net carbon position so far (after allowances, CCER)"),
    Entry("carbon.cash", "cash", CURRENCY, "change of the carbon compliance cost (- = paid)", "cost_carbon", "carbon"),
    Entry("emissions.grid_t", "emission", "tCO2", "emissions of grid imports"),
    Entry("emissions.gas_t", "emission", "tCO2", "emissions of the gas unit", owner="gas"),
    # -- renewables
    Entry("renewable.output_mwh", "quantity", "MWh", "renewable energy delivered"),
    Entry(
        "renewable.curtailed_mwh",
        "quantity",
        "MWh",
        "renewable energy curtailed",
        "renewable_curtailment_mwh",
        "curtailment",
    ),
    # -- violations
    Entry(
        "violation.shift_mwh",
        "violation",
        "MWh",
        "shift backlog forced back at a window end",
        violation=True,
        owner="flex_load",
    ),
    Entry(
        "violation.ev_unmet_mwh", "violation", "MWh", "EV energy not delivered by departure", violation=True, owner="ev"
    ),
)
"""The entries of the markets and the totals, and the v0 resources' money and violation entries (kept here so that
the profit sums its terms in the v0 order), in the order the report and the docs list them."""

ENTRIES: tuple[Entry, ...] = CORE_ENTRIES + tuple(e for spec in REGISTRY for e in spec.ledger)
"""Every ledger entry: :data:`CORE_ENTRIES`, then each registered resource's own (:attr:`ResourceSpec.ledger`)."""

BY_KEY: Mapping[str, Entry] = {e.key: e for e in ENTRIES}
assert len(BY_KEY) == len(ENTRIES), "duplicate ledger keys"

TOTAL_KEYS: tuple[str, ...] = tuple(e.key for e in ENTRIES if e.summed)
"""Entries that add up over an episode (the vector env's ``episode_totals``, :func:`agents.base.run_episode`)."""

VIOLATION_KEYS: tuple[str, ...] = tuple(e.key for e in ENTRIES if e.violation)
"""Entries whose positive value marks a violated step."""

CUMULATIVE_KEYS: tuple[str, ...] = tuple(e.key for e in ENTRIES if e.kind == "cumulative")
"""Running totals over the episode so far (the episode's value is the last step's)."""


def profit_terms() -> tuple[Entry, ...]:
    """The entries of the profit, in order: cash flows, then costs, then penalties."""
    order = {"cash": 0, "cost": 1, "penalty": 2}
    return tuple(sorted((e for e in ENTRIES if e.sign), key=lambda e: order[e.kind]))


def kpi_columns() -> tuple[str, ...]:
    """The KPI columns generated from the ledger, in table order (``profit`` first)."""
    return tuple(dict.fromkeys(e.kpi for e in ENTRIES if e.kpi is not None))


def kpi_terms(column: str) -> tuple[tuple[str, float], ...]:
    """``(ledger key, coefficient)`` pairs whose sum over an episode is the KPI ``column``."""
    cost_column = column.startswith("cost_")
    out = []
    for e in ENTRIES:
        if e.kpi == column:
            out.append((e.key, -1.0 if cost_column and e.kind == "cash" else 1.0))
    if not out:
        raise KeyError(f"{column!r} is not a ledger KPI column; expected one of {', '.join(kpi_columns())}")
    return tuple(out)


def kpis(totals: Mapping[str, float]) -> dict[str, float]:
    """The ledger KPI columns of an episode from its summed ledger (missing entries count 0)."""
    return {c: float(sum(coef * totals.get(k, 0.0) for k, coef in kpi_terms(c))) for c in kpi_columns()}


def profit_doc(width: int = 100) -> str:
    """The profit identity as the task docstrings write it, wrapped at ``width`` characters."""
    groups = {"cash": "sum of cash", "cost": "sum of cost", "penalty": "sum of penalty"}
    lines = []
    for kind, head in groups.items():
        items = [
            e.key.partition(".")[0] if kind == "cash" else e.key.partition(".")[2]
            for e in profit_terms()
            if e.kind == kind
        ]
        sign = "" if kind == "cash" else "- "
        lines.append(f"{sign}{head} ({', '.join(items)})")
    text = "profit = " + lines[0]
    for line in lines[1:]:
        text += "\n         " + line
    return text
