"""A scenario's series (generated or read once per process) and its train / validation / test days."""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import yaml

from vpp_gym.config import DataConfig, ScenarioConfig
from vpp_gym.data.ancillary import generate_ancillary
from vpp_gym.data.schema import ANCILLARY_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.data.sources import build_from_files
from vpp_gym.data.synthetic import generate
from vpp_gym.validation import ConfigError, fmt_num, to_mapping

SPLITS = ("train", "val", "test")

DEFAULT_CACHE_MB = 64.0
"""Default bound of the series cache (MiB): a dozen year-long 15-minute scenarios."""
CACHE_ENV_VAR = "VPP_GYM_SERIES_CACHE_MB"
"""Environment variable that sets the bound (MiB; 0 disables the cache)."""

_CACHE: OrderedDict[str, ScenarioSeries] = OrderedDict()
_LOCK = threading.Lock()
_limit_bytes: int | None = None  # None: read the environment variable on first use


def _read_limit() -> int:
    text = os.environ.get(CACHE_ENV_VAR)
    if text is None:
        return int(DEFAULT_CACHE_MB * 2**20)
    try:
        mb = float(text)
    except ValueError:
        raise ConfigError(f"{CACHE_ENV_VAR}={text!r}: expected a number of MiB (0 disables the cache)") from None
    if not (mb >= 0 and mb < float("inf")):
        raise ConfigError(f"{CACHE_ENV_VAR}={text!r}: expected a number of MiB >= 0 (0 disables the cache)")
    return int(mb * 2**20)


def series_nbytes(series: ScenarioSeries) -> int:
    """Memory held by a series' arrays (timestamps and values), bytes."""
    return int(series.timestamps.nbytes + sum(v.nbytes for v in series.values.values()))


def set_series_cache_limit(mb: float | None) -> None:
    """Bound the series cache to ``mb`` MiB (0 disables it; None: back to the environment variable or the
    default), evicting the least recently used series beyond it."""
    global _limit_bytes
    if mb is not None and not (0 <= mb < float("inf")):
        raise ValueError(f"set_series_cache_limit: got {mb!r}, expected a number of MiB >= 0")
    with _LOCK:
        _limit_bytes = None if mb is None else int(mb * 2**20)
        _evict(0)


def series_cache_info() -> dict[str, int]:
    """What the cache holds now: ``entries``, ``bytes`` and its ``limit_bytes``."""
    with _LOCK:
        return {"entries": len(_CACHE), "bytes": sum(map(series_nbytes, _CACHE.values())), "limit_bytes": _limit()}


def clear_series_cache() -> None:
    """Forget every cached series (envs that use one keep it)."""
    with _LOCK:
        _CACHE.clear()


def _limit() -> int:
    global _limit_bytes
    if _limit_bytes is None:
        _limit_bytes = _read_limit()
    return _limit_bytes


def _evict(incoming: int) -> None:
    """Drop least recently used entries until ``incoming`` more bytes fit (caller holds the lock)."""
    limit = _limit()
    total = sum(map(series_nbytes, _CACHE.values()))
    while _CACHE and total + incoming > limit:
        _key, old = _CACHE.popitem(last=False)
        total -= series_nbytes(old)


