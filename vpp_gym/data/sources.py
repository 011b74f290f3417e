"""Build a scenario from users' own files of different resolutions and periods.

Each :class:`FileSource` is one CSV or Parquet file with a timestamp column (interval starts, ISO
8601, UTC or with an offset) and some value columns. Its :class:`ColumnMap` entries say which
schema column each file column becomes and how: ``schema value = file value * scale + offset``,
so units are stated in the config (a currency factor, MW -> per unit by ``scale: 1/peak``, ...).

What :func:`build_from_files` does:

1. Reads each file, checks its timestamps like the loader (parseable, sorted, unique, regular with
   a step that divides a day) and its mapped columns (present, numeric, no empty values), applies
   scale/offset and checks the result against the schema range (errors name the file, the file
   column, the row and its timestamp).
2. ``shift_years`` moves timestamps by whole calendar years in UTC (``+1``: 2021-03-01 12:05 ->
   2022-03-01 12:05). A 29 February that does not exist in the target year is dropped; a
   29 February the source does not have is filled with a copy of its 28 February.
3. Resamples each file to the scenario interval (the file's rows are taken as interval averages
   of ``[t, t + step)``): a coarser file is refined by ``fill``: ``ffill`` holds each value over
   the target intervals that start inside it, ``interpolate`` places each value at the centre of
   its interval and interpolates linearly at the centre of each target interval (holding the first
   and last values at the ends); a finer file is coarsened by ``aggregate: mean``, the
   time-weighted mean over each target interval (the plain mean of the rows when the steps nest).
4. Restricts everything to the window ``[start, end)`` (ISO dates, end exclusive, 00:00 UTC). By
   default the window is the overlap of all files, trimmed to whole UTC days. It is an error if
   the files do not overlap, the window is shorter than one day, or a file does not cover it.
5. Fills every schema column no file provides from
   :func:`vpp_gym.data.synthetic.generate_for_index` with ``synthetic`` settings (when
   ``price_da_per_mwh`` is given, ``price_rt_per_mwh`` is derived from it), or raises a
   :class:`~vpp_gym.data.loader.DataError` listing them if ``fill_missing: error``. The optional
   intraday price ``price_id_per_mwh`` is used if a file gives it; otherwise it is derived from the
   DA and RT prices, whether given or synthesized, with ``synthetic.id_weight`` (and
   ``id_sigma_rel``), also under ``fill_missing: error`` (it is optional, like the ancillary
   columns).
6. Checks the final columns against the schema ranges and returns a
   :class:`~vpp_gym.data.series.ScenarioSeries` whose ``source`` lists the files and whose
   ``notes`` say how each file was mapped and resampled and which columns were synthesized.

The result depends only on the files and the config: it is deterministic.

Example: the two real files of ``shared/data`` (ERCOT 2022 hourly day-ahead prices and CAISO
2021 5-minute marginal emission rates) in a scenario YAML; the scenario interval comes from
``time.interval_minutes``; relative paths are resolved against the YAML file's directory (here
``configs/scenarios/`` of the checkout, with ``shared/data`` beside the checkout). Quote the dates,
or YAML reads them as dates rather than strings:

```yaml
time: {interval_minutes: 15, episode_hours: 24}
data:
  source: files
  files:
    start: "2022-03-01"          # optional; default: the overlap 2022-01-02 .. 2022-09-02
    end: "2022-05-01"            # exclusive
    fill_missing: synthetic      # or: error
    synthetic: {seed: 7}         # settings for the synthesized columns
    sources:
      - path: ../../../shared/data/ercot_dam_2022_hub_prices.csv
        timestamp_column: interval_start_utc
        columns:
          # the currency stays USD: scale 1 (a CNY scenario would put e.g. scale: 7.2 here)
          price_da_per_mwh: {column: hb_houston_usd_per_mwh, scale: 1.0, offset: 0.0}
        fill: ffill              # 60 min -> 15 min: each hourly price held for its 4 quarters
      - path: ../../../shared/data/caiso_sce_moer_2021_5min.csv
        timestamp_column: time_utc
        shift_years: 1           # 2021 rates on the same calendar hours (UTC) of 2022
        columns:
          grid_ef_t_per_mwh: {column: moer_t_per_mwh}   # already tCO2/MWh
        aggregate: mean          # 5 min -> 15 min: mean of the three 5-min values
```

What happens to every schema column with this example:

- ``price_da_per_mwh``: ERCOT Houston hub in USD/MWh, each hour held over its four 15-min
  intervals.
- ``price_rt_per_mwh``: synthesized: the ERCOT DA price plus a seeded deviation
  (``rt_sigma_rel``, RT spikes), clipped to ``[min(floor, min DA), max(cap, max DA)]``.
- ``price_id_per_mwh``: derived: ``DA + id_weight * (RT - DA)`` (``id_weight`` 0.5 by default; plus
  a seeded deviation if ``id_sigma_rel > 0``).
- ``grid_ef_t_per_mwh``: CAISO SCE MOER of the same UTC calendar interval of 2021, the mean of
  its three 5-min values.
- ``pv_cf``, ``wind_cf``, ``load_pu``: synthesized from ``synthetic`` (solar geometry at its
  latitude/longitude, AR(1) wind through a power curve, double-peaked load).
- ``ev_plugged_share``, ``ev_arrival_need_pu``, ``ev_departure_share``: synthesized (commuter
  depot: plugged in overnight, leaving in the morning).

Note that the synthesized shapes follow the synthetic site's local clock (``utc_offset_h``), not
Houston's; set ``synthetic.utc_offset_h: -6`` and ``synthetic.longitude_deg: -95`` to put PV,
load and EV patterns on Houston time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from vpp_gym.data.loader import (
    DataError,
    check_range,
    check_ranges,
    check_regular,
    check_unique_columns,
    parse_timestamps,
    read_table,
    to_float,
)
from vpp_gym.data.schema import ALL_NAMES, COLUMN_NAMES, TIMESTAMP
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.data.synthetic import SyntheticConfig, check_interval_minutes, derive_price_id, generate_for_index
from vpp_gym.validation import require, require_int, require_range

__all__ = ["ColumnMap", "FileSource", "FilesConfig", "build_from_files"]

_NS_PER_MIN = 60_000_000_000
_NS_PER_DAY = 1440 * _NS_PER_MIN


def _is_iso_date(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ColumnMap:
    """One file column feeding one schema column: ``schema value = file value * scale + offset``.

    Attributes:
        column: the column's name in the file.
        scale: multiplies the file value (state units this way, e.g. a USD -> CNY factor, or
            ``1 / peak_mw`` to turn MW into per unit); non-zero, in [-1e6, 1e6].
        offset: added after scaling, in the schema column's unit; in [-1e6, 1e6].
    """

    column: str
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        require(
            isinstance(self.column, str) and self.column != "",
            "column",
            self.column,
            "the name of a column in the file",
        )
        require_range("scale", self.scale, -1e6, 1e6)
        require(self.scale != 0, "scale", self.scale, "a non-zero number")
        require_range("offset", self.offset, -1e6, 1e6)


@dataclass(frozen=True)
class FileSource:
    """One data file and the schema columns it provides.

    Attributes:
        path: CSV or Parquet file; a relative path is resolved against the ``base_dir`` given to
            :func:`build_from_files` (the directory of the YAML file that names it).
        timestamp_column: name of the column of interval starts (ISO 8601, UTC unless an offset
            is given).
        columns: schema column name -> :class:`ColumnMap`; at least one.
        shift_years: move timestamps by whole calendar years (e.g. ``1`` to use 2021 data on the
            same calendar intervals of 2022); see the module docstring for 29 February.
        aggregate: how a finer file is coarsened to the scenario interval (time-weighted mean).
        fill: how a coarser file is refined: ``ffill`` (hold the value) or ``interpolate``
            (linear between interval centres).
    """

    path: str
    timestamp_column: str = TIMESTAMP
    columns: dict[str, ColumnMap] = field(default_factory=dict)
    shift_years: int = 0
    aggregate: Literal["mean"] = "mean"
    fill: Literal["ffill", "interpolate"] = "ffill"

    def __post_init__(self) -> None:
        require(isinstance(self.path, str) and self.path != "", "path", self.path, "a file path")
        require(
            isinstance(self.timestamp_column, str) and self.timestamp_column != "",
            "timestamp_column",
            self.timestamp_column,
            "a column name",
        )
        require(
            isinstance(self.columns, dict) and len(self.columns) > 0,
            "columns",
            self.columns,
            "a mapping of at least one schema column to {column: <file column>, scale:, offset:}",
        )
        for name, cmap in self.columns.items():
            require(name in ALL_NAMES, f"columns.{name}", name, f"a schema column name, one of: {', '.join(ALL_NAMES)}")
            require(isinstance(cmap, ColumnMap), f"columns.{name}", cmap, "a ColumnMap")
        require_int("shift_years", self.shift_years, -200, 200)
        require(self.aggregate == "mean", "aggregate", self.aggregate, "'mean'")
        require(self.fill in ("ffill", "interpolate"), "fill", self.fill, "one of 'ffill', 'interpolate'")


@dataclass(frozen=True)
class FilesConfig:
    """A scenario built from files, with the missing columns synthesized.

    Attributes:
        sources: the files; no schema column may come from two of them.
        start: first day of the scenario (ISO date, 00:00 UTC); default: the first whole UTC day
            covered by all files.
        end: day after the last day (exclusive); default: the end of the last whole UTC day
            covered by all files.
        fill_missing: ``synthetic`` fills the columns no file provides from ``synthetic``;
            ``error`` makes them an error.
        synthetic: generator settings for the filled columns (its ``start``/``days`` are unused).
    """

    sources: tuple[FileSource, ...]
    start: str | None = None
    end: str | None = None
    fill_missing: Literal["synthetic", "error"] = "synthetic"
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self) -> None:
        if isinstance(self.sources, list):
            object.__setattr__(self, "sources", tuple(self.sources))
        require(
            isinstance(self.sources, tuple) and len(self.sources) > 0,
            "sources",
            self.sources,
            "a list of at least one file source",
        )
        for i, src in enumerate(self.sources):
            require(isinstance(src, FileSource), f"sources[{i}]", src, "a FileSource")
        for key in ("start", "end"):
            value = getattr(self, key)
            require(value is None or _is_iso_date(value), key, value, "an ISO date like '2022-03-01' or null")
            require(
                value is None or date(1678, 1, 1) <= date.fromisoformat(value) <= date(2262, 1, 1),
                key,
                value,
                "a date in 1678-01-01 .. 2262-01-01 (the range of nanosecond timestamps) or null",
            )
        if self.start is not None and self.end is not None:
            require(
                date.fromisoformat(self.start) < date.fromisoformat(self.end),
                "end",
                self.end,
                f"a date after start={self.start}",
            )
        require(
            self.fill_missing in ("synthetic", "error"),
            "fill_missing",
            self.fill_missing,
            "one of 'synthetic', 'error'",
        )
        require(isinstance(self.synthetic, SyntheticConfig), "synthetic", self.synthetic, "a SyntheticConfig")
        owner: dict[str, int] = {}
        for i, src in enumerate(self.sources):
            for name in src.columns:
                if name in owner:
                    j = owner[name]
                    require(
                        False,
                        f"sources[{i}].columns.{name}",
                        src.columns[name].column,
                        f"a column no other source provides, but sources[{j}] ({self.sources[j].path}) "
                        f"already provides {name}",
                    )
                owner[name] = i


@dataclass
class _Loaded:
    """One file after reading, mapping and year shifting (regular, sorted timestamps)."""

    src: FileSource
    stamps: np.ndarray  # datetime64[ns]
    step_ns: int
    values: dict[str, np.ndarray]

    @property
    def begin(self) -> np.datetime64:
        return self.stamps[0]

    @property
    def end(self) -> np.datetime64:
        return self.stamps[-1] + np.timedelta64(self.step_ns, "ns")

    def period(self) -> str:
        shift = f", shifted by {self.src.shift_years:+d} year(s)" if self.src.shift_years else ""
        return f"{self.src.path} covers {pd.Timestamp(self.begin)} to {pd.Timestamp(self.end)}{shift}"


def _resolve(src: FileSource, base_dir: Path) -> Path:
    p = Path(src.path).expanduser()
    resolved = p if p.is_absolute() else base_dir / p
    if not resolved.is_file():
        raise DataError(f"{src.path}: file not found (resolved to {resolved.resolve()})")
    return resolved


def _load(src: FileSource, base_dir: Path) -> _Loaded:
    frame = read_table(_resolve(src, base_dir))
    label = src.path
    found = [str(c) for c in frame.columns]
    check_unique_columns(found, label)
    frame = frame.set_axis(found, axis=1)
    wanted = [src.timestamp_column] + [m.column for m in src.columns.values()]
    missing = [c for c in dict.fromkeys(wanted) if c not in found]
    if missing:
        raise DataError(f"{label}: missing column(s) {', '.join(missing)}; columns found: {', '.join(found)}")
    stamps = parse_timestamps(frame[src.timestamp_column], label, src.timestamp_column)
    step_min = check_regular(stamps, label, src.timestamp_column)
    values: dict[str, np.ndarray] = {}
    for name, cmap in src.columns.items():
        raw = to_float(frame[cmap.column], label, cmap.column, stamps)
        mapped = raw * cmap.scale + cmap.offset
        check_range(
            mapped, name, label, stamps, label=f"{cmap.column} (as {name} = value * {cmap.scale:g} + {cmap.offset:g})"
        )
        values[name] = mapped
    step_ns = step_min * _NS_PER_MIN
    if src.shift_years:
        stamps, values = _shift_years(stamps, values, src.shift_years, step_ns, label)
    return _Loaded(src=src, stamps=stamps, step_ns=step_ns, values=values)


def _shift_years(
    stamps: np.ndarray, values: dict[str, np.ndarray], years: int, step_ns: int, label: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Move timestamps by whole calendar years; drop/duplicate 29 February (see module doc)."""
    months = stamps.astype("datetime64[M]")
    days = stamps.astype("datetime64[D]")
    day_in_month = days - months.astype("datetime64[D]")
    time_of_day = stamps - days.astype("datetime64[ns]")
    new_months = months + np.timedelta64(12 * years, "M")
    lo, hi = np.datetime64("1678-01", "M"), np.datetime64("2261-12", "M")
    out_of_range = (new_months < lo) | (new_months > hi)
    if out_of_range.any():
        row0 = int(np.argmax(out_of_range))
        raise DataError(
            f"{label}: row {row0 + 1} ({pd.Timestamp(stamps[row0])}) shifted by shift_years={years} falls outside "
            "1678-01-01 .. 2262-01-01, the range of nanosecond timestamps; shift by fewer years"
        )
    shifted = (new_months.astype("datetime64[D]") + day_in_month).astype("datetime64[ns]") + time_of_day
    keep = shifted.astype("datetime64[M]") == new_months  # False for a 29 Feb with no target 29 Feb
    shifted = shifted[keep]
    values = {k: v[keep] for k, v in values.items()}
    if shifted.size < 2:
        raise DataError(f"{label}: fewer than two rows are left after shift_years={years}")
    # put the rows on a regular grid; holes can only be a whole missing 29 February
    pos = (shifted - shifted[0]).astype(np.int64) // step_ns
    n = int(pos[-1]) + 1
    grid = shifted[0] + np.arange(n, dtype=np.int64) * np.timedelta64(step_ns, "ns")
    if n == shifted.size:
        return shifted, values
    holes = np.setdiff1d(np.arange(n), pos)
    per_day = _NS_PER_DAY // step_ns
    donor = np.where(holes - per_day >= 0, holes - per_day, holes + per_day)  # 28 Feb (or 1 Mar)
    have = np.zeros(n, dtype=bool)
    have[pos] = True
    if not np.all((donor < n) & have[np.clip(donor, 0, n - 1)]):
        raise DataError(
            f"{label}: cannot fill 29 February after shift_years={years}: the neighbouring day "
            "is not complete in the file"
        )
    out = {}
    for k, v in values.items():
        full = np.empty(n)
        full[pos] = v
        full[holes] = full[donor]
        out[k] = full
    return grid, out


