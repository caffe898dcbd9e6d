"""``build_report(run_dir)``: read the run directory, measure, write the outputs.

Outputs (in the run directory): ``report.html`` (unless ``html=False``: ``gameday run
--no-html``), ``summary.json``, ``junit.xml``, then the history line and ``manifest.sha256``
last (it hashes the others), each written through
:func:`gameday.rundir.files.write_atomic` (never through a symbolic link). Bad input
raises a :class:`~gameday.reports.errors.ReportError` before anything is written.
"""

from __future__ import annotations

import gc
from dataclasses import replace
from pathlib import Path

from gameday import rundir as names
from gameday.reports import runfiles as rf
from gameday.reports.analysis import analyze, clock_correction, writers
from gameday.reports.audit import read_audit
from gameday.reports.clock import Timescale
from gameday.reports.evidence import (
    HistoryLine,
    append_history,
    history_path,
    read_history,
    write_manifest,
)
from gameday.reports.measure import LedgerPass, WriteMark
from gameday.reports.model import Measurement
from gameday.reports.restore import restore_run, with_restore
from gameday.reports.rundata import RunData, read_run
from gameday.reports.summary import Summary, junit_xml, summarize, write_summary
from gameday.reports.timeline import fault_start
from gameday.rundir.files import write_text

__all__ = ["RunData", "build_report", "measure_run", "read_run"]


def measure_run(data: RunData) -> tuple[Measurement, rf.LedgerStats]:
    """One streaming pass over the ledger, then the analysis."""
    audit = read_audit(data.run_dir)
    clock = clock_correction(audit)
    t0 = fault_start(data.journal)
    who = writers(data.journal, data.samples, data.lab_events)
    lost = frozenset(w.id for w in audit.lost) if audit else frozenset()
    oldest = (
        WriteMark(audit.lost[0].id, audit.lost[0].acked_at + clock.offset_s, audit.lost[0].region)
        if audit and audit.lost
        else None
    )
    ledger_pass = LedgerPass(
        t0,
        data.objectives,
        promotion=who.promoted_at,
        lost=lost,
        oldest_lost=oldest,
        speed=Timescale.of(data.run.floors.get("lab_speed")).speed,
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
        audit = replace(
            audit, lost=tuple(replace(w, acked_at=w.acked_at + clock.offset_s) for w in audit.lost)
        )
    m = analyze(
        journal=data.journal, run=data.run, objectives=data.objectives, facts=facts, clock=clock,
        samples=data.samples, lab_events=data.lab_events, faults=data.faults, audit=audit,
        steps=data.steps, writers=who, late_records=stats.late, missing=data.missing,
        interrupted=data.interrupted,
    )  # fmt: skip
    return m, stats


def build_report(run_dir: Path, *, history: bool = True, html: bool = True) -> Summary:
    """Measure ``run_dir`` and write report.html, summary.json, junit.xml, the history line
    and manifest.sha256. Returns the summary.

    ``html=False`` skips report.html (and removes an older one, which would no longer agree
    with summary.json): a pipeline that reads only the verdict saves the charts' rendering,
    and ``gameday report RUN_DIR`` renders the page later from the same files."""
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
    if html:
        from gameday.reports.render import render_html  # matplotlib and Jinja: only for it

        write_text(run_dir / names.REPORT, render_html(data, m, summary, [*past, line]))
    else:
        (run_dir / names.REPORT).unlink(missing_ok=True)
    write_summary(run_dir / names.SUMMARY, summary)
    write_text(run_dir / names.JUNIT, junit_xml(m, str(data.experiment["name"])))
    if history:
        append_history(run_dir, line)
    write_manifest(run_dir)
    return summary
