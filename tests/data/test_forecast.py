"""Forecasts: exact windows at sigma 0, error statistics against the documented law, no leak through the env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym.data.forecast import forecast_windows
from vpp_gym.data.schema import COLUMN_NAMES

HUGE = 1e12  # a clip range that never acts
ALL_SIGMAS = (
    "price_da_sigma_rel",
    "price_rt_sigma_rel",
    "pv_sigma",
    "wind_sigma",
    "load_sigma_rel",
    "grid_ef_sigma_rel",
)


def _expected_std(sigma: float, horizon: int, cap: float) -> np.ndarray:
    # The documented law, written out: sigma * min(sqrt(h + 1), cap) for h = 0 .. horizon-1.
    return np.array([sigma * min((h + 1) ** 0.5, cap) for h in range(horizon)])


def test_zero_sigma_gives_exactly_the_realised_windows_and_draws_nothing() -> None:
    rng = np.random.default_rng(0)
    actual = rng.normal(50.0, 20.0, size=(3, 30))
    gen = np.random.default_rng(123)
    before = gen.bit_generator.state
    out = forecast_windows(actual, steps=20, horizon=8, sigma=0.0, growth_cap=3.0, rng=gen, lo=-HUGE, hi=HUGE)
    assert out.shape == (3, 20, 8)
    for b in range(3):
        for t in range(20):
            for h in range(8):
                assert out[b, t, h] == actual[b, t + h]
    assert gen.bit_generator.state == before  # sigma 0 consumes no random numbers
    out[0, 0, 0] = -1.0  # a copy: writing to it leaves the realisation alone
    assert actual[0, 0] != -1.0


def test_additive_error_std_grows_with_lead_as_documented_and_is_capped() -> None:
    batch, steps, horizon, sigma, cap = 2000, 20, 10, 2.5, 2.2
    # cap 2.2 acts from h = 4 on (sqrt(5) = 2.236 > 2.2): expected std 2.5 * [1, 1.414, 1.732, 2, 2.2, 2.2, ...]
    actual = np.random.default_rng(1).uniform(-100.0, 100.0, size=(batch, steps + horizon - 1))
    out = forecast_windows(actual, steps, horizon, sigma, cap, np.random.default_rng(2), -HUGE, HUGE)
    idx = np.arange(steps)[:, None] + np.arange(horizon)[None, :]
    err = (out - actual[:, idx]).reshape(-1, horizon)  # 40,000 errors per lead
    expected = _expected_std(sigma, horizon, cap)
    np.testing.assert_allclose(expected[[0, 3, 4, 9]], [2.5, 5.0, 5.5, 5.5])
    # relative standard error of an empirical std over 40,000 normals is 1/sqrt(2 * 40000) = 0.35 %
    np.testing.assert_allclose(err.std(axis=0), expected, rtol=0.02)
    assert np.all(np.abs(err.mean(axis=0)) < 5 * expected / np.sqrt(err.shape[0]))  # unbiased
    # errors at different issue times and leads are independent draws (not one draw per window)
    corr = np.corrcoef(err[:, 0], err[:, 1])[0, 1]
    assert abs(corr) < 0.03


def test_multiplicative_errors_scale_with_the_value() -> None:
    batch, steps, horizon, sigma, cap = 4000, 10, 6, 0.1, 3.0
    # half the rows at 10, half at 1000: the error std must be 100 times larger on the second half
    actual = np.where(np.arange(batch)[:, None] < batch // 2, 10.0, 1000.0) * np.ones((1, steps + horizon - 1))
    out = forecast_windows(
        actual, steps, horizon, sigma, cap, np.random.default_rng(3), -HUGE, HUGE, multiplicative=True
    )
    err = out - actual[:, :horizon][:, None, :]  # every window of a row has the same value
    expected = _expected_std(sigma, horizon, cap)  # 0.1 * [1, 1.414, 1.732, 2, 2.236, 2.449]
    low = err[: batch // 2].reshape(-1, horizon).std(axis=0)
    high = err[batch // 2 :].reshape(-1, horizon).std(axis=0)
    np.testing.assert_allclose(low, 10.0 * expected, rtol=0.02)
    np.testing.assert_allclose(high, 1000.0 * expected, rtol=0.02)
    # a zero value has a zero-error forecast in relative mode
    zero = forecast_windows(
        np.zeros((2, 12)), 5, 4, 0.5, 3.0, np.random.default_rng(4), -HUGE, HUGE, multiplicative=True
    )
    assert np.all(zero == 0.0)


def test_clipping_respects_lo_hi_and_only_clips() -> None:
    batch, steps, horizon = 5000, 4, 3
    actual = np.zeros((batch, steps + horizon - 1))
    free = forecast_windows(actual, steps, horizon, 1.0, 1.0, np.random.default_rng(5), -HUGE, HUGE)
    clipped = forecast_windows(actual, steps, horizon, 1.0, 1.0, np.random.default_rng(5), -1.0, 0.5)
    assert clipped.min() == -1.0 and clipped.max() == 0.5
    # the same draws, clipped: the clip is the only difference
    np.testing.assert_array_equal(clipped, np.clip(free, -1.0, 0.5))
    # with growth_cap 1 every lead has std 1: P(z > 0.5) = 0.3085, P(z < -1) = 0.1587
    assert np.mean(clipped == 0.5) == pytest.approx(0.3085, abs=0.01)
    assert np.mean(clipped == -1.0) == pytest.approx(0.1587, abs=0.01)


# ---------------------------------------------------------------------------------------------------
# Through the environment: the observation holds forecasts, the settlement the realisation.


def _obs_index(env: gym.Env, col: str, h: int) -> int:
    return env.unwrapped.observation_names.index(f"{col}[t+{h}]")


def _realised(env: gym.Env, start_row: int, col: str, row_offset: int) -> float:
    """Realised value of ``col`` at episode step ``row_offset`` from the series (edge-padded past its end)."""
    series = env.unwrapped.series
    return float(series.values[col][min(start_row + row_offset, len(series) - 1)])


def test_perfect_forecast_observes_exactly_the_realised_values() -> None:
    env = gym.make("vpp_gym/Arbitrage-v0", forecast=dict.fromkeys(ALL_SIGMAS, 0.0))
    u = env.unwrapped
    ref = u.params.price_ref_per_mwh
    H, T = u.params.horizon, u.params.episode_steps
    rng = np.random.default_rng(0)
    for seed, split in [(0, "train"), (1, "test")]:
        obs, info = env.reset(seed=seed, options={"split": split})
        exo = u._episode.exo[0]
        start = int(u._episode.start[0])
        assert str(u.series.timestamps[start]) == info["start"]
        for t in range(T + 1):
            for h in range(H):
                for col in ("price_da_per_mwh", "price_rt_per_mwh", "grid_ef_t_per_mwh", "pv_cf", "load_pu"):
                    k = COLUMN_NAMES.index(col)
                    # rows inside the episode from exo (what the settlement uses), the rest from the series
                    real = exo[t + h, k] if t + h < T else _realised(env, start, col, t + h)
                    if col.startswith("price"):
                        real = real / ref
                    assert obs[_obs_index(env, col, h)] == pytest.approx(real, rel=1e-6, abs=1e-6), (t, h, col)
            if t == T:
                break
            obs, _, _, _, step_info = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
            # the settlement used the same realised values
            assert step_info["energy_rt"]["price_per_mwh"] == exo[t, COLUMN_NAMES.index("price_rt_per_mwh")]
            assert step_info["energy_da"]["price_per_mwh"] == exo[t, COLUMN_NAMES.index("price_da_per_mwh")]


def test_default_forecast_hides_the_current_rt_price_and_its_error_grows_with_lead() -> None:
    env = gym.make("vpp_gym/Arbitrage-v0")
    u = env.unwrapped
    ref = u.params.price_ref_per_mwh
    H, T = u.params.horizon, u.params.episode_steps
    f = u.config.forecast
    lo, hi = u.params.lo["price_rt_per_mwh"], u.params.hi["price_rt_per_mwh"]
    errors = []  # (T, H) forecast errors (currency) per episode
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        start = int(u._episode.start[0])
        rt = u.series.values["price_rt_per_mwh"]
        ep = np.empty((T, H))
        same = []
        for t in range(T):
            for h in range(H):
                ep[t, h] = obs[_obs_index(env, "price_rt_per_mwh", h)] * ref - rt[start + t + h]
            realised_now = u._episode.exo[0, t, COLUMN_NAMES.index("price_rt_per_mwh")]
            if abs(obs[_obs_index(env, "price_rt_per_mwh", 0)] * ref - realised_now) < 1e-3:
                same.append(realised_now)
            obs, *_ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
        # An error of N(0, 38 CNY) is below 1e-3 with probability ~2e-5; the forecast can only equal the
        # realisation where that sits on the clip bound (the series' floor -100 or cap 1500 in this
        # scenario: about half of the draws are clipped back onto it).
        assert len(same) <= 3, same
        assert all(x in (lo, hi) for x in same), same
        errors.append(ep)
    std = np.concatenate(errors).std(axis=0)  # 576 errors per lead
    # sigma_rt = 0.1 * price_ref, times min(sqrt(h+1), 3): 0.1, 0.141, ..., 0.283 of price_ref at h = 7
    expected = _expected_std(f.price_rt_sigma_rel * ref, H, f.growth_cap)
    np.testing.assert_allclose(std, expected, rtol=0.12)
    assert std[-1] > 2.2 * std[0]
    assert np.all(np.diff(std[[0, 2, 4, 7]]) > 0)
