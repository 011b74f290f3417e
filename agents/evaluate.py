"""Evaluation harness: every policy on the same held-out episodes, and their KPIs.

``vpp-gym evaluate --config configs/evaluation/joint.yaml --policies rule,mpc,oracle,ppo=RUN --episodes 8
--out DIR`` plays episode ``e`` (``e = 0 .. N-1``) on day ``e`` of the config's split with the env
seeded ``seed + e``, for every policy: the same dates, realisations and observed forecasts for all.
Policies are made by name through :mod:`agents.registry`. The passive reference (no flexibility
used) and the oracle are always run as well: the first gives the avoided emissions and the oracle
capture, the second the oracle ratio.

The KPIs of an episode are defined in :mod:`agents.kpi`; :func:`agents.report.write_outputs` writes
``kpis.csv`` (one row per policy x episode, :data:`agents.kpi.KPI_COLUMNS`), ``summary.json`` (mean
and standard deviation of each KPI per policy), ``meta.json`` (provenance), ``report.md`` with its
PNG plots, and ``episodes/<policy>_<episode>.csv`` (every step: realised series, actions, state,
settlement) for episode 0, or for all with ``--export-all``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from agents.base import Policy, flatten_info
from agents.kpi import episode_kpis
from agents.oracle import OracleScopeError
from agents.registry import make_policy, policy_entry, policy_names, run_algo
from agents.rl.config import load_experiment
from vpp_gym.config import read_yaml
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.tasks import ALL_TASKS
from vpp_gym.validation import ConfigError, from_mapping, merge_overrides, require, require_int


@dataclass(frozen=True)
class MpcSettings:
    """MPC of the evaluation.

    Attributes:
        replan_every: steps between re-solves.
        horizon_steps: look-ahead (null = to the episode's end).
    """

    replan_every: int = 4
    horizon_steps: int | None = None

    def __post_init__(self) -> None:
        require_int("mpc.replan_every", self.replan_every, 1, 100_000)
        if self.horizon_steps is not None:
            require_int("mpc.horizon_steps", self.horizon_steps, 1, 1_000_000)


@dataclass(frozen=True)
class EvaluationConfig:
    """What to evaluate on (YAML in ``configs/evaluation/``).

    Attributes:
        env_id: a registered task.
        scenario: scenario YAML (relative to the config file), inline mapping, or null (task default).
        overrides: dotted scenario overrides.
        split: ``test`` (default) or ``val``.
        episodes: number of episodes (the first days of the split).
        seed: episode ``e`` is seeded ``seed + e``.
        mpc: MPC settings.
    """

    env_id: str = "vpp_gym/Joint-v1"
    scenario: str | dict[str, Any] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    split: Literal["val", "test"] = "test"
    episodes: int = 8
    seed: int = 20_270_000
    mpc: MpcSettings = field(default_factory=MpcSettings)

    def __post_init__(self) -> None:
        require(self.env_id in ALL_TASKS, "env_id", self.env_id, "one of " + ", ".join(ALL_TASKS))
        require_int("episodes", self.episodes, 1, 36_600)
        require_int("seed", self.seed, 0, 2**62)  # episode e is seeded seed + e

    def make_env(self, **extra: Any) -> gym.Env:
        """The env of this evaluation (extra dotted overrides merged last)."""
        return gym.make(self.env_id, config=self.scenario, overrides=merge_overrides(self.overrides, extra))


def load_evaluation(path: str | Path | None, overrides: dict[str, Any] | None = None) -> EvaluationConfig:
    """An :class:`EvaluationConfig` from YAML (relative scenario paths resolved against its folder)."""
    data = merge_overrides(read_yaml(path) if path is not None else {}, overrides or {})
    cfg = from_mapping(EvaluationConfig, data)
    if path is not None and isinstance(cfg.scenario, str) and not Path(cfg.scenario).is_absolute():
        cfg = replace(cfg, scenario=str(Path(path).resolve().parent / cfg.scenario))
    return cfg


LABEL = re.compile(r"[A-Za-z0-9_.-]+")
"""A policy label: it names the report's columns and the plot and episode files."""


def split_policies(spec: str) -> list[str]:
    """``"rule,mpc,ppo=runs/x"`` -> ``["rule", "mpc", "ppo=runs/x"]`` (a path with a comma: use ``--policy``)."""
    return [s.strip() for s in spec.split(",") if s.strip()]


def parse_policies(spec: str) -> list[tuple[str, str | None]]:
    """``"rule,mpc,ppo=runs/x"`` -> ``[("rule", None), ("mpc", None), ("ppo", "runs/x")]``.

    A bare name must be a built-in policy of :mod:`agents.registry`; ``LABEL=RUN_DIR`` is a trained
    agent (its algorithm read from the run folder) shown as ``LABEL``. Items are split at commas; a
    run folder whose path has a comma is given whole with :func:`parse_policy_items` (``--policy``).
    """
    return parse_policy_items(split_policies(spec))


def parse_policy_items(items: Sequence[str]) -> list[tuple[str, str | None]]:
    """Policies given one item each (``"rule"``, ``"ppo=runs/a,b"``): the path after the first ``=`` is taken whole."""
    out: list[tuple[str, str | None]] = []
    for item in (s.strip() for s in items):
        if not item:
            continue
        label, sep, path = item.partition("=")
        try:
            if not LABEL.fullmatch(label):
                raise ConfigError(
                    f"{item!r}: the label {label!r} may hold only letters, digits, '_', '.' and '-' (it names files)"
                )
            if sep:
                if label in policy_names(trained=False):
                    raise ConfigError(
                        f"{label!r} names a built-in policy; give the trained agent another label, e.g. ppo=RUN_DIR"
                    )
                if not path:
                    raise ConfigError(f"{item!r} names no run folder; use LABEL=RUN_DIR")
                run_algo(path)
                out.append((label, path))
            elif policy_entry(label).trained:
                raise ConfigError(f"{label!r} is a trained agent; give its run folder, {label}=RUN_DIR")
            else:
                out.append((label, None))
        except ConfigError as err:
            raise ConfigError(f"--policies: {err}") from None
    if len({label for label, _ in out}) != len(out):
        raise ConfigError("--policies: a label is given twice")
    if not out:
        raise ConfigError("--policies: no policy given")
    return out


def evaluation_policy(label: str, run: str | None, env: gym.Env, cfg: EvaluationConfig, episode: int = 0) -> Policy:
    """A built-in policy by name (MPC's forecast errors and the random policy seeded ``cfg.seed + episode``,
    MPC configured by ``cfg.mpc``), or the trained agent of the run folder ``run``."""
    if run is not None:
        check_trained(run, cfg)
        return make_policy(run_algo(run), env, run=run)
    return make_policy(
        label,
        env,
        seed=cfg.seed + episode,
        replan_every=cfg.mpc.replan_every,
        horizon_steps=cfg.mpc.horizon_steps,
    )


def check_trained(run: str | Path, cfg: EvaluationConfig) -> None:
    """A trained agent's task must be the evaluation's (a changed scenario is reported)."""
    trained: Any
    if run_algo(run) == "rllib":  # a seat of a multi-agent RLlib run on the market game
        from agents.rl.rllib import read_run_config

        trained = read_run_config(run)
    else:
        trained, _ = load_experiment(Path(run) / "config.yaml")
    if trained.env_id != cfg.env_id:
        raise ConfigError(f"--policies: {run} was trained on {trained.env_id}, not on {cfg.env_id}")
    if trained.scenario != cfg.scenario or trained.overrides != cfg.overrides:
        print(
            f"  note: {run} was trained on scenario {trained.scenario or 'default'} with overrides "
            f"{trained.overrides}; evaluated on {cfg.scenario or 'default'} with {cfg.overrides}",
            flush=True,
        )


def run_recorded(env: gym.Env, policy: Policy, seed: int, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Play one episode; one row per step: time, realised series, actions, state after the step, ledger.

    On the day-ahead timeline a row also says whether the step is a bid step (``bidding``) and which
    interval it bids for or dispatches (``interval``: its time and series are that interval's).
    """
    obs, info = env.reset(seed=seed, options=options)
    policy.reset()
    u = env.unwrapped
    p = u.params  # type: ignore[attr-defined]
    ep = u.episode  # type: ignore[attr-defined]
    stamps = u.series.timestamps  # type: ignore[attr-defined]
    offset = u.config.time.utc_offset  # type: ignore[attr-defined]
    state_names = u.observation_names[: p.n_state_obs]  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    done = False
    t = 0
    while not done:
        action = np.asarray(policy.act(obs, info), dtype=np.float32).reshape(-1)
        obs, _reward, terminated, truncated, info = env.step(action)
        i = int(info.get("t", t))  # the interval (the step itself on the hour-ahead timeline)
        row: dict[str, Any] = {"t": t, "local_time": str(stamps[int(ep.start[0]) + i] + offset)}
        if p.day_ahead:
            row.update({"interval": i, "bidding": bool(info["bidding"])})
        row.update({f"series.{c}": float(ep.exo[0, i, k]) for k, c in enumerate(ALL_NAMES)})
        row.update({f"action.{n}": float(a) for n, a in zip(p.action_names, action, strict=True)})
        row.update({f"state.{n}": float(v) for n, v in zip(state_names, obs, strict=False)})
        row.update({k: v for k, v in flatten_info(info).items() if k != "t"})
        rows.append(row)
        done = terminated or truncated
        t += 1
    return rows


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured.

    Attributes:
        kpis: one row per policy x episode: ``policy``, ``episode``, ``date``, ``seed`` and every KPI.
        episodes: the recorded steps kept, by ``(policy, episode)``.
        dates: the local date of each episode.
        policies: the policies asked for, ``(label, run folder or None)``.
        skipped: policies that could not play the scenario (the oracle outside its scope).
        started: local start time (ISO 8601).
        wall_s: wall time of the episodes and KPIs, seconds.
    """

    kpis: list[dict[str, Any]]
    episodes: dict[tuple[str, int], list[dict[str, Any]]]
    dates: list[str]
    policies: list[tuple[str, str | None]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    started: str = ""
    wall_s: float = 0.0


def evaluate(
    cfg: EvaluationConfig,
    policies: Sequence[tuple[str, str | None]],
    export_all: bool = False,
    log: Callable[[str], None] = print,
) -> EvaluationResult:
    """Run the passive reference, the oracle (if in its scope) and every policy on the config's episodes."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t_start = time.perf_counter()
    env = cfg.make_env()
    n_days = len(env.unwrapped.episode_starts[cfg.split])  # type: ignore[attr-defined]
    if cfg.episodes > n_days:
        raise ConfigError(f"episodes: got {cfg.episodes}, but the {cfg.split!r} split has only {n_days} days")
    order = [("passive", None), ("oracle", None)] + [
        (lbl, run) for lbl, run in policies if lbl not in ("passive", "oracle")
    ]
    records: dict[tuple[str, int], list[dict[str, Any]]] = {}
    dates: list[str] = []
    skipped: list[str] = []
    for label, run in order:
        t0 = time.perf_counter()
        trained = evaluation_policy(label, run, env, cfg) if run is not None else None
        for e in range(cfg.episodes):
            try:  # a built-in policy afresh per episode: MPC's forecast errors are seeded by the episode
                policy = trained if trained is not None else evaluation_policy(label, None, env, cfg, e)
                rows = run_recorded(env, policy, cfg.seed + e, {"split": cfg.split, "day": e})
            except OracleScopeError as err:
                log(f"  {label}: not run ({err}){'; oracle_ratio is left empty' if label == 'oracle' else ''}")
                skipped.append(label)
                break
            records[(label, e)] = rows
            if label == "passive":
                dates.append(rows[0]["local_time"][:10])
            log(
                f"  {label:<10} episode {e + 1}/{cfg.episodes} ({dates[e]}): profit "
                f"{sum(r['profit'] for r in rows):>12,.1f}   [{time.perf_counter() - t0:6.1f} s]"
            )
    oracle_ok = "oracle" not in skipped
    kpis: list[dict[str, Any]] = []
    wanted = {lbl for lbl, _ in policies} | {"passive", "oracle"}
    labels = [lbl for lbl, _ in order if lbl in wanted and lbl not in skipped]
    passive = [episode_kpis(records[("passive", e)]) for e in range(cfg.episodes)]  # the references' own KPIs
    oracle = [episode_kpis(records[("oracle", e)]) for e in range(cfg.episodes)] if oracle_ok else None
    for label in labels:
        for e in range(cfg.episodes):
            k = episode_kpis(
                records[(label, e)],
                passive_emissions=passive[e]["emissions_tco2"],
                oracle_profit=oracle[e]["profit"] if oracle is not None else None,
                passive_profit=passive[e]["profit"],
            )
            kpis.append({"policy": label, "episode": e, "date": dates[e], "seed": cfg.seed + e, **k})
    keep = {key: rows for key, rows in records.items() if export_all or key[1] == 0}
    return EvaluationResult(
        kpis=kpis,
        episodes=keep,
        dates=dates,
        policies=list(policies),
        skipped=skipped,
        started=started,
        wall_s=round(time.perf_counter() - t_start, 3),
    )
