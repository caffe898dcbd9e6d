"""Issue 12, the lab: injection through `lab env`, lost and doubled labs, lost state.

Every test runs the real `gameday lab` command and checks, at the end, that no process of
its lab is left and none of its ports still listens.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday import faults
from gameday.lab import Lab
from gameday.lab.lock import lab_processes
from gameday.lab.ports import listening
from gameday.procutil import pid_alive
from tests.lab.helpers import wait_until

GAMEDAY = [sys.executable, "-m", "gameday.cli"]


# a bound, not an expectation: a lab start may take GAMEDAY_LAB_START_TIMEOUT (180 s here)
def gameday(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GAMEDAY, *args], capture_output=True, text=True, timeout=timeout)


def lab_ports(state: dict) -> list[tuple[str, int]]:
    """Every TCP port a lab's state names (endpoint, DNS, service, controls)."""
    ports = [
        ("127.0.0.1", int(state["endpoint_url"].rsplit(":", 1)[1])),
        ("127.0.0.1", state["dns_port"]),
        ("127.0.0.1", state["supervisor_port"]),
    ]
    for region in state["regions"]:
        ports += [(region["address"], state["service_port"]), ("127.0.0.1", region["control_port"])]
    return ports


def assert_nothing_left(lab_dir: Path, pids: list[int], ports: list[tuple[str, int]]) -> None:
    assert lab_processes(lab_dir.resolve()) == []
    assert not [pid for pid in pids if pid_alive(pid)]
    assert not [f"{h}:{p}" for h, p in ports if listening(h, p)]


@pytest.fixture
def lab_dir(tmp_path: Path) -> Iterator[Path]:
    """A lab directory whose name a shell would mangle; its lab is always stopped."""
    path = tmp_path / "my lab $(touch PWNED) 'q' `touch PWNED2`"
    try:
        yield path
    finally:
        Lab(path).stop()


def test_names_that_are_not_dns_names_are_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    """Defect 1: `--zone 'x.internal;touch${IFS}/tmp/PWNED;#'` started a lab."""
    lab_dir = tmp_path / "lab"
    for option, value in (
        ("--zone", "x.internal;touch${IFS}/tmp/PWNED;#"),
        ("--zone", "has space.internal"),
        ("--zone", "-bad.internal"),
        ("--zone", "a" * 64 + ".internal"),
    ):
        result = gameday("lab", "up", "--detach", "--dir", str(lab_dir), option, value)
        assert result.returncode == 2, result
        assert result.stderr.startswith("gameday lab: zone must be a DNS name")
        assert len(result.stderr.strip().splitlines()) == 1
    config = tmp_path / "lab.toml"
    config.write_text('record = "api;id"\n')
    result = gameday("lab", "up", "--detach", "--dir", str(lab_dir), "--config", str(config))
    assert result.returncode == 2 and "record must be a DNS name" in result.stderr
    assert not lab_dir.exists()  # nothing was started, nothing created
    assert lab_processes(lab_dir.resolve()) == []


