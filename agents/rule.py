"""Rule-based policies: simple, documented heuristics that read the observation by name."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from vpp_gym.env import vpp_env


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
            return np.stack([self._act_one(row) for row in obs])
        return self._act_one(obs)

    def _act_one(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class PriceThresholdPolicy(_RulePolicy):
    """Price-threshold storage, follow-the-forecast day-ahead bids, spike curtailment.

    With ``r(h)`` the real-time price forecast for interval ``t+h`` divided by the scenario's mean
    absolute day-ahead price (as observed):

    * battery: charge at full power when ``r(0) < low``, discharge when ``r(0) > high``, else idle;
    * day-ahead position for ``t+L``: forecast PV minus forecast load at ``t+L``, plus the battery
      power the same thresholds give for the day-ahead price forecast at ``t+L``;
    * PV curtailment when the real-time forecast is negative;
    * load curtailment when ``r(0) > spike``; load shifting defers consumption when ``r(0) > high``
      and makes it up when ``r(0) < low``;
    * half the regulation offer while the battery is between 30 % and 70 % SOC, 30 % of the reserve
      offer, half the demand-response offer during an announced event (answered with the battery and
      load curtailment); in the transaction form, offers at 10 % of the price cap.

    Components the env does not have are skipped, and a component it has no rule for (a resource or
    product added later) is left at 0; the policy works for every task id and every registered resource.
    """

    def __init__(self, env: gym.Env, low: float = 0.8, high: float = 1.2, spike: float = 2.5) -> None:
        super().__init__(env)
        self.low, self.high, self.spike = low, high, spike
        cfg = vpp_env(env).config
        self._lead = cfg.markets.energy.da_lead_steps
        self._pos_max = cfg.markets.energy.position_max_mw

    def _battery_mw(self, ratio: float) -> float:
        if self._bat is None:
            return 0.0
        if ratio < self.low:
            return -self._bat.p_charge_max_mw
        if ratio > self.high:
            return self._bat.p_discharge_max_mw
        return 0.0

    def _act_one(self, obs: np.ndarray) -> np.ndarray:
        a = np.zeros(self._n, dtype=np.float32)
        rt0 = self._obs(obs, "price_rt_per_mwh[t+0]", 1.0)
        L = self._lead
        expected = (
            self._pv_mw * self._obs(obs, f"pv_cf[t+{L}]")
            + self._wind_mw * self._obs(obs, f"wind_cf[t+{L}]")
            - self._load_mw * self._obs(obs, f"load_pu[t+{L}]")
            + self._battery_mw(self._obs(obs, f"price_da_per_mwh[t+{L}]", 1.0))
        )
        a[self._actions["da_position"]] = expected / self._pos_max
        if "battery" in self._actions and self._bat is not None:
            p = self._battery_mw(rt0)
            limit = self._bat.p_discharge_max_mw if p > 0 else self._bat.p_charge_max_mw
            a[self._actions["battery"]] = p / limit if limit > 0 else 0.0
        if "pv_curtail" in self._actions:
            a[self._actions["pv_curtail"]] = 1.0 if rt0 < 0.0 else 0.0
        if "wind_curtail" in self._actions:
            a[self._actions["wind_curtail"]] = 1.0 if rt0 < 0.0 else 0.0
        if "load_curtail" in self._actions:
            a[self._actions["load_curtail"]] = 1.0 if rt0 > self.spike else 0.0
        if "load_shift" in self._actions:
            a[self._actions["load_shift"]] = 0.5 if rt0 > self.high else (-0.5 if rt0 < self.low else 0.0)
        if "ev" in self._actions:
            a[self._actions["ev"]] = -1.0 if rt0 < self.high else -0.2
        if "gas" in self._actions:
            a[self._actions["gas"]] = 1.0 if rt0 > self.high else -1.0
        # Ancillary products: keep battery headroom for regulation around mid SOC, offer some reserve,
        # answer demand-response events with the battery and the flexible load.
        soc = self._obs(obs, "battery_soc", 0.5)
        if "regulation_mw" in self._actions:
            a[self._actions["regulation_mw"]] = 0.5 if 0.3 <= soc <= 0.7 else 0.0
        if "reserve_mw" in self._actions:
            a[self._actions["reserve_mw"]] = 0.3
        dr = self._obs(obs, "dr_need_mw[t+0]")
        if "demand_response_mw" in self._actions:
            a[self._actions["demand_response_mw"]] = 0.5 if dr != 0.0 else 0.0
            if dr != 0.0 and "battery" in self._actions:
                a[self._actions["battery"]] = 1.0 if dr > 0 else -1.0
            if dr > 0.0 and "load_curtail" in self._actions:
                a[self._actions["load_curtail"]] = 1.0
        for name in ("da_price", "regulation_price", "reserve_price", "demand_response_price"):
            if name in self._actions:  # transaction form: a low offer price, accepted like a price-taker
                a[self._actions[name]] = -0.8
        return np.clip(a, -1.0, 1.0)


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
