"""Publish a trained run's model as a small, self-checking folder (``vpp-gym publish``), and index them.

``vpp-gym publish RUN --name NAME [--models-dir models] [--which best] [--force]`` copies, from a
finished run folder of ``vpp-gym train``:

```
models/NAME/
  best/               the unit (or final/ with --which final): model.zip, normalizer.npz +
                      normalizer.json (no pickle), manifest.json (sizes, SHA-256, step, spaces)
  config.yaml         the run's resolved experiment config
  scenario.yaml       the resolved scenario (the layout check names differing keys with it)
  command.txt         the training command
  meta.json           seeds, git revision, library versions, start time, resumptions
  summary.json        training steps, best validation profit, wall time
  curve.csv           validation KPIs over training
  published.json      written last: where it came from, the figures of models/README.md and every
                      file above with its size and SHA-256
```

and nothing else: no checkpoint (nor SAC's replay buffer), no TensorBoard logs, no other unit. The
folder loads through the same path as a run folder (:meth:`agents.rl.policy.RlPolicy.check` /
``load``, ``vpp-gym evaluate --policies ppo=models/NAME``), which checks every file against
``published.json`` and the unit against its manifest first, and the observation and action layouts
against the env's.

At publish time the unit plays test day 0 of the task's evaluation config
(``configs/evaluation/<task>.yaml``: the env seeded ``seed``, the first day of its split), loaded
from the new folder through that same path; the profit is recorded in ``published.json``
(``test_day``) and in the index, and ``tests/agents/rl/test_published_models.py`` plays the day again.

An existing ``models/NAME`` is never overwritten without ``force`` (and then only if it is a
published model); the folder is written beside as ``.NAME.tmp-<pid>`` and renamed into place. A
published folder above :data:`SIZE_LIMIT` bytes is published with a warning (the repository keeps
models of at most about 2 MB). After each publish ``models/README.md`` is regenerated from every
``published.json`` under the models folder (:func:`write_index`).

The models are not in the wheel: they are files of the repository checkout, read from ``models/``
of the checkout by ``experiments/benchmark.py`` and the tests (:data:`MODELS_DIR`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents import runinfo
from agents.rl.artifacts import (
    MANIFEST,
    MODEL,
    PUBLISHED,
    config_diff,
    file_records,
    read_published,
    verify_published,
    verify_unit,
)
from agents.runfiles import RunFolderError, fsync_dir, fsync_tree, read_json
from vpp_gym.validation import ConfigError, to_mapping

MODELS_DIR = runinfo.ROOT / "models"
"""The checkout's published models (not installed with the package)."""
SIZE_LIMIT = 2 * 1024 * 1024
"""A published folder above this many bytes (2 MiB) is published with a warning."""
RECORDS = ("config.yaml", "scenario.yaml", "command.txt", "meta.json", "summary.json", "curve.csv")
"""The run's records copied beside the unit (``curve.csv`` if present; the others are required)."""
OPTIONAL = ("curve.csv",)
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
FORMAT = 1
INDEX = "README.md"


def evaluation_config_for(env_id: str) -> tuple[str, Path]:
    """The committed evaluation config of a task: ``configs/evaluation/<task>.yaml`` (``<task>_v0.yaml`` for v0).

    Returns ``(the path as written in the repository, the file)``.

    Raises:
        ConfigError: no committed evaluation config evaluates ``env_id``.
    """
    from agents.evaluate import load_evaluation
    from vpp_gym.config import packaged_config

    task, _, version = env_id.split("/")[-1].rpartition("-")
    for stem in (task.lower(), f"{task.lower()}_{version}"):
        rel = f"configs/evaluation/{stem}.yaml"
        try:
            path = packaged_config(rel)
        except FileNotFoundError:
            continue
        if load_evaluation(path).env_id == env_id:
            return rel, path
    raise ConfigError(f"no committed evaluation config evaluates {env_id} (configs/evaluation/{task.lower()}.yaml)")


