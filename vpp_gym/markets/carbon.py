"""Carbon market: three compliance regimes, CCER offsets, green certificates (GEC).

``markets.carbon.regime`` chooses who is covered and how allowances are allocated; every regime
accumulates three totals over the episode (the state's ``emissions_t``, ``allowances_t``,
``ccer_t``, tCO2; ``pilot_ets`` a fourth, ``direct_t``) and settles the net position ``X`` at
episode end at the carbon price.

**stepped_price** (the default, the v0 rule; a device from the research literature on
low-carbon VPP dispatch, not a Chinese market rule): the VPP is covered for everything it emits
and gets allowances for the load it serves::

    E    = sum of emissions (grid imports x the interval's grid intensity + gas output x its factor)
    A    = free_allowance_t_per_mwh x load served (MWh)
    used = min(CCER, ccer_cap_share x E)                  offsets capped at a share of the obligation
    X    = E - A - used                                   net position (> 0 = deficit, < 0 = surplus)

priced ``flat`` or on the reward-and-penalty ladder (``stepped``). Such a benchmark on the load
served pays a VPP whose own renewables cover part of its load, for doing nothing (the passive
reference earns a surplus that grows with the carbon price; ``tests/markets/test_carbon_regimes.py``).

**national_ets** (China's national ETS, power sector): only the VPP's own fossil unit (the gas
unit) is covered; loads and grid imports are not (indirect emissions are outside the national
scheme, ICAP on the 2023-24 allocation plan). Free allocation is output-based::

    E    = ef_gas x G                                     G: MWh the gas unit supplied
    A    = gas_benchmark_t_per_mwh x G                    benchmark 0.392 tCO2/MWh (gas class, 2019-20)
    O    = min(E, (1 + shortfall_cap_share) x A)         with the shortfall exemption, else O = E
    used = min(CCER, ccer_cap_share x O)                  CCER <= 5 % of the allowances due
    X    = O - A - used

The exemption (ICAP, MEE 2019-20 allocation plan; The Coal Hub): a gas unit need not surrender more
than its free allocation, i.e. a deficit above ``shortfall_cap_share`` (0 for gas) times the
allocation is not charged. The coal rule caps the gap at 20 % (the base of the 20 % is ambiguous in
the sources); ``shortfall_cap_share: 0.2`` reads it as 20 % of the allocation.

**pilot_ets** (the regional pilots): a covered entity reports and surrenders for its direct emissions
(fuel burnt on site) and its indirect emissions of purchased electricity (and heat): Beijing's pilot
covers "both direct and indirect emissions" (ICAP, Emissions Trading Worldwide, Status Report 2016,
Beijing factsheet; verified); the same scope split for the other pilots is read from the pilots' MRV
guidelines, of which only the tables of contents were seen (World Bank PMR Technical Note 8, A Survey
of the MRV Systems for China's ETS Pilots, 2014; Guangdong's 2021 reporting guidelines, with a chapter
on gas-fired generation; links in ``docs/market_rules.md`` section 5). So both count: the VPP's own
gas unit at its factor ``ef_gas`` (direct) and the grid imports at the official annual grid factor
(``grid_factor_t_per_mwh``, 0.5366 tCO2/MWh, the 2022 national factor, MEE + NBS 2024-12-20), the
latter net of the green certificates the VPP keeps. Interval by interval, with the renewable output
``R = N + K`` split into MWh whose green attribute the VPP no longer holds (``N``: certificate sold or
credited as CCER, see below) and MWh whose certificate it keeps (``K``), imports ``I`` and exports
``P`` (MWh); exports carry the ``N`` MWh first::

    w[t] = max(N[t] - P[t], -K[t])      N consumed on site (grey), or - the kept MWh exported
    D    = ef_gas x G                                       direct: G the MWh the gas unit supplied
    E    = D + grid_factor x max(sum_t (I[t] + w[t]), 0)    the state keeps D (direct_t) and the sum apart
    A    = allocation_t_per_day x hours / 24                (a fixed baseline, 0 by default)
    used = min(CCER, ccer_cap_share x A)                   pilots: offsets <= 5 % of the allocation
    X    = E - A - used

The certificates net indirect emissions only: the floor applies to the indirect balance alone and the
direct term is added after it, so a surplus of kept certificates (``sum_t (I + w) < 0``) offsets no
tonne of gas. The gas output takes no part in ``w``: exports carry the ``N`` MWh, then the ``K`` MWh,
before any gas MWh (a convention, as the pilots' rules say nothing of a site that both generates and
exports); every gas MWh pays its direct emissions, whether it is consumed on site or exported.
A kept certificate of an exported MWh counts as zero-emission supply against imports of other
intervals; a self-consumed MWh whose certificate was sold is grey consumption (the buyer holds its
attribute). The hourly marginal series ``grid_ef_t_per_mwh`` stays a reporting KPI
(``emissions.grid_t``, ``carbon.emissions_t``). Allocation: a fixed baseline per episode, not an
intensity benchmark on the load served: a benchmark below the grid factor still pays a VPP whose
renewables cover part of its load, a baseline only what it cuts below its history; with no
history known the default is 0 (every tonne is paid). The pilot factors themselves were not
found (``docs/market_rules.md`` section 5), so the national factor is the default.

Both ETS regimes settle at one allowance (CEA) price, ``pricing: flat``: 68, 96 and 75 CNY/t in
2023, 2024 and 2025 (SEEE turnover / volume). Compliance is annual; an episode is a slice of the
year, so its net position is settled at the episode end as if it were traded at the price then
(every interval's cash is the change of ``C(X)``, below). The annual caps (5 % of the obligation
or allocation, the exemption) apply to the episode's own totals.

Compliance cost ``C(X)`` (currency), with base price ``lam``:

    flat:     C(X) = lam * X                     (X < 0 earns lam * |X| if reward_surplus, else 0)
    stepped:  bands of ``band_t`` tonnes; band k (k = 0, 1, ...) is priced lam * (1 + k * growth):
              C(X) = lam * band_t * (n + growth * n * (n - 1) / 2) + lam * (1 + n * growth) * r,
              n = floor(|X| / band_t), r = |X| - n * band_t, for X >= 0;
              C(X) = -C(|X|) for a surplus if reward_surplus (the reward-and-penalty ladder), else 0.

Compliance is settled at episode end, ``C(X_T)``; each step's carbon cash is the change
``-(C(X_t) - C(X_{t-1}))`` so that the per-step terms sum exactly to ``-C(X_T)``.

**Certificates** (``certificates``). The VPP's rule: a share ``gec_share`` of every renewable
MWh's certificates is sold at ``gec_price_per_mwh`` in the step the MWh is produced; of the rest,
the MWh of a CCER-eligible technology earn ``ccer_t_per_mwh`` CCER credits, the others keep their
certificate. A MWh is never both a certificate and a CCER credit.

- ``legacy`` (the v0 rule): every renewable technology is CCER-eligible and a sold certificate
  carries no attribute: every renewable MWh still counts as green for the VPP.
- ``china_2023``: the green certificate is the sole proof of the green attribute and covers every
  renewable MWh (NDRC/NEA 发改能源〔2023〕1044号), so a sold certificate takes the attribute with
  it: the MWh is no longer green for the VPP's indirect emissions (pilot_ets), its green matching
  or CCER. CCER only for the technologies of the 2023 methodologies: offshore wind and solar
  thermal (MEE, first batch, late 2023; first issuance from exactly these, March 2025), not PV or
  onshore wind (``ccer_eligible`` overrides; a wind or PV resource is onshore unless its
  ``offshore`` flag says otherwise). GEC and CCER exclude each other for the same MWh (NEA + MEE,
  2024). Certificates at 2 CNY/MWh unless set (2025 level, NEA data: about 1 in February, 2.31 in
  April 2025).

Round-the-clock green-power matching (an all-green park): every MWh imported from the grid in an
interval is consumption that the VPP's own renewable (and stored) energy did not match in that
interval and pays ``unmatched_import_penalty_per_mwh`` (``penalty.green_matching``; 0 = no rule).
Under ``china_2023`` the MWh consumed on site whose attribute went away (``max(N[t] - P[t], 0)``)
are unmatched too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vpp_gym.ops import Array
from vpp_gym.validation import MAX_CARBON_T, require, require_range

REGIMES = ("stepped_price", "national_ets", "pilot_ets")
"""The compliance regimes (module docstring); ``stepped_price`` is the v0 rule."""
CERTIFICATE_RULES = ("legacy", "china_2023")
"""The certificate rules (module docstring); ``legacy`` is the v0 rule."""
TECHNOLOGIES = ("pv", "offshore_pv", "onshore_wind", "offshore_wind", "solar_thermal")
"""Renewable technologies a CCER methodology may cover (solar thermal has no resource yet)."""
CCER_2023_TECHNOLOGIES = ("offshore_wind", "solar_thermal")
"""CCER-eligible under the first methodologies after the 2023 restart (MEE, late 2023; S&P Global,
2024-09-03 and 2025-03-13). PV and onshore wind have no such methodology (inferred, **P**)."""
GEC_PRICE_2025_PER_MWH = 2.0
"""Green certificate price of 2025 (CNY per certificate = per MWh): about 1 in February, 1.2-1.8 in late
March, 2.31 on average in April 2025 (NEA data via Dialogue Earth, 2025)."""
GAS_BENCHMARK_T_PER_MWH = 0.392
"""National ETS free-allocation benchmark of gas units, tCO2/MWh (2019-20 plan, ICAP; later values not found)."""
GRID_FACTOR_2022_T_PER_MWH = 0.5366
"""National average electricity CO2 factor of 2022, tCO2/MWh (MEE + NBS, published 2024-12-20)."""


@dataclass(frozen=True)
class CarbonMarketConfig:
    """Carbon and green-certificate market rules (equations and sources in the module docstring).

    The defaults reproduce the v0 rule (``regime: stepped_price``, ``certificates: legacy``). Under any
    other rules the settlement is stateful (:attr:`~vpp_gym.core.params.CoreParams.carbon_stateful`): the
    observation has the ``carbon_position`` row.

    Attributes:
        price_per_t: base carbon price ``lam`` (currency per tCO2); the allowance (CEA) price under the
            ETS regimes: 68, 96, 75 CNY/t in 2023, 2024, 2025 (SEEE turnover / volume).
        pricing: ``flat`` or ``stepped`` (ladder); the ETS regimes need ``flat``.
        band_t: ladder interval length (tCO2 per band).
        growth: price growth per band (0.25 = each band 25 % dearer than the base price step).
        reward_surplus: whether a net surplus of allowances earns money (else it is worth 0).
        free_allowance_t_per_mwh: ``stepped_price`` only: free allowances per MWh of load served.
        ccer_t_per_mwh: CCER credits per CCER-eligible renewable MWh whose certificate is not sold.
        ccer_cap_share: CCER usable up to this share of the obligation (``national_ets``: the allowances
            due; ``pilot_ets``: the allocation; ``stepped_price``: gross emissions); 5 % (MEE Measures for
            Carbon Emissions Trading (Trial), 2021; Shanghai and Beijing pilots).
        gec_price_per_mwh: price of one green certificate (1 MWh); None = 0 under ``legacy`` (the v0
            default), 2.0 under ``china_2023`` (the 2025 level, :data:`GEC_PRICE_2025_PER_MWH`).
        gec_share: share of every renewable MWh's certificates sold (the rest kept or, for a
            CCER-eligible technology, credited as CCER).
        unmatched_import_penalty_per_mwh: 24 h green-power matching: penalty per MWh not matched.
        regime: ``stepped_price`` (v0), ``national_ets`` or ``pilot_ets`` (module docstring; ``pilot_ets``
            covers the gas unit's direct emissions and the imports' indirect ones).
        gas_benchmark_t_per_mwh: ``national_ets``: free allocation per MWh the gas unit supplied
            (0.392, the gas class of the 2019-20 plan, ICAP; the 2023-24 value was not found).
        shortfall_exemption: ``national_ets``: a gas unit surrenders at most ``(1 + shortfall_cap_share)``
            times its allocation (on: the 2019-20 gas rule, ICAP).
        shortfall_cap_share: ``national_ets`` with the exemption: the share of the allocation a deficit
            is charged up to (0 for gas units: nothing beyond the allocation).
        grid_factor_t_per_mwh: ``pilot_ets``: the official annual grid factor for imports (0.5366, the
            2022 national factor of MEE + NBS; 0.5703 mirrors the ETS reporting rules of 2023).
        allocation_t_per_day: ``pilot_ets``: free allocation from a historical baseline, per day (the
            annual baseline / 365), accrued evenly over the intervals; 0 = none known.
        certificates: ``legacy`` (v0) or ``china_2023`` (module docstring).
        ccer_eligible: CCER-eligible technologies (of :data:`TECHNOLOGIES`); None = every technology
            under ``legacy``, :data:`CCER_2023_TECHNOLOGIES` under ``china_2023``.
    """

    price_per_t: float = 60.0
    pricing: Literal["flat", "stepped"] = "flat"
    band_t: float = 2.0
    growth: float = 0.25
    reward_surplus: bool = True
    free_allowance_t_per_mwh: float = 0.0
    ccer_t_per_mwh: float = 0.0
    ccer_cap_share: float = 0.05
    gec_price_per_mwh: float | None = None
    gec_share: float = 0.0
    unmatched_import_penalty_per_mwh: float = 0.0
    regime: Literal["stepped_price", "national_ets", "pilot_ets"] = "stepped_price"
    gas_benchmark_t_per_mwh: float = GAS_BENCHMARK_T_PER_MWH
    shortfall_exemption: bool = True
    shortfall_cap_share: float = 0.0
    grid_factor_t_per_mwh: float = GRID_FACTOR_2022_T_PER_MWH
    allocation_t_per_day: float = 0.0
    certificates: Literal["legacy", "china_2023"] = "legacy"
    ccer_eligible: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        require_range("markets.carbon.price_per_t", self.price_per_t, 0.0, 10_000.0)
        require_range("markets.carbon.band_t", self.band_t, 0.0, MAX_CARBON_T, lo_open=True)
        require_range("markets.carbon.growth", self.growth, 0.0, 10.0)
        require_range("markets.carbon.free_allowance_t_per_mwh", self.free_allowance_t_per_mwh, 0.0, 2.0)
        require_range("markets.carbon.ccer_t_per_mwh", self.ccer_t_per_mwh, 0.0, 2.0)
        require_range("markets.carbon.ccer_cap_share", self.ccer_cap_share, 0.0, 1.0)
        if self.gec_price_per_mwh is not None:
            require_range("markets.carbon.gec_price_per_mwh", self.gec_price_per_mwh, 0.0, 10_000.0)
        require_range("markets.carbon.gec_share", self.gec_share, 0.0, 1.0)
        require_range(
            "markets.carbon.unmatched_import_penalty_per_mwh", self.unmatched_import_penalty_per_mwh, 0.0, 1e5
        )
        require(self.pricing in ("flat", "stepped"), "markets.carbon.pricing", self.pricing, "'flat' or 'stepped'")
        require(self.regime in REGIMES, "markets.carbon.regime", self.regime, f"one of {', '.join(REGIMES)}")
        require(
            self.regime == "stepped_price" or self.pricing == "flat",
            "markets.carbon.pricing",
            self.pricing,
            f"'flat' under regime {self.regime} (one allowance price)",
        )
        require_range("markets.carbon.gas_benchmark_t_per_mwh", self.gas_benchmark_t_per_mwh, 0.0, 2.0)
        require_range("markets.carbon.shortfall_cap_share", self.shortfall_cap_share, 0.0, 10.0)
        require_range("markets.carbon.grid_factor_t_per_mwh", self.grid_factor_t_per_mwh, 0.0, 2.0)
        require_range("markets.carbon.allocation_t_per_day", self.allocation_t_per_day, 0.0, MAX_CARBON_T)
        require(
            self.certificates in CERTIFICATE_RULES,
            "markets.carbon.certificates",
            self.certificates,
            f"one of {', '.join(CERTIFICATE_RULES)}",
        )
        if self.ccer_eligible is not None:
            for i, tech in enumerate(self.ccer_eligible):
                require(
                    tech in TECHNOLOGIES,
                    f"markets.carbon.ccer_eligible[{i}]",
                    tech,
                    f"one of {', '.join(TECHNOLOGIES)}",
                )

    @property
    def legacy(self) -> bool:
        """Whether these are the v0 rules (``stepped_price``, ``legacy`` certificates, default eligibility),
        settled by the v0 code path bit for bit."""
        return self.regime == "stepped_price" and self.certificates == "legacy" and self.ccer_eligible is None

    @property
    def gec_price(self) -> float:
        """The certificate price in force (``gec_price_per_mwh``, or its rules' default)."""
        if self.gec_price_per_mwh is not None:
            return self.gec_price_per_mwh
        return GEC_PRICE_2025_PER_MWH if self.certificates == "china_2023" else 0.0

    @property
    def ccer_technologies(self) -> tuple[str, ...]:
        """The CCER-eligible technologies in force (``ccer_eligible``, or its rules' default)."""
        if self.ccer_eligible is not None:
            return self.ccer_eligible
        return CCER_2023_TECHNOLOGIES if self.certificates == "china_2023" else TECHNOLOGIES


def technology(resource: str, offshore: bool) -> str:
    """The technology of a renewable resource (``pv`` or ``wind``): onshore unless ``offshore``."""
    if resource == "pv":
        return "offshore_pv" if offshore else "pv"
    return "offshore_wind" if offshore else "onshore_wind"


@dataclass(frozen=True)
class CertificateSplit:
    """What becomes of each MWh of one renewable resource (shares of its output, module docstring).

    Attributes:
        name: the resource (``pv``, ``wind``).
        technology: its technology (:func:`technology`).
        sold: certificates sold (``gec_share``).
        ccer: credited as CCER (the unsold rest, if the technology is eligible and ``ccer_t_per_mwh > 0``).
        green: still green for the VPP (``legacy``: 1; ``china_2023``: the certificates kept).
    """

    name: str
    technology: str
    sold: float
    ccer: float
    green: float


def certificate_split(cfg: CarbonMarketConfig, renewables: Iterable[tuple[str, bool]]) -> tuple[CertificateSplit, ...]:
    """The :class:`CertificateSplit` of each ``(resource name, offshore)``."""
    out = []
    for name, offshore in renewables:
        tech = technology(name, offshore)
        rest = 1.0 - cfg.gec_share
        eligible = tech in cfg.ccer_technologies and cfg.ccer_t_per_mwh > 0.0
        ccer = rest if eligible else 0.0
        green = 1.0 if cfg.certificates == "legacy" else (0.0 if eligible else rest)
        out.append(CertificateSplit(name, tech, cfg.gec_share, ccer, green))
    return tuple(out)


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


def obligation(
    emissions_t: Array, allowances_t: Array, cfg: CarbonMarketConfig, xp: Any = np, direct_t: Array = 0.0
) -> Array:
    """The allowances due ``O`` from the regime's cumulative totals (module docstring): ``E`` under
    ``stepped_price``; ``min(E, (1 + cap) A)`` under ``national_ets`` with the exemption; under
    ``pilot_ets`` ``D + max(E, 0)``, its ``E`` the signed indirect balance before the floor and ``D``
    (``direct_t``, the state's field) the direct emissions, added after the floor (0 elsewhere)."""
    if cfg.regime == "national_ets" and cfg.shortfall_exemption:
        return xp.minimum(emissions_t, (1.0 + cfg.shortfall_cap_share) * allowances_t)
    if cfg.regime == "pilot_ets":
        return direct_t + xp.maximum(emissions_t, 0.0)
    return emissions_t


def net_position(
    emissions_t: Array,
    allowances_t: Array,
    ccer_t: Array,
    cfg: CarbonMarketConfig,
    xp: Any = np,
    direct_t: Array = 0.0,
) -> tuple[Array, Array]:
    """Net position ``X`` and the CCER actually used, from cumulative quantities (module docstring);
    ``direct_t``: the state's direct emissions (read under ``pilot_ets`` only)."""
    if cfg.regime == "stepped_price":
        used = xp.minimum(ccer_t, cfg.ccer_cap_share * emissions_t)
        return emissions_t - allowances_t - used, used
    due = obligation(emissions_t, allowances_t, cfg, xp, direct_t)
    base = allowances_t if cfg.regime == "pilot_ets" else due
    used = xp.minimum(ccer_t, cfg.ccer_cap_share * base)
    return due - allowances_t - used, used
