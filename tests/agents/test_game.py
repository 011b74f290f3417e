"""The single-agent view of the market game (``vpp_gym/MarketGame-v0``) and a policy in every seat (``play``):
:mod:`agents.game`.

Short episodes (60-minute intervals: 24 bid steps and 24 dispatch steps) keep the module fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

import gymnasium as gym

from agents.base import PassivePolicy
from agents.game import LimitCurveBids, MarketGameEnv, PriceTakerSeat, play, policy_seed, seat_env
from agents.mpc import MpcPolicy
from agents.rule import PriceThresholdPolicy
from vpp_gym.config import packaged_config
from vpp_gym.multi import MultiVppEnv
from vpp_gym.validation import ConfigError

TASK = "vpp_gym/Arbitrage-v1"
HOURLY = {"time.interval_minutes": 60}
TWO = [HOURLY, {**HOURLY, "resources.battery.e_max_mwh": 8.0}]  # per-agent configs: vpp_1's battery is smaller


def two_seats() -> MultiVppEnv:
    return MultiVppEnv(TASK, overrides=TWO, batched=False)


def random_actions(space: gym.spaces.Space[Any], seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    assert isinstance(space, gym.spaces.Box)
    return [rng.uniform(-1.0, 1.0, space.shape).astype(np.float32) for _ in range(n)]


def same(x: object, y: object) -> bool:
    """Equal bit for bit (arrays, nested dicts, Python scalars of the same type)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, tuple) and isinstance(y, tuple):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.array_equal(x, y) and np.asarray(x).dtype == np.asarray(y).dtype
    return type(x) is type(y) and x == y


