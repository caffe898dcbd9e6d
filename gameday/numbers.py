"""One check for every number a user hands gameday: finite, the right kind, in range.

``float("nan")`` compares false with everything, so ``value > 0`` style checks let NaN
through (and a NaN interval makes a loop spin); ``inf`` passes ``> 0`` and then never
ends. :func:`number_problem` refuses both, booleans (``True`` is an ``int`` in Python),
strings and ``None``, and anything outside ``[low, high]``. Callers wrap the reason in
their own error type, so the message names their option or key.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["describe_range", "number_problem"]


def describe_range(low: float, high: float, *, integer: bool = False, unit: str = "") -> str:
    """``"a whole number from 1 to 10"`` / ``"a number of seconds from 0.1 to 60"``."""
    kind = "a whole number" if integer else "a number"
    unit_text = f" of {unit}" if unit else ""
    return f"{kind}{unit_text} from {low:g} to {high:g}"


def number_problem(
    value: Any,
    low: float,
    high: float,
    *,
    integer: bool = False,
    unit: str = "",
    low_exclusive: bool = False,
) -> str | None:
    """Why ``value`` is not an acceptable number, or None if it is.

    The reason reads after the name: ``f"{name} must be {reason}"``.
    """
    wanted = describe_range(low, high, integer=integer, unit=unit)
    if low_exclusive:
        wanted = wanted.replace(f"from {low:g}", f"above {low:g} and up")
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        return f"{wanted}, got {value!r}"
    if not math.isfinite(value):
        return f"{wanted} (finite), got {value!r}"
    if value < low or value > high or (low_exclusive and value == low):
        return f"{wanted}, got {value!r}"
    return None
