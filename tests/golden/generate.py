"""Record the golden trajectories (``python tests/golden/generate.py``).

Run only when the dynamics are meant to change (and then bump the task ids' version and say so in
``CHANGELOG.md``); a behaviour-preserving change must leave ``test_golden.py`` green without it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, planner_objectives, run_case  # noqa: E402


def main() -> None:
    """Write ``trajectories.npz`` and ``objectives.json`` beside this file."""
    arrays: dict[str, np.ndarray] = {}
    for case in CASES:
        for key, value in run_case(case).items():
            arrays[f"{case.name}/{key}"] = value
        print(case.name, flush=True)
    np.savez_compressed(HERE / "trajectories.npz", **arrays)
    objectives = planner_objectives()
    (HERE / "objectives.json").write_text(json.dumps(objectives, indent=1, sort_keys=True) + "\n")
    print(json.dumps(objectives, indent=1))


if __name__ == "__main__":
    main()
