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

__all__ = ["pid_alive", "process_state"]

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
