"""A scenario's series (generated or read once per process) and its train / validation / test days."""

from __future__ import annotations

import datetime as _dt
import threading
from pathlib import Path

import numpy as np
import yaml

from vpp_gym.config import DataConfig, ScenarioConfig
from vpp_gym.data.ancillary import generate_ancillary
from vpp_gym.data.schema import ANCILLARY_NAMES
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.data.sources import build_from_files
from vpp_gym.data.synthetic import generate
from vpp_gym.validation import ConfigError, to_mapping

SPLITS = ("train", "val", "test")

_CACHE: dict[str, ScenarioSeries] = {}
_LOCK = threading.Lock()


def scenario_series(data: DataConfig, interval_minutes: int, base_dir: str | Path = ".") -> ScenarioSeries:
    """The scenario's series, built once per process for equal data configs (callers must not mutate it)."""
    key = yaml.safe_dump([to_mapping(data), interval_minutes, str(Path(base_dir).resolve())])
    with _LOCK:
        hit = _CACHE.get(key)
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
    with _LOCK:
        _CACHE[key] = series
    return series


def episode_starts(cfg: ScenarioConfig, series: ScenarioSeries) -> dict[str, np.ndarray]:
    """Rows where each split's episodes may start: every local midnight whose whole episode fits in the split.

    Days (local dates, ``time.utc_offset_h``) are assigned to splits by date (see
    :class:`vpp_gym.config.SplitConfig`); an episode of more than a day must end inside its split.
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
        rows = midnight_rows[(midnight_rows >= lo) & (midnight_rows + T <= hi)]
        if len(rows) == 0:
            span = f"{series.timestamps[0]} .. {series.timestamps[-1]}"
            raise ConfigError(
                f"data.splits: the {name!r} split has no whole {cfg.time.episode_hours:g}-hour episode starting "
                f"at midnight (scenario covers {span}, {n_days} days); give more days or change the split"
            )
        out[name] = rows
    return out


def _row_of_day(midnight_rows: np.ndarray, n: int, day: int) -> int:
    return int(midnight_rows[day]) if day < len(midnight_rows) else n
