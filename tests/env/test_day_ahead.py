"""The day-ahead timeline (``markets.energy.timeline: day_ahead``) through the env, checked by hand.

* the step schedule (:func:`vpp_gym.core.timeline.build_schedule`): one day, two days, 1-hour
  intervals and a gate at midnight, element by element;
* offer curves: a flat curve is awarded ``a x position_max_mw`` as a price-taker; 2-segment curves
  (selling and net-buyer) against the realised day-ahead price, with the mid price placed at a known
  offset from the realised price through the observed forecast reference; every award settled at
  delivery at its interval's price, and shown in the schedule rows of the observation;
* deviation assessment: the free band ``max(share |q|, min_mw)``, inside it nothing is paid, beyond
  it ``(|dev| - band) dt penalty``;
* the contract for difference ``Q_c dt (price_c - cleared DA price)`` and its shapes (peak, valley);
* intraday gates: where they are, which intervals a gate trades, the limit price per interval (sale
  and purchase), settlement at the intraday price on delivery and inside the deviation;
* the terminal value of stored energy (mean DA price of the last day), on the last step only;
* the native vector env against single envs over a whole episode (Arbitrage, Joint, Joint autonomous):
  observations bit for bit, rewards and every ledger entry equal (up to the sign of zeros);
* Gymnasium's checker, determinism and observation bounds on every task; config errors.

The tests at the end of the file pin package bugs these tests found (fixed).
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import vpp_gym
from vpp_gym.config import ScenarioConfig, build_config, packaged_config
from vpp_gym.core import I_DA, I_ID
from vpp_gym.core.timeline import build_schedule, contract_profile
from vpp_gym.env import VppEnv
from vpp_gym.tasks import ArbitrageEnv
from vpp_gym.validation import ConfigError
from vpp_gym.vector import VppVectorEnv

ARB = "vpp_gym/Arbitrage-v0"
JOINT = "vpp_gym/Joint-v0"
DA: dict[str, Any] = {"markets.energy.timeline": "day_ahead"}
BATTERY_ONLY: dict[str, Any] = {"resources.pv": None, "resources.flex_load": None}
DT = 0.25  # h, the default 15-minute interval


def make(env_id: str = ARB, overrides: dict[str, Any] | None = None, config: Any = None) -> gym.Env:
    """``gym.make`` of a task on the day-ahead timeline (``overrides`` on top of :data:`DA`)."""
    kwargs: dict[str, Any] = {"overrides": {**DA, **(overrides or {})}}
    if config is not None:
        kwargs["config"] = config
    return gym.make(env_id, **kwargs)


def base(env: gym.Env) -> VppEnv:
    u = env.unwrapped
    assert isinstance(u, VppEnv)
    return u


def action(env: gym.Env, **components: float) -> np.ndarray:
    """An action with the named components set and every other one 0 (float64: no rounding)."""
    names = base(env).action_names
    a = np.zeros(len(names))
    for name, value in components.items():
        a[names.index(name)] = value
    return a


def flat(info: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``info`` with nested groups flattened to ``group.item`` keys."""
    out: dict[str, Any] = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def scenario(overrides: dict[str, Any]) -> ScenarioConfig:
    cfg, _ = build_config(ArbitrageEnv.DEFAULTS, None, {**DA, **overrides})
    return cfg


