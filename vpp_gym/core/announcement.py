"""The D-1 announcement of demand-response events on the day-ahead timeline, and what a step observes of it.

**Rule.** Demand response is dispatched: the event plan of day ``D`` (the need and price of each of its
intervals, so the event's window, and with ``markets.demand_response.baseline: similar_days`` the
baseline of each interval) is announced at ``announce_hour`` (local time) on ``D - 1``
(:class:`~vpp_gym.markets.products.DemandResponseConfig`), in interval units ``A_D = (D - 1) N + a``
after the episode's first interval (``N`` intervals a day, ``a = announce_hour x 60 / interval_minutes``).
A step's **information time** is the gate ``(d - 1) N + g`` for a bid step for day ``d`` (``g`` the gate
in intervals) and ``i`` for the dispatch step of interval ``i`` (its start); the step observes day ``D``'s
announcement when ``A_D <= info time``. ``announce_hour <= gate_hour`` (checked by the config), so a
bid step always sees the day it bids for, never the day after. Intervals after the episode's last are
never announced (the episode's information ends with it).

**Observation** (only on the day-ahead timeline with demand response open; the hour-ahead timeline
is the v0 one, unchanged): for each lead ``h = 0 .. H-1`` of the step's window (interval ``t + h``,
``t`` the interval the step bids for or dispatches):

- the forecast rows ``dr_need_mw[t+h]`` and ``dr_price_per_mwh[t+h]`` are the announced values,
  exact, when interval ``t + h`` is announced, and 0 when it is not (bid steps read them at their target
  interval, not seasonal-naively: :func:`vpp_gym.core.timeline.gate_sources`);
- ``dr_announced[t+h]`` (this module's rows, after the calendar): 1 when interval ``t + h`` is announced
  (then a 0 need is "no event"), else 0;
- with ``baseline: similar_days``, ``dr_baseline[t+h]``: the announced baseline of interval ``t + h``
  (MW, net injection, ``EpisodeData.dr_baseline_mw``) divided by :func:`baseline_scale_mw`, 0 when not
  announced.

``tests/env/test_day_ahead_information.py`` checks the rule by perturbing a day's events: nothing
observed before its announcement changes, the steps after it see the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vpp_gym.resources.spec import ObsRow

if TYPE_CHECKING:
    from vpp_gym.core.params import CoreParams

ANNOUNCED_SERIES = ("dr_need_mw", "dr_price_per_mwh")
"""The observed columns that are announced at D-1 (read exactly once announced, 0 before)."""


def active(p: CoreParams) -> bool:
    """Whether the scenario observes the announcement: the day-ahead timeline with demand response open."""
    return p.day_ahead and p.cfg.markets.demand_response is not None


def with_baseline(p: CoreParams) -> bool:
    """Whether the announcement carries a baseline (``baseline: similar_days``) and so its rows are observed."""
    dc = p.cfg.markets.demand_response
    return active(p) and dc is not None and dc.baseline == "similar_days"


def announce_step(p: CoreParams) -> float:
    """``a``: the announcement's time of day in intervals (``announce_hour x 60 / interval_minutes``)."""
    dc = p.cfg.markets.demand_response
    assert dc is not None
    return dc.announce_hour * 60.0 / p.cfg.time.interval_minutes


def info_times(p: CoreParams) -> np.ndarray:
    """``(K + 1,)`` the information time of every step, in intervals from the episode's first (module
    docstring): the gate for a bid step, the interval's start for a dispatch step (``T`` at the end)."""
    sch = p.schedule
    gate = (sch.interval // sch.day_steps - 1) * sch.day_steps + sch.gate_step
    return np.where(sch.bid, gate, sch.interval)


def announced(p: CoreParams, info: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Whether the intervals ``targets`` are announced by the information times ``info`` (broadcast):
    ``A_D <= info`` for the day ``D`` of the target, and the target inside the episode."""
    n = p.schedule.day_steps
    return ((targets // n - 1) * n + announce_step(p) <= info) & (targets < p.episode_steps)


def mask(p: CoreParams) -> np.ndarray:
    """``(H, K + 1)`` bool: interval ``t + h`` of step ``k`` is announced at the step (:func:`announced`)."""
    targets = p.schedule.interval[None, :] + np.arange(p.horizon)[:, None]
    return announced(p, info_times(p)[None, :], targets)


def baseline_scale_mw(p: CoreParams) -> float:
    """Divisor of the baseline rows: the largest of the renewable capacity and the highest base load (MW),
    so that ``baseline = generation - mean load`` divided by it lies in ``[-1, 1]``."""
    r = p.cfg.resources
    gen = sum(prm.p_max_mw for prm in (r.pv, r.wind) if prm is not None)
    load = r.flex_load.peak_mw * max(p.hi["load_pu"], 0.0) if r.flex_load is not None else 0.0
    return max(gen, load, 1e-9)


def rows(p: CoreParams) -> list[ObsRow]:
    """The announcement's observation rows (after the calendar; none unless :func:`active`)."""
    if not active(p):
        return []
    H = p.horizon
    out: list[ObsRow] = [
        (f"dr_announced[t+{h}]", 0.0, 1.0, f"1 if the demand-response events of interval t+{h} are announced")
        for h in range(H)
    ]
    if with_baseline(p):
        out += [
            (f"dr_baseline[t+{h}]", -1.0, 1.0, f"announced DR baseline of interval t+{h} (MW) / baseline scale, else 0")
            for h in range(H)
        ]
    return out


def features(p: CoreParams, baseline_mw: np.ndarray | None, k: np.ndarray) -> np.ndarray:
    """The values of :func:`rows` at steps ``k`` ``(B, M)`` of ``B`` episodes, ``(B, M, n_rows)`` float32.

    Args:
        baseline_mw: the episodes' baselines ``(B, T)`` (``EpisodeData.dr_baseline_mw``; None without
            ``similar_days``).
        k: step indices, one row per episode.
    """
    m = p.announce_mask[:, k]  # (H, B, M)
    cols = [m.astype(np.float32)]
    if with_baseline(p):
        assert baseline_mw is not None
        targets = np.minimum(p.schedule.interval[k][None] + np.arange(p.horizon)[:, None, None], p.episode_steps - 1)
        rows_b = np.arange(len(k))[None, :, None]
        base = baseline_mw[rows_b, targets] * (1.0 / baseline_scale_mw(p))
        cols.append(np.where(m, base, 0.0).astype(np.float32))
    return np.concatenate(cols, axis=0).transpose(1, 2, 0)


def mask_windows(p: CoreParams, windows: np.ndarray, m: np.ndarray) -> None:
    """Zero, in place, the announced columns of forecast windows ``(n_cols, H, ...)`` where ``m`` (``(H, ...)``,
    broadcast) says the interval is not announced."""
    for c in p.announced_columns:
        windows[c] = np.where(m, windows[c], np.float32(0.0))
