"""Rule-based policies: simple, documented heuristics that read the observation by name."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from vpp_gym.env import vpp_env
from vpp_gym.markets import PRODUCT_REGISTRY
from vpp_gym.markets.products import ProductMarketConfig


class _RulePolicy:
    """What the rule-based policies share: observation and action components by name, resource sizes,
    and one action per row of a batch."""

    def __init__(self, env: gym.Env) -> None:
        base = vpp_env(env)
        self._names = {n: i for i, n in enumerate(base.observation_names)}
        self._actions = {n: i for i, n in enumerate(base.action_names)}
        self._n = len(base.action_names)
        r = base.config.resources
        self._pv_mw = r.pv.p_max_mw if r.pv is not None else 0.0
        self._wind_mw = r.wind.p_max_mw if r.wind is not None else 0.0
        self._load_mw = r.flex_load.peak_mw if r.flex_load is not None else 0.0
        self._bat = r.battery

    def reset(self) -> None:
        """Stateless."""

    def _obs(self, obs: np.ndarray, name: str, default: float = 0.0) -> float:
        i = self._names.get(name)
        return float(obs[i]) if i is not None else default

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The rule action for ``obs`` (``(n_obs,)``), or one per row of a batch ``(B, n_obs)``."""
        if np.ndim(obs) == 2:
            return np.stack([self._act_row(row, i) for i, row in enumerate(obs)])
        return self._act_row(obs, 0)

    def _act_row(self, obs: np.ndarray, row: int) -> np.ndarray:
        return self._act_one(obs)

    def _act_one(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


DR_HOURS = 2.0
"""Hours over which the rule spreads the battery's stored energy when it offers demand response (an event's length)."""


@dataclass
class _Plan:
    """What the rule planned for one interval (MW, + = injection)."""

    e_before_mwh: float  # the battery's planned energy at the interval's start
    battery_mw: float
    ev_mw: float
    gas_mw: float
    position_mw: float  # the day-ahead position bid or committed
    regulation_mw: float = 0.0  # capacity offered
    reserve_mw: float = 0.0
    demand_response_mw: float = 0.0


@dataclass
class _Memory:
    """One episode's memory (of one batch row): the plans by interval and the running plan state."""

    plans: dict[int, _Plan] = field(default_factory=dict)
    e_mwh: float = math.nan  # the battery's planned energy after the last planned interval
    ev_need_mwh: float = 0.0  # the EV fleet's planned need after the last planned interval
    next_interval: int = 0  # hour-ahead timeline: the next interval to plan
    prices: list[float] = field(default_factory=list)  # the day-ahead price forecasts planned with


class PriceThresholdPolicy(_RulePolicy):
    """Price thresholds around a running reference: plan each interval when its offer is due, then follow the plan.

    Prices in currency/MWh, powers in MW (+ = injection). ``f`` is the day-ahead price forecast of the
    interval planned and ``ref`` the **reference price**: the mean of the day-ahead price forecasts the
    rule has planned with so far in the episode, shrunk towards the scenario's ``price_ref`` (the
    observation's price scale) with the weight of ``ref_weight_h`` hours of intervals.

    **Plan** of interval ``i``, made at its bid step (day-ahead timeline: the intervals of a day in order,
    from the gate's forecasts) or when its position is committed ``L`` steps ahead (hour-ahead timeline):

    * battery: charge at the arbitrage power if ``f < low x ref``, discharge at it if ``f > high x ref``,
      else idle, within the planned energy (tracked interval by interval from the observed state of
      charge). The arbitrage power is the battery's power less the regulation offer limit; with
      regulation open the planned energy stays ``(arbitrage power + 2 x offer limit) x dt / eta_discharge``
      away from the SOC bounds. Where stored energy has no value at the episode end (hour-ahead timeline,
      ``terminal_value: none``) it discharges whatever the price once the intervals left are just
      enough to empty it;
    * EV fleet: the need, tracked from the forecast arrivals and departures, is charged at full power
      while ``f`` is below the value of outstanding need (``ev terminal price x eta_charge``);
    * gas unit: full output while ``f`` exceeds its fuel cost, its emissions at the carbon price (times
      ``1 + growth`` when the price is stepped) and its start-up cost over an hour at full output;
    * renewables: curtailed while ``f`` is below minus their certificates' value (``-gec_price x gec_share``);
    * position: forecast PV + wind (0 if curtailed) - base load + battery + EV + gas, within
      ``position_max_mw``, offered as a flat curve (``da_low = da_high``) at the forecast price; where the
      VPP is a price-maker (competitor stack), as a curve from 0 to it with its segments priced around the
      forecast (``da_price = 0``, spread ``maker_spread`` x ``offer_band_per_mwh``), so that the position
      does not move the clearing price against it;
    * offers: regulation, the battery's symmetric power headroom around its planned power (within the
      offer limit); reserve, the upward headroom left above both, the curtailable load and the running gas
      unit's headroom; demand response, the smaller of what the battery (its planned stored energy over
      ``DR_HOURS``), the gas unit and load curtailment can add and what the battery, renewable
      curtailment and EV charging can withdraw. In the transaction form each is priced at
      ``offer_share`` x the product's price forecast, or at half its cap if that forecast is 0.

    **Intraday gate** (day-ahead timeline): the battery of each interval of the gate's block is re-planned
    with its new day-ahead price forecast (the same thresholds and reference, from the energy that the
    plans of the intervals before it leave), and the interval's schedule (observed in ``schedule_j``) is
    moved to its new forecast position (forecast renewables and load, and the plan), within the gate's limit.

    **Dispatch** of interval ``t``: the battery follows its plan plus ``(observed - planned energy) /
    soc_tau_h``, within the range of its feasible power that keeps the regulation award's symmetric
    headroom and the reserve award's upward headroom (less what load curtailment and a running gas unit
    can cover; the middle of the feasible range if the awards cannot all be held). In an awarded
    demand-response event of the interval (peak: need > 0) the battery discharges as far as that range
    allows, the gas unit runs at full output, load is curtailed and EVs wait; in a valley event the
    battery charges as far as it allows, renewables are curtailed, EVs charge and the gas unit is off.
    Otherwise EVs charge while the day-ahead forecast is below the value of their need, and with the
    price estimate ``est`` (mean of the day-ahead and real-time forecasts of the interval) the gas unit
    runs while ``est`` exceeds its cost above, renewables are curtailed while ``est`` is below their
    certificates' value, and load is curtailed while ``est`` exceeds the curtailment cost. Load shifting
    and V2G are not used.

    On the hour-ahead timeline the offers are made at the step, for the interval: regulation at the offer
    limit (the award is capped at the battery's headroom there, without a penalty), reserve within the
    upward headroom left above the setpoint and the regulation capability, demand response as planned.

    Components the env does not have are skipped, and a component it has no rule for (a resource or
    product added later) is left at 0: the policy plays every task on both timelines. It reads the
    observation (by name), the env's static config and params (sizes, costs, prices, ``price_ref``, the
    step schedule, whose step it finds from the ``progress`` row) and its own memory of the episode's
    earlier observations (per batch row; cleared at an episode's first step and by :meth:`reset`).
    """

    def __init__(
        self,
        env: gym.Env,
        low: float = 0.85,
        high: float = 1.3,
        ref_weight_h: float = 24.0,
        soc_tau_h: float = 2.0,
        offer_share: float = 0.5,
        maker_spread: float = 0.25,
        replan: bool = True,
    ) -> None:
        super().__init__(env)
        self.low, self.high, self.ref_weight_h, self.soc_tau_h = low, high, ref_weight_h, soc_tau_h
        self.offer_share, self.maker_spread, self.replan = offer_share, maker_spread, replan
        base = vpp_env(env)
        p, cfg = base.params, base.config
        em, cm = cfg.markets.energy, cfg.markets.carbon
        self._p = p
        self._dt, self._T, self._H, self._L = p.dt_h, p.episode_steps, p.horizon, p.lead
        self._pos_max = em.position_max_mw
        self._price_ref = p.price_ref_per_mwh
        self._ref_weight = ref_weight_h / p.dt_h
        self._day_ahead = p.day_ahead
        self._intraday = em.intraday if p.day_ahead else None
        self._sched_scale = 2.0 * em.position_max_mw + (em.intraday.max_mw if em.intraday is not None else 0.0)
        self._schedule_rows = p.schedule_rows if p.day_ahead else 0
        self._terminal_value = p.day_ahead and em.terminal_value != "none"
        self._maker = p.energy_transaction and em.competitors.n_offers > 0
        self._ev, self._gas, self._fl = cfg.resources.ev, cfg.resources.gas, cfg.resources.flex_load
        self._curtail_below = -cm.gec_price * cm.gec_share
        self._ev_value = p.ev_terminal_price_per_mwh * (self._ev.eta_charge if self._ev is not None else 1.0)
        self._gas_above = math.inf
        if self._gas is not None:
            carbon_price = cm.price_per_t * (1.0 + cm.growth if cm.pricing == "stepped" else 1.0)
            start_per_mwh = self._gas.startup_cost / self._gas.p_max_mw  # over an hour at full output
            self._gas_above = self._gas.fuel_cost_per_mwh + self._gas.ef_t_per_mwh * carbon_price + start_per_mwh
        self._products: dict[str, ProductMarketConfig] = {}
        for name in p.open_products:
            prod = p.product(name)
            assert prod is not None
            self._products[name] = prod
        self._price_columns = {spec.name: spec.price_column for spec in PRODUCT_REGISTRY}
        self._memory: dict[int, _Memory] = {}
        self.note_plan = False
        """True: a bid step's ``battery`` component (which the env ignores there) is the interval's planned
        battery power: the note a demonstration for :mod:`agents.rl.memory` needs. Off by default."""

    def reset(self) -> None:
        """Forget the episode (every batch row's memory)."""
        self._memory.clear()

    # -- reading the observation ---------------------------------------------------------------------------------
    def _fc(self, obs: np.ndarray, col: str, h: int, default: float = 0.0) -> float:
        """The forecast of ``col`` at lead ``h`` (the last lead observed beyond the horizon), in the series' unit."""
        name = f"{col}[t+{min(max(h, 0), self._H - 1)}]"
        return self._obs(obs, name) * self._p.obs_scale(col) if name in self._names else default

    def _price(self, obs: np.ndarray, h: int) -> float:
        """The day-ahead price forecast at lead ``h``."""
        return self._fc(obs, "price_da_per_mwh", h, self._price_ref)

    def _renewables_load(self, obs: np.ndarray, h: int) -> tuple[float, float]:
        """Forecast PV + wind output and base load at lead ``h`` (MW)."""
        ren = self._pv_mw * self._fc(obs, "pv_cf", h) + self._wind_mw * self._fc(obs, "wind_cf", h)
        return ren, self._load_mw * self._fc(obs, "load_pu", h)

    def _award(self, obs: np.ndarray, prod: str) -> float:
        """The capacity of ``prod`` awarded at D-1 for the interval (MW; day-ahead timeline)."""
        cfg = self._products.get(prod)
        return self._obs(obs, f"{prod}_award") * cfg.offer_max_mw if cfg is not None else 0.0

    def _step(self, obs: np.ndarray) -> tuple[int, bool, int]:
        """``(step, bid step?, interval)`` of an observation: its ``progress`` row on the static step schedule."""
        progress = self._obs(obs, "progress")
        if self._day_ahead:
            sch = self._p.schedule
            k = min(max(round(progress * sch.steps), 0), sch.steps - 1)
            return k, bool(sch.bid[k]), int(sch.interval[k])
        t = min(max(round(progress * self._T), 0), self._T - 1)
        return t, False, t

    # -- the battery ---------------------------------------------------------------------------------------------
    def _battery_limits(self) -> tuple[float, float, float, float]:
        """``(charge, discharge)`` arbitrage power (MW) and the planned energy's ``(low, high)`` bounds (MWh)."""
        b = self._bat
        assert b is not None
        reg = self._products.get("regulation")
        c = min(reg.offer_max_mw, b.p_discharge_max_mw, b.p_charge_max_mw) if reg is not None else 0.0
        p_c, p_d = b.p_charge_max_mw - c, b.p_discharge_max_mw - c
        margin = (max(p_c, p_d) + 2.0 * c) * self._dt / b.eta_discharge if c > 0.0 else 0.0
        lo, hi = b.e_min_mwh + margin, b.e_high_mwh - margin
        if lo > hi:
            lo = hi = 0.5 * (b.e_min_mwh + b.e_high_mwh)
        return p_c, p_d, lo, hi

    def _battery_plan(self, f: float, ref: float, e_mwh: float, interval: int) -> float:
        """The battery's planned power for ``interval`` at price forecast ``f`` from planned energy ``e_mwh``."""
        if self._bat is None:
            return 0.0
        b, dt = self._bat, self._dt
        p_c, p_d, lo, hi = self._battery_limits()
        discharge = min(p_d, max(e_mwh - lo, 0.0) * b.eta_discharge / dt)
        left = self._T - interval  # intervals to the end, this one included
        if not self._terminal_value and (e_mwh - lo) * b.eta_discharge > (left - 1) * p_d * dt:
            return discharge  # stored energy is worth nothing at the end: sell it in time
        if f < self.low * ref:
            return -min(p_c, max(hi - e_mwh, 0.0) / (b.eta_charge * dt))
        return discharge if f > self.high * ref else 0.0

    def _battery_action(self, p_mw: float) -> float:
        """The ``battery`` action component of a power ``p_mw`` (over the discharge or the charge limit)."""
        b = self._bat
        assert b is not None
        limit = b.p_discharge_max_mw if p_mw > 0.0 else b.p_charge_max_mw
        return p_mw / limit if limit > 0.0 else 0.0

    def _energy_after(self, e_mwh: float, p_mw: float) -> float:
        """The battery's energy after an interval at constant power ``p_mw``."""
        b = self._bat
        if b is None:
            return e_mwh
        return e_mwh - (max(p_mw, 0.0) / b.eta_discharge + min(p_mw, 0.0) * b.eta_charge) * self._dt

    def _energy(self, obs: np.ndarray) -> float:
        """The battery's observed energy (MWh)."""
        b = self._bat
        return self._obs(obs, "battery_soc", b.soc_init) * b.e_max_mwh if b is not None else 0.0

    def _reference(self, mem: _Memory) -> float:
        """The running reference price of a plan (see the class docstring)."""
        return (sum(mem.prices) + self._ref_weight * self._price_ref) / (len(mem.prices) + self._ref_weight)

    # -- the plan ------------------------------------------------------------------------------------------------
    def _plan(self, obs: np.ndarray, mem: _Memory, interval: int, h: int) -> _Plan:
        """Plan ``interval`` from the forecasts at lead ``h`` of ``obs`` (see the class docstring)."""
        f, dt = self._price(obs, h), self._dt
        mem.prices.append(f)
        if math.isnan(mem.e_mwh):
            mem.e_mwh = self._energy(obs)
        e0 = mem.e_mwh
        bat_mw = self._battery_plan(f, self._reference(mem), e0, interval)
        mem.e_mwh = self._energy_after(e0, bat_mw)
        ev_mw = 0.0
        if self._ev is not None:
            ev = self._ev
            need = min(mem.ev_need_mwh + self._fc(obs, "ev_arrival_need_pu", h) * ev.e_fleet_mwh, ev.e_fleet_mwh)
            if f < self._ev_value:
                ev_mw = -min(self._fc(obs, "ev_plugged_share", h) * ev.p_charge_max_mw, need / (ev.eta_charge * dt))
            left = max(need + ev_mw * ev.eta_charge * dt, 0.0)
            mem.ev_need_mwh = left * (1.0 - self._fc(obs, "ev_departure_share", h))
        gas_mw = self._gas.p_max_mw if self._gas is not None and f > self._gas_above else 0.0
        ren, load = self._renewables_load(obs, h)
        position = (ren if f >= self._curtail_below else 0.0) - load + bat_mw + ev_mw + gas_mw
        plan = _Plan(e0, bat_mw, ev_mw, gas_mw, float(np.clip(position, -self._pos_max, self._pos_max)))
        self._plan_offers(obs, plan, h, ren, load, mem.e_mwh)
        mem.plans[interval] = plan
        mem.next_interval = interval + 1
        return plan

    def _plan_offers(self, obs: np.ndarray, plan: _Plan, h: int, ren: float, load: float, e_after: float) -> None:
        """The capacity the plan of an interval can hold, per open product (see the class docstring)."""
        b = self._bat
        curtail = self._fl.curtail_share * load if self._fl is not None else 0.0
        up = max(b.p_discharge_max_mw - plan.battery_mw, 0.0) if b is not None else 0.0
        down = max(b.p_charge_max_mw + plan.battery_mw, 0.0) if b is not None else 0.0
        if "regulation" in self._products:
            plan.regulation_mw = min(self._products["regulation"].offer_max_mw, up, down)
        up, down = up - plan.regulation_mw, down - plan.regulation_mw
        if "reserve" in self._products:
            gas_room = self._gas.p_max_mw - plan.gas_mw if self._gas is not None and plan.gas_mw > 0.0 else 0.0
            plan.reserve_mw = min(self._products["reserve"].offer_max_mw, up + curtail + gas_room)
        if "demand_response" in self._products:
            stored = room = 0.0
            if b is not None:
                stored = max(e_after - b.e_min_mwh, 0.0) * b.eta_discharge / DR_HOURS
                room = max(b.e_high_mwh - e_after, 0.0) / (b.eta_charge * DR_HOURS)
            gas = self._gas.p_max_mw if self._gas is not None else 0.0
            ev = self._ev.p_charge_max_mw * self._fc(obs, "ev_plugged_share", h) if self._ev is not None else 0.0
            peak = min(up, stored) + gas + curtail
            valley = min(down, room) + ren + ev
            plan.demand_response_mw = max(min(self._products["demand_response"].offer_max_mw, peak, valley), 0.0)

    # -- acting --------------------------------------------------------------------------------------------------
    def _act_row(self, obs: np.ndarray, row: int) -> np.ndarray:
        step, bidding, interval = self._step(obs)
        if step == 0 or row not in self._memory:
            self._memory[row] = _Memory()
        mem = self._memory[row]
        a = np.zeros(self._n, dtype=np.float32)
        if bidding:
            plan = self._plan(obs, mem, interval, 0)
            self._bid(a, plan)
            self._offer(obs, a, plan, plan.regulation_mw, plan.reserve_mw)
            if self.note_plan and self._bat is not None and "battery" in self._actions:
                a[self._actions["battery"]] = self._battery_action(plan.battery_mw)
            return np.clip(a, -1.0, 1.0)
        if not self._day_ahead:  # hour-ahead: plan up to t + L and commit that position
            last = min(interval + self._L, self._T - 1)
            while mem.next_interval <= last:
                self._plan(obs, mem, mem.next_interval, mem.next_interval - interval)
            if interval + self._L < self._T:
                a[self._actions["da_position"]] = mem.plans[interval + self._L].position_mw / self._pos_max
        plan = mem.plans.get(interval) or self._plan(obs, mem, interval, 0)
        self._dispatch(obs, a, plan)
        if self._intraday is not None and self._obs(obs, "intraday_gate") > 0.5:
            self._intraday_orders(obs, a, mem, interval)
        return np.clip(a, -1.0, 1.0)

    def _bid(self, a: np.ndarray, plan: _Plan) -> None:
        """The day-ahead offer curve of a planned interval."""
        q = plan.position_mw / self._pos_max
        a[self._actions["da_low"]] = a[self._actions["da_high"]] = q
        a[self._actions["da_price"]] = 0.0  # mid price = the observed forecast
        a[self._actions["da_spread"]] = -1.0
        if self._maker:
            a[self._actions["da_low"]], a[self._actions["da_high"]] = min(q, 0.0), max(q, 0.0)
            a[self._actions["da_spread"]] = 2.0 * self.maker_spread - 1.0

    def _offer(self, obs: np.ndarray, a: np.ndarray, plan: _Plan, regulation_mw: float, reserve_mw: float) -> None:
        """The capacity offers (and, in the transaction form, their prices) for the interval."""
        mw = {"regulation": regulation_mw, "reserve": reserve_mw, "demand_response": plan.demand_response_mw}
        for prod, cfg in self._products.items():
            if f"{prod}_mw" in self._actions and cfg.offer_max_mw > 0.0:
                a[self._actions[f"{prod}_mw"]] = mw.get(prod, 0.0) / cfg.offer_max_mw
            if f"{prod}_price" in self._actions:
                forecast = self._fc(obs, self._price_columns.get(prod, ""), 0)
                price = self.offer_share * forecast if forecast > 0.0 else 0.5 * cfg.price_cap
                a[self._actions[f"{prod}_price"]] = 2.0 * min(price, cfg.price_cap) / cfg.price_cap - 1.0

    def _dispatch(self, obs: np.ndarray, a: np.ndarray, plan: _Plan) -> None:
        """The setpoints of the interval (and, on the hour-ahead timeline, its offers; see the class docstring)."""
        dt = self._dt
        da0 = self._price(obs, 0)
        est = 0.5 * (da0 + self._fc(obs, "price_rt_per_mwh", 0, da0))
        load = self._renewables_load(obs, 0)[1]
        curtail_mw = self._fl.curtail_share * load if self._fl is not None else 0.0
        dr_need = self._fc(obs, "dr_need_mw", 0)
        dr_mw = self._award(obs, "demand_response") if self._day_ahead else plan.demand_response_mw
        event = 0.0 if dr_mw <= 0.0 or dr_need == 0.0 else math.copysign(1.0, dr_need)
        gas_on = event > 0.0 or (event == 0.0 and est > self._gas_above)
        reg_award = self._award(obs, "regulation") if self._day_ahead else 0.0
        reserve_mw = plan.reserve_mw
        if self._bat is not None:
            b = self._bat
            e = self._energy(obs)
            hi = min(b.p_discharge_max_mw, max(e - b.e_min_mwh, 0.0) * b.eta_discharge / dt)
            lo = -min(b.p_charge_max_mw, max(b.e_high_mwh - e, 0.0) / (b.eta_charge * dt))
            gas_room = self._gas.p_max_mw if self._gas is not None and gas_on else 0.0
            held = max(self._award(obs, "reserve") - curtail_mw - gas_room, 0.0) if self._day_ahead else 0.0
            lo_r, hi_r = lo + reg_award, hi - reg_award - held
            p_bat = plan.battery_mw - (plan.e_before_mwh - e) / self.soc_tau_h
            if event != 0.0:
                p_bat = hi if event > 0.0 else lo
            if lo_r <= hi_r:
                p_bat = min(max(p_bat, lo_r), hi_r)
            else:  # the awards cannot all be held: keep as much symmetric headroom as there is
                p_bat = 0.5 * (lo + hi)
            if "battery" in self._actions:
                a[self._actions["battery"]] = self._battery_action(p_bat)
            if not self._day_ahead:  # reserve offered now: what is left above the setpoint and regulation
                reg_cap = min(hi - p_bat, p_bat - lo) if "regulation" in self._products else 0.0
                up = max(hi - p_bat - max(reg_cap, 0.0), 0.0)
                reserve_mw = min(reserve_mw, up + curtail_mw + gas_room)
        for name in ("pv_curtail", "wind_curtail"):
            if name in self._actions:
                a[self._actions[name]] = 1.0 if event < 0.0 or est < self._curtail_below else 0.0
        if "load_curtail" in self._actions and self._fl is not None:
            a[self._actions["load_curtail"]] = 1.0 if event > 0.0 or est > self._fl.curtail_cost_per_mwh else 0.0
        if "ev" in self._actions:
            a[self._actions["ev"]] = -1.0 if event < 0.0 or (event == 0.0 and da0 < self._ev_value) else 0.0
        if "gas" in self._actions:
            a[self._actions["gas"]] = 1.0 if gas_on else -1.0
        if not self._day_ahead:
            reg = self._products.get("regulation")
            self._offer(obs, a, plan, reg.offer_max_mw if reg is not None else 0.0, reserve_mw)

    def _intraday_orders(self, obs: np.ndarray, a: np.ndarray, mem: _Memory, interval: int) -> None:
        """At an intraday gate: re-plan the block's battery, move each interval's schedule to its new forecast."""
        i_cfg = self._intraday
        assert i_cfg is not None
        block = [
            (j, interval + i_cfg.lead_steps + j)
            for j in range(i_cfg.gate_spacing_steps)
            if interval + i_cfg.lead_steps + j < self._T and interval + i_cfg.lead_steps + j in mem.plans
        ]
        if self.replan and self._bat is not None:
            e = self._energy(obs)
            for u in range(interval, interval + i_cfg.lead_steps):
                if u in mem.plans:
                    e = self._energy_after(e, mem.plans[u].battery_mw)
            for j, u in block:
                f = self._price(obs, i_cfg.lead_steps + j)
                plan = mem.plans[u]
                plan.e_before_mwh = e
                mem.prices.append(f)
                plan.battery_mw = self._battery_plan(f, self._reference(mem), e, u)
                e = self._energy_after(e, plan.battery_mw)
        for j, u in block:
            h = i_cfg.lead_steps + j
            plan = mem.plans[u]
            ren, load = self._renewables_load(obs, h)
            ren = ren if self._price(obs, h) >= self._curtail_below else 0.0
            expected = ren - load + plan.battery_mw + plan.ev_mw + plan.gas_mw
            if h < self._schedule_rows:
                scheduled = self._obs(obs, f"schedule_{h}") * self._sched_scale
            else:  # not observed: the position bid and nothing traded since (a block beyond the rows)
                scheduled = plan.position_mw
            order = min(max(expected - scheduled, -i_cfg.max_mw), i_cfg.max_mw)
            if f"id_mw_{j}" in self._actions and i_cfg.max_mw > 0.0:
                a[self._actions[f"id_mw_{j}"]] = order / i_cfg.max_mw


class MicrogridPolicy(_RulePolicy):
    """A self-balancing microgrid: local balance first, no market participation.

    With the lead-0 forecasts of the interval, the surplus ``s = PV + wind - base load`` (MW):

    * battery charges from a surplus and discharges into a deficit, within its power;
    * the gas unit covers the deficit the battery cannot (off below its minimum output);
    * EVs charge at full power (their need is met as early as possible);
    * no day-ahead position, no ancillary offers, no curtailment or shifting: what is left over
      is imported or exported at the real-time price.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        cfg = vpp_env(env).config
        self._gas = cfg.resources.gas
        self._dt_h = cfg.time.dt_h

    def _act_one(self, obs: np.ndarray) -> np.ndarray:
        a = np.zeros(self._n, dtype=np.float32)
        surplus = (
            self._pv_mw * self._obs(obs, "pv_cf[t+0]")
            + self._wind_mw * self._obs(obs, "wind_cf[t+0]")
            - self._load_mw * self._obs(obs, "load_pu[t+0]")
        )
        deficit = max(-surplus, 0.0)
        if self._bat is not None and "battery" in self._actions:
            if surplus > 0.0:
                p = -min(surplus, self._bat.p_charge_max_mw)
                a[self._actions["battery"]] = p / self._bat.p_charge_max_mw
            elif deficit > 0.0:
                p = min(deficit, self._bat.p_discharge_max_mw)
                a[self._actions["battery"]] = p / self._bat.p_discharge_max_mw
                stored = self._obs(obs, "battery_soc") * self._bat.e_max_mwh
                deliverable = max(stored - self._bat.e_min_mwh, 0.0) * self._bat.eta_discharge / self._dt_h
                deficit -= min(p, deliverable)  # what the battery can give this interval
        if self._gas is not None and "gas" in self._actions:
            g = min(max(deficit, 0.0), self._gas.p_max_mw)
            a[self._actions["gas"]] = 2.0 * g / self._gas.p_max_mw - 1.0 if g >= self._gas.p_min_mw else -1.0
        if "ev" in self._actions:
            a[self._actions["ev"]] = -1.0
        return np.clip(a, -1.0, 1.0)