# -- 1. the schedule ---------------------------------------------------------------------------------------------------
def test_schedule_by_hand() -> None:
    # one day at 15 min, gate 10:00: N = 96, g = 40; 96 bid steps then 96 dispatch steps, K = 192
    s = build_schedule(scenario({}))
    assert (s.steps, s.day_steps, s.gate_step, s.ring) == (192, 96, 40, 192)
    assert s.bid[:96].all() and not s.bid[96:].any()  # bid[K] = False (the end)
    np.testing.assert_array_equal(s.interval, [*range(96), *range(96), 96])
    # the first bid step is for 00:00-00:15 of D, bid at 10:00 of D-1: 14 h = 56 intervals ahead
    assert s.gate_lead[0] == 96 - 40 == 56 and s.gate_lead[95] == 56 + 95
    assert not s.gate_lead[96:].any()
    np.testing.assert_array_equal(s.dispatched, [0] * 97 + list(range(1, 97)))

    # two days: bids of day 0 (k 0..95), dispatch 0..39 (k 96..135), bids of day 1 (k 136..231), dispatch 40..191
    s = build_schedule(scenario({"time.episode_hours": 48}))
    assert s.steps == 2 * 96 + 2 * 96 == 384
    assert s.interval[135] == 39 and not s.bid[135]  # the interval 09:45-10:00 of day 0 ...
    assert s.bid[136] and s.interval[136] == 96  # ... is followed by the bid for 00:00 of day 1
    assert s.bid[136:232].all() and not s.bid[232:].any()
    assert s.gate_lead[136] == 56 and s.gate_lead[231] == 56 + 95  # the same leads as day 0's
    assert s.dispatched[136] == s.dispatched[232] == 40 and s.dispatched[384] == 192
    np.testing.assert_array_equal(s.interval, [*range(96), *range(40), *range(96, 192), *range(40, 192), 192])
    np.testing.assert_array_equal(s.gate_lead, [*range(56, 152), *[0] * 40, *range(56, 152), *[0] * 152, 0])
    np.testing.assert_array_equal(s.dispatched, [*[0] * 97, *range(1, 41), *[40] * 96, *range(41, 193)])

    # 1-hour intervals, two days: N = 24, g = 10; 24 bids, dispatch 0..9, 24 bids, dispatch 10..47
    s = build_schedule(scenario({"time.interval_minutes": 60, "time.episode_hours": 48}))
    assert (s.steps, s.day_steps, s.gate_step, s.ring) == (96, 24, 10, 48)
    assert s.gate_lead[0] == 24 - 10 == 14
    np.testing.assert_array_equal(s.interval[:-1], [*range(24), *range(10), *range(24, 48), *range(10, 48)])
    np.testing.assert_array_equal(s.bid[:-1], [True] * 24 + [False] * 10 + [True] * 24 + [False] * 38)

    # gate at midnight (g = 0): both days are bid before anything is dispatched, 24 + j intervals ahead
    s = build_schedule(scenario({"time.interval_minutes": 60, "time.episode_hours": 48, "markets.energy.gate_hour": 0}))
    np.testing.assert_array_equal(s.bid[:-1], [True] * 48 + [False] * 48)
    np.testing.assert_array_equal(s.gate_lead[:48], [24 + j for j in range(24)] * 2)
    np.testing.assert_array_equal(s.interval[:-1], [*range(48), *range(48)])


# -- 2. offer curves ---------------------------------------------------------------------------------------------------
# Band W = 1000 (so that |a_da_price| <= 1 whatever the forecast error), spread (a + 1) / 2 W = 100 at
# a = -0.8: a K = 2 curve has segments at mid -/+ 50 (offsets 2 (j + 0.5) / 2 - 1 = -0.5, +0.5 times 100).
# Curves (position_max_mw P = 6; q = a P): interval -> (da_low, da_high, mid - realised DA price, award MW)
CURVES: dict[int, tuple[float, float, float, float]] = {
    10: (0.5, 0.5, 0.0, 3.0),  # flat: 0.5 x 6 = 3 MW whatever the price
    20: (-0.25, -0.25, 900.0, -1.5),  # flat buy: -0.25 x 6 = -1.5 MW, even with the mid far above the price
    # [-3, 6] MW in 2 steps of 4.5 MW: lo = -3 (buys at low prices), +4.5 per segment priced <= the price
    30: (-0.5, 1.0, 80.0, -3.0),  # segments at p + 30, p + 130: none accepted
    31: (-0.5, 1.0, 0.0, 1.5),  # p - 50, p + 50: the first, -3 + 4.5
    32: (-0.5, 1.0, -80.0, 6.0),  # p - 130, p - 30: both, -3 + 9
    33: (1.0, -0.5, 0.0, 1.5),  # the ends swapped: the same sorted curve as at 31
    # net buyer: [-6, -1.5] MW in 2 steps of 2.25 MW
    40: (-1.0, -0.25, 80.0, -6.0),  # none accepted: buys 6 MW
    41: (-1.0, -0.25, 0.0, -3.75),  # the first: -6 + 2.25
    42: (-1.0, -0.25, -80.0, -1.5),  # both: -6 + 4.5
}


