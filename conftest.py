"""Repository-wide pytest set-up: the suite runs the same from any working directory.

- pytest puts the folder of this root ``conftest.py`` (the repository root) first on ``sys.path``,
  so the checkout's ``vpp_gym`` and ``agents`` are the code under test whether or not (and however)
  the package is installed; ``cd tests/env && pytest`` and ``cd /tmp && pytest /path/to/repo/tests``
  both find ``pyproject.toml``'s settings (markers, parallel workers) through this rootdir.
- Every test runs in its own empty temporary working directory (:func:`_isolated_cwd`): a path
  relative to the cwd can only work when the test made it, so no test depends on where pytest was
  started, and none writes into the checkout. Tests find repository files from ``__file__`` and
  shipped configs with :func:`vpp_gym.config.packaged_config`.

Markers (registered in ``pyproject.toml``, ``--strict-markers``): ``slow`` (the slowest tests;
``pytest -m "not slow"`` skips them), ``rl`` (needs torch and Stable-Baselines3; such tests skip
when those are absent) and ``realdata`` (reads ``../shared/data`` beside the checkout; skips when
it is absent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with its ``tmp_path`` as the working directory."""
    monkeypatch.chdir(tmp_path)
    yield


def perturbed_series(series: Any, first_row: dict[str, int], default: int) -> Any:
    """A copy of a :class:`~vpp_gym.data.series.ScenarioSeries` whose every column is scaled and shifted
    (within its schema range, seeded) from its first row on: ``first_row[name]``, else ``default``.
    For information tests: what becomes known only after a time must not change what is observed before."""
    from vpp_gym.data.schema import BY_NAME

    rng = np.random.default_rng(3)
    values = {}
    for name, v in series.values.items():
        out = v.copy()
        col = BY_NAME[name]
        tail = out[first_row.get(name, default) :]
        span = max(float(np.ptp(v)), 1e-3)
        tail[:] = np.clip(
            tail * rng.uniform(0.5, 1.5, len(tail)) + rng.normal(0.0, 0.2 * span, len(tail)), col.lo, col.hi
        )
        values[name] = out
    return dataclasses.replace(series, values=values)


@pytest.fixture
def perturb() -> Callable[[Any, dict[str, int], int], Any]:
    """:func:`perturbed_series`, for tests in any folder."""
    return perturbed_series