def scenario_series(data: DataConfig, interval_minutes: int, base_dir: str | Path = ".") -> ScenarioSeries:
    """The scenario's series, built once per process for equal data configs (callers must not mutate it).

    Built series are kept in a cache bounded by size (least recently used first out;
    :data:`DEFAULT_CACHE_MB`, or the environment variable ``VPP_GYM_SERIES_CACHE_MB``, or
    :func:`set_series_cache_limit`): envs made with the same data config share one series, and a closed
    env's series is freed once the cache has let it go. A series larger than the bound is not cached.
    """
    key = yaml.safe_dump([to_mapping(data), interval_minutes, str(Path(base_dir).resolve())])
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is not None:
        return hit
    if data.source == "synthetic":
        series = generate(data.synthetic, interval_minutes)
    else:
        assert data.files is not None  # checked by DataConfig
        series = build_from_files(data.files, interval_minutes, base_dir)
    missing = [c for c in ANCILLARY_NAMES if c not in series.values]
    if missing:
        extra = generate_ancillary(
            data.ancillary, series.timestamps, series.interval_minutes, series.values["price_da_per_mwh"]
        )
        values = dict(series.values)
        values.update({c: extra[c] for c in missing})
        note = f"ancillary series synthesized (seed={data.ancillary.seed}): {', '.join(missing)}"
        series = ScenarioSeries(
            series.timestamps, series.interval_minutes, values, series.source, (*series.notes, note)
        )
    for arr in series.values.values():
        arr.setflags(write=False)
    size = series_nbytes(series)
    with _LOCK:
        if size <= _limit():
            _CACHE.pop(key, None)
            _evict(size)
            _CACHE[key] = series
    return series


def episode_starts(cfg: ScenarioConfig, series: ScenarioSeries) -> dict[str, np.ndarray]:
    """Rows where each split's episodes may start: every local midnight whose whole episode fits in the split.

    Days (local dates, ``time.utc_offset_h``) are assigned to splits by date (see
    :class:`vpp_gym.config.SplitConfig`); an episode of more than a day must end inside its split. A split
    without a whole episode has no rows (a reset on it is an error, :func:`empty_split_error`); a scenario in
    which no split has one is a :class:`~vpp_gym.validation.ConfigError`.
    """
    stamps = series.timestamps + cfg.time.utc_offset  # local time
    days = stamps.astype("datetime64[D]")
    midnight_rows = np.flatnonzero(stamps == days)
    unique_days = days[midnight_rows]
    n_days = len(unique_days)
    sp = cfg.data.splits

    def first_row_on_or_after(date_str: str) -> int:
        d = np.datetime64(_dt.date.fromisoformat(date_str))
        return int(np.searchsorted(days, d))

    n = len(series)
    cut_val = (
        first_row_on_or_after(sp.val_start)
        if sp.val_start
        else _row_of_day(midnight_rows, n, round(sp.train_frac * n_days))
    )
    cut_test = (
        first_row_on_or_after(sp.test_start)
        if sp.test_start
        else _row_of_day(midnight_rows, n, round((sp.train_frac + sp.val_frac) * n_days))
    )
    if sp.val_start and not sp.test_start:
        cut_test = max(cut_test, cut_val)
    bounds = {"train": (0, cut_val), "val": (cut_val, cut_test), "test": (cut_test, n)}
    T = cfg.time.episode_steps
    out = {}
    for name, (lo, hi) in bounds.items():
        out[name] = midnight_rows[(midnight_rows >= lo) & (midnight_rows + T <= hi)]
    if not any(len(rows) for rows in out.values()):
        raise empty_split_error(cfg, series, "every")
    return out


def empty_split_error(cfg: ScenarioConfig, series: ScenarioSeries, split: str) -> ConfigError:
    """The error of a reset on a split with no whole episode (or of a scenario in which no split has one).

    A split may be empty as long as it is not used: a scenario of one year may put a year-long episode
    in its test split and leave train and validation without one.
    """
    days = len(np.unique((series.timestamps + cfg.time.utc_offset).astype("datetime64[D]")))
    span = f"{series.timestamps[0]} .. {series.timestamps[-1]}"
    which = "no split has" if split == "every" else f"the {split!r} split has no"
    return ConfigError(
        f"data.splits: {which} whole {fmt_num(cfg.time.episode_hours)}-hour episode starting at midnight "
        f"(scenario covers {span}, {days} days); give more days, shorter episodes (time.episode_hours) "
        "or change the split (data.splits)"
    )


def _row_of_day(midnight_rows: np.ndarray, n: int, day: int) -> int:
    return int(midnight_rows[day]) if day < len(midnight_rows) else n
