"""Policies by name: every policy the evaluation, the CLI and SAC's demonstrations can build.

``make_policy(name, env, **settings)`` builds the policy registered as ``name`` bound to ``env``; an
unknown name is a :class:`~vpp_gym.validation.ConfigError` that lists the registered ones. Settings
are keywords a caller may pass to every policy alike (``seed``, MPC's ``replan_every`` and
``horizon_steps``, a trained agent's ``run``): a policy receives the ones its factory takes, and a
setting that no registered policy takes is an error.

Built-in policies (registered at the end of this module):

========== =============================================================================
passive    no flexibility used (:class:`agents.base.PassivePolicy`); the evaluation's reference
rule       price thresholds around a running reference (:class:`agents.rule.PriceThresholdPolicy`)
microgrid  local balance first, no market participation (:class:`agents.rule.MicrogridPolicy`)
mpc        rolling-horizon MPC on forecasts (:class:`agents.mpc.MpcPolicy`); ``seed`` seeds its
           forecast errors, ``replan_every`` (default 4), ``horizon_steps`` (default: to the end) and
           ``lookahead_steps`` (default: to the day's end, see the class);
           on the day-ahead timeline it bids at each D-1 gate on the gate's information and
           re-plans every ``replan_every`` dispatch steps
mpc_obs    MPC on the agent's information: it plans on the observation's forecasts and looks no further
           than the observation's horizon (day-ahead timeline: ``lookahead_steps``; hour-ahead:
           ``horizon_steps``); a teacher a policy of the observation can imitate
oracle     perfect-foresight plan of the realised episode (:class:`agents.oracle.OraclePolicy`), on
           either market timeline
random     uniform random actions (:class:`agents.base.RandomPolicy`), seeded by ``seed``
ppo, sac   a trained agent (:class:`agents.rl.policy.RlPolicy`) loaded from the run folder ``run``
rllib      a policy of a multi-agent RLlib run (:class:`agents.rl.rllib.RllibPolicy`; ``module`` picks one)
           of ``vpp-gym train``; the command line names one ``LABEL=RUN_DIR``
========== =============================================================================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.base import PassivePolicy, Policy, RandomPolicy
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy
from agents.rl.policy import RlPolicy
from agents.rule import MicrogridPolicy, PriceThresholdPolicy
from agents.runfiles import read_json
from vpp_gym.config import read_yaml
from vpp_gym.env import single_vpp_env
from vpp_gym.validation import ConfigError


@dataclass(frozen=True)
class PolicyEntry:
    """A registered policy.

    Attributes:
        name: the name it is made by.
        factory: ``factory(env, **settings) -> Policy``.
        doc: one line saying what it is.
        settings: the keyword settings the factory takes (read from its signature).
        trained: built from a run folder (the ``run`` setting), given as ``LABEL=RUN_DIR``.
    """

    name: str
    factory: Callable[..., Policy]
    doc: str
    settings: frozenset[str]
    trained: bool


_REGISTRY: dict[str, PolicyEntry] = {}


def register_policy(name: str, factory: Callable[..., Policy], doc: str) -> PolicyEntry:
    """Register ``factory(env, **settings)`` as the policy ``name`` (an error if the name is taken).

    The factory's keyword parameters after ``env`` are the settings it accepts; a factory that takes
    ``run`` builds a trained agent from a run folder.
    """
    if not name or "=" in name or "," in name:
        raise ValueError(f"policy name {name!r}: expected a non-empty name without '=' or ','")
    if name in _REGISTRY:
        raise ValueError(f"policy {name!r} is already registered")
    params = list(inspect.signature(factory).parameters.values())[1:]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise ValueError(f"policy {name!r}: the factory must name its settings (no *args or **kwargs)")
    settings = frozenset(p.name for p in params)
    entry = PolicyEntry(name, factory, doc, settings, trained="run" in settings)
    _REGISTRY[name] = entry
    return entry


def policy_names(trained: bool | None = None) -> tuple[str, ...]:
    """The registered names in registration order (only trained or only built-in ones if ``trained`` is given)."""
    return tuple(n for n, e in _REGISTRY.items() if trained is None or e.trained == trained)


def _valid() -> str:
    return (
        f"registered policies are {', '.join(policy_names(trained=False))}, and trained agents "
        f"{', '.join(policy_names(trained=True))} given as LABEL=RUN_DIR"
    )


def policy_entry(name: str) -> PolicyEntry:
    """The registry entry of ``name``; an unknown name is a :class:`ConfigError` listing the registered ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown policy {name!r}; {_valid()}") from None


