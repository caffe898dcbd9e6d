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
    """The state at ``path``, or None if there is none, it is being replaced, or it is
    damaged (not an object, pids that are not numbers, regions that are not a list of
    objects): a command then finds the lab by its lock and processes, never crashes."""
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _pid_or_none(state.get("supervisor_pid")):
        return None
    regions = state.get("regions", [])
    if not isinstance(regions, list) or not all(
        isinstance(r, dict) and _pid_or_none(r.get("pid")) for r in regions
    ):
        return None
    return state


def _pid_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)
