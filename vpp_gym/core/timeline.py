"""The day-ahead market timeline (``markets.energy.timeline: day_ahead``): China's D-1 auction, intraday, real time.

An episode covers ``D`` whole days. Its steps follow the market's clock (sources:
``docs/market_rules.md``):

1. **D-1 gate.** At ``gate_hour`` (local time) of the day before each day ``d`` the VPP submits an
   offer curve for every interval of ``d``: one **bid step** per interval, in time order, that does
   not advance time. The bid steps of day 0 come first (the gate is on the day before the episode);
   those of day ``d + 1`` come right after the dispatch interval that ends at ``gate_hour`` on day
   ``d``. A bid step observes the forecasts of the interval it bids for (and the ``H - 1`` after it)
   made at the gate from what is known then (:func:`gate_sources`): a seasonal-naive forecast, the
   value of the same interval on the latest day whose value was known before the gate (the
   day-ahead price: published for the whole of D-1). Its error is the day-to-day change of the
   series, at leads of 14 to 38 hours with the default gate of 10:00; nothing that becomes known
   after the gate is observed, whatever the series (``tests/env/test_day_ahead_information.py``).
   Demand-response events are announced, not realised: those of day ``d`` are announced before its
   gate and observed exactly from then on (:mod:`vpp_gym.core.announcement`).
2. **Clearing.** Each interval's curve is cleared against that interval's day-ahead price (price-taker)
   or, in the transaction form with a competitor stack, together with the stack against the zone's
   need (price-maker, :func:`vpp_gym.markets.energy.clear_curve`); the intervals are independent (no
   block offers), so clearing each one at its bid step is the same as clearing the day at once. The
   award is a binding schedule; it is settled, and first observed, at delivery.
3. **Intraday.** At every ``intraday.gate_spacing_steps``-th interval the VPP may adjust its schedule
   for each interval of the block that starts ``intraday.lead_steps`` ahead
   (:class:`~vpp_gym.config.IntradayConfig`), matched at the intraday price. The VPP is a
   price-taker there and its orders carry no limit price: a limit would only reject trades at a
   price the VPP does not observe, and without it the oracle's intraday trades are an exact LP
   (one quantity per interval). An agent can therefore only lose option value by this
   simplification, never gain from it.
4. **Real time.** Each dispatch step is one interval: the resources are dispatched, the net
   injection's deviation from the schedule (day-ahead + intraday) is settled at the real-time price,
   and deviation beyond the tolerance band pays the assessment price; a contract for difference pays
   ``Q_c dt (price_c - price_da)``.
5. **End.** The energy stored at the end above its initial level is credited at the mean day-ahead
   price of the last day (``terminal_value: mean_da``), so selling the initial charge earns nothing
   on average.

The schedule (:class:`Schedule`) is the same for every episode of a scenario: episodes start at
local midnight and every day has the same number of intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vpp_gym.config import ScenarioConfig

PHASE_DISPATCH = 0
PHASE_BID = 1


@dataclass(frozen=True, eq=False)
class Schedule:
    """The steps of a day-ahead-timeline episode, in order.

    Attributes:
        bid: ``(K + 1,)`` bool, step ``k`` is a bid step (False at ``k = K``, the end).
        interval: ``(K + 1,)`` int, the episode interval step ``k`` dispatches or bids for (``T`` at ``k = K``).
        gate_lead: ``(K + 1,)`` int, intervals from the gate to the interval bid for (0 for dispatch steps).
        dispatched: ``(K + 1,)`` int, intervals dispatched before step ``k`` (the state's ``t``).
        day_steps: intervals per day ``N``.
        gate_step: interval of the day at which the gate closes (``gate_hour`` in intervals).
        ring: length of the position rings (``2 N``; an interval's schedule lives in slot ``i % ring``).
    """

    bid: np.ndarray
    interval: np.ndarray
    gate_lead: np.ndarray
    dispatched: np.ndarray
    day_steps: int
    gate_step: int
    ring: int

    @property
    def steps(self) -> int:
        """Steps per episode ``K`` (bid and dispatch)."""
        return len(self.bid) - 1


def build_schedule(cfg: ScenarioConfig) -> Schedule:
    """The :class:`Schedule` of a scenario on the day-ahead timeline (see the module docstring)."""
    n = round(24 * 60 / cfg.time.interval_minutes)
    t_total = cfg.time.episode_steps
    days = t_total // n
    g = round(cfg.markets.energy.gate_hour * 60 / cfg.time.interval_minutes)
    bid: list[bool] = []
    interval: list[int] = []
    lead: list[int] = []

    def bids(day: int) -> None:
        for j in range(n):
            bid.append(True)
            interval.append(day * n + j)
            lead.append(n - g + j)

    def dispatch(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            bid.append(False)
            interval.append(i)
            lead.append(0)

    bids(0)
    for d in range(days):
        dispatch(d * n, d * n + g)
        if d + 1 < days:
            bids(d + 1)
        dispatch(d * n + g, (d + 1) * n)
    bid_a = np.array([*bid, False], dtype=bool)
    done = np.concatenate([[0], np.cumsum(~bid_a[:-1])])
    return Schedule(
        bid=bid_a,
        interval=np.array([*interval, t_total], dtype=np.int64),
        gate_lead=np.array([*lead, 0], dtype=np.int64),
        dispatched=done.astype(np.int64),
        day_steps=n,
        gate_step=g,
        ring=2 * n,
    )


def contract_profile(cfg: ScenarioConfig) -> np.ndarray:
    """The contract quantity (MW, + = sell) of each interval of the day, ``(N,)`` (zeros without a contract).

    Shapes (:class:`~vpp_gym.config.ContractConfig`), by the local time ``h`` of the interval's midpoint:
    ``flat`` 1; ``peak`` 1 for ``8 <= h < 22``; ``valley`` 1 for ``h >= 23`` or ``h < 7``; ``solar``
    ``max(sin(pi (h - 6) / 12), 0)``.
    """
    n = round(24 * 60 / cfg.time.interval_minutes)
    c = cfg.markets.energy.contract
    if c is None:
        return np.zeros(n)
    h = (np.arange(n) + 0.5) * (24.0 / n)
    shape = {
        "flat": np.ones(n),
        "peak": ((h >= 8.0) & (h < 22.0)).astype(float),
        "valley": ((h >= 23.0) | (h < 7.0)).astype(float),
        "solar": np.maximum(np.sin(np.pi * (h - 6.0) / 12.0), 0.0),
    }[c.shape]
    return c.quantity_mw * shape


def history_steps(cfg: ScenarioConfig) -> int:
    """Rows of history before an episode that its gate forecasts may read (three days)."""
    return 3 * round(24 * 60 / cfg.time.interval_minutes)


def gate_sources(
    cfg: ScenarioConfig, schedule: Schedule, horizon: int, da_column: np.ndarray, exact_column: np.ndarray | None = None
) -> np.ndarray:
    """Where each step's forecast of each observed column comes from, ``(n_cols, H, K + 1)`` int.

    Indices are rows of the episode's history-extended rows (row ``history_steps`` is the episode's
    first interval). A dispatch step ``k`` reads interval ``interval[k] + h`` (the core adds its
    forecast error). A bid step for interval ``i`` of day ``d`` reads, for target ``i + h``, the same
    interval ``m`` days earlier, with the smallest ``m >= 1`` such that the source was known at the
    gate: realised before the gate (``(d - 1) N + gate_step``), or, for the day-ahead price
    (``da_column`` True), published by then (the whole of day ``d - 1``). Before the data's first
    row the first row is read (edge padding). A column of ``exact_column`` (the demand-response events,
    announced at D-1: :mod:`vpp_gym.core.announcement`) is read at its target by every step; the
    announcement rule then hides the intervals not announced at the step.

    Args:
        da_column: ``(n_cols,)`` bool, the observed columns that are day-ahead prices.
        exact_column: ``(n_cols,)`` bool, the observed columns read at their target (default none).
    """
    n, g, off = schedule.day_steps, schedule.gate_step, history_steps(cfg)
    target = schedule.interval[None, :] + np.arange(horizon)[:, None]  # (H, K+1)
    out = np.empty((len(da_column), horizon, len(schedule.interval)), dtype=np.int64)
    day = schedule.interval // n
    for c, is_da in enumerate(da_column):
        known = day * n if is_da else (day - 1) * n + g  # the first interval not known at the gate, (K+1,)
        m = np.maximum(1, -(-(target - known[None, :] + 1) // n))
        out[c] = np.maximum(off + np.where(schedule.bid[None, :], target - m * n, target), 0)
        if exact_column is not None and exact_column[c]:
            out[c] = np.maximum(off + target, 0)
    return out
