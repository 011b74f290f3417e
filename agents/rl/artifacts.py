"""What a training run saves as one unit (model, normaliser, ...) and how the unit is replaced and checked.

A unit is a folder of a run (``best/``, ``final/``, ``checkpoint/``) whose ``manifest.json`` is written
last: it lists every file with its size and SHA-256, the training step, and the observation and
action layouts the model was trained on. A unit without its manifest, or with a file that is
missing, truncated or changed, is refused with an error naming the file: the model is never
loaded without its normaliser, nor a normaliser with another model.

Replacing a unit never leaves the run without a complete one: the new unit is written to
``NAME.tmp/`` and flushed to disk, then ``NAME/`` is renamed to ``NAME.old/``, ``NAME.tmp/`` to
``NAME/``, and only then is ``NAME.old/`` removed. After a kill at any point, :func:`find_unit`
finds the newest complete one among the three (``vpp-gym train --resume`` recovers a complete
``checkpoint.tmp``).

The normaliser's statistics are stored as ``normalizer.npz`` (arrays, read with
``allow_pickle=False``) and ``normalizer.json`` (settings), which the project reads itself
(:class:`ObsNormalizer`); no pickle is loaded from a run to normalise observations. The model file
is Stable-Baselines3's zip, which can run code when loaded: load only runs you trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.runfiles import RunFolderError, fsync_dir, fsync_tree, read_json
from vpp_gym.validation import ConfigError, plain

MANIFEST = "manifest.json"
FORMAT = 1
MODEL = "model.zip"
NORMALIZER_NPZ = "normalizer.npz"
NORMALIZER_JSON = "normalizer.json"
UNITS = ("best", "final", "checkpoint")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- the normaliser ---------------------------------------------------------------------------------


@dataclass
class ObsNormalizer:
    """The running statistics of SB3's ``VecNormalize``, without the env and without pickle.

    ``normalize_obs`` computes exactly what ``VecNormalize.normalize_obs`` does.
    """

    norm_obs: bool
    norm_reward: bool
    clip_obs: float
    clip_reward: float
    gamma: float
    epsilon: float
    obs_mean: np.ndarray
    obs_var: np.ndarray
    obs_count: float
    ret_mean: np.ndarray
    ret_var: np.ndarray
    ret_count: float

    @classmethod
    def from_vecnormalize(cls, venv: Any) -> ObsNormalizer:
        """The statistics of a ``VecNormalize``."""
        return cls(
            norm_obs=bool(venv.norm_obs),
            norm_reward=bool(venv.norm_reward),
            clip_obs=float(venv.clip_obs),
            clip_reward=float(venv.clip_reward),
            gamma=float(venv.gamma),
            epsilon=float(venv.epsilon),
            obs_mean=np.array(venv.obs_rms.mean, dtype=np.float64),
            obs_var=np.array(venv.obs_rms.var, dtype=np.float64),
            obs_count=float(venv.obs_rms.count),
            ret_mean=np.array(venv.ret_rms.mean, dtype=np.float64),
            ret_var=np.array(venv.ret_rms.var, dtype=np.float64),
            ret_count=float(venv.ret_rms.count),
        )

    def save(self, folder: Path) -> None:
        """``normalizer.npz`` (arrays) and ``normalizer.json`` (settings) in ``folder``."""
        np.savez(
            folder / NORMALIZER_NPZ,
            obs_mean=self.obs_mean,
            obs_var=self.obs_var,
            ret_mean=self.ret_mean,
            ret_var=self.ret_var,
        )
        settings = {
            "norm_obs": self.norm_obs,
            "norm_reward": self.norm_reward,
            "clip_obs": self.clip_obs,
            "clip_reward": self.clip_reward,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "obs_count": self.obs_count,
            "ret_count": self.ret_count,
        }
        (folder / NORMALIZER_JSON).write_text(json.dumps(settings, indent=1))

    @classmethod
    def load(cls, folder: Path) -> ObsNormalizer:
        """Read what :meth:`save` wrote (no pickle); errors name the file."""
        settings = read_json(folder / NORMALIZER_JSON, "the normaliser's settings")
        path = folder / NORMALIZER_NPZ
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {
                    k: np.array(data[k], dtype=np.float64) for k in ("obs_mean", "obs_var", "ret_mean", "ret_var")
                }
        except FileNotFoundError:
            raise RunFolderError(f"{path} is missing: the normaliser's statistics") from None
        except (OSError, ValueError, KeyError) as err:
            raise RunFolderError(f"{path}: cannot read the normaliser's statistics ({err})") from None
        try:
            return cls(
                norm_obs=bool(settings["norm_obs"]),
                norm_reward=bool(settings["norm_reward"]),
                clip_obs=float(settings["clip_obs"]),
                clip_reward=float(settings["clip_reward"]),
                gamma=float(settings["gamma"]),
                epsilon=float(settings["epsilon"]),
                obs_count=float(settings["obs_count"]),
                ret_count=float(settings["ret_count"]),
                **arrays,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise RunFolderError(f"{folder / NORMALIZER_JSON}: a setting is missing or malformed ({err})") from None

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        """Observations as the policy saw them in training (``VecNormalize.normalize_obs``)."""
        if not self.norm_obs:
            return obs
        x = np.clip((obs - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon), -self.clip_obs, self.clip_obs)
        return x.astype(np.float32)

    def apply_to(self, venv: Any) -> None:
        """Put these statistics into a fresh ``VecNormalize`` (a resumed run's)."""
        if venv.obs_rms.mean.shape != self.obs_mean.shape:
            raise RunFolderError(
                f"the saved normaliser has {self.obs_mean.shape[0]} observation rows, the env "
                f"{venv.obs_rms.mean.shape[0]}: the run's scenario no longer gives the same observation"
            )
        venv.obs_rms.mean, venv.obs_rms.var, venv.obs_rms.count = (
            self.obs_mean.copy(),
            self.obs_var.copy(),
            self.obs_count,
        )
        venv.ret_rms.mean, venv.ret_rms.var, venv.ret_rms.count = (
            self.ret_mean.copy(),
            self.ret_var.copy(),
            self.ret_count,
        )


# -- units ------------------------------------------------------------------------------------------


def save_unit(run: Path, name: str, write: Callable[[Path], None], info: dict[str, Any]) -> Path:
    """Write a unit ``run/name`` atomically (module docstring); returns its path.

    Args:
        run: the run folder.
        name: ``best``, ``final`` or ``checkpoint``.
        write: writes the unit's files into the folder it is given.
        info: recorded in the manifest (``timesteps``, ``spaces``, ...).
    """
    tmp, final, old = run / f"{name}.tmp", run / name, run / f"{name}.old"
    shutil.rmtree(tmp, ignore_errors=True)  # a half-written one of this process; complete units are elsewhere
    tmp.mkdir()
    write(tmp)
    files = {}
    for p in sorted(tmp.iterdir()):
        files[p.name] = {"bytes": p.stat().st_size, "sha256": _sha256(p)}
    fsync_tree(tmp)
    manifest = {"format": FORMAT, "unit": name, **info, "files": files}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    fsync_tree(tmp)  # the manifest, last: the unit is complete from here on
    shutil.rmtree(old, ignore_errors=True)  # left by an earlier replacement: tmp is complete and newer
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    fsync_dir(run)
    shutil.rmtree(old, ignore_errors=True)
    return final


def read_manifest(unit: Path) -> dict[str, Any]:
    """The manifest of a unit; a :class:`RunFolderError` naming it when it is missing or damaged."""
    path = unit / MANIFEST
    if not path.is_file():
        raise RunFolderError(
            f"{path} is missing: {unit} was not saved completely (the manifest is written last); "
            "use another unit of the run or train it again"
        )
    manifest = read_json(path, "the unit's manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise RunFolderError(f"{path} is not a manifest of vpp-gym train (it lists no files)")
    return manifest


def verify_unit(unit: Path, hashes: bool = True) -> dict[str, Any]:
    """Check every file of a unit against its manifest (sizes, and SHA-256 if ``hashes``); returns the manifest.

    Raises:
        RunFolderError: naming the first file that is missing, truncated or changed.
    """
    manifest = read_manifest(unit)
    _check_files(unit, manifest["files"], hashes, f"the manifest of {unit}", "its manifest", "the unit")
    return manifest


def _check_files(folder: Path, files: dict[str, Any], hashes: bool, lister: str, record: str, whole: str) -> None:
    """Check the ``files`` (relative path -> ``bytes``, ``sha256``) below ``folder``; errors name the file,
    the record that lists it (``lister``, ``record``) and what is incomplete (``whole``)."""
    for rel, rec in files.items():
        p = folder / rel
        if not p.is_file():
            raise RunFolderError(f"{p} is missing ({lister} lists it); {whole} is incomplete")
        size = p.stat().st_size
        if size != rec.get("bytes"):
            raise RunFolderError(
                f"{p} is truncated or was changed: {size:,} bytes, {record} records {rec.get('bytes'):,}"
            )
        if hashes and _sha256(p) != rec.get("sha256"):
            raise RunFolderError(f"{p} was changed or is damaged: its SHA-256 differs from the one in {record}")


def _complete(path: Path) -> dict[str, Any] | None:
    try:
        return verify_unit(path, hashes=False) if path.is_dir() else None
    except RunFolderError:
        return None


def find_unit(run: Path, name: str) -> Path | None:
    """The newest complete unit among ``name/``, ``name.tmp/`` and ``name.old/`` (by training step), or None."""
    best: tuple[int, int, Path] | None = None
    for rank, path in enumerate((run / name, run / f"{name}.tmp", run / f"{name}.old")):
        manifest = _complete(path)
        if manifest is None:
            continue
        key = (int(manifest.get("timesteps") or 0), -rank, path)
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else best[2]


def recover_unit(run: Path, name: str) -> Path | None:
    """Make the newest complete unit ``run/name`` again after a kill (the caller holds the run's lock).

    Older or incomplete copies (``name.tmp``, ``name.old``) are removed: they were written by this run.
    """
    found = find_unit(run, name)
    if found is None:
        return None
    final = run / name
    if found != final:
        if final.exists():
            shutil.rmtree(final)
        os.replace(found, final)
        fsync_dir(run)
    for leftover in (run / f"{name}.tmp", run / f"{name}.old"):
        shutil.rmtree(leftover, ignore_errors=True)
    return final


def spaces_record(venv: Any) -> dict[str, Any]:
    """The observation and action layouts of a training ``VecEnv`` (names and shapes), for the manifest."""
    return {
        "observation_names": list(venv.get_attr("observation_names")[0]),
        "action_names": list(venv.get_attr("action_names")[0]),
        "observation_shape": list(venv.observation_space.shape),
        "action_shape": list(venv.action_space.shape),
    }


def config_diff(run: Any, here: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Dotted keys whose values differ between two config mappings, with both values (absent: None)."""
    out: list[tuple[str, Any, Any]] = []
    if isinstance(run, dict) and isinstance(here, dict):
        for key in list(run) + [k for k in here if k not in run]:
            out += config_diff(run.get(key), here.get(key), f"{prefix}.{key}" if prefix else str(key))
    elif run != here:
        out.append((prefix, run, here))
    return out


def check_spaces(
    recorded: dict[str, Any] | None, actual: dict[str, Any], run: str, keys: list[tuple[str, Any, Any]] | None = None
) -> None:
    """The observation and action layouts a model was trained on must be the env's.

    Args:
        recorded: the unit's ``spaces`` (manifest); None for a run that did not record them.
        actual: :func:`spaces_record` of the env, or the same keys of a single env.
        run: the run, for the message.
        keys: the config keys that differ between the run's scenario and the env's (:func:`config_diff`),
            named in the message.

    Raises:
        ConfigError: naming the rows only one side has and the differing config keys.
    """
    if not recorded:
        return
    problems = []
    for kind in ("observation", "action"):
        mine, theirs = list(recorded.get(f"{kind}_names") or []), list(actual[f"{kind}_names"])
        if mine == theirs:
            continue
        only_run = [n for n in mine if n not in theirs]
        only_env = [n for n in theirs if n not in mine]
        detail = []
        if only_run:
            detail.append(f"only the run's: {', '.join(only_run[:6])}{' ...' if len(only_run) > 6 else ''}")
        if only_env:
            detail.append(f"only this env's: {', '.join(only_env[:6])}{' ...' if len(only_env) > 6 else ''}")
        problems.append(
            f"its {kind} has {len(mine)} rows, this env's {len(theirs)} ({'; '.join(detail) or 'reordered'})"
        )
    if not problems:
        return
    msg = f"{run} was trained on another layout than this env's: {'; '.join(problems)}"
    keys = [k for k in keys or [] if k[0] != "name"]
    if keys:

        def brief(value: Any) -> str:
            return "a section" if isinstance(value, dict) else "null" if value is None else plain(value)

        shown = "; ".join(f"{k} (run: {brief(a)}, here: {brief(b)})" for k, a, b in keys[:8])
        msg += f". Config keys that differ: {shown}{' ...' if len(keys) > 8 else ''}"
    raise ConfigError(msg + "; evaluate it on the scenario it was trained on")


# -- published models -------------------------------------------------------------------------------

PUBLISHED = "published.json"
"""The record of a published model folder (``vpp-gym publish``, :mod:`agents.rl.publish`), written last."""


def read_published(folder: Path) -> dict[str, Any] | None:
    """The record of a published model folder, or None if ``folder`` is not one (no ``published.json``).

    Raises:
        RunFolderError: the record is damaged (not JSON, no unit or file list).
    """
    path = Path(folder) / PUBLISHED
    if not path.is_file():
        return None
    record = read_json(path, "the published model's record")
    if (
        not isinstance(record, dict)
        or record.get("unit") not in ("best", "final")
        or not isinstance(record.get("files"), dict)
    ):
        raise RunFolderError(f"{path} is not a record of vpp-gym publish (it names no unit or no files)")
    return record


def verify_published(folder: Path, hashes: bool = True) -> dict[str, Any]:
    """Check every file of a published model folder against its ``published.json`` (sizes, SHA-256).

    The unit inside (``best/`` or ``final/``) is checked against its own manifest as well.

    Raises:
        RunFolderError: not a published folder, or naming the first file that is missing or changed.
    """
    folder = Path(folder)
    record = read_published(folder)
    if record is None:
        raise RunFolderError(f"{folder} is not a published model (no {PUBLISHED})")
    listed = str(folder / PUBLISHED)
    _check_files(folder, record["files"], hashes, listed, listed, "the published model")
    verify_unit(folder / str(record["unit"]), hashes=hashes)
    return record


def file_records(folder: Path, skip: tuple[str, ...] = (PUBLISHED,)) -> dict[str, dict[str, Any]]:
    """Every file below ``folder`` (relative POSIX path) with its size and SHA-256, but those named in ``skip``."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in skip:
            out[rel] = {"bytes": p.stat().st_size, "sha256": _sha256(p)}
    return out
