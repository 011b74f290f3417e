"""Forecasts as the agent sees them: the realisation plus seeded errors that grow with lead time.

For a series ``x`` and an issue step ``t`` the forecast of ``x[t + h]`` (``h = 0 .. H-1``) is

    additive:        x_hat[t, h] = clip(x[t + h] + sigma * g(h) * z[t, h], lo, hi)
    multiplicative:  x_hat[t, h] = clip(x[t + h] * (1 + sigma * g(h) * z[t, h]), lo, hi)

with ``g(h) = min(sqrt(h + 1), growth_cap)`` and ``z`` standard normal draws from the episode's
generator. Only ``x_hat`` reaches the observation; the realised ``x`` is used by the settlement
alone, so the future never leaks. ``sigma = 0`` gives the realisation exactly.
"""

from __future__ import annotations

import numpy as np

from vpp_gym import rng as rnd


def lead_growth(horizon: int, growth_cap: float) -> np.ndarray:
    """The factor ``g(h)`` for ``h = 0 .. horizon-1``."""
    return np.minimum(np.sqrt(np.arange(1, horizon + 1, dtype=np.float64)), growth_cap)


def forecast_windows(
    actual: np.ndarray,
    steps: int,
    horizon: int,
    sigma: float,
    growth_cap: float,
    rng: rnd.Rng,
    lo: float,
    hi: float,
    multiplicative: bool = False,
) -> np.ndarray:
    """Forecast matrices for ``steps`` issue times.

    Args:
        actual: realisations, shape ``(B, steps + horizon - 1)`` or longer.
        steps: number of issue times ``t = 0 .. steps-1``.
        horizon: leads per issue time.
        sigma: error standard deviation at lead 0 (absolute, or relative if ``multiplicative``).
        growth_cap: cap of the growth factor ``g``.
        rng: the episode's generator (or one per row, see :mod:`vpp_gym.rng`); draws
            ``B * steps * horizon`` normals only when ``sigma > 0``.
        lo: lowest value a forecast may take.
        hi: highest value a forecast may take.
        multiplicative: relative instead of absolute errors.

    Returns:
        ``(B, steps, horizon)`` array; ``[b, t, h]`` is the forecast of ``actual[b, t + h]``.
    """
    idx = np.arange(steps)[:, None] + np.arange(horizon)[None, :]
    windows = actual[:, idx]
    if sigma == 0.0:
        return windows.copy()
    z = rnd.normal(rng, (actual.shape[0], steps, horizon))
    return with_errors(windows, z, sigma, growth_cap, lo, hi, multiplicative)


def with_errors(
    windows: np.ndarray, z: np.ndarray, sigma: float, growth_cap: float, lo: float, hi: float, multiplicative: bool
) -> np.ndarray:
    """The forecast formula on ``windows`` ``(..., horizon)`` with standard normal draws ``z`` of that shape."""
    noise = z * (sigma * lead_growth(windows.shape[-1], growth_cap))
    out = windows * (1.0 + noise) if multiplicative else windows + noise
    return np.clip(out, lo, hi)