def test_registered_lazily() -> None:
    """``import vpp_gym`` registers the id with an entry-point string (neither PettingZoo, the view's module
    ``agents.game`` nor ``vpp_gym.multi`` is imported); without PettingZoo, ``gymnasium.make`` says which extra
    to install."""
    code = (
        "import sys, gymnasium, vpp_gym\n"
        "spec = gymnasium.spec('vpp_gym/MarketGame-v0')\n"
        "assert spec.entry_point == 'agents.game:MarketGameEnv', spec.entry_point\n"
        "assert 'pettingzoo' not in sys.modules and 'vpp_gym.multi' not in sys.modules\n"
        "assert 'agents' not in sys.modules and 'agents.game' not in sys.modules\n"
        "sys.modules['pettingzoo'] = None  # as if not installed\n"
        "try:\n    gymnasium.make('vpp_gym/MarketGame-v0')\n"
        "except ModuleNotFoundError as err:\n    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "vpp-gym[multi]" in out and "PettingZoo" in out


def test_one_seat_reproduces_the_single_env() -> None:
    """N = 1 (no rival): the view is the single env of the autonomous preset, bit for bit."""
    single = gym.make(TASK, config=packaged_config("markets/autonomous.yaml"), overrides=HOURLY).unwrapped
    view = gym.make("vpp_gym/MarketGame-v0", n_agents=1, overrides=HOURLY).unwrapped
    assert view.observation_space == single.observation_space and view.action_space == single.action_space
    assert view.observation_names == single.observation_names and view.rivals == {}
    for seed in (7, 8):
        obs_s, info_s = single.reset(seed=seed)
        obs_v, info_v = view.reset(seed=seed)
        assert same(obs_s, obs_v) and same(info_s, info_v)
        steps = 0
        for a in random_actions(single.action_space, seed, 48):
            out_s = single.step(a)
            obs_v, r_v, term_v, trunc_v, info_v = view.step(a)
            market = info_v.pop("market", None)
            assert same(out_s, (obs_v, r_v, term_v, trunc_v, info_v))
            assert (market is not None) == info_v["bidding"]
            steps += 1
            if term_v:
                break
        assert steps == 48 and out_s[2]


@pytest.mark.parametrize("public_obs", [False, True])
def test_view_is_the_game_with_a_passive_rival(public_obs: bool) -> None:
    """Learner in seat 1, passive rival in seat 0: the view's trajectory is the game stepped by hand with the
    learner's actions and the passive action written out (no position, no offers, storage idle)."""
    view = MarketGameEnv(TASK, overrides=TWO, seat="vpp_1", rivals="passive", public_obs=public_obs)
    game = MultiVppEnv(TASK, overrides=TWO, batched=False, public_obs=public_obs)
    assert view.observation_space == game.observation_space("vpp_1")
    assert view.params.cfg.resources.battery.e_max_mwh == 8.0  # the learner seat's own config
    passive = np.zeros(len(game.envs[0].action_names), dtype=np.float32)  # Arbitrage: no gas unit
    assert "gas" not in game.envs[0].action_names
    assert np.array_equal(PassivePolicy(game.envs[0]).act(np.zeros(3), {}), passive)
    obs_v, info_v = view.reset(seed=4)
    obs, infos = game.reset(seed=4)
    assert same(obs_v, obs["vpp_1"]) and same(info_v, infos["vpp_1"])
    prices = []
    for a in random_actions(view.action_space, 4, 48):
        out_v = view.step(a)
        obs, rewards, terms, truncs, infos = game.step({"vpp_0": passive, "vpp_1": a})
        assert same(out_v, (obs["vpp_1"], rewards["vpp_1"], terms["vpp_1"], truncs["vpp_1"], infos["vpp_1"]))
        assert same(view.multi.envs[0].state, game.envs[0].state)  # the rival's seat too
        if "market" in infos["vpp_1"]:
            prices.append(infos["vpp_1"]["market"]["price"])
            assert infos["vpp_0"]["market"]["award_mw"] == 0.0  # the passive rival offers nothing
    assert game.agents == [] and len(prices) == 24 and len(set(prices)) > 1


def limit_curve(env: Any, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
    """MPC's flat bid ``q`` as the game's limit curve, written out: [min(q, 0), max(q, 0)], mid 0, spread -0.5."""
    a = np.array(action, dtype=np.float32)
    if obs[env.observation_names.index("bidding")] == 1.0:
        i = {n: k for k, n in enumerate(env.action_names)}
        q = a[i["da_low"]]
        assert a[i["da_high"]] == q  # MPC bids flat
        a[i["da_low"]], a[i["da_high"]], a[i["da_price"]], a[i["da_spread"]] = min(q, 0), max(q, 0), 0.0, -0.5
    return a


def by_hand(game: MultiVppEnv, seed: int, mpc_seat: int) -> dict[str, float]:
    """An episode with MPC in ``mpc_seat`` and the rule in the other seat, built and stepped by hand."""
    rule_seat = 1 - mpc_seat
    mpc = MpcPolicy(PriceTakerSeat(seat_env(game, mpc_seat)), replan_every=4, seed=policy_seed(seed, mpc_seat))
    policies: dict[str, Any] = {f"vpp_{mpc_seat}": mpc, f"vpp_{rule_seat}": PriceThresholdPolicy(game.envs[rule_seat])}
    obs, infos = game.reset(seed=seed)
    profits = dict.fromkeys(policies, 0.0)
    while game.agents:
        actions = {a: p.act(obs[a], infos[a]) for a, p in policies.items()}
        key = f"vpp_{mpc_seat}"
        actions[key] = limit_curve(game.envs[mpc_seat], obs[key], actions[key])
        obs, _, _, _, infos = game.step(actions)
        for a, info in infos.items():
            profits[a] += info["profit"]
        market = infos[f"vpp_{mpc_seat}"].get("market")
        if market is not None:  # MPC plans from its seat's schedule, where the joint clearing is
            slot = market["interval"] % game.envs[mpc_seat].params.schedule.ring
            assert mpc._env.live()[1].da_price[slot] == market["price"]
    assert mpc.solves > 1
    assert (mpc._env.params.cfg.resources.battery.e_max_mwh == 8.0) == (mpc_seat == 1)  # the seat's own battery
    return profits


@pytest.mark.parametrize("mpc_seat", [0, 1])
def test_rule_and_mpc_play_seats(mpc_seat: int) -> None:
    """``play`` with MPC and the rule in the two seats earns what the same policies earn stepped by hand, and the
    view with the rule's actions in the learner's seat gives the same profits again."""
    game = two_seats()
    names = {f"vpp_{mpc_seat}": "mpc", f"vpp_{1 - mpc_seat}": "rule"}
    result = play(game, names, seed=5)
    expected = by_hand(two_seats(), 5, mpc_seat)
    assert result.profits == expected
    assert result.steps == 48 and len(result.prices) == 24 and np.all(np.diff(result.intervals) == 1)
    assert result.profits["vpp_0"] != result.profits["vpp_1"]
    for agent in names:
        assert result.totals[agent]["energy_da.cash"] != 0.0
    # the same game through the single-agent view: the rule is the learner, MPC the rival
    rule_seat = 1 - mpc_seat
    view = MarketGameEnv(TASK, overrides=TWO, seat=rule_seat, rivals="mpc")
    rival = view.rivals[f"vpp_{mpc_seat}"]
    assert isinstance(rival, LimitCurveBids)
    mpc = rival.policy
    assert isinstance(mpc, MpcPolicy) and isinstance(mpc._env, PriceTakerSeat)
    assert mpc._env.seat is view.multi.envs[mpc_seat]  # built on its own seat: its config, its live state
    assert mpc._env.config.resources == view.multi.envs[mpc_seat].config.resources
    learner = PriceThresholdPolicy(view)
    obs, info = view.reset(seed=5)
    total, done = 0.0, False
    while not done:
        obs, r, done, _, info = view.step(learner.act(obs, info))
        total += r
    assert total == result.rewards[f"vpp_{rule_seat}"] == result.totals[f"vpp_{rule_seat}"]["reward"]
    assert result.rewards[f"vpp_{rule_seat}"] != result.profits[f"vpp_{rule_seat}"]  # reward.scale x profit
    assert view.rivals[f"vpp_{mpc_seat}"].policy is not mpc  # remade with the episode's seed
    # and the other way round: MPC is the learner (built by hand on its seat), the rule the rival
    view = MarketGameEnv(TASK, overrides=TWO, seat=mpc_seat, rivals="rule")
    learner = MpcPolicy(PriceTakerSeat(seat_env(view.multi, mpc_seat)), replan_every=4, seed=policy_seed(5, mpc_seat))
    obs, info = view.reset(seed=5)
    total, rival, done = 0.0, 0.0, False
    while not done:
        obs, r, done, _, info = view.step(limit_curve(view.multi.envs[mpc_seat], obs, learner.act(obs, info)))
        total += r
        rival += view.game_infos[f"vpp_{rule_seat}"]["reward"]
    assert total == result.rewards[f"vpp_{mpc_seat}"] and rival == result.rewards[f"vpp_{rule_seat}"]


def test_same_seed_same_trajectory() -> None:
    """Two views, MPC rival: the same seed gives the same trajectory, bit for bit; seeded resets repeat it and an
    unseeded reset after a seeded one continues reproducibly."""

    def episodes(view: MarketGameEnv) -> list[Any]:
        out = []
        for seed in (3, None, 3):
            out.append(view.reset(seed=seed))
            out += [view.step(a) for a in random_actions(view.action_space, 1, 48)]
        return out

    a, b = (episodes(MarketGameEnv(TASK, overrides=HOURLY, rivals="mpc")) for _ in range(2))
    assert all(same(x, y) for x, y in zip(a, b, strict=True))
    assert all(same(x, y) for x, y in zip(a[:49], a[98:], strict=True))  # the first and third episodes
    assert not all(same(x, y) for x, y in zip(a[:49], a[49:98], strict=True))


@pytest.mark.parametrize("rivals", ["mpc", ["rule", "passive"]])
def test_gymnasium_and_sb3_checkers(rivals: Any) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make("vpp_gym/MarketGame-v0", overrides=HOURLY, rivals=rivals, seat=1, public_obs=rivals == "mpc")
    check_env(env.unwrapped, skip_render_check=True)
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")  # SB3's checker warns of what it does not support
        sb3_checker.check_env(env.unwrapped)


def test_bad_inputs_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"rivals\.vpp_1: unknown policy 'nope'"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals="nope")
    with pytest.raises(ConfigError, match=r"seat=2: no such seat in a game of 2 agents"):
        MarketGameEnv(TASK, overrides=HOURLY, seat=2)
    with pytest.raises(ConfigError, match=r"seat='vpp_7'"):
        MarketGameEnv(TASK, overrides=HOURLY, seat="vpp_7")
    with pytest.raises(ConfigError, match=r"rivals: 2 policies for 1 rival seats"):
        MarketGameEnv(TASK, n_agents=2, overrides=HOURLY, rivals=["rule", "mpc"])
    with pytest.raises(ConfigError, match=r"rivals: 1 policies for 2 rival seats \(a game of 3"):
        MarketGameEnv(TASK, overrides=[HOURLY] * 3, rivals=["rule"])
    with pytest.raises(ConfigError, match=r"rivals\.vpp_0: vpp_0 is the learner's seat"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals={"vpp_0": "rule", "vpp_1": "rule"})
    with pytest.raises(ConfigError, match=r"rivals: no policy for vpp_2"):
        MarketGameEnv(TASK, n_agents=3, overrides=HOURLY, rivals={"vpp_1": "rule"})
    with pytest.raises(ConfigError, match=r"rivals\.vpp_1: the oracle cannot play seat vpp_1"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals="oracle")
    with pytest.raises(ConfigError, match=r"rivals\.vpp_1\.name=3"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals={"name": 3})
    with pytest.raises(ConfigError, match=r"rivals\.replan_every: no such seat.*with a 'name'"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals={"replan_every": 4})
    with pytest.raises(ConfigError, match=r"rivals\.vpp_1: .*'ppo' is a trained agent"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals="ppo")
    published = Path(__file__).parents[2] / "models" / "ppo_arbitrage_s0"  # trained on the price-taker layout
    if published.is_dir():
        with pytest.raises(ConfigError, match=r"rivals\.vpp_1: .*ppo_arbitrage_s0 was trained on another layout"):
            MarketGameEnv(TASK, overrides=HOURLY, rivals=str(published))
    with pytest.raises(ConfigError, match=r"rivals\.vpp_1: make_policy: no registered policy takes the setting 'foo'"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals={"name": "mpc", "foo": 1})
    with pytest.raises(ConfigError, match=r"rivals\.vpp_1\.bids='fancy': expected one of limit, flat"):
        MarketGameEnv(TASK, overrides=HOURLY, rivals={"name": "mpc", "bids": "fancy"})
    flat = MarketGameEnv(TASK, overrides=HOURLY, rivals={"name": "mpc", "bids": "flat"})
    assert isinstance(flat.rivals["vpp_1"], MpcPolicy)  # the planner's own flat curves, unwrapped
    game = MultiVppEnv(TASK, n_agents=2, overrides=HOURLY)  # one config: the batched core by default
    with pytest.raises(ConfigError, match=r"batched: .*construct it with batched=False"):
        play(game, ["rule", "rule"], seed=0)
    game = two_seats()
    with pytest.raises(ConfigError, match=r"policies: no policy for vpp_1"):
        play(game, {"vpp_0": "rule"}, seed=0)
    with pytest.raises(ConfigError, match=r"policies\.vpp_2: no such seat"):
        play(game, {"vpp_0": "rule", "vpp_1": "rule", "vpp_2": "rule"}, seed=0)
    with pytest.raises(ConfigError, match=r"policies: 1 policies for 2 seats"):
        play(game, ["rule"], seed=0)
    with pytest.raises(ConfigError, match=r"policies\.vpp_1=3"):
        play(game, ["rule", 3], seed=0)


@pytest.mark.rl
def test_a_trained_agent_plays_a_seat(tmp_path: Path) -> None:
    """A run folder of an agent trained on the view (here: an untrained PPO saved as ``vpp-gym train`` saves it)
    plays a rival seat: its actions are the loaded policy's on the seat's observation, as stepped by hand."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from agents.rl.artifacts import MODEL, ObsNormalizer, save_unit, spaces_record
    from agents.rl.policy import RlPolicy

    venv = VecNormalize(DummyVecEnv([lambda: MarketGameEnv(TASK, overrides=HOURLY, public_obs=True)]))
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, seed=0, device="cpu")
    venv.reset()
    venv.step(np.zeros((1, *venv.action_space.shape), dtype=np.float32))  # some statistics for the normaliser
    run = tmp_path / "run"
    run.mkdir()
    (run / "meta.json").write_text(json.dumps({"algo": "ppo"}))

    def write(folder: Path) -> None:
        model.save(folder / MODEL)
        ObsNormalizer.from_vecnormalize(venv).save(folder)

    save_unit(run, "best", write, {"timesteps": 0, "algo": "ppo", "spaces": spaces_record(venv)})
    assert spaces_record(venv)["observation_names"][-2:] == ["market_price", "market_award"]

    view = MarketGameEnv(TASK, overrides=HOURLY, seat=1, rivals=str(run), public_obs=True)
    rival = view.rivals["vpp_0"]
    assert isinstance(rival, RlPolicy)
    result = play(view.multi, [{"name": "ppo", "run": str(run)}, "rule"], seed=2)
    game = MultiVppEnv(TASK, overrides=HOURLY, batched=False, public_obs=True)
    by_hand = {"vpp_0": RlPolicy.load(run), "vpp_1": PriceThresholdPolicy(game.envs[1])}
    obs, infos = game.reset(seed=2)
    returns = dict.fromkeys(by_hand, 0.0)
    while game.agents:
        obs, rewards, _, _, infos = game.step({a: p.act(obs[a], infos[a]) for a, p in by_hand.items()})
        for a, r in rewards.items():
            returns[a] += r
    assert result.rewards == returns
    with pytest.raises(ConfigError, match=r"rivals\.vpp_1: .*another layout"):  # without the public rows
        MarketGameEnv(TASK, overrides=HOURLY, rivals=str(run))
