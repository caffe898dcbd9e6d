"""The report package's errors: one clear message naming the file (and line) at fault.

A report is evidence, so bad input never turns into invented numbers: the reader raises
one of these, the CLI prints its message and exits non-zero, and nothing is written.
:class:`ReportError` and :class:`RunDirError` belong to the run directory's contract
(:mod:`gameday.rundir`, which the drill uses too); they are re-exported here.
"""

from __future__ import annotations

from gameday.rundir.errors import ReportError, RunDirError

__all__ = ["ObjectivesError", "ReportError", "RunDirError"]


class ObjectivesError(ReportError):
    """Objectives with a wrong unit, a negative value or an unknown key."""
