"""Emergency stop: ``gameday abort`` stops every drill running on this host, and the file
an external system can create to do the same.

Each drill registers itself while it runs: ``<state dir>/drills/<pid>.json`` (beside the
fault ledger, so per user like ``gameday recover``) names its process (pid and start time,
so a reused pid is never signalled), its run directory and experiment. ``gameday abort``
writes ``abort-request.json`` into each drill's run directory (who asked, when, why: the
record) and sends it :data:`~gameday.drill.signals.ABORT_SIGNAL`; the drill stops, rolls
back at once and records the stop in ``run.json`` and the journal. With no drill running
it says so and exits 1.

The **emergency-stop file** (``$GAMEDAY_ABORT_FILE``, else ``<state dir>/ABORT``) is for
systems that cannot run a command on this host (a pager, a CI job, a shared volume): while
it exists every running drill stops and rolls back, and no drill starts (the message says
to remove it).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.drill import DrillError
from gameday.faults import ledger_path
from gameday.procutil import same_process, start_ticks

__all__ = [
    "RunningDrill",
    "abort_all",
    "abort_file",
    "ensure_not_aborted",
    "register",
    "running_drills",
    "unregister",
]

ABORT_REQUEST = "abort-request.json"


def drills_dir() -> Path:
    """Where running drills register (beside the fault ledger)."""
    return ledger_path().parent / "drills"


def abort_file() -> Path:
    """The emergency-stop file: ``$GAMEDAY_ABORT_FILE``, else ``<state dir>/ABORT``."""
    named = os.environ.get("GAMEDAY_ABORT_FILE")
    return Path(named).expanduser().absolute() if named else ledger_path().parent / "ABORT"


def ensure_not_aborted() -> None:
    """DrillError while the emergency-stop file exists (no drill may start)."""
    path = abort_file()
    if path.exists():
        raise DrillError(
            f"the emergency stop is engaged ({path} exists): no drill starts until it is removed."
        )


@dataclass(frozen=True)
class RunningDrill:
    """One registered drill process."""

    pid: int
    ticks: int | None
    run_dir: str | None
    experiment: str | None
    target: str | None
    since: float

    @property
    def alive(self) -> bool:
        return same_process(self.pid, self.ticks)


def register(run_dir: Path | None, experiment: str | None, target: str | None) -> Path:
    """Register this process as a running drill; returns the registration file."""
    directory = drills_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{os.getpid()}.json"
    record = {
        "pid": os.getpid(),
        "ticks": start_ticks(os.getpid()),
        "run_dir": str(run_dir) if run_dir else None,
        "experiment": experiment,
        "target": target,
        "since": time.time(),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(path)
    return path


def unregister() -> None:
    (drills_dir() / f"{os.getpid()}.json").unlink(missing_ok=True)


def _read(path: Path) -> RunningDrill | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pid = data["pid"]
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        ticks = data.get("ticks")
        return RunningDrill(
            pid,
            ticks if isinstance(ticks, int) else None,
            data.get("run_dir") if isinstance(data.get("run_dir"), str) else None,
            data.get("experiment") if isinstance(data.get("experiment"), str) else None,
            data.get("target") if isinstance(data.get("target"), str) else None,
            float(data.get("since") or 0.0),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_drills() -> list[RunningDrill]:
    """The registered drills whose process still runs (stale registrations are removed)."""
    found = []
    directory = drills_dir()
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        drill = _read(path)
        if drill is not None and drill.alive:
            found.append(drill)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return found


def abort_all(reason: str | None = None) -> list[dict[str, Any]]:
    """Stop every running drill: record the request in its run directory, then signal it.
    Returns one item per drill (pid, run_dir, experiment, outcome)."""
    from gameday.drill.signals import ABORT_SIGNAL

    done = []
    for drill in running_drills():
        item: dict[str, Any] = {
            "pid": drill.pid,
            "run_dir": drill.run_dir,
            "experiment": drill.experiment,
            "outcome": "signalled",
        }
        request = {"time": time.time(), "by": _who(), "reason": reason or "gameday abort"}
        if drill.run_dir and Path(drill.run_dir).is_dir():
            with contextlib.suppress(OSError):
                _write_new(Path(drill.run_dir) / ABORT_REQUEST, request)
        try:
            os.kill(drill.pid, ABORT_SIGNAL)
        except OSError as exc:
            item["outcome"] = f"could not signal it: {exc}"
        done.append(item)
    return done


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _write_new(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` without following a link planted there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def read_abort_request(run_dir: Path | None) -> dict[str, Any] | None:
    """What ``gameday abort`` recorded in ``run_dir`` (None if nothing)."""
    if run_dir is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((run_dir / ABORT_REQUEST).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return None
