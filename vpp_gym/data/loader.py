"""Read and validate scenario tables (CSV or Parquet) against the schema.

A scenario file has a ``timestamp`` column (interval starts, ISO 8601 text or datetimes; a UTC
offset is honoured and converted to naive UTC, text without an offset is read as UTC) and one
column per schema series (see :mod:`vpp_gym.data.schema`). Extra columns are kept (markets add
series of their own) but must be numeric too; the optional schema columns among them (the intraday
price ``price_id_per_mwh``, the ancillary columns) are checked against their ranges like the others.

Every problem is a :class:`DataError` whose message names the file, the column and the first bad
row, counted as in the file: row 1 is the first data row after the header. Where the row has a
readable timestamp it is quoted too, e.g.::

    prices.csv: column 'price_da_per_mwh', row 3 (2025-01-01 00:30:00): empty value (NaN)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vpp_gym.data.schema import BY_NAME, COLUMN_NAMES, TIMESTAMP
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.validation import fmt_num

__all__ = [
    "SUPPORTED_SUFFIXES",
    "DataError",
    "check_range",
    "check_ranges",
    "check_regular",
    "check_unique_columns",
    "load_series",
    "parse_timestamps",
    "read_table",
    "to_float",
    "to_ns",
    "validate_frame",
]

SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")
_NS_PER_MIN = 60_000_000_000
_NS_PER_DAY = 1440 * _NS_PER_MIN
FIRST_TIMESTAMP = np.datetime64("1678-01-01T00:00:00", "ns")
"""Earliest timestamp a scenario may have: series are held as nanosecond timestamps (pandas' and NumPy's
``datetime64[ns]``), which reach from 1677-09-21 to 2262-04-11; whole years inside that range."""
END_TIMESTAMP = np.datetime64("2262-01-01T00:00:00", "ns")
"""End (exclusive) of the timestamps a scenario may have; see :data:`FIRST_TIMESTAMP`."""


class DataError(ValueError):
    """A data file is missing, unreadable or violates the schema.

    The message names the file, the column and the first bad row (1-based data rows after the
    header) with its timestamp where there is one.
    """


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a ``.csv`` or ``.parquet`` file into a DataFrame, unvalidated.

    Args:
        path: the file.

    Raises:
        DataError: for another suffix (naming the supported ones), a missing file (naming the
            path) or a file that cannot be parsed.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {p.suffix or '(no suffix)'!r}; "
            f"supported are {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not p.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if suffix == ".csv":
            header = _csv_header(p)
            frame = pd.read_csv(p)
        else:
            frame = pd.read_parquet(p)
            header = [str(c) for c in frame.columns]
    except DataError:
        raise
    except Exception as err:  # pandas/pyarrow raise many types; report them uniformly
        raise DataError(f"{path}: cannot read as {suffix[1:]}: {err}") from err
    check_unique_columns(header, str(path))
    return frame


def check_unique_columns(names: Sequence[str], source: str) -> None:
    """Refuse a table whose header names a column twice (which of the two would be meant?).

    Raises:
        DataError: naming the column and both positions.
    """
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise DataError(
                f"{source}: the column {name!r} appears twice in the header (columns {first[name] + 1} and "
                f"{i + 1}); every column needs its own name"
            )
        first[name] = i


def _csv_header(path: Path) -> list[str]:
    """The CSV file's column names as written (pandas renames a repeated name ``x`` to ``x.1``)."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as fh:
        try:
            row = next(csv.reader(fh), [])
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}: not UTF-8 text (byte {err.start}: {err.reason}); save the file as UTF-8"
            ) from None
    return [c.strip() for c in row]


def _stamp(stamps: np.ndarray | None, row0: int) -> str:
    if stamps is None or row0 >= len(stamps) or np.isnat(stamps[row0]):
        return ""
    return f" ({pd.Timestamp(stamps[row0])})"


def _where(source: str, column: str, row0: int, stamps: np.ndarray | None = None) -> str:
    """``"<source>: column '<column>', row <n> (<timestamp>)"`` for the 0-based position ``row0``."""
    return f"{source}: column {column!r}, row {row0 + 1}{_stamp(stamps, row0)}"


def _fmt_step(ns: int) -> str:
    minutes = ns / _NS_PER_MIN
    return f"{minutes:g} min"


