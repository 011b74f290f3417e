"""Pure, batched VPP dynamics: episode data, reset, transition (with settlement) and observation.

Everything here is a function of ``(params, state, action, exogenous)``; the Gymnasium wrappers in
``env.py`` own the spaces, the generator and the decoding of ``info``. Arrays carry a leading batch
dimension ``B`` (``xp = numpy``); a task without ancillary products can also run on Python floats
(``xp = SCALAR``, see :mod:`vpp_gym.ops`), which the single env does for speed. The optimization
baselines build their models from the same :class:`CoreParams`.

One step ``t`` (interval ``[t, t + dt)``), in order:

1. decode the action in ``[-1, 1]^A`` (layout :attr:`CoreParams.action_names`) into base setpoints
   (MW), offers (MW and price) and the day-ahead position committed for interval ``t + L``;
2. reveal the interval's realised exogenous values (prices, capacity factors, load, EV data,
   ancillary needs and prices, the AGC signal, reserve calls);
3. clear the capacity products offered for the interval (regulation, reserve, demand response) in
   their organisation form (:mod:`vpp_gym.markets.products`);
4. project every base setpoint onto its resource's feasible range; deploy called reserve from the
   battery's spare headroom, then the gas unit, then load curtailment; cap the regulation award at
   the battery's symmetric headroom and follow the AGC signal with the battery at sub-steps;
   advance every resource's state;
5. net injection ``P = pv + wind + battery + ev + gas - load`` (MW, positive = export);
6. settle: day-ahead position ``q`` at the day-ahead (or clearing) price, real-time deviation
   ``P - q`` at the real-time price, imbalance penalty; regulation (capacity + mileage, x score),
   reserve capacity, demand response against the passive baseline; carbon compliance change and
   green certificates (:mod:`vpp_gym.markets.carbon`); resource costs and penalties;
7. profit = cash flows - costs - penalties; reward = ``reward.scale * profit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from vpp_gym import ledger
from vpp_gym import rng as rnd
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.forecast import lead_growth
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.markets import carbon, regulation
from vpp_gym.markets.clearing import clear_invitation, clear_transaction, competitor_stack
from vpp_gym.markets.products import ProductMarketConfig
from vpp_gym.ops import SCALAR, Array
from vpp_gym.resources import battery, ev_fleet, flex_load, gas_unit, renewable

# Column positions of the exogenous array (schema order, then the ancillary columns).
(
    I_DA,
    I_RT,
    I_EF,
    I_PV,
    I_WIND,
    I_LOAD,
    I_EV_PLUG,
    I_EV_ARR,
    I_EV_DEP,
    I_REG_NEED,
    I_REG_CAP_P,
    I_REG_MIL_P,
    I_RES_NEED,
    I_RES_P,
    I_RES_CALL,
    I_DR_NEED,
    I_DR_P,
) = range(len(ALL_NAMES))
assert ALL_NAMES[I_DR_P] == "dr_price_per_mwh"

PRODUCTS = ("regulation", "reserve", "demand_response")
# Exogenous columns of each product: (need, price).
PRODUCT_COLUMNS = {
    "regulation": (I_REG_NEED, I_REG_CAP_P),
    "reserve": (I_RES_NEED, I_RES_P),
    "demand_response": (I_DR_NEED, I_DR_P),
}
# (ledger key, sign) of every term of the profit, in summation order (:func:`vpp_gym.ledger.profit_terms`).
PROFIT_TERMS = tuple((e.key, e.sign) for e in ledger.profit_terms())
# Ancillary columns observed per open product, normalised by their largest absolute value.
PRODUCT_SERIES = {
    "regulation": ("reg_cap_price_per_mw", "reg_mileage_price_per_mw"),
    "reserve": ("reserve_price_per_mw",),
    "demand_response": ("dr_need_mw", "dr_price_per_mwh"),
}


class State(NamedTuple):
    """Dynamic state: ``(B,)`` arrays for a batch, or Python scalars for a single env.

    Attributes:
        t: step index within the episode.
        e_bat_mwh: battery stored energy (0 without a battery).
        backlog_mwh: flexible-load shift backlog (deferred energy still owed).
        ev_need_mwh: energy still needed by plugged-in EVs.
        gas_p_mw: gas unit output of the last interval.
        emissions_t: gross emissions so far in the episode (tCO2).
        allowances_t: free allowances accrued so far.
        ccer_t: CCER credits earned so far.
        agc_last: last AGC signal value (mileage continuity across intervals).
        reg_score: performance score of the last interval (0 before any regulation).
        positions_mw: committed day-ahead positions for intervals ``t .. t+L-1`` (a tuple of ``L``).
        offer_prices: offer prices of those positions (transaction form; zeros otherwise).
    """

    t: Any
    e_bat_mwh: Array
    backlog_mwh: Array
    ev_need_mwh: Array
    gas_p_mw: Array
    emissions_t: Array
    allowances_t: Array
    ccer_t: Array
    agc_last: Array
    reg_score: Array
    positions_mw: tuple[Array, ...]
    offer_prices: tuple[Array, ...]

    def row(self, i: int) -> State:
        """Row ``i`` of a batched state, as a scalar state."""
        return State(
            int(self.t[i]),
            *(float(v[i]) for v in self[1 : 1 + N_SCALAR_FIELDS]),
            tuple(float(q[i]) for q in self.positions_mw),
            tuple(float(q[i]) for q in self.offer_prices),
        )


N_SCALAR_FIELDS = 9  # State fields between ``t`` and the two position tuples


@dataclass(frozen=True, eq=False)
class EpisodeData:
    """Exogenous data of ``B`` episodes.

    Attributes:
        start: row of the scenario series where each episode starts, ``(B,)``.
        exo: realised values, ``(B, T, K)`` in :data:`ALL_NAMES` order; used by the settlement only.
        obs_exo: each step's observation with the state part zeroed: forecasts and calendar,
            ``(B, T+1, n_obs)`` float32.
        agc: AGC signal, ``(B, T, S)`` (regulation open) or None.
        stacks: competitor offer stacks per transaction-form market, ``name -> (mw, price)``, each ``(B, T, M)``.
    """

    start: np.ndarray
    exo: np.ndarray
    obs_exo: np.ndarray
    agc: np.ndarray | None = None
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


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
    @property
    def dt_h(self) -> float:
        """Interval length (h)."""
        return self.cfg.time.dt_h

    @property
    def episode_steps(self) -> int:
        """Steps per episode ``T``."""
        return self.cfg.time.episode_steps

    @property
    def lead(self) -> int:
        """Day-ahead lead ``L`` in steps."""
        return self.cfg.markets.energy.da_lead_steps

    @property
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
    def open_products(self) -> tuple[str, ...]:
        """Ancillary products open in this scenario."""
        return tuple(n for n in PRODUCTS if self.product(n) is not None)

    @cached_property
    def energy_transaction(self) -> bool:
        """Whether day-ahead energy is traded in the transaction form."""
        return self.cfg.markets.energy.form == "transaction"

    @cached_property
    def carbon_stateful(self) -> bool:
        """Whether the carbon settlement depends on the episode's cumulative position (then observed)."""
        c = self.cfg.markets.carbon
        return c.pricing == "stepped" or not c.reward_surplus or c.free_allowance_t_per_mwh > 0 or c.ccer_t_per_mwh > 0

    # -- layouts ---------------------------------------------------------------------------------
    @cached_property
    def action_index(self) -> dict[str, int]:
        """Position of each action component by name."""
        return {n: i for i, n in enumerate(self.action_names)}

    @cached_property
    def action_names(self) -> tuple[str, ...]:
        """Names of the action components, in order."""
        r = self.cfg.resources
        names = ["da_position"]
        if self.energy_transaction:
            names.append("da_price")
        if r.battery is not None:
            names.append("battery")
        if r.pv is not None and r.pv.curtailable:
            names.append("pv_curtail")
        if r.wind is not None and r.wind.curtailable:
            names.append("wind_curtail")
        if r.ev is not None:
            names.append("ev")
        if r.flex_load is not None:
            names += ["load_curtail", "load_shift"]
        if r.gas is not None:
            names.append("gas")
        for prod in self.open_products:
            names.append(f"{prod}_mw")
            if self.product(prod).form == "transaction":  # type: ignore[union-attr]
                names.append(f"{prod}_price")
        return tuple(names)

    @cached_property
    def observed_series(self) -> tuple[str, ...]:
        """Columns whose forecasts are in the observation."""
        r = self.cfg.resources
        cols = ["price_da_per_mwh", "price_rt_per_mwh", "grid_ef_t_per_mwh"]
        if r.pv is not None:
            cols.append("pv_cf")
        if r.wind is not None:
            cols.append("wind_cf")
        if r.flex_load is not None:
            cols.append("load_pu")
        if r.ev is not None:
            cols += ["ev_plugged_share", "ev_arrival_need_pu", "ev_departure_share"]
        for prod in self.open_products:
            cols += PRODUCT_SERIES[prod]
        return tuple(cols)

    def obs_scale(self, col: str) -> float:
        """Divisor of a column in the observation: prices by ``price_ref``, ancillary by their max |x|."""
        if col in ("price_da_per_mwh", "price_rt_per_mwh"):
            return self.price_ref_per_mwh
        if col in ALL_NAMES[I_REG_NEED:]:
            return max(abs(self.lo[col]), abs(self.hi[col]), 1e-9)
        return 1.0

    def observation_layout(self) -> list[tuple[str, float, float, str]]:
        """``(name, low, high, meaning)`` of every observation component, in order."""
        r = self.cfg.resources
        rows: list[tuple[str, float, float, str]] = []
        if r.battery is not None:
            rows.append(("battery_soc", 0.0, 1.0, "stored energy / e_max_mwh"))
        if r.flex_load is not None:
            rows.append(("load_backlog", -1.0, 1.0, "shift backlog / (shift_share * peak_mw * max load_pu * window h)"))
        if r.ev is not None:
            rows.append(("ev_need", 0.0, 1.0, "energy needed by plugged EVs / e_fleet_mwh"))
        if r.gas is not None:
            rows.append(("gas_output", 0.0, 1.0, "last gas output / p_max_mw"))
        if self.carbon_stateful:
            rows.append(("carbon_position", -1.0, 1.0, "net carbon position so far / carbon_scale_t"))
        if "regulation" in self.open_products:
            rows.append(("reg_score", 0.0, 1.0, "performance score of the last interval"))
        for j in range(self.lead):
            rows.append((f"position_{j}", -1.0, 1.0, f"committed position for interval t+{j} / position_max_mw"))
        if self.energy_transaction:
            for j in range(self.lead):
                rows.append((f"offer_price_{j}", 0.0, 1.0, "offer price of that position / price_cap_per_mwh"))
        rows += [
            ("tod_sin", -1.0, 1.0, "sin(2 pi time of day)"),
            ("tod_cos", -1.0, 1.0, "cos(2 pi time of day)"),
            ("progress", 0.0, 1.0, "t / T"),
            ("weekend", 0.0, 1.0, "1 on Saturday and Sunday"),
        ]
        if r.flex_load is not None:
            rows.append(("window_phase", 0.0, 1.0, "(t mod window steps) / window steps"))
        for col in self.observed_series:
            scale = self.obs_scale(col)
            lo, hi = self._series_range(col)
            note = "" if scale == 1.0 else (" / price_ref" if col.startswith("price") else " / max |series|")
            # float32 division, as the observation itself is computed (forecast_features)
            lo32, hi32 = (float(np.float32(v) / np.float32(scale)) for v in (lo, hi))
            for h in range(self.horizon):
                rows.append((f"{col}[t+{h}]", lo32, hi32, f"forecast of {col} for interval t+{h}{note}"))
        return rows

    def _series_range(self, col: str) -> tuple[float, float]:
        if col in ("price_da_per_mwh", "price_rt_per_mwh"):
            return (
                min(self.lo["price_da_per_mwh"], self.lo["price_rt_per_mwh"]),
                max(self.hi["price_da_per_mwh"], self.hi["price_rt_per_mwh"]),
            )
        return self.lo[col], self.hi[col]

    @cached_property
    def n_state_obs(self) -> int:
        """Number of observation components that come from the state."""
        r = self.cfg.resources
        n = sum(x is not None for x in (r.battery, r.flex_load, r.ev, r.gas)) + self.lead
        return (
            n
            + self.carbon_stateful
            + ("regulation" in self.open_products)
            + (self.lead if self.energy_transaction else 0)
        )

    @cached_property
    def n_obs(self) -> int:
        """Length of the observation vector."""
        return len(self.observation_layout())

    @cached_property
    def forecast(self) -> ForecastPlan:
        """How the observed forecasts are made (:func:`forecast_plan`)."""
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
        benchmark times the load served; every import and gas MWh at its highest factor.
        """
        r = self.cfg.resources
        c = self.cfg.markets.carbon
        served = (r.flex_load.peak_mw * self.hi["load_pu"] if r.flex_load is not None else 0.0) + (
            r.ev.p_charge_max_mw if r.ev is not None else 0.0
        )
        imports = served + (r.battery.p_charge_max_mw if r.battery is not None else 0.0)
        gas = r.gas.p_max_mw * r.gas.ef_t_per_mwh if r.gas is not None else 0.0
        per_h = max(imports * self.hi["grid_ef_t_per_mwh"] + gas, served * c.free_allowance_t_per_mwh)
        return max(per_h * self.episode_steps * self.dt_h, 1e-9)


def initial_state(p: CoreParams, batch: int | None) -> State:
    """State at the start of an episode: arrays of ``batch`` rows, or Python scalars if ``batch`` is None."""
    r = p.cfg.resources
    values = [0.0] * N_SCALAR_FIELDS
    values[0] = r.battery.e_init_mwh if r.battery is not None else 0.0
    values[3] = r.gas.p_init_mw if r.gas is not None else 0.0
    if batch is None:
        return State(0, *values, (0.0,) * p.lead, (0.0,) * p.lead)
    cols = [np.full(batch, v) for v in values]
    return State(
        np.zeros(batch, dtype=np.int64),
        *cols,
        tuple(np.zeros(batch) for _ in range(p.lead)),
        tuple(np.zeros(batch) for _ in range(p.lead)),
    )


def episode_rows(p: CoreParams, series: ScenarioSeries, start: np.ndarray) -> np.ndarray:
    """Realised values for rows ``start .. start + T + H`` (edge-padded past the data), ``(B, T+H+1, K)``."""
    n = len(series)
    span = p.episode_steps + p.horizon + 1
    idx = np.minimum(start[:, None] + np.arange(span)[None, :], n - 1)
    table = np.stack([series.values[c] for c in ALL_NAMES], axis=1)
    return table[idx]


def forecast_errors(p: CoreParams) -> dict[str, tuple[float, bool]]:
    """``column -> (sigma, multiplicative)`` of the forecast error model (``ForecastConfig``) for every column.

    Energy prices: absolute sigma = relative sigma x ``price_ref``; capacity factors absolute; load,
    carbon intensity and ancillary prices relative. EV data, ancillary needs, reserve calls and
    demand-response events are known exactly (announced, or not forecast at all).
    """
    f = p.cfg.forecast
    sig = dict.fromkeys(ALL_NAMES, (0.0, False))
    sig.update(
        {
            "price_da_per_mwh": (f.price_da_sigma_rel * p.price_ref_per_mwh, False),
            "price_rt_per_mwh": (f.price_rt_sigma_rel * p.price_ref_per_mwh, False),
            "grid_ef_t_per_mwh": (f.grid_ef_sigma_rel, True),
            "pv_cf": (f.pv_sigma, False),
            "wind_cf": (f.wind_sigma, False),
            "load_pu": (f.load_sigma_rel, True),
            "reg_cap_price_per_mw": (f.ancillary_price_sigma_rel, True),
            "reg_mileage_price_per_mw": (f.ancillary_price_sigma_rel, True),
            "reserve_price_per_mw": (f.ancillary_price_sigma_rel, True),
        }
    )
    return sig


@dataclass(frozen=True, eq=False)
class ForecastPlan:
    """How the observed forecasts are made from the realised series (all float32, see :func:`forecast_features`).

    Attributes:
        columns: positions in :data:`ALL_NAMES` of the observed columns (:attr:`CoreParams.observed_series`).
        noisy: positions (in ``columns``) of the columns with a forecast error, in draw order.
        exact: positions of the columns forecast exactly.
        sigma_lead: per noisy column, ``sigma * g(h)`` for the leads ``h = 0 .. H-1``, ``(n_noisy, H)``.
        relative: positions (in ``noisy``) of the columns whose error is relative.
        lo: per noisy column, lowest forecast value, ``(n_noisy, 1)``.
        hi: per noisy column, highest forecast value, ``(n_noisy, 1)``.
        scale_noisy: per noisy column, the observation's divisor (:meth:`CoreParams.obs_scale`), ``(n_noisy, 1)``.
        scale_exact: the same per exact column, ``(n_exact, 1)``.
    """

    columns: tuple[int, ...]
    noisy: np.ndarray
    exact: np.ndarray
    sigma_lead: np.ndarray
    relative: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    scale_noisy: np.ndarray
    scale_exact: np.ndarray


def forecast_plan(p: CoreParams) -> ForecastPlan:
    """The :class:`ForecastPlan` of a scenario (error model of ``ForecastConfig``, :func:`forecast_errors`)."""
    cols = p.observed_series
    sig = forecast_errors(p)
    noisy = [j for j, c in enumerate(cols) if sig[c][0] > 0.0]
    exact = [j for j in range(len(cols)) if j not in noisy]
    g = lead_growth(p.horizon, p.cfg.forecast.growth_cap)

    def column(values: list[float]) -> np.ndarray:
        return np.array(values, dtype=np.float32).reshape(-1, 1)

    return ForecastPlan(
        columns=tuple(ALL_NAMES.index(c) for c in cols),
        noisy=np.array(noisy, dtype=np.intp),
        exact=np.array(exact, dtype=np.intp),
        sigma_lead=np.array([sig[cols[j]][0] * g for j in noisy], dtype=np.float32).reshape(len(noisy), p.horizon),
        relative=np.array([n for n, j in enumerate(noisy) if sig[cols[j]][1]], dtype=np.intp),
        lo=column([p.lo[cols[j]] for j in noisy]),
        hi=column([p.hi[cols[j]] for j in noisy]),
        scale_noisy=column([p.obs_scale(cols[j]) for j in noisy]),
        scale_exact=column([p.obs_scale(cols[j]) for j in exact]),
    )


def draw_forecast_errors(p: CoreParams, rng: rnd.Rng, batch: int) -> np.ndarray | None:
    """Standard normal forecast errors ``(B, T+1, n_noisy, H)`` float32 (None if every forecast is exact)."""
    n = len(p.forecast.noisy)
    if n == 0:
        return None
    return rnd.normal(rng, (batch, p.episode_steps + 1, n, p.horizon), np.float32)


def forecast_features(p: CoreParams, windows: np.ndarray, z: np.ndarray | None, out: np.ndarray) -> None:
    """Write the observed forecasts of realised ``windows`` into ``out``, in float32.

    The formula of :mod:`vpp_gym.data.forecast` per noisy column, ``x + s z`` or ``x + s z x``
    (relative), clipped to the series range, then each column divided by its observation scale.
    Element-wise, so the single env (whole episode at once) and the vector env (one step at a time)
    get the same bits. Column and lead come first so that the batch can be the fastest axis.

    Args:
        p: parameters.
        windows: realised values ``(n_cols, H, ...)`` float32, ``[j, h, ...]`` column ``j`` at lead ``h``.
        z: matching standard normal draws ``(n_noisy, H, ...)`` (:func:`draw_forecast_errors`).
        out: ``(n_cols, H, ...)`` float32, written.
    """
    fp = p.forecast
    tail = (None,) * (windows.ndim - 2)
    if len(fp.noisy):
        assert z is not None
        w = windows[fp.noisy]
        noise = z * fp.sigma_lead[(..., *tail)]
        if len(fp.relative):
            noise[fp.relative] *= w[fp.relative]
        w += noise
        np.clip(w, fp.lo[(..., *tail)], fp.hi[(..., *tail)], out=w)
        w /= fp.scale_noisy[(..., *tail)]
        out[fp.noisy] = w
    if len(fp.exact):
        out[fp.exact] = windows[fp.exact] / fp.scale_exact[(..., *tail)]


def calendar_features(p: CoreParams, series: ScenarioSeries, start: np.ndarray) -> np.ndarray:
    """Calendar part of the observation for steps ``0 .. T`` (local time), ``(B, T+1, n_cal)`` float32."""
    T = p.episode_steps
    batch = len(start)
    stamps = series.timestamps[np.minimum(start[:, None] + np.arange(T + 1)[None, :], len(series) - 1)]
    stamps = stamps + p.cfg.time.utc_offset
    minutes = (stamps - stamps.astype("datetime64[D]")) / np.timedelta64(1, "m")
    phase = 2.0 * np.pi * minutes / 1440.0
    weekday = (stamps.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    t_idx = np.broadcast_to(np.arange(T + 1)[None, :], (batch, T + 1))
    cal = [np.sin(phase), np.cos(phase), t_idx / T, (weekday >= 5).astype(np.float64)]
    if p.cfg.resources.flex_load is not None:
        cal.append((t_idx % p.window_steps) / p.window_steps)
    return np.stack(cal, axis=2).astype(np.float32)


def forecast_source(p: CoreParams, rows: np.ndarray) -> np.ndarray:
    """The observed columns of :func:`episode_rows`, ``(n_cols, T+H+1, B)`` float32 (windows are slices of it)."""
    return np.ascontiguousarray(rows[:, :, list(p.forecast.columns)].transpose(2, 1, 0), dtype=np.float32)


def draw_stacks(p: CoreParams, rows: np.ndarray, rng: rnd.Rng) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Competitor stacks of the transaction-form markets with competitors, ``name -> (mw, price)`` ``(B, T, M)``."""
    T = p.episode_steps
    batch = rows.shape[0]
    stacks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    em = p.cfg.markets.energy
    if p.energy_transaction and em.competitors.n_offers > 0:
        stacks["energy"] = competitor_stack(em.competitors, np.full((batch, T), em.need_mw), rows[:, :T, I_DA], rng)
    for prod, (i_need, i_price) in PRODUCT_COLUMNS.items():
        cfg = p.product(prod)
        if cfg is not None and cfg.form == "transaction" and cfg.competitors.n_offers > 0:
            stacks[prod] = competitor_stack(cfg.competitors, np.abs(rows[:, :T, i_need]), rows[:, :T, i_price], rng)
    return stacks


