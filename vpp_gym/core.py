"""Pure, batched VPP dynamics: episode data, reset, transition (with settlement) and observation.

Everything here is a function of ``(params, state, action, exogenous)`` over arrays with a leading
batch dimension ``B``; the Gymnasium wrappers in ``env.py`` own the spaces, the generator and the
decoding of ``info``. The optimization baselines build their models from the same
:class:`CoreParams`, so optimizer and simulator share one source of truth.

One step ``t`` (interval ``[t, t + dt)``), in order:

1. decode the action in ``[-1, 1]^A`` into setpoints (MW) and the day-ahead position committed for
   interval ``t + L`` (``L = markets.energy.da_lead_steps``);
2. reveal the interval's realised exogenous values (prices, capacity factors, load, EV data);
3. project every setpoint onto its resource's feasible range and advance the resource states;
4. net injection ``P = pv + wind + battery + ev + gas - load`` (MW, positive = export);
5. settle: day-ahead ``q_da * dt * price_da`` for the position ``q_da`` held for interval ``t``;
   real-time ``(P - q_da) * dt * price_rt``; imbalance penalty ``|P - q_da| * dt * c_imb``;
   grid-import emissions ``max(-P, 0) * dt * ef_grid`` plus gas emissions, costed at the carbon price;
   resource costs and penalties;
6. profit = cash flows - costs - penalties; reward = ``reward.scale * profit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from vpp_gym.config import ScenarioConfig
from vpp_gym.data.forecast import forecast_windows
from vpp_gym.data.schema import COLUMN_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.ops import SCALAR, Array
from vpp_gym.resources import battery, ev_fleet, flex_load, gas_unit, renewable

# Column positions of the exogenous array (schema order).
I_DA, I_RT, I_EF, I_PV, I_WIND, I_LOAD, I_EV_PLUG, I_EV_ARR, I_EV_DEP = range(len(COLUMN_NAMES))
assert COLUMN_NAMES[I_EV_DEP] == "ev_departure_share"

# Ledger keys: cash flows (signed, + = income), costs and penalties (positive = paid).
CASH_KEYS = ("energy_da", "energy_rt", "carbon")
COST_KEYS = ("degradation", "curtailment", "load_shift", "fuel", "startup")
PENALTY_KEYS = ("imbalance", "shift_violation", "ev_unmet")


class State(NamedTuple):
    """Dynamic state: ``(B,)`` arrays for a batch, or Python scalars for a single env.

    Attributes:
        t: step index within the episode.
        e_bat_mwh: battery stored energy (0 without a battery).
        backlog_mwh: flexible-load shift backlog (deferred energy still owed).
        ev_need_mwh: energy still needed by plugged-in EVs.
        gas_p_mw: gas unit output of the last interval.
        positions_mw: committed day-ahead positions for intervals ``t .. t+L-1`` (a tuple of ``L``).
    """

    t: Any
    e_bat_mwh: Array
    backlog_mwh: Array
    ev_need_mwh: Array
    gas_p_mw: Array
    positions_mw: tuple[Array, ...]


@dataclass(frozen=True, eq=False)
class EpisodeData:
    """Exogenous data of ``B`` episodes.

    Attributes:
        start: row of the scenario series where each episode starts, ``(B,)``.
        exo: realised values, ``(B, T, K)`` in schema column order; used by the settlement only.
        obs_exo: each step's observation with the state part zeroed: forecasts and calendar,
            ``(B, T+1, n_obs)`` float32.
    """

    start: np.ndarray
    exo: np.ndarray
    obs_exo: np.ndarray


@dataclass(frozen=True, eq=False)
class CoreParams:
    """Everything fixed for an environment: the scenario config and the data's normalisation."""

    cfg: ScenarioConfig
    price_ref_per_mwh: float
    lo: dict[str, float]
    hi: dict[str, float]

    @classmethod
    def from_series(cls, cfg: ScenarioConfig, series: ScenarioSeries) -> CoreParams:
        """Derive the normalisation constants from the scenario's series."""
        lo = {c: float(series.values[c].min()) for c in COLUMN_NAMES}
        hi = {c: float(series.values[c].max()) for c in COLUMN_NAMES}
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

    @property
    def window_steps(self) -> int:
        """Flexible-load shift window in steps (1 without a flexible load)."""
        fl = self.cfg.resources.flex_load
        return fl.window_steps(self.dt_h) if fl is not None else 1

    # -- layouts ---------------------------------------------------------------------------------
    @property
    def action_names(self) -> tuple[str, ...]:
        """Names of the action components, in order."""
        r = self.cfg.resources
        names = ["da_position"]
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
        return tuple(names)

    @property
    def observed_series(self) -> tuple[str, ...]:
        """Schema columns whose forecasts are in the observation."""
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
        return tuple(cols)

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
        for j in range(self.lead):
            rows.append((f"position_{j}", -1.0, 1.0, f"committed position for interval t+{j} / position_max_mw"))
        rows += [("tod_sin", -1.0, 1.0, "sin(2 pi time of day)"), ("tod_cos", -1.0, 1.0, "cos(2 pi time of day)"),
                 ("progress", 0.0, 1.0, "t / T"), ("weekend", 0.0, 1.0, "1 on Saturday and Sunday")]
        if r.flex_load is not None:
            rows.append(("window_phase", 0.0, 1.0, "(t mod window steps) / window steps"))
        for col in self.observed_series:
            lo, hi = self._obs_bounds(col)
            for h in range(self.horizon):
                rows.append((f"{col}[t+{h}]", lo, hi, f"forecast of {col} for interval t+{h}" + (
                    " / price_ref" if col.startswith("price") else "")))
        return rows

    def _obs_bounds(self, col: str) -> tuple[float, float]:
        if col.startswith("price"):
            lo = min(self.lo["price_da_per_mwh"], self.lo["price_rt_per_mwh"])
            hi = max(self.hi["price_da_per_mwh"], self.hi["price_rt_per_mwh"])
            return lo / self.price_ref_per_mwh, hi / self.price_ref_per_mwh
        return self.lo[col], self.hi[col]

    @property
    def n_state_obs(self) -> int:
        """Number of observation components that come from the state."""
        r = self.cfg.resources
        return sum(x is not None for x in (r.battery, r.flex_load, r.ev, r.gas)) + self.lead

    @property
    def backlog_scale_mwh(self) -> float:
        """Largest possible shift backlog (normalisation of the observation)."""
        fl = self.cfg.resources.flex_load
        if fl is None:
            return 1.0
        scale = fl.shift_share * fl.peak_mw * self.hi["load_pu"] * fl.shift_window_h
        return scale if scale > 1e-9 else 1.0


