"""The Locust lifecycle from a gevent-free process: validation, start, produce, stop, reap."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from gameday.load import (
    InvalidLoadSettings,
    LoadError,
    LoadRun,
    LocustfileImportError,
    NonLoopbackTarget,
    TargetUnresolvable,
)
from gameday.load.ledger import read_ledger, read_summary


def locust_logged_count(log: Path) -> int:
    """Locust's own final request count, from the summary table it prints."""
    matches = re.findall(r"^\s*Aggregated\s+(\d+)\s", log.read_text(), re.MULTILINE)
    assert matches, f"no summary in {log}"
    return int(matches[0])  # the first table is the request stats (then the percentiles)


def assert_not_started(run: LoadRun) -> None:
    assert run.process is None
    assert not run.ledger.exists()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"users": 0}, InvalidLoadSettings),
        ({"users": -3}, InvalidLoadSettings),
        ({"run_time": 0}, InvalidLoadSettings),
        ({"write_ratio": 1.5}, InvalidLoadSettings),
        ({"think_min": 1.0, "think_max": 0.5}, InvalidLoadSettings),
        ({"target": "10.20.30.40"}, NonLoopbackTarget),
        ({"target": "nosuch.lab.internal"}, TargetUnresolvable),
        ({"nameserver": "192.0.2.53:53"}, NonLoopbackTarget),
        ({"locustfile": Path("/nonexistent/locustfile.py")}, LocustfileImportError),
    ],
)
def test_bad_input_is_refused_before_any_load(make_settings, overrides, error) -> None:
    run = LoadRun(make_settings(**overrides))
    with pytest.raises(error) as caught:
        run.start()
    assert isinstance(caught.value, LoadError)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".")
    assert_not_started(run)


def test_target_resolving_outside_loopback_is_refused_in_lab_mode(make_settings, dns) -> None:
    dns.point_to("192.0.2.10")  # TEST-NET-1: never contacted, refused on resolution
    run = LoadRun(make_settings())
    with pytest.raises(NonLoopbackTarget, match=re.escape("192.0.2.10")):
        run.start()
    assert_not_started(run)


def test_unreachable_nameserver_is_reported_as_unresolvable(make_settings) -> None:
    run = LoadRun(make_settings(nameserver="127.0.0.1:9", dns_timeout=0.3))
    with pytest.raises(TargetUnresolvable, match=re.escape("127.0.0.1:9")):
        run.start()
    assert_not_started(run)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import gameday_no_such_module\n", "No module named"),
        ("raise RuntimeError('boom in locustfile')\n", "boom in locustfile"),
        ("X = 1\n", "no Locust User class"),
    ],
)
def test_broken_locustfile_is_refused(make_settings, tmp_path, source, expected) -> None:
    path = tmp_path / "broken_locustfile.py"
    path.write_text(source)
    run = LoadRun(make_settings(locustfile=path))
    with pytest.raises(LocustfileImportError, match=expected):
        run.start()
    assert_not_started(run)


def test_single_process_run_is_complete_and_keeps_locust_outputs(make_settings, runs) -> None:
    run = LoadRun(make_settings())
    runs.append(run)
    run.start()
    run.wait_until_producing(timeout=20)
    # let it run until a few hundred requests are in, bounded in time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(1 for _ in read_ledger(run.ledger)) < 100:
        time.sleep(0.1)
    result = run.stop()
    assert result.returncode == 0
    assert result.records >= 100
    assert result.complete, result
    assert result.records == result.locust_requests == locust_logged_count(result.log)
    assert result.html.is_file() and result.html.stat().st_size > 0
    assert Path(f"{result.csv_prefix}_stats.csv").is_file()
    records = list(read_ledger(result.ledger))
    assert {r.op for r in records} <= {"write", "read"}
    assert all(r.region == "primary" and r.address == "127.0.11.1" for r in records)
    writes = [r for r in records if r.op == "write"]
    assert writes and all(r.acknowledged for r in writes)
    assert len({r.write_id for r in writes}) == len(writes)
    # ids are time-ordered UUIDv7: their millisecond clock is the write's creation time,
    # taken just before the request started
    for r in writes:
        made = uuid.UUID(r.write_id)
        assert made.version == 7 and made.variant == uuid.RFC_4122, r.write_id
        assert r.start - 5.0 <= (made.int >> 80) / 1000.0 <= r.start + 0.001, r


