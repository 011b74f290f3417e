"""The oracle's model names its constraint families after the scenario's resources and markets.

The expected families are derived from the scenario (which resources the VPP has, which products are
open, whether the carbon market is stateful, which markets clear against a stack, when reserve is
called), not copied from the model's code.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents.lp import Model
from agents.oracle import OracleContext, build_model, stacked_markets
from vpp_gym.config import packaged_config
from vpp_gym.core import I_RES_CALL

AUTONOMOUS = str(packaged_config("markets/autonomous.yaml"))
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "arbitrage": ("vpp_gym/Arbitrage-v0", {}),
    "lowcarbon": ("vpp_gym/LowCarbon-v0", {}),
    "regulation": ("vpp_gym/Regulation-v0", {}),
    "joint": ("vpp_gym/Joint-v0", {}),
    "joint_price_maker": ("vpp_gym/Joint-v0", {"config": AUTONOMOUS}),
    "joint_without_battery": ("vpp_gym/Joint-v0", {"overrides": {"resources.battery": None}}),
    "arbitrage_v2g": ("vpp_gym/Arbitrage-v0", {"resources": {"ev": {"v2g": True}}}),
}
# resources whose state carries from one interval to the next, and the family that updates it
STATE_UPDATES = {
    "battery": "battery.energy_balance",
    "ev": "ev.need_balance",
    "flex_load": "flex_load.backlog",
    "gas": "gas.start_up",
}


def _build(case: str, day: int = 0, **kwargs: Any) -> tuple[Model, OracleContext]:
    env_id, make_kwargs = CASES[case]
    env = gym.make(env_id, **make_kwargs)
    env.reset(seed=day, options={"split": "test", "day": day})
    u = env.unwrapped
    ep = u._episode
    stacks = {name: (mw[0], price[0]) for name, (mw, price) in ep.stacks.items()}
    agc = ep.agc[0] if ep.agc is not None else None
    return build_model(u.params, ep.exo[0], u._state, agc=agc, stacks=stacks, **kwargs)


def _prefixes(m: Model) -> set[str]:
    return {name.split(".")[0] for name in m.row_names()}


@pytest.mark.parametrize("case", list(CASES))
def test_every_row_belongs_to_exactly_one_family(case: str) -> None:
    m, _ = _build(case)
    rows = np.concatenate([m.family(name) for name in m.row_names()])
    np.testing.assert_array_equal(np.sort(rows), np.arange(m.n_rows))


@pytest.mark.parametrize("case", list(CASES))
def test_families_follow_the_scenarios_resources_and_markets(case: str) -> None:
    m, ctx = _build(case)
    p = ctx.p
    r = p.cfg.resources
    stacked = set(stacked_markets(p))
    # PV and wind are bounds only; the resources with a state have rows of their own
    expected = {"grid"} | {name for name in STATE_UPDATES if getattr(r, name) is not None}
    if p.energy_transaction:
        expected.add("energy")
    # regulation's own rows are the battery's sub-step rows, unless it clears against a stack
    expected |= {prod for prod in p.open_products if prod != "regulation" or prod in stacked}
    if p.carbon_stateful:
        expected.add("carbon")
    assert _prefixes(m) == expected
    for market in stacked:
        assert {f"{market}.one_segment", f"{market}.segment_total"} <= set(m.row_names())


@pytest.mark.parametrize("case", list(CASES))
def test_state_updates_and_the_balance_have_one_row_per_interval(case: str) -> None:
    m, ctx = _build(case)
    T = ctx.T
    assert len(m.family("grid.balance")) == T
    for resource, family in STATE_UPDATES.items():
        if getattr(ctx.resources, resource) is not None:
            assert len(m.family(family)) == T, family
    sub_steps = ctx.resources.battery is not None and bool(ctx.p.open_products)
    assert ("battery.substep_power" in m.row_names()) == sub_steps
    if sub_steps:  # the battery follows the AGC signal at each of its sub-steps
        assert len(m.family("battery.substep_power")) == ctx.sig.size


@pytest.mark.parametrize("case", ["regulation", "joint", "joint_without_battery"])
def test_reserve_priority_rows_are_in_call_intervals_only(case: str) -> None:
    m, ctx = _build(case)
    calls = int(np.count_nonzero(ctx.exo[:, I_RES_CALL] > 0))
    assert calls > 0, "pick a day with reserve calls"
    sources = {"battery": "battery", "gas": "gas", "flex_load": "curtail"}
    for resource, tag in sources.items():
        families = [n for n in m.row_names() if n.startswith("reserve.") and tag in n]
        assert bool(families) == (getattr(ctx.resources, resource) is not None), resource
        for name in families:
            assert len(m.family(name)) == calls, name


def test_binary_modes_add_a_mode_family_per_storage() -> None:
    m, ctx = _build("arbitrage_v2g")
    assert not any("mode" in n for n in m.row_names())
    modes = np.zeros(ctx.T, dtype=bool)
    modes[::2] = True
    m, _ = _build("arbitrage_v2g", binary_modes=modes)
    for storage in ("battery", "ev"):
        for family in (f"{storage}.mode_discharge", f"{storage}.mode_charge"):
            assert len(m.family(family)) == modes.sum(), family


def test_a_surplus_band_replaces_the_deficit_ladder() -> None:
    m, ctx = _build("lowcarbon")
    assert ctx.p.cfg.markets.carbon.reward_surplus and ctx.p.cfg.markets.carbon.pricing == "stepped"
    assert "carbon.deficit_ladder" in m.row_names() and "carbon.surplus_band" not in m.row_names()
    m, _ = _build("lowcarbon", carbon_segment=1)
    assert "carbon.surplus_band" in m.row_names() and "carbon.deficit_ladder" not in m.row_names()


def test_a_resource_or_product_without_an_oracle_block_is_refused_by_name() -> None:
    from dataclasses import replace

    from agents.oracle import OracleScopeError, check_scope
    from vpp_gym.resources import REGISTRY

    env = gym.make("vpp_gym/Arbitrage-v0")
    p = env.unwrapped.params  # type: ignore[attr-defined]
    toy = replace(REGISTRY[0], name="toy_storage")  # a registered resource the oracle has no block for
    object.__setattr__(p, "resources", (*p.resources, (toy, object())))  # the cached property, overridden
    with pytest.raises(OracleScopeError, match=r"no block for toy_storage: add agents/oracle/<name>\.py"):
        check_scope(p)
