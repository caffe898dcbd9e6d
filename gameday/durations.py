"""The one place gameday turns a written duration into seconds.

Two spellings exist and each has exactly one parser here:

* **ISO 8601 time durations**, as AWS writes them (FIS action ``duration``, e.g. ``PT5M``):
  :func:`iso8601_seconds`. Only the time part (``PT`` then hours, minutes, seconds, in that
  order, at least one of them; seconds may carry a fraction) is accepted: FIS bounds actions
  to hours, and a day or month component has no fixed length in seconds.
* **Command-line spans** a person types (``90``, ``90s``, ``2m``, ``1h30m``):
  :func:`span_seconds`, which also takes an ISO 8601 duration so both spellings work
  wherever a duration is asked for.

Both raise :class:`DurationError` (a :class:`ValueError`) with a message naming the
accepted forms; callers wrap it in their own error type (``ActivityFailed``, an FIS
``ValidationException``, a click ``BadParameter``).
"""

from __future__ import annotations

import logging
import math
import os
import re

__all__ = [
    "MAX_DURATION_ENV",
    "DurationError",
    "bound_fis_duration",
    "iso8601_seconds",
    "span_seconds",
]

#: Set by the gameday control while a drill runs: its maximum duration in AWS seconds
#: (``stop_conditions.max_duration_seconds``); FIS actions bound their ``duration`` by it.
MAX_DURATION_ENV = "GAMEDAY_MAX_DURATION_SECONDS"

_ISO8601 = re.compile(r"^PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")
_SPAN = re.compile(r"^(?=\d)(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


class DurationError(ValueError):
    """A duration that is not in an accepted form."""


def iso8601_seconds(text: str) -> float:
    """Seconds in an ISO 8601 time duration: ``PT30S`` -> 30, ``PT1H30M`` -> 5400."""
    match = _ISO8601.match(text) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise DurationError(f"{text!r} is not an ISO 8601 duration such as PT30S, PT5M or PT1H30M")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def span_seconds(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"2m"``, ``"1h30m"`` or an ISO 8601 ``"PT2M"``."""
    stripped = text.strip() if isinstance(text, str) else ""
    if stripped.startswith("PT"):
        return iso8601_seconds(stripped)
    match = _SPAN.match(stripped)
    if not stripped or match is None or not any(match.groups()):
        raise DurationError(f"{text!r} is not a duration like 90, 90s, 2m, 1h30m or PT2M")
    hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def bound_fis_duration(duration: str) -> str:
    """``duration`` (ISO 8601), cut to the running drill's maximum duration, if any."""
    limit = os.environ.get(MAX_DURATION_ENV)
    try:
        bound = float(limit) if limit else math.inf
        asked = iso8601_seconds(duration)
    except ValueError:
        return duration  # the action's own check reports a bad duration
    if not math.isfinite(bound) or asked <= bound:
        return duration
    logging.getLogger("gameday").warning(
        "gameday: FIS duration %s cut to the drill's maximum duration of %g s", duration, bound
    )
    return f"PT{max(1, int(bound))}S"
