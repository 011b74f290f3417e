"""Excess-profit recovery (``markets.energy.excess_profit_recovery``, on in v1): energy traded away from the
day-ahead schedule settles at the less favourable of its price and the day-ahead price series.

Worked by hand on a battery-only Arbitrage VPP (2 MW / 4 MWh) with the battery's setpoint as the net
injection, so the deviation of each interval is chosen, and the two-sided prices of the day are read
from the episode.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym.core import I_DA, I_ID, I_RT
from vpp_gym.markets.energy import recovery

DT = 0.25
BATTERY_ONLY: dict[str, Any] = {"resources.pv": None, "resources.flex_load": None}


def _action(env: gym.Env, **components: float) -> np.ndarray:
    names = env.unwrapped.action_names
    a = np.zeros(len(names))
    for name, value in components.items():
        a[names.index(name)] = value
    return a


def test_recovery_by_hand() -> None:
    # sold 2 MW away from the schedule at 400 against a DA price of 300: (400 - 300) x 2 x 0.25 = 50 taken back
    assert recovery(2.0, 400.0, 300.0, DT) == pytest.approx(50.0)
    # sold 2 MW at 250 against 300: a loss of 25, kept (nothing recovered)
    assert recovery(2.0, 250.0, 300.0, DT) == 0.0
    # bought 1 MW (-1) at 250 against 300: saved 50 x 1 x 0.25 = 12.5, taken back
    assert recovery(-1.0, 250.0, 300.0, DT) == pytest.approx(12.5)
    np.testing.assert_allclose(recovery(np.array([2.0, -1.0]), np.array([400.0, 350.0]), 300.0, DT), [50.0, 0.0])


@pytest.mark.parametrize("on", [False, True])
def test_a_deviation_and_an_intraday_trade_never_earn_over_the_day_ahead_price(on: bool) -> None:
    env = gym.make("vpp_gym/Arbitrage-v1", overrides={**BATTERY_ONLY, "markets.energy.excess_profit_recovery": on})
    env.reset(seed=3, options={"split": "test", "day": 0})
    exo = env.unwrapped.episode.exo[0]
    da, rt, idp = exo[:, I_DA], exo[:, I_RT], exo[:, I_ID]
    for _ in range(96):  # bid steps: no day-ahead position (a flat curve at 0 MW)
        env.step(_action(env))
    # gate at interval 0 trades intervals 4..7: sell 1.5 MW in 4, buy 3 MW in 5; the battery then runs at
    # 1 MW in 4..9 (a 2 MW battery, setpoint 0.5): deviations 1 - 1.5 = -0.5 (4), 1 + 3 = 4 (5), 1 (6..9)
    orders = {0: {"id_mw_0": 0.5, "id_mw_1": -1.0}}
    schedule = np.zeros(96)
    schedule[4], schedule[5] = 1.5, -3.0
    for t in range(96):
        battery = 0.5 if 4 <= t <= 9 else 0.0
        *_, info = env.step(_action(env, battery=battery, **orders.get(t, {})))
        dev = info["net_mw"] - schedule[t]
        assert dev == pytest.approx((1.0 if 4 <= t <= 9 else 0.0) - schedule[t], abs=1e-12)
        expected = 0.0
        if on:  # by hand: what the deviation and the intraday trade earned over the DA price
            expected = max(dev * (rt[t] - da[t]), 0.0) * DT + max(schedule[t] * (idp[t] - da[t]), 0.0) * DT
        assert info["penalty"]["imbalance"] == pytest.approx(expected, rel=1e-12, abs=1e-12), t
        # the settlement itself is unchanged: the deviation at RT, the adjustment at the intraday price
        assert info["energy_rt"]["cash"] == pytest.approx(dev * DT * rt[t], rel=1e-12, abs=1e-12)
        assert info["energy_id"]["cash"] == pytest.approx(schedule[t] * DT * idp[t], rel=1e-12, abs=1e-12)
        if on:  # together: the deviation and the adjustment earn at most the DA price
            earned = info["energy_rt"]["cash"] + info["energy_id"]["cash"] - info["penalty"]["imbalance"]
            assert earned <= (dev + schedule[t]) * DT * da[t] + 1e-9
