"""Scenario configuration: frozen, typed dataclasses that map 1:1 onto the YAML files in ``configs/``.

A scenario YAML has these top-level keys (every one optional; a task supplies its defaults):

```yaml
name: my-scenario
time:      {interval_minutes: 15, episode_hours: 24}
data:      {source: synthetic, synthetic: {...}, files: {...}, splits: {...}}
forecast:  {horizon_steps: 8, price_da_sigma_rel: 0.03, ...}
resources: {pv: {...}, wind: null, battery: {...}, ev: null, flex_load: {...}, gas: null}
markets:   {energy: {...}, carbon: {...}, regulation: {...}, reserve: {...}, demand_response: {...},
            peak_regulation: {...}}
reward:    {scale: 0.001}
```

Loading is ``yaml.safe_load`` (a key given twice is an error) followed by
:func:`vpp_gym.validation.from_mapping`: unknown keys and bad values raise
:class:`~vpp_gym.validation.ConfigError` naming the dotted key. A resource set to ``null`` is absent
from the VPP. Every numeric key has a range with a physical upper bound (README, "Config bounds").

The YAML files of the repository's ``configs/`` folder also ship inside the package:
:func:`packaged_config` finds them whichever way vpp-gym was installed.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import yaml

from vpp_gym.data.ancillary import AncillaryConfig
from vpp_gym.data.sources import FilesConfig
from vpp_gym.data.synthetic import SyntheticConfig
from vpp_gym.markets import PRODUCT_REGISTRY
from vpp_gym.markets.carbon import CarbonMarketConfig
from vpp_gym.markets.clearing import CompetitorStackConfig
from vpp_gym.markets.peak_regulation import PeakRegulationConfig
from vpp_gym.markets.products import DemandResponseConfig, RegulationMarketConfig, ReserveMarketConfig
from vpp_gym.resources import BatteryParams, EvFleetParams, FlexLoadParams, GasUnitParams, RenewableParams
from vpp_gym.validation import (
    MAX_POWER_MW,
    MAX_PRICE_PER_MWH,
    ConfigError,
    fmt_num,
    from_mapping,
    load_yaml,
    merge_overrides,
    require,
    require_int,
    require_range,
    to_mapping,
    warn_unused,
    yaml_error_message,
)

PRODUCT_NAMES = tuple(spec.name for spec in PRODUCT_REGISTRY)
"""The capacity products' sections of ``markets`` (:data:`vpp_gym.markets.PRODUCT_REGISTRY`)."""

MAX_EPISODE_HOURS = 24.0 * 366 * 10
"""Longest episode: ten years (its data and forecasts are held in memory, about 0.2 GB a year for Joint-v1)."""


@dataclass(frozen=True)
class TimeConfig:
    """Interval and episode length.

    Attributes:
        interval_minutes: length of one step; must divide a day (15 and 60 are typical).
        episode_hours: episode length, up to ten years (:data:`MAX_EPISODE_HOURS`); episodes start at
            local midnight and span whole intervals. An episode of more than a day needs a split that
            holds it whole (a one-year scenario can put a year-long episode in its test split:
            ``data.splits: {train_frac: 0, val_frac: 0}``; see :class:`SplitConfig`).
        utc_offset_h: the market's local time minus UTC (e.g. 8 for China, -6 for Texas in winter):
            episodes start at local midnight, days are split and calendar features computed in
            local time. Timestamps in the data stay UTC.
    """

    interval_minutes: int = 15
    episode_hours: float = 24.0
    utc_offset_h: float = 0.0

    def __post_init__(self) -> None:
        require(
            self.interval_minutes > 0 and 1440 % self.interval_minutes == 0,
            "time.interval_minutes",
            self.interval_minutes,
            "a positive number of minutes that divides a day (e.g. 5, 15, 30, 60)",
        )
        require_range("time.episode_hours", self.episode_hours, 0.0, MAX_EPISODE_HOURS, lo_open=True)
        steps = self.episode_hours * 60.0 / self.interval_minutes
        require(
            abs(steps - round(steps)) < 1e-9,
            "time.episode_hours",
            self.episode_hours,
            f"a whole number of {self.interval_minutes}-minute intervals",
        )
        require_range("time.utc_offset_h", self.utc_offset_h, -12.0, 14.0)
        offset_steps = self.utc_offset_h * 60 / self.interval_minutes
        require(
            abs(offset_steps - round(offset_steps)) < 1e-9,
            "time.utc_offset_h",
            self.utc_offset_h,
            f"a whole number of {self.interval_minutes}-minute intervals (so local midnight is an interval start)",
        )

    @property
    def utc_offset(self) -> np.timedelta64:
        """The offset as a ``timedelta64`` (local = UTC + offset)."""
        return np.timedelta64(round(self.utc_offset_h * 60), "m")

    @property
    def dt_h(self) -> float:
        """Interval length in hours."""
        return self.interval_minutes / 60.0

    @property
    def episode_steps(self) -> int:
        """Steps per episode."""
        return round(self.episode_hours * 60.0 / self.interval_minutes)


