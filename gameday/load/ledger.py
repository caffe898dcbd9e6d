"""The request ledger: one JSON line per request the load made, as users experienced it.

Why: measured RTO comes from the success ratio of real requests over time, and measured
RPO from the writes that were acknowledged; both are read from this file.

This module is the load's readers of it (:func:`read_ledger`, :func:`read_recent`,
:func:`window_stats`, :func:`acknowledged_writes`, :func:`read_summary`): plain Python, safe
in any process, never importing gevent or Locust. The record itself,
:class:`~gameday.rundir.records.LedgerRecord`, is the run directory's contract
(:mod:`gameday.rundir`), shared with the report. The recording half, which runs inside
Locust, is :mod:`gameday.load.recorder` (:class:`LedgerRecorder`, :func:`install_ledger`).

Each record names its client **cohort**: ``"ttl"`` (a client that re-resolves when the DNS
TTL expires) or ``"sticky"`` (a client that caches its first answer for ever, like a JVM
with the default ``networkaddress.cache.ttl``). Ledgers written before the field existed
read as ``"ttl"``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.rundir import REQUESTS
from gameday.rundir.errors import RunDirError
from gameday.rundir.files import MAX_LEDGER_BYTES, iter_jsonl, open_regular, read_json
from gameday.rundir.records import (
    ACK_STATUSES,
    COHORTS,
    WRITE_OPS,
    LedgerRecord,
    is_acknowledged,
)

__all__ = [
    "ACK_STATUSES", "COHORTS", "WRITE_OPS", "LedgerRecord", "WindowStats", "acknowledged_writes",
    "cohort_of", "count_records", "is_acknowledged", "read_ledger", "read_recent", "read_summary",
    "recent_window", "summary_path", "window_stats",
]  # fmt: skip

MESSAGE_TYPE = "gameday_ledger"
DEFAULT_FLUSH_INTERVAL = 0.2


def cohort_of(index: int, share: float, mode: str = "ttl") -> str:
    """The cohort of a process's ``index``-th user (0-based) when a ``share`` of users is
    sticky: user n is sticky when floor((n+1)*share) > floor(n*share), so the sticky users
    are spread evenly and a 0.5 share of 4 users is exactly 2. With ``mode == "sticky"``
    every user is sticky."""
    if mode == "sticky" or math.floor((index + 1) * share) > math.floor(index * share):
        return "sticky"
    return "ttl"


def summary_path(ledger: str | os.PathLike[str]) -> Path:
    """Where the end-of-run summary of ``ledger`` lives: ``x.jsonl`` -> ``x.summary.json``."""
    path = Path(ledger)
    return path.with_name(path.stem + ".summary.json")


def _parse(line: bytes | str) -> LedgerRecord | None:
    """A line read backwards from a live file (may be a fragment): the record, or None."""
    try:
        return LedgerRecord.from_json(json.loads(line))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a line still being written, or not ours


def read_ledger(path: str | os.PathLike[str]) -> Iterator[LedgerRecord]:
    """Every complete record in file order, under the run directory's one error policy
    (:mod:`gameday.rundir.files`, live: a trailing partial line is skipped; any other bad
    line is a :class:`~gameday.rundir.RunDirError` naming it)."""
    path = Path(path)
    found = False
    for _, record in iter_jsonl(
        path, LedgerRecord.from_json, what="ledger record", live=True, max_bytes=MAX_LEDGER_BYTES
    ):
        found = True
        yield record
    if not found and not path.exists():
        raise RunDirError(path, f"missing: no {REQUESTS} ledger was written")


def count_records(path: str | os.PathLike[str]) -> int:
    """Number of complete lines, without parsing them (cheap enough to poll)."""
    handle = open_regular(Path(path), MAX_LEDGER_BYTES)
    if handle is None:
        return 0
    with handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def read_recent(
    path: str | os.PathLike[str], since: float, *, slack: float = 10.0, block: int = 1 << 16
) -> list[LedgerRecord]:
    """Records that ended at or after ``since``, reading the file backwards from its end.

    Lines are appended in roughly end-time order (batches of at most a flush interval, per
    worker), so reading stops once a whole block is older than ``since - slack``. Cost is
    proportional to the window, not to the ledger's length. Returned in file order.
    """
    found: list[LedgerRecord] = []
    handle = open_regular(Path(path), MAX_LEDGER_BYTES)
    if handle is None:
        return found
    with handle:
        handle.seek(0, os.SEEK_END)
        pos = handle.tell()
        carry = b""
        at_end = True
        while pos > 0:
            size = min(block, pos)
            pos -= size
            handle.seek(pos)
            data = handle.read(size) + carry
            lines = data.split(b"\n")
            carry = lines.pop(0) if pos > 0 else b""
            if at_end:
                lines.pop()  # after the last newline: empty, or a line still being written
                at_end = False
            oldest = math.inf
            for line in reversed(lines):
                record = _parse(line)
                if record is None:
                    continue
                oldest = min(oldest, record.end)
                if record.end >= since:
                    found.append(record)
            if oldest < since - slack:
                break
    found.reverse()
    return found


def acknowledged_writes(records: Iterable[LedgerRecord]) -> list[LedgerRecord]:
    """The acknowledged writes, in order: what an RPO audit checks in the surviving region."""
    return [record for record in records if record.acknowledged]


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Requests that ended in [since, until]: counts, error rate, and traffic per region."""

    since: float
    until: float
    requests: int
    errors: int
    regions: dict[str, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        """errors / requests; 1.0 when no request ended in the window (nobody was served)."""
        return self.errors / self.requests if self.requests else 1.0

    def region_share(self) -> dict[str, float]:
        """Share of the window's responses per serving region (requests without a region
        header, e.g. timeouts, are left out of the denominator)."""
        total = sum(self.regions.values())
        return (
            {name: count / total for name, count in sorted(self.regions.items())} if total else {}
        )


def window_stats(records: Iterable[LedgerRecord], since: float, until: float) -> WindowStats:
    """Aggregate ``records`` whose end falls in [since, until]."""
    requests = errors = 0
    regions: dict[str, int] = {}
    for record in records:
        if not since <= record.end <= until:
            continue
        requests += 1
        if not record.ok:
            errors += 1
        if record.region:
            regions[record.region] = regions.get(record.region, 0) + 1
    return WindowStats(since, until, requests, errors, regions)


def recent_window(path: str | os.PathLike[str], window_seconds: float) -> WindowStats:
    """:func:`window_stats` over the last ``window_seconds`` of the ledger at ``path``."""
    until = time.time()
    since = until - window_seconds
    return window_stats(read_recent(path, since), since, until)


def read_summary(ledger: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The end-of-run summary written beside the ledger (None while the run is going)."""
    data = read_json(summary_path(ledger), required=False)
    return data if isinstance(data, dict) else None
