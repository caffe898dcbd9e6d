"""The ground-truth event log: append, read back, and what is impaired right now."""

from __future__ import annotations

from pathlib import Path

from gameday.lab.events import EventLog, active_faults, read_events


def test_events_are_read_back_in_order_and_filtered(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    first = log.emit("health", region="us-east-1", healthy=False)
    log.emit("dns", name="api.lab.internal", answer=["127.0.2.1"])
    log.close()
    events = read_events(tmp_path / "events.jsonl")
    assert [e["kind"] for e in events] == ["health", "dns"]
    assert read_events(tmp_path / "events.jsonl", kind="dns")[0]["answer"] == ["127.0.2.1"]
    assert read_events(tmp_path / "events.jsonl", since=first["time"] + 10) == []
    assert read_events(tmp_path / "missing.jsonl") == []


def test_active_faults_are_those_applied_and_not_reverted() -> None:
    def fault(state: str, **fields: object) -> dict:
        return {"time": 0.0, "kind": "fault", "state": state, **fields}

    nacl = {"fault": "network-acl-deny", "source": "ec2", "region": "us-east-1"}
    fis = {"fault": "aws:fis:wait", "source": "fis", "experiment_id": "e1", "action": "a"}
    events = [
        fault("applied", **nacl),
        fault("applied", **fis),
        {"time": 0.0, "kind": "health", "healthy": False},
        fault("reverted", **nacl),
        fault("applied", **{**nacl, "region": "us-west-2"}),
    ]
    assert [(f["fault"], f.get("region")) for f in active_faults(events)] == [
        ("aws:fis:wait", None),
        ("network-acl-deny", "us-west-2"),
    ]


def test_a_damaged_log_keeps_every_intact_event(tmp_path: Path) -> None:
    """Lines of the wrong shape or bytes that are not UTF-8 are skipped, never a crash."""
    log = EventLog(tmp_path / "events.jsonl")
    log.emit("health", id="hc-1", healthy=False)
    with (tmp_path / "events.jsonl").open("ab") as fh:
        fh.write(b'[1]\n{}\n{"time": "soon", "kind": "x"}\n{"time": 1, "kind": 2}\n\xff\xfe\n')
    log.emit("health", id="hc-1", healthy=True)
    log.close()
    events = read_events(tmp_path / "events.jsonl")
    assert [e["healthy"] for e in events] == [False, True]
    assert read_events(tmp_path / "events.jsonl", kind="health", since=0)[-1]["healthy"] is True