def test_offer_curves_are_cleared_price_taker_and_settled_at_delivery() -> None:
    env = make(ARB, {"markets.energy.curve_segments": 2, "markets.energy.offer_band_per_mwh": 1000.0})
    u = base(env)
    p = u.params
    names = u.observation_names
    obs, _ = env.reset(seed=3)
    ex = u.episode.exo[0]  # type: ignore[union-attr]
    refs = []
    for k in range(96):  # the bid steps: interval k of the day, in order, time does not advance
        assert obs[names.index("bidding")] == 1.0
        low, high, offset, q = CURVES.get(k, (0.0, 0.0, 0.0, 0.0))
        price = float(ex[k, I_DA])
        ref = float(obs[p.da_forecast_index]) * p.price_ref_per_mwh  # observed forecast at lead 0 x price_ref
        a_price = (price + offset - ref) / 1000.0  # mid = ref + a W = price + offset
        assert abs(a_price) <= 1.0
        refs.append(ref - price)
        obs, reward, term, trunc, info = env.step(
            action(env, da_low=low, da_high=high, da_price=a_price, da_spread=-0.8)
        )
        assert info["bidding"] and info["t"] == k and reward == 0.0 and info["profit"] == 0.0
        assert not term and not trunc and u.state.t == 0  # type: ignore[union-attr]
        assert info["energy_da"]["offer_low_mw"] == 6.0 * min(low, high)
        assert info["energy_da"]["offer_high_mw"] == 6.0 * max(low, high)
        assert info["energy_da"]["offer_mid_price"] == pytest.approx(price + offset, abs=1e-9)
        assert info["energy_da"]["offer_spread"] == pytest.approx(100.0, abs=1e-12)
        assert info["energy_da"]["cash"] == 0.0  # nothing is paid before delivery
        # the award and its price go into the rings (slot k % 192), first observed at delivery
        assert u.state.da_mw[k] == pytest.approx(q, abs=1e-12)  # type: ignore[union-attr]
        assert u.state.da_price[k] == price  # type: ignore[union-attr]
    assert max(abs(r) for r in refs) > 1.0  # the reference is the forecast (with its error), not the price
    assert obs[names.index("bidding")] == 0.0
    for t in range(96):  # the dispatch steps, one interval each
        low, high, offset, q = CURVES.get(t, (0.0, 0.0, 0.0, 0.0))
        # schedule_0: the schedule of the interval about to be dispatched / (2 P + intraday max 3 MW) = q / 15
        assert obs[names.index("schedule_0")] == pytest.approx(q / 15.0, abs=1e-7)
        obs, reward, term, _trunc, info = env.step(action(env))
        price = float(ex[t, I_DA])
        assert not info["bidding"] and info["t"] == t and term == (t == 95)
        da = info["energy_da"]
        assert da["quantity_mwh"] == pytest.approx(q * DT, abs=1e-12)
        assert da["price_per_mwh"] == price
        assert da["cash"] == pytest.approx(q * DT * price, rel=1e-12, abs=1e-9)  # e.g. 3 x 0.25 x price at t = 10