def draw_agc(p: CoreParams, rng: rnd.Rng, batch: int) -> np.ndarray | None:
    """The AGC signal ``(B, T, S)`` of each episode (None without regulation)."""
    reg = p.cfg.markets.regulation
    return None if reg is None else regulation.agc_signal(reg.agc, rng, batch, p.episode_steps)


def build_episode(p: CoreParams, series: ScenarioSeries, start: np.ndarray, rng: rnd.Rng) -> EpisodeData:
    """Slice the episodes' realised data; draw their forecasts, AGC signals and competitor stacks.

    ``rng`` is one generator for the batch or one per row (:mod:`vpp_gym.rng`); a row drawn from its
    own generator gets exactly what a batch of one built from that generator gets. Draw order: the
    AGC signal, the stacks of energy, regulation, reserve and demand response (those in the
    transaction form with competitors), then the forecast errors (:func:`draw_forecast_errors`, one
    block). The signal and the stacks come first because the products are the same whichever
    resources are present: removing a resource (Shapley coalitions) changes only the forecasts.
    """
    T, H = p.episode_steps, p.horizon
    rows = episode_rows(p, series, start)
    batch = len(start)
    n_cols = len(p.forecast.columns)
    obs_exo = np.zeros((batch, T + 1, p.n_obs), dtype=np.float32)  # the state part is filled by observe()
    cal = calendar_features(p, series, start)
    obs_exo[:, :, p.n_state_obs : p.n_state_obs + cal.shape[2]] = cal
    agc = draw_agc(p, rng, batch)
    stacks = draw_stacks(p, rows, rng)
    src = forecast_source(p, rows)  # (n_cols, T+H+1, B)
    idx = np.arange(T + 1)[:, None] + np.arange(H)[None, :]
    windows = src[:, idx].transpose(0, 2, 3, 1)  # (n_cols, H, B, T+1)
    z = draw_forecast_errors(p, rng, batch)
    fc = np.empty((n_cols, H, batch, T + 1), dtype=np.float32)
    forecast_features(p, windows, None if z is None else z.transpose(2, 3, 0, 1), fc)
    obs_exo[:, :, p.n_obs - n_cols * H :] = fc.transpose(2, 3, 0, 1).reshape(batch, T + 1, n_cols * H)
    return EpisodeData(start=start, exo=np.ascontiguousarray(rows[:, :T, :]), obs_exo=obs_exo, agc=agc, stacks=stacks)


