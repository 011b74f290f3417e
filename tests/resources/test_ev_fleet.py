"""EV fleet: arrivals, charging limits (plugged share, need), departures, V2G switch and the need cap."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym.resources import ev_fleet
from vpp_gym.resources.ev_fleet import EvFleetParams
from vpp_gym.validation import ConfigError

DT = 0.5
P = EvFleetParams(
    e_fleet_mwh=6.0, p_charge_max_mw=2.0, p_discharge_max_mw=1.0, v2g=False, eta_charge=0.9, eta_discharge=0.8
)
P_V2G = dataclasses.replace(P, v2g=True)


def test_charging_arrivals_and_departures_without_v2g():
    need = np.array([1.0, 0.18, 0.0, 2.0, 1.0])
    plugged = np.array([0.5, 1.0, 0.8, 0.6, 0.5])
    arrival = np.array([0.1, 0.0, 0.05, 0.0, 0.0])
    departure = np.array([0.2, 0.5, 0.0, 0.25, 0.1])
    req = np.array([-5.0, -2.0, -0.5, 0.0, 1.0])
    p, n_next, unmet = ev_fleet.apply(P, need, plugged, arrival, departure, req, DT)
    # [0] plugged-share limit: n0 = 1.0 + 0.1 * 6 = 1.6; p_lo = -min(0.5 * 2 = 1.0, 1.6 / (0.9 * 0.5) = 3.56) = -1
    #     n1 = 1.6 - 0.5 * 1.0 * 0.9 = 1.15; unmet = 0.2 * 1.15 = 0.23; n' = 0.8 * 1.15 = 0.92
    # [1] need limit: p_lo = -min(1.0 * 2 = 2, 0.18 / 0.45 = 0.4) = -0.4; n1 = 0.18 - 0.5 * 0.4 * 0.9 = 0
    # [2] arrivals only: n0 = 0.05 * 6 = 0.3; p_lo = -min(1.6, 0.667) -> request -0.5 kept;
    #     n1 = 0.3 - 0.5 * 0.5 * 0.9 = 0.075; no departures
    # [3] idle: n1 = 2.0; unmet = d * n1 = 0.25 * 2.0 = 0.5; n' = 1.5
    # [4] V2G request without v2g: p = 0; n1 = 1.0; unmet = 0.1; n' = 0.9
    np.testing.assert_allclose(p, [-1.0, -0.4, -0.5, 0.0, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(unmet, [0.23, 0.0, 0.0, 0.5, 0.1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(n_next, [0.92, 0.0, 0.075, 1.5, 0.9], rtol=0, atol=1e-12)
    assert np.all(n_next >= 0.0)  # charging to exactly zero need does not go negative
    p_lo, p_hi = ev_fleet.feasible_range(P, need, plugged, arrival, DT)
    # p_lo[3] = -min(0.6 * 2 = 1.2, 2.0 / 0.45 = 4.44) = -1.2 (the idle request was inside the range)
    np.testing.assert_allclose(p_lo, [-1.0, -0.4, -0.3 / 0.45, -1.2, -1.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(p_hi, np.zeros(5))


def test_v2g_only_when_enabled():
    need = np.array([1.0, 2.9, 3.5, 1.0])
    plugged = np.full(4, 0.5)
    zeros = np.zeros(4)
    req = np.array([2.0, 2.0, 1.0, -5.0])
    p, n_next, unmet = ev_fleet.apply(P_V2G, need, plugged, zeros, zeros, req, DT)
    # Plugged capacity s * e_fleet = 3 MWh.
    # [0] room = 3 - 1 = 2; p_hi = min(0.5 * 1 = 0.5, 2 * 0.8 / 0.5 = 3.2) = 0.5; n1 = 1 + 0.5 * 0.5 / 0.8 = 1.3125
    # [1] room = 0.1; p_hi = min(0.5, 0.1 * 0.8 / 0.5 = 0.16) = 0.16; n1 = 2.9 + 0.5 * 0.16 / 0.8 = 3.0
    # [2] need above plugged capacity: room = max(3 - 3.5, 0) = 0 -> p = 0
    # [3] charging is unaffected by v2g: p = -min(1.0, 1 / 0.45) = -1; n1 = 1 - 0.5 * 0.9 = 0.55
    np.testing.assert_allclose(p, [0.5, 0.16, 0.0, -1.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(n_next, [1.3125, 3.0, 3.5, 0.55], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(unmet, zeros)
    _, p_hi = ev_fleet.feasible_range(P_V2G, need, plugged, zeros, DT)
    np.testing.assert_allclose(p_hi, [0.5, 0.16, 0.0, 0.5], rtol=0, atol=1e-12)

    # The same requests with v2g disabled never inject.
    p_off, n_off, _ = ev_fleet.apply(P, need, plugged, zeros, zeros, req, DT)
    np.testing.assert_allclose(p_off, [0.0, 0.0, 0.0, -1.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(n_off, [1.0, 2.9, 3.5, 0.55], rtol=0, atol=1e-12)


def test_need_is_capped_at_fleet_capacity():
    need = np.array([5.0, 3.0])
    arrival = np.array([0.5, 0.5])
    plugged = np.ones(2)
    departure = np.array([0.25, 0.25])
    p, n_next, unmet = ev_fleet.apply(P, need, plugged, arrival, departure, np.zeros(2), DT)
    # [0] n0 = 5 + 0.5 * 6 = 8 > 6 -> n1 capped at 6; unmet = 0.25 * 6 = 1.5; n' = 4.5
    # [1] n0 = 3 + 3 = 6 exactly -> no cap effect; same numbers
    np.testing.assert_array_equal(p, [0.0, 0.0])
    np.testing.assert_allclose(unmet, [1.5, 1.5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(n_next, [4.5, 4.5], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eta_charge", 0.0),
        ("eta_discharge", 1.5),
        ("e_fleet_mwh", -1.0),
        ("p_charge_max_mw", -2.0),
        ("unmet_penalty_per_mwh", -1.0),
    ],
)
def test_bad_params_name_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"^{field}: got "):
        EvFleetParams(**{field: value})


def _zeros(env: gym.Env) -> np.ndarray:
    return np.zeros(len(env.action_names), dtype=np.float32)


def test_ev_need_left_at_the_episode_end_is_charged() -> None:
    env = gym.make("vpp_gym/Joint-v0").unwrapped
    price = env.params.ev_terminal_price_per_mwh  # mean |DA price| / eta_charge
    assert price == pytest.approx(env.params.price_ref_per_mwh / env.config.resources.ev.eta_charge)
    for day in range(3):
        env.reset(seed=day, options={"day": day})
        for _ in range(env.params.episode_steps):
            *_, info = env.step(_zeros(env))  # ev = 0: never charge
        owed = env._state.ev_need_mwh
        assert owed > 0.5  # the evening's arrivals are still owed at midnight ...
        assert info["cost"]["ev_terminal"] == pytest.approx(owed * price, rel=1e-12)  # ... and paid for
