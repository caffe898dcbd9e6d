"""Reading a run directory into typed records, for the report.

The file names, the records, the readers and their one error policy are the run
directory's contract (:mod:`gameday.rundir`); this module applies them to what the report
needs. Every artifact is optional except the Chaos Toolkit journal (``journal.json``) and
the request ledger (``requests.jsonl``): with only those two a drill run by hand can still
be measured. Bad input raises :class:`~gameday.rundir.RunDirError` naming the file and
line (or the journal's field); nothing is guessed.

The ledger is the one big file: :func:`stream_ledger` yields its records once, in start-time
order, without holding them. Why a reorder buffer: the load appends records as requests
*end*, in batches per worker, so start times are near-ordered but not sorted (a request
that timed out after 5 s lands after faster ones that started later). Records wait in
per-second buckets until the newest start seen is :data:`REORDER_SECONDS` past them, so
memory follows requests-per-second times that horizon, not the run's length. A record arriving later than
that (only possible with a client clock jumping, or a worker's batch delayed by more than
the horizon) is still measured, in arrival order, and counted in ``LedgerStats.late``.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from gameday.registry import is_fault_target
from gameday.rundir import values
from gameday.rundir.errors import RunDirError
from gameday.rundir.files import (
    MAX_JSONL_BYTES,
    MAX_LEDGER_BYTES,
    bad_line,
    check_regular,
    iter_jsonl,
    iter_lines,
    open_regular,
    read_json,
)
from gameday.rundir.records import COHORTS, LabEvent, LedgerRecord, Note, RunInfo, Sample, StepEvent

try:  # optional: about three times faster than json per ledger line
    import orjson as _orjson
except ImportError:  # pragma: no cover (orjson is a dependency; json is the fallback)
    _orjson = None

__all__ = [
    "Activity", "FaultEntry", "Journal", "LedgerStats", "Request", "RunInfo", "Sample",
    "parse_journal", "read_faults", "read_json", "read_records", "read_run_info", "stream_ledger",
]  # fmt: skip

#: The report's name for a ledger record (the one record type, :class:`LedgerRecord`).
Request = LedgerRecord

#: How far out of start-time order a ledger record may arrive and still be sorted.
REORDER_SECONDS = 30.0


def read_records[T](path: Path, parse: Callable[[dict[str, Any]], T], what: str) -> list[T]:
    """Every line of a small JSON-lines artifact as records ([] when absent)."""
    return [record for _, record in iter_jsonl(path, parse, what=what)]


def read_run_info(path: Path) -> RunInfo:
    """``run.json`` as :class:`RunInfo` (empty when absent)."""
    data = read_json(path, required=False)
    if data is None:
        return RunInfo()
    if not isinstance(data, dict):
        raise RunDirError(path, "must be a JSON object")
    try:
        return RunInfo.from_json(data)
    except ValueError as exc:
        raise RunDirError(path, str(exc)) from None


def read_samples(path: Path) -> list[Sample]:
    """``samples.jsonl``, sorted by time."""
    return sorted(read_records(path, Sample.from_json, "probe sample"), key=lambda s: s.time)


def read_lab_events(path: Path) -> list[dict[str, Any]]:
    """``lab-events.jsonl`` as validated dicts (time a float, kind a string), by time."""
    events = read_records(path, LabEvent.from_json, "lab event")
    return [e.to_json() for e in sorted(events, key=lambda e: e.time)]


def read_notes(path: Path) -> list[dict[str, Any]]:
    """``notes.jsonl`` as validated dicts (:class:`Note`)."""
    return [n.to_json() for n in read_records(path, Note.from_json, "note")]


def read_steps(path: Path) -> list[dict[str, Any]]:
    """``steps.jsonl`` as validated dicts (:class:`StepEvent`)."""
    return [s.to_json() for s in read_records(path, StepEvent.from_json, "step event")]


# --------------------------------------------------------------------------- journal
@dataclass(frozen=True)
class Activity:
    """One journal activity: ``phase`` is steady-before, run, rollback or steady-after."""

    name: str
    type: str
    phase: str
    start: float | None
    end: float | None
    status: str
    target: str | None = None  # "module.func" of a python provider


@dataclass(frozen=True)
class Journal:
    """What the measurement needs from a Chaos Toolkit journal."""

    title: str
    status: str
    start: float | None
    end: float | None
    activities: tuple[Activity, ...]
    fault: Activity | None  # the impairment; its start is t0 (gameday.reports.timeline)
    steady_before: bool | None
    steady_after: bool | None
    extension: dict[str, Any] = field(default_factory=dict)  # extensions[name=gameday]

    @property
    def t0(self) -> float | None:
        """When the impairment started (DESIGN.md; gameday.reports.timeline.fault_start)."""
        if self.fault is None:
            return None
        return self.fault.start if self.fault.start is not None else self.fault.end

    @property
    def rollbacks(self) -> tuple[Activity, ...]:
        return tuple(a for a in self.activities if a.phase == "rollback")


def _time(data: dict[str, Any], key: str, where: str, path: Path) -> float | None:
    try:
        return values.optional_epoch(data.get(key))
    except ValueError as exc:
        raise RunDirError(path, f"{where}.{key}: {exc}") from None


def _object(value: Any, where: str, path: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RunDirError(path, f"{where} is not a JSON object")
    return value


def _list(value: Any, where: str, path: Path) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RunDirError(path, f"{where} is not a JSON list")
    return value


def _activity(run: Any, phase: str, where: str, path: Path) -> Activity:
    run = _object(run, where, path)
    act = _object(run.get("activity"), f"{where}.activity", path)
    provider = _object(act.get("provider"), f"{where}.activity.provider", path)
    target = None
    if provider.get("type") == "python":
        target = f"{provider.get('module')}.{provider.get('func')}"
    return Activity(
        name=str(act.get("name") or "?"),
        type=str(act.get("type") or "?"),
        phase=phase,
        start=_time(run, "start", where, path),
        end=_time(run, "end", where, path),
        status=str(run.get("status") or "?"),
        target=target,
    )


def _activities(data: dict[str, Any], steady: dict[str, Any], path: Path) -> list[Activity]:
    """The journal's activities in order: steady state before, run, rollbacks, after."""

    def probes(key: str) -> list[Any]:
        before = _object(steady.get(key), f"steady_states.{key}", path)
        return _list(before.get("probes"), f"steady_states.{key}.probes", path)

    out = [
        _activity(p, "steady-before", f"steady_states.before.probes[{i}]", path)
        for i, p in enumerate(probes("before"))
    ]
    out += [_activity(r, "run", f"run[{i}]", path) for i, r in enumerate(data["run"])]
    out += [
        _activity(r, "rollback", f"rollbacks[{i}]", path)
        for i, r in enumerate(_list(data.get("rollbacks"), "rollbacks", path))
    ]
    out += [
        _activity(p, "steady-after", f"steady_states.after.probes[{i}]", path)
        for i, p in enumerate(probes("after"))
    ]
    return out