def parse_timestamps(values: pd.Series, source: str, column: str = TIMESTAMP) -> np.ndarray:
    """Parse a timestamp column to naive UTC ``datetime64[ns]``.

    Text must be ISO 8601 (``2025-01-01 00:15:00``, ``2025-01-01T00:15:00+08:00``, ...); text
    with an offset and timezone-aware datetimes are converted to UTC, naive ones are read as UTC.

    Raises:
        DataError: naming the row of the first empty or unparseable timestamp.
    """
    s = values.reset_index(drop=True)
    null = s.isna().to_numpy()
    if null.any():
        raise DataError(f"{_where(source, column, int(np.argmax(null)))}: empty timestamp")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        parsed = s.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(s.dtype):
        parsed = s
    else:
        if pd.api.types.is_numeric_dtype(s.dtype):
            raise DataError(
                f"{_where(source, column, 0)}: got the number {s.iloc[0]!r}; expected "
                "ISO 8601 date-time text such as '2025-01-01 00:15:00'"
            )
        text = s.astype(str).str.strip()
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        bad = parsed.isna().to_numpy()
        if bad.any():
            row0 = int(np.argmax(bad))
            raise DataError(
                f"{_where(source, column, row0)}: cannot parse timestamp {s.iloc[row0]!r}; "
                "expected ISO 8601 such as '2025-01-01 00:15:00' (optionally with a UTC offset)"
            )
        parsed = parsed.dt.tz_localize(None)
    return to_ns(parsed.to_numpy(), source, column)


def to_ns(stamps: np.ndarray, source: str, column: str = TIMESTAMP) -> np.ndarray:
    """Timestamps (``datetime64`` of any unit) as ``datetime64[ns]``, refusing any outside
    [:data:`FIRST_TIMESTAMP`, :data:`END_TIMESTAMP`) instead of letting them wrap around (a date in 2300
    would otherwise come back as one in 1715).

    Raises:
        DataError: naming the first row out of range.
    """
    arr = np.asarray(stamps)
    if arr.dtype.kind != "M":
        arr = arr.astype("datetime64[ns]")
    unit = np.datetime_data(arr.dtype)[0]
    if unit != "ns":
        lo = FIRST_TIMESTAMP.astype(arr.dtype)
        hi = END_TIMESTAMP.astype(arr.dtype)
        bad = ~np.isnat(arr) & ((arr < lo) | (arr >= hi))
        if bad.any():
            row0 = int(np.argmax(bad))
            raise DataError(
                f"{_where(source, column, row0)}: timestamp {str(arr[row0])!r} is outside the supported range "
                f"{str(FIRST_TIMESTAMP)[:10]} .. {str(END_TIMESTAMP)[:10]} (nanosecond timestamps)"
            )
        arr = arr.astype("datetime64[ns]")
    return arr


