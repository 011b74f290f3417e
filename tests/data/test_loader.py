"""Loader: a valid file round-trips; every kind of bad file names the file, the column and the row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vpp_gym.data import COLUMN_NAMES, DataError, load_series, validate_frame
from vpp_gym.data.loader import read_table


def _frame(n: int = 8) -> pd.DataFrame:
    """A valid scenario table of ``n`` quarter-hours from 2025-01-01 00:00, timestamps as text."""
    stamps = pd.date_range("2025-01-01", periods=n, freq="15min")
    data: dict[str, object] = {"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S")}
    for i, name in enumerate(COLUMN_NAMES):
        data[name] = np.round(np.linspace(0.1, 0.9, n) * (1 + i % 2) / 2, 6)
    data["price_da_per_mwh"] = np.arange(n) * 10.0 + 300.0
    data["price_rt_per_mwh"] = np.arange(n) * 10.0 + 305.0
    return pd.DataFrame(data)


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "scenario.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _error(path: Path) -> str:
    with pytest.raises(DataError) as err:
        load_series(path)
    return str(err.value)


def test_valid_csv_round_trips_to_a_scenario_series(tmp_path: Path) -> None:
    frame = _frame()
    frame["reg_up_price_per_mw"] = 12.5  # an extra series is kept
    path = _write(tmp_path, frame)
    s = load_series(path)
    assert s.source == str(path) and s.interval_minutes == 15 and len(s) == 8
    assert s.timestamps.dtype == np.dtype("datetime64[ns]")
    assert s.timestamps[3] == np.datetime64("2025-01-01T00:45")
    for name in COLUMN_NAMES:
        np.testing.assert_array_equal(s.values[name], frame[name].to_numpy(dtype=np.float64))
    np.testing.assert_array_equal(s.values["reg_up_price_per_mw"], 12.5)
    assert s.to_frame().columns[0] == "timestamp"


def test_parquet_with_tz_aware_timestamps_is_converted_to_naive_utc(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")  # the parquet extra
    frame = _frame(96)
    frame["timestamp"] = pd.date_range("2025-01-01 08:00", periods=96, freq="15min", tz="Asia/Shanghai")
    path = tmp_path / "scenario.parquet"
    frame.to_parquet(path)
    s = load_series(path)
    assert s.timestamps[0] == np.datetime64("2025-01-01T00:00")
    assert s.interval_minutes == 15
    np.testing.assert_array_equal(s.values["price_da_per_mwh"], frame["price_da_per_mwh"].to_numpy())
    # ISO text with offsets is converted too, and validate_frame returns clean dtypes
    text = _frame(4)
    text["timestamp"] = [
        "2025-01-01T08:00:00+08:00",
        "2025-01-01T00:15:00Z",
        "2025-01-01 00:30:00",
        "2025-01-01T01:45:00+01:00",
    ]
    clean = validate_frame(text, "inline")
    assert clean["timestamp"].dtype == np.dtype("datetime64[ns]")
    assert list(clean["timestamp"].dt.strftime("%H:%M")) == ["00:00", "00:15", "00:30", "00:45"]
    assert all(clean[c].dtype == np.float64 for c in COLUMN_NAMES)


def test_missing_columns_are_all_listed_with_the_columns_found(tmp_path: Path) -> None:
    path = _write(tmp_path, _frame().drop(columns=["pv_cf", "wind_cf"]))
    msg = _error(path)
    assert str(path) in msg and "pv_cf" in msg and "wind_cf" in msg
    assert "columns found: timestamp, price_da_per_mwh" in msg


@pytest.mark.parametrize(
    ("column", "row", "value", "expect"),
    [
        ("price_rt_per_mwh", 3, np.nan, "empty value"),
        ("load_pu", 4, "abc", "non-numeric value 'abc'"),
        ("pv_cf", 2, 1.5, "outside the valid range [0, 1] per unit"),
        ("price_da_per_mwh", 6, -20000.0, "outside the valid range [-10000, 100000] currency/MWh"),
    ],
)
def test_bad_value_names_file_column_row_and_timestamp(
    tmp_path: Path, column: str, row: int, value: object, expect: str
) -> None:
    frame = _frame().astype({column: object})
    frame.loc[row - 1, column] = value  # row numbers count data rows from 1
    path = _write(tmp_path, frame)
    msg = _error(path)
    stamp = str(pd.Timestamp("2025-01-01") + pd.Timedelta(minutes=15 * (row - 1)))
    assert msg.startswith(f"{path}: column '{column}', row {row} ({stamp}): ")
    assert expect in msg


def test_non_numeric_extra_column_is_rejected(tmp_path: Path) -> None:
    frame = _frame()
    frame["note"] = ["ok"] * 8
    msg = _error(_write(tmp_path, frame))
    assert "column 'note', row 1 (2025-01-01 00:00:00): non-numeric value 'ok'" in msg


def test_unsorted_timestamps(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[[2, 3], "timestamp"] = frame.loc[[3, 2], "timestamp"].to_numpy()  # rows 3 and 4 swapped
    path = _write(tmp_path, frame)
    msg = _error(path)
    assert msg.startswith(f"{path}: column 'timestamp', row 4 (2025-01-01 00:30:00): ")
    assert "timestamps are not sorted" in msg
    assert "row 3 (2025-01-01 00:45:00)" in msg


def test_duplicate_timestamps(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[3, "timestamp"] = frame.loc[2, "timestamp"]
    path = _write(tmp_path, frame)
    msg = _error(path)
    assert msg.startswith(f"{path}: column 'timestamp', row 4 (2025-01-01 00:30:00): duplicate timestamp")


def test_irregular_step_names_expected_and_actual_step(tmp_path: Path) -> None:
    frame = _frame(10).drop(index=5).reset_index(drop=True)  # 01:15 missing
    path = _write(tmp_path, frame)
    msg = _error(path)
    assert msg.startswith(f"{path}: column 'timestamp', row 6 (2025-01-01 01:30:00): irregular step")
    assert "expected 15 min but got 30 min" in msg


def test_step_that_does_not_divide_a_day(tmp_path: Path) -> None:
    frame = _frame()
    frame["timestamp"] = pd.date_range("2025-01-01", periods=8, freq="7min").strftime("%Y-%m-%d %H:%M")
    path = _write(tmp_path, frame)
    msg = _error(path)
    assert str(path) in msg and "'timestamp', row 2 (2025-01-01 00:07:00)" in msg
    assert "7 min does not divide a day" in msg


def test_unparseable_timestamp(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[2, "timestamp"] = "2025-01-01 25:00:00"
    path = _write(tmp_path, frame)
    msg = _error(path)
    assert msg.startswith(f"{path}: column 'timestamp', row 3: cannot parse timestamp '2025-01-01 25:00:00'")


def test_bad_suffix_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "scenario.xlsx"
    bad.write_text("x")
    msg = _error(bad)
    assert str(bad) in msg and ".csv" in msg and ".parquet" in msg
    missing = tmp_path / "nowhere" / "scenario.csv"
    msg = _error(missing)
    assert str(missing) in msg and "not found" in msg
    with pytest.raises(DataError, match="not found"):
        read_table(tmp_path / "absent.parquet")


# -- issue 16: timestamps outside the nanosecond range, duplicate columns, message digits ------------------


def test_timestamps_outside_the_nanosecond_range_are_refused_not_wrapped(tmp_path: Path) -> None:
    # pandas reads 2300 at microsecond resolution; cast to nanoseconds it wrapped around to 1715
    frame = _frame()
    frame["timestamp"] = pd.date_range("2300-01-01", periods=len(frame), freq="15min", unit="s").strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    msg = _error(_write(tmp_path, frame))
    assert "column 'timestamp', row 1" in msg and "'2300-01-01T00:00:00" in msg
    assert "outside the supported range 1678-01-01 .. 2262-01-01" in msg
    frame["timestamp"] = ["1500-06-01 00:00:00", *frame["timestamp"][1:]]
    assert "'1500-06-01T00:00:00" in _error(_write(tmp_path, frame, "early.csv"))


def test_parquet_timestamps_outside_the_nanosecond_range_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = _frame(4)
    frame["timestamp"] = np.array(["2300-01-01T00:00", "2300-01-01T00:15", "2300-01-01T00:30", "2300-01-01T00:45"])
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    path = tmp_path / "late.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=r"row 1: timestamp '2300-01-01T00:00:00.*outside the supported range"):
        load_series(path)


def test_a_column_named_twice_is_an_error_naming_it(tmp_path: Path) -> None:
    path = _write(tmp_path, _frame())
    text = path.read_text().splitlines()
    text = [line + ("," + line.split(",")[3]) for line in text]  # pv_cf (4th column) again at the end
    path.write_text("\n".join(text) + "\n")
    name = _frame().columns[3]
    assert f"the column {name!r} appears twice in the header" in _error(path)
    frame = _frame()
    frame.columns = [*frame.columns[:-1], frame.columns[1]]
    with pytest.raises(DataError, match="appears twice"):
        validate_frame(frame, "frame")


def test_out_of_range_message_shows_every_digit_needed(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[2, "load_pu"] = 5.0000001  # the range is [0, 5]
    msg = _error(_write(tmp_path, frame))
    assert "value 5.0000001 is outside the valid range [0, 5]" in msg
    frame.loc[2, "load_pu"] = np.inf
    assert "value inf is not finite" in _error(_write(tmp_path, frame, "inf.csv"))
