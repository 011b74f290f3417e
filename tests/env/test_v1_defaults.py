"""The v1 tasks are their v0 counterparts plus exactly the documented v1 changes (``CHANGELOG.md``).

A key of the resolved config that differs between ``-v0`` and ``-v1`` and is not in the list below is a
change nobody wrote down; a listed key that no longer differs is a stale list.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym.validation import to_mapping

COMMON = {
    "markets.energy.timeline": ("hour_ahead", "day_ahead"),
    "markets.energy.excess_profit_recovery": (False, True),
    "markets.carbon.regime": ("stepped_price", "pilot_ets"),
    "markets.carbon.certificates": ("legacy", "china_2023"),
    "markets.carbon.price_per_t": (60.0, 75.0),
    "data.synthetic.price_mean_per_mwh": (380.0, 330.0),
    "resources.battery.degradation_cost_per_mwh": (20.0, 45.0),
}
LADDER = {  # the v0 LowCarbon/Joint carbon ladder and certificates, gone in v1
    "markets.carbon.pricing": ("stepped", "flat"),
    "markets.carbon.free_allowance_t_per_mwh": (0.3, 0.0),
    "markets.carbon.ccer_t_per_mwh": (0.5, 0.0),
    "markets.carbon.gec_price_per_mwh": (50.0, None),
    "markets.carbon.gec_share": (0.5, 0.0),
}
GAS = {"resources.gas.fuel_cost_per_mwh": (550.0, 650.0)}
REGULATION = {"markets.regulation.scoring": ("pjm", "k_value")}
EXPECTED: dict[str, dict[str, tuple[Any, Any]]] = {
    "Arbitrage": COMMON,
    "LowCarbon": {**COMMON, **LADDER, **GAS},
    "Regulation": {**COMMON, **REGULATION},
    "Joint": {
        **COMMON,
        **LADDER,
        **GAS,
        **REGULATION,
        "resources.ev.degradation_cost_per_mwh": (30.0, 200.0),
        "data.ancillary.dr_event_rule": ("random", "scarcity"),
        "markets.demand_response.baseline": ("passive", "similar_days"),
        "markets.demand_response.payment": ("capped", "band"),
    },
}


def _flat(mapping: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(mapping, dict):
        return {prefix: mapping}
    out: dict[str, Any] = {}
    for k, v in mapping.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


@pytest.mark.parametrize("task", list(EXPECTED))
def test_v1_differs_from_v0_by_exactly_the_documented_changes(task: str) -> None:
    v0 = _flat(to_mapping(gym.make(f"vpp_gym/{task}-v0").unwrapped.config))
    v1 = _flat(to_mapping(gym.make(f"vpp_gym/{task}-v1").unwrapped.config))
    assert set(v0) == set(v1)
    changed = {k: (v0[k], v1[k]) for k in v0 if v0[k] != v1[k] and k != "name"}
    assert changed == EXPECTED[task]