def _resample(src: _Loaded, target: np.ndarray, interval_minutes: int) -> tuple[dict[str, np.ndarray], str]:
    """Values of ``src`` on the target interval starts (all inside the source's period)."""
    m_ns = interval_minutes * _NS_PER_MIN
    s_ns = src.step_ns
    off_ns = (target - src.begin).astype(np.int64)  # >= 0
    aligned = bool(np.all(off_ns % s_ns == 0))
    what = f"{s_ns // _NS_PER_MIN} min -> {interval_minutes} min"
    if s_ns == m_ns and aligned:
        idx = off_ns // s_ns
        return {k: v[idx] for k, v in src.values.items()}, f"{what}, taken as is"
    if s_ns > m_ns:
        if src.src.fill == "ffill":
            idx = off_ns // s_ns
            return {k: v[idx] for k, v in src.values.items()}, f"{what} by holding each value (ffill)"
        x = (np.arange(src.stamps.size) + 0.5) * (s_ns / 1e9)  # source centres, seconds from begin
        xt = off_ns / 1e9 + 0.5 * m_ns / 1e9
        return (
            {k: np.interp(xt, x, v) for k, v in src.values.items()},
            f"{what} by linear interpolation between interval centres",
        )
    # finer (or misaligned) -> time-weighted mean over each target interval
    if m_ns % s_ns == 0 and aligned:
        per = m_ns // s_ns
        first = off_ns // s_ns
        idx = first[:, None] + np.arange(per)[None, :]
        return {k: v[idx].mean(axis=1) for k, v in src.values.items()}, f"{what} by the mean of {per} values"
    knots = np.arange(src.stamps.size + 1) * (s_ns / 1e9)
    t0 = off_ns / 1e9
    t1 = t0 + m_ns / 1e9
    out = {}
    for k, v in src.values.items():
        cum = np.concatenate(([0.0], np.cumsum(v * (s_ns / 1e9))))
        out[k] = (np.interp(t1, knots, cum) - np.interp(t0, knots, cum)) / (m_ns / 1e9)
    return out, f"{what} by the time-weighted mean"


