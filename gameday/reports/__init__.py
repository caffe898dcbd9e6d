"""Measured RTO and RPO, and the game-day report (see ``gameday/reports/README.md``).

Entry points the drill control calls:

* :func:`gameday.reports.objectives.parse_objectives`
* :func:`gameday.reports.audit.audit_writes` with :class:`~gameday.reports.audit.HttpBatchLookup`
  or :class:`~gameday.reports.audit.DynamoDBLookup`, then :func:`~gameday.reports.audit.write_audit`
* :func:`build_report` (measure, render ``report.html``, ``summary.json``, ``junit.xml``, the
  history line and ``manifest.sha256``), returning a :class:`Summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gameday.reports.errors import ObjectivesError, ReportError, RunDirError

if TYPE_CHECKING:
    from gameday.reports.summary import Summary

__all__ = ["ObjectivesError", "ReportError", "RunDirError", "Summary", "build_report"]


def build_report(run_dir: Path, *, history: bool = True, html: bool = True) -> Summary:
    """Measure ``run_dir`` and write its outputs (see :mod:`gameday.reports.build`)."""
    from gameday.reports.build import build_report as build

    return build(Path(run_dir), history=history, html=html)


def __getattr__(name: str) -> object:
    if name == "Summary":
        from gameday.reports.summary import Summary

        return Summary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