def make_policy(name: str, env: gym.Env, **settings: Any) -> Policy:
    """The policy ``name`` bound to ``env``, with the ``settings`` its factory takes (see the module docstring)."""
    entry = policy_entry(name)
    known = frozenset().union(*(e.settings for e in _REGISTRY.values()))
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"make_policy: no registered policy takes the setting {unknown[0]!r}")
    if entry.trained and settings.get("run") is None:
        raise ConfigError(f"policy {name!r} is a trained agent: give its run folder, {name}=RUN_DIR")
    return entry.factory(env, **{k: v for k, v in settings.items() if k in entry.settings})


def run_algo(run: str | Path) -> str:
    """The algorithm a run folder of ``vpp-gym train`` was trained with (``meta.json``), checked to be registered."""
    meta = Path(run, "meta.json")
    if not meta.is_file():
        what = "no such folder" if not Path(run).exists() else "no meta.json"
        raise ConfigError(f"{str(run)!r} is not a run folder of vpp-gym train ({what})")
    record = read_json(meta, "the run's record")
    algo = record.get("algo") if isinstance(record, dict) else None
    if algo is None:
        raise ConfigError(f"{str(run)!r} is not a run folder of vpp-gym train (its meta.json names no algo)")
    if algo not in policy_names(trained=True):
        raise ConfigError(f"{run}: trained with {algo!r}, not one of {', '.join(policy_names(trained=True))}")
    return str(algo)


# -- built-in policies ---------------------------------------------------------------------------


def _passive(env: gym.Env) -> Policy:
    return PassivePolicy(env)


def _rule(env: gym.Env) -> Policy:
    return PriceThresholdPolicy(env)


def _microgrid(env: gym.Env) -> Policy:
    return MicrogridPolicy(env)


def _mpc(
    env: gym.Env,
    seed: int = 0,
    replan_every: int = 4,
    horizon_steps: int | None = None,
    lookahead_steps: int | None = None,
) -> Policy:
    return MpcPolicy(
        env, replan_every=replan_every, horizon_steps=horizon_steps, seed=seed, lookahead_steps=lookahead_steps
    )


def _mpc_obs(env: gym.Env, seed: int = 0, replan_every: int = 4) -> Policy:
    p = single_vpp_env(env).params  # dispatch forecasts to the observation's horizon only (plans: to the end)
    return MpcPolicy(
        env,
        replan_every=replan_every,
        seed=seed,
        lookahead_steps=p.horizon if p.day_ahead else None,
        horizon_steps=None if p.day_ahead else p.horizon,
        observed_forecasts=True,
    )


def _oracle(env: gym.Env) -> Policy:
    return OraclePolicy(env)


def _random(env: gym.Env, seed: int = 0) -> Policy:
    return RandomPolicy(env, seed=seed)


def _trained(algo: str) -> Callable[..., Policy]:
    def load(env: gym.Env, run: str | Path) -> Policy:
        found = run_algo(run)
        if found != algo:
            raise ConfigError(f"{run}: a {found} run, not a {algo} one")
        trained = Path(run, "config.yaml")
        game = read_yaml(trained).get("game") if trained.is_file() else None
        if game:
            raise ConfigError(
                f"{run} was trained in the market game ({game}): alone in its single env it would meet none of its "
                "rivals; play it in a seat of the game (agents.game.play, experiments/market_game.py)"
            )
        return RlPolicy.load(run, env=env)

    return load


register_policy("passive", _passive, "no flexibility used; the evaluation's reference")
register_policy("rule", _rule, "price thresholds: plan each interval at its offer, offer what it leaves, follow it")
register_policy("microgrid", _microgrid, "local balance first, no market participation")
register_policy("mpc", _mpc, "rolling-horizon MPC over the oracle's model, on forecasts (either timeline)")
register_policy(
    "mpc_obs", _mpc_obs, "MPC on the agent's information: the observation's forecasts, none beyond its horizon"
)
register_policy("oracle", _oracle, "perfect-foresight plan of the realised episode (either timeline)")
register_policy("random", _random, "uniform random actions")
register_policy("ppo", _trained("ppo"), "a PPO agent trained by vpp-gym train (run folder)")
register_policy("sac", _trained("sac"), "a SAC agent trained by vpp-gym train (run folder)")


def _rllib(env: gym.Env, run: str | Path, module: str | None = None) -> Policy:
    found = run_algo(run)
    if found != "rllib":
        raise ConfigError(f"{run}: a {found} run, not an rllib one")
    from agents.rl.rllib import RllibPolicy  # needs RLlib: imported only for an rllib run

    return RllibPolicy.load(run, env=env, module=module)


register_policy("rllib", _rllib, "a seat of a multi-agent RLlib PPO run on the market game (run folder; module)")
