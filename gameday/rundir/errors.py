"""The errors of a run directory: one message for people, naming the file (and line).

A run directory is evidence, so bad input never turns into invented numbers: a reader
raises :class:`RunDirError`, the command prints its message and exits non-zero, and
nothing is written. :class:`ReportError` is the base of everything that stops a run from
being measured or reported (``gameday.reports`` re-exports both).
"""

from __future__ import annotations

from pathlib import Path


class ReportError(Exception):
    """Anything that stops a report from being measured or rendered (message is for people)."""


class RunDirError(ReportError):
    """A run-directory artifact is missing, truncated, malformed, too big or not a file."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = Path(path)
        self.line = line
        self.problem = problem
