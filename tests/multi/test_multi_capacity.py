"""The capacity products of the market game clear jointly: the agents' offers with the residual stack.

Reserve on Joint-v1 (autonomous preset, hourly intervals): agent 0 offers 1.5 MW at price 0, agent 1
1.5 MW at a price chosen so that its offer is the marginal one. The awards and the price are checked
against a merit order written out here (stack offers first at a tied price, then the agents pro rata),
then against what the agents' ledgers settle at the interval's delivery.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vpp_gym.core.columns import PRODUCT_COLUMNS
from vpp_gym.multi import MultiVppEnv

pytest.importorskip("pettingzoo")

TASK = "vpp_gym/Joint-v1"
HOURLY = {"time.interval_minutes": 60}


def merit_order(
    stack_mw: np.ndarray, stack_price: np.ndarray, q: list[float], price: list[float], need: float, cap: float
) -> tuple[list[float], float]:
    """The agents' awards and the uniform price: cheapest first, the stack before the agents at a tie."""
    offers = sorted(
        [(p, 0, m, -1) for m, p in zip(stack_mw, stack_price, strict=True)]
        + [(p, 1, m, i) for i, (m, p) in enumerate(zip(q, price, strict=True))]
    )
    if sum(o[2] for o in offers) < need:
        return list(q), cap  # scarcity: all accepted, the cap paid
    for p, _, _, _ in offers:
        if sum(o[2] for o in offers if o[0] <= p) >= need:
            below = sum(o[2] for o in offers if o[0] < p)
            left = need - below - sum(o[2] for o in offers if o[0] == p and o[1] == 0)
            tied = [o for o in offers if o[0] == p and o[1] == 1]
            tied_q = sum(o[2] for o in tied)
            awards = [m if pr < p else 0.0 for m, pr in zip(q, price, strict=True)]
            for o in tied:
                awards[o[3]] = max(left, 0.0) * o[2] / tied_q if tied_q else 0.0
            return awards, p
    raise AssertionError("unreachable: the supply meets the need")


def action(env, reserve_mw: float, reserve_price: float) -> np.ndarray:
    a = np.zeros(env.action_space.shape, np.float32)
    i = {n: k for k, n in enumerate(env.action_names)}
    cfg = env.params.product("reserve")
    a[i["reserve_mw"]] = reserve_mw / cfg.offer_max_mw
    a[i["reserve_price"]] = 2.0 * reserve_price / cfg.price_cap - 1.0
    a[i["gas"]] = -1.0
    return a


@pytest.mark.parametrize("batched", [False, True])
def test_reserve_clears_jointly_and_agent_1_sets_the_price(batched: bool) -> None:
    game = MultiVppEnv(TASK, n_agents=2, overrides=HOURLY, batched=batched)
    probe = MultiVppEnv(TASK, n_agents=2, overrides=HOURLY, batched=False)  # reads vpp_0's day and stack
    game.reset(seed=3)
    probe.reset(seed=3)
    env0 = probe.envs[0]
    cfg = env0.params.product("reserve")
    stack_mw, stack_price = (x[0, 0] for x in env0.episode.stacks["reserve"])
    need = abs(env0._exo_rows[0][PRODUCT_COLUMNS["reserve"][0]])
    q = [1.5, 1.5]
    # agent 1's price: the first gap of the stack's prices where its offer is the marginal one
    candidates = np.sort(stack_price)
    chosen = None
    for lo, hi in itertools.pairwise(candidates):
        p1 = float(np.float32(2.0 * (0.5 * (lo + hi)) / cfg.price_cap - 1.0) + 1.0) * 0.5 * cfg.price_cap
        awards, price = merit_order(stack_mw, stack_price, q, [0.0, p1], need, cfg.price_cap)
        if price == p1 and 0.0 < awards[1] < q[1]:
            chosen = p1, awards
            break
    assert chosen is not None, "no price of agent 1 is marginal on this day; pick another seed"
    p1, expected = chosen
    acts = {"vpp_0": action(env0, q[0], 0.0), "vpp_1": action(env0, q[1], p1)}
    _, _, _, _, infos = game.step(acts)
    market = infos["vpp_1"]["market"]["reserve"]
    assert market["price"] == pytest.approx(p1, rel=1e-12)  # agent 1's offer sets the price
    assert [infos[a]["market"]["reserve"]["award_mw"] for a in ("vpp_0", "vpp_1")] == pytest.approx(expected, abs=1e-9)
    assert market["total_award_mw"] == pytest.approx(sum(expected), abs=1e-9)
    # agent 1 alone against the stack (its single env's own clearing) would have cleared otherwise
    alone, alone_price = merit_order(stack_mw, stack_price, [q[1]], [p1], need, cfg.price_cap)
    assert (alone[0], alone_price) != (expected[1], p1)
    # the awards are what each agent delivers and is paid: the ledger at interval 0's delivery
    passive = {a: np.zeros_like(acts[a]) for a in acts}
    for a in passive:
        passive[a][env0.action_names.index("gas")] = -1.0
    while True:
        _, _, _, _, infos = game.step(passive)
        if "market" not in infos["vpp_0"]:  # the first dispatch step: interval 0
            break
    for j, a in enumerate(("vpp_0", "vpp_1")):
        assert infos[a]["reserve"]["accepted_mw"] == pytest.approx(expected[j], abs=1e-9)
        assert infos[a]["reserve"]["price"] == pytest.approx(p1, rel=1e-12)


def test_one_agent_keeps_its_own_clearing() -> None:
    game = MultiVppEnv(TASK, n_agents=1, overrides=HOURLY)
    game.reset(seed=3)
    _, _, _, _, infos = game.step({"vpp_0": action(game.envs[0], 1.5, 10.0)})
    assert "reserve" not in infos["vpp_0"]["market"]  # the single env's clearing, bit for bit


@pytest.mark.parametrize("preset", ["markets/autonomous.yaml", "markets/transaction.yaml"])
def test_a_rival_offering_nothing_leaves_the_single_env_clearing(preset: str) -> None:
    """vpp_0's capacity offers (random) alone, and in a 2-agent game where vpp_1 offers 0 MW of every product:
    the joint clearing must give vpp_0 the single env's own clearing (vpp_gym.markets.clearing), award and
    price, at every bid step of a day: with stacks (autonomous) and without (transaction: price-taker)."""
    from vpp_gym.config import packaged_config

    cfg = packaged_config(preset)
    alone = MultiVppEnv(TASK, n_agents=1, config=cfg, overrides=HOURLY, batched=False)
    game = MultiVppEnv(TASK, n_agents=2, config=cfg, overrides=HOURLY, batched=False)
    alone.reset(seed=3)
    game.reset(seed=3)
    env = alone.envs[0]
    p = env.params
    rng = np.random.default_rng(0)
    bid_steps = 0
    while game.agents:
        a = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
        nothing = a.copy()
        for prod in p.open_products:
            nothing[env.action_names.index(f"{prod}_mw")] = -1.0
        alone.step({"vpp_0": a})
        _, _, _, _, infos = game.step({"vpp_0": a, "vpp_1": nothing})
        market = infos["vpp_0"].get("market")
        if market is None:
            continue
        bid_steps += 1
        slot = market["interval"] % p.schedule.ring
        s = env.state
        for j, prod in enumerate(p.open_products):
            own = (float(s.aw_mw[j * p.schedule.ring + slot]), float(s.aw_price[j * p.schedule.ring + slot]))
            joint = (market[prod]["award_mw"], market[prod]["price"])
            assert joint == pytest.approx(own, rel=1e-9, abs=1e-9), (market["interval"], prod)
    assert bid_steps == 24
