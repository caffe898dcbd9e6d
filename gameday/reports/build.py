"""``build_report(run_dir)``: read the run directory, measure, write the outputs.

Outputs (in the run directory): ``report.html``, ``summary.json``, ``junit.xml``, then the
history line and ``manifest.sha256`` last (it hashes the others), each written through
:func:`gameday.rundir.files.write_atomic` (never through a symbolic link). Bad input
raises a :class:`~gameday.reports.errors.ReportError` before anything is written.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday import rundir as names
from gameday.reports import runfiles as rf
from gameday.reports.analysis import Measurement, analyze, clock_correction, promotion_time
from gameday.reports.audit import read_audit
from gameday.reports.errors import ObjectivesError, RunDirError
from gameday.reports.evidence import (
    HistoryLine,
    append_history,
    history_path,
    read_history,
    write_manifest,
)
from gameday.reports.measure import LedgerPass, WriteMark
from gameday.reports.objectives import Objectives, parse_objectives
from gameday.reports.restore import restore_run, with_restore
from gameday.reports.summary import Summary, junit_xml, summarize, write_summary
from gameday.rundir.files import read_json, write_text


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


def read_run(run_dir: Path) -> RunData:
    """Read (and validate) every small artifact; the ledger is streamed later."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(
            run_dir,
            "is not a directory (give a run directory such as reports/<experiment>/<stamp>)",
        )
    run = rf.read_run_info(run_dir / names.RUN_JSON)
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
        experiment,
    )  # fmt: skip


def measure_run(data: RunData) -> tuple[Measurement, rf.LedgerStats]:
    """One streaming pass over the ledger, then the analysis."""
    audit = read_audit(data.run_dir)
    clock = clock_correction(audit)
    t0 = data.journal.t0
    promotion = promotion_time(t0, data.samples, data.lab_events, data.run.secondary)
    lost = frozenset(w.id for w in audit.lost) if audit else frozenset()
    oldest = (
        WriteMark(audit.lost[0].id, audit.lost[0].acked_at + clock.offset_s, audit.lost[0].region)
        if audit and audit.lost
        else None
    )
    ledger_pass = LedgerPass(
        t0, data.objectives, promotion=promotion[0], lost=lost, oldest_lost=oldest
    )
    stats = rf.LedgerStats()
    # The pass allocates millions of short-lived tuples and dicts and makes no reference
    # cycle: refcounting frees them all, and the cyclic collector, which would otherwise
    # rescan the live buffers again and again, is paused for it (about 20 % of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        ledger_pass.feed_many(
            rf.stream_ledger(data.run_dir / names.REQUESTS, stats, offset=clock.offset_s)
        )
    finally:
        if collecting:
            gc.enable()
    facts = ledger_pass.result()
    if audit is not None and clock.offset_s:  # the audit's ack times are client times too
        from dataclasses import replace

        audit = replace(
            audit, lost=tuple(replace(w, acked_at=w.acked_at + clock.offset_s) for w in audit.lost)
        )
    m = analyze(
        journal=data.journal, run=data.run, objectives=data.objectives, facts=facts, clock=clock,
        samples=data.samples, lab_events=data.lab_events, faults=data.faults, audit=audit,
        steps=data.steps, promotion=promotion, late_records=stats.late, missing=data.missing,
    )  # fmt: skip
    return m, stats


def build_report(run_dir: Path, *, history: bool = True) -> Summary:
    """Measure ``run_dir`` and write report.html, summary.json, junit.xml, the history line
    and manifest.sha256. Returns the summary."""
    from gameday.reports.render import render_html

    run_dir = Path(run_dir)
    data = read_run(run_dir)
    m, _stats = measure_run(data)
    m, restored = restore_run(run_dir, m, data.objectives)  # the corrupted-data drill's numbers
    summary = summarize(
        m, data.objectives, experiment=data.experiment, run_dir=str(run_dir), target=data.run.target
    )
    summary = with_restore(summary, restored)
    line = HistoryLine(
        experiment=str(data.experiment["name"]), run=run_dir.resolve().name, run_dir=str(run_dir.resolve()),
        started=data.run.started or data.journal.start, verdict=m.verdict, rto_seconds=summary.rto_seconds,
        rpo_seconds=summary.rpo_seconds, lost_write_count=summary.lost_write_count, target=data.run.target,
    )  # fmt: skip
    past = [
        h for h in read_history(history_path(run_dir), line.experiment) if h.run_dir != line.run_dir
    ]
    html = render_html(data, m, summary, [*past, line])
    write_text(run_dir / names.REPORT, html)
    write_summary(run_dir / names.SUMMARY, summary)
    write_text(run_dir / names.JUNIT, junit_xml(m, str(data.experiment["name"])))
    if history:
        append_history(run_dir, line)
    write_manifest(run_dir)
    return summary