def state_features(p: CoreParams, s: State, xp: Any = np) -> list[Array]:
    """The state part of the observation, one entry per component (arrays or scalars)."""
    r = p.cfg.resources
    cols: list[Array] = []
    if r.battery is not None:
        cols.append(s.e_bat_mwh * (1.0 / r.battery.e_max_mwh))
    if r.flex_load is not None:
        # |backlog| <= scale by construction; the clip only absorbs float rounding
        cols.append(xp.minimum(xp.maximum(s.backlog_mwh * (1.0 / p.backlog_scale_mwh), -1.0), 1.0))
    if r.ev is not None:
        cols.append(s.ev_need_mwh * (1.0 / r.ev.e_fleet_mwh if r.ev.e_fleet_mwh > 0 else 0.0))
    if r.gas is not None:
        cols.append(s.gas_p_mw * (1.0 / r.gas.p_max_mw))
    if p.carbon_stateful:
        x, _used = carbon.net_position(s.emissions_t, s.allowances_t, s.ccer_t, p.cfg.markets.carbon, xp)
        cols.append(xp.minimum(xp.maximum(x * (1.0 / p.carbon_scale_t), -1.0), 1.0))
    if "regulation" in p.open_products:
        cols.append(s.reg_score)
    inv = 1.0 / p.cfg.markets.energy.position_max_mw
    cols.extend(q * inv for q in s.positions_mw)
    if p.energy_transaction:
        inv_p = 1.0 / p.cfg.markets.energy.price_cap_per_mwh
        cols.extend(q * inv_p for q in s.offer_prices)
    return cols


