"""Registered task variants. Each class's docstring is the task's specification."""

from __future__ import annotations

import textwrap
from typing import Any, ClassVar

import gymnasium as gym

from vpp_gym import ledger
from vpp_gym.config import merge_overrides
from vpp_gym.env import VppEnv

PROFIT_DOC = textwrap.indent(ledger.profit_doc(), " " * 8)
"""The profit identity of :mod:`vpp_gym.ledger`, as the docstrings below print it."""


class ArbitrageV0Env(VppEnv):
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

    {profit_doc}

        (the cash of the products this task does not open, and the costs and penalties of the resources it
        does not have, are 0; peak regulation, closed here, writes none of its entries unless opened).

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

        * v0: initial release (kept registered so that v0 results can be reproduced; superseded by v1).
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "name": "arbitrage",
        "resources": {"pv": {"p_max_mw": 4.0}, "battery": {}, "flex_load": {}},
    }


COMMON_SPEC = """
    ## Common rules

    Powers in MW, positive = injection into the grid. Each step is one interval of a day-long
    episode starting at midnight; ``terminated=True`` after ``T`` steps (``truncated`` is always
    False). Actions outside ``[-1, 1]`` (or NaN) raise ``ValueError``. The layout of the action and
    observation follows the config: ``env.unwrapped.action_names`` and
    ``env.unwrapped.observation_names`` list them, ``params.observation_layout()`` gives bounds and
    meaning. Decoding of the components (a subset appears, depending on the resources and products):

    | name               | decodes to                                                                   |
    | ------------------ | ---------------------------------------------------------------------------- |
    | da_position        | position for interval t+L: ``a * position_max_mw`` (+ = sell)                |
    | da_price           | (transaction form) offer price ``(a + 1) / 2 * price_cap_per_mwh``           |
    | battery            | base setpoint ``a * p_discharge_max_mw`` (a >= 0) or ``a * p_charge_max_mw``  |
    | pv_curtail, wind_curtail | curtailed share of available output ``max(a, 0)``                      |
    | ev                 | fleet setpoint ``a * p_discharge_max_mw`` (V2G, a >= 0) or ``a * p_charge_max_mw`` |
    | load_curtail       | ``max(a, 0) * curtail_share * base load``                                    |
    | load_shift         | ``a * shift_share * base load`` (+ = defer; repaid at each window end)        |
    | gas                | setpoint ``(a + 1) / 2 * p_max_mw`` (below ``p_min_mw / 2`` = off)            |
    | <product>_mw       | declared / offered quantity ``max(a, 0) * offer_max_mw``                     |
    | <product>_price    | (transaction form) offer price ``(a + 1) / 2 * price_cap``                   |

    Every setpoint is projected onto its resource's feasible range; ``info`` reports requested and
    applied values. ``reward = reward.scale * profit`` with

{profit_doc}

    each under ``info[<group>]["cash"]``, ``info["cost"][...]``, ``info["penalty"][...]``. The carbon
    cash of a step is the change of the episode's compliance cost, so the steps sum to the cost
    settled at episode end (:mod:`vpp_gym.markets.carbon`).

    Arguments: ``gymnasium.make(id, config=YAML path or mapping, overrides={dotted keys}, **sections)``;
    reset options ``split`` (train/val/test) and ``day``. Market-stage presets:
    ``configs/markets/{invitation,transaction,autonomous}.yaml``.
"""


COMMON_SPEC = COMMON_SPEC.replace("{profit_doc}", PROFIT_DOC)

