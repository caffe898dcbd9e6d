"""Typed records of a run directory: one class per kind of line or document.

Each has ``from_json`` (a decoded JSON object -> the record; ValueError naming the field
when a value is not what the file's schema says: :mod:`gameday.rundir.values`) and
``to_json`` (the record -> the object the writer puts on disk). The JSON Schemas in
``gameday/rundir/schemas/`` describe the same fields; a test keeps the two in step.

:class:`LedgerRecord` is the one request-ledger record, for the load that writes it and
the report that measures it. It is a named tuple, not a dataclass: the report builds a
million of them in C (``tuple.__new__``) and that is several times faster.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from gameday.rundir import values as v

COHORTS = ("ttl", "sticky")
WRITE_OPS = frozenset({"write"})
ACK_STATUSES = frozenset({200, 201})


def is_acknowledged(record: Any) -> bool:
    """The one rule for an acknowledged write, for any record with ``ok``, ``op``,
    ``status`` and ``write_id``."""
    return (
        record.ok
        and record.op in WRITE_OPS
        and record.status in ACK_STATUSES
        and record.write_id is not None
    )


class LedgerRecord(NamedTuple):
    """One request of ``requests.jsonl``. Times are unix seconds (wall clock, comparable
    with the journal).

    ``status`` 0 = no answer; ``region`` is the serving-region response header (None when
    no response came back); ``address`` the address the name resolved to and the request
    went to; ``error`` the exception's class name (None when the request succeeded);
    ``cohort`` the client's DNS behaviour, ``"ttl"`` (re-resolves when the TTL expires) or
    ``"sticky"`` (caches its first answer), absent in older ledgers (= ``"ttl"``).
    """

    start: float
    end: float
    op: str
    method: str
    status: int
    ok: bool
    latency_ms: float
    region: str | None = None
    address: str | None = None
    write_id: str | None = None
    error: str | None = None
    cohort: str = "ttl"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LedgerRecord:
        """Validate and build (ValueError naming the field otherwise)."""
        start, end = v.required_time(data, "start"), v.required_time(data, "end")
        return cls(
            start, end, str(v.str_field(data, "op")), v.str_field(data, "method", required=False) or "",
            v.int_field(data, "status", required=False) or 0, v.bool_field(data, "ok"),
            v.number_field(data, "latency_ms", required=False, minimum=0) or 0.0,
            v.str_field(data, "region", required=False), v.str_field(data, "address", required=False),
            v.str_field(data, "write_id", required=False), v.str_field(data, "error", required=False),
            v.one_of(data, "cohort", COHORTS, "ttl"),
        )  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(self._asdict(), separators=(",", ":"))

    @property
    def acknowledged(self) -> bool:
        """A write the service acknowledged (the client holds an ack for ``write_id``)."""
        return is_acknowledged(self)


class _Record:
    """``to_json`` for the dataclass records: their fields, as written."""

    def to_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return fields


@dataclass(frozen=True)
class Sample(_Record):
    """One probe sample of the control's sampler (``samples.jsonl``)."""

    time: float
    probe: str
    subject: str
    value: Any
    ok: bool
    error: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        time = v.required_time(data, "time")
        value = data.get("value")
        if data.get("probe") == "replication_lag" and value is not None:
            value = v.number_field(data, "value")
        return cls(
            time, str(v.str_field(data, "probe")), v.str_field(data, "subject", required=False) or "",
            value, v.bool_field(data, "ok", default=True), _text(data.get("error")),
        )  # fmt: skip


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Note(_Record):
    """An operator's note (``notes.jsonl``, written by ``gameday note``)."""

    time: float
    text: str
    author: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Note:
        time = v.required_time(data, "time")
        return cls(
            time, str(v.str_field(data, "text")), v.str_field(data, "author", required=False)
        )


@dataclass(frozen=True)
class StepEvent(_Record):
    """A runbook step's event (``steps.jsonl``)."""

    time: float
    step: str
    event: str
    detail: Any = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepEvent:
        time = v.required_time(data, "time")
        return cls(
            time,
            str(v.str_field(data, "step")),
            str(v.str_field(data, "event")),
            data.get("detail"),
        )


@dataclass(frozen=True)
class LabEvent:
    """One of the lab's ground-truth events (``lab-events.jsonl``): a time, a kind and the
    kind's own fields (``gameday.lab.events``)."""

    time: float
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabEvent:
        time = v.required_time(data, "time")
        kind = str(v.str_field(data, "kind"))
        return cls(time, kind, {k: x for k, x in data.items() if k not in ("time", "kind")})

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "kind": self.kind, **self.fields}


@dataclass(frozen=True)
class RunInfo:
    """``run.json`` (every field optional: a hand-run drill has no run.json at all)."""

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
    def from_json(cls, data: dict[str, Any]) -> RunInfo:
        regions = v.dict_field(data, "regions")
        floors = v.dict_field(data, "floors")
        for key in floors:
            v.number_field(floors, key, required=False, minimum=0)
        load = v.dict_field(data, "load")
        for key in ("users", "spawn_rate", "sticky_share"):
            v.number_field(load, key, required=False, minimum=0)
        objectives = data.get("objectives")
        if objectives is not None:
            objectives = v.dict_field(data, "objectives")
        return cls(
            experiment=v.dict_field(data, "experiment"),
            target=v.str_field(data, "target", required=False),
            account=v.str_field(data, "account", required=False),
            primary=v.str_field(regions, "primary", required=False),
            secondary=v.str_field(regions, "secondary", required=False),
            objectives=objectives,
            floors=floors,
            versions=v.dict_field(data, "versions"),
            configuration=v.dict_field(data, "configuration"),
            started=v.time_field(data, "started", required=False),
            ended=v.time_field(data, "ended", required=False),
            load=load,
        )


@dataclass(frozen=True)
class HistoryLine(_Record):
    """One run in ``history.jsonl`` (the reports folder's trend)."""

    experiment: str
    run: str  # the run directory's name (its UTC stamp)
    run_dir: str
    started: float | None
    verdict: str
    rto_seconds: float | None
    rpo_seconds: float | None
    lost_write_count: int | None
    target: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HistoryLine:
        return cls(
            experiment=str(v.str_field(data, "experiment")),
            run=str(v.str_field(data, "run")),
            run_dir=str(v.str_field(data, "run_dir")),
            started=v.time_field(data, "started", required=False),
            verdict=str(v.str_field(data, "verdict")),
            rto_seconds=v.number_field(data, "rto_seconds", required=False, minimum=0),
            rpo_seconds=v.number_field(data, "rpo_seconds", required=False, minimum=0),
            lost_write_count=v.int_field(data, "lost_write_count", required=False),
            target=v.str_field(data, "target", required=False),
        )