def parse_journal(data: Any, path: Path) -> Journal:
    """Journal -> :class:`Journal`; the impairment is ``extensions[gameday].fault_activity``
    when named, else the first *action* of ``run`` that may be a fault
    (:func:`gameday.registry.is_fault`: the one rule the drill control applies too)."""
    if not isinstance(data, dict) or not isinstance(data.get("run"), list):
        raise RunDirError(path, "is not a Chaos Toolkit journal (no 'run' list)")
    experiment = _object(data.get("experiment"), "experiment", path)
    extension = next(
        (
            e
            for e in _list(experiment.get("extensions"), "experiment.extensions", path)
            if isinstance(e, dict) and e.get("name") == "gameday"
        ),
        {},
    )
    steady = _object(data.get("steady_states"), "steady_states", path)
    activities = _activities(data, steady, path)
    named = extension.get("fault_activity")
    candidates = [a for a in activities if a.phase == "run" and a.type == "action"]
    if named:
        fault = next((a for a in candidates if a.name == named), None)
        if fault is None:
            raise RunDirError(
                path,
                f"extensions.gameday.fault_activity names {named!r}, which is not an action of this run",
            )
    else:
        fault = next((a for a in candidates if is_fault_target(a.target)), None)

    def met(key: str) -> bool | None:
        value = _object(steady.get(key), f"steady_states.{key}", path).get("steady_state_met")
        return value if isinstance(value, bool) else None

    return Journal(
        title=str(experiment.get("title") or ""),
        status=str(data.get("status") or "?"),
        start=_time(data, "start", "journal", path),
        end=_time(data, "end", "journal", path),
        activities=tuple(activities),
        fault=fault,
        steady_before=met("before"),
        steady_after=met("after"),
        extension=extension,
    )


# ------------------------------------------------------------------------ fault ledger
@dataclass(frozen=True)
class FaultEntry:
    """A fault-ledger entry folded to its latest state."""

    id: str
    activity: str
    target: str
    state: str
    time: float | None
    updated: float | None


def read_faults(path: Path) -> list[FaultEntry] | None:
    """This run's fault-ledger slice (None when the file is absent)."""
    if not check_regular(path, MAX_JSONL_BYTES):
        return None
    from gameday.faults import Ledger

    def when(text: str, line: int) -> float | None:
        try:
            return values.epoch(text) if text else None
        except ValueError as exc:
            raise RunDirError(
                path, f"is not a fault-ledger entry: 'time': {exc}", line=line
            ) from None

    return [
        FaultEntry(
            e.id, e.activity, e.target, e.state, when(e.time, e.line), when(e.updated, e.line)
        )
        for e in Ledger(path).entries()
    ]


# -------------------------------------------------------------------------- the ledger
@dataclass
class LedgerStats:
    """Counts :func:`stream_ledger` fills in while it runs (read them after the loop)."""

    records: int = 0
    late: int = 0  # arrived more than REORDER_SECONDS out of order
    max_reorder_seconds: float = 0.0
    peak_buffer: int = 0  # most records held for sorting at once


