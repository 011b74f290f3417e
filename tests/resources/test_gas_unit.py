"""Gas unit: start-up, ramp limits, shutdown rule, the off threshold and the started flag."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vpp_gym.resources import gas_unit
from vpp_gym.resources.gas_unit import GasUnitParams
from vpp_gym.validation import ConfigError

DT = 0.25
# ramp * dt = 4 * 0.25 = 1.0 MW per interval
FAST = GasUnitParams(p_min_mw=0.6, p_max_mw=2.0, ramp_mw_per_h=4.0)
# ramp * dt = 1 * 0.25 = 0.25 MW per interval (less than p_min)
SLOW = dataclasses.replace(FAST, ramp_mw_per_h=1.0)


def test_start_up_from_off_and_the_off_threshold():
    off = np.zeros(5)
    req = np.array([2.0, 0.35, 0.29, 0.3, 0.0])
    p, started = gas_unit.apply(FAST, off, req, DT)
    # Start-up range [p_min, max(p_min, min(p_max, ramp*dt))] = [0.6, max(0.6, min(2, 1.0))] = [0.6, 1.0].
    # 2.0 -> 1.0; 0.35 >= p_min/2 = 0.3 -> clipped up to 0.6; 0.29 < 0.3 -> off; 0.3 is not < 0.3 -> 0.6; 0 -> off.
    np.testing.assert_allclose(p, [1.0, 0.6, 0.0, 0.6, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(started, [1.0, 1.0, 0.0, 1.0, 0.0])
    # A slow unit starts straight at p_min even though p_min > ramp * dt = 0.25.
    p_slow, started_slow = gas_unit.apply(SLOW, np.zeros(2), np.array([2.0, 0.6]), DT)
    np.testing.assert_allclose(p_slow, [0.6, 0.6], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(started_slow, [1.0, 1.0])


def test_ramp_limits_when_on():
    p0 = np.array([0.8, 1.5, 1.9, 1.2, 1.0])
    req = np.array([2.0, 2.0, 0.7, 0.7, 1.9])
    p, started = gas_unit.apply(FAST, p0, req, DT)
    # up:   0.8 + 1.0 = 1.8 (< request 2);  1.5 + 1.0 = 2.5 capped at p_max = 2.0
    # down: 1.9 - 1.0 = 0.9 (> request 0.7); 1.2 - 1.0 = 0.2 < p_min so 0.7 is reachable; 1.0 -> 1.9 within +1.0
    np.testing.assert_allclose(p, [1.8, 2.0, 0.9, 0.7, 1.9], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(started, np.zeros(5))  # already on: no start
    p_slow, _ = gas_unit.apply(SLOW, np.array([1.0, 1.0]), np.array([2.0, 0.6]), DT)
    np.testing.assert_allclose(p_slow, [1.25, 0.75], rtol=0, atol=1e-12)  # 1.0 +- 0.25


def test_shutdown_allowed_or_refused():
    p0 = np.array([1.5, 1.9, 0.6, 0.6, 1.0, 0.8])
    req = np.array([0.0, 0.0, 0.29, 0.3, 0.0, 0.0])
    prm = np.array([0, 0, 0, 0, 1, 1])  # 0 = FAST, 1 = SLOW
    p = np.empty(6)
    started = np.empty(6)
    for k, params in ((0, FAST), (1, SLOW)):
        sel = prm == k
        p[sel], started[sel] = gas_unit.apply(params, p0[sel], req[sel], DT)
    # FAST: 1.5 - 1.0 = 0.5 <= 0.6 -> may shut down -> 0.
    #       1.9 - 1.0 = 0.9 >  0.6 -> refused -> lowest on-output 0.9.
    #       at p_min: 0.29 < 0.3 -> off; 0.3 -> stays on at p_min 0.6.
    # SLOW: 1.0 - 0.25 = 0.75 > 0.6 -> refused -> 0.75;  0.8 - 0.25 = 0.55 <= 0.6 -> off.
    np.testing.assert_allclose(p, [0.0, 0.9, 0.0, 0.6, 0.75, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(started, np.zeros(6))
    _, _, can_be_off = gas_unit.feasible_range(FAST, np.array([0.0, 1.5, 1.9]), DT)
    np.testing.assert_array_equal(can_be_off, [True, True, False])


def test_batch_of_mixed_states_equals_one_at_a_time():
    p0 = np.array([0.0, 0.0, 0.6, 1.9, 2.0, 1.4, 0.0])
    req = np.array([1.7, 0.1, 0.0, 0.0, 0.65, 1.1, 0.45])
    p_b, s_b = gas_unit.apply(FAST, p0, req, DT)
    for i in range(len(p0)):
        p_i, s_i = gas_unit.apply(FAST, p0[i : i + 1], req[i : i + 1], DT)
        assert (p_b[i], s_b[i]) == (p_i[0], s_i[0])
    # 0 -> 1.0 (start, capped by ramp); 0 stays off; 0.6 -> off; 1.9 -> 0.9 (refused);
    # 2.0 -> max(0.6, 1.0) = 1.0; 1.4 -> 1.1; 0 -> 0.6 (start, 0.45 >= 0.3)
    np.testing.assert_allclose(p_b, [1.0, 0.0, 0.0, 0.9, 1.0, 1.1, 0.6], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(s_b, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])


def test_shutdown_exactly_at_the_ramp_boundary():
    # Start at p_min (0.6), ramp up a full step to 0.6 + 1.0 = 1.6, then ask for off.
    # Docstring: may shut down iff p0 - ramp*dt <= p_min, i.e. 1.6 - 1.0 = 0.6 <= 0.6 -> allowed, p = 0.
    p1, _ = gas_unit.apply(FAST, np.array([0.6]), np.array([2.0]), DT)
    assert p1[0] == 1.6
    p2, _ = gas_unit.apply(FAST, p1, np.array([0.0]), DT)
    assert p2[0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"p_init_mw": 0.3}, "p_init_mw"),  # between off and p_min
        ({"p_init_mw": 2.5}, "p_init_mw"),  # above p_max
        ({"p_min_mw": 3.0}, "p_min_mw"),  # above p_max
        ({"ramp_mw_per_h": 0.0}, "ramp_mw_per_h"),
        ({"p_max_mw": 0.0, "p_min_mw": 0.0}, "p_max_mw"),
    ],
)
def test_bad_params_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=rf"^{field}: got "):
        GasUnitParams(**kwargs)
    GasUnitParams(p_init_mw=0.6)  # at p_min: valid