DAY_AHEAD_SPEC = """
    ## On the day-ahead timeline (``markets.energy.timeline: day_ahead``)

    China's D-1 auction, intraday gates and real-time settlement (:mod:`vpp_gym.core.timeline`;
    sources in ``docs/market_rules.md``). Episodes are whole days. Each day has one **bid step** per
    interval of the day, at the D-1 gate (``gate_hour``), that does not advance time (profit 0), and
    one **dispatch step** per interval; ``K = steps`` per episode (192 for a day at 15 min);
    ``terminated`` after the last. The observation's ``bidding`` row tells the phase; in a bid step
    the calendar rows and forecasts are those of the interval bid for, as known at the gate
    (seasonal-naive: the same interval on the latest day known then). Demand-response events are
    announced, not forecast: from ``markets.demand_response.announce_hour`` on D-1 (before the gate)
    every step observes day D's events exactly and, with ``baseline: similar_days``, its baseline;
    before, 0 (rows ``dr_announced[t+h]``, ``dr_baseline[t+h]``: :mod:`vpp_gym.core.announcement`).
    Bid steps read these components (the others are ignored):

    | name         | decodes to                                                                          |
    | ------------ | ----------------------------------------------------------------------------------- |
    | da_low       | the curve's position at low prices ``a * position_max_mw`` (- = buy)                |
    | da_high      | the curve's position at high prices ``a * position_max_mw`` (the two are sorted)    |
    | da_price     | mid price ``f + a * offer_band_per_mwh``, ``f`` = the observed DA forecast (lead 0)  |
    | da_spread    | half-width ``(a + 1) / 2 * offer_band_per_mwh`` of the K segment prices             |
    | <product>_mw, <product>_price | the capacity offer for the interval, as on the hour-ahead timeline |

    The curve has ``K = curve_segments`` equal segments between the two positions, priced evenly in
    ``mid +- spread`` (clipped to ``[price_floor, price_cap]``): at clearing price ``p`` the award is
    the position at ``p`` (a segment priced at most ``p`` is sold). Dispatch steps read the resources'
    components and, at intraday gates (``intraday_gate`` = 1), ``id_mw_j``: the adjustment
    ``a * intraday.max_mw`` of interval ``t + lead + j``, a market order at its intraday price. The
    deviation from the schedule (DA + intraday) is settled at the real-time price; beyond the free
    band it pays the imbalance penalty; a contract for difference pays ``Q_c dt (P_c - P_DA)``; the
    last step credits the stored energy above its initial level at the last day's mean DA price
    (ledger: ``energy_da``, ``energy_id``, ``contract``, ``terminal``, ``penalty.regulation_shortfall``).

    Why this parametrisation: a curve for 96 intervals in one action (hundreds of components) is hard
    for a Gaussian policy to learn and hides which interval a component is for; one bid step per
    interval keeps the action small, lets the policy see the forecast of exactly the interval it bids
    for, and the offset from the forecast makes "offer at the expected price" the zero action. The
    alternatives considered were the whole curve in one step (a 96 x 2K Box), an hourly curve (24
    steps, coarser than the market's 15 minutes), and quantity-only bids (no price, so no buy/sell
    curve and no price-maker behaviour).
"""


ArbitrageV0Env.__doc__ = (ArbitrageV0Env.__doc__ or "").replace("{profit_doc}", PROFIT_DOC) + DAY_AHEAD_SPEC


class LowCarbonV0Env(VppEnv):
    __doc__ = (
        """``vpp_gym/LowCarbon-v0``: a commercial VPP weighing profit against emissions.

    Resources: PV (4 MW), wind (3 MW), battery (2 MW / 4 MWh), flexible load (3 MW peak) and a small
    gas unit (0.6-2 MW, 0.42 tCO2/MWh, 550 /MWh fuel). Markets: day-ahead and real-time energy
    (price-taker); carbon with free allowances of 0.3 tCO2 per MWh of load served, a stepped price
    (60 /t base, 2 t bands, +25 % per band, surplus rewarded on the same ladder), CCER credits of
    0.5 t per renewable MWh not certified, usable up to 5 % of gross emissions, and green
    certificates for half of the renewable output at 50 /MWh (a certified MWh never earns CCER).
    Emissions: grid imports x grid intensity + gas output x its factor. The observation adds the
    episode's net carbon position. The trade-off: running the gas unit at price spikes earns energy
    revenue but climbs the carbon ladder.
    """
        + COMMON_SPEC
        + DAY_AHEAD_SPEC
        + """
    ## Version History

    * v0: initial release (kept registered so that v0 results can be reproduced; superseded by v1).
    """
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "name": "low-carbon",
        "resources": {"pv": {"p_max_mw": 4.0}, "wind": {"p_max_mw": 3.0}, "battery": {}, "flex_load": {}, "gas": {}},
        "markets": {
            "carbon": {
                "pricing": "stepped",
                "price_per_t": 60.0,
                "band_t": 2.0,
                "growth": 0.25,
                "free_allowance_t_per_mwh": 0.3,
                "ccer_t_per_mwh": 0.5,
                "ccer_cap_share": 0.05,
                "gec_price_per_mwh": 50.0,
                "gec_share": 0.5,
            }
        },
    }


