"""What a run folder records about how it was made: git revision and library versions.

Shared by training runs (:mod:`agents.rl.train`) and evaluations (:mod:`agents.report`), so both
``meta.json`` files describe their provenance the same way. Versions are read from the installed
distributions' metadata, so asking for torch's version does not import torch.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import vpp_gym

ROOT = Path(__file__).resolve().parents[1]
"""The checkout the ``agents`` package is imported from."""

DISTRIBUTIONS = {
    "numpy": "numpy",
    "scipy": "scipy",
    "gymnasium": "gymnasium",
    "torch": "torch",
    "stable_baselines3": "stable-baselines3",
}
"""``meta.json`` key -> distribution name of the libraries whose versions are recorded."""

NOT_INSTALLED = "not installed"


def versions() -> dict[str, str]:
    """Python, vpp_gym and library versions, and the platform (an optional library absent: ``not installed``)."""
    out = {"python": platform.python_version(), "vpp_gym": vpp_gym.__version__}
    for key, dist in DISTRIBUTIONS.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = NOT_INSTALLED
    out["platform"] = platform.platform()
    return out


def git_revision() -> str:
    """The checkout's commit (``... (with uncommitted changes)`` if tracked files differ), or why there is none."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return rev + (" (with uncommitted changes)" if dirty else "")
