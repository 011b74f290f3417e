"""Pure, batched VPP dynamics: parameters and state, layouts, episode assembly and the transition.

Everything here is a function of ``(params, state, action, exogenous)``; the Gymnasium wrappers in
``env.py`` and ``vector.py`` own the spaces, the generators and the decoding of ``info``. Arrays carry a
leading batch dimension ``B`` (``xp = numpy``, the vector env); every task also runs on Python floats
(``xp = SCALAR``, see :mod:`vpp_gym.ops`), which the single env does for speed: the sub-step AGC
following and the merit-order clearing then run as NumPy islands on a batch of one. The optimization
baselines build their models from the same :class:`CoreParams`.

Modules:

* :mod:`~vpp_gym.core.params`: :class:`CoreParams` (the scenario and its normalisation, derived
  sizes), :class:`State` and :func:`initial_state`;
* :mod:`~vpp_gym.core.layout`: the action and observation layouts, written once from the registered
  resource specs (:data:`vpp_gym.resources.REGISTRY`) and the open markets; :func:`observe`;
* :mod:`~vpp_gym.core.episode`: the episode's realised rows, forecasts, calendar, AGC signals and
  competitor stacks, drawn at reset (:func:`build_episode`);
* :mod:`~vpp_gym.core.announcement`: the D-1 announcement of demand-response events on the
  day-ahead timeline, and what each step observes of it;
* :mod:`~vpp_gym.core.dynamics`: :func:`transition`, one interval as named steps (offers, base
  setpoints, award caps, reserve deployment, AGC following, injections, settlement of capacity
  products, energy, carbon, penalties, profit).

One step ``t`` covers the interval ``[t, t + dt)``: the action commits the day-ahead position for
interval ``t + L`` and sets this interval's setpoints and offers before its realised values are
revealed; then the steps of :mod:`~vpp_gym.core.dynamics` run in order; ``reward = reward.scale x
profit``, where the profit is the documented sum of the ledger (:mod:`vpp_gym.ledger`).
"""

from vpp_gym.core.columns import (
    I_DA,
    I_DR_NEED,
    I_DR_P,
    I_EF,
    I_EV_ARR,
    I_EV_DEP,
    I_EV_PLUG,
    I_ID,
    I_LOAD,
    I_PR_NEED,
    I_PR_P,
    I_PV,
    I_REG_CAP_P,
    I_REG_MIL_P,
    I_REG_NEED,
    I_RES_CALL,
    I_RES_NEED,
    I_RES_P,
    I_RT,
    I_WIND,
    PRODUCT_COLUMNS,
    PRODUCT_SERIES,
    PRODUCTS,
)
from vpp_gym.core.dynamics import PROFIT_TERMS, bid_transition, dispatch_keys, transition
from vpp_gym.core.episode import (
    EpisodeData,
    ForecastPlan,
    build_episode,
    calendar_features,
    draw_agc,
    draw_forecast_errors,
    draw_stacks,
    episode_rows,
    forecast_errors,
    forecast_features,
    forecast_plan,
    forecast_source,
    intraday_prices,
    observed_table,
    source_rows,
    step_sigma,
    terminal_price,
)
from vpp_gym.core.layout import observe, observe_one, state_features
from vpp_gym.core.params import VALUE_FIELDS, CoreParams, State, initial_state
from vpp_gym.data.schema import ALL_NAMES

__all__ = [
    "ALL_NAMES",
    "I_DA",
    "I_DR_NEED",
    "I_DR_P",
    "I_EF",
    "I_EV_ARR",
    "I_EV_DEP",
    "I_EV_PLUG",
    "I_ID",
    "I_LOAD",
    "I_PR_NEED",
    "I_PR_P",
    "I_PV",
    "I_REG_CAP_P",
    "I_REG_MIL_P",
    "I_REG_NEED",
    "I_RES_CALL",
    "I_RES_NEED",
    "I_RES_P",
    "I_RT",
    "I_WIND",
    "PRODUCTS",
    "PRODUCT_COLUMNS",
    "PRODUCT_SERIES",
    "PROFIT_TERMS",
    "VALUE_FIELDS",
    "CoreParams",
    "EpisodeData",
    "ForecastPlan",
    "State",
    "bid_transition",
    "build_episode",
    "calendar_features",
    "dispatch_keys",
    "draw_agc",
    "draw_forecast_errors",
    "draw_stacks",
    "episode_rows",
    "forecast_errors",
    "forecast_features",
    "forecast_plan",
    "forecast_source",
    "initial_state",
    "intraday_prices",
    "observe",
    "observe_one",
    "observed_table",
    "source_rows",
    "state_features",
    "step_sigma",
    "terminal_price",
    "transition",
]
