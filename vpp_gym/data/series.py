"""In-memory container of a scenario's exogenous series (numpy arrays, one per schema column)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from vpp_gym.data.schema import ALL_NAMES, COLUMN_NAMES, TIMESTAMP


@dataclass(frozen=True, eq=False)
class ScenarioSeries:
    """Validated exogenous series of one scenario.

    Attributes:
        timestamps: interval starts, ``datetime64[ns]`` in UTC (naive), strictly regular.
        interval_minutes: the constant step between timestamps.
        values: one float64 array per schema column, all of the timestamps' length.
        source: where the series came from (file names or ``synthetic(seed=...)``), for records.
    """

    timestamps: np.ndarray
    interval_minutes: int
    values: dict[str, np.ndarray]
    source: str = "unknown"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        missing = [c for c in COLUMN_NAMES if c not in self.values]
        if missing:
            raise ValueError(f"{self.source}: missing series {missing}")
        for name, arr in self.values.items():
            if arr.shape != (n,):
                raise ValueError(f"{self.source}: series {name!r} has shape {arr.shape}, expected ({n},)")

    def __len__(self) -> int:
        return len(self.timestamps)

    @cached_property
    def table(self) -> np.ndarray:
        """Every column of :data:`~vpp_gym.data.schema.ALL_NAMES` side by side, ``(n, K)`` (built once, read-only).

        Episodes are sliced from it at every reset (:func:`vpp_gym.core.episode.episode_rows`).
        """
        out = np.stack([self.values[c] for c in ALL_NAMES], axis=1)
        out.flags.writeable = False
        return out

    @property
    def dt_h(self) -> float:
        """Interval length in hours."""
        return self.interval_minutes / 60.0

    @property
    def steps_per_day(self) -> int:
        """Intervals per day."""
        return 24 * 60 // self.interval_minutes

    def to_frame(self) -> pd.DataFrame:
        """The series as a DataFrame with a ``timestamp`` column first (schema order)."""
        data = {TIMESTAMP: pd.to_datetime(self.timestamps)}
        data.update({c: self.values[c] for c in COLUMN_NAMES})
        data.update({c: v for c, v in self.values.items() if c not in COLUMN_NAMES})
        return pd.DataFrame(data)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str, notes: tuple[str, ...] = ()) -> ScenarioSeries:
        """Wrap an already validated frame (see :func:`vpp_gym.data.loader.validate_frame`)."""
        from vpp_gym.data.loader import to_ns  # the loader builds series: imported here, not at the top

        ts = pd.to_datetime(frame[TIMESTAMP])
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = to_ns(ts.to_numpy(), source)
        step = int((stamps[1] - stamps[0]) / np.timedelta64(1, "m")) if len(stamps) > 1 else 60
        values = {c: frame[c].to_numpy(dtype=np.float64, copy=True) for c in frame.columns if c != TIMESTAMP}
        return cls(timestamps=stamps, interval_minutes=step, values=values, source=source, notes=notes)