def observe(p: CoreParams, s: State, ep: EpisodeData) -> np.ndarray:
    """Observations ``(B, n_obs)`` float32 of a batched state (layout: :meth:`CoreParams.observation_layout`)."""
    obs = ep.obs_exo[np.arange(len(s.t)), s.t]
    obs[:, : p.n_state_obs] = np.stack(state_features(p, s, np), axis=1)
    return obs


def observe_one(p: CoreParams, s: State, ep: EpisodeData) -> np.ndarray:
    """Observation ``(n_obs,)`` float32 of a scalar state (episode row 0)."""
    obs = ep.obs_exo[0, s.t].copy()
    obs[: p.n_state_obs] = state_features(p, s, SCALAR)
    return obs


def _lift(v: Array, batched: bool) -> np.ndarray:
    """A scalar as a batch of one (arrays pass through)."""
    return v if batched else np.array([v], dtype=np.float64)


def _lower(v: np.ndarray, batched: bool) -> Array:
    """A batch of one back to a scalar (arrays pass through)."""
    return v if batched else float(v[0])


def _transact(
    offer_mw: Array,
    offer_price: Array,
    stack: tuple[np.ndarray, np.ndarray] | None,
    need_mw: Array,
    price_cap: float,
    ref_price: Array,
    batched: bool,
) -> tuple[Array, Array]:
    """:func:`clear_transaction` for either backend; no stack = price-taker."""
    if stack is None:
        n = len(offer_mw) if batched else 1
        stack = (np.zeros((n, 0)), np.zeros((n, 0)))
    acc, price = clear_transaction(
        _lift(offer_mw, batched),
        _lift(offer_price, batched),
        stack[0],
        stack[1],
        _lift(need_mw, batched),
        price_cap,
        _lift(ref_price, batched),
    )
    return _lower(acc, batched), _lower(price, batched)


