"""Named KPIs from an episode's summed ledger (the keys of :data:`vpp_gym.vector.TOTAL_KEYS`).

Revenues are cash received (+) per market, costs are paid (+); ``profit`` is the env's profit, so
``profit = sum(revenue_*) - sum(cost_*)`` holds exactly (``cost_other`` holds the load-flexibility
and EV terminal costs).
"""

from __future__ import annotations

from collections.abc import Mapping

REVENUES = {
    "revenue_energy_da": ("energy_da.cash",),
    "revenue_energy_rt": ("energy_rt.cash",),
    "revenue_regulation": ("regulation.cash",),
    "revenue_reserve": ("reserve.cash",),
    "revenue_demand_response": ("demand_response.cash",),
    "revenue_green_certificates": ("green_cert.cash",),
}
COSTS = {
    "cost_degradation": ("cost.degradation",),
    "cost_fuel": ("cost.fuel", "cost.startup"),
    "cost_other": ("cost.curtailment", "cost.load_shift", "cost.ev_terminal"),
    "cost_penalties": (
        "penalty.imbalance",
        "penalty.shift_violation",
        "penalty.ev_unmet",
        "penalty.reserve_shortfall",
        "penalty.dr_shortfall",
        "penalty.green_matching",
    ),
}


def kpis_from_totals(totals: Mapping[str, float]) -> dict[str, float]:
    """``profit``, revenues by market, costs (carbon: the carbon market's net payment), gross emissions."""

    def total(keys: tuple[str, ...]) -> float:
        return float(sum(totals.get(k, 0.0) for k in keys))

    out = {"profit": float(totals.get("profit", 0.0))}
    out.update({name: total(keys) for name, keys in REVENUES.items()})
    out.update({name: total(keys) for name, keys in COSTS.items()})
    out["cost_carbon"] = -float(totals.get("carbon.cash", 0.0))
    out["emissions_tco2"] = float(totals.get("carbon.emissions_t", 0.0))
    out["renewable_curtailment_mwh"] = float(totals.get("renewable.curtailed_mwh", 0.0))
    return out
