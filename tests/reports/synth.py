"""Synthetic run directories whose answers are known by construction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.load.ledger import LedgerRecord

BASE = 1_790_000_000.0  # an arbitrary epoch second: t = BASE + offset
PRIMARY, SECONDARY = "us-east-1", "us-west-2"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).replace(tzinfo=None).isoformat()


def journal(t0: float | None, *, end: float = 60.0, rollback_at: float | None = None,
            fault_name: str = "fail-over-database", steady: bool | None = True,
            extension: dict[str, Any] | None = None, action_s: float = 0.2,
            before: list[tuple[str, float, float]] = ()) -> dict[str, Any]:  # fmt: skip
    """A Chaos Toolkit journal: the impairment action starts at BASE + t0 (t0) and ends
    ``action_s`` later; ``before`` are (name, start, end) setup actions that precede it."""
    run = [action(name, a, b, module="gameday.actions.setup") for name, a, b in before]
    if t0 is not None:
        run.append({
            "activity": {"type": "action", "name": fault_name,
                         "provider": {"type": "python", "module": "gameday.actions.rds", "func": "failover_database"}},
            "status": "succeeded", "start": iso(BASE + t0), "end": iso(BASE + t0 + action_s), "output": None,
        })  # fmt: skip
    rollbacks = []
    if rollback_at is not None:
        rollbacks.append({
            "activity": {"type": "action", "name": "fail-back",
                         "provider": {"type": "python", "module": "gameday.actions.rds", "func": "switchover_global_cluster"}},
            "status": "succeeded", "start": iso(BASE + rollback_at - 0.1), "end": iso(BASE + rollback_at),
        })  # fmt: skip
    exp: dict[str, Any] = {"title": "Synthetic drill", "method": []}
    if extension is not None:
        exp["extensions"] = [{"name": "gameday", **extension}]
    out: dict[str, Any] = {
        "status": "completed",
        "start": iso(BASE),
        "end": iso(BASE + end),
        "experiment": exp,
        "run": run,
        "rollbacks": rollbacks,
    }
    if steady is not None:
        out["steady_states"] = {
            "before": {"steady_state_met": steady, "probes": []},
            "after": {"steady_state_met": steady, "probes": []},
            "during": [],
        }
    return out


def action(name: str, start: float, end: float, *, module: str) -> dict[str, Any]:
    """One journal run entry of a python action from BASE + start to BASE + end."""
    return {"activity": {"type": "action", "name": name, "provider": {"type": "python", "module": module, "func": "f"}},
            "status": "succeeded", "start": iso(BASE + start), "end": iso(BASE + end), "output": None}  # fmt: skip


def requests(rate: float, until: float, *, start: float = 0.0,
             failing: Callable[[float], bool] = lambda t: False,
             region: Callable[[float], str | None] = lambda t: PRIMARY,
             op: Callable[[int], str] = lambda i: "read", cohort: str = "ttl",
             skew: float = 0.0, status_fail: int = 503, prefix: str = "w") -> Iterator[LedgerRecord]:  # fmt: skip
    """``rate`` requests per second from ``start`` to ``until`` (offsets from BASE)."""
    n = round((until - start) * rate)
    for i in range(n):
        t = start + i / rate
        bad = failing(t)
        kind = op(i)
        served = None if bad and status_fail == 0 else region(t)
        status = status_fail if bad else (201 if kind == "write" else 200)
        yield LedgerRecord(
            start=BASE + t + skew, end=BASE + t + 0.005 + skew, op=kind,
            method="POST" if kind == "write" else "GET", status=status, ok=not bad, latency_ms=5.0,
            region=served, address=None, write_id=f"{prefix}{i:07d}" if kind == "write" else None,
            error="LocustBadStatusCode" if bad else None, cohort=cohort,
        )  # fmt: skip


def write_run(run_dir: Path, journal_data: dict[str, Any], records: Iterator[LedgerRecord] | list[LedgerRecord],
              **extra: Any) -> Path:  # fmt: skip
    """Write journal.json, requests.jsonl and any extra artifact (name -> JSON or lines)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "journal.json").write_text(json.dumps(journal_data))
    with (run_dir / "requests.jsonl").open("w") as handle:
        for record in records:
            handle.write(record.to_json() + "\n")
    for name, value in extra.items():
        filename = name.replace("_", "-").replace("-json", ".json").replace("-jsonl", ".jsonl")
        path = run_dir / filename
        if isinstance(value, list):
            path.write_text("".join(json.dumps(v) + "\n" for v in value))
        else:
            path.write_text(json.dumps(value))
    return run_dir
