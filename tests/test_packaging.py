"""Packaging: every code and config folder ships, the version is set once, shipped configs are found."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest

import vpp_gym
from vpp_gym.config import packaged_config

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_and_config_folder_is_listed_in_pyproject() -> None:
    setuptools = PYPROJECT["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    code = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("vpp_gym", "agents")
        for init in (ROOT / top).rglob("__init__.py")
    }
    configs = {"vpp_gym.configs"} | {
        "vpp_gym.configs." + ".".join(d.relative_to(ROOT / "configs").parts)
        for d in (ROOT / "configs").rglob("*")
        if d.is_dir() and "__pycache__" not in d.parts
    }
    assert listed == code | configs
    assert setuptools["package-dir"] == {"vpp_gym.configs": "configs"}
    assert setuptools["package-data"] == {"vpp_gym.configs": ["**/*.yaml"]}


def test_version_is_set_once_in_the_package() -> None:
    assert "version" not in PYPROJECT["project"] and PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vpp_gym.__version__"}
    try:
        installed = importlib.metadata.version("vpp-gym")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("vpp-gym is not installed (only on sys.path)")
    assert installed == vpp_gym.__version__


def test_license_matches_pyproject() -> None:
    assert PYPROJECT["project"]["license"] == "MIT" and PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "the vpp-gym authors" in text


@pytest.mark.parametrize(
    "path", sorted((ROOT / "configs").rglob("*.yaml")), ids=lambda p: str(p.relative_to(ROOT / "configs"))
)
def test_every_config_of_the_repository_ships_with_the_package(path: Path) -> None:
    rel = path.relative_to(ROOT / "configs")
    shipped = packaged_config(rel)
    assert shipped.is_file() and shipped.read_bytes() == path.read_bytes()
    assert packaged_config(Path("configs") / rel) == shipped  # a leading configs/ is accepted
