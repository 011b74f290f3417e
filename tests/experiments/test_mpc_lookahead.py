"""experiments/mpc_lookahead.py on one validation day: its rows add up, and bad arguments are errors."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def script(experiment_script: Callable[[str], ModuleType]) -> ModuleType:
    return experiment_script("mpc_lookahead")


def test_one_day_table(script: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert script.main(["--task", "Arbitrage-v1", "--days", "1", "--lookahead", "500", "--seeds"]) == 0
    rows = {
        line.split("|")[1].strip(): [float(x.replace(",", "")) for x in line.split("|")[2:4]]
        for line in capsys.readouterr().out.splitlines()[2:]
    }
    assert rows["passive"][1] == 0.0 and rows["oracle"][1] == 1.0
    # a look-ahead past the day's end is MPC itself
    assert rows["mpc, look-ahead 500"] == rows["mpc"]
    assert "mpc_obs" in rows


@pytest.mark.parametrize("args", [["--days", "0"], ["--lookahead", "0"], ["--task", "Nope-v1"]])
def test_bad_arguments_are_errors(script: ModuleType, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        script.main(args)
    assert err.value.code == 2
    assert args[0] in capsys.readouterr().err