class RegulationV0Env(VppEnv):
    __doc__ = (
        """``vpp_gym/Regulation-v0``: a technical VPP selling frequency regulation and reserve.

    Resources: battery (4 MW / 4 MWh), flexible load (3 MW peak), PV (2 MW). Markets: energy
    (price-taker, to manage the state of charge), frequency regulation and reserve, both in the
    invitation form by default (declared quantity, pro-rata scaling, series prices).

    Regulation: the award ``C`` is the cleared capacity capped at the battery's symmetric headroom
    around its base setpoint (``info["regulation"]["capability_mw"]``), and the battery follows
    ``C`` times a RegD-like AGC signal at its sub-steps (15 per interval: 1 minute at the default
    15-min interval); the PJM-style
    performance score (accuracy, delay, precision) scales the payment ``C * capacity price * dt + C *
    mileage * mileage price``; the regulation energy moves the state of charge. Reserve: accepted capacity is
    paid ``C * price * dt``; deployment calls are served from the battery's spare headroom, then
    load curtailment; shortfall is penalised. Tracking quality is paid: a battery parked at a SOC
    bound has no headroom on one side and loses score. The observation adds the last score.
    """
        + COMMON_SPEC
        + DAY_AHEAD_SPEC
        + """
    ## Version History

    * v0: initial release (kept registered so that v0 results can be reproduced; superseded by v1).
    """
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "name": "regulation",
        "resources": {
            "battery": {"p_charge_max_mw": 4.0, "p_discharge_max_mw": 4.0, "e_max_mwh": 4.0},
            "flex_load": {},
            "pv": {"p_max_mw": 2.0},
        },
        "markets": {"regulation": {"offer_max_mw": 3.0}, "reserve": {"offer_max_mw": 2.0}},
    }


class JointV0Env(VppEnv):
    __doc__ = (
        """``vpp_gym/Joint-v0``: every resource and every product at once: bid and dispatch together.

    Resources: PV (4 MW), wind (3 MW), battery (2 MW / 4 MWh), EV fleet (6 MWh, 2 MW, V2G 1 MW),
    flexible load (3 MW peak), gas unit (0.6-2 MW). Markets: day-ahead and real-time energy,
    frequency regulation, reserve, demand response (peak shaving / valley filling against the
    passive baseline), carbon (stepped, allowances, CCER) and green certificates; peak regulation
    (调峰, tiered valley filling) is opened by a scenario (``configs/scenarios/nanjing_peak_regulation.yaml``).
    Every product is in the invitation form by default; ``configs/markets/transaction.yaml`` and
    ``autonomous.yaml`` (competitor stacks, price-maker) switch them.
    """
        + COMMON_SPEC
        + DAY_AHEAD_SPEC
        + """
    ## Version History

    * v0: initial release (kept registered so that v0 results can be reproduced; superseded by v1).
    """
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "name": "joint",
        "resources": {
            "pv": {"p_max_mw": 4.0},
            "wind": {"p_max_mw": 3.0},
            "battery": {},
            "ev": {"v2g": True},
            "flex_load": {},
            "gas": {},
        },
        "markets": {
            "regulation": {"offer_max_mw": 1.5},
            "reserve": {"offer_max_mw": 1.5},
            "demand_response": {"offer_max_mw": 2.0},
            "carbon": {
                "pricing": "stepped",
                "free_allowance_t_per_mwh": 0.3,
                "ccer_t_per_mwh": 0.5,
                "gec_price_per_mwh": 50.0,
                "gec_share": 0.5,
            },
        },
    }