# -- 3. deviation assessment -------------------------------------------------------------------------------------------
def test_deviation_inside_the_band_is_free_and_beyond_it_pays_the_penalty() -> None:
    # battery only (2 MW / 4 MWh, starts at 2 MWh): the net injection is the battery's setpoint a x 2 MW
    env = make(
        ARB,
        {
            **BATTERY_ONLY,
            "markets.energy.intraday": None,
            "markets.energy.deviation_band_share": 0.1,
            "markets.energy.deviation_band_min_mw": 0.5,
            "markets.energy.imbalance_penalty_per_mwh": 200.0,
        },
    )
    # interval -> (flat bid a: q = 6 a, battery a: net = 2 a, penalty by hand)
    plan = {
        0: (0.5, 0.5, 75.0),  # q 3, net 1: dev -2, band max(0.3, 0.5) = 0.5: (2 - 0.5) x 0.25 x 200 = 75
        1: (0.25, 0.6, 0.0),  # q 1.5, net 1.2: dev -0.3, band max(0.15, 0.5) = 0.5: inside, 0
        2: (1.0, 1.0, 170.0),  # q 6, net 2: dev -4, band max(0.6, 0.5) = 0.6: 3.4 x 50 = 170
        3: (-0.5, -1.0, 25.0),  # q -3, net -2: dev +1, band 0.5: 0.5 x 50 = 25
        4: (0.0, 0.2, 0.0),  # q 0, net 0.4: dev 0.4, band 0.5 (the floor): inside, 0
    }
    env.reset(seed=1)
    for k in range(96):
        a = plan.get(k, (0.0, 0.0, 0.0))[0]
        env.step(action(env, da_low=a, da_high=a))
    for t in range(96):
        q_a, b_a, penalty = plan.get(t, (0.0, 0.0, 0.0))
        *_, info = env.step(action(env, battery=b_a))
        q, net = 6.0 * q_a, info["net_mw"]
        assert net == pytest.approx(2.0 * b_a, abs=1e-12)
        dev = net - q
        assert info["energy_rt"]["quantity_mwh"] == pytest.approx(dev * DT, abs=1e-12)
        band = max(0.1 * abs(q), 0.5)
        assert info["penalty"]["imbalance"] == pytest.approx(max(abs(dev) - band, 0.0) * DT * 200.0, abs=1e-9)
        assert info["penalty"]["imbalance"] == pytest.approx(penalty, abs=1e-9)


# -- 4. contract for difference ----------------------------------------------------------------------------------------
def test_cfd_pays_the_contract_price_minus_the_cleared_day_ahead_price() -> None:
    contract = {"quantity_mw": 2.0, "shape": "flat", "price_per_mwh": 400.0}
    env = make(ARB, {"markets.energy.contract": contract})
    u = base(env)
    obs, _ = env.reset(seed=4)
    env.action_space.seed(4)
    ex = u.episode.exo[0]  # type: ignore[union-attr]
    for _ in range(192):
        assert obs[u.observation_names.index("contract")] == 1.0  # flat: 2 / max |2|
        obs, _r, _te, _tr, info = env.step(env.action_space.sample())
        if info["bidding"]:
            assert info["contract"]["cash"] == 0.0
            continue
        price = float(ex[info["t"], I_DA])  # price-taker: the cleared price is the realised DA price
        assert info["energy_da"]["price_per_mwh"] == price
        assert info["contract"]["quantity_mwh"] == 2.0 * DT
        assert float(info["contract"]["cash"]) == pytest.approx(2.0 * DT * (400.0 - price), rel=1e-12, abs=1e-9)

    # price-maker (Joint, autonomous preset): the cleared price comes from the stack, and the CfD follows it
    env = make(JOINT, {"markets.energy.contract": contract}, config=str(packaged_config("markets/autonomous.yaml")))
    u = base(env)
    env.reset(seed=4)
    env.action_space.seed(4)
    ex = u.episode.exo[0]  # type: ignore[union-attr]
    off_series = 0
    for _ in range(192):
        *_, info = env.step(env.action_space.sample())
        if not info["bidding"]:
            cleared = info["energy_da"]["price_per_mwh"]
            off_series += cleared != ex[info["t"], I_DA]
            assert float(info["contract"]["cash"]) == pytest.approx(0.5 * (400.0 - cleared), rel=1e-12, abs=1e-9)
    assert off_series > 0  # the stack's clearing price differs from the published series somewhere


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        # interval j covers [j/4, j/4 + 1/4) h, read at its midpoint: 31 = 07:45 (7.875 h), 32 = 08:00 (8.125 h)
        ("peak", {12: 0.0, 31: 0.0, 32: 2.0, 48: 2.0, 87: 2.0, 88: 0.0}),  # 1 for 8 <= h < 22
        ("valley", {0: 2.0, 12: 2.0, 27: 2.0, 28: 0.0, 48: 0.0, 91: 0.0, 92: 2.0}),  # 1 for h >= 23 or h < 7
    ],
)
def test_contract_shapes(shape: str, expected: dict[int, float]) -> None:
    overrides = {"markets.energy.contract": {"quantity_mw": 2.0, "shape": shape, "price_per_mwh": 400.0}}
    profile = contract_profile(scenario(overrides))
    assert profile.shape == (96,)
    for j, q in expected.items():
        assert profile[j] == q, j
    # through the env: 03:00 (interval 12) and 12:00 (interval 48)
    env = make(ARB, overrides)
    u = base(env)
    env.reset(seed=0)
    ex = u.episode.exo[0]  # type: ignore[union-attr]
    seen = {}
    for _ in range(192):
        *_, info = env.step(action(env))
        t = info["t"]
        if not info["bidding"] and t in (12, 48):
            q = expected[t]
            assert info["contract"]["quantity_mwh"] == q * DT
            assert float(info["contract"]["cash"]) == pytest.approx(q * DT * (400.0 - ex[t, I_DA]), abs=1e-9)
            seen[t] = q
    assert seen == {12: expected[12], 48: expected[48]}