LIFECYCLE_SCRIPT = """
import json, sys
from pathlib import Path
from gameday.load import LoadRun, LoadSettings
from gameday.probes.load import error_rate
target, port, nameserver, ledger = sys.argv[1:5]
run = LoadRun(LoadSettings(target=target, port=int(port), nameserver=nameserver, lab=True,
                           users=1, run_time=20, ledger=Path(ledger), think_min=0.01,
                           think_max=0.02)).start()
run.wait_until_producing(min_records=5, timeout=20)
rate = error_rate(window_seconds=5, ledger_path=ledger)
result = run.stop()
print(json.dumps({"gevent": "gevent" in sys.modules, "locust": "locust" in sys.modules,
                  "complete": result.complete, "rate": rate}))
"""


def test_lifecycle_never_imports_gevent_into_the_caller(regions, dns, tmp_path) -> None:
    """Run in a fresh interpreter: other tests in this process may have imported anything."""
    ledger = tmp_path / "ledger.jsonl"
    args = ["api.lab.internal", str(regions[0].port), dns.nameserver, str(ledger)]
    proc = subprocess.run(
        [sys.executable, "-c", LIFECYCLE_SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"gevent": False, "locust": False, "complete": True, "rate": 0.0}


def test_run_time_is_a_hard_cap(make_settings) -> None:
    run = LoadRun(make_settings(run_time=2))
    started = time.monotonic()
    run.start()
    result = run.wait(timeout=30)
    assert time.monotonic() - started < 15
    assert result.returncode == 0
    assert result.complete and result.records > 0
    assert not run.running()


def test_sigterm_leaves_a_complete_ledger(make_settings, runs) -> None:
    run = LoadRun(make_settings())
    runs.append(run)
    run.start()
    run.wait_until_producing(min_records=20, timeout=20)
    assert run.process is not None
    os.kill(run.process.pid, signal.SIGTERM)
    run.process.wait(timeout=20)
    result = run.stop()
    summary = read_summary(result.ledger)
    assert summary is not None and summary["complete"], summary
    assert result.records == result.locust_requests == locust_logged_count(result.log)


def test_two_worker_processes_deliver_a_complete_ledger_to_the_master(make_settings, runs) -> None:
    run = LoadRun(make_settings(users=4, processes=2))
    runs.append(run)
    run.start()
    run.wait_until_producing(min_records=200, timeout=30)
    result = run.stop()
    summary = read_summary(result.ledger)
    assert summary is not None and summary["role"] == "master"
    assert result.complete, result
    assert result.records == result.locust_requests == locust_logged_count(result.log)
    assert result.records >= 200


def test_a_worker_slow_to_send_its_last_report_still_leaves_a_complete_run(
    make_settings, runs, tmp_path
) -> None:
    """Locust's master waits 0.5 s for its workers' last statistics; a worker on a busy
    machine can take longer. Here each worker holds its last report 2 s."""
    path = tmp_path / "slow_worker_locustfile.py"
    path.write_text(
        textwrap.dedent(
            """
            import gevent
            from locust import events
            from locust.runners import WorkerRunner
            from gameday.load.locustfile import OrdersUser

            class Workload(OrdersUser):  # gameday's own workload, unchanged
                pass

            @events.init.add_listener
            def hold_the_last_report(environment, **_kw):
                runner = environment.runner
                if isinstance(runner, WorkerRunner):
                    def hold(client_id, data, **_kw):
                        if not runner.user_count:  # stopped: the report after "quit"
                            gevent.sleep(2)
                    environment.events.report_to_master.add_listener(hold)
            """
        )
    )
    run = LoadRun(make_settings(users=4, processes=2, locustfile=path))
    runs.append(run)
    run.start()
    run.wait_until_producing(min_records=100, timeout=30)
    result = run.stop()
    assert result.complete, result
    assert result.records == result.locust_requests == locust_logged_count(result.log)


def test_custom_locustfile_reuses_the_user_and_the_ledger(make_settings, runs, tmp_path) -> None:
    path = tmp_path / "health_locustfile.py"
    path.write_text(
        textwrap.dedent(
            """
            from locust import task
            from gameday.load.locustfile import GamedayUser, new_write_id

            class HealthUser(GamedayUser):
                @task
                def health(self):
                    self.call("GET", "/health", op="health", write_id=new_write_id())
            """
        )
    )
    run = LoadRun(make_settings(locustfile=path))
    runs.append(run)
    run.start()
    run.wait_until_producing(min_records=20, timeout=30)
    result = run.stop()
    assert result.complete
    records = list(read_ledger(result.ledger))
    assert {r.op for r in records} == {"health"}
    assert all(r.ok and r.region == "primary" for r in records)


def test_lab_mode_never_follows_a_redirect(make_settings, runs, tmp_path) -> None:
    """A redirect could lead a lab-mode client off loopback: it is recorded, never followed
    (the decoy it points to, itself on loopback, must see no request)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    hits: list[str] = []

    class Decoy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    decoy = ThreadingHTTPServer(("127.0.0.1", 0), Decoy)
    Thread(target=decoy.serve_forever, daemon=True).start()
    try:
        path = tmp_path / "redirect_locustfile.py"
        path.write_text(
            textwrap.dedent(
                f"""
                from locust import task
                from gameday.load.locustfile import GamedayUser

                class RedirectedUser(GamedayUser):
                    @task
                    def follow(self):
                        self.call("GET", "/redirect?to=http://127.0.0.1:{decoy.server_port}/away", op="redirect")
                """
            )
        )
        run = LoadRun(make_settings(locustfile=path))
        runs.append(run)
        run.start()
        run.wait_until_producing(min_records=10, timeout=30)
        result = run.stop()
    finally:
        decoy.shutdown()
        decoy.server_close()
    assert result.complete
    assert {r.status for r in read_ledger(result.ledger)} == {302}
    assert hits == []


def test_ctrl_c_never_lands_inside_a_running_greenlet(make_settings, runs, tmp_path) -> None:
    """Python raises KeyboardInterrupt in whichever greenlet runs when SIGINT arrives; landing
    in the ledger's flush (or between Locust's stats and the ledger) lost records. The ledger
    routes Ctrl-C to Locust's main greenlet: a user busy when the signal arrives finishes."""
    started, interrupted = tmp_path / "started", tmp_path / "interrupted"
    path = tmp_path / "busy_locustfile.py"
    path.write_text(
        textwrap.dedent(
            f"""
            import time
            from pathlib import Path
            from locust import task
            from gameday.load.locustfile import GamedayUser

            class BusyUser(GamedayUser):
                @task
                def busy(self):
                    self.call("GET", "/health", op="health")
                    Path({str(started)!r}).touch()
                    try:
                        end = time.time() + 2.0
                        while time.time() < end:  # holds the interpreter: no greenlet switch
                            pass
                    except BaseException as exc:
                        Path({str(interrupted)!r}).write_text(type(exc).__name__)
                        raise
            """
        )
    )
    run = LoadRun(make_settings(locustfile=path, users=1))
    runs.append(run)
    run.start()
    deadline = time.monotonic() + 30
    while not started.exists():
        assert (
            time.monotonic() < deadline and run.process is not None and run.process.poll() is None
        )
        time.sleep(0.02)
    result = run.stop()  # SIGINT while the user is mid-loop
    assert not interrupted.exists(), interrupted.read_text()
    assert result.returncode == 0 and result.complete, result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_master_and_separate_worker_write_one_complete_ledger(
    make_settings, runs, tmp_path
) -> None:
    """Across machines, shown on loopback: a master plus a worker started on its own."""
    port = free_port()
    master = LoadRun(make_settings(role="master", expect_workers=1, master_port=port))
    worker = LoadRun(
        make_settings(role="worker", master_port=port, ledger=tmp_path / "worker" / "w.jsonl")
    )
    runs += [master, worker]
    master.start()
    worker.start()
    master.wait_until_producing(min_records=50, timeout=30)
    result = master.stop()
    assert worker.process is not None
    worker.process.wait(timeout=20)  # the master told it to quit
    worker.stop()
    assert result.complete, result
    assert result.records == result.locust_requests == locust_logged_count(result.log)
    assert read_summary(result.ledger)["role"] == "master"
    assert not (tmp_path / "worker" / "w.jsonl").exists()  # workers write nothing themselves


def test_ctrl_c_to_the_whole_process_group_keeps_the_counts_equal(make_settings, runs) -> None:
    """Ctrl-C in a terminal signals master and workers at once: workers send their last
    records and a final stats report before quitting, so both counts still agree."""
    run = LoadRun(make_settings(users=4, processes=2))
    runs.append(run)
    run.start()
    run.wait_until_producing(min_records=100, timeout=30)
    assert run.process is not None
    os.killpg(run.process.pid, signal.SIGINT)
    run.process.wait(timeout=20)
    result = run.stop()
    assert result.complete, result
    assert result.records == result.locust_requests == locust_logged_count(result.log)
