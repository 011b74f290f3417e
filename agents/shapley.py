"""Contribution-based revenue sharing: Shapley values of resource groups in the oracle's profit.

For the resource groups ``N`` of a scenario (its registered resources that are present, e.g. ``pv``,
``wind``, ``ev``, ``battery``, ``flex_load``, ``gas``), the value of a coalition ``S`` is the oracle's profit
with only the resources of ``S`` (the others removed from the scenario), averaged over the same
episodes, and ``v(empty) = 0``: an aggregator without members has nothing to sell. The Shapley value

    phi_i = sum over S in N \\ {i} of |S|! (n - |S| - 1)! / n! * (v(S + {i}) - v(S))

splits ``v(N)`` among the groups (``sum phi_i = v(N)``), exactly, over all ``2^n`` coalitions
(``n <= 8``). A group whose presence costs money (a load to serve) gets a negative share.

Every coalition's value is the oracle's plan replayed through the env (the profit the env settles),
so a coalition the oracle cannot model raises :class:`agents.oracle.OracleScopeError`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from agents.base import run_episode
from agents.evaluate import EvaluationConfig
from agents.oracle import OraclePolicy
from vpp_gym.resources import REGISTRY

RESOURCE_GROUPS = tuple(spec.name for spec in REGISTRY)
"""The resource groups: every registered resource (:data:`vpp_gym.resources.REGISTRY`), in registry order."""
MAX_GROUPS = 8


def shapley_values(groups: Sequence[str], value: Mapping[frozenset[str], float]) -> dict[str, float]:
    """Exact Shapley values from the value of every coalition (``value[frozenset()]`` may be absent: 0)."""
    n = len(groups)
    if n > MAX_GROUPS:
        raise ValueError(f"{n} groups: exact Shapley values are computed for at most {MAX_GROUPS}")
    v = dict(value)
    v.setdefault(frozenset(), 0.0)
    missing = [set(s) for k in range(n + 1) for s in itertools.combinations(groups, k) if frozenset(s) not in v]
    if missing:
        raise ValueError(f"the value of coalition {sorted(missing[0])} is missing")
    out = {}
    for i in groups:
        others = [g for g in groups if g != i]
        phi = 0.0
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                phi += w * (v[frozenset(s) | {i}] - v[frozenset(s)])
        out[i] = phi
    return out


def present_groups(cfg: EvaluationConfig) -> list[str]:
    """The resource groups present in the evaluation's scenario."""
    r = cfg.make_env().unwrapped.config.resources  # type: ignore[attr-defined]
    return [g for g in RESOURCE_GROUPS if getattr(r, g) is not None]


def coalition_values(
    cfg: EvaluationConfig, groups: Sequence[str], log: Callable[[str], None] = lambda _line: None
) -> dict[frozenset[str], float]:
    """Mean oracle profit over the config's episodes for every non-empty coalition of ``groups``."""
    values: dict[frozenset[str], float] = {frozenset(): 0.0}
    for k in range(1, len(groups) + 1):
        for coalition in itertools.combinations(groups, k):
            removed = {f"resources.{g}": None for g in groups if g not in coalition}
            env = cfg.make_env(**removed)
            policy = OraclePolicy(env)
            profits = [
                run_episode(env, policy, seed=cfg.seed + e, options={"split": cfg.split, "day": e})["profit"]
                for e in range(cfg.episodes)
            ]
            values[frozenset(coalition)] = float(np.mean(profits))
            log(f"  v({', '.join(coalition)}) = {values[frozenset(coalition)]:,.1f}")
    return values
