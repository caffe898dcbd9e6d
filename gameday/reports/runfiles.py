"""Reading a run directory into typed records (the only module here that opens files).

Every artifact is optional except the Chaos Toolkit journal (``journal.json``) and the
request ledger (``requests.jsonl``): with only those two a drill run by hand can still be
measured. Bad input raises :class:`~gameday.reports.errors.RunDirError` naming the file and
line; nothing is guessed.

The ledger is the one big file: :func:`stream_ledger` yields its records once, in start-time
order, without holding them. Why a reorder buffer: the load appends records as requests
*end*, in batches per worker, so start times are near-ordered but not sorted (a request
that timed out after 5 s lands after faster ones that started later). Records are held in a
heap until the newest start seen is :data:`REORDER_SECONDS` past them, so memory follows
requests-per-second times that horizon, not the run's length. A record arriving later than
that (only possible with a client clock jumping, or a worker's batch delayed by more than
the horizon) is still measured, in arrival order, and counted in ``LedgerStats.late``.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.load.ledger import LedgerRecord
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

#: Modules whose actions are never the impairment (load and probes are not faults).
_NOT_IMPAIRMENTS = ("gameday.load", "gameday.probes", "gameday.reports", "chaosaddons")


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
    when named, else the first *action* of ``run`` that is not load, probe or report work."""
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
        fault = next(
            (a for a in candidates if not (a.target or "").startswith(_NOT_IMPAIRMENTS)), None
        )

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
@dataclass
class LedgerStats:
    """Counts :func:`stream_ledger` fills in while it runs (read them after the loop)."""

    records: int = 0
    late: int = 0  # arrived more than REORDER_SECONDS out of order
    max_reorder_seconds: float = 0.0
    first_start: float = math.inf
    last_end: float = -math.inf
    peak_buffer: int = 0


def _record(data: Any, path: Path, number: int, offset: float) -> LedgerRecord:
    try:
        return LedgerRecord(
            float(data["start"]) + offset,
            float(data["end"]) + offset,
            str(data["op"]),
            str(data.get("method") or ""),
            int(data.get("status") or 0),
            bool(data["ok"]),
            float(data.get("latency_ms") or 0.0),
            data.get("region"),
            data.get("address"),
            data.get("write_id"),
            data.get("error"),
            data.get("cohort") or "ttl",
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RunDirError(
            path, "is not a ledger record (needs start, end, op, ok)", line=number
        ) from None


def stream_ledger(
    path: Path, stats: LedgerStats, *, offset: float = 0.0, horizon: float = REORDER_SECONDS
) -> Iterator[LedgerRecord]:
    """The ledger's records in start order (see the module docstring), ``offset`` seconds
    added to every time (a measured client clock offset). Raises RunDirError on a missing
    or empty file and on a line that is not JSON, naming the line."""
    loads = json.loads
    heap: list[tuple[float, int, LedgerRecord]] = []
    push, pop = heapq.heappush, heapq.heappop
    newest = -math.inf
    emitted = -math.inf
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise RunDirError(path, "missing: the request ledger is required") from None
    with handle:
        number = 0
        for number, line in enumerate(handle, 1):
            try:
                data = loads(line)
            except ValueError:
                if not line.strip():
                    continue
                problem = "line is not JSON"
                if not line.endswith(b"\n"):
                    problem = "the last line is cut off (truncated ledger)"
                raise RunDirError(path, problem, line=number) from None
            record = _record(data, path, number, offset)
            start = record.start
            stats.records += 1
            if record.end > stats.last_end:
                stats.last_end = record.end
            if start < stats.first_start:
                stats.first_start = start
            if start > newest:
                newest = start
            elif newest - start > stats.max_reorder_seconds:
                stats.max_reorder_seconds = newest - start
            if start < emitted:
                stats.late += 1
                yield record
                continue
            push(heap, (start, number, record))
            cutoff = newest - horizon
            while heap and heap[0][0] < cutoff:
                emitted = heap[0][0]
                yield pop(heap)[2]
            if len(heap) > stats.peak_buffer:
                stats.peak_buffer = len(heap)
        if number == 0:
            raise RunDirError(path, "is empty: no request was recorded")
    while heap:
        yield pop(heap)[2]


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
