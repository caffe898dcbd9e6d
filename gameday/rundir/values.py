"""Field checks for run-directory records: the one time parser, and typed getters.

Every record type of :mod:`gameday.rundir.records` builds itself from a decoded JSON object
through these, so a wrong value anywhere gives the same kind of message
(``'status' is 'abc', not a whole number``) and never reaches the arithmetic. They raise
:class:`ValueError`; the reader adds the file and line (:class:`~gameday.rundir.errors.RunDirError`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: Times outside [EARLIEST, LATEST] unix seconds are refused: nothing gameday measures
#: happened before 1970 or after 9999-12-31, the range dates can be printed in.
EARLIEST, LATEST = 0.0, 253402300799.0


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def epoch(value: Any) -> float:
    """Unix seconds from a number or an ISO 8601 string (naive = UTC, as chaoslib writes;
    a trailing ``Z`` is UTC). ValueError for anything else: NaN, infinities, 1e300, booleans,
    ``"soon"``, or a time outside 1970..9999."""
    if isinstance(value, bool):
        raise ValueError(f"{_show(value)} is not a time")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{_show(value)} is not a time (unix seconds or ISO 8601)") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        seconds = stamp.timestamp()
    else:
        raise ValueError(f"{_show(value)} is not a time (unix seconds or ISO 8601)")
    if not (math.isfinite(seconds) and EARLIEST <= seconds <= LATEST):
        raise ValueError(f"{_show(value)} is not a time between 1970 and 9999")
    return seconds


def optional_epoch(value: Any) -> float | None:
    """:func:`epoch`, or None for null/absent."""
    return None if value is None else epoch(value)


def _get(data: Mapping[str, Any], key: str, required: bool) -> Any:
    if key not in data or data[key] is None:
        if required:
            raise ValueError(f"lacks {key!r}")
        return None
    return data[key]


def time_field(data: Mapping[str, Any], key: str, *, required: bool = True) -> float | None:
    """``data[key]`` as unix seconds (see :func:`epoch`)."""
    value = _get(data, key, required)
    if value is None:
        return None
    try:
        return epoch(value)
    except ValueError as exc:
        raise ValueError(f"{key!r}: {exc}") from None


def required_time(data: Mapping[str, Any], key: str) -> float:
    """``data[key]`` as unix seconds; ValueError when absent."""
    value = time_field(data, key)
    assert value is not None
    return value


def number_field(
    data: Mapping[str, Any], key: str, *, required: bool = True, minimum: float | None = None
) -> float | None:
    """``data[key]`` as a finite number (not a boolean), at least ``minimum``."""
    value = _get(data, key, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key!r} is {_show(value)}, not a finite number")
    if minimum is not None and value < minimum:
        raise ValueError(f"{key!r} is {_show(value)}, less than {minimum:g}")
    return float(value)


def int_field(data: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    """``data[key]`` as a whole number (not a boolean)."""
    value = _get(data, key, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key!r} is {_show(value)}, not a whole number")
    return value


def str_field(data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    """``data[key]`` as a string."""
    value = _get(data, key, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} is {_show(value)}, not a string")
    return value


def bool_field(data: Mapping[str, Any], key: str, *, default: bool | None = None) -> bool:
    """``data[key]`` as a boolean (``default`` when absent; required without one)."""
    value = data.get(key)
    if value is None:
        if default is None:
            raise ValueError(f"lacks {key!r}")
        return default
    if not isinstance(value, bool):
        raise ValueError(f"{key!r} is {_show(value)}, not true or false")
    return value


def dict_field(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` as a JSON object ({} when absent or null)."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{key!r} is {_show(value)}, not a JSON object")
    return value


def one_of(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    """``data[key]``, one of ``allowed`` (``default`` when absent)."""
    value = data.get(key)
    if value is None:
        return default
    if value not in allowed:
        raise ValueError(f"{key!r} is {_show(value)}, not one of {', '.join(allowed)}")
    return str(value)
