"""The published models of the checkout (``models/``, not in the wheel) reproduce their recorded figures.

Every ``models/<name>/`` is checked against its ``published.json`` (sizes and SHA-256); one of them
(the first by name) plays test day 0 of its task's evaluation config through :func:`agents.evaluate.evaluate`
and must earn the profit ``vpp-gym publish`` recorded. Skipped, with the reason, while ``models/`` holds
no published model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from agents.evaluate import evaluate, load_evaluation
from agents.rl.artifacts import verify_published
from agents.rl.publish import published_models
from vpp_gym.config import packaged_config

pytestmark = pytest.mark.rl

MODELS = Path(__file__).resolve().parents[3] / "models"
FOUND = published_models(MODELS)
NO_MODELS = pytest.mark.skipif(
    not FOUND, reason=f"{MODELS} holds no published model yet (publish one: vpp-gym publish RUN --name NAME)"
)


@NO_MODELS
@pytest.mark.parametrize("name", sorted(FOUND) or ["none"])
def test_published_files_match_their_record(name: str) -> None:
    verify_published(MODELS / name)


@NO_MODELS
def test_one_published_model_reproduces_its_test_day_profit() -> None:
    name = sorted(FOUND)[0]
    record = FOUND[name]
    day = record["test_day"]
    cfg = load_evaluation(packaged_config(day["config"]), {"episodes": 1})
    assert (cfg.split, cfg.seed, day["day"]) == (day["split"], day["seed"], 0), "the evaluation config changed"
    result = evaluate(cfg, [("agent", str(MODELS / name))], log=lambda _line: None)
    (row,) = [r for r in result.kpis if r["policy"] == "agent"]
    assert row["date"] == day["date"]
    # the same model, normaliser, env seed and day: the same actions; a tolerance for BLAS differences
    assert row["profit"] == pytest.approx(day["profit"], rel=1e-6, abs=1e-3)
