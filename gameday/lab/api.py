"""The lab's public API: the only door from gameday's product code into a lab.

The drill, its actions and the CLI reach a lab through these names only (an import-linter
contract holds everything outside :mod:`gameday.lab` to this module): its handle
(:class:`Lab`: start, stop, status, env), its var file, its event log, its state, and the
lab-only replication-lag knob. The files a lab keeps (``state.json``, ``events.jsonl``)
and its supervisor's HTTP API are the lab's own business: read them through here, so a
change of layout, or the event log's tolerance of a malformed line, holds everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gameday.lab.config import LabConfig, LabConfigError, RegionSpec
from gameday.lab.events import Event, active_faults, read_events, served_data
from gameday.lab.launcher import (
    Lab,
    LabAlreadyRunning,
    LabError,
    LabInfo,
    RegionInfo,
    lab_env,
    shell_exports,
)
from gameday.lab.state import read_state
from gameday.lab.varfile import varfile_path
from gameday.lab.workers import lab_health

__all__ = [
    "Event",
    "Lab",
    "LabAlreadyRunning",
    "LabConfig",
    "LabConfigError",
    "LabError",
    "LabInfo",
    "RegionInfo",
    "RegionSpec",
    "active_faults",
    "baseline_lag",
    "events_between",
    "lab_env",
    "lab_health",
    "read_events",
    "served_data",
    "set_lag",
    "shell_exports",
    "speed",
    "varfile_path",
]

#: The lab's default replication delay (AWS seconds) when its state does not say.
DEFAULT_LAG = LabConfig.replication_lag


def _config(lab_dir: str | Path) -> dict[str, Any]:
    state = read_state(Lab(lab_dir).state_path) or {}
    config = state.get("config")
    return config if isinstance(config, dict) else {}


def speed(lab_dir: str | Path) -> float | None:
    """AWS seconds per lab second of the lab in ``lab_dir`` (None: no readable state)."""
    value = _config(lab_dir).get("speed")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def baseline_lag(lab_dir: str | Path) -> float:
    """The replication delay the lab was started with (AWS seconds)."""
    try:
        return float(_config(lab_dir).get("replication_lag", DEFAULT_LAG))
    except (TypeError, ValueError):
        return DEFAULT_LAG


def set_lag(lab_dir: str | Path, seconds: float) -> dict[str, Any]:
    """Lab-only: delay every replication link of the lab by ``seconds`` AWS seconds
    (``seconds / speed`` lab seconds, like every duration a user writes).

    :class:`LabError` with one actionable message when no lab runs there or it refuses."""
    return Lab(lab_dir).set_lag(seconds)


def events_between(lab_dir: str | Path, start: float, end: float) -> list[Event]:
    """The lab's events with ``start <= time <= end`` (malformed lines skipped, as the
    lab's own reader does)."""
    return [
        e for e in read_events(Lab(lab_dir).dir / "events.jsonl", since=start) if e["time"] <= end
    ]
