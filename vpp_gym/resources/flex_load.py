"""Flexible load: a base load with a curtailable share and an energy-neutral shiftable share.

Base load ``L = peak_mw * load_pu`` (MW consumed). Each interval the VPP chooses

    0 <= c <= curtail_share * L                   curtailment (energy not consumed, compensated)
    |s| <= shift_share * L                         shift: s > 0 defers consumption, s < 0 makes it up

and the load consumes ``L - c - s`` (its grid injection is ``-(L - c - s)``). Deferred energy is a
backlog ``b`` (MWh, may be negative after consuming early):

    b' = b + s * dt

Shifting is energy-neutral within fixed windows of ``shift_window_h`` hours counted from the
episode start: in the last interval of each window the shift is forced to ``s = -b / dt`` (the
requested value is overridden), so ``b`` is 0 after every window. If that forced make-up exceeds
the shift power limit, the excess energy ``(|b / dt| - shift_share * L) * dt`` is a violation charged
``shift_violation_penalty_per_mwh``. A forced reduction is capped at ``L - c`` (consumption never goes
negative); the energy that cap drops is part of the violation.

Costs per interval: ``curtail_cost_per_mwh * c * dt + shift_cost_per_mwh * |s| * dt``.

When the load provides frequency regulation (``markets.regulation.providers``) it does so in the shift
band: the shift moves at the AGC sub-steps, ``s_k = s + r_k`` inside ``[-shift_share L, shift_share L]``
(none in a window's last interval); ``s`` becomes the mean of ``s_k`` (so the backlog takes the
regulation energy ``mean(r) dt``) and the shift cost is charged on the mean ``|s_k|``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.ops import Array, lift, lower
from vpp_gym.resources.spec import power_entries

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval
from vpp_gym.entries import Entry
from vpp_gym.resources.spec import ResourceSpec, StateField
from vpp_gym.validation import MAX_POWER_MW, MAX_PRICE_PER_MWH, fmt_num, require, require_range


@dataclass(frozen=True)
class FlexLoadParams:
    """Flexible load parameters.

    Attributes:
        peak_mw: scale of the ``load_pu`` series (MW at 1 per unit).
        curtail_share: share of the base load that may be curtailed.
        curtail_cost_per_mwh: compensation / discomfort cost of curtailed energy.
        shift_share: share of the base load that may be shifted in time.
        shift_window_h: windows (from the episode start) within which shifting is energy-neutral.
        shift_cost_per_mwh: discomfort cost per MWh moved (both directions).
        shift_violation_penalty_per_mwh: penalty on forced make-up energy beyond the power limit.
    """

    peak_mw: float = 3.0
    curtail_share: float = 0.1
    curtail_cost_per_mwh: float = 600.0
    shift_share: float = 0.2
    shift_window_h: float = 4.0
    shift_cost_per_mwh: float = 10.0
    shift_violation_penalty_per_mwh: float = 1000.0

    def __post_init__(self) -> None:
        require_range("peak_mw", self.peak_mw, 0.0, MAX_POWER_MW)
        require_range("curtail_share", self.curtail_share, 0.0, 1.0)
        require_range("curtail_cost_per_mwh", self.curtail_cost_per_mwh, 0.0, MAX_PRICE_PER_MWH)
        require_range("shift_share", self.shift_share, 0.0, 1.0)
        require(
            self.curtail_share + self.shift_share <= 1.0,
            "shift_share",
            self.shift_share,
            f"at most 1 - curtail_share = {fmt_num(1.0 - self.curtail_share)} (the two shares of the load cannot "
            "exceed the whole load)",
        )
        require_range("shift_window_h", self.shift_window_h, 0.0, 24.0, lo_open=True)
        require_range("shift_cost_per_mwh", self.shift_cost_per_mwh, 0.0, MAX_PRICE_PER_MWH)
        require_range("shift_violation_penalty_per_mwh", self.shift_violation_penalty_per_mwh, 0.0, MAX_PRICE_PER_MWH)

    def window_steps(self, dt_h: float) -> int:
        """Intervals per shift window; the window must be a whole number of intervals."""
        steps = self.shift_window_h / dt_h
        require(
            abs(steps - round(steps)) < 1e-9 and round(steps) >= 1,
            "resources.flex_load.shift_window_h",
            self.shift_window_h,
            f"a whole multiple of the interval ({fmt_num(dt_h)} h)",
        )
        return round(steps)


def feasible_range(params: FlexLoadParams, base_mw: Array) -> tuple[Array, Array, Array]:
    """Limits for this interval: ``(c_max_mw, s_lo_mw, s_hi_mw)``; c in [0, c_max], s in [s_lo, s_hi]."""
    s_max = params.shift_share * base_mw
    return params.curtail_share * base_mw, -s_max, s_max


def apply(
    params: FlexLoadParams,
    backlog_mwh: Array,
    base_mw: Array,
    c_request_mw: Array,
    s_request_mw: Array,
    window_end: Array,
    dt_h: float,
    xp: Any = np,
) -> tuple[Array, Array, Array, Array]:
    """Apply curtailment and shift requests.

    Args:
        window_end: True where this is the last interval of a shift window (the shift is then
            forced to ``-backlog / dt``); a boolean array, or a bool with ``xp = SCALAR``.

    Returns:
        ``(c_mw, s_mw, backlog_next_mwh, violation_mwh)``; consumption is ``base - c - s``.
    """
    c_max, s_lo, s_hi = feasible_range(params, base_mw)
    c = xp.minimum(xp.maximum(c_request_mw, 0.0), c_max)
    forced = -backlog_mwh / dt_h
    violation = xp.where(window_end, xp.maximum(abs(forced) - s_hi, 0.0) * dt_h, 0.0)
    # A forced reduction can never take consumption below zero.
    s = xp.where(window_end, xp.minimum(forced, base_mw - c), xp.minimum(xp.maximum(s_request_mw, s_lo), s_hi))
    backlog_next = xp.where(window_end, 0.0, backlog_mwh + s * dt_h)
    return c, s, backlog_next, violation


I_LOAD = ALL_NAMES.index("load_pu")
"""Column of the base load in the exogenous rows."""


def setpoint(c: Interval, d: Dispatch, fl: FlexLoadParams) -> None:
    """Curtailment ``max(a, 0) * curtail_share * base`` and shift ``a * shift_share * base`` (:func:`apply`).

    Every window ends energy-neutral, and so does the episode (no backlog escapes at its end): the
    backlog is forced back at a window's last interval and what cannot be delivered is a violation.
    Reserve may curtail more, up to ``c_max = min(curtail_share * base, base - shift)``.
    """
    xp, p, t = c.xp, c.p, c.s.t
    base = fl.peak_mw * c.x[I_LOAD]
    c_req = xp.maximum(c.action("load_curtail"), 0.0) * fl.curtail_share * base
    s_req = c.action("load_shift") * fl.shift_share * base
    window_end = ((t + 1) % p.window_steps == 0) | (t + 1 == p.episode_steps)
    d.c, d.sh, d.state["backlog_mwh"], violation = apply(
        fl, d.state["backlog_mwh"], base, c_req, s_req, window_end, c.dt, xp
    )
    d.c_max = xp.minimum(fl.curtail_share * base, base - d.sh)
    c.led["load.base_mw"] = base
    c.led["load_curtail.requested_mw"], c.led["load_shift.requested_mw"] = c_req, s_req
    d.baseline = d.baseline - base
    c.led["penalty.shift_violation"] = violation * fl.shift_violation_penalty_per_mwh
    c.led["violation.shift_mwh"] = violation


def reg_headroom(c: Interval, d: Dispatch, fl: FlexLoadParams) -> tuple[Array, Array]:
    """Regulation headroom ``(up, down)`` in the shift band around the base shift: deferring more
    consumption up to ``shift_share * base`` (up), making more up down to ``-shift_share * base`` (down);
    none in the last interval of a shift window, where the shift is forced to repay the backlog."""
    xp, t, p = c.xp, c.s.t, c.p
    s_max = fl.shift_share * (fl.peak_mw * c.x[I_LOAD])
    window_end = ((t + 1) % p.window_steps == 0) | (t + 1 == p.episode_steps)
    return xp.where(window_end, 0.0, s_max - d.sh), xp.where(window_end, 0.0, d.sh + s_max)


def reg_follow(c: Interval, d: Dispatch, fl: FlexLoadParams, r: np.ndarray) -> None:
    """The shift profile ``sh + r_k`` over the sub-steps (``(B, S)``, inside the shift band): the shift
    becomes its mean (so the consumption ``base - c - sh`` the mean consumption), the regulation energy
    ``mean(r) dt`` joins the backlog (repaid by the window's end), and the shift cost is charged on the
    profile's mean ``|sh + r_k|`` (:func:`inject`)."""
    batched = c.batched
    prof = lift(d.sh, batched)[:, None] + r
    inv = 1.0 / prof.shape[1]
    d.sh = lower(np.add.reduce(prof, axis=1) * inv, batched)
    d.sh_moved = lower(np.add.reduce(np.abs(prof), axis=1) * inv, batched)
    d.state["backlog_mwh"] = d.state["backlog_mwh"] + lower(np.add.reduce(r, axis=1) * inv, batched) * c.dt


def inject(c: Interval, d: Dispatch, fl: FlexLoadParams) -> None:
    """The consumption (after reserve curtailment) out of the net injection; curtailment and shift costs."""
    led, dt = c.led, c.dt
    consumption = led["load.base_mw"] - d.c - d.sh
    led["load.consumption_mw"] = consumption
    led["load_curtail.applied_mw"], led["load_shift.applied_mw"] = d.c, d.sh
    d.net = d.net - consumption
    d.served = d.served + consumption
    led["cost.curtailment"] = d.c * (dt * fl.curtail_cost_per_mwh)
    moved = abs(d.sh) if d.sh_moved is None else d.sh_moved
    led["cost.load_shift"] = moved * (dt * fl.shift_cost_per_mwh)


SPEC = ResourceSpec(
    setpoint=setpoint,
    inject=inject,
    reg_headroom=reg_headroom,
    reg_follow=reg_follow,
    ledger=(
        Entry("load.base_mw", "power", "MW", "base load of the interval (before flexibility)", owner="flex_load"),
        Entry(
            "load.consumption_mw",
            "power",
            "MW",
            "consumption after curtailment and shifting",
            label="load",
            owner="flex_load",
        ),
        *power_entries("load_curtail", "load curtailment", owner="flex_load"),
        *power_entries("load_shift", "load shift", owner="flex_load"),
    ),
    name="flex_load",
    actions=lambda prm: (
        ("load_curtail", "curtailment ``max(a, 0) * curtail_share * base load``"),
        ("load_shift", "shift ``a * shift_share * base load`` (+ = defer; repaid at each window end)"),
    ),
    state=(StateField("backlog_mwh", lambda prm: 0.0),),
    obs_rows=lambda p, prm: (
        ("load_backlog", -1.0, 1.0, "shift backlog / (shift_share * peak_mw * max load_pu * window h)"),
    ),
    # |backlog| <= scale by construction; the clip only absorbs float rounding
    features=lambda p, prm, s, xp: [xp.minimum(xp.maximum(s.backlog_mwh * (1.0 / p.backlog_scale_mwh), -1.0), 1.0)],
    series=("load_pu",),
    calendar=(("window_phase", 0.0, 1.0, "(t mod window steps) / window steps"),),
    calendar_values=lambda p, prm, t_idx: [(t_idx % p.window_steps) / p.window_steps],
    action_rank=4,
    obs_rank=1,
    series_rank=2,
)
"""The flexible load's declaration to the core (:mod:`vpp_gym.resources.spec`)."""
