"""The drill's objectives: what the team signed up for, validated once.

They live in the experiment's ``extensions`` entry named ``gameday``::

    {"name": "gameday",
     "objectives": {"rto_seconds": 60, "rpo_seconds": 5},
     "recovery": {"window_seconds": 10, "success_threshold": 0.99, "min_requests": 20}}

and are copied flat into ``run.json`` (``"objectives": {"rto_seconds": ..., ...}``);
:func:`parse_objectives` accepts both shapes. Units are part of the key names (seconds, a
ratio in (0, 1], a count): a value in another unit (``"1m"``, ``99`` for 99 %) or an
unknown key such as ``rto_minutes`` is refused with a message saying what to write.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from gameday.reports.errors import ObjectivesError

DEFAULT_WINDOW_SECONDS = 10.0
DEFAULT_SUCCESS_THRESHOLD = 0.99
DEFAULT_MIN_REQUESTS = 20

_OBJECTIVE_KEYS = ("rto_seconds", "rpo_seconds")
_RECOVERY_KEYS = ("window_seconds", "success_threshold", "min_requests")
_EXTENSION_KEYS = frozenset(
    {"name", "objectives", "recovery", "load", "observation", "fault_activity"}
)


@dataclass(frozen=True)
class Objectives:
    """RTO/RPO objectives (None: not set, not judged) and the sustained-recovery rule:
    the first window of ``window_seconds`` holding at least ``min_requests`` requests with a
    success ratio of at least ``success_threshold``."""

    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    success_threshold: float = DEFAULT_SUCCESS_THRESHOLD
    min_requests: int = DEFAULT_MIN_REQUESTS

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _seconds(where: str, key: str, value: Any, *, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = (
            " (write seconds as a number, e.g. 60 for one minute)" if isinstance(value, str) else ""
        )
        raise ObjectivesError(f"{where}.{key} must be a number of seconds, got {value!r}{hint}.")
    if not math.isfinite(value) or value < 0:
        raise ObjectivesError(f"{where}.{key} must be zero or more seconds, got {value!r}.")
    return float(value)


def _check_keys(where: str, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            hint = ""
            stem = key.rsplit("_", 1)[0]
            match = [k for k in allowed if k.startswith(stem)]
            if match:
                hint = f" (objectives are in seconds: use {match[0]!r})"
            raise ObjectivesError(
                f"{where} has an unknown key {key!r}{hint}; known keys: {', '.join(allowed)}."
            )


def parse_objectives(extension: dict[str, Any] | None) -> Objectives:
    """Validate objectives from the ``gameday`` extension (nested; its other sections, such
    as ``load``, are not read here) or run.json (flat).

    Raises :class:`ObjectivesError` with a message naming the key and what to write.
    """
    if extension is None:
        return Objectives()
    if not isinstance(extension, dict):
        raise ObjectivesError(f"objectives must be a JSON object, got {type(extension).__name__}.")
    if extension.keys() & _EXTENSION_KEYS:  # the experiment's extension
        objectives = extension.get("objectives") or {}
        recovery = extension.get("recovery") or {}
        where_o, where_r = "extensions.gameday.objectives", "extensions.gameday.recovery"
    else:  # run.json's flat copy
        objectives = {k: v for k, v in extension.items() if k in _OBJECTIVE_KEYS}
        recovery = {k: v for k, v in extension.items() if k not in _OBJECTIVE_KEYS}
        where_o = where_r = "objectives"
    for where, data in ((where_o, objectives), (where_r, recovery)):
        if not isinstance(data, dict):
            raise ObjectivesError(f"{where} must be a JSON object, got {data!r}.")
    _check_keys(where_o, objectives, _OBJECTIVE_KEYS)
    _check_keys(where_r, recovery, _RECOVERY_KEYS)
    rto = _seconds(where_o, "rto_seconds", objectives.get("rto_seconds"), optional=True)
    rpo = _seconds(where_o, "rpo_seconds", objectives.get("rpo_seconds"), optional=True)
    window = _seconds(
        where_r,
        "window_seconds",
        recovery.get("window_seconds", DEFAULT_WINDOW_SECONDS),
        optional=False,
    )
    assert window is not None
    if window <= 0:
        raise ObjectivesError(
            f"{where_r}.window_seconds must be more than 0 seconds, got {window!r}."
        )
    threshold = recovery.get("success_threshold", DEFAULT_SUCCESS_THRESHOLD)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
    ):
        raise ObjectivesError(
            f"{where_r}.success_threshold must be a ratio between 0 and 1, got {threshold!r}."
        )
    if not 0 < threshold <= 1:
        hint = f" (a percentage? write {threshold / 100:g})" if 1 < threshold <= 100 else ""
        raise ObjectivesError(
            f"{where_r}.success_threshold must be a ratio in (0, 1], got {threshold!r}{hint}."
        )
    minimum = recovery.get("min_requests", DEFAULT_MIN_REQUESTS)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        raise ObjectivesError(
            f"{where_r}.min_requests must be a whole number of at least 1 (an empty window "
            f"proves nothing), got {minimum!r}."
        )
    return Objectives(rto, rpo, window, float(threshold), minimum)