# -- 5. intraday -------------------------------------------------------------------------------------------------------
def test_intraday_gates_trade_each_interval_of_the_block_ahead_and_settle_at_delivery() -> None:
    # default gates: every 4th interval, block of 4 intervals starting 4 ahead, up to 3 MW per interval,
    # market orders (no limit): id_mw_j x 3 MW for interval gate + 4 + j, matched at its intraday price
    env = make(ARB)
    u = base(env)
    names = u.observation_names
    gate_row = names.index("intraday_gate")
    obs, _ = env.reset(seed=2)
    idp = u.episode.exo[0][:, I_ID]  # type: ignore[union-attr]
    for _ in range(96):  # no day-ahead position: the schedule is the intraday adjustment alone
        assert obs[gate_row] == 0.0  # bid steps are never gates
        obs, *_ = env.step(action(env))
    # gate at 8: sell 1.5 MW in 12 and 14, buy 3 MW in 15; gate at 21 is no gate (ignored); gate at 40: sell 0.3 in 47
    plan = {
        8: {"id_mw_0": 0.5, "id_mw_2": 0.5, "id_mw_3": -1.0},
        21: {"id_mw_0": 1.0, "id_mw_1": 1.0},
        40: {"id_mw_3": 0.1},
    }
    expected = np.zeros(96)
    expected[[12, 14]] = 1.5
    expected[15] = -3.0
    expected[47] = 0.3
    offered = {8: 1.5 + 1.5 - 3.0, 40: 0.3}
    for t in range(96):
        assert obs[gate_row] == (1.0 if t % 4 == 0 else 0.0), t
        obs, _r, _te, _tr, info = env.step(action(env, **plan.get(t, {})))
        e = info["energy_id"]
        assert e["offer_mw"] == pytest.approx(offered.get(t, 0.0), abs=1e-12)
        assert e["quantity_mwh"] == pytest.approx(expected[t] * DT, abs=1e-12)
        assert e["price_per_mwh"] == idp[t]
        assert e["cash"] == pytest.approx(expected[t] * DT * idp[t], rel=1e-12, abs=1e-12)
        # the deviation is measured from the whole schedule (day-ahead 0 + intraday)
        assert info["energy_rt"]["quantity_mwh"] == pytest.approx((info["net_mw"] - expected[t]) * DT, abs=1e-12)
        if t == 8:  # right after the gate (state t = 9), schedule rows j = t+j-9: 12 -> 3, 14 -> 5, 15 -> 6 (/ 15 MW)
            rows = [obs[names.index(f"schedule_{j}")] for j in range(8)]
            np.testing.assert_allclose(rows, [0, 0, 0, 0.1, 0, 0.1, -0.2, 0], atol=1e-7)


