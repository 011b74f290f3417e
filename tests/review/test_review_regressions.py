"""Regression tests of review findings: each was a defect (negative load, unused keys, clocks, ...)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym.data import SyntheticConfig, generate
from vpp_gym.validation import ConfigError


def _zeros(env: gym.Env) -> np.ndarray:
    return np.zeros(len(env.action_names), dtype=np.float32)


def test_flex_load_consumption_never_negative() -> None:
    env = gym.make("vpp_gym/Regulation-v0", markets={"reserve": None}).unwrapped
    env.reset(seed=0, options={"split": "train", "day": 0})
    n = env.action_names
    worst = np.inf
    for _ in range(env.params.episode_steps):
        a = _zeros(env)
        a[n.index("load_shift")] = -1.0  # consume early: negative backlog, forced reduction at window end
        a[n.index("regulation_mw")] = 1.0
        a[n.index("battery")] = 1.0  # battery at full discharge: the load takes the up-regulation
        *_, info = env.step(a)
        worst = min(worst, info["load"]["consumption_mw"])
    assert worst >= -1e-9, f"load consumption went to {worst} MW"


@pytest.mark.parametrize("env_id", ["vpp_gym/Regulation-v0", "vpp_gym/Joint-v0"])
def test_resolved_config_round_trips(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    again = gym.make(env_id, config=env.config).unwrapped
    assert again.config == env.config


def test_regulation_has_no_shortfall_penalty_key() -> None:
    # regulation is paid by its score; a shortfall penalty there would be silently ignored, so it is no key
    with pytest.raises(ConfigError, match=r"markets\.regulation: unknown key 'shortfall_penalty_per_mwh'"):
        gym.make("vpp_gym/Regulation-v0", markets={"regulation": {"shortfall_penalty_per_mwh": 99_999.0}})


def test_the_generator_filling_file_columns_is_configured_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = generate(SyntheticConfig(days=30), 15).to_frame()
    frame.to_csv(tmp_path / "prices.csv", index=False)
    files = {
        "sources": [
            {"path": str(tmp_path / "prices.csv"), "columns": {"price_da_per_mwh": {"column": "price_da_per_mwh"}}}
        ]
    }
    with pytest.raises(ConfigError, match=r"data\.synthetic: .*data\.files\.synthetic"):
        gym.make("vpp_gym/Arbitrage-v0", data={"source": "files", "files": files, "synthetic": {"seed": 1}})
    files["synthetic"] = {"seed": 1}
    a = gym.make("vpp_gym/Arbitrage-v0", data={"source": "files", "files": files}).unwrapped
    files["synthetic"] = {"seed": 2}
    b = gym.make("vpp_gym/Arbitrage-v0", data={"source": "files", "files": files}).unwrapped
    assert not np.array_equal(a.series.values["load_pu"], b.series.values["load_pu"])


def test_ev_need_left_at_the_episode_end_is_charged() -> None:
    env = gym.make("vpp_gym/Joint-v0").unwrapped
    price = env.params.ev_terminal_price_per_mwh  # mean |DA price| / eta_charge
    assert price == pytest.approx(env.params.price_ref_per_mwh / env.config.resources.ev.eta_charge)
    for day in range(3):
        env.reset(seed=day, options={"day": day})
        for _ in range(env.params.episode_steps):
            *_, info = env.step(_zeros(env))  # ev = 0: never charge
        owed = env._state.ev_need_mwh
        assert owed > 0.5  # the evening's arrivals are still owed at midnight ...
        assert info["cost"]["ev_terminal"] == pytest.approx(owed * price, rel=1e-12)  # ... and paid for


def test_shift_backlog_settled_by_episode_end() -> None:
    env = gym.make("vpp_gym/Arbitrage-v0", resources={"flex_load": {"shift_window_h": 5.0}}).unwrapped
    env.reset(seed=0, options={"day": 0})
    violation = 0.0
    for t in range(env.params.episode_steps):
        a = _zeros(env)
        a[env.action_names.index("load_shift")] = 1.0 if t >= 80 else 0.0  # defer in the last 4 h
        *_, info = env.step(a)
        violation += info["violation"]["shift_mwh"]
    assert abs(env._state.backlog_mwh) < 1e-9 or violation > 0.0


def test_local_midnight_is_dark() -> None:
    with pytest.raises(ConfigError, match=r"data\.synthetic\.utc_offset_h: got 0\.0, expected time\.utc_offset_h = 8"):
        gym.make("vpp_gym/Arbitrage-v0", time={"utc_offset_h": 8.0})
    env = gym.make(
        "vpp_gym/Arbitrage-v0",
        time={"utc_offset_h": 8.0},
        data={"synthetic": {"utc_offset_h": 8.0, "longitude_deg": 120.0}, "ancillary": {"utc_offset_h": 8.0}},
    )
    u = env.unwrapped
    u.reset(seed=0, options={"day": 150})
    assert u._episode.exo[0, 0, 3] == 0.0  # pv_cf at the first interval of the (local) day
