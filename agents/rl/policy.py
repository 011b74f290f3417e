"""A trained agent as a :class:`agents.base.Policy`: the model plus its observation normalisation.

A run folder's ``best/`` and ``final/`` units (:mod:`agents.rl.artifacts`) each hold a model and its
normaliser; a published model folder (``vpp-gym publish``, :mod:`agents.rl.publish`) holds one such
unit and the run's records, all listed with their hashes in ``published.json``. Either is checked
against its manifests before anything is loaded: a missing, truncated or changed file is an error
naming it, and a model is never used without its normaliser. The normaliser is read from
``normalizer.npz`` + ``normalizer.json`` (no pickle); the model is Stable-Baselines3's zip, which
can run code when it is loaded: **load only runs you trust**.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.rl.actions import DeadZone
from agents.rl.artifacts import (
    MANIFEST,
    MODEL,
    ObsNormalizer,
    check_spaces,
    config_diff,
    find_unit,
    read_manifest,
    read_published,
    verify_published,
    verify_unit,
)
from agents.rl.memory import MemorySpec, PlanMemory
from agents.runfiles import RunFolderError, read_json
from vpp_gym.validation import ConfigError


def load_model(algo: str, path: str | Path, **kwargs: Any) -> Any:
    """``PPO.load`` / ``SAC.load`` of a saved model (``kwargs`` passed on: ``env``, ``device``).

    A SAC model saved with n-step returns records both ``n_steps`` and the n-step buffer class, and
    SB3 warns at load that ``n_steps`` is then ignored; harmless here (inference needs no buffer, and
    a resumed run loads its pickled buffer, which keeps its own ``n_steps``), so it is silenced.
    A file SB3 cannot read is a :class:`~agents.runfiles.RunFolderError` naming it.
    """
    import warnings

    from stable_baselines3 import PPO, SAC

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`n_steps=\d+` is ignored because a custom")
        try:
            return (PPO if algo == "ppo" else SAC).load(path, **kwargs)
        except Exception as err:  # zipfile, pickle, torch and SB3 raise many kinds
            raise RunFolderError(f"cannot load the model {path}: {type(err).__name__}: {err}") from None


def dead_zone_of(manifest: dict[str, Any], unit: Path) -> DeadZone | None:
    """The battery dead zone a unit's manifest records (key ``dead_zone``; :mod:`agents.rl.actions`), or None
    when it has none; a record that is not one the trainer writes for this model's actions is an error."""
    if "dead_zone" not in manifest:
        return None
    spaces = manifest.get("spaces")
    names = spaces.get("action_names") if isinstance(spaces, dict) else None
    if not isinstance(names, list):
        raise ConfigError(
            f"{unit / MANIFEST}: a 'dead_zone' record but no spaces.action_names to check it against: "
            "the file is damaged"
        )
    return DeadZone.from_record(manifest["dead_zone"], str(unit / MANIFEST), names)