def committed_config(run: Path) -> tuple[str | None, dict[str, Any]]:
    """The committed experiment config a run was trained with, and the keys the run changed.

    Looks for ``configs/experiments/<name>.yaml`` or ``configs/quick/<name>.yaml`` (``name`` from the
    run's config). Returns ``(path as in the repository, {dotted key: the run's value})`` (the seed
    is not counted as a change), or ``(None, {})`` when there is no such file.
    """
    from agents.rl.config import load_experiment
    from agents.rl.train import resolve
    from vpp_gym.config import packaged_config

    trained, _ = load_experiment(run / "config.yaml")
    for folder in ("experiments", "quick"):
        rel = f"configs/{folder}/{trained.name}.yaml"
        try:
            path = packaged_config(rel)
        except FileNotFoundError:
            continue
        committed, base = load_experiment(path, {"seed": trained.seed})
        diff = config_diff(to_mapping(resolve(committed, base)), to_mapping(trained))
        return rel, {key: here for key, _theirs, here in diff}
    return None, {}


def _check_run(run: Path, which: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A finished run with a complete unit ``which``: ``(meta, summary, unit manifest)``."""
    from agents.rl.train import INCOMPLETE, run_status

    if not run.is_dir():
        raise RunFolderError(f"{run} is not a folder (give the run folder of vpp-gym train)")
    if read_published(run) is not None:
        raise RunFolderError(f"{run} is a published model already; publish the run folder it came from")
    status = run_status(run)
    if status is None:
        raise RunFolderError(f"{run} is not a run folder of vpp-gym train (no config.yaml nor meta.json)")
    if status != "finished":
        raise RunFolderError(
            f"{run} has not finished (marked {INCOMPLETE} or no summary.json); publish a finished run "
            f"(vpp-gym train --resume {run} finishes it)"
        )
    for name in RECORDS:
        if name not in OPTIONAL and not (run / name).is_file():
            raise RunFolderError(f"{run / name} is missing; the run folder is incomplete")
    meta = read_json(run / "meta.json", "the run's record")
    summary = read_json(run / "summary.json", "the run's summary")
    if not isinstance(meta, dict) or meta.get("algo") not in ("ppo", "sac"):
        raise RunFolderError(f"{run / 'meta.json'} names no algorithm (ppo or sac); the file is damaged")
    if not isinstance(summary, dict):
        raise RunFolderError(f"{run / 'summary.json'} is damaged (not a mapping)")
    unit = run / which
    if not unit.is_dir():
        raise RunFolderError(f"{unit}/ is missing: the run has no {which} unit")
    manifest = verify_unit(unit)  # sizes and SHA-256 before anything is copied
    return meta, summary, manifest


def played_test_day(folder: Path, env_id: str, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The published unit's profit on test day 0 of the task's evaluation config, as ``vpp-gym evaluate`` plays it.

    Loaded from ``folder`` through :func:`agents.evaluate.evaluation_policy` (the checks of
    :meth:`~agents.rl.policy.RlPolicy.check`), played with :func:`agents.evaluate.run_recorded` on
    day 0 of the config's split with the env seeded ``seed``; the profit is
    :func:`agents.kpi.episode_kpis`' (the ``profit`` column of ``kpis.csv``).
    """
    from agents.evaluate import evaluation_policy, load_evaluation, run_recorded
    from agents.kpi import episode_kpis

    rel, path = evaluation_config_for(env_id)
    cfg = load_evaluation(path, {"episodes": 1})
    env = cfg.make_env()
    policy = evaluation_policy("agent", str(folder), env, cfg)
    rows = run_recorded(env, policy, cfg.seed, {"split": cfg.split, "day": 0})
    profit = float(episode_kpis(rows)["profit"])
    log(f"  test day 0 of {rel} ({rows[0]['local_time'][:10]}): profit {profit:,.1f}")
    return {
        "config": rel,
        "split": cfg.split,
        "day": 0,
        "seed": cfg.seed,
        "date": rows[0]["local_time"][:10],
        "profit": profit,
    }


def drop_optimizer_state(unit: Path, algo: str) -> int:
    """Re-save the unit's model without its optimisers' state (Adam's moment estimates); returns the bytes saved.

    The moments are needed to continue training, not to act: they are two thirds of a PPO model's
    file. The policy's parameters are unchanged (checked: the re-saved model's actions on a batch of
    observations are equal bit for bit); the unit's manifest is rewritten with the new file's size and
    hash and says ``"optimizer_state": "dropped"``. Fine-tuning a published model restarts Adam.
    """
    import numpy as np

    from agents.rl.policy import load_model

    path = unit / MODEL
    before = path.stat().st_size
    model = load_model(algo, path, device="cpu")
    names = [n for n in model._get_torch_save_params()[0] if n.split(".")[-1].endswith("optimizer")]
    for name in names:
        obj: Any = model
        for part in name.split("."):
            obj = getattr(obj, part)
        obj.state.clear()
    probe = np.random.default_rng(0).standard_normal((8, *model.observation_space.shape)).astype(np.float32)
    want = model.predict(probe, deterministic=True)[0]
    tmp = unit / ".model.tmp.zip"
    model.save(tmp)
    got = load_model(algo, tmp, device="cpu").predict(probe, deterministic=True)[0]
    if not np.array_equal(want, got):
        tmp.unlink()
        raise RunFolderError(f"{path}: the model re-saved without its optimiser state acts differently; not published")
    os.replace(tmp, path)
    manifest = read_json(unit / MANIFEST, "the unit's manifest")
    manifest["files"][MODEL] = {"bytes": path.stat().st_size, "sha256": file_records(unit)[MODEL]["sha256"]}
    manifest["optimizer_state"] = "dropped"
    (unit / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return before - path.stat().st_size


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    record["files"] = file_records(folder)
    record["bytes"] = sum(int(r["bytes"]) for r in record["files"].values())
    (folder / PUBLISHED).write_text(json.dumps(record, indent=1) + "\n")


def publish(
    run: str | Path,
    name: str,
    models_dir: str | Path = "models",
    which: str = "best",
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Publish the unit ``which`` of the finished run ``run`` as ``models_dir/name`` (module docstring).

    Returns the published folder; regenerates ``models_dir/README.md``.

    Raises:
        ConfigError: a bad name or ``which``.
        RunFolderError: the run is unfinished or damaged, or ``models_dir/name`` exists (without
            ``force``, or it is not a published model).
    """
    run, models = Path(run), Path(models_dir)
    if not NAME.fullmatch(name):
        raise ConfigError(f"--name {name!r}: letters, digits, '_', '.' and '-' only, not starting with '.' or '-'")
    if which not in ("best", "final"):
        raise ConfigError(f"--which {which!r}: expected 'best' or 'final'")
    dest = models / name
    if dest.exists() or dest.is_symlink():
        if not force:
            raise RunFolderError(f"{dest} exists; give another --name, or --force to replace that published model")
        if not dest.is_dir() or read_published(dest) is None:
            raise RunFolderError(f"{dest} exists and is not a published model ({PUBLISHED} missing); not touching it")
    meta, summary, manifest = _check_run(run, which)
    evaluation_config_for(str(meta.get("env_id")))  # a task without an evaluation config fails before any copy
    config_file, changes = committed_config(run)
    models.mkdir(parents=True, exist_ok=True)
    tmp = models / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        shutil.copytree(run / which, tmp / which)
        for rec in RECORDS:
            if (run / rec).is_file():
                shutil.copy2(run / rec, tmp / rec)
        verify_unit(tmp / which)  # the copy: a unit replaced while it was copied is caught here
        saved = drop_optimizer_state(tmp / which, str(meta.get("algo")))
        verify_unit(tmp / which)
        log(f"  {MODEL}: optimiser state dropped ({saved:,} bytes less; not needed to act)")
        record: dict[str, Any] = {
            "format": FORMAT,
            "name": name,
            "unit": which,
            "source_run": run.resolve().name,
            "published": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "published_at_revision": runinfo.git_revision(),
            "env_id": meta.get("env_id"),
            "algo": meta.get("algo"),
            "seed": (meta.get("seeds") or {}).get("agent"),
            "config_name": meta.get("name"),
            "config_file": config_file,
            "config_changes": changes,
            "git_revision": meta.get("git_revision"),
            "resumed_at_revisions": [r.get("git_revision") for r in meta.get("resumed") or []],
            "training_steps": summary.get("num_timesteps"),
            "unit_steps": manifest.get("timesteps"),
            "wall_s": summary.get("wall_s"),
            "val_profit": manifest.get("val_profit"),
            "versions": meta.get("versions"),
        }
        _write_record(tmp, record)  # provisional (no test day yet): the folder now loads as a published model
        record["test_day"] = played_test_day(tmp, str(meta.get("env_id")), log)
        _write_record(tmp, record)
        verify_published(tmp)
        fsync_tree(tmp)
        if record["bytes"] > SIZE_LIMIT:
            big = max(record["files"].items(), key=lambda kv: kv[1]["bytes"])
            print(
                f"vpp-gym publish: warning: {name} is {record['bytes'] / 1e6:.2f} MB, above the "
                f"{SIZE_LIMIT / 1e6:.1f} MB the repository keeps per model (largest: {big[0]}, "
                f"{big[1]['bytes'] / 1e6:.2f} MB); published anyway",
                file=sys.stderr,
                flush=True,
            )
        old = models / f".{name}.old-{os.getpid()}"
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        fsync_dir(models)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_index(models)
    log(f"published {run}/{which} as {dest} ({record['bytes'] / 1e6:.2f} MB); index {models / INDEX}")
    return dest


def published_models(models_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``{name: published.json}`` of every published model directly under ``models_dir`` (sizes not checked)."""
    out: dict[str, dict[str, Any]] = {}
    folder = Path(models_dir)
    if not folder.is_dir():
        return out
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and not sub.name.startswith("."):
            record = read_published(sub)
            if record is not None:
                out[sub.name] = record
    return out


def _fmt(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _hours(seconds: Any) -> str:
    if seconds is None:
        return "–"
    s = float(seconds)
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def write_index(models_dir: str | Path) -> Path:
    """Regenerate ``models_dir/README.md``: one table row per published model (from its ``published.json``)."""
    models = Path(models_dir)
    rows = published_models(models)
    lines = [
        "# Published models",
        "",
        "Generated by `vpp-gym publish` (`agents/rl/publish.py`) from each folder's `published.json`; do not edit "
        "by hand. Each folder holds the best (or final) unit of one run of `vpp-gym train` (SB3 `model.zip`, "
        "the normaliser as `normalizer.npz` + `normalizer.json`, no pickle, and its `manifest.json`) with the "
        "run's config, scenario, command, `meta.json`, `summary.json` and `curve.csv`; `published.json` lists "
        "every file with its size and SHA-256, checked before the model is loaded. Evaluate one with "
        "`vpp-gym evaluate --config configs/evaluation/<task>.yaml --policies rule,mpc,ppo=models/NAME`; "
        "`python experiments/benchmark.py` evaluates every `models/<algo>_<task>_s<seed>`. The models are files of "
        "the repository, not of the wheel: evaluate them from a checkout (or copy a folder; it is self-contained). "
        "**Load only models you trust**: SB3's `model.zip` can run code when it is loaded.",
        "",
        "Columns: training steps = the run's total (the unit's own step in brackets when it differs); wall time of "
        "the training; validation profit = the unit's mean profit per day on the run's validation days (CNY); "
        "test day 0 = its profit on the first test day of the evaluation config (recorded at publish time and "
        "checked by `tests/agents/rl/test_published_models.py`); config = the committed experiment config and the "
        "keys the run changed.",
        "",
        "| name | env id | config | algo | seed | git revision | training steps | wall time | validation profit "
        "| test day 0 profit | size |",
        "| --- | --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in rows.items():
        config = f"`{r['config_file']}`" if r.get("config_file") else f"{r.get('config_name')} (no committed file)"
        changes = r.get("config_changes") or {}
        if changes:
            shown = ", ".join(f"{k}={v}" for k, v in list(changes.items())[:4])
            config += f" with {shown}{' ...' if len(changes) > 4 else ''}"
        steps = _fmt(r.get("training_steps"), ",")
        if r.get("unit_steps") not in (None, r.get("training_steps")):
            steps += f" ({r['unit_steps']:,})"
        rev = str(r.get("git_revision") or "–")
        rev = rev[:10] + (" (uncommitted changes)" if "uncommitted" in rev else "")
        size = float(r.get("bytes") or 0) / 1e6
        test = r.get("test_day") or {}
        lines.append(
            f"| `{name}` | {r.get('env_id')} | {config} | {r.get('algo')} | {r.get('seed')} | {rev} | {steps} | "
            f"{_hours(r.get('wall_s'))} | {_fmt(r.get('val_profit'), ',.1f')} | {_fmt(test.get('profit'), ',.1f')} | "
            f"{size:.2f} MB{' (above 2 MiB)' if size * 1e6 > SIZE_LIMIT else ''} |"
        )
    if not rows:
        lines.append("| (none published yet) | | | | | | | | | | |")
    lines.append("")
    path = models / INDEX
    path.write_text("\n".join(lines))
    return path