@dataclass(frozen=True)
class SplitConfig:
    """Train / validation / test split of the scenario's days, by date.

    By default the first ``train_frac`` of the days train, the next ``val_frac`` validate and the
    rest test. ``val_start`` / ``test_start`` (ISO dates) override the fractions. A split may be left
    without an episode (``train_frac: 0``, or too few days for ``time.episode_hours``) as long as it is
    not used: resetting on it is the error.
    """

    train_frac: float = 0.7
    val_frac: float = 0.15
    val_start: str | None = None
    test_start: str | None = None

    def __post_init__(self) -> None:
        require_range("data.splits.train_frac", self.train_frac, 0.0, 1.0, hi_open=True)
        require_range("data.splits.val_frac", self.val_frac, 0.0, 1.0, hi_open=True)
        require(
            self.train_frac + self.val_frac < 1.0,
            "data.splits.val_frac",
            self.val_frac,
            f"less than 1 - train_frac = {fmt_num(1 - self.train_frac)} (the test split must not be empty)",
        )
        for key in ("val_start", "test_start"):
            value = getattr(self, key)
            if value is not None:
                try:
                    _dt.date.fromisoformat(value)
                except ValueError:
                    raise ConfigError(
                        f"data.splits.{key}: got {value!r}, expected an ISO date like '2025-10-01'"
                    ) from None
        if self.val_start is not None and self.test_start is not None:
            require(
                self.val_start < self.test_start,
                "data.splits.test_start",
                self.test_start,
                f"a date after val_start={self.val_start}",
            )


@dataclass(frozen=True)
class DataConfig:
    """Where the exogenous series come from.

    Attributes:
        source: ``synthetic`` (seeded generator, no files) or ``files`` (users' own data).
        synthetic: generator settings (also used to fill columns missing from files).
        files: file sources; required when ``source`` is ``files``.
        splits: train / validation / test split by date.
        ancillary: generator of the ancillary-service series the data does not provide.
    """

    source: Literal["synthetic", "files"] = "synthetic"
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    files: FilesConfig | None = None
    splits: SplitConfig = field(default_factory=SplitConfig)
    ancillary: AncillaryConfig = field(default_factory=AncillaryConfig)

    def __post_init__(self) -> None:
        require(
            self.source != "files" or self.files is not None,
            "data.files",
            self.files,
            "a files mapping (sources: [...]) because data.source is 'files'",
        )
        # nothing given may be silently unused
        require(
            self.source != "synthetic" or self.files is None,
            "data.files",
            "(a files mapping)",
            "nothing (null) because data.source is 'synthetic'; set data.source: files to use the files",
        )
        require(
            self.source != "files" or self.synthetic == SyntheticConfig(),
            "data.synthetic",
            "(non-default settings)",
            "the defaults when data.source is 'files': the generator that fills "
            "missing columns is configured in data.files.synthetic",
        )

    @property
    def generator(self) -> SyntheticConfig:
        """The synthetic generator in use (the whole scenario, or the columns the files lack)."""
        return self.files.synthetic if self.source == "files" and self.files is not None else self.synthetic


