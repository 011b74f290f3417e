"""Golden trajectories: every task, seed, preset and the vector env replay the recorded trajectories bit
for bit (observations, rewards, every ledger entry), and the planners reach the recorded objectives.

The recordings (``trajectories.npz``, ``objectives.json``) are made by ``generate.py``. A refactoring
must keep this test green unchanged; a change of dynamics regenerates them together with a version
bump of the task ids and a ``CHANGELOG.md`` entry.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .cases import CASES, Case, planner_objectives, run_case

HERE = Path(__file__).resolve().parent
ORACLE_REL = 1e-9


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    with np.load(HERE / "trajectories.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_trajectory_is_unchanged(case: Case, recorded: dict[str, np.ndarray]) -> None:
    got = run_case(case)
    prefix = f"{case.name}/"
    want = {k.removeprefix(prefix): v for k, v in recorded.items() if k.startswith(prefix)}
    assert sorted(got) == sorted(want), f"ledger keys changed: {sorted(set(got) ^ set(want))}"
    for key, value in want.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        diff = np.flatnonzero(~((got[key] == value) | (np.isnan(got[key]) & np.isnan(value))))
        assert len(diff) == 0, (
            f"{case.name}: {key} differs first at flat index {diff[0]}: "
            f"{got[key].ravel()[diff[0]]!r} != {value.ravel()[diff[0]]!r}"
        )


@pytest.mark.slow
def test_planner_objectives_are_unchanged() -> None:
    want = json.loads((HERE / "objectives.json").read_text())
    got = planner_objectives()
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        assert abs(got[key] - value) <= ORACLE_REL * max(1.0, abs(value)), (key, got[key], value)
