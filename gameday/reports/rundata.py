"""Everything read from a run directory before the ledger pass (:func:`read_run`).

Separate from :mod:`gameday.reports.build` so that the renderer can read it without
importing the module that calls the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday import rundir as names
from gameday.reports import runfiles as rf
from gameday.reports.errors import ObjectivesError, RunDirError
from gameday.reports.objectives import Objectives, parse_objectives
from gameday.rundir.files import read_json

#: Journal statuses (chaoslib's) and run.json keys that mean the drill was stopped.
STOPPED_STATUSES = ("interrupted", "aborted")


@dataclass(frozen=True)
class RunData:
    """Everything read from a run directory, before the ledger pass."""

    run_dir: Path
    run: rf.RunInfo
    journal: rf.Journal
    objectives: Objectives
    samples: list[rf.Sample]
    lab_events: list[dict[str, Any]]
    faults: list[rf.FaultEntry] | None
    notes: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    missing: tuple[str, ...]
    experiment: dict[str, Any]
    interrupted: str | None = None  # why the drill did not run to its end


def read_run(run_dir: Path) -> RunData:
    """Read (and validate) every small artifact; the ledger is streamed later."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(
            run_dir,
            "is not a directory (give a run directory such as reports/<experiment>/<stamp>)",
        )
    run = rf.read_run_info(run_dir / names.RUN_JSON)
    raw_run = read_json(run_dir / names.RUN_JSON, required=False)
    journal_path = run_dir / names.JOURNAL
    journal = rf.parse_journal(read_json(journal_path, required=True), journal_path)
    if not (run_dir / names.REQUESTS).exists():
        raise RunDirError(run_dir / names.REQUESTS, "missing: the request ledger is required")
    source = run_dir / (names.RUN_JSON if run.objectives is not None else names.JOURNAL)
    try:
        objectives = parse_objectives(
            run.objectives if run.objectives is not None else journal.extension or None
        )
    except ObjectivesError as exc:
        raise RunDirError(source, str(exc)) from None
    missing = [
        name
        for name in (names.RUN_JSON, names.SAMPLES, names.FAULTS, names.AUDIT, names.NOTES)
        if not (run_dir / name).exists()
    ]
    if journal.fault is None:
        missing.append("an impairment action in the journal (t0)")
    experiment = {"name": run.experiment.get("name") or run_dir.resolve().parent.name,
                  "title": run.experiment.get("title") or journal.title}  # fmt: skip
    return RunData(
        run_dir, run, journal, objectives, rf.read_samples(run_dir / names.SAMPLES),
        rf.read_lab_events(run_dir / names.LAB_EVENTS), rf.read_faults(run_dir / names.FAULTS),
        rf.read_notes(run_dir / names.NOTES), rf.read_steps(run_dir / names.STEPS), tuple(missing),
        experiment, interruption(journal, raw_run),
    )  # fmt: skip


def interruption(journal: rf.Journal, raw_run: Any) -> str | None:
    """Why the drill was stopped (None when it ran to its end): the journal's status, or
    run.json's ``interrupted`` / ``aborted`` / ``status`` as the control recorded it."""
    if isinstance(raw_run, dict):
        for key in STOPPED_STATUSES:
            value = raw_run.get(key)
            if value:
                return f"the drill was {key}" + (f" ({value})" if isinstance(value, str) else "")
        if raw_run.get("status") in STOPPED_STATUSES:
            return f"the drill was {raw_run['status']} (run.json)"
    if journal.status in STOPPED_STATUSES:
        return f"the drill was {journal.status} (Chaos Toolkit journal status)"
    return None
