"""The lab's ``state.json``: how commands and tests find a running lab."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

#: Fake credentials: moto accepts anything, and real AWS rejects these.
LAB_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "gameday-lab",
    "AWS_SECRET_ACCESS_KEY": "gameday-lab",
    "AWS_SESSION_TOKEN": "gameday-lab",
}


def write_state(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``data`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, Any] | None:
    """The state at ``path``, or None if there is none (or it is being replaced)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
