"""Random draws for a batch of episodes, from one generator or from one generator per row.

A single environment owns one ``numpy.random.Generator``; the native vector environment owns one
per sub-environment, so that its row ``i`` draws exactly what a single environment seeded like it
draws (the equivalence the vector env promises). Every random draw of the episode builder goes
through these functions, whose first dimension is the batch:

* ``rng`` a ``Generator``: one draw of the whole shape (row after row);
* ``rng`` a sequence of ``B`` generators: row ``i`` drawn from ``rng[i]`` alone.

For a batch of one both give the same numbers, since a generator's stream does not depend on how
a draw is split into calls of consecutive pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Rng = np.random.Generator | Sequence[np.random.Generator]
"""One generator for the batch, or one per row."""


def _rows(rng: Sequence[np.random.Generator], shape: tuple[int, ...]) -> None:
    if len(rng) != shape[0]:
        raise ValueError(f"{len(rng)} row generators for a batch of {shape[0]} rows")


def _per_row(
    rng: Sequence[np.random.Generator],
    shape: tuple[int, ...],
    dtype: type,
    draw: Callable[[np.random.Generator, np.ndarray], object],
) -> np.ndarray:
    """Fill each row of a new ``shape`` array from its own generator with ``draw(generator, row)``."""
    _rows(rng, shape)
    out: np.ndarray = np.empty(shape, dtype=dtype)
    for g, row in zip(rng, out.reshape(shape[0], -1), strict=True):
        draw(g, row)
    return out


def normal(rng: Rng, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Standard normal draws of ``shape``; ``shape[0]`` is the batch.

    float64: NumPy's ``standard_normal``. float32: the Box-Muller transform of float32 uniforms,
    ``sqrt(-2 ln(1 - u1)) * (cos, sin)(2 pi u2)`` with each row's ``u1`` and ``u2`` its first and second
    half of uniforms, several times faster than NumPy's float32 normals; the uniforms' 24-bit
    resolution caps ``|z|`` at about 5.8 (probability of a larger normal: 1e-8).
    """
    if dtype == np.float32:
        return _box_muller(rng, shape)
    if isinstance(rng, np.random.Generator):
        return rng.standard_normal(shape, dtype=dtype)
    return _per_row(rng, shape, dtype, lambda g, row: g.standard_normal(dtype=dtype, out=row))


def _box_muller(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    batch = shape[0]
    m = int(np.prod(shape[1:], dtype=np.int64))
    k = (m + 1) // 2
    u = random(rng, (batch, 2 * k), np.float32)
    radius = np.subtract(np.float32(1.0), u[:, :k])
    np.log(radius, out=radius)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)
    angle = u[:, k:]
    angle *= np.float32(2.0 * np.pi)
    z = np.empty((batch, 2 * k), dtype=np.float32)
    np.cos(angle, out=z[:, :k])
    np.sin(angle, out=z[:, k:])
    z[:, :k] *= radius
    z[:, k:] *= radius
    return z[:, :m].reshape(shape)


def random(rng: Rng, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Uniform draws on ``[0, 1)`` of ``shape`` (float64 or float32); ``shape[0]`` is the batch."""
    if isinstance(rng, np.random.Generator):
        return rng.random(shape, dtype=dtype)
    return _per_row(rng, shape, dtype, lambda g, row: g.random(dtype=dtype, out=row))


def uniform(rng: Rng, low: float, high: float, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform draws on ``[low, high)`` of ``shape``; ``shape[0]`` is the batch."""
    if isinstance(rng, np.random.Generator):
        return rng.uniform(low, high, shape)
    _rows(rng, shape)
    return np.stack([g.uniform(low, high, shape[1:]) for g in rng])