def _request(data: Any, path: Path, number: int, offset: float) -> Request:
    """One record, validated (:meth:`LedgerRecord.from_json`), ``offset`` added to its times."""
    if not isinstance(data, dict):
        raise RunDirError(path, "line is not a JSON object", line=number)
    try:
        record = LedgerRecord.from_json(data)
    except ValueError as exc:
        raise RunDirError(
            path, f"is not a ledger record: {exc} (it needs start, end, op, ok)", line=number
        ) from None
    if offset:
        record = record._replace(start=record.start + offset, end=record.end + offset)
    return record


_FIELDS = itemgetter(*Request._fields)
_NONE = type(None)
#: The types each field of a ledger line may decode to (the fast path's check).
_TYPES = (
    {float}, {float}, {str}, {str}, {int}, {bool}, {float, int},
    {str, _NONE}, {str, _NONE}, {str, _NONE}, {str, _NONE}, {str},
)  # fmt: skip
_COHORTS = frozenset(COHORTS)


def _valid(block: list[Request]) -> bool:
    """Whether every record of ``block`` has the types, finite times in range, a
    non-negative latency and a known cohort (C-level passes, one per field)."""
    columns = list(zip(*block, strict=True))
    if any(not set(map(type, col)) <= kinds for col, kinds in zip(columns, _TYPES, strict=True)):
        return False
    for col in (columns[0], columns[1], columns[6]):
        if not all(map(math.isfinite, col)):
            return False
    low, high = values.EARLIEST, values.LATEST
    return (
        min(columns[0]) >= low and max(columns[1]) <= high and min(columns[1]) >= low
        and max(columns[0]) <= high and min(columns[6]) >= 0 and set(columns[11]) <= _COHORTS
    )  # fmt: skip


def _requests(
    items: list[Any], path: Path, first: int, offset: float, *, exact: bool
) -> list[Request]:
    """Records from decoded lines. Fast path (a current ledger, no clock offset): the
    12 fields taken in one C call, then each field's types and ranges checked a column
    at a time; anything else (an old ledger without ``cohort``, a shifted clock, a
    malformed line) goes through :func:`_request`, which validates and names the line."""
    if not offset and items:
        new = tuple.__new__
        try:
            block = [new(Request, _FIELDS(d)) for d in items]
        except (KeyError, TypeError):
            block = None
        if block is not None and _valid(block):
            return block
    if exact:
        return [_request(d, path, first + k, offset) for k, d in enumerate(items)]
    return [_request(d, path, first, offset) for d in items]  # blank lines were skipped


def _decode_lines(lines: list[bytes], path: Path, first: int, terminated: bool) -> list[Any]:
    """Decode a block of lines (orjson when installed, one json.loads of the block else);
    on a bad line, decode one by one to name it."""
    try:
        if _orjson is not None:
            loads = _orjson.loads
            return [loads(line) for line in lines]
        return json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        pass
    out = []
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            error = bad_line(path, line, first + offset, terminated=terminated, live=False)
            assert error is not None
            raise error from None
    return out


def stream_ledger(
    path: Path, stats: LedgerStats, *, offset: float = 0.0, horizon: float = REORDER_SECONDS
) -> Iterator[Request]:
    """The ledger's records in start order (see the module docstring), ``offset`` seconds
    added to every time (a measured client clock offset). Raises RunDirError on a missing,
    empty, oversized or non-regular file and on a line that is not a ledger record, naming
    the line.

    Sorting: each block of lines joins the records still held, is sorted by start (Timsort
    on near-ordered data is close to linear), and the records older than the newest start
    minus ``horizon`` are released; the rest are held for the next block."""
    by_start = itemgetter(0)
    held: list[Request] = []
    emitted = -math.inf
    newest = -math.inf
    number = 1
    handle = open_regular(path, MAX_LEDGER_BYTES)
    if handle is None:
        raise RunDirError(path, "missing: the request ledger is required")
    with handle:
        for lines, terminated in iter_lines(handle, path):
            items = _decode_lines(lines, path, number, terminated)
            block = _requests(items, path, number, offset, exact=len(items) == len(lines))
            number += len(lines)
            stats.records += len(block)
            block_newest = max(block, key=by_start).start if block else newest
            if block_newest > newest:
                newest = block_newest
            held += block
            held.sort(key=by_start)
            if held and held[0].start < emitted:
                late = sum(1 for r in held if r.start < emitted)
                stats.late += late
                stats.max_reorder_seconds = max(stats.max_reorder_seconds, emitted - held[0].start)
            if len(held) > stats.peak_buffer:
                stats.peak_buffer = len(held)
            cutoff = bisect.bisect_left(held, newest - horizon, key=by_start)
            if cutoff:
                emitted = max(emitted, held[cutoff - 1].start)
                yield from held[:cutoff]
                del held[:cutoff]
        if stats.records == 0:
            raise RunDirError(path, "is empty: no request was recorded")
    yield from held
