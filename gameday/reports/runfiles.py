"""Reading a run directory into typed records (the only module here that opens files).

Every artifact is optional except the Chaos Toolkit journal (``journal.json``) and the
request ledger (``requests.jsonl``): with only those two a drill run by hand can still be
measured. Bad input raises :class:`~gameday.reports.errors.RunDirError` naming the file and
line; nothing is guessed.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from gameday.load.ledger import is_acknowledged
from gameday.registry import is_fault_target

try:  # optional: about three times faster than json per ledger line
    import orjson as _orjson
except ImportError:  # pragma: no cover (orjson is a dependency; json is the fallback)
    _orjson = None
from gameday.reports.errors import RunDirError

JOURNAL = "journal.json"
LEDGER = "requests.jsonl"
RUN = "run.json"
SAMPLES = "samples.jsonl"
FAULTS = "faults.jsonl"
LAB_EVENTS = "lab-events.jsonl"
AUDIT = "audit.json"
NOTES = "notes.jsonl"
STEPS = "steps.jsonl"
REPORT = "report.html"
SUMMARY = "summary.json"
JUNIT = "junit.xml"
MANIFEST = "manifest.sha256"

#: How far out of start-time order a ledger record may arrive and still be sorted.
REORDER_SECONDS = 30.0


def epoch(value: Any) -> float | None:
    """Unix seconds from a float or an ISO 8601 string (naive = UTC, as chaoslib writes)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    return None


# ------------------------------------------------------------------------------ JSON
def read_json(path: Path, *, required: bool) -> Any:
    """A whole JSON file; None when absent and not required."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise RunDirError(path, "missing (a run directory needs it)") from None
        return None
    if not text.strip():
        raise RunDirError(path, "is empty (truncated?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(
            path,
            f"is not valid JSON ({exc.msg}, column {exc.colno}): truncated or edited?",
            line=exc.lineno,
        ) from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a small JSONL file (empty list when absent)."""
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RunDirError(path, f"line is not JSON ({exc.msg})", line=number) from None
            if not isinstance(item, dict):
                raise RunDirError(path, "line is not a JSON object", line=number)
            out.append(item)
    return out


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
    fault: Activity | None  # the impairment; its end is t0
    steady_before: bool | None
    steady_after: bool | None
    extension: dict[str, Any] = field(default_factory=dict)  # extensions[name=gameday]

    @property
    def t0(self) -> float | None:
        return self.fault.end if self.fault else None

    @property
    def rollbacks(self) -> tuple[Activity, ...]:
        return tuple(a for a in self.activities if a.phase == "rollback")


def _activity(run: dict[str, Any], phase: str) -> Activity:
    act = run.get("activity") or {}
    provider = act.get("provider") or {}
    target = None
    if provider.get("type") == "python":
        target = f"{provider.get('module')}.{provider.get('func')}"
    return Activity(
        name=str(act.get("name") or "?"),
        type=str(act.get("type") or "?"),
        phase=phase,
        start=epoch(run.get("start")),
        end=epoch(run.get("end")),
        status=str(run.get("status") or "?"),
        target=target,
    )


def parse_journal(data: Any, path: Path) -> Journal:
    """Journal -> :class:`Journal`; the impairment is ``extensions[gameday].fault_activity``
    when named, else the first *action* of ``run`` that may be a fault
    (:func:`gameday.registry.is_fault`: the one rule the drill control applies too)."""
    if not isinstance(data, dict) or not isinstance(data.get("run"), list):
        raise RunDirError(path, "is not a Chaos Toolkit journal (no 'run' list)")
    experiment = data.get("experiment") or {}
    extension = next(
        (
            e
            for e in experiment.get("extensions") or []
            if isinstance(e, dict) and e.get("name") == "gameday"
        ),
        {},
    )
    steady = data.get("steady_states") or {}
    activities: list[Activity] = []
    for probe in (steady.get("before") or {}).get("probes") or []:
        activities.append(_activity(probe, "steady-before"))
    activities += [_activity(run, "run") for run in data["run"] if isinstance(run, dict)]
    activities += [
        _activity(run, "rollback") for run in data.get("rollbacks") or [] if isinstance(run, dict)
    ]
    for probe in (steady.get("after") or {}).get("probes") or []:
        activities.append(_activity(probe, "steady-after"))
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
        value = (steady.get(key) or {}).get("steady_state_met")
        return value if isinstance(value, bool) else None

    return Journal(
        title=str(experiment.get("title") or ""),
        status=str(data.get("status") or "?"),
        start=epoch(data.get("start")),
        end=epoch(data.get("end")),
        activities=tuple(activities),
        fault=fault,
        steady_before=met("before"),
        steady_after=met("after"),
        extension=extension,
    )


# -------------------------------------------------------------------- small artifacts
@dataclass(frozen=True)
class Sample:
    """One probe sample of the control's sampler."""

    time: float
    probe: str
    subject: str
    value: Any
    ok: bool
    error: str | None = None