def initial_state(p: CoreParams, batch: int | None) -> State:
    """State at the start of an episode: arrays of ``batch`` rows, or Python scalars if ``batch`` is None."""
    r = p.cfg.resources
    values = (
        r.battery.e_init_mwh if r.battery is not None else 0.0,
        0.0,
        0.0,
        r.gas.p_init_mw if r.gas is not None else 0.0,
    )
    if batch is None:
        return State(0, *values, (0.0,) * p.lead)
    cols = [np.full(batch, v) for v in values]
    return State(np.zeros(batch, dtype=np.int64), *cols, tuple(np.zeros(batch) for _ in range(p.lead)))


def episode_rows(p: CoreParams, series: ScenarioSeries, start: np.ndarray) -> np.ndarray:
    """Realised values for rows ``start .. start + T + H`` (edge-padded past the data), ``(B, T+H+1, K)``."""
    n = len(series)
    span = p.episode_steps + p.horizon + 1
    idx = np.minimum(start[:, None] + np.arange(span)[None, :], n - 1)
    table = np.stack([series.values[c] for c in COLUMN_NAMES], axis=1)
    return table[idx]


def build_episode(p: CoreParams, series: ScenarioSeries, start: np.ndarray, rng: np.random.Generator) -> EpisodeData:
    """Slice the episodes' realised data and draw their forecasts (the observation's exogenous part)."""
    T, H = p.episode_steps, p.horizon
    rows = episode_rows(p, series, start)
    f = p.cfg.forecast
    sig = {"price_da_per_mwh": (f.price_da_sigma_rel * p.price_ref_per_mwh, False),
           "price_rt_per_mwh": (f.price_rt_sigma_rel * p.price_ref_per_mwh, False),
           "grid_ef_t_per_mwh": (f.grid_ef_sigma_rel, True), "pv_cf": (f.pv_sigma, False),
           "wind_cf": (f.wind_sigma, False), "load_pu": (f.load_sigma_rel, True),
           "ev_plugged_share": (0.0, False), "ev_arrival_need_pu": (0.0, False), "ev_departure_share": (0.0, False)}
    batch = len(start)
    parts = [np.zeros((batch, T + 1, p.n_state_obs))]  # filled from the state by observe()
    # Calendar features (known exactly).
    stamps = series.timestamps[np.minimum(start[:, None] + np.arange(T + 1)[None, :], len(series) - 1)]
    minutes = (stamps - stamps.astype("datetime64[D]")) / np.timedelta64(1, "m")
    phase = 2.0 * np.pi * minutes / 1440.0
    weekday = (stamps.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    t_idx = np.broadcast_to(np.arange(T + 1)[None, :], (batch, T + 1))
    cal = [np.sin(phase), np.cos(phase), t_idx / T, (weekday >= 5).astype(np.float64)]
    if p.cfg.resources.flex_load is not None:
        cal.append((t_idx % p.window_steps) / p.window_steps)
    parts.append(np.stack(cal, axis=2))
    for col in p.observed_series:
        k = COLUMN_NAMES.index(col)
        sigma, mult = sig[col]
        fc = forecast_windows(rows[:, :, k], T + 1, H, sigma, f.growth_cap, rng, p.lo[col], p.hi[col], mult)
        if col.startswith("price"):
            fc = fc / p.price_ref_per_mwh
        parts.append(fc)
    obs_exo = np.concatenate(parts, axis=2).astype(np.float32)
    return EpisodeData(start=start, exo=np.ascontiguousarray(rows[:, :T, :]), obs_exo=obs_exo)


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
    inv = 1.0 / p.cfg.markets.energy.position_max_mw
    cols.extend(q * inv for q in s.positions_mw)
    return cols


def observe(p: CoreParams, s: State, ep: EpisodeData) -> np.ndarray:
    """Observations ``(B, n_obs)`` float32 of a batched state (layout: :meth:`CoreParams.observation_layout`)."""
    obs = ep.obs_exo[np.arange(len(s.t)), s.t]
    obs[:, :p.n_state_obs] = np.stack(state_features(p, s, np), axis=1)
    return obs


def observe_one(p: CoreParams, s: State, ep: EpisodeData) -> np.ndarray:
    """Observation ``(n_obs,)`` float32 of a scalar state (episode row 0)."""
    obs = ep.obs_exo[0, s.t].copy()
    obs[:p.n_state_obs] = state_features(p, s, SCALAR)
    return obs


def transition(p: CoreParams, s: State, action: Sequence[Array], x: Sequence[Array], xp: Any = np
               ) -> tuple[State, dict[str, Array]]:
    """Advance one interval.

    Args:
        p: parameters.
        s: state at the start of the interval.
        action: one entry per action component (layout :attr:`CoreParams.action_names`), each in
            ``[-1, 1]``: ``(B,)`` arrays (e.g. ``actions.T``) or floats with ``xp = SCALAR``.
        x: one entry per schema column: the realised exogenous values of the interval.
        xp: ``numpy`` for batched arrays, :data:`vpp_gym.ops.SCALAR` for Python floats.

    Returns:
        ``(next_state, ledger)``; the ledger maps the documented keys (see :data:`LEDGER_DOC`) to
        values of the same kind as the inputs.
    """
    r = p.cfg.resources
    dt = p.dt_h
    zero = 0.0 * s.e_bat_mwh
    led: dict[str, Array] = {}
    k = 1  # action column (0 is the day-ahead position)
    net = zero
    e_bat, backlog, ev_need, gas_p = s.e_bat_mwh, s.backlog_mwh, s.ev_need_mwh, s.gas_p_mw
    degradation = zero
    if r.battery is not None:
        b = r.battery
        a = action[k]
        k += 1
        req = xp.maximum(a, 0.0) * b.p_discharge_max_mw + xp.minimum(a, 0.0) * b.p_charge_max_mw
        p_bat, e_bat = battery.apply(b, e_bat, req, dt, xp)
        led["battery.requested_mw"], led["battery.applied_mw"] = req, p_bat
        net = net + p_bat
        degradation = degradation + abs(p_bat) * (dt * b.degradation_cost_per_mwh)
    renew_mwh = zero
    curtailed_mwh = zero
    for name, prm, col in (("pv", r.pv, I_PV), ("wind", r.wind, I_WIND)):
        if prm is None:
            continue
        cf = x[col]
        if prm.curtailable:
            share = xp.maximum(action[k], 0.0)
            k += 1
            req = prm.p_max_mw * cf * (1.0 - share)
        else:
            req = prm.p_max_mw * cf
        p_out, p_avail = renewable.apply(prm, cf, req, xp)
        led[f"{name}.requested_mw"], led[f"{name}.applied_mw"] = req, p_out
        led[f"{name}.available_mw"] = p_avail
        net = net + p_out
        renew_mwh = renew_mwh + p_out * dt
        curtailed_mwh = curtailed_mwh + (p_avail - p_out) * dt
    ev_unmet = zero
    if r.ev is not None:
        e = r.ev
        a = action[k]
        k += 1
        req = xp.maximum(a, 0.0) * e.p_discharge_max_mw + xp.minimum(a, 0.0) * e.p_charge_max_mw
        p_ev, ev_need, ev_unmet = ev_fleet.apply(e, ev_need, x[I_EV_PLUG], x[I_EV_ARR], x[I_EV_DEP], req, dt, xp)
        led["ev.requested_mw"], led["ev.applied_mw"] = req, p_ev
        net = net + p_ev
        degradation = degradation + xp.maximum(p_ev, 0.0) * (dt * e.degradation_cost_per_mwh)
    curtail_cost = shift_cost = shift_violation = zero
    if r.flex_load is not None:
        fl = r.flex_load
        base = fl.peak_mw * x[I_LOAD]
        c_req = xp.maximum(action[k], 0.0) * fl.curtail_share * base
        s_req = action[k + 1] * fl.shift_share * base
        k += 2
        window_end = (s.t + 1) % p.window_steps == 0
        c, sh, backlog, violation = flex_load.apply(fl, backlog, base, c_req, s_req, window_end, dt, xp)
        consumption = base - c - sh
        led["load.base_mw"], led["load.consumption_mw"] = base, consumption
        led["load_curtail.requested_mw"], led["load_curtail.applied_mw"] = c_req, c
        led["load_shift.requested_mw"], led["load_shift.applied_mw"] = s_req, sh
        net = net - consumption
        curtail_cost = c * (dt * fl.curtail_cost_per_mwh)
        shift_cost = abs(sh) * (dt * fl.shift_cost_per_mwh)
        shift_violation = violation
    fuel = startup = gas_t = zero
    if r.gas is not None:
        g = r.gas
        req = (action[k] + 1.0) * (0.5 * g.p_max_mw)
        k += 1
        gas_p, started = gas_unit.apply(g, gas_p, req, dt, xp)
        led["gas.requested_mw"], led["gas.applied_mw"] = req, gas_p
        net = net + gas_p
        fuel = gas_p * (dt * g.fuel_cost_per_mwh)
        startup = started * g.startup_cost
        gas_t = gas_p * (dt * g.ef_t_per_mwh)

    # Markets: day-ahead position held for this interval, new commitment for t + L.
    em = p.cfg.markets.energy
    q_da = s.positions_mw[0]
    commit = action[0] * em.position_max_mw
    price_da, price_rt = x[I_DA], x[I_RT]
    dev = net - q_da
    grid_t = xp.maximum(-net, 0.0) * (dt * x[I_EF])
    carbon_price = p.cfg.markets.carbon.price_per_t
    led["net_mw"] = net
    led["energy_da.quantity_mwh"], led["energy_da.price_per_mwh"] = q_da * dt, price_da
    led["energy_da.cash"] = q_da * (dt * price_da)
    led["energy_da.commit_mw"] = commit
    led["energy_rt.quantity_mwh"], led["energy_rt.price_per_mwh"] = dev * dt, price_rt
    led["energy_rt.cash"] = dev * (dt * price_rt)
    led["emissions.grid_t"], led["emissions.gas_t"] = grid_t, gas_t
    led["carbon.price_per_t"] = zero + carbon_price
    led["carbon.cash"] = -(grid_t + gas_t) * carbon_price
    led["cost.degradation"], led["cost.curtailment"], led["cost.load_shift"] = degradation, curtail_cost, shift_cost
    led["cost.fuel"], led["cost.startup"] = fuel, startup
    led["penalty.imbalance"] = abs(dev) * (dt * em.imbalance_penalty_per_mwh)
    led["penalty.shift_violation"] = shift_violation * (
        r.flex_load.shift_violation_penalty_per_mwh if r.flex_load is not None else 0.0)
    led["penalty.ev_unmet"] = ev_unmet * (r.ev.unmet_penalty_per_mwh if r.ev is not None else 0.0)
    led["violation.shift_mwh"], led["violation.ev_unmet_mwh"] = shift_violation, ev_unmet
    led["renewable.output_mwh"], led["renewable.curtailed_mwh"] = renew_mwh, curtailed_mwh
    profit = (led["energy_da.cash"] + led["energy_rt.cash"] + led["carbon.cash"]
              - degradation - curtail_cost - shift_cost - fuel - startup
              - led["penalty.imbalance"] - led["penalty.shift_violation"] - led["penalty.ev_unmet"])
    led["profit"] = profit
    led["reward"] = profit * p.cfg.reward.scale
    return State(s.t + 1, e_bat, backlog, ev_need, gas_p, (*s.positions_mw[1:], commit)), led
