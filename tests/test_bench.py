"""``vpp-gym bench`` with scenario overrides (the day-ahead timeline) and its errors."""

from __future__ import annotations

import pytest

from agents.cli import main
from vpp_gym import bench
from vpp_gym.validation import ConfigError

ARB = "vpp_gym/Arbitrage-v0"


def test_parse_overrides_reads_yaml_values() -> None:
    got = bench.parse_overrides(["markets.energy.timeline=day_ahead", "time.episode_hours=168"])
    assert got == {"markets.energy.timeline": "day_ahead", "time.episode_hours": 168}


@pytest.mark.parametrize("item", ["day_ahead", "=3", "x=[1"])
def test_parse_overrides_refuses_malformed_items(item: str) -> None:
    with pytest.raises(ConfigError, match="override"):
        bench.parse_overrides([item])


def test_bad_override_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"markets\.energy\.timeline"):
        bench.check_overrides([ARB], {"markets.energy.timeline": "dayahead"})


def test_day_ahead_measures_count_bid_steps() -> None:
    da = {"markets.energy.timeline": "day_ahead"}
    assert bench.episode_steps(ARB, da) == 2 * bench.episode_steps(ARB)
    assert len(bench.single_env_steps_per_s(ARB, steps=50, repeats=1, overrides=da)) == 1
    assert len(bench.native_steps_per_s(ARB, 2, 5, repeats=1, overrides=da)) == 1


def test_game_rates_count_agent_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pettingzoo")
    clock = iter(range(100))  # every perf_counter call is one second later: a rate = the steps counted
    monkeypatch.setattr(bench.time, "perf_counter", lambda: float(next(clock)))
    K = bench.episode_steps("vpp_gym/Arbitrage-v1")
    rates = bench.game_steps_per_s("vpp_gym/Arbitrage-v1", n_agents=3, episodes=1, repeats=2)
    assert rates == [3.0 * K, 3.0 * K]  # 3 agents x K steps of one episode, per repeat (the warm-up not counted)


def test_game_table_names_what_it_cannot_measure(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pettingzoo")
    assert bench._game_table(ARB, 2, 10, 1, 1, None) == {}  # a v0 task: the hour-ahead timeline
    assert "market game: not measured" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agents", "-1"], "--agents"),
        (["--timeline", "day_ahead", "--override", "markets.energy.timeline=hour_ahead"], "contradicts"),
        (["--override", "time.episode_hours=25", "--timeline", "day_ahead"], "time.episode_hours"),
        (["--override", "markets.energy.timelinex=day_ahead"], "unknown key"),
    ],
)
def test_cli_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--env", ARB, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
