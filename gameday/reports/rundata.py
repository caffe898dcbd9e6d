"""Everything read from a run directory before the ledger pass (:func:`read_run`).

Separate from :mod:`gameday.reports.build` so that the renderer can read it without
importing the module that calls the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.reports import runfiles as rf
from gameday.reports.errors import RunDirError
from gameday.reports.objectives import Objectives, parse_objectives

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
    raw_run = rf.read_json(run_dir / rf.RUN, required=False)
    run = rf.RunInfo.from_json(raw_run, run_dir / rf.RUN)
    journal_path = run_dir / rf.JOURNAL
    journal = rf.parse_journal(rf.read_json(journal_path, required=True), journal_path)
    if not (run_dir / rf.LEDGER).exists():
        raise RunDirError(run_dir / rf.LEDGER, "missing: the request ledger is required")
    if run.objectives is not None:
        objectives = parse_objectives(run.objectives)
    else:
        objectives = parse_objectives(journal.extension or None)
    samples = rf.parse_samples(rf.read_jsonl(run_dir / rf.SAMPLES), run_dir / rf.SAMPLES)
    lab_events = sorted(
        rf.read_jsonl(run_dir / rf.LAB_EVENTS), key=lambda e: float(e.get("time", 0))
    )
    missing = [
        name
        for name in (rf.RUN, rf.SAMPLES, rf.FAULTS, rf.AUDIT, rf.NOTES)
        if not (run_dir / name).exists()
    ]
    if journal.fault is None:
        missing.append("an impairment action in the journal (t0)")
    experiment = {"name": run.experiment.get("name") or run_dir.resolve().parent.name,
                  "title": run.experiment.get("title") or journal.title}  # fmt: skip
    return RunData(
        run_dir, run, journal, objectives, samples, lab_events, rf.read_faults(run_dir / rf.FAULTS),
        rf.read_jsonl(run_dir / rf.NOTES), rf.read_jsonl(run_dir / rf.STEPS), tuple(missing), experiment,
        interruption(journal, raw_run),
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
