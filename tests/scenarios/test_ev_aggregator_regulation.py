"""The EV-aggregator regulation preset (configs/scenarios/ev_aggregator_regulation.yaml).

* it opens regulation from the battery, the EV fleet and the flexible load, with the response models and
  the scale its header states;
* a random episode on Regulation-v1 keeps the ledger identity, awards at most the providers' capability,
  splits every award whole between them, and each provider follows a share in some interval (the split
  rule itself is checked by hand in tests/markets/test_regulation_providers.py);
* the oracle refuses it by name (it does not model regulation from the fleet or the load).
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.base import flatten_info
from agents.oracle import OraclePolicy, OracleScopeError
from vpp_gym import ledger

PATH = str(Path(__file__).resolve().parents[2] / "configs" / "scenarios" / "ev_aggregator_regulation.yaml")
TASK = "vpp_gym/Regulation-v1"


def test_providers_response_models_and_scale() -> None:
    cfg = gym.make(TASK, config=PATH).unwrapped.config
    reg, r = cfg.markets.regulation, cfg.resources
    assert reg is not None and r.battery is not None and r.ev is not None and r.flex_load is not None
    assert reg.providers == ("battery", "ev", "flex_load") and reg.split == "fastest_first"
    assert reg.speed_order == ("battery", "ev", "flex_load")
    assert (reg.delay_substeps, reg.ramp_mw_per_substep) == (0, None)
    assert (reg.ev.delay_substeps, reg.ev.ramp_share_per_substep) == (0, None)
    assert (reg.flex_load.delay_substeps, reg.flex_load.ramp_share_per_substep) == (1, 0.5)
    assert reg.scoring == "k_value"  # the task's China K value
    assert r.ev.p_charge_max_mw == 20.0 and r.ev.v2g  # Suzhou: at least 20 MW adjustable
    assert r.flex_load.peak_mw * r.flex_load.shift_share == pytest.approx(1.5)  # the HVAC band, +-1.5 MW
    assert reg.offer_max_mw < 0.05 * cfg.data.ancillary.reg_need_mw  # a price-taker


def test_a_random_episode_keeps_the_ledger_identity_and_splits_every_award() -> None:
    env = gym.make(TASK, config=PATH)
    scale = env.unwrapped.config.reward.scale
    env.reset(seed=4, options={"split": "test", "day": 0})
    env.action_space.seed(4)
    followed = dict.fromkeys(("battery", "ev", "flex_load"), 0.0)
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
        s = flatten_info(info)
        parts = [s[e.key] * e.sign for e in ledger.profit_terms() if e.key in s]
        assert np.isfinite(parts).all()
        assert s["profit"] == pytest.approx(sum(parts), rel=1e-12, abs=1e-6)
        assert reward == pytest.approx(scale * s["profit"], rel=1e-12, abs=1e-9)
        award, shares = s["regulation.accepted_mw"], [s[f"regulation.{n}_mw"] for n in followed]
        assert award <= s["regulation.capability_mw"] + 1e-12
        assert sum(shares) == pytest.approx(award, abs=1e-9)
        for name, share in zip(followed, shares, strict=True):
            followed[name] += share
    assert all(v > 0.0 for v in followed.values()), followed


def test_the_oracle_refuses_it_by_name() -> None:
    with pytest.raises(OracleScopeError, match=r"markets\.regulation\.providers"):
        OraclePolicy(gym.make(TASK, config=PATH))
