"""Frequency regulation: hand-scored signal/response pairs, response limits, mileage, settlement, the signal."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vpp_gym.markets import regulation as reg
from vpp_gym.markets.regulation import AgcSignalConfig
from vpp_gym.validation import ConfigError


def _score(req, resp, max_delay):
    return reg.performance_score(
        np.atleast_2d(np.asarray(req, float)), np.atleast_2d(np.asarray(resp, float)), max_delay
    )


def _assert_components(out, score, accuracy, delay, precision):
    np.testing.assert_allclose(out["accuracy"], accuracy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["delay"], delay, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["precision"], precision, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["score"], score, rtol=0, atol=1e-12)


# A 16-sub-step trapezoid: rises, holds, falls. Not affine over any window once shifted, so only the true
# lag gives correlation exactly 1.
TRAP = np.array([0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 3, 2, 1, 0, 0, 0], dtype=float)


def test_perfect_tracking_and_half_response():
    req = np.vstack([TRAP, TRAP])
    resp = np.vstack([TRAP, 0.5 * TRAP])
    out = reg.performance_score(req, resp, 4)
    # Row 0: identical -> 1, 1, 1.
    # Row 1: half -> correlation 1 at lag 0 (scale-free), delay 1,
    #        precision = 1 - mean|0.5 r - r| / mean|r| = 1 - 0.5 = 0.5, score = (1 + 1 + 0.5) / 3 = 5/6.
    _assert_components(out, [1.0, 5 / 6], [1.0, 1.0], [1.0, 1.0], [1.0, 0.5])


def test_response_delayed_by_two_substeps():
    # S = 16, D = 4 -> window W = 12. resp[2:14] == TRAP[0:12] exactly, so corr(2) = 1.
    resp = np.concatenate([[0.0, 0.0], TRAP[:-2]])
    assert list(resp) == [0, 0, 0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 3, 2, 1, 0]
    out = _score(TRAP, resp, 4)
    # |resp - req| = [0,1,2,2,2,1,0,0,0,0,1,2,2,2,1,0], sum 16; sum|req| = 1+2+3+6*4+3+2+1 = 36.
    # precision = 1 - 16/36 = 5/9; delay = 1 - lag*/D = 1 - 2/4 = 0.5; score = (1 + 0.5 + 5/9) / 3 = 37/54.
    _assert_components(out, 37 / 54, 1.0, 0.5, 5 / 9)
    # The same delay produced by response(): identical numbers.
    resp2 = reg.response(1.0, TRAP[None, :], np.inf, np.inf, delay_substeps=2)
    np.testing.assert_array_equal(resp2[0], resp)
    # Delay at the longest admissible lag scores 0 on delay; beyond it the correlation drops below 1.
    resp4 = np.concatenate([np.zeros(4), TRAP[:-4]])
    out4 = _score(TRAP, resp4, 4)
    assert out4["accuracy"][0] == pytest.approx(1.0, abs=1e-12)
    assert out4["delay"][0] == pytest.approx(0.0, abs=1e-12)
    resp5 = np.concatenate([np.zeros(5), TRAP[:-5]])
    assert _score(TRAP, resp5, 4)["accuracy"][0] < 0.99


def test_saturation_by_headroom_lowers_precision():
    signal = np.array([[0.0, 0.5, 1.0, 0.5, 0.0, -0.5, -1.0, -0.5]])
    # requested = 4 * signal = [0, 2, 4, 2, 0, -2, -4, -2]; up headroom 3 clips the peak 4 -> 3.
    resp = reg.response(np.array([4.0]), signal, up_mw=np.array([3.0]), down_mw=np.array([4.0]))
    np.testing.assert_array_equal(resp[0], [0, 2, 3, 2, 0, -2, -4, -2])
    out = reg.performance_score(4.0 * signal, resp, 2)
    # precision = 1 - (1/8) / (16/8) = 15/16.
    assert out["precision"][0] == pytest.approx(15 / 16, abs=1e-12)
    # W = 6: x = [0,2,4,2,0,-2] (centred [-1,1,3,1,-1,-3]), y = [0,2,3,2,0,-2] (mean 5/6).
    # sum xc*yc = 19, sum xc^2 = 22, sum yc^2 = 606/36 -> corr(0) = 19 / sqrt(22 * 606/36) (the best lag).
    assert out["accuracy"][0] == pytest.approx(19 / math.sqrt(22 * 606 / 36), abs=1e-12)
    assert out["delay"][0] == 1.0
    # Downward headroom 1 clips the trough too: errors 1 (peak) + 1 (at -2) + 3 (at -4) + 1 (at -2) = 6.
    resp_d = reg.response(4.0, signal, 3.0, 1.0)
    np.testing.assert_array_equal(resp_d[0], [0, 2, 3, 2, 0, -1, -1, -1])
    assert reg.performance_score(4.0 * signal, resp_d, 2)["precision"][0] == pytest.approx(1 - 6 / 16, abs=1e-12)


def test_ramp_limit_and_delay_per_row():
    signal = np.ones((3, 5))
    # Capacity 10, step request of 10 MW from sub-step 0; ramp 4 MW per sub-step, starting from 0.
    resp = reg.response(
        np.array([10.0, 10.0, 10.0]),
        signal,
        up_mw=np.array([9.0, 20.0, 20.0]),
        down_mw=0.0,
        delay_substeps=np.array([0, 0, 1]),
        ramp_mw_per_substep=np.array([4.0, 4.0, np.inf]),
    )
    np.testing.assert_array_equal(
        resp,
        [
            [4, 8, 9, 9, 9],  # ramp then headroom 9
            [4, 8, 10, 10, 10],  # ramp only
            [0, 10, 10, 10, 10],
        ],
    )  # delay 1: first sub-step holds 0
    # Ramp with delay: the delayed request is ramped from 0; back down with no wind-up above the headroom.
    sig = np.array([[1.0, 1.0, 1.0, -1.0, -1.0, -1.0]])
    r = reg.response(10.0, sig, up_mw=6.0, down_mw=10.0, delay_substeps=1, ramp_mw_per_substep=5.0)
    np.testing.assert_array_equal(r[0], [0, 5, 6, 6, 1, -4])


def test_degenerate_cases_are_defined():
    z = np.zeros(8)
    const = np.full(8, 3.0)
    req = np.vstack([z, z, const, const, TRAP[:8], TRAP[:8]])
    resp = np.vstack([z, np.full(8, 0.5), const, 0.5 * const, z, -TRAP[:8]])
    out = reg.performance_score(req, resp, 2)
    # 0: zero capacity, no response -> all 1.  1: nothing asked but 0.5 MW delivered -> precision 0, all 0.
    # 2: flat request followed exactly -> precision 1 -> all 1.  3: flat request, half -> all 0.5.
    # 4: shaped request, no response -> corr 0 everywhere, no delay identified, precision 0 -> all 0.
    # 5: response against the signal -> corr -1, accuracy 0, delay 0, precision clip(1 - 2) = 0.
    _assert_components(out, [1, 0, 1, 0.5, 0, 0], [1, 0, 1, 0.5, 0, 0], [1, 0, 1, 0.5, 0, 0], [1, 0, 1, 0.5, 0, 0])
    # max_delay 0 is allowed: no lag search, delay is 1 for a positively correlated response.
    _assert_components(_score(TRAP, TRAP, 0), 1.0, 1.0, 1.0, 1.0)


def test_mileage_of_a_hand_signal():
    s = np.array([[0.0, 1.0, -1.0, 0.0], [0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(reg.mileage(s), [1 + 2 + 1, 0.0])
    # The step from the previous interval's last value is counted when given.
    np.testing.assert_allclose(reg.mileage(s, prev_last=np.array([-0.5, 1.0])), [0.5 + 4.0, 0.5])
    # Across interval boundaries, per-interval mileage with prev_last adds up to the mileage of the whole.
    sig = reg.agc_signal(AgcSignalConfig(substeps=5), np.random.default_rng(3), 2, 4)
    total = sum(reg.mileage(sig[:, t], None if t == 0 else sig[:, t - 1, -1]) for t in range(4))
    np.testing.assert_allclose(total, reg.mileage(sig.reshape(2, -1)), rtol=1e-12)


def test_settle_capacity_plus_mileage_with_threshold():
    cap = np.array([10.0, 10.0, 10.0, 0.0])
    score = np.array([0.8, 0.3, 0.4, 1.0])
    mileage_mw = cap * 4.0
    pay = reg.settle(cap, score, mileage_mw, cap_price=20.0, mileage_price=0.5, dt_h=0.25, min_score=0.4)
    # capacity 10 * 20 * 0.25 = 50, mileage 40 * 0.5 = 20 -> 70 * score; 0.3 < 0.4 -> 0; exactly 0.4 is paid.
    np.testing.assert_allclose(pay, [56.0, 0.0, 28.0, 0.0], rtol=0, atol=1e-12)
    with pytest.raises(ConfigError, match="dt_h"):
        reg.settle(cap, score, mileage_mw, 20.0, 0.5, dt_h=0.0, min_score=0.4)


def test_agc_signal_bounds_determinism_and_energy_neutrality():
    cfg = AgcSignalConfig()
    a = reg.agc_signal(cfg, np.random.default_rng(7), 32, 96)
    b = reg.agc_signal(cfg, np.random.default_rng(7), 32, 96)
    c = reg.agc_signal(cfg, np.random.default_rng(8), 32, 96)
    assert a.shape == (32, 96, 15) and a.dtype == np.float64
    assert np.all(np.abs(a) <= 1.0) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean()) < 0.01
    assert np.any(np.abs(a) == 1.0)  # amplitude 0.5: the clip is reached
    # Unclipped regime: the stationary std equals the amplitude (checks the variance formula) and the
    # signal's integral over a day stays far below even white noise of the same std (0.8 * amp * sqrt(N)).
    small = AgcSignalConfig(amplitude=0.1)
    s = reg.agc_signal(small, np.random.default_rng(1), 64, 96).reshape(64, -1)
    assert s.std() == pytest.approx(0.1, rel=0.05)
    assert np.mean(np.abs(s.sum(axis=1))) < 0.5 * 0.1 * math.sqrt(s.shape[1])

    # Persistence makes the signal smoother: higher lag-1 autocorrelation.
    def ac1(x):
        return np.mean(x[:, 1:] * x[:, :-1]) / np.mean(x**2)

    slow = reg.agc_signal(AgcSignalConfig(amplitude=0.1, persistence=0.95), np.random.default_rng(1), 64, 20)
    fast = reg.agc_signal(AgcSignalConfig(amplitude=0.1, persistence=0.2), np.random.default_rng(1), 64, 20)
    assert ac1(slow.reshape(64, -1)) > ac1(fast.reshape(64, -1)) + 0.3


@pytest.mark.parametrize(
    "bad",
    [
        {"substeps": 1},
        {"substeps": True},
        {"substeps": 15.0},
        {"persistence": 1.0},
        {"energy_reversion": 0.0},
        {"amplitude": 0.0},
        {"amplitude": 1.5},
    ],
)
def test_agc_signal_config_validation(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        AgcSignalConfig(**bad)


def test_response_rejects_bad_inputs():
    sig = np.zeros((2, 4))
    with pytest.raises(ValueError, match="up_mw"):
        reg.response(1.0, sig, -1.0, 1.0)
    with pytest.raises(ValueError, match="delay_substeps"):
        reg.response(1.0, sig, 1.0, 1.0, delay_substeps=1.5)
    with pytest.raises(ValueError, match="max_delay_substeps"):
        reg.performance_score(sig, sig, 3)


_VALUES = st.one_of(st.just(0.0), st.floats(-50.0, 50.0, allow_nan=False, allow_subnormal=False))


@st.composite
def _case(draw):
    B = draw(st.integers(1, 4))
    S = draw(st.integers(2, 20))
    req = draw(hnp.arrays(np.float64, (B, S), elements=_VALUES))
    resp = draw(hnp.arrays(np.float64, (B, S), elements=_VALUES))
    if draw(st.booleans()):  # responses near the request, including exact copies and zero rows
        resp = req * draw(st.sampled_from([0.0, 0.5, 1.0, -1.0])) + resp * draw(st.sampled_from([0.0, 1e-3]))
    return req, resp, draw(st.integers(0, S - 2))


@settings(max_examples=200, deadline=None)
@given(_case())
def test_score_components_always_in_unit_interval(case):
    req, resp, D = case
    out = reg.performance_score(req, resp, D)
    assert set(out) == set(reg.SCORE_KEYS)
    for key in reg.SCORE_KEYS:
        v = out[key]
        assert v.shape == (req.shape[0],)
        assert np.all(np.isfinite(v)), key
        assert np.all((v >= 0.0) & (v <= 1.0)), (key, v)
    np.testing.assert_allclose(out["score"], (out["accuracy"] + out["delay"] + out["precision"]) / 3, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(2, 30),
    st.floats(0.0, 20.0),
    st.floats(0.0, 20.0),
    st.integers(0, 5),
    st.one_of(st.just(math.inf), st.floats(0.0, 10.0)),
    st.integers(0, 2**32 - 1),
)
def test_response_stays_inside_headroom_and_ramp(B, S, up, down, delay, ramp, seed):
    rng = np.random.default_rng(seed)
    sig = rng.uniform(-1.0, 1.0, (B, S))
    cap = rng.uniform(0.0, 30.0, B)
    r = reg.response(cap, sig, up, down, delay, ramp)
    assert r.shape == (B, S)
    assert np.all(r <= up) and np.all(r >= -down)
    steps = np.abs(np.diff(np.concatenate([np.zeros((B, 1)), r], axis=1), axis=1))
    assert np.all(steps <= ramp + 1e-9)
    assert np.all(r[:, : min(delay, S)] == 0.0)
