"""The experiment's ``gameday`` extension: objectives, load, observation and sampling.

An experiment carries everything the drill needs beyond Chaos Toolkit in its
``extensions`` entry named ``gameday``::

    {"name": "gameday",
     "drill": "dns-failover",                 # the run directory's name (default: file stem)
     "fault_activity": "invert-primary-health-check",   # the impairment: fault time t0
     "objectives": {"rto_seconds": 60, "rpo_seconds": 5},
     "recovery": {"window_seconds": 10, "success_threshold": 0.99, "min_requests": 20},
     "load": {"profile": "load/orders.py", "users": 8, "spawn_rate": 8,
              "sticky_share": 0.25, "write_ratio": 0.5,
              "warmup": {"min_successes": 20, "min_seconds": 10, "max_error_ratio": 0.01,
                         "timeout_seconds": 30}},
     "observation": {"max_seconds": 60},
     "sampling": {"interval_seconds": 0.25}}

Units (one clock, :mod:`gameday.reports.clock`): the objectives, the recovery window and
the observation maximum and the load's warm-up minimum are AWS seconds, run at 1/speed on
the lab; the load's warm-up timeout and the sampling interval are seconds of the machine running the drill (the
sampler must see each lab phase, so it samples in lab seconds).

Every part has a default (:class:`DrillSettings`); objectives are validated by the report
package (:func:`gameday.reports.objectives.parse_objectives`), everything else here, with
one message naming the key and what to write (:class:`~gameday.drill.DrillError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.drill import DrillError

EXTENSION = "gameday"


@dataclass(frozen=True)
class Warmup:
    """When the load counts as warm: enough successes, few enough errors, and long enough.

    ``min_seconds`` (AWS seconds, 1/speed on the lab) is how long the load has run before
    the method starts: the writes a failover can lose are those of the last replication lag
    before it, so a load younger than the lag caps the measured RPO at the load's age, and
    a count of successes alone lasts a different AWS time at each lab speed.
    """

    min_successes: int = 20
    min_seconds: float = 10.0
    max_error_ratio: float = 0.01
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class LoadProfile:
    """The load a drill runs under (``profile`` None: gameday's stock workload)."""

    profile: str | None = None
    users: int = 8
    spawn_rate: float | None = None
    sticky_share: float = 0.0
    write_ratio: float = 0.5
    warmup: Warmup = field(default_factory=Warmup)


@dataclass(frozen=True)
class DrillSettings:
    """Everything the control reads from the ``gameday`` extension, defaults filled in."""

    name: str
    objectives: Any  # gameday.reports.objectives.Objectives
    fault_activity: str | None = None
    load: LoadProfile = field(default_factory=LoadProfile)
    observation_max_seconds: float = 60.0
    sample_interval: float = 0.25

    def load_profile_path(self, experiment_path: Path | None) -> Path | None:
        """The locustfile, relative to the experiment's folder's parent (the repo root)."""
        if not self.load.profile:
            return None
        path = Path(self.load.profile)
        if path.is_absolute() or experiment_path is None:
            return path
        for base in (experiment_path.resolve().parent.parent, Path.cwd()):
            if (base / path).is_file():
                return base / path
        return experiment_path.resolve().parent.parent / path


def extension(experiment: dict[str, Any]) -> dict[str, Any] | None:
    """The experiment's ``gameday`` extension entry, or None."""
    for entry in experiment.get("extensions") or []:
        if isinstance(entry, dict) and entry.get("name") == EXTENSION:
            return entry
    return None


def _number(
    where: str, value: Any, *, low: float, high: float = math.inf, integer: bool = False
) -> Any:
    ok = not isinstance(value, bool) and isinstance(value, int if integer else int | float)
    if not ok or not (low <= value <= high):
        kind = "a whole number" if integer else "a number"
        bound = f"between {low:g} and {high:g}" if high != math.inf else f"of at least {low:g}"
        raise DrillError(f"extensions[gameday].{where} must be {kind} {bound}, got {value!r}.")
    return value


def _section(ext: dict[str, Any], key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    data = ext.get(key) or {}
    if not isinstance(data, dict):
        raise DrillError(f"extensions[gameday].{key} must be an object, got {data!r}.")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise DrillError(
            f"extensions[gameday].{key} has unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(allowed)}."
        )
    return data


def parse_objectives(ext: dict[str, Any]) -> Any:
    """Objectives through the report package (one validator for both sides)."""
    from gameday.reports import ReportError
    from gameday.reports.objectives import parse_objectives as parse

    try:
        return parse(ext)
    except ReportError as exc:
        raise DrillError(f"extensions[gameday]: {exc}") from exc


def drill_name(experiment: dict[str, Any], path: Path | None) -> str:
    """The drill's name: ``extensions[gameday].drill``, else the file's stem."""
    ext = extension(experiment) or {}
    name = ext.get("drill") or (path.stem if path else None)
    if not name:
        title = str(experiment.get("title") or "drill")
        name = "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())[:60]
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise DrillError(f"extensions[gameday].drill must be a plain name, got {name!r}.")
    return name


def parse_settings(experiment: dict[str, Any], path: Path | None = None) -> DrillSettings:
    """Read and validate the ``gameday`` extension; raises DrillError on bad values."""
    ext = extension(experiment)
    if ext is None:
        raise DrillError(
            "the experiment has no extensions entry named 'gameday': add one with its "
            'objectives, e.g. {"name": "gameday", "objectives": {"rto_seconds": 60, "rpo_seconds": 5}}.'
        )
    if not isinstance(ext.get("objectives"), dict) or not ext["objectives"]:
        raise DrillError(
            "extensions[gameday].objectives is missing: state at least rto_seconds or rpo_seconds."
        )
    objectives = parse_objectives(ext)
    load = _section(
        ext, "load", ("profile", "users", "spawn_rate", "sticky_share", "write_ratio", "warmup")
    )
    warm = load.get("warmup") or {}
    if not isinstance(warm, dict) or set(warm) - {
        "min_successes",
        "min_seconds",
        "max_error_ratio",
        "timeout_seconds",
    }:
        raise DrillError(
            "extensions[gameday].load.warmup takes min_successes, min_seconds, max_error_ratio, "
            "timeout_seconds."
        )
    warmup = Warmup(
        min_successes=_number(
            "load.warmup.min_successes", warm.get("min_successes", 20), low=1, integer=True
        ),
        min_seconds=_number("load.warmup.min_seconds", warm.get("min_seconds", 10.0), low=0),
        max_error_ratio=_number(
            "load.warmup.max_error_ratio", warm.get("max_error_ratio", 0.01), low=0, high=1
        ),
        timeout_seconds=_number(
            "load.warmup.timeout_seconds", warm.get("timeout_seconds", 30.0), low=1
        ),
    )
    profile = load.get("profile")
    if profile is not None and (not isinstance(profile, str) or not profile.endswith(".py")):
        raise DrillError(
            f"extensions[gameday].load.profile must name a locustfile (.py), got {profile!r}."
        )
    spawn = load.get("spawn_rate")
    profile_settings = LoadProfile(
        profile=profile,
        users=_number("load.users", load.get("users", 8), low=1, high=10_000, integer=True),
        spawn_rate=None if spawn is None else _number("load.spawn_rate", spawn, low=0.1),
        sticky_share=_number("load.sticky_share", load.get("sticky_share", 0.0), low=0, high=1),
        write_ratio=_number("load.write_ratio", load.get("write_ratio", 0.5), low=0, high=1),
        warmup=warmup,
    )
    observation = _section(ext, "observation", ("max_seconds",))
    sampling = _section(ext, "sampling", ("interval_seconds",))
    fault = ext.get("fault_activity")
    if fault is not None and not isinstance(fault, str):
        raise DrillError(
            f"extensions[gameday].fault_activity must be an action's name, got {fault!r}."
        )
    return DrillSettings(
        name=drill_name(experiment, path),
        objectives=objectives,
        fault_activity=fault,
        load=profile_settings,
        observation_max_seconds=_number(
            "observation.max_seconds", observation.get("max_seconds", 60.0), low=1
        ),
        sample_interval=_number(
            "sampling.interval_seconds", sampling.get("interval_seconds", 0.25), low=0.05, high=60
        ),
    )
