"""The policy registry: names, settings, errors; the trivial baselines; ``is_summed`` against hand-picked keys."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from agents import registry
from agents.base import PassivePolicy, Policy, RandomPolicy, is_summed
from agents.mpc import MpcPolicy
from agents.oracle import OraclePolicy
from agents.registry import make_policy, policy_names, register_policy
from agents.rl.demo import _teacher
from agents.rule import MicrogridPolicy, PriceThresholdPolicy
from vpp_gym.validation import ConfigError


@pytest.fixture(scope="module")
def env() -> gym.Env:
    return gym.make("vpp_gym/Joint-v0")


def test_built_in_policies_by_name(env: gym.Env) -> None:
    expected = {
        "passive": PassivePolicy,
        "rule": PriceThresholdPolicy,
        "microgrid": MicrogridPolicy,
        "mpc": MpcPolicy,
        "mpc_obs": MpcPolicy,
        "oracle": OraclePolicy,
        "random": RandomPolicy,
    }
    assert policy_names(trained=False) == tuple(expected)
    assert policy_names(trained=True) == ("ppo", "sac", "rllib")
    for name, cls in expected.items():
        policy = make_policy(name, env, seed=3)  # a setting a policy does not take is not passed to it
        assert type(policy) is cls and isinstance(policy, Policy)


def test_unknown_policy_is_an_error_naming_the_valid_ones(env: gym.Env) -> None:
    with pytest.raises(ConfigError, match="unknown policy 'dqn'") as err:
        make_policy("dqn", env)
    for name in ("passive", "rule", "microgrid", "mpc", "oracle", "random", "ppo", "sac"):
        assert name in str(err.value)
    with pytest.raises(ConfigError, match="unknown policy 'dqn'"):  # never a silent random teacher
        _teacher("dqn", env, 0)


def test_settings_reach_the_policy_that_takes_them(env: gym.Env) -> None:
    mpc = make_policy("mpc", env, seed=3, replan_every=2, horizon_steps=5)
    assert (mpc.replan_every, mpc.horizon_steps) == (2, 5)
    assert make_policy("mpc", env).replan_every == 4  # the evaluation's default, not MpcPolicy's 1
    obs = np.zeros((1, 3))
    a = make_policy("random", env, seed=7).act(obs, {})
    b = make_policy("random", env, seed=7).act(obs, {})
    assert np.array_equal(a, b) and not np.array_equal(a, make_policy("random", env, seed=8).act(obs, {}))
    with pytest.raises(TypeError, match="no registered policy takes the setting 'replan_evry'"):
        make_policy("mpc", env, replan_evry=2)
    with pytest.raises(ConfigError, match="trained agent: give its run folder, ppo=RUN_DIR"):
        make_policy("ppo", env)
    with pytest.raises(ConfigError, match="not a run folder"):
        make_policy("sac", env, run="/nowhere")


def test_register_policy_checks_its_arguments(env: gym.Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    with pytest.raises(ValueError, match="already registered"):
        register_policy("rule", lambda env: PassivePolicy(env), "again")
    with pytest.raises(ValueError, match="without '=' or ','"):
        register_policy("a=b", lambda env: PassivePolicy(env), "bad name")
    with pytest.raises(ValueError, match="must name its settings"):
        register_policy("loose", lambda env, **kw: PassivePolicy(env), "takes anything")

    def idle(env: gym.Env, level: float = 0.0) -> Policy:
        return PassivePolicy(env)

    register_policy("idle", idle, "a policy registered by a user")
    assert "idle" in policy_names() and type(make_policy("idle", env, level=1.0, seed=2)) is PassivePolicy


def test_passive_policy_uses_no_flexibility(env: gym.Env) -> None:
    p = env.unwrapped.params
    a = make_policy("passive", env).act(np.zeros(3), {})
    gas = p.action_index["gas"]
    assert a[gas] == -1.0 and not np.delete(a, gas).any()  # gas off, everything else at 0
    assert make_policy("passive", env).act(np.zeros((4, 3)), {}).shape == (4, len(a))


def test_is_summed_follows_the_schema() -> None:
    # amounts add up over an episode; prices, powers, scores and running totals do not
    for key in ("profit", "energy_da.cash", "cost.fuel", "penalty.imbalance", "carbon.emissions_t"):
        assert is_summed(key), key
    for key in ("energy_da.price_per_mwh", "battery.applied_mw", "regulation.score", "carbon.net_position_t"):
        assert not is_summed(key), key
    assert not is_summed("series.price_da_per_mwh") and not is_summed("t")
