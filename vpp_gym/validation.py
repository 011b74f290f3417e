"""Typed construction of frozen config dataclasses from plain mappings (YAML), with clear errors.

Every config object in vpp-gym is a frozen dataclass. :func:`from_mapping` builds one from a
mapping (typically the result of ``yaml.safe_load``), recursing into nested dataclasses, and
rejects unknown keys and values of the wrong type with a :class:`ConfigError` that names the
dotted key, the offending value and what was expected. Range checks live in each dataclass's
``__post_init__`` and use :func:`require` so that they produce the same kind of message.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import math
import numbers
import types
import warnings
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import numpy as np
import yaml

T = TypeVar("T")

# -- physical upper bounds of config values ------------------------------------------------------
# Every numeric config key has an upper bound (README, "Config bounds"): values beyond them describe
# no power plant or market and only overflow the settlement to inf/nan. The bounds are generous on
# purpose (a VPP aggregates kW to a few GW).
MAX_POWER_MW = 1e4
"""Largest power of a resource, position, offer or need: 10 GW."""
MAX_ENERGY_MWH = 1e5
"""Largest stored energy: 100 GWh."""
MAX_PRICE_PER_MWH = 1e5
"""Largest price, cost, penalty or value per MWh (or per MW and hour): the data schema's price cap."""
MAX_COST = 1e7
"""Largest one-off cost (a start of the gas unit), in currency."""
MAX_CARBON_T = 1e7
"""Largest carbon quantity (a band of the stepped carbon price), tCO2."""
MAX_RATE_MW_PER_H = 1e6
"""Largest ramp rate: 10 GW in 36 s."""
MAX_SEED = 2**63 - 1
"""Largest seed (NumPy's generators take any non-negative integer; this keeps it a 64-bit one)."""


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range.

    The message names the dotted key path, the value given and what was expected.
    """


class ConfigWarning(UserWarning):
    """A configuration key is valid but has no effect in the chosen configuration (e.g. a V2G power
    limit of an EV fleet without V2G); the message names the key and why."""


def warn_unused(key: str, value: object, why: str) -> None:
    """Report (as a :class:`ConfigWarning`) that ``key`` is set to ``value`` but has no effect: ``why``."""
    warnings.warn(f"{key} = {plain(value)} has no effect: {why}; remove it", ConfigWarning, stacklevel=4)


def is_number(value: object) -> bool:
    """A real number (Python or NumPy, integer or float), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def is_integer(value: object) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def fmt_num(value: float) -> str:
    """A number as a message shows it: plainly (``inf``, not ``np.float64(inf)``), integers without ``.0``,
    and otherwise with every digit needed to tell it apart (``5.0000001``, not ``5``)."""
    if is_integer(value):
        return str(int(value))
    x = float(value)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def plain(value: object) -> str:
    """``value`` for a message: numbers plainly with every digit (``1.5``, ``inf``, not ``np.float64(inf)``),
    text quoted, containers item by item."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if is_integer(value):
        return str(int(value))  # type: ignore[call-overload]
    if is_number(value):  # a float as Python writes it (1.5, 0.0, 5.0000001, 1e+308), but inf/nan plainly
        x = float(value)  # type: ignore[arg-type]
        return repr(x) if math.isfinite(x) else fmt_num(x)
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{plain(k)}: {plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    if hasattr(value, "tolist") and hasattr(value, "shape"):  # a NumPy array
        return plain(value.tolist())
    return repr(value)


def require(ok: bool, key: str, value: object, expected: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``ok``.

    Args:
        ok: the condition that must hold.
        key: dotted key path (or field name) of the value being checked.
        value: the value that was given (shown by :func:`plain`).
        expected: what a valid value looks like, e.g. ``"a number in [0, 1]"``.
    """
    if not ok:
        raise ConfigError(f"{key}: got {plain(value)}, expected {expected}")


def require_finite(key: str, value: float) -> None:
    """Require a finite number (Python or NumPy)."""
    require(is_number(value) and math.isfinite(float(value)), key, value, "a finite number")


def require_int(key: str, value: int, lo: int | None = None, hi: int | None = None) -> None:
    """Require an integer (Python or NumPy, not a bool) in ``[lo, hi]``."""
    ok = is_integer(value) and (lo is None or value >= lo) and (hi is None or value <= hi)
    if lo is not None and hi is not None:
        expected = f"an integer in [{fmt_num(lo)}, {fmt_num(hi)}]"
    elif lo is not None:
        expected = f"an integer >= {fmt_num(lo)}"
    elif hi is not None:
        expected = f"an integer <= {fmt_num(hi)}"
    else:
        expected = "an integer"
    require(ok, key, value, expected)


