"""A trained agent as a :class:`agents.base.Policy`: the model plus its observation normalisation."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np


def load_model(algo: str, path: str | Path, **kwargs: Any) -> Any:
    """``PPO.load`` / ``SAC.load`` of a saved model (``kwargs`` passed on: ``env``, ``device``).

    A SAC model saved with n-step returns records both ``n_steps`` and the n-step buffer class, and
    SB3 warns at load that ``n_steps`` is then ignored; harmless here (inference needs no buffer, and
    a resumed run loads its pickled buffer, which keeps its own ``n_steps``), so it is silenced.
    """
    import warnings

    from stable_baselines3 import PPO, SAC

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`n_steps=\d+` is ignored because a custom")
        return (PPO if algo == "ppo" else SAC).load(path, **kwargs)


class RlPolicy:
    """Deterministic actions of a trained SB3 model, on observations normalised as in training.

    Batch aware: ``(n_obs,)`` -> ``(A,)``, ``(B, n_obs)`` -> ``(B, A)``.

    Arguments:
        model: a Stable-Baselines3 model (PPO or SAC).
        normalizer: the training ``VecNormalize`` (its running statistics), or None.
    """

    def __init__(self, model: Any, normalizer: Any | None = None) -> None:
        self.model = model
        self.normalizer = normalizer

    @classmethod
    def load(cls, run_dir: str | Path, which: str = "best") -> RlPolicy:
        """Load ``best`` (best validation profit) or ``final`` from a run folder written by ``vpp-gym train``."""
        run = Path(run_dir)
        if which not in ("best", "final"):
            raise ValueError(f"which={which!r}; expected 'best' or 'final'")
        meta_path = run / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{run}: not a run folder of vpp-gym train (no meta.json)")
        algo = json.loads(meta_path.read_text())["algo"]
        model_path = run / f"{which}_model.zip"
        if not model_path.is_file():
            raise FileNotFoundError(
                f"{model_path} is missing: the run has not reached its first "
                f"{'evaluation' if which == 'best' else 'end'}"
            )
        model = load_model(algo, model_path, device="cpu")
        norm_path = run / f"{which}_vecnormalize.pkl"
        normalizer = None
        if norm_path.is_file():
            with norm_path.open("rb") as fh:
                normalizer = pickle.load(fh)
        return cls(model, normalizer)

    def reset(self) -> None:
        """Nothing to forget (the policies are feed-forward)."""

    def act(self, obs: np.ndarray, info: dict[str, Any] | None = None) -> np.ndarray:
        """The model's deterministic action for ``obs``."""
        x = np.asarray(obs, dtype=np.float32)
        if self.normalizer is not None and self.normalizer.norm_obs:
            x = self.normalizer.normalize_obs(x)
        action, _ = self.model.predict(x, deterministic=True)
        return np.asarray(action, dtype=np.float32)
