"""Scenarios from users' files: resampling by hand-computed numbers, year shifts, errors, real data."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Literal

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import yaml

import vpp_gym  # noqa: F401  (registers the ids)
from vpp_gym.data import (
    COLUMN_NAMES,
    ColumnMap,
    DataError,
    FilesConfig,
    FileSource,
    SyntheticConfig,
    build_from_files,
    generate,
)
from vpp_gym.data import sources as sources_module
from vpp_gym.validation import ConfigError, from_mapping

REAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _write(path: Path, start: str, freq: str, **columns: list[float] | np.ndarray) -> Path:
    n = len(next(iter(columns.values())))
    stamps = pd.date_range(start, periods=n, freq=freq).strftime("%Y-%m-%d %H:%M:%S")
    pd.DataFrame({"time": stamps, **columns}).to_csv(path, index=False)
    return path


def _source(
    path: Path | str, fill: Literal["ffill", "interpolate"] = "ffill", shift_years: int = 0, **columns: str
) -> FileSource:
    """A source with timestamps in ``time`` and ``schema column=file column`` mappings."""
    return FileSource(
        path=str(path),
        timestamp_column="time",
        fill=fill,
        shift_years=shift_years,
        columns={name: ColumnMap(col) for name, col in columns.items()},
    )


def test_hourly_to_15_min_by_ffill_and_by_interpolation(tmp_path: Path) -> None:
    hourly = [100.0, 20.0, 60.0, 60.0] + [50.0] * 44  # two days
    _write(tmp_path / "prices.csv", "2022-01-01", "h", p=hourly)
    for fill, first_12 in [
        ("ffill", [100] * 4 + [20] * 4 + [60] * 4),
        # values sit at the hour centres (00:30, 01:30, ...); targets at their centres (00:07:30, ...)
        ("interpolate", [100, 100, 90, 70, 50, 30, 25, 35, 45, 55, 60, 60]),
    ]:
        cfg = FilesConfig(sources=(_source("prices.csv", fill=fill, price_da_per_mwh="p"),))
        s = build_from_files(cfg, 15, base_dir=tmp_path)
        assert len(s) == 2 * 96 and s.interval_minutes == 15
        assert s.timestamps[0] == np.datetime64("2022-01-01T00:00")
        np.testing.assert_allclose(s.values["price_da_per_mwh"][:12], first_12, rtol=0, atol=1e-12)
        np.testing.assert_allclose(s.values["price_da_per_mwh"][20:], 50.0)
        assert s.source == "files(prices.csv)"
        assert any(("ffill" if fill == "ffill" else "interpolation") in note for note in s.notes)
        synth = [n for n in s.notes if n.startswith("synthesized")]
        assert len(synth) == 1 and "pv_cf" in synth[0] and "price_da_per_mwh," not in synth[0]
        assert "price_rt_per_mwh derived from the given price_da_per_mwh" in synth[0]


def test_5_min_to_15_and_60_min_by_mean_and_10_min_by_time_weighted_mean(tmp_path: Path) -> None:
    v = np.array([(i * 7) % 13 for i in range(288)]) / 20.0  # one day of 5-min values in [0, 0.6]
    _write(tmp_path / "ef.csv", "2022-01-01", "5min", ef=v)
    cfg = FilesConfig(sources=(_source("ef.csv", grid_ef_t_per_mwh="ef"),))
    s15 = build_from_files(cfg, 15, base_dir=tmp_path)
    ef = s15.values["grid_ef_t_per_mwh"]
    # by hand: (0 + 7 + 1) / 20 / 3 and (8 + 2 + 9) / 20 / 3
    assert ef[0] == pytest.approx(8 / 60, abs=1e-12) and ef[1] == pytest.approx(19 / 60, abs=1e-12)
    np.testing.assert_allclose(ef, v.reshape(96, 3).mean(axis=1), atol=1e-12)
    s60 = build_from_files(cfg, 60, base_dir=tmp_path)
    np.testing.assert_allclose(s60.values["grid_ef_t_per_mwh"], v.reshape(24, 12).mean(axis=1), atol=1e-12)
    # 10-min values on a 15-min grid: [0:00, 0:15) = (10 * w0 + 5 * w1) / 15,
    # [0:15, 0:30) = (5 * w1 + 10 * w2) / 15
    w = np.array([0.3, 0.6, 0.9] * 48)
    _write(tmp_path / "ef10.csv", "2022-01-01", "10min", ef=w)
    s = build_from_files(FilesConfig(sources=(_source("ef10.csv", grid_ef_t_per_mwh="ef"),)), 15, tmp_path)
    np.testing.assert_allclose(s.values["grid_ef_t_per_mwh"][:4], [0.4, 0.8, 0.4, 0.8], atol=1e-12)


def test_scale_and_offset_are_applied_and_checked_against_the_schema(tmp_path: Path) -> None:
    load_mw = np.linspace(10.0, 50.0, 24)
    price_usd = np.arange(24.0)
    _write(tmp_path / "site.csv", "2022-06-01", "h", load_mw=load_mw, usd=price_usd)
    src = FileSource(
        path="site.csv",
        timestamp_column="time",
        columns={
            "load_pu": ColumnMap("load_mw", scale=1 / 50.0),
            "price_da_per_mwh": ColumnMap("usd", scale=7.2, offset=5.0),
        },
    )
    s = build_from_files(FilesConfig(sources=(src,)), 60, tmp_path)
    np.testing.assert_allclose(s.values["load_pu"], load_mw / 50.0)
    np.testing.assert_allclose(s.values["price_da_per_mwh"], price_usd * 7.2 + 5.0)
    bad = FileSource(path="site.csv", timestamp_column="time", columns={"load_pu": ColumnMap("load_mw", scale=0.2)})
    with pytest.raises(DataError) as err:
        build_from_files(FilesConfig(sources=(bad,)), 60, tmp_path)
    msg = str(err.value)  # 25.65 MW * 0.2 > 5 at row 10 (09:00)
    assert msg.startswith("site.csv: column 'load_mw (as load_pu = value * 0.2 + 0)', row 10 (2022-06-01 09:00:00)")
    assert "[0, 5] per unit" in msg


def test_shift_years_keeps_calendar_intervals_and_handles_29_february(tmp_path: Path) -> None:
    rows = np.arange(5 * 24, dtype=np.float64) / 1000.0  # value = row number / 1000
    _write(tmp_path / "leap.csv", "2020-02-27", "h", ef=rows)  # 27 Feb .. 2 Mar 2020 (has 29 Feb)
    cfg = FilesConfig(
        sources=(_source("leap.csv", shift_years=1, grid_ef_t_per_mwh="ef"),), start="2021-02-27", end="2021-03-02"
    )
    s = build_from_files(cfg, 60, tmp_path)
    ef = s.values["grid_ef_t_per_mwh"]
    assert len(s) == 3 * 24
    np.testing.assert_allclose(ef[:48], rows[:48])  # 27 and 28 Feb
    np.testing.assert_allclose(ef[48:], rows[72:96])  # 1 Mar 2021 <- 1 Mar 2020; 29 Feb dropped
    assert any("shifted by +1 year" in note for note in s.notes)

    _write(tmp_path / "plain.csv", "2021-02-27", "h", ef=rows[:96])  # 27 Feb .. 2 Mar 2021
    cfg = FilesConfig(
        sources=(_source("plain.csv", shift_years=-1, grid_ef_t_per_mwh="ef"),), start="2020-02-27", end="2020-03-03"
    )
    ef = build_from_files(cfg, 60, tmp_path).values["grid_ef_t_per_mwh"]
    np.testing.assert_allclose(ef[:48], rows[:48])  # 27, 28 Feb
    np.testing.assert_allclose(ef[48:72], rows[24:48])  # 29 Feb 2020 = a copy of 28 Feb
    np.testing.assert_allclose(ef[72:], rows[48:96])  # 1, 2 Mar


def test_a_column_from_two_sources_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    mapping = {
        "sources": [
            {"path": "a.csv", "columns": {"price_da_per_mwh": {"column": "p"}}},
            {"path": "b.csv", "columns": {"pv_cf": {"column": "pv"}, "price_da_per_mwh": {"column": "q"}}},
        ]
    }
    with pytest.raises(ConfigError) as err:
        from_mapping(FilesConfig, mapping, "data.files")
    msg = str(err.value)
    assert msg.startswith("data.files.sources[1].columns.price_da_per_mwh:") and "sources[0] (a.csv)" in msg
    with pytest.raises(ConfigError, match=r"data\.files\.sources\[0\]\.columns\.price_da:"):
        from_mapping(
            FilesConfig, {"sources": [{"path": "a.csv", "columns": {"price_da": {"column": "p"}}}]}, "data.files"
        )


def test_periods_that_do_not_overlap_or_do_not_cover_the_window(tmp_path: Path) -> None:
    _write(tmp_path / "jan.csv", "2022-01-01", "h", p=[50.0] * 48)
    _write(tmp_path / "mar.csv", "2022-03-01", "h", ef=[0.5] * 48)
    _write(tmp_path / "half.csv", "2022-01-01 12:00", "h", ef=[0.5] * 24)
    jan = _source("jan.csv", price_da_per_mwh="p")
    with pytest.raises(DataError) as err:
        build_from_files(FilesConfig(sources=(jan, _source("mar.csv", grid_ef_t_per_mwh="ef"))), 15, tmp_path)
    msg = str(err.value)
    assert "do not overlap" in msg
    assert "jan.csv covers 2022-01-01 00:00:00 to 2022-01-03 00:00:00" in msg
    assert "mar.csv covers 2022-03-01 00:00:00 to 2022-03-03 00:00:00" in msg
    half = _source("half.csv", grid_ef_t_per_mwh="ef")
    with pytest.raises(DataError, match="shorter than one day"):  # overlap 12:00 .. 12:00 next day
        build_from_files(FilesConfig(sources=(jan, half)), 15, tmp_path)
    with pytest.raises(DataError, match=r"2022-01-02 00:00:00 to 2022-01-04 00:00:00 is not covered by jan"):
        build_from_files(FilesConfig(sources=(jan,), start="2022-01-02", end="2022-01-04"), 15, tmp_path)


def test_fill_missing_error_lists_the_missing_columns(tmp_path: Path) -> None:
    _write(tmp_path / "two.csv", "2022-01-01", "h", p=[50.0] * 24, pv=[0.0] * 24)
    cfg = FilesConfig(sources=(_source("two.csv", price_da_per_mwh="p", pv_cf="pv"),), fill_missing="error")
    with pytest.raises(DataError) as err:
        build_from_files(cfg, 60, tmp_path)
    listed = re.search(r"column\(s\) (.*?) and", str(err.value)).group(1).split(", ")  # type: ignore[union-attr]
    assert listed == [c for c in COLUMN_NAMES if c not in ("price_da_per_mwh", "pv_cf")]
    # with every column given, nothing is synthesized
    full = {name: np.full(24, 0.5) for name in COLUMN_NAMES}
    _write(tmp_path / "all.csv", "2022-01-01", "h", **full)
    cfg = FilesConfig(sources=(_source("all.csv", **{c: c for c in COLUMN_NAMES}),), fill_missing="error")
    s = build_from_files(cfg, 30, tmp_path)
    assert len(s) == 48 and not any("synthesized" in note for note in s.notes)
    np.testing.assert_array_equal(s.values["ev_plugged_share"], 0.5)


def test_missing_file_names_the_path_as_given_and_as_resolved(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    _write(tmp_path / "data.csv", "2022-01-01", "h", p=[50.0] * 24)
    ok = FilesConfig(sources=(_source("../data.csv", price_da_per_mwh="p"),))
    assert len(build_from_files(ok, 60, tmp_path / "cfg")) == 24  # resolved against base_dir
    cfg = FilesConfig(sources=(_source("../nope.csv", price_da_per_mwh="p"),))
    with pytest.raises(DataError) as err:
        build_from_files(cfg, 60, tmp_path / "cfg")
    assert str(err.value).startswith("../nope.csv: file not found")
    assert str((tmp_path / "nope.csv").resolve()) in str(err.value)


@pytest.mark.realdata
def test_real_ercot_prices_with_caiso_emission_rates_shifted_a_year() -> None:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data folder {REAL_DATA} is absent (it lives beside the checkout)")
    # the YAML example of the module docstring, with its paths pointed at the data folder
    example = re.search(r"```yaml\n(.*?)```", sources_module.__doc__ or "", re.S).group(1)  # type: ignore[union-attr]
    mapping = yaml.safe_load(example)
    assert mapping["time"]["interval_minutes"] == 15
    files = mapping["data"]["files"]
    for src in files["sources"]:
        src["path"] = str(REAL_DATA / Path(src["path"]).name)
    cfg = from_mapping(FilesConfig, files, "data.files")
    s = build_from_files(cfg, 15)
    assert s.timestamps[0] == np.datetime64("2022-03-01T00:00") and len(s) == 61 * 96
    frame = s.to_frame().set_index("timestamp")

    with (REAL_DATA / "ercot_dam_2022_hub_prices.csv").open(newline="") as fh:
        houston = {row["interval_start_utc"][:13]: float(row["hb_houston_usd_per_mwh"]) for row in csv.DictReader(fh)}
    with (REAL_DATA / "caiso_sce_moer_2021_5min.csv").open(newline="") as fh:
        moer = {row["time_utc"][:16]: float(row["moer_t_per_mwh"]) for row in csv.DictReader(fh)}
    for stamp in ["2022-03-01 00:00", "2022-03-13 07:45", "2022-04-10 18:30", "2022-04-30 23:15"]:
        t = pd.Timestamp(stamp)
        assert frame.loc[t, "price_da_per_mwh"] == houston[stamp[:13]]
        same_2021 = [
            moer[(t.replace(year=2021) + pd.Timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M")] for m in (0, 5, 10)
        ]
        assert frame.loc[t, "grid_ef_t_per_mwh"] == pytest.approx(np.mean(same_2021), abs=1e-12)

    # every interval, against pandas resampling
    ercot = pd.read_csv(REAL_DATA / "ercot_dam_2022_hub_prices.csv")
    hourly = pd.Series(
        ercot["hb_houston_usd_per_mwh"].to_numpy(),
        index=pd.to_datetime(ercot["interval_start_utc"]).dt.tz_localize(None),
    )
    expected_da = hourly.resample("15min").ffill().reindex(frame.index)
    np.testing.assert_array_equal(frame["price_da_per_mwh"].to_numpy(), expected_da.to_numpy())
    caiso = pd.read_csv(REAL_DATA / "caiso_sce_moer_2021_5min.csv")
    five = pd.Series(caiso["moer_t_per_mwh"].to_numpy(), index=pd.to_datetime(caiso["time_utc"]).dt.tz_localize(None))
    expected_ef = five.resample("15min").mean()
    expected_ef.index = expected_ef.index + pd.DateOffset(years=1)
    np.testing.assert_allclose(
        frame["grid_ef_t_per_mwh"].to_numpy(), expected_ef.reindex(frame.index).to_numpy(), atol=1e-12
    )
    rt = frame["price_rt_per_mwh"].to_numpy()
    assert np.all(rt >= -100.0) and np.all(rt <= max(1500.0, frame["price_da_per_mwh"].max()))
    assert s.source.startswith("files(") and "caiso_sce_moer_2021_5min.csv" in s.source


def test_the_generator_filling_file_columns_is_configured_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = generate(SyntheticConfig(days=30), 15).to_frame()
    frame.to_csv(tmp_path / "prices.csv", index=False)
    files = {
        "sources": [
            {"path": str(tmp_path / "prices.csv"), "columns": {"price_da_per_mwh": {"column": "price_da_per_mwh"}}}
        ]
    }
    with pytest.raises(ConfigError, match=r"data\.synthetic: .*data\.files\.synthetic"):
        gym.make("vpp_gym/Arbitrage-v0", data={"source": "files", "files": files, "synthetic": {"seed": 1}})
    files["synthetic"] = {"seed": 1}
    a = gym.make("vpp_gym/Arbitrage-v0", data={"source": "files", "files": files}).unwrapped
    files["synthetic"] = {"seed": 2}
    b = gym.make("vpp_gym/Arbitrage-v0", data={"source": "files", "files": files}).unwrapped
    assert not np.array_equal(a.series.values["load_pu"], b.series.values["load_pu"])


def test_a_year_shift_beyond_the_nanosecond_range_is_an_error(tmp_path: Path) -> None:
    rows = np.arange(3 * 24, dtype=np.float64) / 1000.0
    _write(tmp_path / "f.csv", "2200-01-01", "h", ef=rows)
    cfg = FilesConfig(sources=(_source("f.csv", shift_years=100, grid_ef_t_per_mwh="ef"),))
    with pytest.raises(DataError, match=r"f\.csv: row 1 .*shift_years=100 falls outside 1678-01-01 \.\. 2262-01-01"):
        build_from_files(cfg, 60, tmp_path)
    with pytest.raises(ConfigError, match=r"end: got '2300-01-01', expected a date in 1678-01-01 \.\. 2262-01-01"):
        FilesConfig(sources=cfg.sources, end="2300-01-01")
