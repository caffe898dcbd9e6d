"""Dropped SYNs for real: the lab's nftables table, scoped to an address *and* a port, and
gone after ``lab down`` even when the supervisor crashed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gameday.lab import Lab
from gameday.lab.network import synfilter
from gameday.lab.network.netacl import Rule
from gameday.procutil import pid_alive
from tests.lab.helpers import wait_until

pytestmark = pytest.mark.skipif(
    synfilter.mode()[0] != synfilter.NFTABLES, reason="needs root and nft (nftables)"
)
ADDRESS = "127.0.5.1"
ALLOW_ALL = (
    Rule(100, "-1", "allow", False, "0.0.0.0/0"),
    Rule(100, "-1", "allow", True, "0.0.0.0/0"),
)


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two listening ports on the same loopback address."""
    first = socket.create_server((ADDRESS, 0))
    second = socket.create_server((ADDRESS, 0))
    try:
        yield first.getsockname()[1], second.getsockname()[1]
    finally:
        first.close()
        second.close()


def _connects(port: int, source: str = "127.0.0.1", timeout: float = 0.3) -> bool | None:
    """True if connected, None if the connect timed out (a dropped SYN), False if refused."""
    try:
        socket.create_connection(
            (ADDRESS, port), timeout=timeout, source_address=(source, 0)
        ).close()
    except TimeoutError:
        return None
    except OSError:
        return False
    return True


def _tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def test_a_deny_drops_syns_to_one_port_and_leaves_the_other(
    tmp_path: Path, listeners: tuple[int, int]
) -> None:
    blocked, neighbour = listeners
    packets = synfilter.PacketFilter(tmp_path)
    deny = (Rule(10, "-1", "deny", False, "0.0.0.0/0"), *ALLOW_ALL)
    try:
        packets.apply([synfilter.Target(ADDRESS, blocked, deny, blackholed=False)])
        assert packets.table in _tables()
        assert _connects(blocked) is None  # dropped, not refused
        assert _connects(neighbour) is True  # another lab on the same address
        packets.apply([synfilter.Target(ADDRESS, blocked, ALLOW_ALL, blackholed=False)])
        assert _connects(blocked) is True
        packets.apply([synfilter.Target(ADDRESS, blocked, ALLOW_ALL, blackholed=True)])
        assert _connects(blocked) is None
    finally:
        assert packets.remove() is True
    assert packets.table not in _tables()
    assert _connects(blocked) is True


def test_a_deny_of_one_source_range_is_evaluated_per_source(
    tmp_path: Path, listeners: tuple[int, int]
) -> None:
    port, _ = listeners
    checkers_denied = (Rule(10, "-1", "deny", False, "127.0.3.0/24"), *ALLOW_ALL)
    packets = synfilter.PacketFilter(tmp_path)
    try:
        packets.apply([synfilter.Target(ADDRESS, port, checkers_denied, blackholed=False)])
        assert _connects(port, source="127.0.3.4") is None
        assert _connects(port, source="127.0.0.1") is True
    finally:
        packets.remove()


def test_lab_down_removes_the_table_of_a_crashed_lab(lab_factory: Callable[..., Lab]) -> None:
    lab = lab_factory()
    table = synfilter.table_name(lab.dir)
    assert lab.state()["network_mode"] == synfilter.NFTABLES
    wait_until(lambda: table in _tables(), timeout=3)
    pid = lab.state()["supervisor_pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), timeout=5)
    assert table in _tables()  # the crash left it behind
    forced = lab.stop()
    assert f"nftables table {table}" in forced
    assert table not in _tables()
    assert synfilter.remove_table(lab.dir) is False  # nothing left to remove
