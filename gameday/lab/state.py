"""The lab's ``state.json``: how commands and tests find a running lab.

In the supervisor, :func:`hold` names the directory lock it holds; from then on
:func:`write_state` writes only while that lock is intact, so a supervisor whose
directory was deleted or taken over never recreates it nor overwrites a newer lab's
state.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gameday.lab.lock import LabLock

#: Fake credentials: moto accepts anything, and real AWS rejects these.
LAB_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "gameday-lab",
    "AWS_SECRET_ACCESS_KEY": "gameday-lab",
    "AWS_SESSION_TOKEN": "gameday-lab",
}


_held: LabLock | None = None


def hold(lock: LabLock | None) -> None:
    """In the supervisor: state is written only while ``lock`` is intact."""
    global _held
    _held = lock


def write_state(path: Path, data: dict[str, Any]) -> bool:
    """Replace ``path`` atomically with ``data`` as JSON; False (nothing written) when
    this process held a lab lock that is no longer the one at its path."""
    if _held is not None and not _held.intact():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return True


def read_state(path: Path) -> dict[str, Any] | None:
    """The state at ``path``, or None if there is none (or it is being replaced)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` names a live (not zombie) process."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_state(pid) not in ("Z", "X", None)


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, T for stopped, Z ...), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]