# -- 6. terminal value -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("battery", "e_end"), [(-1.0, 3.6), (1.0, 0.4)])  # charge to 0.9 x 4 / discharge to 0.1 x 4
def test_terminal_value_credits_stored_energy_at_the_last_days_mean_da_price(battery: float, e_end: float) -> None:
    for rule in ("mean_da", "none"):
        env = make(ARB, {"time.episode_hours": 48, "markets.energy.terminal_value": rule})
        u = base(env)
        env.reset(seed=6)
        ex = u.episode.exo[0]  # type: ignore[union-attr]
        last_day = float(ex[96:192, I_DA].mean())
        assert abs(last_day - float(ex[:, I_DA].mean())) > 1e-6  # the last day, not the episode, is what counts
        values = []
        for k in range(384):
            *_, term, _tr, info = env.step(action(env, battery=battery))
            values.append(info["terminal"]["value"])
            assert term == (k == 383)
        e = u.state.e_bat_mwh  # type: ignore[union-attr]
        assert e == pytest.approx(e_end, abs=1e-9)  # started at 0.5 x 4 = 2 MWh
        assert all(v == 0.0 for v in values[:-1])
        # (3.6 - 2) x mean = +1.6 x mean charged; (0.4 - 2) x mean = -1.6 x mean discharged
        last = (e - 2.0) * last_day if rule == "mean_da" else 0.0
        assert values[-1] == pytest.approx(last, rel=1e-12, abs=1e-12)


# -- 7. native vector env ----------------------------------------------------------------------------------------------
VECTOR_RUNS = [(ARB, None), (JOINT, None), (JOINT, "markets/autonomous.yaml")]
EXTRA = {  # also exercise the contract and the deviation band in the batched core
    "markets.energy.contract": {"quantity_mw": 1.0, "shape": "solar", "price_per_mwh": 400.0},
    "markets.energy.deviation_band_share": 0.05,
    "markets.energy.deviation_band_min_mw": 0.2,
    "markets.energy.imbalance_penalty_per_mwh": 100.0,
}


def _bits(value: Any) -> bytes:
    return np.asarray(value, dtype=np.float64).tobytes()


def _same(a: Any, b: Any) -> bool:
    """Equal values, NaN never: the bits, up to the sign of a zero (the scalar and NumPy backends write
    ``0.0`` and ``-0.0`` differently in places, e.g. ``battery.applied_mw``, on both timelines)."""
    return bool(np.float64(a) == np.float64(b))


@pytest.mark.parametrize(("env_id", "preset"), VECTOR_RUNS, ids=["arbitrage", "joint", "joint-autonomous"])
def test_vector_env_matches_single_envs_over_a_day_ahead_episode(env_id: str, preset: str | None) -> None:
    n, seed = 3, 21
    config = str(packaged_config(preset)) if preset else None
    kwargs: dict[str, Any] = {"overrides": {**DA, **EXTRA}}
    if config is not None:
        kwargs["config"] = config
    vec = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    assert isinstance(vec.unwrapped, VppVectorEnv)
    singles = [make(env_id, EXTRA, config) for _ in range(n)]
    obs, _ = vec.reset(seed=seed)
    ref = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    assert obs.tobytes() == np.stack(ref).tobytes()
    steps = base(singles[0]).params.steps
    assert steps == 192
    rng = np.random.default_rng(5)
    bid_seen = 0
    for k in range(steps + 1):  # a whole episode, then the next-step autoreset
        a = rng.uniform(-1.0, 1.0, (n, len(vec.unwrapped.action_names)))
        obs, reward, term, trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            if k == steps:
                o, _ = e.reset()
                assert obs[i].tobytes() == o.tobytes() and reward[i] == 0.0
                continue
            o, r, te, tr, led = e.step(a[i])
            assert obs[i].tobytes() == o.tobytes(), (k, i)
            assert _same(reward[i], r) and term[i] == te and trunc[i] == tr
            single = flat(led)
            bid_seen += single["bidding"]
            vector = {key: v for key, v in flat(info).items() if not key.rsplit(".", 1)[-1].startswith("_")}
            assert set(vector) == set(single), (k, set(vector) ^ set(single))
            for key, v in single.items():
                assert _same(vector[key][i], v), (k, i, key, vector[key][i], v)
    assert bid_seen == 96 * n


