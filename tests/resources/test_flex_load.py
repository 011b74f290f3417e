"""Flexible load: curtail and shift limits, backlog across windows, forced make-up and its violation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym.resources import flex_load
from vpp_gym.resources.flex_load import FlexLoadParams
from vpp_gym.validation import ConfigError

DT = 0.25
P = FlexLoadParams(
    peak_mw=10.0,
    curtail_share=0.1,
    curtail_cost_per_mwh=600.0,
    shift_share=0.2,
    shift_window_h=1.0,
    shift_cost_per_mwh=10.0,
    shift_violation_penalty_per_mwh=1000.0,
)


def test_curtail_and_shift_limits_in_one_batched_step():
    base = np.array([5.0, 10.0, 0.0, 8.0])
    backlog = np.array([0.1, 0.1, 0.1, 0.0])
    c_req = np.array([1.0, 0.4, 1.0, -0.5])
    s_req = np.array([-3.0, 1.0, 1.0, 1.0])
    window_end = np.array([False, False, False, True])
    c, s, b_next, viol = flex_load.apply(P, backlog, base, c_req, s_req, window_end, DT)
    # c_max = 0.1 * L = [0.5, 1, 0, 0.8]: 1 -> 0.5, 0.4 kept, 1 -> 0 (no load), -0.5 -> 0.
    np.testing.assert_allclose(c, [0.5, 0.4, 0.0, 0.0], rtol=0, atol=1e-12)
    # s_max = 0.2 * L = [1, 2, 0, 1.6]: -3 -> -1, 1 kept, 1 -> 0; [3] window end with b = 0 forces s = 0.
    np.testing.assert_allclose(s, [-1.0, 1.0, 0.0, 0.0], rtol=0, atol=1e-12)
    # b' = b + s * dt = [0.1 - 0.25, 0.1 + 0.25, 0.1 + 0, 0 (window end)]
    np.testing.assert_allclose(b_next, [-0.15, 0.35, 0.1, 0.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(viol, np.zeros(4))
    c_max, s_lo, s_hi = flex_load.feasible_range(P, base)
    np.testing.assert_allclose(c_max, [0.5, 1.0, 0.0, 0.8], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s_lo, [-1.0, -2.0, 0.0, -1.6], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s_hi, [1.0, 2.0, 0.0, 1.6], rtol=0, atol=1e-12)


def test_backlog_over_two_windows_with_forced_make_up_and_violation():
    steps = P.window_steps(DT)
    assert steps == 4  # 1 h / 0.25 h
    load_pu = [0.5, 0.8, 1.0, 0.6, 1.0, 1.0, 1.0, 1.0]
    c_req = [0.3, 5.0, -1.0, 0.6, 0.0, 0.0, 0.0, 0.0]
    s_req = [1.5, 1.6, -0.2, 5.0, -0.8, -0.4, 0.0, -2.0]
    # Window 1, L = [5, 8, 10, 6], c_max = [0.5, 0.8, 1, 0.6], s_max = [1, 1.6, 2, 1.2]:
    #   t0: c = 0.3, s = min(1.5, 1) = 1.0,   b = 0    + 1.0 * 0.25 = 0.25
    #   t1: c = 0.8, s = 1.6,                 b = 0.25 + 1.6 * 0.25 = 0.65
    #   t2: c = 0,   s = -0.2,                b = 0.65 - 0.2 * 0.25 = 0.60
    #   t3 (end): s forced = -0.60 / 0.25 = -2.4 (request 5 ignored), b = 0,
    #       violation = (2.4 - 1.2) * 0.25 = 0.3 MWh -> penalty 1000 * 0.3 = 300
    #       consumption = 6 - 0.6 - (-2.4) = 7.8 MW
    # Window 2 (consumed early), L = 10, s_max = 2:
    #   t4: s = -0.8, b = -0.2;  t5: s = -0.4, b = -0.3;  t6: s = 0, b = -0.3
    #   t7 (end): s forced = 0.3 / 0.25 = 1.2 <= 2 -> no violation, b = 0
    exp_c = [0.3, 0.8, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0]
    exp_s = [1.0, 1.6, -0.2, -2.4, -0.8, -0.4, 0.0, 1.2]
    exp_b = [0.25, 0.65, 0.60, 0.0, -0.2, -0.3, -0.3, 0.0]
    exp_v = [0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0]
    b = np.zeros(1)
    got_c, got_s, got_b, got_v, consumption = [], [], [], [], []
    for t in range(8):
        base = P.peak_mw * np.array([load_pu[t]])
        end = np.array([(t + 1) % steps == 0])
        c, s, b, v = flex_load.apply(P, b, base, np.array([c_req[t]]), np.array([s_req[t]]), end, DT)
        got_c.append(c[0])
        got_s.append(s[0])
        got_b.append(b[0])
        got_v.append(v[0])
        consumption.append(base[0] - c[0] - s[0])
    np.testing.assert_allclose(got_c, exp_c, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_s, exp_s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_b, exp_b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_v, exp_v, rtol=0, atol=1e-12)
    assert got_b[3] == 0.0 and got_b[7] == 0.0  # exactly zero after every window
    assert consumption[3] == pytest.approx(7.8, abs=1e-12)
    # Energy-neutral per window: total consumption = total (base - curtailment).
    # Window 1: base 5 + 8 + 10 + 6 = 29 MW*step, curtailed 1.7 -> consumed 27.3 MW*step.
    assert sum(consumption[:4]) == pytest.approx(27.3, abs=1e-12)
    # Costs worked by hand for window 1 (the core multiplies exactly these quantities):
    #   curtailment 600 * (0.3 + 0.8 + 0 + 0.6) * 0.25 = 255; shift 10 * (1 + 1.6 + 0.2 + 2.4) * 0.25 = 13;
    #   violation penalty 1000 * 0.3 = 300.
    assert P.curtail_cost_per_mwh * sum(got_c[:4]) * DT == pytest.approx(255.0)
    assert P.shift_cost_per_mwh * sum(abs(x) for x in got_s[:4]) * DT == pytest.approx(13.0)
    assert P.shift_violation_penalty_per_mwh * got_v[3] == pytest.approx(300.0)


@pytest.mark.parametrize(("window_h", "dt_h", "steps"), [(1.0, 0.25, 4), (0.3, 0.1, 3), (4.0, 1.0, 4), (1.0, 1.0, 1)])
def test_window_steps_whole_number(window_h, dt_h, steps):
    # 0.3 / 0.1 = 2.9999999999999996 in floating point: accepted as 3 within the tolerance.
    assert FlexLoadParams(shift_window_h=window_h).window_steps(dt_h) == steps


@pytest.mark.parametrize(("window_h", "dt_h"), [(1.0, 0.3), (0.5, 1.0), (1.0, 0.4)])
def test_window_steps_rejects_a_fractional_window(window_h, dt_h):
    with pytest.raises(ConfigError, match=r"shift_window_h: got .*whole multiple of the interval"):
        FlexLoadParams(shift_window_h=window_h).window_steps(dt_h)


def test_share_sum_validation():
    FlexLoadParams(curtail_share=0.5, shift_share=0.5)  # exactly the whole load: allowed
    FlexLoadParams(curtail_share=0.3, shift_share=0.7)
    with pytest.raises(ConfigError, match=r"^shift_share: got 0\.61, expected at most 1 - curtail_share = 0\.6 "):
        FlexLoadParams(curtail_share=0.4, shift_share=0.61)  # 0.4 + 0.61 = 1.01 > 1
    for bad in ({"shift_window_h": 0.0}, {"shift_window_h": 25.0}, {"curtail_share": 1.1}):
        with pytest.raises(ConfigError, match=rf"^{next(iter(bad))}: got "):
            FlexLoadParams(**bad)


def test_window_end_resets_backlog_exactly_and_measures_violation():
    # dt = 0.1 h and backlogs chosen so that b + (-b / dt) * dt does NOT round back to 0 in floating point:
    # the docstring promises b = 0 after every window, so the reset must be explicit.
    dt = 0.1
    backlog = np.array([-0.921, 1.651])
    base = np.array([50.0, 50.0])  # s_max = 0.2 * 50 = 10 MW
    c, s, b_next, viol = flex_load.apply(
        P, backlog, base, np.zeros(2), np.array([-3.0, 3.0]), np.array([True, True]), dt
    )
    # s = -b / dt = [9.21, -16.51]; violation = max(|s| - 10, 0) * 0.1 = [0, 6.51 * 0.1 = 0.651] MWh
    np.testing.assert_allclose(s, [9.21, -16.51], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(b_next, [0.0, 0.0])
    np.testing.assert_allclose(viol, [0.0, 0.651], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(c, [0.0, 0.0])


def _zeros(env: gym.Env) -> np.ndarray:
    return np.zeros(len(env.action_names), dtype=np.float32)


def test_flex_load_consumption_never_negative() -> None:
    env = gym.make("vpp_gym/Regulation-v0", markets={"reserve": None}).unwrapped
    env.reset(seed=0, options={"split": "train", "day": 0})
    n = env.action_names
    worst = np.inf
    for _ in range(env.params.episode_steps):
        a = _zeros(env)
        a[n.index("load_shift")] = -1.0  # consume early: negative backlog, forced reduction at window end
        a[n.index("regulation_mw")] = 1.0
        a[n.index("battery")] = 1.0  # battery at full discharge: the load takes the up-regulation
        *_, info = env.step(a)
        worst = min(worst, info["load"]["consumption_mw"])
    assert worst >= -1e-9, f"load consumption went to {worst} MW"


def test_shift_backlog_settled_by_episode_end() -> None:
    env = gym.make("vpp_gym/Arbitrage-v0", resources={"flex_load": {"shift_window_h": 5.0}}).unwrapped
    env.reset(seed=0, options={"day": 0})
    violation = 0.0
    for t in range(env.params.episode_steps):
        a = _zeros(env)
        a[env.action_names.index("load_shift")] = 1.0 if t >= 80 else 0.0  # defer in the last 4 h
        *_, info = env.step(a)
        violation += info["violation"]["shift_mwh"]
    assert abs(env._state.backlog_mwh) < 1e-9 or violation > 0.0