@pytest.mark.lab
def test_env_is_quoted_a_second_up_says_what_runs_and_down_survives_a_lost_state(
    lab_dir: Path, tmp_path: Path
) -> None:
    """Defects 1, 2 and 9 on one lab (each start costs seconds): `eval "$(gameday lab
    env)"` in a directory whose name holds shell syntax sets exactly the values and runs
    nothing; a second `lab up` with other options says they were not applied; `status
    --events -3` is refused; an emptied state.json does not hide the lab from `lab down`."""
    up = gameday("lab", "up", "--detach", "--dir", str(lab_dir))
    assert up.returncode == 0, up.stderr
    state = json.loads((lab_dir / "state.json").read_text())
    pids = [state["supervisor_pid"], *(r["pid"] for r in state["regions"])]
    ports = lab_ports(state)

    script = (
        f'eval "$({" ".join(GAMEDAY)} lab env --dir "$1")" && '
        'printf "%s\\n%s\\n%s" "$GAMEDAY_LAB_DIR" "$AWS_ENDPOINT_URL" "$GAMEDAY_FAULT_LEDGER"'
    )
    shell = subprocess.run(
        ["bash", "-c", script, "bash", str(lab_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split("\n") == [
        str(lab_dir.resolve()),
        state["endpoint_url"],
        str(faults.ledger_path()),  # the same ledger as every other shell of this user
    ]
    assert not list(tmp_path.glob("PWNED*"))  # nothing in the name was executed

    same = gameday("lab", "up", "--detach", "--dir", str(lab_dir))
    assert same.returncode == 0 and "already running" in same.stdout
    other = gameday("lab", "up", "--detach", "--dir", str(lab_dir), "--ttl", "20")
    assert other.returncode == 2
    assert "already running" in other.stdout and f"supervisor pid {pids[0]}" in other.stdout
    assert "ttl: running with 10, asked for 20" in other.stderr and "NOT applied" in other.stderr

    negative = gameday("lab", "status", "--events", "-3", "--dir", str(lab_dir))
    assert negative.returncode == 2 and "--events" in negative.stderr

    (lab_dir / "state.json").write_text("")  # the lab's own record is lost
    assert all(pid_alive(pid) for pid in pids)
    again = gameday("lab", "up", "--detach", "--dir", str(lab_dir))
    assert again.returncode != 0 and "already" in again.stdout + again.stderr
    assert len([p for p in lab_processes(lab_dir.resolve()) if p.kind == "supervisor"]) == 1
    down = gameday("lab", "down", "--dir", str(lab_dir))
    assert down.returncode == 0, down.stderr
    assert "stopped 3 process(es)" in down.stdout
    assert_nothing_left(lab_dir, pids, ports)


@pytest.mark.lab
def test_a_lab_whose_directory_is_deleted_stops_itself(tmp_path: Path) -> None:
    """Defect 2: deleting the directory left 3 processes and 8 ports running, unfindable;
    and the orphan later overwrote a newer lab's state.json."""
    lab_dir = tmp_path / "doomed"
    up = gameday("lab", "up", "--detach", "--dir", str(lab_dir))
    assert up.returncode == 0, up.stderr
    state = json.loads((lab_dir / "state.json").read_text())
    pids = [state["supervisor_pid"], *(r["pid"] for r in state["regions"])]
    ports = lab_ports(state)
    try:
        shutil.rmtree(lab_dir)
        wait_until(lambda: not any(pid_alive(p) for p in pids), 20)
        wait_until(lambda: not any(listening(h, p) for h, p in ports), 10)
        assert not lab_dir.exists()  # the dying supervisor did not recreate it
        down = gameday("lab", "down", "--dir", str(lab_dir))
        assert down.returncode == 0 and "no lab to stop" in down.stdout
    finally:
        Lab(lab_dir).stop()
    assert_nothing_left(lab_dir, pids, ports)


@pytest.mark.lab
def test_two_concurrent_ups_in_one_directory_start_one_lab(tmp_path: Path) -> None:
    """Defect 2: two concurrent `lab up --detach` started two supervisors and four
    regions, told both callers the same endpoint, and `lab down` stopped only one."""
    lab_dir = tmp_path / "shared"
    try:
        procs = [
            subprocess.Popen(
                [*GAMEDAY, "lab", "up", "--detach", "--dir", str(lab_dir)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [proc.communicate(timeout=120) for proc in procs]
        codes = sorted(proc.returncode for proc in procs)
        assert codes == [0, 0], outputs
        said = sorted("lab ready" in out for out, _ in outputs)
        assert said == [False, True], outputs  # one started it, one found it running
        assert any("already running" in out for out, _ in outputs)
        found = lab_processes(lab_dir.resolve())
        assert sorted(p.kind for p in found) == ["region", "region", "supervisor"]
        state = json.loads((lab_dir / "state.json").read_text())
        pids = [p.pid for p in found]
        ports = lab_ports(state)
        down = gameday("lab", "down", "--dir", str(lab_dir))
        assert down.returncode == 0 and "lab stopped" in down.stdout
    finally:
        Lab(lab_dir).stop()
    assert_nothing_left(lab_dir, pids, ports)


@pytest.mark.parametrize(
    "content",
    [b"[]", b"null", b'{"status": "ready", "supervisor_pid": "x"}', b'{"regions": 5}', b"\xff"],
)
def test_a_damaged_state_file_gets_a_message_not_a_traceback(
    tmp_path: Path, content: bytes
) -> None:
    """The same class as defect 2: commands read state.json; a damaged one must not crash
    them (nor make `lab down` give up)."""
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    (lab_dir / "state.json").write_bytes(content)
    for args in (
        ["status"],
        ["status", "--json"],
        ["env"],
        ["kill-region", "us-east-1"],
        ["restart-region", "us-east-1"],
        ["down"],
    ):
        result = gameday("lab", *args, "--dir", str(lab_dir))
        assert "Traceback" not in result.stderr, (args, result.stderr)
        assert result.returncode in (0, 1, 2), (args, result)
    down = gameday("lab", "down", "--dir", str(lab_dir))
    assert down.returncode == 0
    assert (lab_dir / "state.json").read_bytes() == content  # nothing of ours to rewrite


@pytest.mark.lab
def test_an_orphan_never_overwrites_the_newer_lab_of_its_directory(tmp_path: Path) -> None:
    """Defect 2: a lab whose directory was deleted, stopping while a new lab started in the
    same directory, wrote its final state.json over the new lab's."""
    lab_dir = tmp_path / "reused"
    first = gameday("lab", "up", "--detach", "--dir", str(lab_dir))
    assert first.returncode == 0, first.stderr
    old = json.loads((lab_dir / "state.json").read_text())
    old_pids = [old["supervisor_pid"], *(r["pid"] for r in old["regions"])]
    try:
        shutil.rmtree(lab_dir)
        second = gameday("lab", "up", "--detach", "--dir", str(lab_dir))  # at once, same dir
        assert second.returncode == 0, second.stderr + second.stdout
        wait_until(lambda: not any(pid_alive(p) for p in old_pids), 20)
        new = json.loads((lab_dir / "state.json").read_text())
        assert new["supervisor_pid"] != old["supervisor_pid"]
        assert new["status"] == "ready" and pid_alive(new["supervisor_pid"])
        new_pids = [new["supervisor_pid"], *(r["pid"] for r in new["regions"])]
        assert gameday("lab", "down", "--dir", str(lab_dir)).returncode == 0
    finally:
        Lab(lab_dir).stop()
    assert_nothing_left(lab_dir, old_pids + new_pids, lab_ports(old) + lab_ports(new))
