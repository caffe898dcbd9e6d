"""Ledger reading: plain Python, no gevent, cost proportional to the window."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gameday.load.ledger import (
    LedgerRecord,
    acknowledged_writes,
    count_records,
    read_ledger,
    read_recent,
    recent_window,
    summary_path,
    window_stats,
)


def record(end: float, *, ok: bool = True, region: str | None = "primary", op: str = "read"):
    return LedgerRecord(
        start=end - 0.01,
        end=end,
        op=op,
        method="GET" if op == "read" else "POST",
        status=200 if ok else 503,
        ok=ok,
        latency_ms=10.0,
        region=region,
        address="127.0.0.1",
        write_id=f"id-{end}",
        error=None if ok else "LocustBadStatusCode",
    )


def write(path: Path, records: list[LedgerRecord], tail: str = "") -> None:
    path.write_text("".join(r.to_json() + "\n" for r in records) + tail)


def test_round_trip_and_partial_last_line(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    records = [record(100.0 + i) for i in range(5)]
    write(path, records, tail='{"start": 1.0, "end"')  # a line still being written
    assert list(read_ledger(path)) == records
    assert count_records(path) == 5
    assert count_records(tmp_path / "missing.jsonl") == 0


def test_read_recent_reads_only_the_tail(tmp_path, monkeypatch) -> None:
    import gameday.load.ledger as ledger_module

    path = tmp_path / "ledger.jsonl"
    records = [record(1000.0 + i * 0.01) for i in range(50_000)]  # 500 s of records
    write(path, records)
    read_bytes = 0

    class Counting:  # the file read_recent opens, counting what it reads
        def __init__(self, *args, **kwargs) -> None:
            self._file = open(*args, **kwargs)  # noqa: SIM115

        def read(self, size: int = -1) -> bytes:
            nonlocal read_bytes
            data = self._file.read(size)
            read_bytes += len(data)
            return data

        def __getattr__(self, name: str):
            return getattr(self._file, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            self._file.close()

    monkeypatch.setattr(ledger_module, "open", Counting, raising=False)
    recent = read_recent(path, since=1499.0, block=4096)
    assert recent == [r for r in records if r.end >= 1499.0]
    assert 95 <= len(recent) <= 101
    # the window plus the 10 s slack (~1100 records) and a block: a few percent of the file
    assert read_bytes < path.stat().st_size / 20, (read_bytes, path.stat().st_size)
    assert read_recent(tmp_path / "missing.jsonl", since=0) == []


def test_window_stats_error_rate_and_region_share() -> None:
    records = [record(10.0), record(11.0, ok=False, region=None), record(12.0, region="secondary")]
    records += [record(13.0, region="secondary"), record(50.0)]
    stats = window_stats(records, 9.0, 14.0)
    assert (stats.requests, stats.errors) == (4, 1)
    assert stats.error_rate == 0.25
    assert stats.region_share() == {"primary": 1 / 3, "secondary": 2 / 3}
    empty = window_stats(records, 20.0, 30.0)
    assert empty.error_rate == 1.0 and empty.region_share() == {}


def test_acknowledged_writes_are_successful_writes_with_an_id() -> None:
    records = [record(1.0, op="write"), record(2.0, op="write", ok=False), record(3.0)]
    assert acknowledged_writes(records) == [records[0]]


def test_recent_window_on_a_live_file(tmp_path) -> None:
    import time

    path = tmp_path / "ledger.jsonl"
    now = time.time()
    write(path, [record(now - 30), record(now - 2), record(now - 1, ok=False)])
    stats = recent_window(path, 5.0)
    assert stats.requests == 2 and stats.error_rate == 0.5


def test_summary_path_sits_beside_the_ledger(tmp_path) -> None:
    assert summary_path(tmp_path / "ledger.jsonl") == tmp_path / "ledger.summary.json"
    json.dumps(record(1.0).to_json())
    assert "gevent" not in sys.modules
