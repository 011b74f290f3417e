"""The single env's Python-float bid clearing gives the NumPy path's bits (a performance path of
:func:`vpp_gym.core.dynamics.bid_transition`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vpp_gym.core.dynamics import _position_one
from vpp_gym.markets import energy


def _numpy_position(q_low: float, q_high: float, mid: float, spread: float, price: float, em: SimpleNamespace) -> float:
    """The batch-of-one NumPy clearing of ``bid_transition`` (``_clear_curve`` without a stack)."""
    lift = lambda v: np.array([v], dtype=np.float64)  # noqa: E731
    base, prices, steps = energy.ladder(lift(q_low), lift(q_high), lift(mid), lift(spread), em.curve_segments)
    prices = np.clip(prices, em.price_floor_per_mwh, em.price_cap_per_mwh)
    return float(energy.position_at(base, prices, steps, lift(price))[0])


@pytest.mark.parametrize("k", [*range(1, 9), 12, 16])
def test_python_clearing_matches_numpy_bit_for_bit(k: int) -> None:
    rng = np.random.default_rng(k)
    em = SimpleNamespace(curve_segments=k, price_floor_per_mwh=-100.0, price_cap_per_mwh=1500.0)
    cases = []
    for _ in range(800):
        a = rng.uniform(-1.0, 1.0, 4)
        q_low, q_high = float(a[0]) * 7.3, float(a[1]) * 7.3
        mid, spread = 400.0 + float(a[2]) * 1900.0, (float(a[3]) + 1.0) * 0.5 * 1900.0
        price = float(rng.uniform(-200.0, 1600.0))
        cases.append((q_low, q_high, mid, spread, price))
        # a price exactly at a segment's price, equal ends, no spread, signed zeros
        seg = mid + spread * (2.0 * (int(rng.integers(k)) + 0.5) / k - 1.0)
        cases += [(q_low, q_high, mid, spread, seg), (q_low, q_low, mid, spread, price), (q_low, q_high, mid, 0.0, mid)]
    cases += [(0.0, -0.0, 1.0, 0.0, 1.0), (-0.0, 0.0, 1.0, 0.0, 0.0), (-0.0, -0.0, 0.0, 0.0, 0.0)]
    for case in cases:
        got, want = _position_one(*case, em), _numpy_position(*case, em)
        assert np.float64(got).tobytes() == np.float64(want).tobytes(), case
