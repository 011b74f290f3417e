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

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with its ``tmp_path`` as the working directory."""
    monkeypatch.chdir(tmp_path)
    yield