V1_CARBON: dict[str, Any] = {"regime": "pilot_ets", "certificates": "china_2023", "price_per_t": 75.0}
"""Carbon of every v1 task: a covered entity of a regional ETS pilot (direct and purchased-electricity
emissions at the official grid factor), China's 2023 certificate rules (a sold green certificate takes
the green attribute with it; CCER only for the 2023 methodologies' technologies) and the 2025 national
allowance (CEA) price, 75 CNY/t (SEEE turnover / volume). Sources: :mod:`vpp_gym.markets.carbon`,
``docs/market_rules.md`` section 5."""

V1_CALIBRATION: dict[str, Any] = {
    "data": {"synthetic": {"price_mean_per_mwh": 330.0}},
    "resources": {
        "battery": {"degradation_cost_per_mwh": 45.0},
        "ev": {"degradation_cost_per_mwh": 200.0},
        "gas": {"fuel_cost_per_mwh": 650.0},
    },
}
"""The v1 levels of the parameters the calibration (``configs/README.md``) found outside their sources
(each applied only to the resources a task has): the mean DA price of 2024 provincial spot markets
(247-336 CNY/MWh in Shanxi, Guangdong, Shandong, Gansu; RMI), battery wear from 2025 storage tender
prices and 6000 cycles at 80 % depth (27-84, central 47 CNY per MWh of throughput), V2G wear as an
extra cycle of a 1000-2000-cycle pack (216-590 CNY/MWh; the floor rounded), gas at the marginal cost on
contracted pipeline gas (about 0.65 CNY/kWh; BNEF)."""

V1_REGULATION: dict[str, Any] = {"markets": {"regulation": {"scoring": "k_value"}}}
"""Frequency regulation of v1 (where it is open): performance measured and paid with China's K value
(Southern-region style ``K = 0.25 (2 k1 + k2 + k3)``: mileage pay x K, nothing below ``k_min``;
:mod:`vpp_gym.markets.regulation`, ``docs/market_rules.md`` section 2.1)."""

V1_DEMAND_RESPONSE: dict[str, Any] = {
    "data": {"ancillary": {"dr_event_rule": "scarcity"}},
    "markets": {"demand_response": {"baseline": "similar_days", "payment": "band"}},
}
"""Demand response of v1 (where it is open): events on the scarcest days, the baseline from similar past
days, payment in an effective-response band (:mod:`vpp_gym.markets.demand_response`; sources in
``docs/market_rules.md``, demand response)."""


def v1_defaults(v0: dict[str, Any], *extra: dict[str, Any]) -> dict[str, Any]:
    """A v1 task's defaults: its v0 resources and products on the day-ahead timeline, with
    :data:`V1_CARBON` in place of the v0 carbon keys, the levels of :data:`V1_CALIBRATION`, and ``extra``
    merged on top."""
    out = merge_overrides(  # a deep copy of v0 with these set
        v0,
        {
            "markets.energy.timeline": "day_ahead",
            "markets.energy.excess_profit_recovery": True,
            "data": V1_CALIBRATION["data"],
        },
    )
    out["markets"]["carbon"] = dict(V1_CARBON)  # replaces the v0 carbon keys, not merged into them
    resources = out.setdefault("resources", {})
    for name, values in V1_CALIBRATION["resources"].items():
        if resources.get(name) is not None:  # only the resources the task has
            resources[name] = {**resources[name], **values}
    for more in extra:
        out = merge_overrides(out, more)
    return out