def _clear(
    cfg: ProductMarketConfig,
    offer_mw: Array,
    offer_price: Array | None,
    need_mw: Array,
    ref_price: Array,
    stack: tuple[np.ndarray, np.ndarray] | None,
    xp: Any,
) -> tuple[Array, Array]:
    """Accepted quantity and price of one product in its organisation form."""
    if cfg.form == "invitation":
        return clear_invitation(offer_mw, cfg.others_ratio * need_mw, need_mw, xp), ref_price
    return _transact(offer_mw, offer_price, stack, need_mw, cfg.price_cap, ref_price, xp is np)


def transition(
    p: CoreParams, s: State, action: Sequence[Array], x: Sequence[Array], xp: Any = np, ep: EpisodeData | None = None
) -> tuple[State, dict[str, Array]]:
    """Advance one interval.

    Args:
        p: parameters.
        s: state at the start of the interval.
        action: one entry per action component (layout :attr:`CoreParams.action_names`), each in
            ``[-1, 1]``: ``(B,)`` arrays (e.g. ``actions.T``) or floats with ``xp = SCALAR``.
        x: one entry per column of :data:`ALL_NAMES`: the realised exogenous values of the interval.
        xp: ``numpy`` for batched arrays, :data:`vpp_gym.ops.SCALAR` for Python floats (a batch of one;
            the sub-step and merit-order computations then run on one-row arrays).
        ep: the episodes (AGC signal and competitor stacks); needed when ancillary products are open
            or energy is traded in the transaction form.

    Returns:
        ``(next_state, ledger)``; the ledger maps the documented keys to values of the inputs' kind.
    """
    r = p.cfg.resources
    mk = p.cfg.markets
    dt = p.dt_h
    zero = 0.0 * s.e_bat_mwh
    led: dict[str, Array] = {}
    col = p.action_index
    net = zero
    e_bat, backlog, ev_need, gas_p = s.e_bat_mwh, s.backlog_mwh, s.ev_need_mwh, s.gas_p_mw
    degradation = zero
    products = p.open_products
    batched = xp is np
    if products or p.energy_transaction:
        assert ep is not None, "ancillary products and the transaction form need the episode data"
    # Sub-step and competitor-stack arrays of this interval: (B, S) / (B, M), or (1, S) / (1, M) for a scalar.
    at = (np.arange(len(s.t)), s.t) if batched else (slice(0, 1), s.t)

    # -- offers: clear the capacity products of this interval ------------------------------------
    accepted: dict[str, Array] = {}
    for prod in products:
        cfg = p.product(prod)
        assert cfg is not None
        q = xp.maximum(action[col[f"{prod}_mw"]], 0.0) * cfg.offer_max_mw
        price_offer = (
            (action[col[f"{prod}_price"]] + 1.0) * (0.5 * cfg.price_cap) if cfg.form == "transaction" else None
        )
        i_need, i_price = PRODUCT_COLUMNS[prod]
        stack = ep.stacks.get(prod)
        stack_t = (stack[0][at], stack[1][at]) if stack is not None else None
        acc, price = _clear(cfg, q, price_offer, abs(x[i_need]), x[i_price], stack_t, xp)
        accepted[prod] = acc
        led[f"{prod}.offer_mw"], led[f"{prod}.accepted_mw"] = q, acc
        led[f"{prod}.price"] = price
        if price_offer is not None:
            led[f"{prod}.offer_price"] = price_offer

    # -- resources: base setpoints ------------------------------------------------------------------
    p_bat = zero
    if r.battery is not None:
        b = r.battery
        a = action[col["battery"]]
        req = xp.maximum(a, 0.0) * b.p_discharge_max_mw + xp.minimum(a, 0.0) * b.p_charge_max_mw
        if products:
            bat_lo, bat_hi = battery.feasible_range(b, e_bat, dt, xp)
            p_bat = xp.minimum(xp.maximum(req, bat_lo), bat_hi)
        else:
            p_bat, e_bat = battery.apply(b, e_bat, req, dt, xp)
        led["battery.requested_mw"] = req
    renew_mwh = zero
    curtailed_mwh = zero
    baseline = zero  # passive net injection: renewables uncurtailed, base load, nothing else
    for name, prm, icol in (("pv", r.pv, I_PV), ("wind", r.wind, I_WIND)):
        if prm is None:
            continue
        cf = x[icol]
        if prm.curtailable:
            share = xp.maximum(action[col[f"{name}_curtail"]], 0.0)
            req = prm.p_max_mw * cf * (1.0 - share)
        else:
            req = prm.p_max_mw * cf
        p_out, p_avail = renewable.apply(prm, cf, req, xp)
        led[f"{name}.requested_mw"], led[f"{name}.applied_mw"] = req, p_out
        led[f"{name}.available_mw"] = p_avail
        net = net + p_out
        baseline = baseline + p_avail
        renew_mwh = renew_mwh + p_out * dt
        curtailed_mwh = curtailed_mwh + (p_avail - p_out) * dt
    ev_unmet = zero
    ev_charge = zero
    ev_terminal = zero
    if r.ev is not None:
        e = r.ev
        a = action[col["ev"]]
        req = xp.maximum(a, 0.0) * e.p_discharge_max_mw + xp.minimum(a, 0.0) * e.p_charge_max_mw
        p_ev, ev_need, ev_unmet = ev_fleet.apply(e, ev_need, x[I_EV_PLUG], x[I_EV_ARR], x[I_EV_DEP], req, dt, xp)
        led["ev.requested_mw"], led["ev.applied_mw"] = req, p_ev
        net = net + p_ev
        ev_charge = xp.maximum(-p_ev, 0.0)
        ev_terminal = xp.where(s.t + 1 == p.episode_steps, ev_need * p.ev_terminal_price_per_mwh, 0.0)
        degradation = degradation + xp.maximum(p_ev, 0.0) * (dt * e.degradation_cost_per_mwh)
    c = sh = consumption = zero
    c_max = zero
    shift_violation = zero
    if r.flex_load is not None:
        fl = r.flex_load
        base = fl.peak_mw * x[I_LOAD]
        c_req = xp.maximum(action[col["load_curtail"]], 0.0) * fl.curtail_share * base
        s_req = action[col["load_shift"]] * fl.shift_share * base
        # every window ends energy-neutral, and so does the episode (no backlog escapes at its end)
        window_end = ((s.t + 1) % p.window_steps == 0) | (s.t + 1 == p.episode_steps)
        c, sh, backlog, shift_violation = flex_load.apply(fl, backlog, base, c_req, s_req, window_end, dt, xp)
        # reserve and regulation may curtail more, never below zero consumption
        c_max = xp.minimum(fl.curtail_share * base, base - sh)
        led["load.base_mw"] = base
        led["load_curtail.requested_mw"], led["load_shift.requested_mw"] = c_req, s_req
        baseline = baseline - base
    started = zero
    gas_on_hi = zero
    if r.gas is not None:
        g = r.gas
        req = (action[col["gas"]] + 1.0) * (0.5 * g.p_max_mw)
        gas_prev = gas_p
        gas_p, started = gas_unit.apply(g, gas_prev, req, dt, xp)
        if products:
            gas_on_hi = gas_unit.feasible_range(g, gas_prev, dt, xp)[1]
        led["gas.requested_mw"] = req

    # -- regulation award: capped at the battery's symmetric headroom around its base setpoint -----
    # (the capability the VPP can prove for the interval: no capacity is paid that could not follow)
    if "regulation" in products:
        cleared = accepted["regulation"]
        capability = xp.maximum(xp.minimum(bat_hi - p_bat, p_bat - bat_lo), 0.0) if r.battery is not None else zero
        accepted["regulation"] = xp.minimum(cleared, capability)
        led["regulation.cleared_mw"], led["regulation.capability_mw"] = cleared, capability
        led["regulation.accepted_mw"] = accepted["regulation"]

    # -- reserve deployment: battery spare headroom, then gas, then extra curtailment -------------
    reg_cap = accepted.get("regulation", zero)
    if "reserve" in products:
        called = x[I_RES_CALL] * accepted["reserve"]
        remaining = called
        if r.battery is not None:
            d_bat = xp.minimum(remaining, xp.maximum(bat_hi - p_bat - reg_cap, 0.0))
            p_bat = p_bat + d_bat
            remaining = remaining - d_bat
        if r.gas is not None:
            d_gas = xp.where(gas_p > 0.0, xp.minimum(remaining, xp.maximum(gas_on_hi - gas_p, 0.0)), 0.0)
            gas_p = gas_p + d_gas
            remaining = remaining - d_gas
        if r.flex_load is not None:
            d_c = xp.minimum(remaining, xp.maximum(c_max - c, 0.0))
            c = c + d_c
            remaining = remaining - d_c
        delivered = called - remaining
        led["reserve.called_mw"], led["reserve.delivered_mw"] = called, delivered
    # -- regulation: the battery follows the AGC signal at sub-steps (its award fits its headroom) ----
    # (a NumPy island: a scalar state is lifted to a batch of one and the results lowered again)
    reg_energy_mw = zero
    agc_last, reg_score = s.agc_last, s.reg_score
    bat_throughput = abs(p_bat)  # mean |power| over the interval (the profile's, with regulation)
    follows = "regulation" in products and r.battery is not None
    if r.battery is not None and products:
        base_a = _lift(p_bat, batched)
        r_bat = None
        if follows:
            rc = mk.regulation
            assert rc is not None and ep.agc is not None
            sig = ep.agc[at]  # (B, S)
            cap_a = _lift(reg_cap, batched)
            up_bat = np.maximum(_lift(bat_hi, batched) - base_a, 0.0)
            down_bat = np.maximum(base_a - _lift(bat_lo, batched), 0.0)
            r_bat = regulation.response(
                cap_a,
                sig,
                up_bat,
                down_bat,
                rc.delay_substeps,
                np.inf if rc.ramp_mw_per_substep is None else rc.ramp_mw_per_substep,
            )
            score = regulation.performance_score(cap_a[:, None] * sig, r_bat, rc.max_delay_substeps)["score"]
            miles = cap_a * regulation.mileage(sig, _lift(s.agc_last, batched))
            cash = regulation.settle(
                cap_a,
                score,
                miles,
                _lift(led["regulation.price"], batched),
                _lift(x[I_REG_MIL_P], batched),
                dt,
                rc.min_score,
            )
            reg_energy_mw = _lower(np.add.reduce(r_bat, axis=1) * (1.0 / r_bat.shape[1]), batched)
            led["regulation.score"], led["regulation.mileage_mw"] = _lower(score, batched), _lower(miles, batched)
            led["regulation.mileage_price"] = x[I_REG_MIL_P]
            led["regulation.cash"] = _lower(cash, batched)
            agc_last, reg_score = _lower(sig[:, -1], batched), led["regulation.score"]
        b = r.battery
        profile = base_a[:, None] + r_bat if r_bat is not None else base_a[:, None]
        n_sub = profile.shape[1]
        e_next = _lift(e_bat, batched) - (dt / n_sub) * (
            np.maximum(profile, 0.0) / b.eta_discharge + np.minimum(profile, 0.0) * b.eta_charge
        ).sum(axis=1)
        e_bat = _lower(np.minimum(np.maximum(e_next, b.e_min_mwh), b.e_high_mwh), batched)
        p_bat = _lower(np.add.reduce(profile, axis=1) * (1.0 / n_sub), batched)
        bat_throughput = _lower(np.add.reduce(np.abs(profile), axis=1) * (1.0 / n_sub), batched)
    if "regulation" in products and not follows:  # no battery: nothing is awarded, nothing follows
        led["regulation.score"], led["regulation.mileage_mw"] = zero, zero
        led["regulation.mileage_price"], led["regulation.cash"] = x[I_REG_MIL_P], zero

    if r.battery is not None:
        led["battery.applied_mw"] = p_bat
        net = net + p_bat
        degradation = degradation + bat_throughput * (dt * r.battery.degradation_cost_per_mwh)
    curtail_cost = shift_cost = zero
    if r.flex_load is not None:
        fl = r.flex_load
        consumption = led["load.base_mw"] - c - sh
        led["load.consumption_mw"] = consumption
        led["load_curtail.applied_mw"], led["load_shift.applied_mw"] = c, sh
        net = net - consumption
        curtail_cost = c * (dt * fl.curtail_cost_per_mwh)
        shift_cost = abs(sh) * (dt * fl.shift_cost_per_mwh)
    fuel = startup = gas_t = zero
    if r.gas is not None:
        g = r.gas
        led["gas.applied_mw"] = gas_p
        net = net + gas_p
        fuel = gas_p * (dt * g.fuel_cost_per_mwh)
        startup = started * g.startup_cost
        gas_t = gas_p * (dt * g.ef_t_per_mwh)

    # -- demand response against the passive baseline --------------------------------------------
    dr_short = zero
    if "demand_response" in products:
        dc = mk.demand_response
        assert dc is not None
        need = x[I_DR_NEED]
        direction = xp.where(need > 0.0, 1.0, xp.where(need < 0.0, -1.0, 0.0))
        own = net - led.get("reserve.delivered_mw", zero) - reg_energy_mw - baseline
        delivered = xp.maximum(direction * own, 0.0)
        acc = accepted["demand_response"]
        led["demand_response.delivered_mw"] = delivered
        led["demand_response.cash"] = xp.minimum(delivered, acc) * dt * led["demand_response.price"]
        dr_short = xp.maximum(acc - delivered, 0.0) * (dt * dc.shortfall_penalty_per_mwh)
    res_short = zero
    if "reserve" in products:
        rv = mk.reserve
        assert rv is not None
        led["reserve.cash"] = accepted["reserve"] * dt * led["reserve.price"]
        res_short = (led["reserve.called_mw"] - led["reserve.delivered_mw"]) * (dt * rv.shortfall_penalty_per_mwh)

    # -- energy: day-ahead position held for this interval, new commitment for t + L ---------------
    em = mk.energy
    q_da = s.positions_mw[0]
    commit = action[col["da_position"]] * em.position_max_mw
    offer_price = (action[col["da_price"]] + 1.0) * (0.5 * em.price_cap_per_mwh) if p.energy_transaction else zero
    price_da = x[I_DA]
    if p.energy_transaction:
        stack = ep.stacks.get("energy")
        sell = xp.maximum(q_da, 0.0)
        stack_t = (stack[0][at], stack[1][at]) if stack is not None else None
        acc_sell, price_da = _transact(
            sell, s.offer_prices[0], stack_t, 0.0 * sell + em.need_mw, em.price_cap_per_mwh, price_da, batched
        )
        q_da = acc_sell + xp.minimum(q_da, 0.0)
    price_rt = x[I_RT]
    dev = net - q_da
    led["net_mw"] = net
    led["energy_da.quantity_mwh"], led["energy_da.price_per_mwh"] = q_da * dt, price_da
    led["energy_da.cash"] = q_da * (dt * price_da)
    led["energy_da.commit_mw"] = commit
    if p.energy_transaction:
        led["energy_da.offer_price"] = offer_price  # the price of that commitment's offer
    led["energy_rt.quantity_mwh"], led["energy_rt.price_per_mwh"] = dev * dt, price_rt
    led["energy_rt.cash"] = dev * (dt * price_rt)

    # -- carbon and green certificates -------------------------------------------------------------
    cm = mk.carbon
    grid_t = xp.maximum(-net, 0.0) * (dt * x[I_EF])
    step_t = grid_t + gas_t
    served_mwh = (consumption + ev_charge) * dt
    gec_mwh = renew_mwh * cm.gec_share
    emissions = s.emissions_t + step_t
    allowances = s.allowances_t + served_mwh * cm.free_allowance_t_per_mwh
    ccer = s.ccer_t + (renew_mwh - gec_mwh) * cm.ccer_t_per_mwh
    x_now, used = carbon.net_position(emissions, allowances, ccer, cm, xp)
    led["emissions.grid_t"], led["emissions.gas_t"] = grid_t, gas_t
    led["carbon.emissions_t"] = step_t
    led["carbon.allowances_t"] = served_mwh * cm.free_allowance_t_per_mwh
    led["carbon.ccer_used_t"] = used
    led["carbon.net_position_t"] = x_now
    if p.carbon_stateful:
        x_prev, _ = carbon.net_position(s.emissions_t, s.allowances_t, s.ccer_t, cm, xp)
        led["carbon.cash"] = carbon.compliance_cost(x_prev, cm, xp) - carbon.compliance_cost(x_now, cm, xp)
    else:  # flat price on every tonne, nothing to offset: the change of C(X) is the step's tonnes at the price
        led["carbon.cash"] = -step_t * cm.price_per_t
    led["green_cert.quantity_mwh"] = gec_mwh
    led["green_cert.cash"] = gec_mwh * cm.gec_price_per_mwh

    # -- costs, penalties, profit ------------------------------------------------------------------
    led["cost.degradation"], led["cost.curtailment"], led["cost.load_shift"] = degradation, curtail_cost, shift_cost
    led["cost.fuel"], led["cost.startup"], led["cost.ev_terminal"] = fuel, startup, ev_terminal
    # instructed energy (reserve deployed, regulation) is the grid's call, not an imbalance
    instructed = led.get("reserve.delivered_mw", zero) + reg_energy_mw
    led["penalty.imbalance"] = abs(dev - instructed) * (dt * em.imbalance_penalty_per_mwh)
    led["penalty.shift_violation"] = shift_violation * (
        r.flex_load.shift_violation_penalty_per_mwh if r.flex_load is not None else 0.0
    )
    led["penalty.ev_unmet"] = ev_unmet * (r.ev.unmet_penalty_per_mwh if r.ev is not None else 0.0)
    led["penalty.reserve_shortfall"], led["penalty.dr_shortfall"] = res_short, dr_short
    led["penalty.green_matching"] = xp.maximum(-net, 0.0) * (dt * cm.unmatched_import_penalty_per_mwh)
    for prod in ("regulation", "reserve", "demand_response"):
        led.setdefault(f"{prod}.cash", zero)
    led["violation.shift_mwh"], led["violation.ev_unmet_mwh"] = shift_violation, ev_unmet
    led["renewable.output_mwh"], led["renewable.curtailed_mwh"] = renew_mwh, curtailed_mwh
    profit = zero
    for key, sign in PROFIT_TERMS:
        profit = profit + led[key] if sign > 0 else profit - led[key]
    led["profit"] = profit
    led["reward"] = profit * p.cfg.reward.scale
    nxt = State(
        s.t + 1,
        e_bat,
        backlog,
        ev_need,
        gas_p,
        emissions,
        allowances,
        ccer,
        agc_last,
        reg_score,
        (*s.positions_mw[1:], commit),
        (*s.offer_prices[1:], offer_price),
    )
    return nxt, led
