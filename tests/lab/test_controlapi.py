"""The supervisor's control API (routing table) and the lab API's event reader, without a lab."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gameday.lab import api
from gameday.lab.controlapi import dispatch


class FakeSupervisor:
    """Records what the API asked; refuses as the real supervisor does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def restart_region(self, name: str) -> dict[str, Any]:
        if name == "nowhere-1":
            raise LookupError("the lab has no region 'nowhere-1'")
        if name == "us-east-1":
            raise RuntimeError("region us-east-1 is running: kill it first")
        self.calls.append(("restart", name))
        return {"region": name, "pid": 1, "role": "reader"}

    def set_lag(self, seconds: float) -> dict[str, Any]:
        self.calls.append(("lag", seconds))
        return {"lag": seconds, "lab_only": True}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "call"),
    [
        ("POST", "/regions/us-west-2/restart", None, 200, ("restart", "us-west-2")),
        ("POST", "/regions/us-west-2/restart/", None, 200, ("restart", "us-west-2")),
        ("POST", "/regions/nowhere-1/restart", None, 404, None),
        ("POST", "/regions/us-east-1/restart", None, 409, None),
        ("POST", "/replication/lag", {"seconds": 2.5}, 200, ("lag", 2.5)),
        ("POST", "/replication/lag", {"seconds": -1}, 400, None),
        ("POST", "/replication/lag", {"seconds": "NaN"}, 400, None),
        ("POST", "/replication/lag", {}, 400, None),
        ("POST", "/replication/lag", [1], 400, None),
        ("GET", "/replication/lag", None, 404, None),
        ("POST", "/regions", None, 404, None),
    ],
)
def test_routes(
    method: str, path: str, body: Any, status: int, call: tuple[str, Any] | None
) -> None:
    ops = FakeSupervisor()
    got, answer = dispatch(ops, method, path, lambda: body)
    assert got == status, answer
    assert ops.calls == ([call] if call else [])
    if status != 200:
        assert answer["error"]


def test_the_lab_api_reads_events_with_the_labs_tolerance(tmp_path: Path) -> None:
    """The drill's lab events come from the lab's own reader: a damaged or foreign line
    is skipped (it used to abort the report), and the window is inclusive."""
    lines = [
        json.dumps({"time": 10.0, "kind": "lab-ready"}),
        '{"time": "not a number", "kind": "x"}',
        "{torn line",
        json.dumps({"time": 20.0, "kind": "fault", "state": "applied"}),
        json.dumps(["not", "an", "event"]),
        json.dumps({"time": 30.0, "kind": "lab-stopped"}),
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    window = api.events_between(tmp_path, 10.0, 20.0)
    assert [e["kind"] for e in window] == ["lab-ready", "fault"]


def test_the_lab_api_reads_speed_and_lag_from_the_labs_state(tmp_path: Path) -> None:
    assert api.speed(tmp_path) is None and api.baseline_lag(tmp_path) == api.DEFAULT_LAG
    state = {"supervisor_pid": 1, "regions": [], "config": {"speed": 10, "replication_lag": 0.5}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert api.speed(tmp_path) == 10.0 and api.baseline_lag(tmp_path) == 0.5
