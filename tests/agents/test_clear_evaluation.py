"""``agents.report.clear_evaluation`` removes an earlier evaluation's outputs, its episode traces included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.report import clear_evaluation
from agents.runfiles import RunFolderError


def _evaluation(out: Path) -> None:
    (out / "episodes").mkdir(parents=True)
    files = ["kpis.csv", "summary.json", "report.md", "episodes/mpc_0.csv", "episodes/rule_0.csv"]
    for name in files:
        (out / name).write_text("x\n")
    (out / "meta.json").write_text(json.dumps({"kind": "evaluation", "files": [*files, "meta.json"]}))


def test_an_evaluation_with_episode_traces_is_removed_whole(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _evaluation(out)
    clear_evaluation(out)  # the episodes folder goes after the traces in it
    assert list(out.iterdir()) == []


def test_a_foreign_file_stops_it_and_is_named(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _evaluation(out)
    (out / "episodes" / "notes.txt").write_text("mine\n")
    with pytest.raises(RunFolderError, match=r"notes\.txt"):
        clear_evaluation(out)
    assert (out / "episodes" / "notes.txt").is_file() and (out / "kpis.csv").is_file()