# -- 8. Gymnasium contract ---------------------------------------------------------------------------------------------
def _rollout(env: gym.Env, seed: int, episodes: int = 1) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out, rewards, infos = [obs], [], []
    for ep in range(episodes):
        if ep:
            out.append(env.reset(options={"split": ("train", "val", "test")[ep % 3]})[0])
        done = False
        while not done:
            obs, reward, term, trunc, info = env.step(env.action_space.sample())
            out.append(obs)
            rewards.append(reward)
            infos.append(flat(info))
            done = term or trunc
    return np.array(out), np.array(rewards), infos


@pytest.mark.parametrize("env_id", list(vpp_gym.TASKS))
def test_gymnasium_contract_on_the_day_ahead_timeline(env_id: str) -> None:
    env = make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning is a failure
        warnings.filterwarnings("ignore", ".*is out of date", DeprecationWarning)  # v0 ids warn
        check_env(env.unwrapped, skip_render_check=True)
    obs_a, rew_a, info_a = _rollout(make(env_id), seed=7, episodes=3)
    obs_b, rew_b, info_b = _rollout(make(env_id), seed=7, episodes=3)
    assert obs_a.tobytes() == obs_b.tobytes() and rew_a.tobytes() == rew_b.tobytes()
    assert len(info_a) == len(info_b) == 3 * 192
    for a, b in zip(info_a, info_b, strict=True):
        assert a.keys() == b.keys() and all(_bits(a[k]) == _bits(b[k]) for k in a)
    obs_c, _, _ = _rollout(make(env_id), seed=8)
    assert not np.array_equal(obs_a[: len(obs_c)], obs_c)
    space = env.observation_space
    assert obs_a.dtype == np.float32
    outside = [i for i, o in enumerate(obs_a) if not space.contains(o)]
    assert not outside, f"observations outside the declared bounds at rows {outside[:5]}"


