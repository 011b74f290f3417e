"""The rule policy (:class:`agents.rule.PriceThresholdPolicy`) against the passive reference, and what it reads.

* On the default test day (episode 0 of each evaluation config: test split, day 0, env seeded
  20270000) of every task and market-stage preset, the rule earns more than the passive reference
  on the day-ahead timeline and on the hour-ahead one; on Arbitrage's day-ahead day 0 it does not
  (pinned as a strict xfail with the measured figures), and its mean over the config's 16 test days does.
* It never reads realised data: on two envs whose realised series differ from the episode's first
  interval on, its actions at every bid step are identical (given the env's ``info`` in one and nothing
  in the other), while its dispatch differs once the difference is realised (so the check can fail).
  The bid steps' observations are identical too, except the rows of the awards already cleared for
  the day (``schedule_j``, ``<product>_award``), which show clearings against realised prices and needs
  during the bid block: an env issue; the rule reads those rows at dispatch steps only.
* Its memory is per batch row: a batch of episodes stepped together gets the actions that one policy
  per episode gives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import PassivePolicy, run_episode
from agents.evaluate import EvaluationConfig, load_evaluation
from agents.rule import PriceThresholdPolicy
from vpp_gym.config import packaged_config
from vpp_gym.core.announcement import ANNOUNCED_SERIES
from vpp_gym.data.schema import BY_NAME
from vpp_gym.data.series import ScenarioSeries

DA = {"markets.energy.timeline": "day_ahead"}
# case -> (evaluation config, market-stage preset)
CASES: dict[str, tuple[str, str | None]] = {
    "arbitrage": ("evaluation/arbitrage_v0.yaml", None),
    "lowcarbon": ("evaluation/lowcarbon_v0.yaml", None),
    "regulation": ("evaluation/regulation_v0.yaml", None),
    "joint": ("evaluation/joint_v0.yaml", None),
    "joint_invitation": ("evaluation/joint_v0.yaml", "markets/invitation.yaml"),
    "joint_transaction": ("evaluation/joint_v0.yaml", "markets/transaction.yaml"),
    "joint_autonomous": ("evaluation/joint_v0.yaml", "markets/autonomous.yaml"),
}
# Measured profit of the default test day, passive -> rule (CNY):
#   day-ahead:  arbitrage -13,410.6 -> -13,490.1 (the rule loses: xfail below); lowcarbon 1,897.5 -> 2,206.8;
#               regulation -14,272.3 -> -8,142.3; joint 1,235.9 -> 5,243.3; joint_invitation 1,235.9 -> 5,243.3;
#               joint_transaction 1,235.9 -> 5,255.9; joint_autonomous 1,235.9 -> 4,966.7
#   hour-ahead: arbitrage -13,410.6 -> -12,741.7; lowcarbon 1,897.5 -> 2,620.4; regulation -14,272.3 -> -8,278.1;
#               joint 1,235.9 -> 5,474.0; joint_invitation 1,235.9 -> 5,474.0; joint_transaction 1,235.9 -> 5,387.0;
#               joint_autonomous 1,235.9 -> 5,024.6
# (python experiments/rule_vs_passive.py gives the means over every test day of the configs.)


def evaluation(case: str, timeline: str) -> EvaluationConfig:
    """The evaluation config of ``case`` with ``markets.energy.timeline`` set to ``timeline``."""
    config, preset = CASES[case]
    extra: dict[str, Any] = {"overrides": {"markets.energy.timeline": timeline}}
    if preset is not None:
        extra["scenario"] = str(packaged_config(preset))
    return load_evaluation(packaged_config(config), extra)


def day_profits(cfg: EvaluationConfig, env: gym.Env, day: int) -> tuple[float, float]:
    """``(passive, rule)`` profit of episode ``day`` of the evaluation (its split, day, env seed ``seed + day``)."""
    options = {"split": cfg.split, "day": day}
    passive = run_episode(env, PassivePolicy(env), seed=cfg.seed + day, options=options)["profit"]
    rule = run_episode(env, PriceThresholdPolicy(env), seed=cfg.seed + day, options=options)["profit"]
    return passive, rule


ARBITRAGE_DAY_AHEAD_DAY0 = pytest.mark.xfail(
    strict=True,
    reason="measured: on Arbitrage's default test day the rule earns -13,490.1 against the passive -13,410.6 "
    "(battery arbitrage +376 in energy, -104 wear, -378 terminal value); its mean over the 16 test days is higher",
)


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=ARBITRAGE_DAY_AHEAD_DAY0) if c == "arbitrage" else c for c in CASES],
)
def test_rule_beats_passive_on_the_default_test_day_on_the_day_ahead_timeline(case: str) -> None:
    cfg = evaluation(case, "day_ahead")
    passive, rule = day_profits(cfg, cfg.make_env(), 0)
    assert rule > passive, (case, rule, passive)


def test_rule_beats_passive_on_arbitrage_over_the_test_days_on_the_day_ahead_timeline() -> None:
    # Measured: mean over the 16 test days -12,244.6 (passive) -> -11,875.0 (rule); the rule wins 9 of them.
    cfg = evaluation("arbitrage", "day_ahead")
    env = cfg.make_env()
    profits = np.array([day_profits(cfg, env, day) for day in range(cfg.episodes)])
    assert cfg.episodes == 16 and profits[:, 1].mean() > profits[:, 0].mean(), profits.mean(axis=0)


@pytest.mark.parametrize("case", list(CASES))
def test_rule_beats_passive_on_the_default_test_day_on_the_hour_ahead_timeline(case: str) -> None:
    cfg = evaluation(case, "hour_ahead")
    passive, rule = day_profits(cfg, cfg.make_env(), 0)
    assert rule > passive, (case, rule, passive)


def _perturbed(series: ScenarioSeries, first_row: int, announced_from: int | None = None) -> ScenarioSeries:
    """Every column scaled and shifted from ``first_row`` on (within the schema's ranges); the demand-response
    event columns (announced at D-1, :mod:`vpp_gym.core.announcement`) from ``announced_from`` on if given."""
    rng = np.random.default_rng(11)
    values = {}
    for name, v in series.values.items():
        out = v.copy()
        col = BY_NAME[name]
        first = announced_from if announced_from is not None and name in ANNOUNCED_SERIES else first_row
        tail = out[first:]
        span = max(float(np.ptp(v)), 1e-3)
        tail[:] = np.clip(
            tail * rng.uniform(0.5, 1.5, len(tail)) + rng.normal(0.0, 0.2 * span, len(tail)), col.lo, col.hi
        )
        values[name] = out
    return dataclasses.replace(series, values=values)


@pytest.mark.parametrize("env_id", ["vpp_gym/Arbitrage-v0", "vpp_gym/Joint-v0"])
def test_rule_bids_are_the_same_whatever_is_realised_after_the_gate(env_id: str) -> None:
    envs = [gym.make(env_id, overrides=DA).unwrapped for _ in range(2)]
    options = {"split": "test", "day": 0}
    envs[0].reset(seed=7, options=options)
    # one day: its gate precedes the episode, so everything from the episode's first interval on is realised later,
    # except the day's demand-response events (announced before the gate: those of the next day are not)
    start = int(envs[0].episode.start[0])
    envs[1].series = _perturbed(envs[0].series, start, start + envs[0].params.schedule.day_steps)
    steps = [env.reset(seed=7, options=options) for env in envs]
    obs, infos = [s[0] for s in steps], [s[1] for s in steps]
    policies = [PriceThresholdPolicy(env) for env in envs]
    sch, names = envs[0].params.schedule, envs[0].observation_names
    bids, dispatch_differs = 0, False
    for k in range(sch.steps):
        actions = [policies[0].act(obs[0], infos[0]), policies[1].act(obs[1], {})]
        if sch.bid[k]:
            # Only the rows of awards already cleared for the day may differ at a bid step (they show the awards of
            # the first intervals, cleared against the realised prices and needs; an env issue, reported): the rule
            # reads them at dispatch only.
            differ = {names[i] for i in np.flatnonzero(obs[0] != obs[1])}
            assert all(n.startswith("schedule_") or n.endswith("_award") for n in differ), (k, differ)
            np.testing.assert_array_equal(actions[0], actions[1], err_msg=f"bid step {k}")
            bids += int(np.any(actions[0] != 0.0))
        else:
            dispatch_differs |= not np.array_equal(actions[0], actions[1])
        steps = [env.step(a) for env, a in zip(envs, actions, strict=True)]
        obs, infos = [s[0] for s in steps], [s[4] for s in steps]
    assert bids > 0, "the rule bid nothing: the check would be empty"
    assert dispatch_differs, "the realised difference reaches the rule once observed"


@pytest.mark.parametrize("overrides", [DA, {}], ids=["day_ahead", "hour_ahead"])
def test_rule_memory_is_per_batch_row(overrides: dict[str, Any]) -> None:
    envs = [gym.make("vpp_gym/Joint-v0", overrides=overrides) for _ in range(3)]
    obs = np.stack([env.reset(seed=d, options={"split": "val", "day": d})[0] for d, env in enumerate(envs)])
    batched = PriceThresholdPolicy(envs[0])
    singles = [PriceThresholdPolicy(env) for env in envs]
    done = False
    while not done:
        batch = batched.act(obs, {})
        for i, env in enumerate(envs):
            np.testing.assert_array_equal(batch[i], singles[i].act(obs[i], {}))
            assert env.action_space.contains(batch[i])
        steps = [env.step(batch[i]) for i, env in enumerate(envs)]
        obs = np.stack([s[0] for s in steps])
        done = steps[0][2]
