"""Peak regulation (调峰): valley filling (and peak shaving) paid per MWh of response, in tiers by depth.

What the grid buys. In China's provinces without a continuously running spot market, the dispatcher
buys *peak regulation*: in the load valleys (at night, and at midday when solar output floods the
grid) it pays resources to move their net injection down (thermal units below their rated output,
storage and loads consuming more: **valley filling**, 填谷), and at the peaks, in some provinces,
to move it up (**peak shaving**, 削峰/顶峰). It is a day-ahead (D-1) declared service of its own,
settled on the measured response and paid more per MWh the deeper the response (tiers, 阶梯式),
distinct from demand response (an event-based programme with its own baseline and prices). Where
the spot market runs continuously it is switched off (NDRC + NEA, 发改价格〔2024〕196号): there a
scenario leaves ``markets.peak_regulation`` null, its default. Sources and the status of every
value: ``docs/market_rules.md``, section 3.

Rules (:class:`PeakRegulationConfig`; ``x`` are the interval's series):

- **Need and price.** ``peak_reg_need_mw`` is the zone's call for the interval, signed like
  ``dr_need_mw``: ``- = valley filling`` (consume more / inject less), ``+ = peak shaving``, 0 = no
  call. ``peak_reg_price_per_mwh`` is the base compensation ``p`` (invitation form: announced with
  the need; transaction form: the reference of the competitor stack, and the VPP is paid the
  marginal clearing price instead).
- **Offer and award.** In either organisation form, as every capacity product
  (:mod:`vpp_gym.markets.products`): the VPP declares (offers) ``q = max(a, 0) Q`` MW with
  ``Q = offer_max_mw``, its *declared adjustable capacity*; the award ``A`` is the pro-rata share of
  ``|need|`` (invitation) or the merit-order acceptance (transaction) at price ``p``. On the
  hour-ahead timeline the offer is made in the interval; on the day-ahead timeline at the interval's
  bid step at the D-1 gate (the award is held in the rings and delivered in the dispatch step),
  which is the D-1 declaration of the provincial rules.
- **Response.** Measured against the **passive baseline** ``B`` (renewables uncurtailed, storage and
  EVs idle, base load, gas off), as demand response is, in the call's direction
  ``dir = sign(need)``, net of deployed reserve ``D`` and the regulation energy ``R``::

      delivered = max(dir (net - D - R - B), 0)
      r         = min(delivered, A)                       (the paid response, MW)

- **Tiered pay by depth.** The depth of the response is its share of the declared adjustable
  capacity, ``r / Q`` (the VPP's analogue of a thermal unit's load rate against its rated capacity;
  an assumption, see below). Tier ``k`` (``tiers[k] = (s_k, m_k)``, ``0 = s_0 < s_1 < ... < s_K =
  1``) covers depths ``(s_{k-1}, s_k]`` and is paid ``p_k = min(m_k p, price_cap)`` per MWh::

      cash = dt * sum_k p_k * min(max(r - s_{k-1} Q, 0), (s_k - s_{k-1}) Q)

  The tier prices rise with depth by default (deeper regulation is paid more, as in the provincial
  thermal tiers), so the pay is convex in ``r``; with non-increasing multipliers it is concave.
- **Shortfall.** ``max(A - delivered, 0) dt shortfall_penalty_per_mwh`` (``penalty.peak_reg_shortfall``).

The response's energy is settled in the energy market like any other (it is not an instructed
deviation: the award is known before the position for the interval is committed, so the VPP
schedules it). Every product measures against the same passive baseline; the synthetic series never
call peak regulation in a demand-response event interval (:mod:`vpp_gym.data.ancillary`), and a
scenario whose own series call both at once pays the same response twice (a simplification).

Defaults (``docs/market_rules.md`` section 3; V = verified, A = assumption): base valley-filling
compensation 300 CNY/MWh (Henan storage peak regulation, up to 0.3 CNY/kWh, V; the series'
``data.ancillary.peak_reg_price_per_mwh``); ``price_cap`` 450 CNY/MWh (Hunan: the cap equals the
parity renewable price, 450, with thermal tiers at 400 and 450; 196号: the cap should not exceed the
local parity renewable price, V); tiers ``[(0.5, 1.0), (1.0, 1.5)]``: the first half of the declared
capacity at the base price, the deeper half at 1.5 x (= the cap at the default base price; the
tier thresholds of a VPP are not published, A; Shandong 2017 had 7 tiers, the Northwest 2025 draft
removes them); shortfall 450 CNY/MWh (the cap: an award left undelivered never pays, A).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar

from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.entries import CURRENCY, Entry
from vpp_gym.markets.demand_response import response_mw
from vpp_gym.markets.products import ProductMarketConfig
from vpp_gym.markets.spec import ProductSpec
from vpp_gym.validation import MAX_PRICE_PER_MWH, require, require_range

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval
    from vpp_gym.ops import Array

I_NEED = ALL_NAMES.index("peak_reg_need_mw")
"""Column of the call (signed need) in the exogenous rows."""

MAX_MULTIPLIER = 10.0
"""Largest tier multiplier of the base price."""


@dataclass(frozen=True)
class PeakRegulationTier:
    """One depth tier: the response up to ``depth_share`` of the declared capacity, paid ``multiplier`` x the price.

    Attributes:
        depth_share: upper end of the tier as a share of ``offer_max_mw``, in ``(0, 1]``.
        multiplier: the tier's price as a multiple of the base price (capped at ``price_cap``), in ``[0, 10]``.
    """

    depth_share: float = 1.0
    multiplier: float = 1.0

    def __post_init__(self) -> None:
        require_range("depth_share", self.depth_share, 0.0, 1.0, lo_open=True)
        require_range("multiplier", self.multiplier, 0.0, MAX_MULTIPLIER)


DEFAULT_TIERS = (PeakRegulationTier(0.5, 1.0), PeakRegulationTier(1.0, 1.5))
"""Half of the declared capacity at the base price, the deeper half at 1.5 x (module docstring)."""


@dataclass(frozen=True)
class PeakRegulationConfig(ProductMarketConfig):
    """Peak regulation: valley filling / peak shaving paid per MWh of response in tiers by depth (module docstring).

    Attributes:
        price_cap: the highest price of any tier and, in the transaction form, the highest offer and
            scarcity price (CNY/MWh; 450: Hunan, the parity renewable price).
        tiers: the depth tiers in increasing ``depth_share``, the last at 1.
        shortfall_penalty_per_mwh: awarded response not delivered pays this per MWh.
    """

    TRANSACTION_ONLY_KEYS: ClassVar[tuple[str, ...]] = ("competitors",)  # the cap also caps the tier prices

    price_cap: float = 450.0
    tiers: tuple[PeakRegulationTier, ...] = field(default=DEFAULT_TIERS)
    shortfall_penalty_per_mwh: float = 450.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require_range("shortfall_penalty_per_mwh", self.shortfall_penalty_per_mwh, 0.0, MAX_PRICE_PER_MWH)
        shares = [t.depth_share for t in self.tiers]
        require(len(shares) > 0, "tiers", [], "at least one tier")
        require(
            all(a < b for a, b in pairwise(shares)) and shares[-1] == 1.0,
            "tiers",
            [[t.depth_share, t.multiplier] for t in self.tiers],
            "tiers in increasing depth_share, the last at 1 (every depth up to the declared capacity is in a tier)",
        )

    @property
    def tier_widths_mw(self) -> tuple[float, ...]:
        """Width of each tier in MW: ``(s_k - s_{k-1}) offer_max_mw``."""
        out, lo = [], 0.0
        for t in self.tiers:
            hi = t.depth_share * self.offer_max_mw
            out.append(hi - lo)
            lo = hi
        return tuple(out)

    @property
    def concave(self) -> bool:
        """Whether the tier multipliers never rise with depth (then the pay is concave in the response)."""
        m = [t.multiplier for t in self.tiers]
        return all(b <= a for a, b in pairwise(m))


def tiered_pay(paid_mw: Array, price: Array, cfg: PeakRegulationConfig, xp: Any) -> Array:
    """Pay per hour of a paid response ``r`` (MW) at base price ``p``: ``sum_k min(m_k p, cap) x`` (its part in tier k).

    The part of ``r`` in tier ``k`` is ``min(max(r - lo_k, 0), w_k)``, ``lo_k`` the tier's lower end and
    ``w_k`` its width (:attr:`PeakRegulationConfig.tier_widths_mw`); the same on arrays and floats.
    """
    total = 0.0 * paid_mw
    lo = 0.0
    for tier, width in zip(cfg.tiers, cfg.tier_widths_mw, strict=True):
        part = xp.minimum(xp.maximum(paid_mw - lo, 0.0), width)
        total = total + part * xp.minimum(price * tier.multiplier, cfg.price_cap)
        lo = lo + width
    return total


def settle(c: Interval, d: Dispatch, accepted: dict[str, Any]) -> None:
    """Measure the response against the passive baseline, pay it in tiers, penalise the shortfall (module docstring)."""
    xp, dt, led = c.xp, c.dt, c.led
    pc = c.p.cfg.markets.peak_regulation
    assert pc is not None  # the step runs only while the product is open
    delivered = response_mw(c, d, c.x[I_NEED], d.baseline)
    acc = accepted["peak_regulation"]
    paid = xp.minimum(delivered, acc)
    led["peak_regulation.delivered_mw"] = delivered
    led["peak_regulation.depth"] = paid * (1.0 / pc.offer_max_mw) if pc.offer_max_mw > 0.0 else c.zero
    led["peak_regulation.cash"] = tiered_pay(paid, led["peak_regulation.price"], pc, xp) * dt
    led["penalty.peak_reg_shortfall"] = xp.maximum(acc - delivered, 0.0) * (dt * pc.shortfall_penalty_per_mwh)


SPEC = ProductSpec(
    name="peak_regulation",
    label="peak regulation",
    need_column="peak_reg_need_mw",
    price_column="peak_reg_price_per_mwh",
    series=("peak_reg_need_mw", "peak_reg_price_per_mwh"),
    extra_entries=(
        Entry("peak_regulation.delivered_mw", "power", "MW", "peak regulation: response against the baseline"),
        Entry("peak_regulation.depth", "score", "1", "peak regulation: paid response / offer_max_mw (tier depth)"),
        Entry(
            "penalty.peak_reg_shortfall",
            "penalty",
            CURRENCY,
            "awarded peak regulation not delivered",
            "cost_penalties",
            "peak regulation shortfall",
            violation=True,
        ),
    ),
    settle=settle,
    zero_when_closed=False,
)
"""Peak regulation's declaration to the core (:mod:`vpp_gym.markets.spec`)."""