# -- 9. bad configs ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"time.episode_hours": 36}, r"time\.episode_hours: got 36.*whole days"),
        ({"markets.energy.gate_hour": 10.1}, r"markets\.energy\.gate_hour: got 10\.1.*15-minute intervals"),
        (
            {"time.interval_minutes": 60, "markets.energy.gate_hour": 10.5},
            r"markets\.energy\.gate_hour: got 10\.5.*60-minute intervals",
        ),
        (
            {"markets.energy.contract": {"quantity_mw": 2.0, "shape": "baseload", "price_per_mwh": 400.0}},
            r"markets\.energy\.contract\.shape: got 'baseload'.*flat, peak, valley, solar",
        ),
    ],
)
def test_bad_day_ahead_config_names_the_key(overrides: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        make(ARB, overrides)


# -- regressions: package bugs found by these tests, fixed ------------------------------------------------------------
def test_single_env_ledger_values_are_python_floats() -> None:
    env = make(ARB)
    env.reset(seed=0)
    for _ in range(192):
        _obs, reward, *_, info = env.step(action(env))
        bad = {k: type(v).__name__ for k, v in flat(info).items() if type(v) not in (float, int, bool)}
        assert not bad, bad  # now: contract.cash ndarray, profit and reward float64 in the dispatch steps
        assert type(reward) is float


def test_vector_env_clearing_does_not_depend_on_the_callers_copy_of_the_observation() -> None:
    mids = []
    for mutate in (False, True):
        vec = gym.make_vec(ARB, num_envs=2, vectorization_mode="vector_entry_point", overrides=DA)
        obs, _ = vec.reset(seed=0)
        if mutate:
            obs *= 0.0  # e.g. in-place normalisation by the caller
        *_, info = vec.step(np.zeros((2, len(vec.unwrapped.action_names))))
        mids.append(info["energy_da"]["offer_mid_price"])
    np.testing.assert_array_equal(mids[0], mids[1])


def test_an_accepted_intraday_adjustment_is_settled() -> None:
    overrides = {"time.episode_hours": 48, "markets.energy.intraday": {"lead_steps": 60, "gate_spacing_steps": 4}}
    try:
        env = make(ARB, overrides)
    except ConfigError as err:  # refusing such a lead is a fix too
        assert "markets.energy.intraday" in str(err)
        return
    u = base(env)
    env.reset(seed=0)
    accepted: dict[int, float] = {}
    for _ in range(384):
        s = u.state
        assert s is not None
        gate = not u.params.schedule.bid[s.k] and s.t == 36  # 09:00 of day 0, before day 1's bid steps
        *_, info = env.step(action(env, id_mw_0=1.0) if gate else action(env))
        if gate:  # what the gate put into the schedule of intervals 96..99 (00:00-01:00 of day 1)
            accepted = {i: u.state.id_mw[i] for i in range(96, 100)}  # type: ignore[union-attr]
        elif not info["bidding"] and info["t"] in accepted:
            assert info["energy_id"]["quantity_mwh"] == accepted[info["t"]] * DT, info["t"]


def test_vector_env_info_reports_bid_steps() -> None:
    vec = gym.make_vec(ARB, num_envs=2, vectorization_mode="vector_entry_point", overrides=DA)
    vec.reset(seed=0)
    *_, info = vec.step(np.zeros((2, len(vec.unwrapped.action_names))))
    np.testing.assert_array_equal(info["bidding"], [True, True])


def test_vector_env_partial_reset_observes_each_row_at_its_own_step_and_refuses_to_step() -> None:
    # Disabled autoreset: after a partial reset the rows are at different steps. Each row's observation is
    # the single env's at that row's step; stepping is refused (the timeline steps the batch in lockstep).
    vec = gym.make_vec(
        ARB, num_envs=3, vectorization_mode="vector_entry_point", overrides=DA, autoreset_mode="Disabled"
    )
    vec.reset(seed=0)
    zeros = np.zeros((3, len(vec.unwrapped.action_names)))
    for _ in range(5):
        vec.step(zeros)
    obs, _ = vec.reset(seed=[None, 7, None], options={"reset_mask": np.array([False, True, False])})
    fresh, _ = make(ARB).reset(seed=7)
    stepped = make(ARB)
    o, _ = stepped.reset(seed=0)
    for _ in range(5):
        o, *_ = stepped.step(zeros[0])
    assert obs[1].tobytes() == fresh.tobytes() and obs[0].tobytes() == o.tobytes()
    with pytest.raises(RuntimeError, match="lockstep"):
        vec.step(zeros)


def test_vector_env_partial_reset_within_the_bid_steps_observes_each_row_at_its_own_step() -> None:
    # The bid steps of a day share the interval t: after a partial reset a row at bid step 0 and rows at
    # bid step 40 have the same t but different steps, whose contract quantities differ (a solar contract).
    contract = {"markets.energy.contract.quantity_mw": 2.0, "markets.energy.contract.shape": "solar"}
    vec = gym.make_vec(
        ARB,
        num_envs=3,
        vectorization_mode="vector_entry_point",
        overrides={**DA, **contract},
        autoreset_mode="Disabled",
    )
    vec.reset(seed=0)
    zeros = np.zeros((3, len(vec.unwrapped.action_names)))
    for _ in range(40):
        vec.step(zeros)
    obs, _ = vec.reset(seed=[None, 7, None], options={"reset_mask": np.array([False, True, False])})
    fresh, _ = make(ARB, contract).reset(seed=7)
    stepped = make(ARB, contract)
    o, _ = stepped.reset(seed=0)
    for _ in range(40):
        o, *_ = stepped.step(zeros[0])
    assert obs[1].tobytes() == fresh.tobytes() and obs[0].tobytes() == o.tobytes()
