"""The two array namespaces the pure core runs on.

Every dynamics and settlement function takes an ``xp`` argument and uses only arithmetic
operators, ``abs`` and ``xp.minimum`` / ``xp.maximum`` / ``xp.where``. With ``xp = numpy`` the
arguments are arrays with a leading batch dimension (the vector env, the benchmarks); with
``xp = SCALAR`` they are Python floats: a batch of one without per-operation array overhead,
which is what the single Gymnasium env uses. IEEE arithmetic is the same in both, so one row of a
batch and the single env give identical numbers from the same formulas.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ScalarOps:
    """``minimum`` / ``maximum`` / ``where`` on Python scalars, mirroring NumPy's element-wise versions."""

    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        """``a`` if ``cond`` else ``b``."""
        return a if cond else b


SCALAR = ScalarOps()

Array = Any
"""A NumPy array with a leading batch dimension, or a Python float (``xp = SCALAR``)."""


def lift(v: Any, batched: bool) -> Any:
    """A scalar as a NumPy batch of one (arrays pass through): the way into a NumPy island."""
    return v if batched else np.array([v], dtype=np.float64)


def lower(v: Any, batched: bool) -> Any:
    """A batch of one back to a Python float (arrays pass through): the way out of a NumPy island."""
    return v if batched else float(v[0])
