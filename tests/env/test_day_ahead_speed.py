"""The segment-by-segment price-taker clearing of a bid step gives the bits of the NumPy ``(B, K)`` path
(:func:`~vpp_gym.markets.energy.ladder` then :func:`~vpp_gym.markets.energy.position_at`), on Python floats
(single env) and on arrays (vector env): a performance path of :func:`vpp_gym.core.dynamics.bid_transition`."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vpp_gym.core.dynamics import _price_taker_position
from vpp_gym.markets import energy
from vpp_gym.ops import SCALAR


def _numpy_position(
    q_low: np.ndarray, q_high: np.ndarray, mid: np.ndarray, spread: np.ndarray, price: np.ndarray, em: SimpleNamespace
) -> np.ndarray:
    """The NumPy clearing of ``bid_transition`` (``_clear_curve`` without a stack), ``(B,)`` rows."""
    base, prices, steps = energy.ladder(q_low, q_high, mid, spread, em.curve_segments)
    prices = np.clip(prices, em.price_floor_per_mwh, em.price_cap_per_mwh)
    return energy.position_at(base, prices, steps, price)


@pytest.mark.parametrize("k", [*range(1, 9), 12, 16])
def test_segment_clearing_matches_numpy_bit_for_bit(k: int) -> None:
    rng = np.random.default_rng(k)
    em = SimpleNamespace(curve_segments=k, price_floor_per_mwh=-100.0, price_cap_per_mwh=1500.0)
    cases = []
    for _ in range(400):
        a = rng.uniform(-1.0, 1.0, 4)
        q_low, q_high = float(a[0]) * 7.3, float(a[1]) * 7.3
        mid, spread = 400.0 + float(a[2]) * 1900.0, (float(a[3]) + 1.0) * 0.5 * 1900.0
        price = float(rng.uniform(-200.0, 1600.0))
        cases.append((q_low, q_high, mid, spread, price))
        # a price exactly at a segment's price, equal ends, no spread, signed zeros
        seg = mid + spread * (2.0 * (int(rng.integers(k)) + 0.5) / k - 1.0)
        cases += [(q_low, q_high, mid, spread, seg), (q_low, q_low, mid, spread, price), (q_low, q_high, mid, 0.0, mid)]
    cases += [(0.0, -0.0, 1.0, 0.0, 1.0), (-0.0, 0.0, 1.0, 0.0, 0.0), (-0.0, -0.0, 0.0, 0.0, 0.0)]
    rows = [np.array(col, dtype=np.float64) for col in zip(*cases, strict=True)]
    want = _numpy_position(*rows, em)
    assert _price_taker_position(*rows, em, np).tobytes() == want.tobytes()
    for i, case in enumerate(cases):
        got = _price_taker_position(*case, em, SCALAR)
        assert isinstance(got, float) and np.float64(got).tobytes() == want[i].tobytes(), case
        one = _numpy_position(*(np.array([v]) for v in case), em)  # a batch of one, as the NumPy path has it
        assert one.tobytes() == want[i : i + 1].tobytes(), case
