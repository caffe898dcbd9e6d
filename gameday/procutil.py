"""The one process-liveness check of gameday.

The fault ledger asks whether the drill that wrote an entry still runs (its faults are
not orphans yet); the lab asks whether its supervisor and region processes run. Both ask
:func:`pid_alive`: signal 0 proves the pid exists, and ``/proc`` tells a zombie (exited,
not yet reaped: alive to ``kill`` but doing nothing) from a live process. Where ``/proc``
does not exist (macOS), ``kill`` alone decides.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "alive_since",
    "pid_alive",
    "process_state",
    "same_process",
    "start_epoch",
    "start_ticks",
]

_PROC = Path("/proc")


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, T for stopped, Z ...), or None."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` names a live (not zombie, not dead) process on this host."""
    if not pid or pid < 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    if not (_PROC / "self").exists():
        return True
    return process_state(pid) not in ("Z", "X", None)


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat`` field 22), or None.

    A pid and its start time name one process for the life of the host: a pid written to
    a file and later reused by an unrelated process has a different start time."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def same_process(pid: int | None, ticks: int | None) -> bool:
    """True if ``pid`` is alive and is the process that started at ``ticks`` (when known)."""
    if not pid_alive(pid):
        return False
    if ticks is None or not (_PROC / "self").exists():
        return True
    assert pid is not None
    return start_ticks(pid) == ticks


def start_epoch(pid: int) -> float | None:
    """When ``pid`` started, in Unix seconds (boot time + its start ticks), or None."""
    ticks = start_ticks(pid)
    if ticks is None:
        return None
    try:
        stat = (_PROC / "stat").read_text()
        boot = next(int(line.split()[1]) for line in stat.splitlines() if line.startswith("btime"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def alive_since(pid: int | None, when: float) -> bool:
    """True if ``pid`` is alive and already ran at ``when`` (Unix seconds): the process
    that wrote a record at ``when``, not an unrelated one that reused its pid later."""
    if not pid_alive(pid):
        return False
    assert pid is not None
    began = start_epoch(pid)
    return began is None or began <= when + 1.0
