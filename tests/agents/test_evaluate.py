"""Evaluation harness: KPIs by hand, references, outputs, ``meta.json``, the CLI (in-process), its errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import gymnasium as gym
import pytest

from agents import kpi
from agents.cli import main
from agents.evaluate import EvaluationConfig, evaluate, parse_policies, run_recorded
from agents.kpi import episode_kpis
from agents.registry import make_policy
from agents.report import write_outputs
from vpp_gym.validation import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "configs" / "markets"


def _revenue_minus_cost(k: dict[str, float]) -> float:
    """The KPI identity's right-hand side, from the column names' prefixes."""
    return sum(v for n, v in k.items() if n.startswith("revenue_")) - sum(
        v for n, v in k.items() if n.startswith("cost_")
    )


def _row(**values: float) -> dict[str, float]:
    base = {
        "profit": 0.0,
        "energy_da.cash": 0.0,
        "energy_rt.cash": 0.0,
        "carbon.cash": 0.0,
        "carbon.emissions_t": 0.0,
        "carbon.ccer_used_t": 0.0,
        "carbon.net_position_t": 0.0,
        "cost.degradation": 0.0,
        "penalty.imbalance": 0.0,
        "renewable.curtailed_mwh": 0.0,
        "regulation.accepted_mw": 0.0,
        "regulation.score": 0.0,
        "regulation.cash": 0.0,
        "violation.shift_mwh": 0.0,
        "violation.ev_unmet_mwh": 0.0,
        "series.price_da_per_mwh": 500.0,
        "action.battery": 0.5,
        "state.battery_soc": 0.5,
        "battery.applied_mw": 2.0,
    }
    base.update(values)
    return base


def test_kpis_of_a_hand_built_episode() -> None:
    # three steps: DA +100, RT -30, carbon -20 (2 t at 10/t), degradation 5, imbalance 7, regulation 40
    rows = [
        _row(
            profit=100 - 5,
            **{
                "energy_da.cash": 100.0,
                "cost.degradation": 5.0,
                "carbon.emissions_t": 0.0,
                "regulation.accepted_mw": 2.0,
                "regulation.score": 0.9,
                "regulation.cash": 0.0,
            },
        ),
        _row(
            profit=-30 - 20 - 7 + 40,
            **{
                "energy_rt.cash": -30.0,
                "carbon.cash": -20.0,
                "carbon.emissions_t": 2.0,
                "carbon.ccer_used_t": 0.5,
                "carbon.net_position_t": 1.5,
                "penalty.imbalance": 7.0,
                "regulation.accepted_mw": 6.0,
                "regulation.score": 0.5,
                "regulation.cash": 40.0,
                "violation.shift_mwh": 0.2,
                "renewable.curtailed_mwh": 1.25,
            },
        ),
        _row(profit=0.0, **{"carbon.ccer_used_t": 0.75, "carbon.net_position_t": 1.25, "violation.ev_unmet_mwh": 0.1}),
    ]
    k = episode_kpis(rows, passive_emissions=3.0, oracle_profit=156.0, passive_profit=-100.0)
    assert k["profit"] == pytest.approx(78.0)
    assert k["revenue_energy_da"] == 100.0 and k["revenue_energy_rt"] == -30.0 and k["revenue_regulation"] == 40.0
    assert k["cost_carbon"] == 20.0 and k["cost_degradation"] == 5.0 and k["cost_penalties"] == 7.0
    revenue = sum(v for n, v in k.items() if n.startswith("revenue_"))
    cost = sum(v for n, v in k.items() if n.startswith("cost_"))
    assert revenue - cost == pytest.approx(k["profit"])
    assert k["emissions_tco2"] == 2.0
    assert k["net_emissions_tco2"] == pytest.approx(2.0 - 0.75)  # the last (cumulative) CCER use, not a sum
    assert k["avoided_emissions_tco2"] == pytest.approx(1.0)
    assert k["renewable_curtailment_mwh"] == 1.25
    assert k["regulation_score"] == pytest.approx((0.9 * 2 + 0.5 * 6) / 8)  # capacity weighted
    assert k["violations"] == 2.0
    assert k["oracle_ratio"] == pytest.approx(78.0 / 156.0)
    assert k["oracle_capture"] == pytest.approx((78.0 + 100.0) / (156.0 + 100.0))
    none = episode_kpis(rows)
    assert math.isnan(none["oracle_ratio"]) and math.isnan(none["avoided_emissions_tco2"])
    assert math.isnan(none["oracle_capture"])
    assert list(k) == list(kpi.KPI_COLUMNS)


@pytest.fixture(scope="module")
def arbitrage_eval(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    cfg = EvaluationConfig(env_id="vpp_gym/Arbitrage-v0", episodes=2)
    result = evaluate(cfg, parse_policies("rule,oracle,mpc"), log=lambda _line: None)
    out = tmp_path_factory.mktemp("eval")
    write_outputs(result, cfg, out)
    with (out / "kpis.csv").open() as fh:
        return out, list(csv.DictReader(fh))


def test_references_oracle_ratio_is_one_and_passive_avoids_nothing(arbitrage_eval: tuple[Path, list]) -> None:
    _out, rows = arbitrage_eval
    assert [r["policy"] for r in rows] == ["passive"] * 2 + ["oracle"] * 2 + ["rule"] * 2 + ["mpc"] * 2
    for r in rows:
        if r["policy"] == "oracle":
            assert float(r["oracle_ratio"]) == 1.0 and float(r["oracle_capture"]) == 1.0
        if r["policy"] == "passive":
            assert float(r["avoided_emissions_tco2"]) == 0.0 and float(r["oracle_capture"]) == 0.0
    # same episodes for everyone: the oracle is the best on each
    for e in ("0", "1"):
        best = max(float(r["profit"]) for r in rows if r["episode"] == e)
        assert best == pytest.approx(
            next(float(r["profit"]) for r in rows if r["episode"] == e and r["policy"] == "oracle"), rel=1e-9
        )


def test_outputs_summary_report_and_episode_export(arbitrage_eval: tuple[Path, list]) -> None:
    out, rows = arbitrage_eval
    summary = json.loads((out / "summary.json").read_text())
    mpc = [float(r["profit"]) for r in rows if r["policy"] == "mpc"]
    assert summary["mpc"]["profit"]["mean"] == pytest.approx(sum(mpc) / 2)
    assert summary["mpc"]["regulation_score"]["mean"] is None  # Arbitrage has no regulation
    report = (out / "report.md").read_text()
    for png in ("revenue_by_market.png", "emissions.png", "dispatch_mpc.png", "prices_oracle.png"):
        assert (out / png).is_file() and png in report
    table = [line.split(" | ")[0].removeprefix("| ") for line in report.splitlines() if line.startswith("| ")]
    assert table[2:] == list(kpi.TABLE_COLUMNS) and set(kpi.TABLE_COLUMNS) == set(kpi.KPI_COLUMNS)
    assert table[2:5] == ["profit", "oracle_capture", "oracle_ratio"]
    for r in rows:  # the KPI identity on every evaluated episode, from kpis.csv
        k = {n: float(v) for n, v in r.items() if n.startswith(("revenue_", "cost_", "profit"))}
        assert k["profit"] == pytest.approx(_revenue_minus_cost(k), rel=1e-9, abs=1e-6)
    with (out / "episodes" / "rule_0.csv").open() as fh:
        steps = list(csv.DictReader(fh))
    assert len(steps) == 96
    assert {
        "local_time",
        "series.price_rt_per_mwh",
        "action.battery",
        "state.battery_soc",
        "energy_rt.cash",
        "profit",
    } <= set(steps[0])
    rule_profit = next(float(r["profit"]) for r in rows if r["policy"] == "rule" and r["episode"] == "0")
    assert sum(float(s["profit"]) for s in steps) == pytest.approx(rule_profit, rel=1e-9)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rule,dqn", "unknown policy 'dqn'; registered policies are passive, rule, microgrid"),
        ("ppo", "'ppo' is a trained agent; give its run folder"),
        ("rule=runs/x", "'rule' names a built-in policy"),
        ("ppo=", "names no run folder"),
        ("ppo=/nowhere", "not a run folder"),
        ("rule,rule", "given twice"),
    ],
)
def test_bad_policy_lists_are_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policies(spec)


def test_cli_rejects_too_many_episodes_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "evaluate",
            "--env",
            "vpp_gym/Arbitrage-v0",
            "--episodes",
            "500",
            "--policies",
            "rule",
            "--out",
            str(tmp_path / "o"),
        ]
    )  # an exception here would be a traceback for the user
    stderr = capsys.readouterr().err
    assert code == 2
    assert "episodes: got 500, but the 'test' split has only 55 days" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("preset", [None, "transaction"])
def test_profit_is_revenue_minus_cost_on_an_evaluated_episode(preset: str | None) -> None:
    # Joint-v0 with random actions: every market, costs and penalties are non-zero somewhere
    env = gym.make("vpp_gym/Joint-v0", **({"config": str(PRESETS / f"{preset}.yaml")} if preset else {}))
    rows = run_recorded(env, make_policy("random", env, seed=5), 11, {"split": "test", "day": 2})
    k = episode_kpis(rows)
    assert k["profit"] == pytest.approx(sum(r["profit"] for r in rows), rel=1e-12)  # the env's own profit
    assert k["profit"] == pytest.approx(_revenue_minus_cost(k), rel=1e-9, abs=1e-6)
    assert sum(1 for n, v in k.items() if n.startswith(("revenue_", "cost_")) and v != 0.0) >= 6
    # carbon: the market's net payment is a cost
    assert k["cost_carbon"] == pytest.approx(-sum(r["carbon.cash"] for r in rows), rel=1e-12)


def test_cli_evaluate_writes_meta_json_and_prints_the_kpi_means(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "o"
    argv = ["evaluate", "--env", "vpp_gym/Arbitrage-v0", "--episodes", "1", "--policies", "rule", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kind"] == "evaluation" and meta["env_id"] == "vpp_gym/Arbitrage-v0"
    assert meta["command"] == "vpp-gym " + " ".join(argv)
    assert meta["config"]["episodes"] == 1 and meta["config"]["split"] == "test"
    assert meta["seeds"]["episodes"] == [meta["config"]["seed"]] == [20_270_000]
    assert meta["policies"] == [{"label": "rule", "run": None}] and meta["skipped"] == []
    assert meta["git_revision"] and meta["started"] and meta["wall_s"] > 0
    assert {"python", "vpp_gym", "numpy", "scipy", "gymnasium", "torch", "stable_baselines3"} <= set(meta["versions"])
    with (out / "kpis.csv").open() as fh:
        rows = {r["policy"]: r for r in csv.DictReader(fh)}
    assert list(rows) == ["passive", "oracle", "rule"]
    # the printed table: one line per policy, its profit as in kpis.csv (one episode: the mean is the value)
    table = printed.split("\npolicy ", 1)[1].splitlines()[1:4]
    cells = {line.split()[0]: line.split()[1:] for line in table}
    assert list(cells) == ["passive", "oracle", "rule"]
    assert cells["rule"][:2] == [
        f"{float(rows['rule']['profit']):,.1f}",
        f"{float(rows['rule']['oracle_capture']):.3f}",
    ]
    assert cells["oracle"][1] == "1.000"


def test_cli_evaluate_runs_mpc_and_the_oracle_on_a_day_ahead_config(tmp_path: Path) -> None:
    out = tmp_path / "o"
    config = str(ROOT / "configs" / "evaluation" / "arbitrage.yaml")
    argv = ["evaluate", "--config", config, "--episodes", "1", "--policies", "mpc,oracle", "--out", str(out)]
    assert main(argv) == 0
    with (out / "kpis.csv").open() as fh:
        rows = {r["policy"]: r for r in csv.DictReader(fh)}
    assert list(rows) == ["passive", "oracle", "mpc"]
    profit = {name: float(r["profit"]) for name, r in rows.items()}
    assert profit["oracle"] >= profit["mpc"] >= profit["passive"], profit
    for r in rows.values():  # the KPI identity holds with the day-ahead timeline's terms
        k = {n: float(v) for n, v in r.items() if n.startswith(("revenue_", "cost_")) and v != ""}
        assert float(r["profit"]) == pytest.approx(_revenue_minus_cost(k), rel=1e-9, abs=1e-6)
    with (out / "episodes" / "oracle_0.csv").open() as fh:
        steps = list(csv.DictReader(fh))
    assert len(steps) == 2 * 96  # the bid steps, then the dispatch steps
    assert [s["bidding"] for s in steps] == ["True"] * 96 + ["False"] * 96
    assert [int(s["interval"]) for s in steps] == [*range(96), *range(96)]
    assert (out / "prices_mpc.png").is_file() and (out / "dispatch_oracle.png").is_file()