def _midnight_ceil(t: np.datetime64) -> np.datetime64:
    d = t.astype("datetime64[D]")
    return (d if d == t else d + np.timedelta64(1, "D")).astype("datetime64[ns]")


def _window(cfg: FilesConfig, loaded: list[_Loaded]) -> tuple[np.datetime64, np.datetime64]:
    periods = "; ".join(x.period() for x in loaded)
    lo = max(x.begin for x in loaded)
    hi = min(x.end for x in loaded)
    if lo >= hi:
        raise DataError(f"the files do not overlap in time: {periods}")
    start = (
        np.datetime64(date.fromisoformat(cfg.start), "D").astype("datetime64[ns]") if cfg.start else _midnight_ceil(lo)
    )
    end = (
        np.datetime64(date.fromisoformat(cfg.end), "D").astype("datetime64[ns]")
        if cfg.end
        else hi.astype("datetime64[D]").astype("datetime64[ns]")
    )
    window = f"the scenario window {pd.Timestamp(start)} to {pd.Timestamp(end)}"
    overlap = f"the files overlap from {pd.Timestamp(lo)} to {pd.Timestamp(hi)}"
    if end - start < np.timedelta64(1, "D"):
        raise DataError(f"{window} is empty or shorter than one day; {overlap} ({periods})")
    for x in loaded:
        if start < x.begin or end > x.end:
            raise DataError(f"{window} is not covered by {x.src.path}: {x.period()}; {overlap}")
    return start, end


