"""The native vector env against N single envs (the independent reference), for every task."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from vpp_gym import TASKS
from vpp_gym.vector import VppVectorEnv

N = 3


def _vec(env_id: str, n: int = N, **kwargs: object) -> VppVectorEnv:
    env = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    assert isinstance(env.unwrapped, VppVectorEnv)
    return env.unwrapped  # type: ignore[return-value]


def _actions(env: VppVectorEnv, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (steps, env.num_envs, len(env.action_names))).astype(np.float32)


@pytest.mark.parametrize("env_id", list(TASKS))
def test_next_step_autoreset_matches_single_envs_bit_for_bit(env_id: str) -> None:
    vec = _vec(env_id)
    singles = [gym.make(env_id) for _ in range(N)]
    obs, info = vec.reset(seed=11)
    ref = [e.reset(seed=11 + i) for i, e in enumerate(singles)]
    np.testing.assert_array_equal(obs, np.stack([o for o, _ in ref]))
    np.testing.assert_array_equal(info["day_index"], [i["day_index"] for _, i in ref])
    T = vec.params.steps  # bid steps included on the day-ahead timeline
    ended = [False] * N
    resets = 0
    for k, a in enumerate(_actions(vec, 2 * T + 2)):
        obs, reward, term, trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            if ended[i]:  # next-step autoreset: this step is the reset
                o, inf = e.reset()
                r, te, ledger = 0.0, False, None
                ended[i] = False
                resets += 1
                assert info["day_index"][i] == inf["day_index"]
            else:
                o, r, te, _tr, ledger = e.step(a[i])
                ended[i] = te
            np.testing.assert_array_equal(obs[i], o, err_msg=f"step {k}, sub-env {i}")
            assert reward[i] == r and term[i] == te and not trunc[i]
            if ledger is not None:
                for group, item in (
                    ("energy_rt", "cash"),
                    ("energy_da", "cash"),
                    ("carbon", "cash"),
                    ("battery", "applied_mw"),
                ):
                    if item in ledger.get(group, {}):
                        assert info[group][item][i] == ledger[group][item]
                assert info["t"][i] == ledger["t"]
    assert resets == 2 * N  # two episode boundaries crossed


THREE_PROVIDERS = {
    "markets.regulation.providers": ["battery", "ev", "flex_load"],
    "markets.regulation.split": "pro_rata",
    "resources.ev.v2g": True,
}
"""Regulation from the battery, the EV fleet (with V2G) and the flexible load."""


@pytest.mark.parametrize("env_id", ["vpp_gym/Joint-v1", "vpp_gym/Joint-v0"])
def test_regulation_from_three_providers_matches_single_envs_bit_for_bit(env_id: str) -> None:
    vec = _vec(env_id, overrides=THREE_PROVIDERS)
    singles = [gym.make(env_id, overrides=THREE_PROVIDERS) for _ in range(N)]
    obs, _ = vec.reset(seed=7)
    for i, e in enumerate(singles):
        np.testing.assert_array_equal(obs[i], e.reset(seed=7 + i)[0])
    shares = np.zeros(3)
    for k, a in enumerate(_actions(vec, vec.params.steps, seed=2)):
        obs, reward, _term, _trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            o, r, _te, _tr, ledger = e.step(a[i])
            np.testing.assert_array_equal(obs[i], o, err_msg=f"step {k}, sub-env {i}")
            assert reward[i] == r, (k, i)
            for group, item in (("regulation", "score"), ("ev", "applied_mw"), ("load_shift", "applied_mw")):
                assert info[group][item][i] == ledger[group][item], (k, i, group, item)
        reg = info["regulation"]
        shares += [reg.get(f"{n}_mw", np.zeros(N)).sum() for n in ("battery", "ev", "flex_load")]
    assert (shares > 0.0).all(), shares  # every provider followed a share of some award


def test_same_step_autoreset_reports_final_observation_and_episode_totals() -> None:
    env_id = "vpp_gym/Regulation-v0"
    vec = _vec(env_id, autoreset_mode="SameStep", episode_totals=True)
    singles = [gym.make(env_id) for _ in range(N)]
    vec.reset(seed=3)
    for i, e in enumerate(singles):
        e.reset(seed=3 + i)
    T = vec.params.episode_steps
    profit = np.zeros(N)
    emissions = np.zeros(N)
    for k, a in enumerate(_actions(vec, T + 5, seed=1)):
        obs, reward, term, _trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            o, r, te, _tr, ledger = e.step(a[i])
            assert reward[i] == r and term[i] == te
            profit[i] += ledger["profit"]
            emissions[i] += ledger["carbon"]["emissions_t"]
            if te:
                np.testing.assert_array_equal(info["final_obs"][i], o)
                assert info["_final_obs"][i]
                assert info["final_info"]["episode_totals"]["profit"][i] == pytest.approx(profit[i], rel=1e-12)
                assert info["final_info"]["episode_totals"]["carbon.emissions_t"][i] == pytest.approx(
                    emissions[i], rel=1e-12
                )
                o, _ = e.reset()
            np.testing.assert_array_equal(obs[i], o, err_msg=f"step {k}, sub-env {i}")
        if k == T - 1:
            assert term.all()


def test_disabled_autoreset_with_a_partial_reset_runs_out_of_lockstep_like_single_envs() -> None:
    env_id = "vpp_gym/Joint-v0"
    vec = _vec(env_id, autoreset_mode=AutoresetMode.DISABLED)
    singles = [gym.make(env_id) for _ in range(N)]
    vec.reset(seed=21, options={"split": "val"})
    for i, e in enumerate(singles):
        e.reset(seed=21 + i, options={"split": "val"})
    acts = _actions(vec, 40, seed=2)
    kept = None
    for k, a in enumerate(acts):
        if k == 10:  # sub-env 1 restarts on a chosen day: afterwards the sub-envs are at different steps
            obs, info = vec.reset(
                options={
                    "split": "test",
                    "day": [None, "2025-11-20", None],
                    "reset_mask": np.array([False, True, False]),
                }
            )
            o, inf = singles[1].reset(options={"split": "test", "day": "2025-11-20"})
            np.testing.assert_array_equal(obs[1], o)
            assert info["_day_index"].tolist() == [False, True, False]
            assert info["day_index"][1] == inf["day_index"]
            assert str(info["local_date"][1]) == "2025-11-20"
        obs, reward, _term, _trunc, info = vec.step(a)
        if k == 5:
            kept = (info, {g: {i: v.copy() for i, v in d.items()} for g, d in info.items() if isinstance(d, dict)})
        for i, e in enumerate(singles):
            o, r, _te, _tr, _ledger = e.step(a[i])
            np.testing.assert_array_equal(obs[i], o, err_msg=f"step {k}, sub-env {i}")
            assert reward[i] == r
    assert vec._state is not None and len(set(vec._state.t.tolist())) == 2
    # arrays handed out in an earlier info were not changed by later steps or the partial reset
    assert kept is not None
    info5, copy5 = kept
    for g, d in copy5.items():
        for item, v in d.items():
            np.testing.assert_array_equal(info5[g][item], v)


def test_a_finished_episode_without_autoreset_must_be_reset_first() -> None:
    vec = _vec("vpp_gym/Arbitrage-v0", autoreset_mode="Disabled")
    vec.reset(seed=0)
    zeros = np.zeros((N, len(vec.action_names)), dtype=np.float32)
    for _ in range(vec.params.episode_steps):
        vec.step(zeros)
    with pytest.raises(RuntimeError, match="ended"):
        vec.step(zeros)
    with pytest.raises(ValueError, match="reset_mask must be a boolean array"):
        vec.reset(options={"reset_mask": np.array([1, 0, 0])})
    vec.reset(options={"reset_mask": np.array([True, False, False])})
    with pytest.raises(RuntimeError, match="sub-env 1 has ended"):
        vec.step(zeros)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda v: v.step(np.zeros((N, 2))), r"actions have shape \(3, 2\); expected \(3, 5\)"),
        (lambda v: v.step(np.full((N, 5), 0.5) + np.eye(N, 5) * 2), r"actions\[0, 0\] \('da_position'\) = 2.5"),
        (lambda v: v.step(np.full((N, 5), np.nan)), "not finite"),
        (lambda v: v.reset(options={"days": 1}), "unknown key 'days'; valid keys are split, day, reset_mask"),
        (lambda v: v.reset(options={"split": "dev"}), "split='dev'"),
        (lambda v: v.reset(options={"day": [0, 1]}), "day has 2 entries; expected one"),
        (lambda v: v.reset(options={"day": 10_000}), "day=10000"),
        (lambda v: v.reset(seed=[1, 2]), "2 seeds for 3 sub-envs"),
        (lambda v: v.reset(options={"reset_mask": np.array([True, False, False])}), "reset_mask needs autoreset_mode"),
    ],
)
def test_bad_input_names_what_is_wrong(call: object, message: str) -> None:
    vec = _vec("vpp_gym/Arbitrage-v0")
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        call(vec)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_envs": 0}, "num_envs=0"),
        ({"num_envs": 2, "autoreset_mode": "Sometimes"}, "autoreset_mode='Sometimes'; expected one of NextStep"),
        ({"num_envs": 2, "split": "all"}, "split='all'"),
        ({"num_envs": 2, "overrides": {"resources.battery.e_max_mwh": -1}}, "e_max_mwh"),
    ],
)
def test_bad_construction_arguments_are_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gym.make_vec("vpp_gym/Arbitrage-v0", vectorization_mode="vector_entry_point", **kwargs)


@pytest.mark.rl
def test_sb3_adapter_matches_dummy_vec_env_over_single_envs() -> None:
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from vpp_gym.sb3 import make_sb3_vec_env

    env_id = "vpp_gym/LowCarbon-v0"
    ours = make_sb3_vec_env(env_id, N, seed=5)
    ref = DummyVecEnv([lambda: gym.make(env_id) for _ in range(N)])
    ref.seed(5)
    ours.set_options({"split": "val"})
    ref.set_options({"split": "val"})
    np.testing.assert_array_equal(ours.reset(), ref.reset())
    T = ours.venv.params.episode_steps
    dones_seen = 0
    for a in _actions(ours.venv, T + 3, seed=4):
        o1, r1, d1, i1 = ours.step(a)
        o2, r2, d2, i2 = ref.step(a)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(d1, d2)
        assert r1.dtype == r2.dtype == np.float32
        for x, y in zip(i1, i2, strict=True):
            assert ("terminal_observation" in x) == ("terminal_observation" in y)
            if "terminal_observation" in y:
                dones_seen += 1
                np.testing.assert_array_equal(x["terminal_observation"], y["terminal_observation"])
                assert x["TimeLimit.truncated"] is False
                assert set(x["episode_totals"]) >= {"profit", "energy_da.cash", "carbon.cash", "carbon.emissions_t"}
    assert dones_seen == N
    assert ours.get_attr("action_names") == [ours.venv.action_names] * N
    assert ours.env_is_wrapped(gym.Wrapper) == [False] * N
    with pytest.raises(ValueError, match="same split"):
        ours.set_options([{"split": "val"}, {"split": "test"}, {}])
        ours.reset()


@pytest.mark.rl
def test_sb3_ppo_trains_on_the_native_vector_env() -> None:
    pytest.importorskip("torch")
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

    from vpp_gym.sb3 import make_sb3_vec_env

    env = VecNormalize(VecMonitor(make_sb3_vec_env("vpp_gym/Arbitrage-v0", 8, seed=0)))
    model = PPO("MlpPolicy", env, n_steps=24, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=8 * 24 * 5)  # 120 steps per sub-env: each ends one 96-step episode
    assert model.num_timesteps == 960
    assert [ep["l"] for ep in model.ep_info_buffer] == [96] * 8


DR_OPTIONS = {
    "markets": {"demand_response": {"baseline": "similar_days", "payment": "band"}},
    "data": {"ancillary": {"dr_event_rule": "scarcity"}},
}


def test_demand_response_options_match_single_envs_bit_for_bit_through_a_partial_reset() -> None:
    # event days of Joint-v0's train split under the scarcity rule: 101 (valley filling), 135 (peak shaving)
    env_id = "vpp_gym/Joint-v0"
    vec = _vec(env_id, autoreset_mode="Disabled", **DR_OPTIONS)
    singles = [gym.make(env_id, **DR_OPTIONS) for _ in range(N)]
    days = [101, 135, 0]
    vec.reset(seed=5, options={"day": days})
    for i, e in enumerate(singles):
        e.reset(seed=5 + i, options={"day": days[i]})
    for k, a in enumerate(_actions(vec, 96, seed=4)):
        if k == 30:  # sub-env 2 restarts on an event day: its baseline rows are replaced, the others kept
            vec.reset(options={"day": [None, None, 101], "reset_mask": np.array([False, False, True])})
            singles[2].reset(options={"day": 101})
        obs, reward, _term, _trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            o, r, _te, _tr, ledger = e.step(a[i])
            np.testing.assert_array_equal(obs[i], o, err_msg=f"step {k}, sub-env {i}")
            assert reward[i] == r
            for item in ("delivered_mw", "cash"):
                assert info["demand_response"][item][i] == ledger["demand_response"][item]
    assert vec._ep is not None and vec._ep.dr_baseline_mw is not None
    for i, e in enumerate(singles):
        np.testing.assert_array_equal(vec._ep.dr_baseline_mw[i], e.unwrapped.episode.dr_baseline_mw[0])


def test_pilot_ets_direct_emissions_match_single_envs_bit_for_bit() -> None:
    """Under pilot_ets the state's direct emissions (``direct_t``, the gas unit's) accrue in the vector env
    as in single envs: observations (the carbon position), rewards, carbon cash and the state agree."""
    overrides = {
        "markets.carbon.regime": "pilot_ets",
        "markets.carbon.pricing": "flat",
        "markets.carbon.free_allowance_t_per_mwh": 0.0,
        "markets.carbon.certificates": "china_2023",
    }
    env_id = "vpp_gym/LowCarbon-v0"
    vec = _vec(env_id, overrides=overrides)
    singles = [gym.make(env_id, overrides=overrides) for _ in range(N)]
    vec.reset(seed=3)
    for i, e in enumerate(singles):
        e.reset(seed=3 + i)
    actions = _actions(vec, 12, seed=1)
    actions[:, :, vec.params.action_index["gas"]] = 1.0  # the gas unit at full output
    for a in actions:
        obs, reward, _term, _trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            o, r, _te, _tr, ledger = e.step(a[i])
            np.testing.assert_array_equal(obs[i], o)
            assert reward[i] == r and info["carbon"]["cash"][i] == ledger["carbon"]["cash"]
    batch = vec._state  # the batched state (no public accessor on the vector env)
    assert batch is not None
    for i, e in enumerate(singles):
        single_state = e.unwrapped.state
        assert single_state.direct_t > 0.0
        assert batch.direct_t[i] == single_state.direct_t
        assert batch.emissions_t[i] == single_state.emissions_t
