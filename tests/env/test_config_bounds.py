"""Every numeric config key has a physical upper bound, and rewards stay finite up to the bounds (issue 16.7).

Before the bounds, finite but absurd values (``resources.pv.p_max_mw: 1e308``,
``markets.energy.position_max_mw: 1e308``, ``imbalance_penalty_per_mwh: 1e308``) overflowed the settlement
to ``inf`` and ``nan`` rewards.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym import validation as v
from vpp_gym.config import ScenarioConfig, TimeConfig, packaged_config
from vpp_gym.data.sources import ColumnMap, FilesConfig, FileSource
from vpp_gym.validation import ConfigError


def _classes(root: type) -> list[type]:
    """Every config dataclass reachable from ``root`` through its fields' type hints."""
    seen: list[type] = []

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if tp in seen:
                return
            seen.append(tp)
            for hint in typing.get_type_hints(tp).values():
                walk(hint)
            for sub in tp.__subclasses__():
                walk(sub)
        for arg in typing.get_args(tp):
            walk(arg)

    walk(root)
    return seen


def _numeric(tp: Any) -> type | None:
    args = set(typing.get_args(tp)) if typing.get_origin(tp) in (typing.Union, types.UnionType) else {tp}
    for kind in (float, int):
        if kind in args:
            return kind
    return None


def _instance(cls: type) -> Any:
    """A valid instance of ``cls`` (defaults, with the required fields filled in)."""
    source = FileSource(path="x.csv", columns={"price_da_per_mwh": ColumnMap("p")})
    special = {
        ColumnMap: lambda: ColumnMap("p"),
        FileSource: lambda: source,
        FilesConfig: lambda: FilesConfig(sources=(source,)),
    }
    return special[cls]() if cls in special else cls()


def _cases(root: type) -> list[tuple[type, str, type]]:
    out = []
    for cls in _classes(root):
        for f in dataclasses.fields(cls):
            kind = _numeric(typing.get_type_hints(cls)[f.name])
            if f.init and kind is not None:
                out.append((cls, f.name, kind))
    return out


CASES = _cases(ScenarioConfig)


def test_the_walk_finds_the_config_classes() -> None:
    names = {cls.__name__ for cls, _, _ in CASES}
    assert {"BatteryParams", "RenewableParams", "EnergyMarketConfig", "SyntheticConfig", "ColumnMap"} <= names
    assert len(CASES) > 150


@pytest.mark.parametrize(("cls", "name", "kind"), CASES, ids=[f"{c.__name__}.{n}" for c, n, _ in CASES])
def test_every_numeric_key_has_an_upper_bound(cls: type, name: str, kind: type) -> None:
    inst = _instance(cls)
    huge = 1e308 if kind is float else 10**30
    with pytest.raises(ConfigError, match=rf"{name}: got "):
        dataclasses.replace(inst, **{name: huge})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("resources.pv.p_max_mw", 1e308),
        ("markets.energy.position_max_mw", 1e308),
        ("markets.energy.imbalance_penalty_per_mwh", 1e308),
    ],
)
def test_the_reported_absurd_values_are_config_errors(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=re.escape(key) + r": got 1e\+308, expected a number in [\[(]"):
        gym.make("vpp_gym/Arbitrage-v0", overrides={key: value})


AT_BOUNDS = {
    "resources.pv.p_max_mw": v.MAX_POWER_MW,
    "resources.wind.p_max_mw": v.MAX_POWER_MW,
    "resources.battery.e_max_mwh": v.MAX_ENERGY_MWH,
    "resources.battery.p_charge_max_mw": v.MAX_POWER_MW,
    "resources.battery.p_discharge_max_mw": v.MAX_POWER_MW,
    "resources.battery.degradation_cost_per_mwh": v.MAX_PRICE_PER_MWH,
    "resources.ev.e_fleet_mwh": v.MAX_ENERGY_MWH,
    "resources.ev.p_charge_max_mw": v.MAX_POWER_MW,
    "resources.ev.p_discharge_max_mw": v.MAX_POWER_MW,
    "resources.ev.unmet_penalty_per_mwh": v.MAX_PRICE_PER_MWH,
    "resources.flex_load.peak_mw": v.MAX_POWER_MW,
    "resources.flex_load.shift_violation_penalty_per_mwh": v.MAX_PRICE_PER_MWH,
    "resources.gas.p_max_mw": v.MAX_POWER_MW,
    "resources.gas.ramp_mw_per_h": v.MAX_RATE_MW_PER_H,
    "resources.gas.fuel_cost_per_mwh": v.MAX_PRICE_PER_MWH,
    "resources.gas.startup_cost": v.MAX_COST,
    "markets.energy.position_max_mw": v.MAX_POWER_MW,
    "markets.energy.imbalance_penalty_per_mwh": v.MAX_PRICE_PER_MWH,
    "markets.energy.price_cap_per_mwh": v.MAX_PRICE_PER_MWH,
    "markets.energy.need_mw": 1e5,
    "markets.regulation.offer_max_mw": v.MAX_POWER_MW,
    "markets.reserve.offer_max_mw": v.MAX_POWER_MW,
    "markets.reserve.shortfall_penalty_per_mwh": v.MAX_PRICE_PER_MWH,
    "markets.demand_response.offer_max_mw": v.MAX_POWER_MW,
    "markets.demand_response.price_cap": v.MAX_PRICE_PER_MWH,
    "markets.carbon.price_per_t": 10_000.0,
    "markets.carbon.unmatched_import_penalty_per_mwh": v.MAX_PRICE_PER_MWH,
    "reward.scale": 1e3,
}


@pytest.mark.filterwarnings("ignore::vpp_gym.validation.ConfigWarning")  # transaction-form keys under invitation
@pytest.mark.parametrize("preset", ["invitation", "autonomous"])
def test_rewards_and_the_ledger_stay_finite_with_every_key_at_its_bound(preset: str) -> None:
    env = gym.make(
        "vpp_gym/Joint-v0", config=str(packaged_config(f"markets/{preset}.yaml")), overrides=AT_BOUNDS
    ).unwrapped
    rng = np.random.default_rng(0)
    for seed in range(2):
        env.reset(seed=seed)
        done = False
        while not done:
            action = np.sign(rng.uniform(-1.0, 1.0, env.action_space.shape))  # bang-bang: the largest flows
            obs, reward, terminated, truncated, info = env.step(action)
            assert np.isfinite(reward) and np.isfinite(obs).all()
            for group, item in info.items():
                values = item.values() if isinstance(item, dict) else [item]
                assert all(np.isfinite(x) for x in values if isinstance(x, float)), group
            done = terminated or truncated


def test_episodes_may_be_longer_than_a_leap_year() -> None:
    # the env handles multi-year episodes (its data and forecasts in memory); the config allows ten years
    assert TimeConfig(episode_hours=24.0 * 365 * 2).episode_steps == 2 * 365 * 96
    with pytest.raises(ConfigError, match=r"time\.episode_hours: got 1e\+308, expected a number in \(0, 87840\]"):
        TimeConfig(episode_hours=1e308)