def parse_samples(items: list[dict[str, Any]], path: Path) -> list[Sample]:
    out = []
    for number, item in enumerate(items, 1):
        try:
            out.append(
                Sample(float(item["time"]), str(item["probe"]), str(item.get("subject") or ""),
                       item.get("value"), bool(item.get("ok", True)), item.get("error"))
            )  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise RunDirError(path, "sample lacks time/probe", line=number) from None
    out.sort(key=lambda s: s.time)
    return out


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
    if not path.exists():
        return None
    from gameday.faults import Ledger

    return [
        FaultEntry(e.id, e.activity, e.target, e.state, epoch(e.time), epoch(e.updated))
        for e in Ledger(path).entries()
    ]


# -------------------------------------------------------------------------- the ledger
class Request(NamedTuple):
    """One ledger record as the measurement reads it: the fields of
    :class:`gameday.load.ledger.LedgerRecord`, as an immutable tuple (built in C, several
    times faster than the dataclass, which matters at a million records)."""

    start: float
    end: float
    op: str
    method: str
    status: int
    ok: bool
    latency_ms: float
    region: str | None
    address: str | None
    write_id: str | None
    error: str | None
    cohort: str

    @property
    def acknowledged(self) -> bool:
        """Same rule as :attr:`LedgerRecord.acknowledged`."""
        return is_acknowledged(self)


@dataclass
class LedgerStats:
    """Counts :func:`stream_ledger` fills in while it runs (read them after the loop)."""

    records: int = 0
    late: int = 0  # arrived more than REORDER_SECONDS out of order
    max_reorder_seconds: float = 0.0
    peak_buffer: int = 0  # most records held for sorting at once


def _request(data: Any, path: Path, number: int, offset: float) -> Request:
    get = data.get
    try:
        return Request(
            float(data["start"]) + offset,
            float(data["end"]) + offset,
            data["op"],
            get("method") or "",
            get("status") or 0,
            data["ok"],
            get("latency_ms") or 0.0,
            get("region"),
            get("address"),
            get("write_id"),
            get("error"),
            get("cohort") or "ttl",
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RunDirError(
            path, "is not a ledger record (needs start, end, op, ok)", line=number
        ) from None


_BLOCK_BYTES = 1 << 21
_FIELDS = itemgetter(*Request._fields)
_FLOAT = float


def _requests(
    items: list[Any], path: Path, first: int, offset: float, *, exact: bool
) -> list[Request]:
    """Records from decoded lines. Fast path (a current ledger, no clock offset): the
    12 fields taken in one C call, then only the times' types checked; anything else
    (an old ledger without ``cohort``, a shifted clock, a malformed line) goes through
    :func:`_request`, which validates and names the line."""
    if not offset:
        new = tuple.__new__
        try:
            block = [new(Request, _FIELDS(d)) for d in items]
        except (KeyError, TypeError):
            block = None
        if block is not None and all(
            r[0].__class__ is _FLOAT and r[1].__class__ is _FLOAT and r[4].__class__ is int
            for r in block
        ):
            return block
    if exact:
        return [_request(d, path, first + k, offset) for k, d in enumerate(items)]
    return [_request(d, path, first, offset) for d in items]  # blank lines were skipped


def _decode_lines(lines: list[bytes], path: Path, first: int) -> list[Any]:
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
            problem = "line is not JSON"
            if not line.endswith(b"\n"):
                problem = "the last line is cut off (truncated ledger)"
            raise RunDirError(path, problem, line=first + offset) from None
    return out


def stream_ledger(
    path: Path, stats: LedgerStats, *, offset: float = 0.0, horizon: float = REORDER_SECONDS
) -> Iterator[Request]:
    """The ledger's records in start order (see the module docstring), ``offset`` seconds
    added to every time (a measured client clock offset). Raises RunDirError on a missing
    or empty file and on a line that is not JSON, naming the line.

    Sorting: each block of lines joins the records still held, is sorted by start (Timsort
    on near-ordered data is close to linear), and the records older than the newest start
    minus ``horizon`` are released; the rest are held for the next block."""
    by_start = itemgetter(0)
    held: list[Request] = []
    emitted = -math.inf
    newest = -math.inf
    number = 1
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise RunDirError(path, "missing: the request ledger is required") from None
    with handle:
        while True:
            lines = handle.readlines(_BLOCK_BYTES)
            if not lines:
                break
            items = _decode_lines(lines, path, number)
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


# ----------------------------------------------------------------------------- run.json
@dataclass(frozen=True)
class RunInfo:
    """run.json (every field optional: a hand-run drill has no run.json at all)."""

    experiment: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    account: str | None = None
    primary: str | None = None
    secondary: str | None = None
    objectives: dict[str, Any] | None = None
    floors: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    configuration: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    ended: float | None = None
    load: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, path: Path) -> RunInfo:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise RunDirError(path, "must be a JSON object")
        regions = data.get("regions") or {}
        return cls(
            experiment=data.get("experiment") or {},
            target=data.get("target"),
            account=data.get("account"),
            primary=regions.get("primary"),
            secondary=regions.get("secondary"),
            objectives=data.get("objectives"),
            floors=data.get("floors") or {},
            versions=data.get("versions") or {},
            configuration=data.get("configuration") or {},
            started=epoch(data.get("started")),
            ended=epoch(data.get("ended")),
            load=data.get("load") or {},
        )