def configured_dead_zone(run: Path) -> float | None:
    """``agent.battery_dead_zone`` of a run folder's (or published model's) ``config.yaml``; None when the file or
    the key is absent or unreadable (the manifest alone then says whether the model has a dead zone)."""
    from vpp_gym.config import read_yaml

    try:
        value = read_yaml(run / "config.yaml")["agent"]["battery_dead_zone"]
    except (ConfigError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


LEGACY = ("best_model.zip", "final_model.zip", "best_vecnormalize.pkl", "final_vecnormalize.pkl")


class RlPolicy:
    """Deterministic actions of a trained SB3 model, on observations normalised as in training.

    Batch aware: ``(n_obs,)`` -> ``(A,)``, ``(B, n_obs)`` -> ``(B, A)``.

    Arguments:
        model: a Stable-Baselines3 model (PPO or SAC).
        normalizer: the training normalisation (:class:`~agents.rl.artifacts.ObsNormalizer`, or SB3's
            ``VecNormalize``), or None.
        memory: the plan memory's spec of a run trained with ``agent.memory: plan``
            (:class:`agents.rl.memory.MemorySpec`, kept in the unit's manifest), or None. With it the policy
            appends the memory's rows to each observation and records its own actions as notes; a batch
            row's memory is cleared at its episode's first step and by :meth:`reset`.
        dead_zone: the battery dead zone of a run trained with ``agent.battery_dead_zone``
            (:class:`agents.rl.actions.DeadZone`, kept in the unit's manifest), or None; with it the model's
            actions are mapped through it to the env's.
    """

    def __init__(
        self,
        model: Any,
        normalizer: Any | None = None,
        memory: MemorySpec | None = None,
        dead_zone: DeadZone | None = None,
    ) -> None:
        self.model = model
        self.normalizer = normalizer
        self.memory = PlanMemory(memory) if memory is not None else None
        self.dead_zone = dead_zone

    @staticmethod
    def check(run_dir: str | Path, which: str = "best", env: Any | None = None) -> tuple[str, Path]:
        """Everything :meth:`load` checks before it loads the model (nothing is unpickled).

        The run folder's ``meta.json``, the unit's files against its manifest (sizes and SHA-256; in a
        published model folder first every file against ``published.json``, whose unit is the one
        loaded: ``which="best"``, the default, stands for it), the manifest's battery dead zone record (if
        any) and, with ``env`` (a vpp-gym env), the observation and action layouts the model was trained on
        (an error names the rows and the config keys that differ). Returns ``(algo, unit folder)``.

        Raises:
            RunFolderError: not a run folder, no such unit yet, or a file of the unit missing or damaged.
            ConfigError: the layouts differ, or the dead zone record is damaged.
        """
        run = Path(run_dir)
        if which not in ("best", "final"):
            raise ValueError(f"which={which!r}; expected 'best' or 'final'")
        published = read_published(run)
        if published is not None:  # every file against published.json first, then the unit's manifest
            verify_published(run)
            if which != published["unit"] and which != "best":
                raise RunFolderError(
                    f"{run} is a published model holding only its {published['unit']}/ unit, not {which}/"
                )
            which = str(published["unit"])
        meta = read_json(
            run / "meta.json", f"{run} is not a run folder of vpp-gym train nor a published model (no meta.json)"
        )
        algo = meta.get("algo") if isinstance(meta, dict) else None
        if algo not in ("ppo", "sac"):
            raise RunFolderError(f"{run / 'meta.json'} names no algorithm (ppo or sac); the file is damaged")
        unit = find_unit(run, which) if published is None else run / which
        if unit is None:
            target = run / which
            if target.is_dir():
                verify_unit(target)  # raises, naming the missing or damaged file
            if any((run / name).exists() for name in LEGACY):
                raise RunFolderError(
                    f"{run} was written by an earlier vpp-gym ({which}_model.zip beside a pickled "
                    f"{which}_vecnormalize.pkl); this version loads a model only with its normaliser as one unit "
                    f"({target}/ with a manifest): train the run again"
                )
            raise RunFolderError(
                f"{target}/ is missing: the run has not reached its first "
                f"{'evaluation' if which == 'best' else 'end'} (or its folder is incomplete)"
            )
        manifest = verify_unit(unit)
        dead_zone = dead_zone_of(manifest, unit)  # a damaged record is an error before anything is played
        configured = configured_dead_zone(run)
        if configured is not None and configured != (dead_zone.width if dead_zone is not None else 0.0):
            raise ConfigError(
                f"{unit / MANIFEST}: its dead zone record ({manifest.get('dead_zone')!r}) is not the run's "
                f"agent.battery_dead_zone ({configured} in {run / 'config.yaml'}): one of the two files was changed"
            )
        if env is not None:
            base = getattr(env, "unwrapped", env)
            keys = None
            if (run / "scenario.yaml").is_file():
                from vpp_gym.config import read_yaml
                from vpp_gym.validation import to_mapping

                keys = config_diff(read_yaml(run / "scenario.yaml"), to_mapping(base.config))
            check_spaces(
                manifest.get("spaces"),
                {"observation_names": base.observation_names, "action_names": base.action_names},
                str(run),
                keys,
            )
        return str(algo), unit

    @classmethod
    def load(cls, run_dir: str | Path, which: str = "best", env: Any | None = None) -> RlPolicy:
        """Load ``best`` (best validation profit) or ``final`` from a run folder written by ``vpp-gym train``.

        Checked first (:meth:`check`): the unit's files against its manifest and, with ``env``, the
        layouts the model was trained on.
        """
        algo, unit = cls.check(run_dir, which, env)
        manifest = read_manifest(unit)
        record = manifest.get("memory")
        memory = MemorySpec.from_record(record, str(unit / MANIFEST)) if record is not None else None
        if memory is not None and env is not None:  # the memory's battery and schedule must be the env's
            here = MemorySpec.from_env(env).to_record()
            differ = [k for k, v in memory.to_record().items() if here.get(k) != v]
            if differ:
                raise ConfigError(
                    f"{run_dir}: its plan memory was trained on another battery or step schedule ({', '.join(differ)} "
                    "differ from this env's); evaluate it on the scenario it was trained on"
                )
        dead_zone = dead_zone_of(manifest, unit)
        model = load_model(algo, unit / MODEL, device="cpu")
        return cls(model, ObsNormalizer.load(unit), memory, dead_zone)

    def reset(self) -> None:
        """Forget the episode (the plan memory's rows; a policy without memory is feed-forward)."""
        if self.memory is not None:
            self.memory.resize(self.memory.n)

    def act(self, obs: np.ndarray, info: dict[str, Any] | None = None) -> np.ndarray:
        """The model's deterministic action for ``obs``."""
        x = np.asarray(obs, dtype=np.float32)
        single = x.ndim == 1
        if self.memory is not None:
            x = self.memory.observe(x[None] if single else x)
        if self.normalizer is not None and self.normalizer.norm_obs:
            x = self.normalizer.normalize_obs(x)
        action, _ = self.model.predict(x, deterministic=True)
        action = np.asarray(action, dtype=np.float32)
        if self.memory is not None:
            self.memory.record(action)
            if single:
                action = action[0]
        if self.dead_zone is not None:
            action = self.dead_zone.to_env(action)
        return action