@dataclass(frozen=True)
class ForecastConfig:
    """What the agent is told about the future: forecasts with seeded errors that grow with lead.

    The forecast of interval ``t + h`` made at the start of interval ``t`` (``h = 0`` is the current
    interval, whose realisation is still unknown when the action is chosen) is

        x_hat = clip(x + sigma * g(h) * z),   g(h) = min(sqrt(h + 1), growth_cap),   z ~ N(0, 1)

    with ``sigma`` given per series (energy prices relative to the scenario's mean absolute day-ahead
    price; capacity factors absolute; load, carbon intensity and ancillary prices relative to their
    value; EV data and demand-response events are announced, hence exact), and
    clipping to the series' range in the scenario. All sigmas 0 gives perfect foresight.
    """

    horizon_steps: int = 8
    price_da_sigma_rel: float = 0.03
    price_rt_sigma_rel: float = 0.10
    pv_sigma: float = 0.04
    wind_sigma: float = 0.06
    load_sigma_rel: float = 0.03
    grid_ef_sigma_rel: float = 0.03
    ancillary_price_sigma_rel: float = 0.10
    growth_cap: float = 3.0

    SIGMA_KEYS: ClassVar[tuple[str, ...]] = (
        "price_da_sigma_rel",
        "price_rt_sigma_rel",
        "pv_sigma",
        "wind_sigma",
        "load_sigma_rel",
        "grid_ef_sigma_rel",
        "ancillary_price_sigma_rel",
    )
    """The forecast-error keys (all 0: perfect forecasts)."""

    def __post_init__(self) -> None:
        require_int("forecast.horizon_steps", self.horizon_steps, 1, 192)
        for key in self.SIGMA_KEYS:
            require_range(f"forecast.{key}", getattr(self, key), 0.0, 5.0)
        require_range("forecast.growth_cap", self.growth_cap, 1.0, 100.0)

    @property
    def perfect(self) -> bool:
        """Whether every forecast equals the realisation."""
        return all(getattr(self, k) == 0.0 for k in self.SIGMA_KEYS)


@dataclass(frozen=True)
class ResourcesConfig:
    """The VPP's resources; ``null`` (None) means the VPP does not have that resource."""

    pv: RenewableParams | None = None
    wind: RenewableParams | None = None
    battery: BatteryParams | None = None
    ev: EvFleetParams | None = None
    flex_load: FlexLoadParams | None = None
    gas: GasUnitParams | None = None


@dataclass(frozen=True)
class IntradayConfig:
    """Rolling intraday gates of the day-ahead timeline (``markets.energy.timeline: day_ahead``).

    At every ``gate_spacing_steps``-th dispatch interval the VPP may adjust its position for each
    interval of the block of ``gate_spacing_steps`` intervals that starts ``lead_steps`` ahead (one
    quantity per interval, MW, + = sell more), matched at the intraday price series
    (``price_id_per_mwh``) as a price-taker without a limit price. Default: hourly gates, 1 h ahead
    (a modelling assumption: no provincial rule for VPP intraday trading was found; see
    ``docs/market_rules.md``).

    Attributes:
        gate_spacing_steps: intervals between gates (>= 1); also the block length.
        lead_steps: intervals from a gate to the first interval it trades (>= 1).
        max_mw: largest adjustment per gate, either direction (MW).
    """

    gate_spacing_steps: int = 4
    lead_steps: int = 4
    max_mw: float = 3.0

    def __post_init__(self) -> None:
        require_int("markets.energy.intraday.gate_spacing_steps", self.gate_spacing_steps, 1, 96)
        require_int("markets.energy.intraday.lead_steps", self.lead_steps, 1, 96)
        require_range(
            "markets.energy.intraday.max_mw", self.max_mw, 0.0, MAX_POWER_MW, lo_open=True
        )  # none: intraday: null


CONTRACT_SHAPES = ("flat", "peak", "valley", "solar")
"""Shapes of a contract's delivery profile (:func:`vpp_gym.core.timeline.contract_profile`)."""


@dataclass(frozen=True)
class ContractConfig:
    """A medium/long-term contract settled as a contract for difference against the day-ahead price.

    The contract quantity of an interval is ``quantity_mw x shape(interval)`` (+ = the VPP sells),
    with ``shape`` one of :data:`CONTRACT_SHAPES`: ``flat`` (1 at every interval), ``peak`` (1 from
    08:00 to 22:00 local time, else 0), ``valley`` (1 from 23:00 to 07:00), ``solar`` (a half sine
    from 06:00 to 18:00 peaking at noon). It pays ``Q_c dt (contract_price - price_da)``; the
    physical schedule is the day-ahead award (China's settlement of medium/long-term contracts by
    difference, ``docs/market_rules.md``).

    Attributes:
        quantity_mw: contract quantity at the shape's peak (MW, + = sell, - = buy).
        shape: delivery profile.
        price_per_mwh: contract price.
    """

    quantity_mw: float = 0.0
    shape: str = "flat"
    price_per_mwh: float = 0.0

    def __post_init__(self) -> None:
        require_range("markets.energy.contract.quantity_mw", self.quantity_mw, -MAX_POWER_MW, MAX_POWER_MW)
        require(
            self.shape in CONTRACT_SHAPES,
            "markets.energy.contract.shape",
            self.shape,
            f"one of {', '.join(CONTRACT_SHAPES)}",
        )
        require_range(
            "markets.energy.contract.price_per_mwh", self.price_per_mwh, -MAX_PRICE_PER_MWH, MAX_PRICE_PER_MWH
        )


