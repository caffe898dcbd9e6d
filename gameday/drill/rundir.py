"""The drill's side of the run directory ``reports/<drill>/<UTC stamp>/``.

The contract (file names, records, schemas, readers, writers) is :mod:`gameday.rundir`;
this module creates the directory and names the running drill. The control writes
``run.json``, ``samples.jsonl``, ``faults.jsonl``, ``lab-events.jsonl``, ``steps.jsonl``
and ``journal.json``; Locust writes ``requests.jsonl``; ``gameday note`` writes
``notes.jsonl``; the report package reads them all and adds its outputs. Lines are
appended with one ``write`` on an ``O_APPEND | O_NOFOLLOW`` descriptor
(:func:`~gameday.rundir.files.append_jsonl`), so the sampler's threads, an operator's
``gameday note`` from another terminal and the control never interleave within a line.

While a drill runs, ``current-run.json`` beside the fault ledger names its directory and
process, so ``gameday note`` and ``gameday step done`` from any terminal find it.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.drill import DrillError
from gameday.faults import ledger_path
from gameday.procutil import pid_alive
from gameday.rundir import (
    CONFIRMATIONS,
    CURRENT,
    FAULTS,
    JOURNAL,
    LAB_EVENTS,
    NOTES,
    REQUESTS,
    RUN_JSON,
    SAMPLES,
    STEPS,
)
from gameday.rundir.errors import RunDirError
from gameday.rundir.files import append_jsonl, iter_jsonl, read_json, write_json

__all__ = [
    "CONFIRMATIONS", "CURRENT", "FAULTS", "JOURNAL", "LAB_EVENTS", "NOTES", "REQUESTS",
    "RUN_JSON", "SAMPLES", "STEPS", "append_jsonl", "clear_current", "create_run_dir",
    "current_pointer", "find_current", "publish_current", "read_jsonl", "stamp", "write_json",
]  # fmt: skip


def stamp(when: float) -> str:
    """The UTC stamp naming a run directory, e.g. ``20261130T143000Z``."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y%m%dT%H%M%SZ")


def create_run_dir(base: Path, name: str, started: float) -> Path:
    """A new ``base/name/<stamp>`` (a suffix when two runs start in the same second)."""
    parent = Path(base) / name
    parent.mkdir(parents=True, exist_ok=True)
    candidate = parent / stamp(started)
    suffix = 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            suffix += 1
            candidate = parent / f"{stamp(started)}-{suffix}"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a file the drill is still writing: a torn last line is being written
    (skipped); any other bad line is skipped with a warning naming it (a drill with a fault
    in place never stops for a line it only reads to follow progress)."""
    return [item for _, item in iter_jsonl(path, dict, live=True, skip_bad=True)]


# -- the current run pointer --------------------------------------------------------


def _pointer(pointer: Path) -> dict[str, Any] | None:
    """The pointer's content; None when absent or unreadable (bounded, never a FIFO)."""
    try:
        data = read_json(pointer, required=False, max_bytes=1 << 16)
    except RunDirError:
        return None
    return data if isinstance(data, dict) else None


def current_pointer() -> Path:
    """Where the running drill is named (beside the fault ledger, ``.gameday/``)."""
    return ledger_path().parent / CURRENT


def publish_current(run_dir: Path) -> None:
    pointer = current_pointer()
    pointer.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        pointer, {"run_dir": str(run_dir.resolve()), "pid": os.getpid(), "since": time.time()}
    )


def clear_current(run_dir: Path) -> None:
    pointer = current_pointer()
    data = _pointer(pointer)
    if data is not None and data.get("run_dir") == str(run_dir.resolve()):
        pointer.unlink(missing_ok=True)


def find_current(run_dir: str | os.PathLike[str] | None = None) -> Path:
    """The running drill's directory (``run_dir`` if given); DrillError if none runs."""
    if run_dir is not None:
        path = Path(run_dir)
        if not (path / RUN_JSON).is_file():
            raise DrillError(f"{path} is not a drill run directory (it has no {RUN_JSON}).")
        return path
    pointer = current_pointer()
    data = _pointer(pointer)
    if data is None:
        raise DrillError(
            f"no drill is running here (no {pointer}): start one with 'gameday run', "
            "or pass --run-dir."
        )
    pid = data.get("pid")
    if (
        not isinstance(pid, int)
        or isinstance(pid, bool)
        or not isinstance(data.get("run_dir"), str)
        or not pid_alive(pid)
    ):
        raise DrillError(
            f"the drill named in {pointer} (pid {pid}) is not running any more; "
            "pass --run-dir to annotate a finished run."
        )
    return Path(data["run_dir"])
