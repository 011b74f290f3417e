"""The intraday price ``price_id_per_mwh``: derived from DA and RT by hand, taken from files, range-checked,
its seeded deviation reproducible and independent of every other series, its keys validated."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym.config import DataConfig
from vpp_gym.data import COLUMN_NAMES, ColumnMap, DataError, FilesConfig, FileSource, build_from_files, load_series
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.data.synthetic import SyntheticConfig, derive_price_id, generate
from vpp_gym.scenario import scenario_series
from vpp_gym.validation import ConfigError, from_mapping

ID = "price_id_per_mwh"
ROOT = Path(__file__).resolve().parents[2]
ERCOT_CONFIG = ROOT / "configs" / "scenarios" / "ercot_caiso_2022.yaml"
REAL_DATA = ROOT.parent / "shared" / "data"

# three 8-hour intervals: one day; by hand, DA + w (RT - DA) for w = 0.5 and 0.25 (all exact in binary)
DA = [100.0, -50.0, 300.0]
RT = [140.0, 10.0, 200.0]
BY_HAND = {0.5: [120.0, -20.0, 250.0], 0.25: [110.0, -35.0, 275.0]}


def _write(path: Path, **columns: list[float]) -> Path:
    """A 3-row CSV of 8-hour intervals from 2022-01-01 00:00 UTC, timestamps in ``time``."""
    stamps = pd.date_range("2022-01-01", periods=3, freq="8h").strftime("%Y-%m-%d %H:%M:%S")
    pd.DataFrame({"time": stamps, **columns}).to_csv(path, index=False)
    return path


def _source(path: Path, **columns: ColumnMap) -> FileSource:
    return FileSource(path=str(path), timestamp_column="time", columns=columns)


@pytest.mark.parametrize("id_weight", [0.5, 0.25])
@pytest.mark.parametrize("fill_missing", ["synthetic", "error"])
def test_the_derivation_by_hand_on_a_three_row_file(tmp_path: Path, id_weight: float, fill_missing: str) -> None:
    # "synthetic": the file gives DA and RT, the rest is synthesized (generate_for_index derives the price);
    # "error": the file gives every required column, nothing is synthesized (the price is still derived)
    others = {} if fill_missing == "synthetic" else {c: [0.5] * 3 for c in COLUMN_NAMES[2:]}
    path = _write(tmp_path / "prices.csv", da=DA, rt=RT, **others)
    cols = {"price_da_per_mwh": ColumnMap("da"), "price_rt_per_mwh": ColumnMap("rt")}
    cols.update({c: ColumnMap(c) for c in others})
    cfg = FilesConfig(
        sources=(_source(path, **cols),),
        fill_missing=fill_missing,  # type: ignore[arg-type]
        synthetic=SyntheticConfig(id_weight=id_weight),
    )
    s = build_from_files(cfg, 480, tmp_path)
    assert len(s) == 3
    np.testing.assert_array_equal(s.values[ID], BY_HAND[id_weight])
    np.testing.assert_array_equal(s.values["price_da_per_mwh"], DA)
    np.testing.assert_array_equal(s.values["price_rt_per_mwh"], RT)
    assert f"price_id_per_mwh derived: price_da + {id_weight:g} * (price_rt - price_da)" in "\n".join(s.notes)
    assert any("synthesized" in n for n in s.notes) == (fill_missing == "synthetic")


def test_a_file_that_provides_the_column_uses_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "prices.csv", da=DA, rt=RT, intraday=[7.0, 8.0, 9.0])
    src = _source(
        path,
        price_da_per_mwh=ColumnMap("da"),
        price_rt_per_mwh=ColumnMap("rt"),
        price_id_per_mwh=ColumnMap("intraday", scale=2.0, offset=1.0),
    )
    s = build_from_files(FilesConfig(sources=(src,), synthetic=SyntheticConfig(id_sigma_rel=0.5)), 480, tmp_path)
    np.testing.assert_array_equal(s.values[ID], [15.0, 17.0, 19.0])  # 2 * value + 1, not DA + w (RT - DA)
    assert not any("price_id_per_mwh derived" in n for n in s.notes)
    # a complete scenario file keeps it too
    frame = generate(SyntheticConfig(days=1)).to_frame()
    frame[ID] = np.arange(len(frame), dtype=np.float64) - 40.0
    frame.to_csv(tmp_path / "scenario.csv", index=False)
    np.testing.assert_array_equal(load_series(tmp_path / "scenario.csv").values[ID], frame[ID].to_numpy())


def test_the_range_check_names_the_column_and_the_row(tmp_path: Path) -> None:
    frame = generate(SyntheticConfig(days=1)).to_frame()
    frame.loc[2, ID] = 100_000.5  # above the energy prices' cap of 100000; rows count from 1
    frame.to_csv(tmp_path / "scenario.csv", index=False)
    with pytest.raises(DataError) as err:
        load_series(tmp_path / "scenario.csv")
    assert str(err.value) == (
        f"{tmp_path / 'scenario.csv'}: column 'price_id_per_mwh', row 3 (2025-01-01 00:30:00): value 100000.5 is "
        "outside the valid range [-10000, 100000] currency/MWh"
    )
    path = _write(tmp_path / "prices.csv", da=DA, intraday=[0.0, -10_001.0, 0.0])
    src = _source(path, price_da_per_mwh=ColumnMap("da"), price_id_per_mwh=ColumnMap("intraday"))
    with pytest.raises(DataError, match=r"column 'intraday .*', row 2 \(2022-01-01 08:00:00\): value -10001 .* of "):
        build_from_files(FilesConfig(sources=(src,)), 480, tmp_path)


def test_the_seeded_deviation_is_reproducible_and_leaves_every_other_series_bit_identical() -> None:
    base_cfg = SyntheticConfig(seed=5, days=14)
    dev_cfg = SyntheticConfig(seed=5, days=14, id_sigma_rel=0.2)
    base = scenario_series(DataConfig(synthetic=base_cfg), 15)
    dev = scenario_series(DataConfig(synthetic=dev_cfg), 15)
    assert dev is not base  # the series cache tells the two apart (its key holds every data key)
    for name in ALL_NAMES:
        if name != ID:
            np.testing.assert_array_equal(dev.values[name], base.values[name], err_msg=name)
    da, rt = base.values["price_da_per_mwh"], base.values["price_rt_per_mwh"]
    np.testing.assert_array_equal(base.values[ID], da + 0.5 * (rt - da))  # id_sigma_rel 0: no deviation
    # reproducible: a fresh generation, and the files path's derivation on the same index, give the same bits
    np.testing.assert_array_equal(generate(dev_cfg).values[ID], dev.values[ID])
    np.testing.assert_array_equal(derive_price_id(dev_cfg, dev.timestamps, 15, da, rt), dev.values[ID])
    # the deviation: relative size id_sigma_rel, AR(1) with the correlation exp(-dt / id_noise_tau_h) at one step
    z = _unit_deviation(dev.values, 0.2)
    assert 0.7 < np.std(z) < 1.3
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1] - np.exp(-0.25)) < 0.1
    # another seed draws another deviation
    z6 = _unit_deviation(generate(SyntheticConfig(seed=6, days=14, id_sigma_rel=0.2)).values, 0.2)
    assert abs(np.corrcoef(z, z6)[0, 1]) < 0.2


def _unit_deviation(values: dict[str, np.ndarray], sigma_rel: float) -> np.ndarray:
    """``(ID - DA - 0.5 (RT - DA)) / (sigma_rel * ref)``, ``ref = max(|DA|, 0.2 mean |DA|)``: a unit AR(1) process."""
    da, rt = values["price_da_per_mwh"], values["price_rt_per_mwh"]
    ref = np.maximum(np.abs(da), 0.2 * np.mean(np.abs(da)))
    return (values[ID] - (da + 0.5 * (rt - da))) / (sigma_rel * ref)


@pytest.mark.parametrize(
    ("key", "value"),
    [("id_weight", 1.5), ("id_weight", -0.1), ("id_sigma_rel", 1.5), ("id_noise_tau_h", 0.0)],
)
def test_a_bad_parameter_is_a_config_error_naming_the_key(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"^data\.synthetic\.{key}: got "):
        gym.make("vpp_gym/Arbitrage-v0", overrides={f"data.synthetic.{key}": value})
    with pytest.raises(ConfigError, match=rf"^data\.files\.synthetic\.{key}: got "):
        from_mapping(SyntheticConfig, {key: value}, "data.files.synthetic")


@pytest.mark.realdata
@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} is absent")
def test_the_ercot_scenario_gets_the_same_derivation() -> None:
    s = gym.make("vpp_gym/Arbitrage-v0", config=str(ERCOT_CONFIG)).unwrapped.series
    da, rt = s.values["price_da_per_mwh"], s.values["price_rt_per_mwh"]
    np.testing.assert_array_equal(s.values[ID], da + 0.5 * (rt - da))
