"""The one schema of exogenous series that every scenario provides.

A scenario is a table with one row per interval (15 min by default; any whole number of minutes
that divides a day, 60 included) and these columns. ``timestamp`` is the interval *start*, in UTC
(timezone-aware UTC or naive, read as UTC), strictly increasing with a constant step.

| column             | unit           | range            | meaning                                          |
| ------------------ | -------------- | ---------------- | ------------------------------------------------ |
| timestamp          | datetime (UTC) | regular          | start of the interval                            |
| price_da_per_mwh   | currency/MWh   | [-10000, 100000] | day-ahead energy clearing price                  |
| price_rt_per_mwh   | currency/MWh   | [-10000, 100000] | real-time energy clearing price                  |
| grid_ef_t_per_mwh  | tCO2/MWh       | [0, 2]           | carbon intensity of energy imported from grid    |
| pv_cf              | per unit       | [0, 1]           | PV output per MW installed                       |
| wind_cf            | per unit       | [0, 1]           | wind output per MW installed                     |
| load_pu            | per unit       | [0, 5]           | base load per MW of ``flex_load.peak_mw``        |
| ev_plugged_share   | per unit       | [0, 1]           | share of the EV fleet plugged in                 |
| ev_arrival_need_pu | per unit       | [0, 1]           | need of arriving EVs per MWh of fleet capacity   |
| ev_departure_share | per unit       | [0, 1]           | share of plugged EVs leaving at interval end     |

Optional columns: a file may give them; those absent are made from the columns above.

- Intraday energy price (``INTRADAY_COLUMNS``), in the energy prices' unit and range:

  | column           | unit         | range            | meaning                                        |
  | ---------------- | ------------ | ---------------- | ---------------------------------------------- |
  | price_id_per_mwh | currency/MWh | [-10000, 100000] | intraday energy price (gates between DA and RT) |

  When absent it is derived from the day-ahead and real-time prices,
  ``price_id = price_da + id_weight * (price_rt - price_da)`` (default ``id_weight = 0.5``), plus an
  optional seeded AR(1) deviation (``id_sigma_rel``, default 0); see :mod:`vpp_gym.data.synthetic`.
- Ancillary-service columns (``ANCILLARY_COLUMNS``: regulation, reserve, demand-response and
  peak-regulation needs, prices and calls); those absent are synthesized (``vpp_gym.data.ancillary``).

The exogenous arrays of the core hold :data:`ALL_NAMES`: the required columns, then the intraday
price, then the ancillary columns (code looks columns up by name).

Currency is whatever the scenario says (CNY for the built-in presets, USD for ERCOT data); the
env never converts it. Ancillary-service series are added by the markets (see ``markets``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One series of the schema: its name, unit, valid range and meaning."""

    name: str
    unit: str
    lo: float
    hi: float
    doc: str


TIMESTAMP = "timestamp"

COLUMNS: tuple[Column, ...] = (
    Column("price_da_per_mwh", "currency/MWh", -10_000.0, 100_000.0, "day-ahead energy price"),
    Column("price_rt_per_mwh", "currency/MWh", -10_000.0, 100_000.0, "real-time energy price"),
    Column("grid_ef_t_per_mwh", "tCO2/MWh", 0.0, 2.0, "grid carbon intensity"),
    Column("pv_cf", "per unit", 0.0, 1.0, "PV capacity factor"),
    Column("wind_cf", "per unit", 0.0, 1.0, "wind capacity factor"),
    Column("load_pu", "per unit", 0.0, 5.0, "base load per MW of flex_load.peak_mw"),
    Column("ev_plugged_share", "per unit", 0.0, 1.0, "share of EV fleet plugged in"),
    Column("ev_arrival_need_pu", "per unit", 0.0, 1.0, "energy needed by arriving EVs per MWh of fleet capacity"),
    Column("ev_departure_share", "per unit", 0.0, 1.0, "share of plugged EVs departing"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

# Ancillary-service series: optional in users' files, synthesized when absent (see ``data.ancillary``).
ANCILLARY_COLUMNS: tuple[Column, ...] = (
    Column("reg_need_mw", "MW", 0.0, 1e5, "regulation capacity the zone needs"),
    Column("reg_cap_price_per_mw", "currency/(MW h)", 0.0, 1e5, "regulation capacity price"),
    Column("reg_mileage_price_per_mw", "currency/MW", 0.0, 1e5, "regulation mileage price"),
    Column("reserve_need_mw", "MW", 0.0, 1e5, "reserve capacity the zone needs"),
    Column("reserve_price_per_mw", "currency/(MW h)", 0.0, 1e5, "reserve capacity price"),
    Column("reserve_call_share", "per unit", 0.0, 1.0, "share of accepted reserve called for deployment"),
    Column("dr_need_mw", "MW", -1e5, 1e5, "demand-response need: + peak shaving, - valley filling"),
    Column("dr_price_per_mwh", "currency/MWh", 0.0, 1e5, "demand-response compensation price"),
    Column("peak_reg_need_mw", "MW", -1e5, 1e5, "peak-regulation call: - valley filling, + peak shaving"),
    Column("peak_reg_price_per_mwh", "currency/MWh", 0.0, 1e5, "peak-regulation base compensation price"),
)
ANCILLARY_NAMES: tuple[str, ...] = tuple(c.name for c in ANCILLARY_COLUMNS)

# Intraday energy price: optional in users' files, derived from DA and RT when absent (see ``data.synthetic``).
# Same unit and range as the day-ahead and real-time prices.
INTRADAY_COLUMNS: tuple[Column, ...] = (
    Column("price_id_per_mwh", "currency/MWh", -10_000.0, 100_000.0, "intraday energy price"),
)
INTRADAY_NAMES: tuple[str, ...] = tuple(c.name for c in INTRADAY_COLUMNS)

# The intraday price sits before the ancillary columns, so that ``ALL_NAMES[ALL_NAMES.index("reg_need_mw"):]``
# is still exactly the ancillary columns.
ALL_NAMES: tuple[str, ...] = COLUMN_NAMES + INTRADAY_NAMES + ANCILLARY_NAMES
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS + INTRADAY_COLUMNS + ANCILLARY_COLUMNS}
