"""The control's parts that need no lab: the run directory, operator steps and notes,
live progress (terminal panel and plain lines), the fault time from a journal."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed
from click.testing import CliRunner

from gameday import control
from gameday.actions.runbook import operator_step
from gameday.cli import main
from gameday.drill import rundir as rd
from gameday.drill.progress import snapshot, start_progress
from gameday.drill.settings import parse_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def drill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[control.DrillRun]:
    """A drill in progress in this process (as the control's configure hook makes it)."""
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(tmp_path / "state" / "faults.jsonl"))
    monkeypatch.delenv("GAMEDAY_UNATTENDED", raising=False)
    experiment = json.loads((ROOT / "experiments/region-evacuation.json").read_text())
    control.configure_control(experiment, {"primary_region": "us-east-1"}, {})
    run = control.current_run()
    assert run is not None
    run.settings = parse_settings(experiment)
    run.run_dir = rd.create_run_dir(tmp_path / "reports", "region-evacuation", time.time())
    rd.publish_current(run.run_dir)
    try:
        yield run
    finally:
        rd.clear_current(run.run_dir)
        control.cleanup_control()


def test_run_directories_are_named_by_drill_and_utc_stamp(tmp_path: Path) -> None:
    when = 1796050424.5  # 2026-11-30T14:53:44Z
    first = rd.create_run_dir(tmp_path, "dns-failover", when)
    second = rd.create_run_dir(tmp_path, "dns-failover", when)
    assert first == tmp_path / "dns-failover" / "20261130T145344Z"
    assert second.name == "20261130T145344Z-2"


def test_unattended_step_continues_after_its_delay(
    drill: control.DrillRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAMEDAY_UNATTENDED", "1")
    result = operator_step("declare", "say it", delay_seconds=0.2)
    assert result["event"] == "automated" and result["seconds"] >= 0.2
    events = rd.read_jsonl(drill.run_dir / rd.STEPS)
    assert [e["event"] for e in events] == ["started", "automated"]
    assert "after 0.2 s" in events[1]["detail"]


def test_unattended_step_runs_its_automated_activity(drill: control.DrillRun) -> None:
    automated = {
        "module": "gameday.probes.dns",
        "func": "dns_answer",
        "arguments": {"name": "localhost", "nameserver": "127.0.0.1:9", "timeout": 0.2},
    }
    result = operator_step("look", automated=automated, configuration={"gameday_unattended": True})
    assert result["event"] == "automated" and result["result"]["name"] == "localhost"
    with pytest.raises(ActivityFailed, match="not an activity module"):
        operator_step(
            "evil",
            automated={"module": "os", "func": "system"},
            configuration={"gameday_unattended": True},
        )


def test_attended_step_waits_for_gameday_step_done_from_another_terminal(
    drill: control.DrillRun,
) -> None:
    done: dict = {}

    def operator() -> None:
        deadline = time.monotonic() + 10
        while not rd.read_jsonl(drill.run_dir / rd.STEPS) and time.monotonic() < deadline:
            time.sleep(0.02)
        done["note"] = CliRunner().invoke(main, ["note", "deciding now"])
        done["step"] = CliRunner().invoke(main, ["step", "done", "declare"])

    helper = threading.Thread(target=operator)
    helper.start()
    result = operator_step("declare", "say it", timeout_seconds=20)
    helper.join()
    assert result["event"] == "confirmed"
    assert done["step"].exit_code == 0 and done["note"].exit_code == 0
    assert [e["event"] for e in rd.read_jsonl(drill.run_dir / rd.STEPS)] == ["started", "confirmed"]
    assert rd.read_jsonl(drill.run_dir / rd.NOTES)[0]["text"] == "deciding now"


def test_a_step_nobody_confirms_times_out_and_says_so(drill: control.DrillRun) -> None:
    with pytest.raises(ActivityFailed, match=r"not confirmed within 0\.3 s"):
        operator_step("declare", timeout_seconds=0.3)
    assert [e["event"] for e in rd.read_jsonl(drill.run_dir / rd.STEPS)] == ["started", "timed-out"]


def _ledger_lines(run_dir: Path, now: float) -> None:
    lines = []
    for i in range(40):
        end = now - 4 + i * 0.1
        ok = i % 10 != 0
        lines.append(
            {
                "start": end - 0.01,
                "end": end,
                "op": "write",
                "method": "POST",
                "status": 201 if ok else 503,
                "ok": ok,
                "latency_ms": 10.0,
                "region": "us-west-2",
                "write_id": f"w{i}",
            }
        )
    (run_dir / rd.REQUESTS).write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_progress_reads_the_ledger_and_the_sampler(drill: control.DrillRun) -> None:
    now = time.time()
    _ledger_lines(drill.run_dir, now)
    drill.phase, drill.t0 = control.Phase.OBSERVATION, now - 2
    shot = snapshot()
    assert shot is not None
    assert shot.rps == pytest.approx(40 / 5.0)
    assert shot.error_rate == pytest.approx(0.1)
    assert shot.serving == "us-west-2 100%"
    assert "[observation] t0+" in shot.line() and "RTO objective 30s" in shot.line()


def test_progress_is_plain_lines_without_a_terminal_and_a_panel_with_one(
    drill: control.DrillRun,
) -> None:
    _ledger_lines(drill.run_dir, time.time())
    drill.phase, drill.activity = control.Phase.METHOD, "block-primary-endpoint"
    plain = io.StringIO()
    stop = start_progress(plain, interval=0.05, tty=False)
    deadline = time.monotonic() + 5
    while "req/s" not in plain.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop()
    assert "gameday [method: block-primary-endpoint]" in plain.getvalue()

    panel = io.StringIO()
    stop = start_progress(panel, tty=True)
    deadline = time.monotonic() + 5
    while "requests/s" not in panel.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop()
    assert "serving region" in panel.getvalue()


def test_the_audit_reads_one_get_per_id_from_a_service_without_a_batch_endpoint() -> None:
    """A service with only ``GET /orders/{id}`` (no ``POST /orders/lookup``) is audited
    one id at a time; one with neither answering fails loudly."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from gameday.drill.lookup import GetLookup, service_lookup

    stored = {"a": {"id": "a", "acked_at": 1.0}}

    class Orders(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            order = stored.get(self.path.rsplit("/", 1)[-1])
            body = json.dumps(order or {"error": "missing"}).encode()
            self.send_response(200 if order else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lookup = service_lookup(f"http://127.0.0.1:{server.server_port}", timeout=5)
        assert isinstance(lookup, GetLookup)
        found, missing = lookup.lookup(["a", "b"])
        assert found == {"a": [stored["a"]]} and missing == ["b"]
        lookup.close()
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(OSError):
        service_lookup(f"http://127.0.0.1:{server.server_port}", timeout=1)
