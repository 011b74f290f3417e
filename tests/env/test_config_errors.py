"""Every class of bad configuration, bad reset option and bad action gives a message that names it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import vpp_gym
from vpp_gym.config import ScenarioConfig, build_config, dump_yaml
from vpp_gym.validation import ConfigError, ConfigWarning, from_mapping

ARB = "vpp_gym/Arbitrage-v0"


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"resources": {"battery": {"e_max_mwh": -1}}}, r"resources\.battery\.e_max_mwh: got -1"),
        (
            {"resources": {"battery": {"soc_min": 0.9, "soc_max": 0.2}}},
            r"resources\.battery\.soc_max: got 0\.2.*soc_min",
        ),
        (
            {"resources": {"battery": {"e_max_mwh": "big"}}},
            r"resources\.battery\.e_max_mwh: got 'big', expected a number",
        ),
        ({"resources": {"batery": {}}}, r"resources: unknown key 'batery' \(did you mean 'battery'\?\)"),
        ({"time": {"interval_minutes": 7}}, r"time\.interval_minutes: got 7.*divides a day"),
        ({"time": {"episode_hours": 1.1}}, r"time\.episode_hours: got 1\.1.*whole number"),
        ({"markets": {"energy": {"da_lead_steps": 0}}}, r"markets\.energy\.da_lead_steps: got 0"),
        ({"forecast": {"horizon_steps": 3}}, r"forecast\.horizon_steps: got 3.*da_lead_steps=4"),
        ({"forecast": {"pv_sigma": -0.1}}, r"forecast\.pv_sigma: got -0\.1"),
        ({"resources": {"flex_load": {"shift_window_h": 0.3}}}, r"resources\.flex_load\.shift_window_h: got 0\.3"),
        ({"resources": {"flex_load": {"curtail_share": 0.6, "shift_share": 0.6}}}, r"shift_share: got 0\.6"),
        ({"data": {"source": "files"}}, r"data\.files: got None"),
        ({"data": {"splits": {"train_frac": 0.9, "val_frac": 0.1}}}, r"data\.splits\.val_frac.*test split"),
        ({"data": {"splits": {"test_start": "2025-13-01"}}}, r"data\.splits\.test_start: got '2025-13-01'"),
        ({"resources": {"pv": None, "battery": None, "flex_load": None}}, r"resources: .*at least one resource"),
        ({"reward": {"scale": 0}}, r"reward\.scale: got 0"),
        ({"colour": "red"}, r"unknown key 'colour'"),
        ({"overrides": {"resources.battery.eta_charge": 1.5}}, r"resources\.battery\.eta_charge: got 1\.5"),
    ],
)
def test_bad_config_names_key_and_value(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        gym.make(ARB, **kwargs)


def test_yaml_file_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: 'nope\.yaml'"):
        gym.make(ARB, config="nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("resources: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        gym.make(ARB, config=str(bad))
    seq = tmp_path / "seq.yaml"
    seq.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        gym.make(ARB, config=str(seq))


def test_yaml_round_trip_and_override_precedence(tmp_path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("resources:\n  battery: {e_max_mwh: 8.0}\n  pv: null\nreward: {scale: 0.01}\n")
    env = gym.make(ARB, config=str(f), overrides={"reward.scale": 0.5}).unwrapped
    cfg = env.config
    assert cfg.resources.battery.e_max_mwh == 8.0 and cfg.resources.battery.p_charge_max_mw == 2.0
    assert cfg.resources.pv is None and "pv_curtail" not in env.action_names
    assert cfg.reward.scale == 0.5  # keyword overrides beat the file
    again, _ = build_config(None, from_mapping(ScenarioConfig, __import__("yaml").safe_load(dump_yaml(cfg))))
    assert again == cfg


def test_reset_option_and_action_errors() -> None:
    env = gym.make(ARB)
    with pytest.raises(ValueError, match="unknown key 'date'"):
        env.reset(options={"date": "2025-01-01"})
    with pytest.raises(ValueError, match="split='training'"):
        env.reset(options={"split": "training"})
    with pytest.raises(ValueError, match=r"day=10000.*index in \[0, "):
        env.reset(options={"day": 10_000})
    with pytest.raises(ValueError, match="not an episode day of the 'test' split"):
        env.reset(options={"split": "test", "day": "2025-01-05"})
    _obs, info = env.reset(options={"split": "test", "day": 2})
    day = info["start"][:10]
    _, info2 = env.reset(options={"split": "test", "day": day})
    assert info2["day_index"] == 2
    n = env.action_space.shape[0]
    with pytest.raises(ValueError, match=r"action\[1\] \('battery'\) = 1.5 is outside \[-1, 1\]"):
        env.step(np.array([0, 1.5] + [0] * (n - 2)))
    with pytest.raises(ValueError, match=r"action\[0\] \('da_position'\) = nan"):
        env.step(np.array([np.nan] + [0] * (n - 1)))
    with pytest.raises(ValueError, match=r"action has shape \(3,\)"):
        env.step(np.zeros(3))


def test_regulation_shortfall_penalty_is_reported_unused_on_the_hour_ahead_timeline() -> None:
    # regulation awarded inside the interval is capped at the headroom and cannot fall short: the key
    # applies to D-1 awards only, and setting it on the hour-ahead timeline is reported, not ignored
    with pytest.warns(ConfigWarning, match=r"markets\.regulation\.shortfall_penalty_per_mwh = 99999\.0 has no effect"):
        gym.make("vpp_gym/Regulation-v0", markets={"regulation": {"shortfall_penalty_per_mwh": 99_999.0}})


# -- issue 16 -----------------------------------------------------------------------------------------------


def test_numpy_scalars_are_numbers() -> None:
    env = gym.make(
        ARB,
        overrides={
            "resources.battery.e_max_mwh": np.float32(8.0),
            "resources.battery.soc_init": np.float64(0.5),
            "markets.energy.da_lead_steps": np.int64(2),
            "forecast.horizon_steps": np.int32(4),
            "resources.pv.curtailable": np.bool_(False),
        },
    ).unwrapped
    b = env.config.resources.battery
    assert b.e_max_mwh == 8.0 and type(b.e_max_mwh) is float and type(b.soc_init) is float
    assert env.config.markets.energy.da_lead_steps == 2 and type(env.config.markets.energy.da_lead_steps) is int
    assert env.config.resources.pv.curtailable is False
    with pytest.raises(ConfigError, match=r"resources\.battery\.e_max_mwh: got True, expected a number"):
        gym.make(ARB, overrides={"resources.battery.e_max_mwh": np.bool_(True)})


def test_messages_print_values_plainly_with_every_digit() -> None:
    with pytest.raises(ConfigError) as err:
        gym.make(ARB, overrides={"forecast.pv_sigma": 5.0000001})
    assert str(err.value) == "forecast.pv_sigma: got 5.0000001, expected a number in [0, 5]"
    with pytest.raises(ConfigError) as err:
        gym.make(ARB, overrides={"resources.battery.e_max_mwh": np.float64(np.inf)})
    assert str(err.value) == "resources.battery.e_max_mwh: got inf, expected a finite number"
    with pytest.raises(ConfigError, match=r"got -0\.5, expected a number in \[0, 10000\]$"):
        gym.make(ARB, overrides={"resources.pv.p_max_mw": np.float32(-0.5)})


def test_a_yaml_key_given_twice_is_an_error(tmp_path) -> None:
    f = tmp_path / "twice.yaml"
    f.write_text("resources:\n  battery: {e_max_mwh: 8.0}\n  battery: {e_max_mwh: 2.0}\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml: not valid YAML: .*found the key 'battery' twice"):
        gym.make(ARB, config=str(f))
    f.write_text("reward: {scale: 0.1, scale: 0.2}\n")
    with pytest.raises(ConfigError, match="found the key 'scale' twice"):
        gym.make(ARB, config=str(f))


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes("name: 'Müller'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8 text .*save the file as UTF-8"):
        gym.make(ARB, config=str(f))
    with pytest.raises(ConfigError, match="config file is a folder, not a file"):
        gym.make(ARB, config=str(tmp_path))


@pytest.mark.parametrize("start", ["2300-01-01", "1600-01-01", "2261-12-01"])
def test_synthetic_start_outside_the_timestamp_range_is_a_config_error(start: str) -> None:
    with pytest.raises(ConfigError, match=rf"data\.synthetic\.start: got '{start}', expected a date from 1678-01-01"):
        gym.make(ARB, overrides={"data.synthetic.start": start})


def test_a_key_without_effect_is_reported() -> None:
    from vpp_gym.validation import ConfigWarning

    with pytest.warns(ConfigWarning, match=r"resources\.ev\.p_discharge_max_mw = 2\.0 has no effect: .*v2g is false"):
        gym.make("vpp_gym/Joint-v0", overrides={"resources.ev.v2g": False, "resources.ev.p_discharge_max_mw": 2.0})
    with pytest.warns(ConfigWarning, match=r"markets\.energy\.need_mw = 50\.0 has no effect: .*'price_taker'"):
        gym.make(ARB, overrides={"markets.energy.need_mw": 50.0})
    with pytest.warns(ConfigWarning, match=r"markets\.carbon\.band_t = 5\.0 has no effect"):
        gym.make(ARB, overrides={"markets.carbon.band_t": 5.0})


@pytest.mark.filterwarnings("error::vpp_gym.validation.ConfigWarning")
@pytest.mark.parametrize("preset", [None, "invitation", "transaction", "autonomous"])
def test_task_defaults_and_presets_set_no_key_without_effect(preset: str | None) -> None:
    from vpp_gym.config import packaged_config

    for env_id in vpp_gym.TASKS:
        gym.make(env_id, config=str(packaged_config(f"markets/{preset}.yaml")) if preset else None)
