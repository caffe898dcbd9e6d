"""A property over malformed values: whatever value lands in whatever field of whatever
artifact, ``gameday report`` either measures the run or stops with one message naming
the file (and the line, for a JSON-lines file); it never raises anything else, and writes
nothing when it stops. Cases are drawn from a seeded generator, so a failure replays."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gameday.reports import ReportError, build_report
from tests.reports.synth import BASE, journal, requests, write_run

MALFORMED: list[Any] = [
    None, True, 0, -1, 2**70, 1e300, -1e300, math.nan, math.inf, -math.inf, "", "x",
    "$\\frac{x$", "2026-13-45T00:00:00", "1790000010", [], [1, 2], {}, {"a": 1}, "\x00",
]  # fmt: skip
DELETE = object()

LEDGER_FIELDS = ["start", "end", "op", "method", "status", "ok", "latency_ms", "region",
                 "address", "write_id", "error", "cohort"]  # fmt: skip
LINES = {
    "notes.jsonl": ({"time": BASE + 12, "text": "a note", "author": "ops"}, ["time", "text", "author"]),
    "steps.jsonl": ({"time": BASE + 12, "step": "promote", "event": "confirmed", "detail": None},
                    ["time", "step", "event", "detail"]),
    "samples.jsonl": ({"time": BASE + 11, "probe": "replication_lag", "subject": "a->b", "value": 0.2,
                       "ok": True, "error": None}, ["time", "probe", "subject", "value", "ok", "error"]),
    "lab-events.jsonl": ({"time": BASE + 11, "kind": "health", "region": "us-east-1", "healthy": False},
                         ["time", "kind", "region", "healthy"]),
}  # fmt: skip
RUN_JSON = {
    "schema": 1, "experiment": {"name": "drill", "title": "t"}, "target": "lab",
    "regions": {"primary": "us-east-1", "secondary": "us-west-2"},
    "floors": {"health_check_interval_s": 1.0, "failure_threshold": 2, "ttl_s": 1.0, "lab_speed": 10},
    "started": BASE, "ended": BASE + 30, "load": {"users": 4, "spawn_rate": 4, "sticky_share": 0.0},
}  # fmt: skip
RUN_PATHS = [("experiment",), ("experiment", "name"), ("target",), ("regions",),
             ("regions", "primary"), ("floors",), ("floors", "ttl_s"), ("started",), ("ended",),
             ("load",), ("load", "users"), ("objectives",)]  # fmt: skip
AUDIT = {
    "schema": 1, "writer_region": "us-west-2", "lookup": "POST x", "checked": 3, "found": 2,
    "lost": [{"id": "w0000001", "acked_at": BASE + 9.9, "region": "us-east-1"}], "duplicates": [],
    "recovery_only": [], "batches": 1, "duration_s": 0.1, "audited_at": BASE + 40,
    "clock_offset": {"median_s": 0.0, "samples": 2, "spread_s": 0.0, "max_uncertainty_s": 0.01},
}  # fmt: skip
AUDIT_PATHS = [("checked",), ("lost",), ("lost", 0), ("lost", 0, "acked_at"), ("lost", 0, "id"),
               ("clock_offset",), ("clock_offset", "median_s"), ("duplicates",), ("audited_at",)]  # fmt: skip
JOURNAL_PATHS = [("experiment",), ("run",), ("run", 0), ("run", 0, "start"), ("run", 0, "end"),
                 ("run", 0, "activity"), ("run", 0, "activity", "provider"), ("rollbacks",),
                 ("steady_states",), ("steady_states", "before"), ("start",), ("status",)]  # fmt: skip


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    if value is DELETE:
        del data[path[-1]]
    else:
        data[path[-1]] = value


def _case(rng: random.Random) -> tuple[str, Callable[[Path], None]]:
    """One malformed artifact: its description and how to plant it in a run directory."""
    value = rng.choice([*MALFORMED, DELETE])
    kind = rng.choice(["requests.jsonl", *LINES, "run.json", "journal.json", "audit.json"])
    if kind == "requests.jsonl":
        field, line = rng.choice(LEDGER_FIELDS), rng.randrange(1, 101)

        def plant(run: Path) -> None:
            lines = (run / kind).read_text().splitlines()
            record = json.loads(lines[line - 1])
            _set(record, (field,), value)
            lines[line - 1] = json.dumps(record)
            (run / kind).write_text("\n".join(lines) + "\n")

        return f"{kind}:{line} {field}={value!r}", plant
    if kind in LINES:
        good, fields = LINES[kind]
        field = rng.choice(fields)

        def plant(run: Path) -> None:
            bad = dict(good)
            _set(bad, (field,), value)
            (run / kind).write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")

        return f"{kind}:2 {field}={value!r}", plant
    paths = RUN_PATHS if kind == "run.json" else JOURNAL_PATHS
    path = rng.choice(paths)

    def plant(run: Path) -> None:
        data = (
            json.loads((run / kind).read_text())
            if kind == "journal.json"
            else json.loads(json.dumps(RUN_JSON))
        )
        try:
            _set(data, path, value)
        except (KeyError, IndexError, TypeError):
            return
        (run / kind).write_text(json.dumps(data))

    return f"{kind} {'.'.join(map(str, path))}={value!r}", plant


@pytest.mark.parametrize("seed", range(30))
def test_any_malformed_value_gives_a_report_or_one_message_naming_the_file(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    what, plant = _case(rng)
    run = write_run(tmp_path / "r", journal(10.0), requests(5, 20))
    (run / "run.json").write_text(json.dumps(RUN_JSON))
    plant(run)
    try:
        build_report(run, history=False)
    except ReportError as exc:
        message = str(exc)
        name = what.split(" ")[0].split(":")[0]
        where = f"{run / name}:" if name.endswith(".jsonl") else f"{run / name}: "
        assert message.startswith(where), (what, message)
        assert "\n" not in message, (what, message)
        assert not (run / "report.html").exists(), what
    else:
        assert (run / "summary.json").exists(), what