def build_from_files(cfg: FilesConfig, interval_minutes: int, base_dir: str | Path = ".") -> ScenarioSeries:
    """Build a scenario from files, resampled to ``interval_minutes``, filling missing columns.

    See the module docstring for every step.

    Args:
        cfg: the files and how to combine them.
        interval_minutes: the scenario interval; must divide 1440.
        base_dir: directory against which relative paths are resolved.

    Returns:
        The scenario series; ``source`` lists the files, ``notes`` say how each was used and
        which columns were synthesized.

    Raises:
        ConfigError: if ``interval_minutes`` does not divide a day.
        DataError: for a missing or bad file, non-overlapping periods, a window that is too
            short or not covered, missing columns with ``fill_missing: error``, or values out of
            the schema range.
    """
    check_interval_minutes(interval_minutes)
    provided = [name for src in cfg.sources for name in src.columns]
    missing = [c for c in COLUMN_NAMES if c not in provided]
    if missing and cfg.fill_missing == "error":
        raise DataError(
            f"no file provides the column(s) {', '.join(missing)} and fill_missing is 'error' "
            f"(provided: {', '.join(provided)})"
        )
    base = Path(base_dir)
    loaded = [_load(src, base) for src in cfg.sources]
    start, end = _window(cfg, loaded)
    m = int(interval_minutes)
    n = int((end - start) // np.timedelta64(m, "m"))
    target = start + np.arange(n, dtype=np.int64) * np.timedelta64(m, "m").astype("timedelta64[ns]")

    given: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for x in loaded:
        vals, how = _resample(x, target, m)
        given.update(vals)
        maps = ", ".join(f"{name} = {c.column} * {c.scale:g} + {c.offset:g}" for name, c in x.src.columns.items())
        shift = f"; timestamps shifted by {x.src.shift_years:+d} year(s)" if x.src.shift_years else ""
        notes.append(f"{x.src.path}: {maps}; {how}{shift}")
    if missing:
        values = generate_for_index(cfg.synthetic, target, m, given=given)
        derived = (
            " (price_rt_per_mwh derived from the given price_da_per_mwh)"
            if "price_rt_per_mwh" in missing and "price_da_per_mwh" in given
            else ""
        )
        notes.append(f"synthesized with synthetic(seed={cfg.synthetic.seed}): {', '.join(missing)}{derived}")
    else:
        values = dict(given)
    if "price_id_per_mwh" not in given:  # optional: derived from DA and RT (made above unless both are given)
        syn = cfg.synthetic
        if "price_id_per_mwh" not in values:
            values["price_id_per_mwh"] = derive_price_id(
                syn, target, m, values["price_da_per_mwh"], values["price_rt_per_mwh"]
            )
        deviation = f" + a seeded AR(1) deviation (id_sigma_rel={syn.id_sigma_rel:g})" if syn.id_sigma_rel > 0 else ""
        notes.append(f"price_id_per_mwh derived: price_da + {syn.id_weight:g} * (price_rt - price_da){deviation}")
    label = "files(" + ", ".join(src.path for src in cfg.sources) + ")"
    kept = [c for c in ALL_NAMES if c in values]  # the intraday price; ancillary columns the files provide
    frame = pd.DataFrame({TIMESTAMP: target, **{c: values[c] for c in kept}})
    check_ranges(frame, label)
    return ScenarioSeries(
        timestamps=target,
        interval_minutes=m,
        values={c: np.asarray(values[c], dtype=np.float64) for c in kept},
        source=label,
        notes=tuple(notes),
    )
