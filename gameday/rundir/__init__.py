"""The run directory's contract: file names, typed records, their JSON Schemas, the readers.

A drill leaves one folder per run, ``reports/<experiment>/<UTC stamp>/``. The drill (the
control, the sampler, ``gameday note``, the load) writes it through this package and the
report reads it through this package, so the two can never disagree on a name, a field or
what a malformed line means. It imports nothing from the drill, the report, the load or
the lab: every layer may import it.

- names: the constants below (inputs, then the report's outputs);
- records: :mod:`gameday.rundir.records` (``from_json`` validates, ``to_json`` writes),
  described by the JSON Schemas in ``gameday/rundir/schemas/`` (:func:`schema`);
- reading and writing: :mod:`gameday.rundir.files` (bounded reads, one error policy,
  writes that never follow a symbolic link);
- the one time parser: :func:`gameday.rundir.values.epoch`.

Errors are :class:`RunDirError`, whose message names the file and line.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from gameday.rundir.errors import ReportError, RunDirError
from gameday.rundir.values import epoch, optional_epoch

# -- written by the drill ----------------------------------------------------------------
RUN_JSON = "run.json"  #: the run's context (records.RunInfo)
JOURNAL = "journal.json"  #: Chaos Toolkit's journal (chaoslib's own shape)
REQUESTS = "requests.jsonl"  #: the load's ledger (records.LedgerRecord per line)
SAMPLES = "samples.jsonl"  #: probe samples (records.Sample)
FAULTS = "faults.jsonl"  #: this run's slice of the fault ledger (gameday.faults lines)
LAB_EVENTS = "lab-events.jsonl"  #: the lab's ground truth (records.LabEvent)
STEPS = "steps.jsonl"  #: runbook step events (records.StepEvent)
NOTES = "notes.jsonl"  #: operator notes (records.Note)
CONFIRMATIONS = "step-confirmations.jsonl"  #: `gameday step done` lines, read live
AUDIT = "audit.json"  #: the audit of acknowledged writes (gameday.reports.audit)
# -- written by the report ---------------------------------------------------------------
REPORT = "report.html"
SUMMARY = "summary.json"
JUNIT = "junit.xml"
MANIFEST = "manifest.sha256"  #: written last: hashes every other file
HISTORY = "history.jsonl"  #: in the reports folder, one records.HistoryLine per run
#: beside the fault ledger while a drill runs: which run directory, which process
CURRENT = "current-run.json"

#: Which schema (``schemas/<name>.schema.json``) describes each file, or each of its lines.
SCHEMAS = {
    RUN_JSON: "run",
    REQUESTS: "request",
    SAMPLES: "sample",
    LAB_EVENTS: "lab-event",
    STEPS: "step",
    NOTES: "note",
    HISTORY: "history-line",
}


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) ``name`` (a value of :data:`SCHEMAS`), as shipped."""
    text = resources.files("gameday.rundir").joinpath("schemas", f"{name}.schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


__all__ = [
    "AUDIT", "CONFIRMATIONS", "CURRENT", "FAULTS", "HISTORY", "JOURNAL", "JUNIT", "LAB_EVENTS",
    "MANIFEST", "NOTES", "REPORT", "REQUESTS", "RUN_JSON", "SAMPLES", "SCHEMAS", "STEPS",
    "SUMMARY", "ReportError", "RunDirError", "epoch", "optional_epoch", "schema",
]  # fmt: skip
