"""Registered task variants. Each class's docstring is the task's specification."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym

from vpp_gym.env import VppEnv


class ArbitrageEnv(VppEnv):
    """``vpp_gym/Arbitrage-v0``: a commercial VPP (PV + battery + flexible load) trading energy as a price-taker.

    Each step is one interval (15 min by default) of a day-long episode that starts at midnight.
    The VPP commits a day-ahead position for the interval ``L`` steps ahead (``L =
    markets.energy.da_lead_steps``, default 4 = one hour) before the real-time price and the
    renewable output of that interval are known; on delivery the position is paid the day-ahead
    price and the deviation of the real net injection from it is settled at the real-time price.
    Grid imports are charged their emissions (grid carbon intensity of the interval) at the carbon
    price. All powers are MW, positive = injection into the grid.

    ## Action Space

    ``Box(-1, 1, (5,), float32)``; actions outside ``[-1, 1]`` (or NaN) raise ``ValueError``.

    | index | name          | decodes to                                                                          |
    | ----- | ------------- | ----------------------------------------------------------------------------------- |
    | 0     | da_position   | position for interval t+L: ``a * position_max_mw`` (MW, + = sell)                   |
    | 1     | battery       | setpoint ``a * p_discharge_max_mw`` if ``a >= 0`` else ``a * p_charge_max_mw``;      |
    |       |               | projected onto the SOC/power-feasible range (requested and applied in ``info``)    |
    | 2     | pv_curtail    | curtailed share of available PV: ``max(a, 0)``                                      |
    | 3     | load_curtail  | curtailment ``max(a, 0) * curtail_share * base load`` (MW)                          |
    | 4     | load_shift    | shift ``a * shift_share * base load`` (MW, + = defer); forced to repay the backlog |
    |       |               | in the last interval of each ``shift_window_h`` window                              |

    ## Observation Space

    ``Box(low, high, float32)``; ``env.unwrapped.observation_names`` lists every component and
    ``params.observation_layout()`` its bounds and meaning. In order:

    | name                      | meaning                                                           | range        |
    | ------------------------- | ----------------------------------------------------------------- | ------------ |
    | battery_soc               | stored energy / e_max_mwh                                         | [0, 1]       |
    | load_backlog              | shift backlog / its largest possible value                        | [-1, 1]      |
    | position_0 .. position_L-1| committed positions for intervals t .. t+L-1 / position_max_mw    | [-1, 1]      |
    | tod_sin, tod_cos          | time of day of the interval start                                 | [-1, 1]      |
    | progress                  | t / T                                                             | [0, 1]       |
    | weekend                   | 1 on Saturday and Sunday                                          | {0, 1}       |
    | window_phase              | position within the shift window                                  | [0, 1)       |
    | price_da_per_mwh[t+h]     | day-ahead price forecast / price_ref, h = 0..H-1                  | data range   |
    | price_rt_per_mwh[t+h]     | real-time price forecast / price_ref                              | data range   |
    | grid_ef_t_per_mwh[t+h]    | grid carbon intensity forecast (tCO2/MWh)                         | data range   |
    | pv_cf[t+h]                | PV capacity factor forecast                                       | data range   |
    | load_pu[t+h]              | base load forecast (per unit of peak_mw)                          | data range   |

    ``price_ref`` is the scenario's mean absolute day-ahead price; forecasts carry seeded errors
    that grow with lead (``forecast.*``); realised values of the current interval are not observed.

    ## Rewards

    ``reward = reward.scale * profit`` with, for the interval (currency):

        profit = energy_da.cash + energy_rt.cash + carbon.cash
                 - cost.degradation - cost.curtailment - cost.load_shift - cost.fuel - cost.startup
                 - penalty.imbalance - penalty.shift_violation - penalty.ev_unmet

    Every term is in ``info`` under that key (``info["energy_da"]["cash"]`` etc.), with
    ``energy_*.quantity_mwh`` and ``price_per_mwh``, ``emissions.grid_t``/``gas_t`` (tCO2),
    ``<resource>.requested_mw``/``applied_mw``, ``violation.*`` (MWh), ``net_mw`` and ``profit``.

    ## Episode End

    ``terminated=True`` after ``T = time.episode_hours / interval`` steps (the horizon is part of the
    task; the observation carries ``progress``); ``truncated`` is always False.

    ## Arguments

    ``gymnasium.make("vpp_gym/Arbitrage-v0", config="configs/scenarios/x.yaml", overrides={...}, **sections)``
    (see :class:`vpp_gym.env.VppEnv`); reset options ``split`` and ``day``.

    ## Version History

    * v0: initial release.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "name": "arbitrage",
        "resources": {"pv": {"p_max_mw": 4.0}, "battery": {}, "flex_load": {}},
    }


TASKS: dict[str, type[VppEnv]] = {
    "vpp_gym/Arbitrage-v0": ArbitrageEnv,
}


def register_tasks() -> None:
    """Register every task id with Gymnasium (idempotent)."""
    for env_id, cls in TASKS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=f"{cls.__module__}:{cls.__qualname__}",
                         disable_env_checker=False)
