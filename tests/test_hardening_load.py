"""Issue 12, the load: Locust's master on loopback, Locust dying with `gameday load run`,
and `load status` over a finished run.

Real Locust against a real loopback orders API (tests/load/load_servers.py); every test
checks at the end that no Locust process of it is left and none of its ports listens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gameday.lab.ports import listening
from gameday.load.cli import load
from gameday.load.ledger import LedgerRecord, count_records, summary_path
from gameday.load.runner import LoadRun
from gameday.load.settings import LoadSettings
from gameday.procutil import pid_alive
from tests.lab.helpers import wait_until
from tests.load.load_servers import OrdersRegion

GAMEDAY = [sys.executable, "-m", "gameday.cli"]


@pytest.fixture
def region() -> Iterator[OrdersRegion]:
    server = OrdersRegion("primary", "127.0.0.1")
    yield server
    server.stop()


def processes_naming(text: str) -> list[int]:
    """Live pids whose command line contains ``text`` (a run's ledger path)."""
    wanted = text.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "cmdline").read_bytes() and pid_alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket ``pid`` listens on, from /proc/net/tcp."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and inode in inodes:  # 0A: LISTEN
            address, port = local.split(":")
            octets = bytes.fromhex(address)[::-1]
            found.add((".".join(str(b) for b in octets), int(port, 16)))
    return found


def settings(region: OrdersRegion, ledger: Path, **overrides: object) -> LoadSettings:
    values: dict[str, object] = {
        "target": region.address,
        "port": region.port,
        "users": 2,
        "run_time": 30,
        "ledger": ledger,
        "lab": True,
        "think_min": 0.05,
        "think_max": 0.1,
    }
    return LoadSettings(**(values | overrides))  # type: ignore[arg-type]


def test_processes_master_listens_on_loopback_on_a_port_of_its_own(
    region: OrdersRegion, tmp_path: Path
) -> None:
    """Defect 7: with --processes the master listened on *:5557, and two runs collided."""
    runs = [
        LoadRun(settings(region, tmp_path / f"r{i}" / "ledger.jsonl", processes=1))
        for i in range(2)
    ]
    try:
        for run in runs:
            run.start()
        for run in runs:
            run.wait_until_producing(timeout=60)
        ports = [run.master_port for run in runs]
        assert None not in ports and 5557 not in ports and ports[0] != ports[1]
        for run in runs:
            assert run.process is not None
            sockets = listening_sockets(run.process.pid)
            assert ("127.0.0.1", run.master_port) in sockets
            assert all(address.startswith("127.") for address, _ in sockets), sockets
        results = [run.stop() for run in runs]
    finally:
        for run in runs:
            if run.process is not None:
                run.stop()
    assert all(result.complete for result in results)
    for run in runs:
        assert processes_naming(str(run.ledger)) == []
        assert not listening("127.0.0.1", run.master_port or 0)


def test_sigkill_of_load_run_takes_locust_and_its_workers_with_it(
    region: OrdersRegion, tmp_path: Path
) -> None:
    """Defect 8: SIGKILL of `gameday load run` left Locust running (reparented to init)
    until its run time ended."""
    ledger = tmp_path / "ledger.jsonl"
    command = [
        *GAMEDAY,
        "load",
        "run",
        "--target",
        region.address,
        "--port",
        str(region.port),
        "--lab",
        "--users",
        "2",
        "--run-time",
        "5m",
        "--processes",
        "2",
        "--think-min",
        "0.05",
        "--think-max",
        "0.1",
        "--ledger",
        str(ledger),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: count_records(ledger) > 0, 60)
        locust = [pid for pid in processes_naming(str(ledger)) if pid != proc.pid]
        assert len(locust) == 3  # the master and its two forked workers
        ports = {port for pid in locust for _, port in listening_sockets(pid)}
        assert ports
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        wait_until(lambda: not any(pid_alive(pid) for pid in locust), 15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in processes_naming(str(ledger)):
            os.kill(pid, signal.SIGKILL)
    assert processes_naming(str(ledger)) == []
    assert not [port for port in ports if listening("127.0.0.1", port)]
    served = region.requests
    time.sleep(0.3)  # nothing is left to send a request: the count stays still
    assert region.requests == served


def test_status_of_a_finished_run_reads_its_last_window_not_silence(tmp_path: Path) -> None:
    """Defect 9: `load status` measured back from now, so a finished run read as 100%
    errors; and `--window nan` printed invalid JSON."""
    ledger = tmp_path / "ledger.jsonl"
    ended = time.time() - 3600  # the run finished an hour ago
    records = [
        LedgerRecord(ended - 5 + i * 0.5, ended - 5 + i * 0.5 + 0.01, "read", "GET", 200, True, 10)
        for i in range(10)
    ]
    ledger.write_text("".join(r.to_json() + "\n" for r in records))
    summary_path(ledger).write_text(json.dumps({"records": 10, "finished_at": ended}))
    result = CliRunner().invoke(load, ["status", "--ledger", str(ledger), "--window", "10"])
    assert result.exit_code == 0, result.output
    window = json.loads(result.output)
    assert window["finished"] is True and window["until"] == ended
    assert window["requests"] == 10 and window["error_rate"] == 0.0
    for bad in ("nan", "inf", "-1", "0", "1e12"):
        result = CliRunner().invoke(load, ["status", "--ledger", str(ledger), "--window", bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "Invalid value for '--window'" in result.output and "{" not in result.output


def test_lab_mode_workers_and_masters_stay_on_loopback(tmp_path: Path) -> None:
    """The same class as defect 7: in lab mode neither end of master/worker leaves
    loopback."""
    from gameday.load.errors import NonLoopbackTarget

    for role in ("master", "worker"):
        run = LoadRun(
            LoadSettings(
                target="127.0.0.1",
                port=8080,
                role=role,  # type: ignore[arg-type]
                master_host="0.0.0.0",
                lab=True,
                ledger=tmp_path / role / "ledger.jsonl",
            )
        )
        with pytest.raises(NonLoopbackTarget, match="outside loopback"):
            run.start()
        assert run.process is None and not (tmp_path / role).exists()