V1_SPEC = """
    ## What v1 changed (``CHANGELOG.md``)

    The day-ahead timeline below replaces the hour-ahead commitment, with excess-profit recovery
    (``markets.energy.excess_profit_recovery``: a deviation from the schedule, less instructed energy, and
    an intraday adjustment settle at the less favourable of their price and the day-ahead price, so a
    position that is not delivered cannot earn the DA-RT spread; charged in ``penalty.imbalance``,
    :func:`vpp_gym.markets.energy.recovery`); carbon is priced as in China's
    regional ETS pilots (``markets.carbon.regime: pilot_ets``: the gas unit's emissions and grid imports
    at the official 2022 grid factor, 0.5366 tCO2/MWh, net of the green certificates the VPP keeps, at
    75 CNY/t, no free allocation), with China's 2023 certificate rules (``certificates: china_2023``:
    2 CNY per certificate; a sold certificate takes the green attribute with it; CCER only for offshore
    wind and solar thermal). Frequency regulation, where open, is scored and paid with China's K value
    (``markets.regulation.scoring: k_value``). {extra}Calibrated levels (``configs/README.md``): mean DA
    price 330 CNY/MWh, battery wear 45 CNY per MWh of throughput, V2G wear 200 CNY/MWh, gas fuel 650
    CNY/MWh. The ``-v0`` id keeps the v0 rules and levels.
"""


def _v1_doc(summary: str, extra: str = "") -> str:
    return (
        summary
        + V1_SPEC.replace("{extra}", extra)
        + DAY_AHEAD_SPEC.replace("## On the day-ahead timeline (``markets.energy.timeline: day_ahead``)", "## Timeline")
        + COMMON_SPEC
        + """
    ## Version History

    * v1: China's D-1 auction, intraday gates and real-time settlement; the pilot-ETS carbon regime and
      the 2023 certificate rules; K-value regulation (and, in Joint, demand response as dispatched);
      calibrated levels. Spaces, dynamics and rewards differ from v0.
    * v0: initial release (hour-ahead commitment per interval; ``-v0`` id).
    """
    )


class ArbitrageEnv(VppEnv):
    __doc__ = _v1_doc(
        """``vpp_gym/Arbitrage-v1``: a commercial VPP (PV + battery + flexible load) trading energy as a price-taker.

    Resources: PV (4 MW), battery (2 MW / 4 MWh), flexible load (3 MW peak). Markets: the D-1 energy
    auction (offer curves), intraday adjustments and real-time settlement, as a price-taker; carbon on
    the net grid imports of the episode.
    """
    )

    DEFAULTS: ClassVar[dict[str, Any]] = v1_defaults(ArbitrageV0Env.DEFAULTS)


class LowCarbonEnv(VppEnv):
    __doc__ = _v1_doc(
        """``vpp_gym/LowCarbon-v1``: a commercial VPP weighing profit against emissions.

    Resources: PV (4 MW), wind (3 MW), battery (2 MW / 4 MWh), flexible load (3 MW peak) and a small
    gas unit (0.6-2 MW, 0.42 tCO2/MWh, 550 /MWh fuel). Markets: the D-1 energy auction, intraday and
    real-time energy (price-taker); carbon: the gas unit's emissions plus net grid imports at the
    official grid factor, at the allowance price, settled over the episode. The observation has the
    episode's net carbon position. The trade-off: running the gas unit (or importing) when energy is
    dear against the carbon it costs; the green certificates the VPP keeps offset its imports.
    """
    )

    DEFAULTS: ClassVar[dict[str, Any]] = v1_defaults(LowCarbonV0Env.DEFAULTS)


class RegulationEnv(VppEnv):
    __doc__ = _v1_doc(
        """``vpp_gym/Regulation-v1``: a technical VPP selling frequency regulation and reserve.

    Resources: battery (4 MW / 4 MWh), flexible load (3 MW peak), PV (2 MW). Markets: energy (the D-1
    auction, intraday, real time: to manage the state of charge), frequency regulation and reserve,
    offered at the D-1 gate for each interval of the next day (invitation form by default) and
    delivered in real time; regulation the headroom cannot hold at delivery pays
    ``markets.regulation.shortfall_penalty_per_mwh``. The battery follows the signal; the flexible load
    (and an EV fleet, if a scenario adds one) can provide regulation too, with its own response model
    (``markets.regulation.providers``; ``configs/scenarios/ev_aggregator_regulation.yaml``).
    """
    )

    DEFAULTS: ClassVar[dict[str, Any]] = v1_defaults(RegulationV0Env.DEFAULTS, V1_REGULATION)


