"""experiments/carbon_sweep.py: the carbon keys each regime sets over the task's v1 defaults (no sweep is run)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from types import ModuleType

import pytest

from vpp_gym.config import build_config
from vpp_gym.markets.carbon import REGIMES, CarbonMarketConfig
from vpp_gym.tasks import LowCarbonEnv, LowCarbonV0Env
from vpp_gym.validation import ConfigWarning


@pytest.fixture(scope="module")
def sweep(experiment_script: Callable[[str], ModuleType]) -> ModuleType:
    return experiment_script("carbon_sweep")


def _carbon(defaults: dict, overrides: dict | None = None) -> CarbonMarketConfig:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # every key set has an effect
        cfg, _ = build_config(defaults, None, overrides)
    return cfg.markets.carbon


def test_the_script_sweeps_every_regime(sweep: ModuleType) -> None:
    assert set(sweep.REGIMES) == set(REGIMES)
    assert sweep.build_parser().parse_args([]).regimes == list(sweep.REGIMES)


@pytest.mark.parametrize("price", [0.0, 60.0, 300.0])
def test_stepped_price_overrides_are_the_lowcarbon_v0_carbon_keys(sweep: ModuleType, price: float) -> None:
    carbon = sweep.regime_overrides("stepped_price", price)["markets"]["carbon"]
    v0 = LowCarbonV0Env.DEFAULTS["markets"]["carbon"]
    # the v0 keys, the base price swept, and the v0 regime and certificates (implicit in v0: the defaults)
    assert carbon == {**v0, "price_per_t": price, "regime": "stepped_price", "certificates": "legacy"}
    defaults = CarbonMarketConfig()
    assert (defaults.regime, defaults.certificates) == ("stepped_price", "legacy")
    # resolved over the v1 task: the v0 carbon market bit for bit (the v0 code path), at the swept price
    on_v1 = _carbon(LowCarbonEnv.DEFAULTS, sweep.regime_overrides("stepped_price", price))
    assert on_v1 == dataclasses.replace(_carbon(LowCarbonV0Env.DEFAULTS), price_per_t=price)
    assert on_v1.legacy


@pytest.mark.parametrize("regime", ["pilot_ets", "national_ets"])
@pytest.mark.parametrize("price", [0.0, 75.0, 300.0])
def test_ets_overrides_keep_the_v1_rules_at_a_flat_price(sweep: ModuleType, regime: str, price: float) -> None:
    assert sweep.regime_overrides(regime, price) == {
        "markets": {"carbon": {"regime": regime, "pricing": "flat", "price_per_t": price}}
    }
    got = _carbon(LowCarbonEnv.DEFAULTS, sweep.regime_overrides(regime, price))
    v1 = _carbon(LowCarbonEnv.DEFAULTS)
    assert got == dataclasses.replace(v1, regime=regime, price_per_t=price)
    assert (got.pricing, got.certificates) == ("flat", "china_2023")


def test_pilot_ets_at_75_is_the_v1_default(sweep: ModuleType) -> None:
    assert _carbon(LowCarbonEnv.DEFAULTS, sweep.regime_overrides("pilot_ets", 75.0)) == _carbon(LowCarbonEnv.DEFAULTS)


def test_an_unknown_regime_is_refused(sweep: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown regime"):
        sweep.regime_overrides("ladder", 75.0)
    with pytest.raises(SystemExit) as exc:
        sweep.build_parser().parse_args(["--regimes", "pilot_ets", "ladder"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--regimes" in err and "invalid choice: 'ladder'" in err
