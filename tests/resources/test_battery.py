"""Battery model: hand-worked steps, projection, batching, a property test and parameter validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpp_gym.resources import battery
from vpp_gym.resources.battery import BatteryParams
from vpp_gym.validation import ConfigError

DT = 0.25
# e_max = 4 MWh -> e_min = 0.1 * 4 = 0.4 MWh, e_high = 0.9 * 4 = 3.6 MWh.
P = BatteryParams(
    e_max_mwh=4.0,
    p_charge_max_mw=2.0,
    p_discharge_max_mw=2.0,
    eta_charge=0.9,
    eta_discharge=0.8,
    soc_min=0.1,
    soc_max=0.9,
    soc_init=0.5,
)


def test_one_step_at_the_power_limits_with_asymmetric_efficiencies():
    e = np.array([2.0, 2.0])
    # Both requests sit exactly on the power limits, far from the SOC limits:
    #   p_hi = min(2, (2.0 - 0.4) * 0.8 / 0.25 = 5.12) = 2
    #   p_lo = -min(2, (3.6 - 2.0) / (0.9 * 0.25) = 7.11) = -2
    p, e_next = battery.apply(P, e, np.array([2.0, -2.0]), DT)
    np.testing.assert_array_equal(p, [2.0, -2.0])
    # discharge: e' = 2.0 - 0.25 * 2.0 / 0.8 = 2.0 - 0.625 = 1.375
    # charge:    e' = 2.0 + 0.25 * 2.0 * 0.9 = 2.0 + 0.45  = 2.45
    np.testing.assert_allclose(e_next, [1.375, 2.45], rtol=0, atol=1e-12)
    p_lo, p_hi = battery.feasible_range(P, e, DT)
    np.testing.assert_allclose(p_lo, [-2.0, -2.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p_hi, [2.0, 2.0], rtol=0, atol=1e-12)


def test_infeasible_setpoints_are_projected_by_power_and_by_soc_limits():
    e = np.array([2.0, 2.0, 3.5, 0.5, 3.6, 0.4])
    req = np.array([5.0, -7.0, -2.0, 2.0, -1.0, 1.0])
    p, e_next = battery.apply(P, e, req, DT)
    # [0], [1]: mid-SOC, clipped by the power limits to +2 / -2 (e' as in the test above).
    # [2]: near-full, p_lo = -(3.6 - 3.5) / (0.9 * 0.25) = -0.1 / 0.225 = -0.44444;
    #      e' = 3.5 + 0.25 * 0.44444 * 0.9 = 3.5 + 0.1 = 3.6 = soc_max * e_max exactly.
    # [3]: near-empty, p_hi = (0.5 - 0.4) * 0.8 / 0.25 = 0.32; e' = 0.5 - 0.25 * 0.32 / 0.8 = 0.4.
    # [4]: full, cannot charge at all: p = 0, e' = 3.6.  [5]: empty, cannot discharge: p = 0, e' = 0.4.
    np.testing.assert_allclose(p, [2.0, -2.0, -0.1 / 0.225, 0.32, 0.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(e_next, [1.375, 2.45, 3.6, 0.4, 3.6, 0.4], rtol=0, atol=1e-12)
    # The SOC-limited projection lands on the bound: never above e_high / below e_min.
    assert e_next[2] <= P.soc_max * P.e_max_mwh
    assert e_next[3] >= P.soc_min * P.e_max_mwh
    # A request already inside the feasible range is applied unchanged.
    p_in, e_in = battery.apply(P, np.array([2.0]), np.array([-0.5]), DT)
    assert p_in[0] == -0.5
    assert e_in[0] == pytest.approx(2.0 + 0.25 * 0.5 * 0.9, abs=1e-12)  # = 2.1125


def test_batch_equals_one_at_a_time():
    e = np.array([0.4, 0.5, 1.0, 2.0, 3.3, 3.6, 2.7])
    req = np.array([-2.0, 2.0, 0.7, -1.3, -2.0, 0.4, 9.0])
    p_b, e_b = battery.apply(P, e, req, DT)
    lo_b, hi_b = battery.feasible_range(P, e, DT)
    for i in range(len(e)):
        p_i, e_i = battery.apply(P, e[i : i + 1], req[i : i + 1], DT)
        lo_i, hi_i = battery.feasible_range(P, e[i : i + 1], DT)
        assert (p_b[i], e_b[i], lo_b[i], hi_b[i]) == (p_i[0], e_i[0], lo_i[0], hi_i[0])
    # The batch is not trivially uniform: the states give several distinct outcomes.
    assert len(set(np.round(p_b, 9))) >= 5


@st.composite
def _battery_case(draw):
    soc_min = draw(st.floats(0.0, 0.9))
    soc_max = draw(st.floats(soc_min + 0.01, 1.0))
    soc_init = draw(st.floats(soc_min, soc_max))
    params = BatteryParams(
        e_max_mwh=draw(st.floats(0.01, 500.0)),
        p_charge_max_mw=draw(st.floats(0.0, 200.0)),
        p_discharge_max_mw=draw(st.floats(0.0, 200.0)),
        eta_charge=draw(st.floats(0.05, 1.0)),
        eta_discharge=draw(st.floats(0.05, 1.0)),
        soc_min=soc_min,
        soc_max=soc_max,
        soc_init=soc_init,
    )
    dt = draw(st.sampled_from([1 / 60, 0.25, 0.5, 1.0, 2.0]))
    n = draw(st.integers(1, 6))
    frac = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    e = params.e_min_mwh + frac * (params.e_high_mwh - params.e_min_mwh)
    e = np.minimum(np.maximum(e, params.e_min_mwh), params.e_high_mwh)
    req = np.array(draw(st.lists(st.floats(-1000.0, 1000.0), min_size=n, max_size=n)))
    return params, e, req, dt


@settings(max_examples=300, deadline=None)
@given(_battery_case())
def test_property_bounds_projection_and_energy_balance(case):
    params, e, req, dt = case
    e_min, e_high = params.soc_min * params.e_max_mwh, params.soc_max * params.e_max_mwh
    p_lo, p_hi = battery.feasible_range(params, e, dt)
    p, e_next = battery.apply(params, e, req, dt)

    assert np.all(e_next >= e_min - 1e-9) and np.all(e_next <= e_high + 1e-9)
    assert np.all(p >= p_lo) and np.all(p <= p_hi)
    assert np.all(p >= -params.p_charge_max_mw) and np.all(p <= params.p_discharge_max_mw)
    # Projection = clipping: the applied power is the request clipped to [p_lo, p_hi].
    np.testing.assert_array_equal(p, np.clip(req, p_lo, p_hi))

    # Energy balance from the docstring, recomputed independently from the applied power.
    e_bal = e - dt * np.maximum(p, 0.0) / params.eta_discharge - dt * np.minimum(p, 0.0) * params.eta_charge
    inside = (e_bal >= e_min) & (e_bal <= e_high)
    # Where no clamp is needed the balance holds to rounding of a different evaluation order ...
    np.testing.assert_allclose(e_next[inside], e_bal[inside], rtol=1e-13, atol=1e-12)
    # ... and where the final clamp acts it only removes rounding noise (< 1e-9 MWh).
    assert np.all(np.abs(e_next - e_bal) < 1e-9)

    # The feasible range is tight: an SOC-limited bound drives e' exactly to the SOC bound.
    soc_limited_hi = (p == p_hi) & (p_hi < params.p_discharge_max_mw) & (p > 0)
    np.testing.assert_allclose(e_next[soc_limited_hi], e_min, rtol=1e-12, atol=1e-9)
    soc_limited_lo = (p == p_lo) & (-p_lo < params.p_charge_max_mw) & (p < 0)
    np.testing.assert_allclose(e_next[soc_limited_lo], e_high, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"soc_min": 0.6, "soc_max": 0.6, "soc_init": 0.6}, "soc_max"),
        ({"soc_min": 0.8, "soc_max": 0.2}, "soc_max"),
        ({"eta_charge": 0.0}, "eta_charge"),
        ({"eta_charge": 1.01}, "eta_charge"),
        ({"eta_discharge": -0.5}, "eta_discharge"),
        ({"eta_discharge": 1.2}, "eta_discharge"),
        ({"e_max_mwh": -1.0}, "e_max_mwh"),
        ({"e_max_mwh": 0.0}, "e_max_mwh"),
        ({"p_charge_max_mw": -0.1}, "p_charge_max_mw"),
        ({"soc_init": 0.05}, "soc_init"),
        ({"soc_init": 0.95}, "soc_init"),
    ],
)
def test_bad_params_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=rf"^{field}: got "):
        BatteryParams(**overrides)


def test_edge_params_are_accepted():
    # eta = 1 is allowed (interval (0, 1]); soc bounds may touch 0 and 1.
    p = BatteryParams(eta_charge=1.0, eta_discharge=1.0, soc_min=0.0, soc_max=1.0, soc_init=1.0)
    assert p.e_init_mwh == p.e_max_mwh == 4.0
    np.testing.assert_array_equal(battery.initial_energy(P, 3), [2.0, 2.0, 2.0])  # 0.5 * 4
