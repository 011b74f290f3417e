"""Renewable plant: curtailable vs must-run output, projection of requests onto [0, p_avail]."""

from __future__ import annotations

import numpy as np
import pytest

from vpp_gym.resources import renewable
from vpp_gym.resources.renewable import RenewableParams
from vpp_gym.validation import ConfigError

CF = np.array([0.0, 0.25, 0.5, 1.0, 0.8, 0.8])
# p_avail = 4 MW * cf = [0, 1, 2, 4, 3.2, 3.2]
AVAIL = np.array([0.0, 1.0, 2.0, 4.0, 3.2, 3.2])


def test_curtailable_plant_projects_request_onto_zero_to_available():
    prm = RenewableParams(p_max_mw=4.0, curtailable=True)
    req = np.array([1.0, 0.4, 5.0, 4.0, -1.0, 3.0])
    p, avail = renewable.apply(prm, CF, req)
    np.testing.assert_allclose(avail, AVAIL, rtol=0, atol=1e-12)
    # [0] no wind/sun: 1 -> 0; [1] 0.4 <= 1 kept; [2] 5 > 2 -> 2 (above available is projected down);
    # [3] exactly available; [4] negative request -> 0 (cannot consume); [5] 3.0 <= 3.2 kept.
    np.testing.assert_allclose(p, [0.0, 0.4, 2.0, 4.0, 0.0, 3.0], rtol=0, atol=1e-12)
    # Curtailed energy over dt = 0.5 h: (p_avail - p) * dt = [0, 0.3, 0, 0, 1.6, 0.1]
    np.testing.assert_allclose((avail - p) * 0.5, [0.0, 0.3, 0.0, 0.0, 1.6, 0.1], rtol=0, atol=1e-12)
    lo, hi = renewable.feasible_range(prm, CF)
    np.testing.assert_array_equal(lo, np.zeros(6))
    np.testing.assert_allclose(hi, AVAIL, rtol=0, atol=1e-12)


def test_non_curtailable_plant_always_injects_what_is_available():
    prm = RenewableParams(p_max_mw=4.0, curtailable=False)
    req = np.array([1.0, 0.4, 5.0, 4.0, -1.0, 0.0])
    p, avail = renewable.apply(prm, CF, req)
    np.testing.assert_allclose(p, AVAIL, rtol=0, atol=1e-12)
    np.testing.assert_allclose(avail, AVAIL, rtol=0, atol=1e-12)
    lo, hi = renewable.feasible_range(prm, CF)
    # The feasible range collapses to the single point p_avail.
    np.testing.assert_allclose(lo, AVAIL, rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, AVAIL, rtol=0, atol=1e-12)


def test_negative_capacity_is_rejected_naming_the_field():
    with pytest.raises(ConfigError, match=r"^p_max_mw: got -1\.0"):
        RenewableParams(p_max_mw=-1.0)
    assert RenewableParams(p_max_mw=0.0).p_max_mw == 0.0  # zero capacity (no plant) is allowed