TIMELINES = ("hour_ahead", "day_ahead")
TERMINAL_VALUES = ("mean_da", "none")
"""Rules valuing the energy stored at the end of a day-ahead-timeline episode (``markets.energy.terminal_value``)."""
"""Market timelines: the v0 hour-ahead commitment per interval, or China's D-1 auction (v1)."""


@dataclass(frozen=True)
class EnergyMarketConfig:
    """Day-ahead and real-time energy.

    Each step the VPP commits a day-ahead position (MW, positive = sell) for the interval
    ``da_lead_steps`` ahead. On delivery the position is settled at that interval's day-ahead
    price; the real-time deviation ``net injection - accepted position`` is settled at the real-time
    price; an optional imbalance penalty is charged on ``|deviation|``. Positions for the first
    ``da_lead_steps`` intervals of an episode are zero (no position was carried into the episode).

    Forms: ``price_taker`` (every position is accepted at the day-ahead price series) or
    ``transaction`` (a sell position is an offer ``(q, p)`` with ``p = (a + 1) / 2 * price_cap_per_mwh``
    cleared in merit order with the competitor stack for a need of ``need_mw``, at the marginal
    price; purchases are accepted at that price; with no competitor stack the offer is accepted
    if ``p`` is at most the day-ahead price).

    Attributes:
        form: ``price_taker`` or ``transaction``.
        da_lead_steps: how many intervals ahead a position is committed (>= 1).
        position_max_mw: largest position that can be committed, either direction (at most 10 GW).
        imbalance_penalty_per_mwh: extra charge on absolute real-time deviation (at most 100,000).
        price_cap_per_mwh: highest offer price (transaction form).
        need_mw: the zone's day-ahead need the offers compete for (transaction form).
        competitors: competitor offer stack (transaction form).
        timeline: ``hour_ahead`` (the v0 timeline above) or ``day_ahead``: China's D-1 auction, intraday
            gates and real-time settlement (:mod:`vpp_gym.core.timeline` documents it; the keys below
            apply to it only).
        gate_hour: local hour on D-1 at which the day-ahead offers for day D close.
        curve_segments: segments ``K`` of each interval's offer curve (1..10).
        offer_band_per_mwh: range of the curve's mid price around the day-ahead forecast, and its
            largest spread.
        price_floor_per_mwh: lowest offer price (offers are clipped to ``[floor, price_cap_per_mwh]``).
        deviation_band_share, deviation_band_min_mw: deviation assessment: the free band around the
            position is ``max(share x |position|, min_mw)``; deviation beyond it pays
            ``imbalance_penalty_per_mwh`` (both timelines; 0 = every MWh of deviation pays).
        intraday: the intraday gates (:class:`IntradayConfig`), ``null`` for none.
        contract: a medium/long-term contract for difference (:class:`ContractConfig`), ``null`` for none.
        terminal_value: ``mean_da``: the energy stored at the episode end above (below) its initial
            level is credited (charged) at the mean day-ahead price of the last day; ``none``: not valued.
        excess_profit_recovery: recover what energy traded away from the day-ahead schedule earns over the
            day-ahead price (超额获利回收): the deviation from the schedule (less instructed energy) and the
            intraday adjustments settle at the less favourable of their price and the DA price series
            (:func:`vpp_gym.markets.energy.recovery`; ``penalty.imbalance``). Off in v0, on in v1.
    """

    form: Literal["price_taker", "transaction"] = "price_taker"
    da_lead_steps: int = 4
    position_max_mw: float = 6.0
    imbalance_penalty_per_mwh: float = 0.0
    price_cap_per_mwh: float = 1500.0
    need_mw: float = 20.0
    competitors: CompetitorStackConfig = field(default_factory=CompetitorStackConfig)
    timeline: str = "hour_ahead"
    gate_hour: float = 10.0
    curve_segments: int = 4
    offer_band_per_mwh: float = 300.0
    price_floor_per_mwh: float = -100.0
    deviation_band_share: float = 0.0
    deviation_band_min_mw: float = 0.0
    intraday: IntradayConfig | None = field(default_factory=IntradayConfig)
    contract: ContractConfig | None = None
    terminal_value: str = "mean_da"
    excess_profit_recovery: bool = False

    def __post_init__(self) -> None:
        require(self.timeline in TIMELINES, "markets.energy.timeline", self.timeline, f"one of {', '.join(TIMELINES)}")
        require_range("markets.energy.gate_hour", self.gate_hour, 0.0, 24.0, hi_open=True)
        require_int("markets.energy.curve_segments", self.curve_segments, 1, 10)
        require_range("markets.energy.offer_band_per_mwh", self.offer_band_per_mwh, 0.0, MAX_PRICE_PER_MWH)
        require_range(
            "markets.energy.price_floor_per_mwh", self.price_floor_per_mwh, -MAX_PRICE_PER_MWH, self.price_cap_per_mwh
        )
        require_range("markets.energy.deviation_band_share", self.deviation_band_share, 0.0, 1.0)
        require_range("markets.energy.deviation_band_min_mw", self.deviation_band_min_mw, 0.0, MAX_POWER_MW)
        require(
            self.terminal_value in TERMINAL_VALUES,
            "markets.energy.terminal_value",
            self.terminal_value,
            f"one of {', '.join(TERMINAL_VALUES)}",
        )
        require_int("markets.energy.da_lead_steps", self.da_lead_steps, 1, 192)
        require_range("markets.energy.position_max_mw", self.position_max_mw, 0.0, MAX_POWER_MW, lo_open=True)
        require_range(
            "markets.energy.imbalance_penalty_per_mwh", self.imbalance_penalty_per_mwh, 0.0, MAX_PRICE_PER_MWH
        )
        require_range("markets.energy.price_cap_per_mwh", self.price_cap_per_mwh, 0.0, 1e5, lo_open=True)
        require_range("markets.energy.need_mw", self.need_mw, 0.0, 1e5)


