"""Peak regulation open through the envs, on both timelines: Gymnasium's checker, the native vector env
against single envs (observations bit for bit, rewards and every ledger entry equal), the D-1 award
delivered at dispatch, and the Nanjing scenario over a whole episode."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vpp_gym
from vpp_gym.vector import VppVectorEnv

JOINT = "vpp_gym/Joint-v0"
OPEN: dict[str, Any] = {"markets.peak_regulation": {"offer_max_mw": 2.0}}
DA: dict[str, Any] = {"markets.energy.timeline": "day_ahead"}
TIMELINES = {"hour_ahead": {}, "day_ahead": DA}
SCENARIO = Path(__file__).resolve().parents[2] / "configs" / "scenarios" / "nanjing_peak_regulation.yaml"


def _flat(info: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal values (the scalar and NumPy backends may write 0.0 and -0.0 differently)."""
    return bool(np.float64(a) == np.float64(b))


@pytest.mark.parametrize("timeline", list(TIMELINES))
def test_gymnasium_checker_with_peak_regulation_open(timeline: str) -> None:
    env = gym.make(JOINT, overrides={**OPEN, **TIMELINES[timeline]})
    assert "peak_regulation_mw" in env.unwrapped.action_names
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning is a failure
        warnings.filterwarnings("ignore", ".*is out of date", DeprecationWarning)  # v0 ids warn
        check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("timeline", list(TIMELINES))
def test_vector_env_matches_single_envs_with_peak_regulation_open(timeline: str) -> None:
    n, seed = 3, 5
    overrides = {**OPEN, **TIMELINES[timeline]}
    vec = gym.make_vec(JOINT, num_envs=n, vectorization_mode="vector_entry_point", overrides=overrides)
    assert isinstance(vec.unwrapped, VppVectorEnv)
    singles = [gym.make(JOINT, overrides=overrides) for _ in range(n)]
    obs, _ = vec.reset(seed=seed)
    ref = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    assert obs.tobytes() == np.stack(ref).tobytes()
    steps = singles[0].unwrapped.params.steps
    rng = np.random.default_rng(2)
    paid = np.zeros(n)
    for k in range(steps):
        a = rng.uniform(-1.0, 1.0, (n, len(vec.unwrapped.action_names))).astype(np.float32)
        obs, reward, term, trunc, info = vec.step(a)
        vector = _flat(info)
        for i, e in enumerate(singles):
            o, r, te, tr, led = e.step(a[i])
            assert obs[i].tobytes() == o.tobytes(), (k, i)
            assert _same(reward[i], r) and term[i] == te and trunc[i] == tr
            single = _flat(led)
            for key, v in single.items():
                assert _same(vector[key][i], v), (k, i, key, vector[key][i], v)
            paid[i] += single.get("peak_regulation.cash", 0.0)
    assert np.all(term)
    assert (paid > 0.0).all()  # every sub-env was called and paid


def test_day_ahead_awards_are_made_at_the_bid_steps_and_delivered_at_dispatch() -> None:
    env = gym.make(JOINT, overrides={**OPEN, **DA})
    u = env.unwrapped
    env.reset(seed=3, options={"split": "test", "day": 0})
    p = u.params
    col = u.action_names.index("peak_regulation_mw")
    need = u.episode.exo[0][:, vpp_gym.core.ALL_NAMES.index("peak_reg_need_mw")]
    offered, delivered_awards = [], []
    for _ in range(p.steps):
        a = np.zeros(len(u.action_names), dtype=np.float32)
        a[col] = 0.5  # declare 1 MW for every interval
        _obs, _r, _te, _tr, info = env.step(a)
        pr = info["peak_regulation"]
        if info["bidding"]:
            offered.append(pr["offer_mw"])
            assert pr["accepted_mw"] == 0.0 and pr["cash"] == 0.0  # nothing is delivered at a bid step
        else:
            assert pr["offer_mw"] == 0.0  # no offer at dispatch
            delivered_awards.append(pr["accepted_mw"])
    assert len(offered) == len(delivered_awards) == p.episode_steps
    np.testing.assert_allclose(offered, 1.0)
    # the D-1 award: 1 MW pro rata against 0.8 x |need| from the others, capped at the need
    calls = np.abs(need)
    expected = np.where(1.0 + 0.8 * calls > calls, calls / (1.0 + 0.8 * calls), 1.0)
    np.testing.assert_allclose(delivered_awards, np.where(calls > 0, expected, 0.0), rtol=1e-12)
    assert (calls > 0).any()


def test_the_nanjing_scenario_sells_valley_filling_over_a_whole_episode() -> None:
    env = gym.make(JOINT, config=str(SCENARIO))
    cfg = env.unwrapped.config
    assert cfg.markets.peak_regulation is not None and cfg.markets.peak_regulation.offer_max_mw == 6.0
    env.reset(seed=0, options={"split": "test", "day": 0})
    col = env.unwrapped.action_names.index("peak_regulation_mw")
    bat = env.unwrapped.action_names.index("battery")
    need_col = vpp_gym.core.ALL_NAMES.index("peak_reg_need_mw")
    need = env.unwrapped.episode.exo[0][:, need_col]
    assert (need < 0.0).any() and (need <= 0.0).all()  # valley filling only
    cash = depth = 0.0
    done = False
    t = 0
    while not done:
        a = np.zeros(len(env.unwrapped.action_names), dtype=np.float32)
        a[col] = 1.0  # declare all 6 MW
        a[bat] = -1.0 if need[t] < 0.0 else 0.0  # charge in the calls
        _obs, reward, term, trunc, info = env.step(a)
        assert np.isfinite(reward)
        cash += info["peak_regulation"]["cash"]
        depth = max(depth, info["peak_regulation"]["depth"])
        done = term or trunc
        t += 1
    assert cash > 0.0 and depth > 0.0
