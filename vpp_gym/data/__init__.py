"""Exogenous series of a scenario: the schema, the synthetic generator, file loading and sources.

- :mod:`~vpp_gym.data.schema`: the columns every scenario provides, with units and ranges.
- :mod:`~vpp_gym.data.synthetic`: a seeded generator of all columns (:func:`generate`).
- :mod:`~vpp_gym.data.loader`: reading and validating a complete scenario file (:func:`load_series`).
- :mod:`~vpp_gym.data.sources`: building a scenario from users' files of any resolution and
  period, synthesizing what they lack (:func:`build_from_files`).
"""

from vpp_gym.data.loader import DataError, load_series, validate_frame
from vpp_gym.data.schema import COLUMN_NAMES, COLUMNS
from vpp_gym.data.series import ScenarioSeries
from vpp_gym.data.sources import ColumnMap, FilesConfig, FileSource, build_from_files
from vpp_gym.data.synthetic import SyntheticConfig, generate

__all__ = [
    "COLUMNS",
    "COLUMN_NAMES",
    "ColumnMap",
    "DataError",
    "FileSource",
    "FilesConfig",
    "ScenarioSeries",
    "SyntheticConfig",
    "build_from_files",
    "generate",
    "load_series",
    "validate_frame",
]
