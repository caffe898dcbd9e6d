"""The report package's errors: one clear message naming the file (and line) at fault.

A report is evidence, so bad input never turns into invented numbers: the reader raises
one of these, the CLI prints its message and exits non-zero, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path


class ReportError(Exception):
    """Anything that stops a report from being measured or rendered (message is for people)."""


class RunDirError(ReportError):
    """A run-directory artifact is missing, truncated or malformed."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = Path(path)
        self.line = line
        self.problem = problem


class ObjectivesError(ReportError):
    """Objectives with a wrong unit, a negative value or an unknown key."""