def require_range(
    key: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    """Require ``lo <= value <= hi`` (or strict where ``lo_open``/``hi_open``)."""
    require_finite(key, value)
    ok = True
    if lo is not None:
        ok = ok and (value > lo if lo_open else value >= lo)
    if hi is not None:
        ok = ok and (value < hi if hi_open else value <= hi)
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    lo_s = "-inf" if lo is None else fmt_num(lo)
    hi_s = "inf" if hi is None else fmt_num(hi)
    require(ok, key, value, f"a number in {left}{lo_s}, {hi_s}{right}")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_type_name(args[0])}"
        return f"a list of {len(args)} items"
    if origin in (dict, Mapping):
        return "a mapping"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return f"a mapping of {tp.__name__} fields"
    if tp is type(None):
        return "null"
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a ConfigError naming ``key``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        require(value in get_args(tp), key, value, _type_name(tp))
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None:
            require(type(None) in args, key, value, _type_name(tp))
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, key)
            except ConfigError as err:
                errors.append(err)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(f"{key}: got {plain(value)}, expected {_type_name(tp)}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_mapping(tp, value, key)
    if origin is tuple:
        require(isinstance(value, list | tuple), key, value, _type_name(tp))
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        require(len(value) == len(args), key, value, _type_name(tp))
        return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=False)))
    if origin in (dict, Mapping):
        require(isinstance(value, Mapping), key, value, "a mapping")
        kt, vt = get_args(tp)
        return {_convert(kt, k, f"{key}.{k}"): _convert(vt, v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:  # NumPy's bool too, as a Python bool
        require(isinstance(value, bool | np.bool_), key, value, "true or false")
        return bool(value)
    if tp is int:  # NumPy integers too, as Python ints
        require(is_integer(value), key, value, "an integer")
        return int(value)
    if tp is float:  # NumPy numbers too, as Python floats
        require(is_number(value), key, value, "a number")
        require(math.isfinite(float(value)), key, value, "a finite number")
        return float(value)
    if tp is str:
        if isinstance(value, _dt.date):  # YAML reads an unquoted 2025-10-01 as a date
            return value.isoformat()
        require(isinstance(value, str), key, value, "a string")
        return str(value)
    raise TypeError(f"unsupported config field type {tp!r} at {key}")  # programming error


def from_mapping(cls: type[T], data: Any, key: str = "") -> T:
    """Build the frozen dataclass ``cls`` from a mapping, rejecting unknown keys.

    Args:
        cls: a dataclass type whose fields carry type hints.
        data: a mapping from field name to value (``None`` means "all defaults").
        key: dotted prefix used in error messages.

    Raises:
        ConfigError: for an unknown key (with a close-match suggestion), a missing required
            field, or a value of the wrong type; range errors come from ``cls.__post_init__``.
    """
    where = key or cls.__name__
    if data is None:
        data = {}
    require(isinstance(data, Mapping), where, data, _type_name(cls))
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(str(k), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown key {k!r}{hint}; valid keys are: {', '.join(sorted(fields))}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{sub}: required key is missing ({_type_name(hints[name])})")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        msg = str(err)
        if key and not msg.startswith(key):
            raise ConfigError(f"{key}.{msg}") from None
        raise


def to_mapping(obj: Any) -> Any:
    """Inverse of :func:`from_mapping`: a plain, YAML-safe structure (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, tuple | list):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj


def merge_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overrides`` merged in; keys may be dotted (``"battery.e_max_mwh"``).

    Nested mappings merge recursively; any other value replaces the base value. Unknown keys are
    kept so that :func:`from_mapping` can reject them with a precise message.
    """
    out: dict[str, Any] = _deep_copy(base)
    for k, v in overrides.items():
        parts = str(k).split(".")
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {} if nxt is None else nxt
                if not isinstance(nxt, dict):
                    raise ConfigError(f"{k}: cannot set a sub-key of {p!r}, which is {nxt!r}")
                node[p] = nxt
            node = nxt
        last = parts[-1]
        if isinstance(v, Mapping) and isinstance(node.get(last), dict):
            node[last] = merge_overrides(node[last], v)
        else:
            node[last] = _deep_copy(v) if isinstance(v, Mapping) else v
    return out


def _deep_copy(m: Any) -> Any:
    if isinstance(m, Mapping):
        return {k: _deep_copy(v) for k, v in m.items()}
    if isinstance(m, list):
        return [_deep_copy(v) for v in m]
    return m


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice (PyYAML keeps the last silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hashable = key in seen
        except TypeError:
            continue  # an unhashable key: the base constructor reports it
        if hashable:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"found the key {key!r} twice (first on line {seen[key] + 1}); each key may appear once",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def yaml_error_message(err: yaml.YAMLError) -> str:
    """A YAML error on one line: what is wrong and where (``line 3, column 3``)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = " ".join(x for x in (err.context, err.problem) if x)
        return f"{what}{where}"
    return " ".join(str(err).split())


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (a ``yaml.YAMLError`` naming the key and its lines;
    :func:`yaml_error_message` puts it on one line)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
