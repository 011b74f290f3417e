"""Everything fixed for an environment (:class:`CoreParams`) and the dynamic :class:`State`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from vpp_gym import ledger
from vpp_gym.config import ScenarioConfig
from vpp_gym.core import announcement, layout
from vpp_gym.core.columns import PRODUCTS
from vpp_gym.core.episode import ForecastPlan, forecast_plan
from vpp_gym.core.timeline import Schedule, build_schedule, contract_profile, gate_sources, history_steps
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.markets import PRODUCT_REGISTRY, carbon
from vpp_gym.markets.products import ProductMarketConfig
from vpp_gym.markets.spec import ProductSpec
from vpp_gym.ops import Array
from vpp_gym.resources import REGISTRY
from vpp_gym.resources.spec import ResourceSpec


class State(NamedTuple):
    """Dynamic state: ``(B,)`` arrays for a batch, or Python scalars for a single env.

    Attributes:
        t: step index within the episode.
        e_bat_mwh: battery stored energy (0 without a battery).
        backlog_mwh: flexible-load shift backlog (deferred energy still owed).
        ev_need_mwh: energy still needed by plugged-in EVs.
        gas_p_mw: gas unit output of the last interval.
        emissions_t: gross emissions so far in the episode (tCO2); under ``pilot_ets`` the signed balance of
            the indirect emissions (imports net of the certificates kept, :mod:`vpp_gym.markets.carbon`).
        direct_t: under ``pilot_ets``, the direct emissions so far (the gas unit's, tCO2), kept apart from
            ``emissions_t`` because certificates do not net them; 0 under the other regimes.
        allowances_t: free allowances accrued so far.
        ccer_t: CCER credits earned so far.
        agc_last: last AGC signal value (mileage continuity across intervals).
        reg_score: performance score of the last interval (0 before any regulation).
        positions_mw: committed day-ahead positions for intervals ``t .. t+L-1`` (a tuple of ``L``;
            hour-ahead timeline, empty on the day-ahead timeline).
        offer_prices: offer prices of those positions (transaction form; zeros otherwise).
        k: step index within the episode (bid and dispatch steps; ``t`` on the hour-ahead timeline).
        da_mw, da_price, id_mw: day-ahead timeline: the rings of day-ahead awards (MW), their cleared
            prices and the intraday adjustments (MW) of the intervals bid for but not yet delivered;
            interval ``i`` lives in slot ``i % ring`` (:class:`~vpp_gym.core.timeline.Schedule`).
            Empty tuples on the hour-ahead timeline.
        aw_mw, aw_price: day-ahead timeline: the rings of the capacity products' D-1 awards (MW) and
            prices, one ring per open product in registry order (product ``j``'s interval ``i`` in slot
            ``j * ring + i % ring``).
    """

    t: Any
    e_bat_mwh: Array
    backlog_mwh: Array
    ev_need_mwh: Array
    gas_p_mw: Array
    emissions_t: Array
    direct_t: Array
    allowances_t: Array
    ccer_t: Array
    agc_last: Array
    reg_score: Array
    positions_mw: tuple[Array, ...]
    offer_prices: tuple[Array, ...]
    k: Any
    da_mw: tuple[Array, ...]
    da_price: tuple[Array, ...]
    id_mw: tuple[Array, ...]
    aw_mw: tuple[Array, ...]
    aw_price: tuple[Array, ...]

    def row(self, i: int) -> State:
        """Row ``i`` of a batched state, as a scalar state."""
        return State._make(
            int(v[i]) if name in ("t", "k") else tuple(float(q[i]) for q in v) if isinstance(v, tuple) else float(v[i])
            for name, v in zip(self._fields, self, strict=True)
        )


TIMELINE_FIELDS = ("positions_mw", "offer_prices", "k", "da_mw", "da_price", "id_mw", "aw_mw", "aw_price")
"""The fields after the markets': the positions of either timeline and the step index."""
VALUE_FIELDS = tuple(f for f in State._fields if f != "t" and f not in TIMELINE_FIELDS)
"""The fields of :class:`State` that hold one number per episode (the resources' and the markets')."""
MARKET_FIELDS = ("emissions_t", "direct_t", "allowances_t", "ccer_t", "agc_last", "reg_score")
"""Fields owned by the markets (carbon, regulation); the others of :data:`VALUE_FIELDS` by the resources."""
assert VALUE_FIELDS[-len(MARKET_FIELDS) :] == MARKET_FIELDS, "State: the resources' fields come before the markets'"


@dataclass(frozen=True, eq=False)
class CoreParams:
    """Everything fixed for an environment: the scenario config and the data's normalisation.

    Derived layouts and sizes are cached properties (computed once; the hot step reads them).
    """

    cfg: ScenarioConfig
    price_ref_per_mwh: float
    lo: dict[str, float]
    hi: dict[str, float]

    @classmethod
    def from_series(cls, cfg: ScenarioConfig, series: ScenarioSeries) -> CoreParams:
        """Derive the normalisation constants from the scenario's series."""
        lo = {c: float(series.values[c].min()) for c in ALL_NAMES}
        hi = {c: float(series.values[c].max()) for c in ALL_NAMES}
        ref = float(np.mean(np.abs(series.values["price_da_per_mwh"])))
        return cls(cfg=cfg, price_ref_per_mwh=max(ref, 1e-6), lo=lo, hi=hi)

    # -- derived sizes -------------------------------------------------------------------------
    @cached_property
    def dt_h(self) -> float:
        """Interval length (h)."""
        return self.cfg.time.dt_h

    @cached_property
    def episode_steps(self) -> int:
        """Steps per episode ``T``."""
        return self.cfg.time.episode_steps

    @cached_property
    def lead(self) -> int:
        """Day-ahead lead ``L`` in steps."""
        return self.cfg.markets.energy.da_lead_steps

    @cached_property
    def day_ahead(self) -> bool:
        """Whether the scenario runs on the day-ahead timeline (:mod:`vpp_gym.core.timeline`)."""
        return self.cfg.markets.energy.timeline == "day_ahead"

    @cached_property
    def schedule(self) -> Schedule:
        """The step schedule of the day-ahead timeline (:func:`~vpp_gym.core.timeline.build_schedule`)."""
        assert self.day_ahead, "the schedule is a property of the day-ahead timeline"
        return build_schedule(self.cfg)

    @cached_property
    def gate_sources(self) -> np.ndarray:
        """Rows read by each step's forecasts, ``(n_cols, H, K+1)`` (:func:`~vpp_gym.core.timeline.gate_sources`)."""
        da = np.array([c == "price_da_per_mwh" for c in self.observed_series])
        exact = np.zeros(len(self.observed_series), dtype=bool)
        exact[list(self.announced_columns)] = True
        return gate_sources(self.cfg, self.schedule, self.horizon, da, exact)

    @cached_property
    def announced_columns(self) -> tuple[int, ...]:
        """Positions in :attr:`observed_series` of the columns announced at D-1 (day-ahead timeline with demand
        response open, :mod:`vpp_gym.core.announcement`; empty otherwise)."""
        if not announcement.active(self):
            return ()
        return tuple(self.observed_series.index(c) for c in announcement.ANNOUNCED_SERIES)

    @cached_property
    def announce_mask(self) -> np.ndarray:
        """``(H, K + 1)`` bool: step ``k`` observes the announcement of interval ``t + h``
        (:func:`vpp_gym.core.announcement.mask`; day-ahead timeline with demand response open)."""
        return announcement.mask(self)

    @cached_property
    def announce_offset(self) -> int:
        """Position in the observation of the first announcement row (after the calendar rows)."""
        return self.n_state_obs + len(layout.calendar_rows(self))

    @cached_property
    def history_steps(self) -> int:
        """Rows of history before an episode that its forecasts read (0 on the hour-ahead timeline)."""
        return history_steps(self.cfg) if self.day_ahead else 0

    @cached_property
    def steps(self) -> int:
        """Steps per episode: ``T`` on the hour-ahead timeline, ``T`` + the bid steps on the day-ahead one."""
        return self.schedule.steps if self.day_ahead else self.episode_steps

    @cached_property
    def contract_mw(self) -> np.ndarray:
        """Contract quantity per interval of the day ``(N,)`` (:func:`~vpp_gym.core.timeline.contract_profile`)."""
        return contract_profile(self.cfg)

    @cached_property
    def da_forecast_index(self) -> int:
        """Position in the observation of the day-ahead price forecast at lead 0 (a bid step's reference price)."""
        return (
            self.n_obs
            - len(self.observed_series) * self.horizon
            + self.observed_series.index("price_da_per_mwh") * self.horizon
        )

    @cached_property
    def schedule_rows(self) -> int:
        """Intervals of the schedule ahead in the observation (day-ahead timeline): through the next intraday block."""
        i = self.cfg.markets.energy.intraday
        return i.lead_steps + i.gate_spacing_steps if i is not None else 4

    @cached_property
    def contract_scale_inv(self) -> float:
        """``1 / max |contract quantity|`` (1 without a contract): the observation's normalisation."""
        m = float(np.max(np.abs(self.contract_mw))) if len(self.contract_mw) else 0.0
        return 1.0 / m if m > 0.0 else 1.0

    @cached_property
    def awards_known_before(self) -> np.ndarray:
        """``(K + 1,)``: the first interval whose awards step ``k`` may not observe (day-ahead timeline).

        A bid step is at the gate of the day it bids for, whose auction clears after the gate: the
        awards of that day and later are unknown (the first interval of that day). A dispatch step
        comes after the latest gate's clearing: every award made is known (``T``).
        """
        sch = self.schedule
        day_start = (sch.interval // sch.day_steps) * sch.day_steps
        return np.where(sch.bid, day_start, self.episode_steps)

    @cached_property
    def gate_flags(self) -> np.ndarray:
        """``(K + 1,)``: 1.0 at the dispatch steps that are intraday gates (day-ahead timeline)."""
        sch, i = self.schedule, self.cfg.markets.energy.intraday
        if i is None:
            return np.zeros(sch.steps + 1)
        at_gate = (sch.interval % sch.day_steps) % i.gate_spacing_steps == 0
        return np.where(~sch.bid & at_gate & (np.arange(sch.steps + 1) < sch.steps), 1.0, 0.0)

    @cached_property
    def horizon(self) -> int:
        """Forecast horizon ``H`` in steps."""
        return self.cfg.forecast.horizon_steps

    @cached_property
    def window_steps(self) -> int:
        """Flexible-load shift window in steps (1 without a flexible load)."""
        fl = self.cfg.resources.flex_load
        return fl.window_steps(self.dt_h) if fl is not None else 1

    def product(self, name: str) -> ProductMarketConfig | None:
        """The config of an ancillary product, or None if it is closed."""
        return getattr(self.cfg.markets, name)

    @cached_property
    def products(self) -> tuple[ProductSpec, ...]:
        """Specs of the open capacity products, in registry order."""
        return tuple(spec for spec in PRODUCT_REGISTRY if spec.config(self.cfg) is not None)

    @cached_property
    def open_products(self) -> tuple[str, ...]:
        """Ancillary products open in this scenario."""
        return tuple(n for n in PRODUCTS if self.product(n) is not None)

    @cached_property
    def regulation_k_value(self) -> bool:
        """Whether regulation is open and scored and paid with the K value (``scoring: k_value``)."""
        reg = self.cfg.markets.regulation
        return reg is not None and reg.scoring == "k_value"

    @cached_property
    def reg_providers(self) -> tuple[tuple[ResourceSpec, Any], ...]:
        """``(spec, params)`` of the present resources that follow the AGC signal, fastest first
        (``markets.regulation.providers`` in :attr:`~vpp_gym.markets.products.RegulationMarketConfig.speed_order`);
        empty while regulation is closed."""
        reg = self.cfg.markets.regulation
        if reg is None:
            return ()
        present = {spec.name: (spec, prm) for spec, prm in self.resources}
        return tuple(present[name] for name in reg.speed_order if name in present)

    @cached_property
    def energy_transaction(self) -> bool:
        """Whether day-ahead energy is traded in the transaction form."""
        return self.cfg.markets.energy.form == "transaction"

    @cached_property
    def carbon_stateful(self) -> bool:
        """Whether the carbon settlement depends on the episode's cumulative position (then observed).

        Always under the new rules (an ETS regime or ``china_2023`` certificates)."""
        c = self.cfg.markets.carbon
        if not c.legacy:
            return True
        return c.pricing == "stepped" or not c.reward_surplus or c.free_allowance_t_per_mwh > 0 or c.ccer_t_per_mwh > 0

    @cached_property
    def certificate_split(self) -> tuple[carbon.CertificateSplit, ...]:
        """What becomes of each present renewable resource's MWh: certificates sold, CCER, still green
        (:func:`vpp_gym.markets.carbon.certificate_split`)."""
        r = self.cfg.resources
        present = [(name, prm.offshore) for name, prm in (("pv", r.pv), ("wind", r.wind)) if prm is not None]
        return carbon.certificate_split(self.cfg.markets.carbon, present)

    # -- layouts (vpp_gym.core.layout) ------------------------------------------------------------
    def resources_by(self, rank: str) -> tuple[tuple[ResourceSpec, Any], ...]:
        """``(spec, params)`` of the scenario's resources, ordered by a layout rank (ties: registry order)."""
        return tuple(sorted(self.resources, key=lambda sp: getattr(sp[0], rank)))

    @cached_property
    def resources(self) -> tuple[tuple[ResourceSpec, Any], ...]:
        """``(spec, params)`` of the scenario's resources in registry order."""
        present = ((spec, spec.params(self.cfg)) for spec in REGISTRY)
        return tuple((spec, prm) for spec, prm in present if prm is not None)

    @cached_property
    def injecting(self) -> tuple[tuple[Any, Any], ...]:
        """``(inject step, params)`` of the scenario's resources that have one, in registry order."""
        return tuple((spec.inject, prm) for spec, prm in self.resources if spec.inject is not None)

    @cached_property
    def obs_resources(self) -> tuple[tuple[ResourceSpec, Any], ...]:
        """``(spec, params)`` of the scenario's resources in observation order."""
        return self.resources_by("obs_rank")

    @cached_property
    def absent_keys(self) -> tuple[str, ...]:
        """Summed ledger entries of resources the scenario lacks and of closed v0 products (written as 0; the
        owners of :data:`vpp_gym.ledger.UNWRITTEN_WHEN_ABSENT` write nothing)."""
        present = {spec.name for spec, _prm in self.resources} | set(self.open_products)
        return tuple(
            e.key
            for e in ledger.ENTRIES
            if e.summed
            and e.owner is not None
            and e.owner not in present
            and e.owner not in ledger.UNWRITTEN_WHEN_ABSENT
        )

    @cached_property
    def timeline_owners(self) -> frozenset[str]:
        """The timeline owners (:data:`vpp_gym.ledger.TIMELINE_OWNERS`) whose entries this scenario writes."""
        out = set()
        if self.day_ahead:
            out.add(ledger.DAY_AHEAD)
            if self.cfg.markets.energy.intraday is not None:
                out.add(ledger.INTRADAY)
        return frozenset(out)

    @cached_property
    def profit_terms(self) -> tuple[tuple[str, int], ...]:
        """``(ledger key, sign)`` of the profit terms this scenario writes, in the schema's order."""
        skip = set(ledger.UNWRITTEN_WHEN_ABSENT) - self.timeline_owners - set(self.open_products)
        return tuple((e.key, e.sign) for e in ledger.profit_terms() if e.owner not in skip)

    @cached_property
    def action_index(self) -> dict[str, int]:
        """Position of each action component by name."""
        return {n: i for i, n in enumerate(self.action_names)}

    @cached_property
    def action_names(self) -> tuple[str, ...]:
        """Names of the action components, in order (:func:`vpp_gym.core.layout.action_names`)."""
        return layout.action_names(self)

    @cached_property
    def observed_series(self) -> tuple[str, ...]:
        """Columns whose forecasts are in the observation."""
        return layout.observed_series(self)

    def obs_scale(self, col: str) -> float:
        """Divisor of a column in the observation (:func:`vpp_gym.core.layout.obs_scale`)."""
        return layout.obs_scale(self, col)

    def observation_layout(self) -> list[tuple[str, float, float, str]]:
        """``(name, low, high, meaning)`` of every observation component, in order."""
        return layout.observation_layout(self)

    @cached_property
    def n_state_obs(self) -> int:
        """Number of observation components that come from the state."""
        return len(layout.state_rows(self))

    @cached_property
    def n_obs(self) -> int:
        """Length of the observation vector."""
        return len(self.observation_layout())

    @cached_property
    def forecast(self) -> ForecastPlan:
        """How the observed forecasts are made (:func:`vpp_gym.core.episode.forecast_plan`)."""
        return forecast_plan(self)

    @cached_property
    def backlog_scale_mwh(self) -> float:
        """Largest possible shift backlog (normalisation of the observation)."""
        fl = self.cfg.resources.flex_load
        if fl is None:
            return 1.0
        scale = fl.shift_share * fl.peak_mw * self.hi["load_pu"] * fl.shift_window_h
        return scale if scale > 1e-9 else 1.0

    @cached_property
    def ev_terminal_price_per_mwh(self) -> float:
        """Value of EV need outstanding at the episode end (see ``EvFleetParams.terminal_price_per_mwh``)."""
        ev = self.cfg.resources.ev
        if ev is None:
            return 0.0
        if ev.terminal_price_per_mwh is not None:
            return ev.terminal_price_per_mwh
        return self.price_ref_per_mwh / ev.eta_charge

    @cached_property
    def carbon_scale_t(self) -> float:
        """Bound on the episode's net carbon position (normalisation of the observation).

        Imports are at most the load, battery and EV charging at full power; allowances at most the
        benchmark times the load served; every import and gas MWh at its highest factor. Under
        ``national_ets`` the gas unit at full output; under ``pilot_ets`` every import and renewable MWh at
        the grid factor plus the gas unit at full output, or the allocation and its offsets.
        """
        r = self.cfg.resources
        c = self.cfg.markets.carbon
        served = (r.flex_load.peak_mw * self.hi["load_pu"] if r.flex_load is not None else 0.0) + (
            r.ev.p_charge_max_mw if r.ev is not None else 0.0
        )
        imports = served + (r.battery.p_charge_max_mw if r.battery is not None else 0.0)
        gas = r.gas.p_max_mw * r.gas.ef_t_per_mwh if r.gas is not None else 0.0
        hours = self.episode_steps * self.dt_h
        if c.regime == "national_ets":  # only the gas unit: its emissions or its allocation
            per_h = r.gas.p_max_mw * max(r.gas.ef_t_per_mwh, c.gas_benchmark_t_per_mwh) if r.gas is not None else 0.0
            return max(per_h * hours, 1e-9)
        if c.regime == "pilot_ets":  # imports and renewable MWh without their attribute, gas; the allocation
            renew = sum(prm.p_max_mw for prm in (r.pv, r.wind) if prm is not None)
            allocation = c.allocation_t_per_day * hours / 24.0
            covered = ((imports + renew) * c.grid_factor_t_per_mwh + gas) * hours
            return max(covered, allocation * (1.0 + c.ccer_cap_share), 1e-9)
        per_h = max(imports * self.hi["grid_ef_t_per_mwh"] + gas, served * c.free_allowance_t_per_mwh)
        return max(per_h * self.episode_steps * self.dt_h, 1e-9)


def initial_state(p: CoreParams, batch: int | None) -> State:
    """State at the start of an episode: arrays of ``batch`` rows, or Python scalars if ``batch`` is None.

    Each present resource's fields start at their declared initial values
    (:attr:`~vpp_gym.resources.spec.ResourceSpec.state`); every other field at 0.
    """
    values = dict.fromkeys(VALUE_FIELDS, 0.0)
    for spec, prm in p.resources:
        for f in spec.state:
            values[f.name] = f.initial(prm)
    lead = 0 if p.day_ahead else p.lead
    ring = p.schedule.ring if p.day_ahead else 0
    n_aw = ring * len(p.open_products)
    if batch is None:
        zeros: tuple[float, ...] = (0.0,) * ring
        return State(
            t=0,
            **values,
            positions_mw=(0.0,) * lead,
            offer_prices=(0.0,) * lead,
            k=0,
            da_mw=zeros,
            da_price=zeros,
            id_mw=zeros,
            aw_mw=(0.0,) * n_aw,
            aw_price=(0.0,) * n_aw,
        )
    z = np.zeros(batch)
    rz = (z,) * ring  # shared zeros: the steps replace slots, never write into them
    return State(
        t=np.zeros(batch, dtype=np.int64),
        **{k: np.full(batch, v) for k, v in values.items()},
        positions_mw=tuple(np.zeros(batch) for _ in range(lead)),
        offer_prices=tuple(np.zeros(batch) for _ in range(lead)),
        k=np.zeros(batch, dtype=np.int64),
        da_mw=rz,
        da_price=rz,
        id_mw=rz,
        aw_mw=(z,) * n_aw,
        aw_price=(z,) * n_aw,
    )