@dataclass(frozen=True)
class MarketsConfig:
    """Market rules the VPP trades under; a product section set to ``null`` closes that product."""

    energy: EnergyMarketConfig = field(default_factory=EnergyMarketConfig)
    carbon: CarbonMarketConfig = field(default_factory=CarbonMarketConfig)
    regulation: RegulationMarketConfig | None = None
    reserve: ReserveMarketConfig | None = None
    demand_response: DemandResponseConfig | None = None
    peak_regulation: PeakRegulationConfig | None = None


@dataclass(frozen=True)
class RewardConfig:
    """Reward = ``scale`` x (settlements - costs - penalties) of the step, in currency units; ``scale`` in (0, 1000]."""

    scale: float = 1e-3

    def __post_init__(self) -> None:
        require_range("reward.scale", self.scale, 0.0, 1e3, lo_open=True)


@dataclass(frozen=True)
class ScenarioConfig:
    """Everything that defines an environment instance."""

    name: str = "default"
    time: TimeConfig = field(default_factory=TimeConfig)
    data: DataConfig = field(default_factory=DataConfig)
    forecast: ForecastConfig = field(default_factory=ForecastConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    markets: MarketsConfig = field(default_factory=MarketsConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        r = self.resources
        require(
            any(getattr(r, k) is not None for k in ("pv", "wind", "battery", "ev", "flex_load", "gas")),
            "resources",
            to_mapping(r),
            "at least one resource",
        )
        if r.flex_load is not None:
            r.flex_load.window_steps(self.time.dt_h)
        em = self.markets.energy
        if em.timeline == "day_ahead":
            day_steps = round(24 * 60 / self.time.interval_minutes)
            require(
                self.time.episode_steps % day_steps == 0,
                "time.episode_hours",
                self.time.episode_hours,
                "whole days (24, 48, ...) under markets.energy.timeline: day_ahead (each day is auctioned at D-1)",
            )
            gate = em.gate_hour * 60 / self.time.interval_minutes
            require(
                abs(gate - round(gate)) < 1e-9,
                "markets.energy.gate_hour",
                em.gate_hour,
                f"a whole number of {self.time.interval_minutes}-minute intervals after midnight",
            )
            if em.intraday is not None:  # a gate before the D-1 gate may only trade intervals already auctioned
                reach = em.intraday.lead_steps + em.intraday.gate_spacing_steps
                room = day_steps - round(gate)
                require(
                    reach <= room,
                    "markets.energy.intraday.lead_steps",
                    em.intraday.lead_steps,
                    f"lead_steps + gate_spacing_steps <= {room} (the intervals from the D-1 gate to midnight): "
                    "an intraday gate trades only intervals whose day-ahead auction has closed",
                )
        reg = self.markets.regulation
        if reg is not None and reg.providers != RegulationMarketConfig().providers:
            absent = [n for n in reg.providers if getattr(r, n) is None]
            require(
                not absent,
                "markets.regulation.providers",
                list(reg.providers),
                "resources of the scenario (" + ", ".join(f"resources.{n} is null" for n in absent) + ")",
            )
        dr = self.markets.demand_response
        if em.timeline == "day_ahead" and dr is not None:
            require(
                dr.announce_hour <= em.gate_hour,
                "markets.demand_response.announce_hour",
                dr.announce_hour,
                f"at most markets.energy.gate_hour = {fmt_num(em.gate_hour)} (the VPP declares its demand "
                "response at the D-1 gate, after the invitation is announced)",
            )
        # one local clock: the market's days, the synthetic series' daily shapes and the ancillary events
        gen_key = "data.synthetic" if self.data.source == "synthetic" else "data.files.synthetic"
        for key, value in (
            (f"{gen_key}.utc_offset_h", self.data.generator.utc_offset_h),
            ("data.ancillary.utc_offset_h", self.data.ancillary.utc_offset_h),
        ):
            require(
                value == self.time.utc_offset_h,
                key,
                value,
                f"time.utc_offset_h = {fmt_num(self.time.utc_offset_h)} (the clocks of the market and of the "
                "generated series must agree; set both)",
            )


def unused_keys(cfg: ScenarioConfig) -> list[tuple[str, object, str]]:
    """Keys set to a value other than their default that have no effect in this configuration.

    Returns ``(dotted key, value, why)`` for each; :func:`build_config` reports them as
    :class:`~vpp_gym.validation.ConfigWarning` (e.g. ``resources.ev.p_discharge_max_mw`` while
    ``resources.ev.v2g`` is false). A key left at its default is never reported.
    """
    out: list[tuple[str, object, str]] = []

    def check(obj: Any, default: Any, prefix: str, names: tuple[str, ...], why: str) -> None:
        for name in names:
            value = getattr(obj, name)
            if value != getattr(default, name):
                out.append((f"{prefix}.{name}", to_mapping(value), why))

    r, m = cfg.resources, cfg.markets
    if r.ev is not None and not r.ev.v2g:
        check(
            r.ev,
            EvFleetParams(),
            "resources.ev",
            ("p_discharge_max_mw", "eta_discharge", "degradation_cost_per_mwh"),
            "resources.ev.v2g is false (the fleet never discharges)",
        )
    if r.flex_load is not None:
        if r.flex_load.shift_share == 0.0:
            check(
                r.flex_load,
                FlexLoadParams(),
                "resources.flex_load",
                ("shift_window_h", "shift_cost_per_mwh", "shift_violation_penalty_per_mwh"),
                "resources.flex_load.shift_share is 0 (no load is shifted)",
            )
        if r.flex_load.curtail_share == 0.0:
            check(
                r.flex_load,
                FlexLoadParams(),
                "resources.flex_load",
                ("curtail_cost_per_mwh",),
                "resources.flex_load.curtail_share is 0 (no load is curtailed)",
            )
    if m.energy.timeline == "hour_ahead" and m.regulation is not None:
        check(
            m.regulation,
            RegulationMarketConfig(),
            "markets.regulation",
            ("shortfall_penalty_per_mwh",),
            "markets.energy.timeline is 'hour_ahead' (regulation is awarded inside the interval, capped at the "
            "headroom; only a D-1 award can fall short)",
        )
    reg = m.regulation
    if reg is not None:
        for name in ("ev", "flex_load"):
            if name not in reg.providers:
                check(reg, RegulationMarketConfig(), "markets.regulation", (name,), f"'{name}' is not a provider")
        if "battery" not in reg.providers:
            check(
                reg,
                RegulationMarketConfig(),
                "markets.regulation",
                ("delay_substeps", "ramp_mw_per_substep"),
                "'battery' is not a provider (these are the battery's response)",
            )
        if len(reg.providers) == 1:
            check(reg, RegulationMarketConfig(), "markets.regulation", ("split",), "one provider takes the whole award")
    if m.energy.timeline == "hour_ahead":
        check(
            m.energy,
            EnergyMarketConfig(),
            "markets.energy",
            (
                "gate_hour",
                "curve_segments",
                "offer_band_per_mwh",
                "price_floor_per_mwh",
                "intraday",
                "contract",
                "terminal_value",
            ),
            "markets.energy.timeline is 'hour_ahead' (these are rules of the day-ahead timeline)",
        )
    else:
        check(
            m.energy,
            EnergyMarketConfig(),
            "markets.energy",
            ("da_lead_steps",),
            "markets.energy.timeline is 'day_ahead' (offers are made at the D-1 gate)",
        )
    if m.energy.form == "price_taker":
        check(
            m.energy,
            EnergyMarketConfig(),
            "markets.energy",
            ("price_cap_per_mwh", "need_mw", "competitors"),
            "markets.energy.form is 'price_taker' (these are rules of the transaction form)",
        )
    for name in PRODUCT_NAMES:
        product = getattr(m, name)
        if product is None:
            continue
        default = type(product)()
        if product.form == "invitation":
            check(
                product,
                default,
                f"markets.{name}",
                product.TRANSACTION_ONLY_KEYS,
                f"markets.{name}.form is 'invitation' (these are rules of the transaction form)",
            )
        else:
            check(
                product,
                default,
                f"markets.{name}",
                ("others_ratio",),
                f"markets.{name}.form is 'transaction' (others_ratio is a rule of the invitation form)",
            )
    dr = m.demand_response
    if dr is not None and dr.baseline == "passive":
        check(
            dr,
            DemandResponseConfig(),
            "markets.demand_response",
            ("baseline_days",),
            "markets.demand_response.baseline is 'passive' (no past days are averaged)",
        )
    if dr is not None and dr.payment == "capped":
        check(
            dr,
            DemandResponseConfig(),
            "markets.demand_response",
            ("band_low_share", "band_high_share"),
            "markets.demand_response.payment is 'capped' (the band is a rule of payment: band)",
        )
    if dr is not None and m.energy.timeline == "hour_ahead":
        check(
            dr,
            DemandResponseConfig(),
            "markets.demand_response",
            ("announce_hour",),
            "markets.energy.timeline is 'hour_ahead' (events are announced at D-1 on the day-ahead timeline)",
        )
    an = cfg.data.ancillary
    if an.dr_event_rule == "random":
        check(
            an,
            AncillaryConfig(),
            "data.ancillary",
            ("dr_peak_days_per_year", "dr_valley_days_per_year", "dr_scarcity_window_days"),
            "data.ancillary.dr_event_rule is 'random' (these calibrate the scarcity rule)",
        )
    else:
        check(
            an,
            AncillaryConfig(),
            "data.ancillary",
            ("dr_peak_day_prob", "dr_valley_day_prob"),
            "data.ancillary.dr_event_rule is 'scarcity' (event days are ranked, not drawn)",
        )
    if m.carbon.pricing == "flat":
        check(
            m.carbon,
            CarbonMarketConfig(),
            "markets.carbon",
            ("band_t", "growth"),
            "markets.carbon.pricing is 'flat' (bands are steps of the stepped price)",
        )
    regime = m.carbon.regime
    rules = {
        "stepped_price": ("free_allowance_t_per_mwh",),
        "national_ets": ("gas_benchmark_t_per_mwh", "shortfall_exemption", "shortfall_cap_share"),
        "pilot_ets": ("grid_factor_t_per_mwh", "allocation_t_per_day"),
    }
    for other, names in rules.items():
        if other != regime:
            check(m.carbon, CarbonMarketConfig(), "markets.carbon", names, f"markets.carbon.regime is '{regime}'")
    if regime == "national_ets" and not m.carbon.shortfall_exemption:
        check(
            m.carbon,
            CarbonMarketConfig(),
            "markets.carbon",
            ("shortfall_cap_share",),
            "markets.carbon.shortfall_exemption is false",
        )
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping (``yaml.safe_load``, refusing duplicate keys); a clear ConfigError for anything else
    (a missing file, text that is not UTF-8, invalid YAML, a key given twice, not a mapping)."""
    p = Path(path)
    if not p.is_file():
        what = "is a folder, not a file" if p.is_dir() else "not found"
        raise ConfigError(f"config file {what}: {str(path)!r} (resolved to {p.resolve()})")
    try:
        data = load_yaml(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason}); save the file as UTF-8") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {yaml_error_message(err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level, got {type(data).__name__}")
    return data


def build_config(
    base: dict[str, Any] | None = None,
    config: str | Path | dict[str, Any] | ScenarioConfig | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[ScenarioConfig, Path]:
    """Resolve a scenario config: task defaults <- YAML file (or mapping) <- keyword overrides.

    Args:
        base: the task's default mapping.
        config: a YAML path, a mapping, or a finished :class:`ScenarioConfig` (then ``base`` is ignored).
        overrides: dotted or nested keys, e.g. ``{"resources.battery.e_max_mwh": 8.0}``.

    Returns:
        ``(config, base_dir)``; ``base_dir`` is where relative data paths are resolved (the YAML's
        directory, else the working directory).

    Keys set but without effect in the resolved config are reported as
    :class:`~vpp_gym.validation.ConfigWarning` (:func:`unused_keys`).
    """
    base_dir = Path.cwd()
    user: dict[str, Any] = {}
    if isinstance(config, ScenarioConfig):
        base = to_mapping(config)
    elif isinstance(config, str | Path):
        base_dir = Path(config).resolve().parent
        user = merge_overrides(user, read_yaml(config))  # dotted keys expanded, as in the overrides
    elif config is not None:
        require(isinstance(config, dict), "config", config, "a YAML path, a mapping or a ScenarioConfig")
        user = merge_overrides(user, config)
    if overrides:
        user = merge_overrides(user, overrides)
    mapping = merge_overrides(base or {}, user)
    data, user_data = mapping.get("data"), user.get("data")
    if (
        not isinstance(config, ScenarioConfig)
        and isinstance(data, dict)
        and data.get("source") == "files"
        and "synthetic" not in (user_data if isinstance(user_data, dict) else {})
    ):
        # A task's synthetic-generator levels (v1's price level) describe its synthetic data: a scenario
        # that reads files instead does not inherit them (only the user's own settings are checked).
        data.pop("synthetic", None)
    cfg = from_mapping(ScenarioConfig, mapping)
    for key, value, why in unused_keys(cfg):
        warn_unused(key, value, why)
    return cfg, base_dir


def dump_yaml(cfg: ScenarioConfig) -> str:
    """The resolved config as YAML text (loads back to an equal config)."""
    return yaml.safe_dump(to_mapping(cfg), sort_keys=False)


def packaged_config(relpath: str | Path) -> Path:
    """The path of a YAML file (or folder) of the repository's ``configs/``, as installed with vpp-gym.

    ``configs/`` ships inside the package as ``vpp_gym.configs`` (``package-dir`` in
    ``pyproject.toml``), so it is found with :mod:`importlib.resources` after a wheel, a
    ``pip install .`` or an editable install, from any working directory; in a source checkout
    that is only on ``sys.path`` (not installed) it is the checkout's own ``configs/``.

    Args:
        relpath: path below ``configs/``, e.g. ``"markets/autonomous.yaml"`` or ``"experiments"``;
            a leading ``configs/`` is accepted (``"configs/markets/autonomous.yaml"``).

    Raises:
        FileNotFoundError: no such file or folder ships with vpp-gym.
    """
    parts = Path(relpath).parts
    if parts[:1] == ("configs",):
        parts = parts[1:]
    if not parts or Path(relpath).is_absolute():
        raise ValueError(f"packaged_config: expected a path below configs/, got {str(relpath)!r}")
    node: Traversable
    try:
        node = resources.files("vpp_gym.configs")
    except ModuleNotFoundError:  # a source checkout on sys.path without an install
        node = Path(__file__).resolve().parents[1] / "configs"
    for part in parts:
        node = node / part
    if not isinstance(node, Path):  # installers unpack packages; a zipped install has no file paths
        raise FileNotFoundError(f"vpp_gym.configs is not a folder on disk ({node!r}); install vpp-gym unpacked")
    if not node.exists():
        raise FileNotFoundError(f"vpp-gym ships no config {str(relpath)!r} (looked for {node})")
    return node


def find_config(path: str | Path) -> Path:
    """A config path as a user gives it: ``path`` itself if it exists (a relative path against the
    working directory, first); else, for a relative path below ``configs/``, the copy that ships with
    vpp-gym (:func:`packaged_config`), so ``configs/markets/autonomous.yaml`` also works outside the
    repository. Anything else comes back unchanged, for the caller's "not found" error.
    """
    p = Path(path)
    if p.exists() or p.is_absolute() or p.parts[:1] != ("configs",):
        return p
    try:
        return packaged_config(p)
    except (FileNotFoundError, ValueError):
        return p
