"""The people's side of a running drill: ``gameday step done`` and ``gameday note``.

:func:`confirm_step` confirms the operator step the drill waits for (a line in the run's
``step-confirmations.jsonl``, read by :func:`gameday.actions.runbook.operator_step`);
:func:`add_note` appends a timestamped note to ``notes.jsonl`` (on the report's timeline).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from gameday.drill import DrillError
from gameday.drill.rundir import CONFIRMATIONS, NOTES, append_jsonl, find_current
from gameday.rundir.records import Note

__all__ = ["add_note", "confirm_step"]


def confirm_step(step: str | None = None, run_dir: str | os.PathLike[str] | None = None) -> Path:
    """Confirm the running drill's current operator step (``gameday step done``)."""
    path = find_current(run_dir)
    append_jsonl(
        path / CONFIRMATIONS,
        {"time": time.time(), "step": step, "by": os.environ.get("USER")},
    )
    return path


def add_note(
    text: str, author: str | None = None, run_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Append a timestamped note to the running drill (``gameday note``)."""
    if not text or not text.strip():
        raise DrillError('a note needs some text: gameday note "what happened".')
    path = find_current(run_dir)
    note = Note(time.time(), text.strip(), author or os.environ.get("USER"))
    append_jsonl(path / NOTES, note.to_json())
    return path