class JointEnv(VppEnv):
    __doc__ = _v1_doc(
        """``vpp_gym/Joint-v1``: every resource and every product at once: bid and dispatch together.

    Resources: PV (4 MW), wind (3 MW), battery (2 MW / 4 MWh), EV fleet (6 MWh, 2 MW, V2G 1 MW),
    flexible load (3 MW peak), gas unit (0.6-2 MW). Markets: the D-1 energy auction, intraday and
    real-time energy, frequency regulation, reserve and demand response offered at the D-1 gate,
    carbon and green certificates; peak regulation (调峰) is opened by a scenario
    (``configs/scenarios/nanjing_peak_regulation.yaml``). Every product is in the invitation form by
    default; ``configs/markets/transaction.yaml`` and ``autonomous.yaml`` (competitor stacks,
    price-maker) switch them. Regulation is followed by the battery; the EV fleet and the flexible load
    can provide it too, each with its own response model (``markets.regulation.providers: [battery, ev,
    flex_load]``, ``split``, ``ev``, ``flex_load``; ``configs/scenarios/ev_aggregator_regulation.yaml``).
    """,
        "Demand response is dispatched as in China: events on the scarcest days "
        "(``data.ancillary.dr_event_rule: scarcity``), the baseline from similar past days "
        "(``markets.demand_response.baseline: similar_days``) and payment in an effective-response band "
        "(``payment: band``). ",
    )

    DEFAULTS: ClassVar[dict[str, Any]] = v1_defaults(JointV0Env.DEFAULTS, V1_REGULATION, V1_DEMAND_RESPONSE)


TASKS: dict[str, type[VppEnv]] = {
    "vpp_gym/Arbitrage-v1": ArbitrageEnv,
    "vpp_gym/LowCarbon-v1": LowCarbonEnv,
    "vpp_gym/Regulation-v1": RegulationEnv,
    "vpp_gym/Joint-v1": JointEnv,
}
"""The current task ids (v1)."""

LEGACY_TASKS: dict[str, type[VppEnv]] = {
    "vpp_gym/Arbitrage-v0": ArbitrageV0Env,
    "vpp_gym/LowCarbon-v0": LowCarbonV0Env,
    "vpp_gym/Regulation-v0": RegulationV0Env,
    "vpp_gym/Joint-v0": JointV0Env,
}
"""Superseded task ids, kept registered so that results made with them can be reproduced (``CHANGELOG.md``)."""

ALL_TASKS: dict[str, type[VppEnv]] = {**TASKS, **LEGACY_TASKS}
"""Every registered task id."""


MARKET_GAME_ID = "vpp_gym/MarketGame-v0"
"""The single-agent view of the market game (:class:`agents.game.MarketGameEnv`: one learner seat, the
other seats played by given policies). Registered by an entry-point string, so that ``import vpp_gym`` does
not import :mod:`agents.game`, :mod:`vpp_gym.multi` nor PettingZoo (the ``multi`` extra); ``gym.make``
imports them."""


def register_tasks() -> None:
    """Register every task id (current and legacy) and the market game's view with Gymnasium (idempotent)."""
    for env_id, cls in ALL_TASKS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=f"{cls.__module__}:{cls.__qualname__}",
                vector_entry_point=f"vpp_gym.vector:{cls.__qualname__.removesuffix('Env')}VectorEnv",
                disable_env_checker=False,
            )
    if MARKET_GAME_ID not in gym.registry:
        # A string only: vpp_gym imports nothing of agents (the view builds policies, so it lives in agents/game.py);
        # gymnasium imports agents.game, and through it vpp_gym.multi and PettingZoo, at make time.
        gym.register(id=MARKET_GAME_ID, entry_point="agents.game:MarketGameEnv", disable_env_checker=False)
