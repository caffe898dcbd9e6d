"""`gameday lab up/down/status/env` as a user runs them, including bad input."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.lab import Lab, LabConfig, LabConfigError, RegionSpec
from gameday.lab.lock import lab_processes
from gameday.lab.ports import listening
from gameday.lab.state import read_state
from gameday.procutil import pid_alive

GAMEDAY = [sys.executable, "-m", "gameday.cli"]
#: Bounds on a lab command on a loaded machine: a start may take GAMEDAY_LAB_START_TIMEOUT
#: (180 s in the suite), a stop its workers' joins. Bounds, not expectations.
START_BOUND, STOP_BOUND = 200.0, 120.0


def gameday(*args: str, timeout: float = START_BOUND + 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GAMEDAY, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def lab_dir(tmp_path: Path) -> Iterator[str]:
    """A lab directory whose lab, if any, is stopped after the test whatever happened;
    then no process of it is left and none of the ports it ever named still listens."""
    path = str(tmp_path / "lab")
    seen: list[dict] = []

    def remember() -> None:
        state = read_state(Path(path, "state.json"))
        if state and state not in seen:
            seen.append(state)

    try:
        yield path
    finally:
        remember()
        Lab(path).stop()
    assert lab_processes(Path(path).resolve()) == []
    for state in seen:
        pids = [state.get("supervisor_pid"), *(r.get("pid") for r in state.get("regions", []))]
        assert not [pid for pid in pids if pid_alive(pid)]
        ports = [("127.0.0.1", state.get("dns_port")), ("127.0.0.1", state.get("supervisor_port"))]
        ports += [(r["address"], state.get("service_port")) for r in state.get("regions", [])]
        assert not [f"{h}:{p}" for h, p in ports if p and listening(h, p)]


@pytest.mark.lab
def test_up_status_env_down_from_the_command_line(lab_dir: str) -> None:
    up = gameday("lab", "up", "--detach", "--dir", lab_dir)
    assert up.returncode == 0, up.stderr
    assert "lab ready" in up.stdout

    again = gameday("lab", "up", "--detach", "--dir", lab_dir)
    assert again.returncode == 0 and "already running" in again.stdout
    state = json.loads(Path(lab_dir, "state.json").read_text())
    assert pid_alive(state["supervisor_pid"])

    status = json.loads(gameday("lab", "status", "--json", "--dir", lab_dir).stdout)
    assert status["running"] and status["record_name"] == "api.lab.internal"
    assert status["endpoint_url"].startswith("http://127.0.0.1:")
    assert status["dns"]["host"] == "127.0.0.1" and status["zone_id"]
    assert [(r["name"], r["address"], r["role"], r["alive"]) for r in status["regions"]] == [
        ("us-east-1", "127.0.1.1", "writer", True),
        ("us-west-2", "127.0.2.1", "reader", True),
    ]
    assert all(r["health_check_id"] for r in status["regions"])

    env = gameday("lab", "env", "--dir", lab_dir).stdout.splitlines()
    exported = dict(line.removeprefix("export ").split("=", 1) for line in env)
    assert exported["AWS_ENDPOINT_URL"] == status["endpoint_url"]
    assert exported["GAMEDAY_NAMESERVER"] == f"127.0.0.1:{status['dns']['port']}"
    assert {"AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= exported.keys()

    down = gameday("lab", "down", "--dir", lab_dir)
    assert down.returncode == 0 and "lab stopped" in down.stdout
    assert not pid_alive(state["supervisor_pid"])
    assert not any(pid_alive(r["pid"]) for r in state["regions"])
    assert not listening("127.0.0.1", int(status["endpoint_url"].rsplit(":", 1)[1]))
    assert gameday("lab", "status", "--dir", lab_dir).returncode == 1


@pytest.mark.lab
def test_down_cleans_up_after_a_killed_region_and_a_killed_supervisor(lab_dir: str) -> None:
    lab = Lab.start(LabConfig(lab_dir=lab_dir))
    info = lab.info
    assert info.primary.pid is not None
    os.kill(info.primary.pid, signal.SIGKILL)
    lab.wait_for_event(
        lambda e: e["kind"] == "region-exited" and e["region"] == "us-east-1", timeout=5
    )
    os.kill(info.supervisor_pid, signal.SIGKILL)
    down = gameday("lab", "down", "--dir", lab_dir)
    assert down.returncode == 0, down.stderr
    pids = [info.supervisor_pid, *(r.pid for r in info.regions)]
    assert not any(pid_alive(p) for p in pids)
    for region in info.regions:
        assert not listening(region.address, info.service_port)
        assert not listening("127.0.0.1", region.control_port)
    assert not listening(info.dns_host, info.dns_port)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--primary", "us-mars-1"], "unknown AWS region 'us-mars-1'"),
        (["--ttl", "0"], "ttl must be a whole number of seconds from 1 to 86400"),
        (["--speed", "-1"], "speed must be a finite number > 0"),
        (["--threshold", "11"], "failure_threshold must be a whole number from 1 to 10"),
    ],
)
def test_bad_settings_are_refused_with_nothing_started(
    lab_dir: str, args: list[str], message: str
) -> None:
    result = gameday("lab", "up", "--detach", "--dir", lab_dir, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not Path(lab_dir, "state.json").exists()


def test_a_bad_config_file_is_refused(tmp_path: Path, lab_dir: str) -> None:
    config = tmp_path / "lab.toml"
    config.write_text('ttl = "soon"\n')
    result = gameday("lab", "up", "--detach", "--dir", lab_dir, "--config", str(config))
    assert result.returncode != 0 and "ttl must be a whole number of seconds" in result.stderr
    config.write_text("colour = 'blue'\n")
    result = gameday("lab", "up", "--detach", "--dir", lab_dir, "--config", str(config))
    assert result.returncode != 0 and "unknown lab setting(s) colour" in result.stderr


@pytest.mark.lab
def test_a_port_in_use_is_refused_and_nothing_is_left_running(lab_dir: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = gameday("lab", "up", "--detach", "--dir", lab_dir, "--endpoint-port", str(port))
    assert result.returncode != 0
    assert f"port {port} is already in use" in result.stderr
    state = json.loads(Path(lab_dir, "state.json").read_text())
    assert state["status"] == "failed" and not pid_alive(state["supervisor_pid"])


def test_config_validation_in_python() -> None:
    with pytest.raises(LabConfigError, match="not on loopback"):
        LabConfig(
            regions=(RegionSpec("us-east-1", "10.0.0.1"), RegionSpec("us-west-2", "127.0.2.1"))
        ).validate()
    with pytest.raises(LabConfigError, match="must differ"):
        LabConfig(
            regions=(RegionSpec("us-east-1", "127.0.1.1"), RegionSpec("us-east-1", "127.0.2.1"))
        ).validate()
    with pytest.raises(LabConfigError, match="replication_lag"):
        LabConfig(replication_lag=-1).validate()
    assert LabConfig(
        regions=(RegionSpec("eu-west-1", "127.0.3.1"), RegionSpec("eu-central-1", "127.0.4.1"))
    ).validate()


@pytest.mark.lab
def test_a_configurable_region_pair(lab_factory) -> None:  # type: ignore[no-untyped-def]
    lab = lab_factory(
        regions=(RegionSpec("eu-west-1", "127.0.3.1"), RegionSpec("eu-central-1", "127.0.4.1")),
        ttl=50,
    )
    from tests.lab.helpers import resolve

    assert resolve(lab) == (["127.0.3.1"], 5)  # 50 s in Route 53, served at speed 10
    assert [r.name for r in lab.info.regions] == ["eu-west-1", "eu-central-1"]


@pytest.mark.lab
def test_region_process_faults_from_the_command_line(lab_dir: str) -> None:
    lab = Lab.start(LabConfig(lab_dir=lab_dir))
    info = lab.info
    since = time.time()
    assert gameday("lab", "stop-region", "us-east-1", "--dir", lab_dir).returncode == 0
    lab.wait_for_event(
        lambda e: e["kind"] == "fault" and e["fault"] == "region-hung" and e["state"] == "applied",
        3,
        since=since,
    )
    status = json.loads(gameday("lab", "status", "--json", "--dir", lab_dir).stdout)
    assert status["regions"][0]["stopped"] is True
    assert [(f["fault"], f["region"]) for f in status["active_faults"]] == [
        ("region-hung", "us-east-1")
    ]
    assert "region-hung" in gameday("lab", "status", "--dir", lab_dir).stdout
    assert gameday("lab", "resume-region", "us-east-1", "--dir", lab_dir).returncode == 0
    lab.wait_for_event(
        lambda e: e["kind"] == "fault" and e["fault"] == "region-hung" and e["state"] == "reverted",
        3,
        since=since,
    )
    assert gameday("lab", "kill-region", "us-west-2", "--dir", lab_dir).returncode == 0
    lab.wait_for_event(
        lambda e: e["kind"] == "region-exited" and e["region"] == "us-west-2", 3, since=since
    )
    lab.wait_for_event(
        lambda e: (
            e["kind"] == "fault" and e["fault"] == "region-down" and e["region"] == "us-west-2"
        ),
        3,
        since=since,
    )
    status = json.loads(gameday("lab", "status", "--json", "--dir", lab_dir).stdout)
    assert status["regions"][1]["alive"] is False
    bad = gameday("lab", "kill-region", "eu-north-9", "--dir", lab_dir)
    assert bad.returncode != 0 and "no region 'eu-north-9'" in bad.stderr
    again = gameday("lab", "kill-region", "us-west-2", "--dir", lab_dir)
    assert again.returncode != 0 and "restart-region us-west-2" in again.stderr
    # the killed region comes back with its durable store, as a reader
    back = gameday("lab", "restart-region", "us-west-2", "--dir", lab_dir)
    assert back.returncode == 0 and "reader" in back.stdout, back.stderr
    status = json.loads(gameday("lab", "status", "--json", "--dir", lab_dir).stdout)
    assert status["regions"][1]["alive"] is True
    lab.wait_for_event(
        lambda e: e["kind"] == "fault" and e["fault"] == "region-down" and e["state"] == "reverted",
        3,
        since=since,
    )
    running = gameday("lab", "restart-region", "us-west-2", "--dir", lab_dir)
    assert running.returncode != 0 and "is running" in running.stderr
    assert gameday("lab", "down", "--dir", lab_dir).returncode == 0
    assert not any(pid_alive(p) for p in (info.supervisor_pid, info.primary.pid))


@pytest.mark.lab
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_foreground_up_stops_the_lab_on_ctrl_c_and_sigterm(
    lab_dir: str, sig: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [*GAMEDAY, "lab", "up", "--dir", lab_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Ready is when the command says so (it follows events from then on).
        assert proc.stdout is not None
        fd, seen = proc.stdout.fileno(), b""
        deadline = time.monotonic() + START_BOUND
        while b"Following the lab's events" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen.decode()
            if select.select([fd], [], [], 0.5)[0]:
                seen += os.read(fd, 4096)
        state = Lab(lab_dir).state()
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=STOP_BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "lab stopped" in seen.decode() + out
    pids = [state["supervisor_pid"], *(r["pid"] for r in state["regions"])]
    assert not any(pid_alive(p) for p in pids)
    assert not listening("127.0.0.1", state["dns_port"])


@pytest.mark.lab
def test_ctrl_c_while_starting_leaves_nothing_running(lab_dir: str) -> None:
    proc = subprocess.Popen(
        [*GAMEDAY, "lab", "up", "--dir", lab_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state_path = Path(lab_dir, "state.json")
    try:
        deadline = time.monotonic() + START_BOUND
        while not (
            state_path.exists()
            and json.loads(state_path.read_text() or "{}").get("status") == "starting"
        ):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        supervisor = json.loads(state_path.read_text())["supervisor_pid"]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=STOP_BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "the lab was stopped" in err
    assert not pid_alive(supervisor)
    final = json.loads(state_path.read_text())
    assert not any(pid_alive(r.get("pid")) for r in final.get("regions", []))