def check_regular(stamps: np.ndarray, source: str, column: str = TIMESTAMP) -> int:
    """Check that timestamps are sorted, unique and regular with a step that divides a day.

    Args:
        stamps: ``datetime64[ns]`` values in file order.
        source: file name for messages.
        column: timestamp column name for messages.

    Returns:
        The step in whole minutes.

    Raises:
        DataError: naming the first row that breaks the order, repeats a timestamp or has a
            different step (with the expected step, the most common one), or a step that does not
            divide a day; also for fewer than two rows.
    """
    if len(stamps) < 2:
        raise DataError(f"{source}: {len(stamps)} data row(s); at least 2 are needed to tell the interval")
    d = np.diff(stamps).astype(np.int64)
    bad = np.flatnonzero(d <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        prev = f"row {i} ({pd.Timestamp(stamps[i - 1])})"
        if d[bad[0]] == 0:
            raise DataError(f"{_where(source, column, i, stamps)}: duplicate timestamp (same as {prev})")
        raise DataError(f"{_where(source, column, i, stamps)}: timestamps are not sorted (earlier than {prev})")
    steps, counts = np.unique(d, return_counts=True)
    step = int(steps[np.argmax(counts)])  # the most common step is the expected one
    irregular = np.flatnonzero(d != step)
    if irregular.size:
        i = int(irregular[0]) + 1
        raise DataError(
            f"{_where(source, column, i, stamps)}: irregular step: expected {_fmt_step(step)} "
            f"but got {_fmt_step(int(d[i - 1]))} after row {i} ({pd.Timestamp(stamps[i - 1])})"
        )
    if step % _NS_PER_MIN != 0 or _NS_PER_DAY % step != 0:
        raise DataError(
            f"{_where(source, column, 1, stamps)}: the step of {_fmt_step(step)} does not "
            "divide a day (1440 min) into whole minutes"
        )
    return step // _NS_PER_MIN


def to_float(values: pd.Series, source: str, column: str, stamps: np.ndarray | None = None) -> np.ndarray:
    """Convert a column to float64, rejecting empty, non-numeric and non-finite values.

    Raises:
        DataError: naming the first bad row (and its timestamp when ``stamps`` is given).
    """
    s = values.reset_index(drop=True)
    null = s.isna().to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype(np.float64)
    out = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    non_numeric = np.isnan(out) & ~null
    infinite = np.isinf(out)
    problems = []
    if null.any():
        problems.append((int(np.argmax(null)), "empty value (NaN); every interval needs a value"))
    if non_numeric.any():
        row0 = int(np.argmax(non_numeric))
        problems.append((row0, f"non-numeric value {s.iloc[row0]!r}"))
    if infinite.any():
        row0 = int(np.argmax(infinite))
        problems.append((row0, f"value {fmt_num(out[row0])} is not finite"))
    if problems:
        row0, what = min(problems)
        raise DataError(f"{_where(source, column, row0, stamps)}: {what}")
    return out


def check_range(
    values: np.ndarray, name: str, source: str, stamps: np.ndarray | None = None, label: str | None = None
) -> None:
    """Check one schema column's values against its valid range.

    Args:
        values: the values (float64).
        name: the schema column they are meant for.
        source: file or scenario name for messages.
        stamps: timestamps of the rows, quoted in the message when given.
        label: how to name the column in the message if not ``name`` (e.g. the file's column).

    Raises:
        DataError: naming the column, the first row out of range, the range and the unit.
    """
    col = BY_NAME[name]
    bad = (values < col.lo) | (values > col.hi)
    if bad.any():
        row0 = int(np.argmax(bad))
        what = (
            f"value {fmt_num(values[row0])} is outside the valid range [{fmt_num(col.lo)}, {fmt_num(col.hi)}] "
            f"{col.unit}"
        )
        if label is not None:
            what += f" of {name}"
        raise DataError(f"{_where(source, label or name, row0, stamps)}: {what}")


def check_ranges(frame: pd.DataFrame, source: str) -> None:
    """Check every schema column present in ``frame`` against its valid range.

    Args:
        frame: a frame with float columns (and optionally a parsed ``timestamp`` column).
        source: file or scenario name for messages.

    Raises:
        DataError: naming the column, the first row out of range, the range and the unit.
    """
    stamps = frame[TIMESTAMP].to_numpy(dtype="datetime64[ns]") if TIMESTAMP in frame.columns else None
    for name in frame.columns:
        if name in BY_NAME:
            check_range(frame[name].to_numpy(dtype=np.float64), name, source, stamps)


def validate_frame(frame: pd.DataFrame, source: str, required: Sequence[str] = COLUMN_NAMES) -> pd.DataFrame:
    """Validate a scenario table and return a clean copy.

    Checks, in this order, each raising :class:`DataError` naming ``source``, the column and the
    first bad row: missing ``timestamp`` or required columns (all listed, with the columns found);
    empty or unparseable timestamps; unsorted or duplicate timestamps; irregular steps; a step
    that does not divide a day; then per column (file order) empty, non-numeric or infinite
    values; and finally values outside the schema range.

    Args:
        frame: the table as read (see :func:`read_table`).
        source: file name for messages.
        required: schema columns that must be present (default: all of them).

    Returns:
        A new frame: ``timestamp`` as naive UTC ``datetime64[ns]``, then the other columns in
        file order as float64, with a fresh 0-based index.
    """
    found = [str(c) for c in frame.columns]
    check_unique_columns(found, source)
    missing = [c for c in (TIMESTAMP, *required) if c not in found]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; columns found: {', '.join(found)}")
    frame = frame.set_axis(found, axis=1)
    stamps = parse_timestamps(frame[TIMESTAMP], source, TIMESTAMP)
    check_regular(stamps, source, TIMESTAMP)
    data: dict[str, np.ndarray] = {TIMESTAMP: stamps}
    for name in found:
        if name != TIMESTAMP:
            data[name] = to_float(frame[name], source, name, stamps)
    clean = pd.DataFrame(data)
    check_ranges(clean, source)
    return clean


def load_series(path: str | Path) -> ScenarioSeries:
    """Read, validate (all schema columns required) and wrap a scenario file.

    Args:
        path: a ``.csv`` or ``.parquet`` file.

    Returns:
        The series, with ``source`` set to ``str(path)``.

    Raises:
        DataError: see :func:`read_table` and :func:`validate_frame`.
    """
    frame = validate_frame(read_table(path), source=str(path))
    return ScenarioSeries.from_frame(frame, source=str(path))
