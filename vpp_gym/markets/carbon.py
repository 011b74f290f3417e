"""Carbon market: allowances, flat or stepped (ladder) carbon price, CCER offsets, green certificates.

Quantities accumulate over the episode (tCO2):

    E_gross  = sum of emissions (grid imports x grid intensity + gas output x its factor)
    A        = free allowances = free_allowance_t_per_mwh x served load (MWh)
    CCER     = ccer_t_per_mwh x renewable MWh not certified as green certificates
    used     = min(CCER, ccer_cap_share x E_gross)            offsets capped at a share of the obligation
    X        = E_gross - A - used                            net position (> 0 = deficit, < 0 = surplus)

Compliance cost ``C(X)`` (currency), with base price ``lam``:

    flat:     C(X) = lam * X                     (X < 0 earns lam * |X| if reward_surplus, else 0)
    stepped:  bands of ``band_t`` tonnes; band k (k = 0, 1, ...) is priced lam * (1 + k * growth):
              C(X) = lam * band_t * (n + growth * n * (n - 1) / 2) + lam * (1 + n * growth) * r,
              n = floor(|X| / band_t), r = |X| - n * band_t, for X >= 0;
              C(X) = -C(|X|) for a surplus if reward_surplus (the reward-and-penalty ladder), else 0.

Compliance is settled at episode end, ``C(X_T)``; each step's carbon cash is the change
``-(C(X_t) - C(X_{t-1}))`` so that the per-step terms sum exactly to ``-C(X_T)``.

Green certificates: each renewable MWh certified (share ``gec_share`` of renewable output) is sold at
``gec_price_per_mwh`` in the step it is produced. A certified MWh never also earns CCER credits.

Round-the-clock green-power matching (an all-green park): every MWh imported from the grid in an
interval is consumption that the VPP's own renewable (and stored) energy did not match in that
interval and pays ``unmatched_import_penalty_per_mwh`` (``penalty.green_matching``; 0 = no rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vpp_gym.ops import Array
from vpp_gym.validation import MAX_CARBON_T, require, require_range


@dataclass(frozen=True)
class CarbonMarketConfig:
    """Carbon and green-certificate market rules.

    Attributes:
        price_per_t: base carbon price ``lam`` (currency per tCO2).
        pricing: ``flat`` or ``stepped`` (ladder).
        band_t: ladder interval length (tCO2 per band).
        growth: price growth per band (0.25 = each band 25 % dearer than the base price step).
        reward_surplus: whether a net surplus of allowances earns money (else it is worth 0).
        free_allowance_t_per_mwh: benchmark of free allowances per MWh of load served.
        ccer_t_per_mwh: CCER credits per renewable MWh that is not certified as a green certificate.
        ccer_cap_share: CCER usable up to this share of gross emissions.
        gec_price_per_mwh: price of one green certificate (1 MWh).
        gec_share: share of renewable output certified and sold as green certificates.
        unmatched_import_penalty_per_mwh: 24 h green-power matching: penalty per MWh imported.
    """

    price_per_t: float = 60.0
    pricing: Literal["flat", "stepped"] = "flat"
    band_t: float = 2.0
    growth: float = 0.25
    reward_surplus: bool = True
    free_allowance_t_per_mwh: float = 0.0
    ccer_t_per_mwh: float = 0.0
    ccer_cap_share: float = 0.05
    gec_price_per_mwh: float = 0.0
    gec_share: float = 0.0
    unmatched_import_penalty_per_mwh: float = 0.0

    def __post_init__(self) -> None:
        require_range("markets.carbon.price_per_t", self.price_per_t, 0.0, 10_000.0)
        require_range("markets.carbon.band_t", self.band_t, 0.0, MAX_CARBON_T, lo_open=True)
        require_range("markets.carbon.growth", self.growth, 0.0, 10.0)
        require_range("markets.carbon.free_allowance_t_per_mwh", self.free_allowance_t_per_mwh, 0.0, 2.0)
        require_range("markets.carbon.ccer_t_per_mwh", self.ccer_t_per_mwh, 0.0, 2.0)
        require_range("markets.carbon.ccer_cap_share", self.ccer_cap_share, 0.0, 1.0)
        require_range("markets.carbon.gec_price_per_mwh", self.gec_price_per_mwh, 0.0, 10_000.0)
        require_range("markets.carbon.gec_share", self.gec_share, 0.0, 1.0)
        require_range(
            "markets.carbon.unmatched_import_penalty_per_mwh", self.unmatched_import_penalty_per_mwh, 0.0, 1e5
        )
        require(self.pricing in ("flat", "stepped"), "markets.carbon.pricing", self.pricing, "'flat' or 'stepped'")


def _ladder(x: Array, cfg: CarbonMarketConfig, xp: Any) -> Array:
    """Stepped cost of a nonnegative excess ``x``."""
    lam, d, g = cfg.price_per_t, cfg.band_t, cfg.growth
    if xp is np:
        n = np.floor(x / d)
    else:
        n = float(math.floor(x / d))
    r = x - n * d
    return lam * d * (n + g * n * (n - 1.0) * 0.5) + lam * (1.0 + n * g) * r


def compliance_cost(net_t: Array, cfg: CarbonMarketConfig, xp: Any = np) -> Array:
    """``C(X)`` of the module docstring for a net position ``net_t`` (tCO2)."""
    deficit = xp.maximum(net_t, 0.0)
    surplus = xp.maximum(-net_t, 0.0)
    if cfg.pricing == "flat":
        cost = cfg.price_per_t * deficit
        return cost - cfg.price_per_t * surplus if cfg.reward_surplus else cost
    cost = _ladder(deficit, cfg, xp)
    return cost - _ladder(surplus, cfg, xp) if cfg.reward_surplus else cost


def net_position(
    emissions_t: Array, allowances_t: Array, ccer_t: Array, cfg: CarbonMarketConfig, xp: Any = np
) -> tuple[Array, Array]:
    """Net position ``X`` and the CCER actually used, from cumulative quantities."""
    used = xp.minimum(ccer_t, cfg.ccer_cap_share * emissions_t)
    return emissions_t - allowances_t - used, used
