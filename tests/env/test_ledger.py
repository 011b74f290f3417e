"""The ledger schema (:mod:`vpp_gym.ledger`) against what the core writes, over full episodes of random actions.

* every key a step writes is declared in the schema (no undeclared entry), on every task and preset;
* the reward is ``reward.scale`` x the schema's profit terms, recomputed here from ``info``;
* the KPI columns generated from the schema add up to the profit (``profit = sum(revenue_*) -
  sum(cost_*)``), checked on episode totals;
* costs and penalties are never negative; the task docstrings print the schema's profit identity.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym
from vpp_gym import ledger
from vpp_gym.tasks import JointEnv, LowCarbonEnv, RegulationEnv

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "configs" / "markets"

DAY_AHEAD = {
    "markets.energy.timeline": "day_ahead",
    "markets.energy.contract": {"quantity_mw": 1.0, "price_per_mwh": 400.0},
}
# Products closed in every task and preset, opened over Joint-v0 by name (instead of a preset file)
OPENED = {
    "peak_regulation": {"markets.peak_regulation": {"offer_max_mw": 2.0}},
    "peak_regulation_transaction": {
        "markets.peak_regulation": {"form": "transaction", "offer_max_mw": 2.0, "competitors": {"n_offers": 4}}
    },
}
# every registered task on both timelines, and Joint-v0 under each market-stage preset and with each
# product of OPENED on both
RUNS = [(env_id, None) for env_id in vpp_gym.TASKS] + [
    ("vpp_gym/Joint-v0", preset) for preset in ("invitation", "transaction", "autonomous", *OPENED)
]
RUNS += [(env_id, preset, "day_ahead") for env_id, preset in RUNS]


def _flat(info: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _episode(
    env_id: str, preset: str | None, timeline: str = "hour_ahead", seed: int = 7
) -> tuple[gym.Env, list[dict[str, float]]]:
    kwargs: dict = {} if preset is None or preset in OPENED else {"config": str(PRESETS / f"{preset}.yaml")}
    kwargs["overrides"] = {**(DAY_AHEAD if timeline == "day_ahead" else {}), **OPENED.get(preset or "", {})}
    env = gym.make(env_id, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    steps = []
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        flat = _flat(info)
        assert flat["reward"] == reward
        steps.append(flat)
        done = terminated or truncated
    return env, steps


@pytest.fixture(
    scope="module",
    params=RUNS,
    ids=lambda r: r[0].split("/")[1] + (f"-{r[1]}" if r[1] else "") + (f"-{r[2]}" if len(r) > 2 else ""),
)
def episode(request: pytest.FixtureRequest) -> tuple[gym.Env, list[dict[str, float]]]:
    return _episode(*request.param)


def test_every_key_is_declared(episode: tuple[gym.Env, list[dict[str, float]]]) -> None:
    _, steps = episode
    undeclared = set(steps[0]) - set(ledger.BY_KEY) - {"t", "bidding"}
    assert not undeclared, f"keys written by the core but missing from vpp_gym.ledger.ENTRIES: {sorted(undeclared)}"
    assert all(set(s) == set(steps[0]) for s in steps), "every step writes the same keys"
    env, _ = episode
    terms = env.unwrapped.params.profit_terms
    assert {k for k, _ in terms} <= {e.key for e in ledger.profit_terms()}
    for key, _sign in terms:  # every profit term is written, even when its product or resource is absent
        assert key in steps[0], key
    timeline = {e.key for e in ledger.profit_terms() if e.owner in ledger.TIMELINE_OWNERS}
    assert timeline.isdisjoint(steps[0]) == (not env.unwrapped.params.day_ahead), "timeline entries iff day-ahead"


def test_reward_is_the_scaled_sum_of_the_profit_terms(episode: tuple[gym.Env, list[dict[str, float]]]) -> None:
    env, steps = episode
    scale = env.unwrapped.config.reward.scale
    for s in steps:
        parts = [s[e.key] * e.sign for e in ledger.profit_terms() if e.key in s]
        assert all(np.isfinite(parts)), s["t"]
        assert s["profit"] == pytest.approx(sum(parts), rel=1e-12, abs=1e-9), s["t"]
        assert s["reward"] == pytest.approx(scale * s["profit"], rel=1e-12, abs=1e-12), s["t"]
        for e in ledger.profit_terms():
            if e.kind != "cash" and e.key in s:
                assert s[e.key] >= 0.0, (s["t"], e.key)


def test_kpi_columns_add_up_to_the_profit(episode: tuple[gym.Env, list[dict[str, float]]]) -> None:
    _, steps = episode
    totals = {k: sum(s[k] for s in steps) for k in ledger.TOTAL_KEYS if k in steps[0]}
    kpis = ledger.kpis(totals)
    revenue = sum(v for k, v in kpis.items() if k.startswith("revenue_"))
    cost = sum(v for k, v in kpis.items() if k.startswith("cost_"))
    assert kpis["profit"] == pytest.approx(revenue - cost, rel=1e-9, abs=1e-6)
    # spot checks of single columns against the raw ledger
    assert kpis["cost_carbon"] == pytest.approx(-totals["carbon.cash"], abs=1e-12)
    assert kpis["cost_fuel"] == pytest.approx(totals["cost.fuel"] + totals["cost.startup"], abs=1e-12)


def test_schema_is_consistent() -> None:
    # every money entry belongs to exactly one revenue or cost column, so the KPI identity holds
    for e in ledger.ENTRIES:
        if e.sign:
            assert e.kpi is not None and e.kpi.startswith(("revenue_", "cost_")), e.key
        if e.kpi is not None and e.kpi.startswith("revenue_"):
            assert e.kind == "cash", e.key
        assert e.unit, e.key
    assert all(ledger.BY_KEY[k].summed for k in ledger.TOTAL_KEYS)
    with pytest.raises(KeyError, match="not a ledger KPI column"):
        ledger.kpi_terms("revenue_nothing")


def test_hand_worked_kpis() -> None:
    totals = {
        "profit": 7.0,
        "energy_da.cash": 10.0,
        "carbon.cash": -2.0,
        "cost.fuel": 1.0,
        "cost.startup": 0.5,
        "penalty.imbalance": 0.25,
        "penalty.green_matching": 0.25,
    }
    k = ledger.kpis(totals)
    assert k["revenue_energy_da"] == 10.0 and k["cost_carbon"] == 2.0 and k["cost_fuel"] == 1.5
    assert k["cost_penalties"] == 0.5 and k["revenue_reserve"] == 0.0
    # 10 - 2 - 1.5 - 0.5 = 6: the identity fails for these made-up totals, as it should (profit says 7)
    assert (
        sum(v for c, v in k.items() if c.startswith("revenue_")) - sum(v for c, v in k.items() if c.startswith("cost_"))
        == 6.0
    )


@pytest.mark.parametrize("cls", [LowCarbonEnv, RegulationEnv, JointEnv, vpp_gym.tasks.ArbitrageEnv])
def test_task_docstrings_print_the_schema_profit(cls: type) -> None:
    doc = cls.__doc__ or ""
    assert "{profit_doc}" not in doc
    for e in ledger.profit_terms():
        assert e.key.partition(".")[2 if e.kind != "cash" else 0] in doc, (cls.__name__, e.key)
