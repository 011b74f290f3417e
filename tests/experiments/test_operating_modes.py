"""experiments/operating_modes.py: the figures of a mode from recorded rows (no episode is run)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def modes(experiment_script: Callable[[str], ModuleType]) -> ModuleType:
    return experiment_script("operating_modes")


def _row(bidding: bool, energy: float, da: float, rt: float) -> dict:
    """A recorded row; a bid step carries its interval's series but settles nothing."""
    settled = 0.0 if bidding else 1.0
    return {
        "bidding": bidding,
        "series.price_da_per_mwh": da,
        "series.price_rt_per_mwh": rt,
        "renewable.output_mwh": energy * settled,
        "pv.available_mw": 4.0 * settled,
        "wind.available_mw": 4.0 * settled,
        "regulation.accepted_mw": 2.0 * settled,
        "battery.applied_mw": -1.0 * settled,
        "profit": 10.0 * settled,
        "carbon.emissions_t": 0.5 * settled,
    }


def test_the_rule_policy_is_a_mode(modes: ModuleType) -> None:
    assert modes.MODE_LABELS["rule"] == "VPP (rule)"
    assert list(modes.MODE_LABELS) == ["passive", "microgrid", "rule", "mpc", "oracle"]


def test_figures_are_summed_over_the_dispatch_steps(modes: ModuleType) -> None:
    # a day of two intervals at 0.5 h: two bid steps, then two dispatch steps
    rows = [_row(True, 0.0, 300.0, 200.0), _row(True, 0.0, 500.0, 600.0)]
    rows += [_row(False, 2.0, 300.0, 200.0), _row(False, 3.0, 500.0, 600.0)]
    fig = modes.episode_figures(rows, dt=0.5)
    assert fig["profit"] == pytest.approx(20.0)
    assert fig["emissions_tco2"] == pytest.approx(1.0)
    assert fig["renewable_use"] == pytest.approx(5.0 / (2 * 8.0 * 0.5))
    assert fig["flexibility_mwh"] == pytest.approx(2 * 2.0 * 0.5)
    assert fig["storage_throughput_mwh"] == pytest.approx(2 * 1.0 * 0.5)


def test_gas_plant_sells_at_the_day_ahead_price_on_the_day_ahead_timeline(modes: ModuleType) -> None:
    rows = [_row(True, 0.0, 300.0, 200.0), _row(False, 2.0, 300.0, 200.0), _row(False, 3.0, 500.0, 600.0)]
    fuel, ef, carbon = 400.0, 0.4, 50.0
    da = modes.gas_plant_figures(rows, fuel, ef, carbon, day_ahead=True)
    # 2 MWh at 300 and 3 MWh at 500, less 5 MWh of fuel at 400 and 5 x 0.4 t at 50
    assert da["profit"] == pytest.approx(2 * 300 + 3 * 500 - 5 * 400 - 2.0 * 50)
    assert da["emissions_tco2"] == pytest.approx(2.0)
    rt = modes.gas_plant_figures(rows, fuel, ef, carbon, day_ahead=False)
    assert rt["profit"] == pytest.approx(2 * 200 + 3 * 600 - 5 * 400 - 2.0 * 50)
    assert (da["renewable_use"], da["flexibility_mwh"], da["storage_throughput_mwh"]) == (0.0, 0.0, 0.0)


def test_findings_name_the_most_profitable_mode(modes: ModuleType) -> None:
    fig = {"emissions_tco2": 1.0, "renewable_use": 1.0, "flexibility_mwh": 0.0, "storage_throughput_mwh": 0.0}
    table = {
        "passive": [{**fig, "profit": -1.0}],
        "VPP (oracle)": [{**fig, "profit": 5.0}],
        "gas plant": [{**fig, "profit": -9.0, "emissions_tco2": 3.0}],
    }
    lines = modes.findings(table)
    assert lines[0].startswith("Profit, highest first: VPP (oracle) 5, passive -1, gas plant -9")
    assert any("VPP (oracle) against passive: profit +6" in line for line in lines)
    assert any("gas plant" in line and "+2.0" in line for line in lines)
