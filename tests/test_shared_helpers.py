"""The one duration parser, loopback check, liveness check and lab account id of gameday."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gameday import aws, faults
from gameday.durations import DurationError, iso8601_seconds, span_seconds
from gameday.netutil import ip_literal, is_loopback, is_loopback_host
from gameday.procutil import pid_alive, process_state

PACKAGE = Path(__file__).resolve().parents[1] / "gameday"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT5S", 5), ("PT1.5S", 1.5), ("PT2M", 120), ("PT1H30M", 5400), ("PT1H0M5S", 3605)],
)
def test_iso8601_durations(text: str, seconds: float) -> None:
    assert iso8601_seconds(text) == seconds


@pytest.mark.parametrize(
    "text", ["5s", "PT", "P1D", "PTS", "", "PT-1S", "PT5M1H", " PT5S", "pt5s", None, 300]
)
def test_iso8601_rejects_what_fis_would(text: object) -> None:
    with pytest.raises(DurationError, match="ISO 8601"):
        iso8601_seconds(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1.5m", 90), ("PT2M", 120)],
)
def test_spans_take_both_spellings(text: str, seconds: float) -> None:
    assert span_seconds(text) == seconds


@pytest.mark.parametrize("text", ["soon", "", "m", "h", "-5", "PT", "2 m"])
def test_spans_reject_garbage(text: str) -> None:
    with pytest.raises(DurationError):
        span_seconds(text)


def test_loopback_is_127_slash_8_and_ipv6_loopback() -> None:
    for address in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "::ffff:127.0.0.1"):
        assert is_loopback(address), address
    for address in ("10.0.0.1", "0.0.0.0", "::", "128.0.0.1", "localhost", "", "not-an-ip"):
        assert not is_loopback(address), address
    assert is_loopback_host("localhost") and is_loopback_host("127.0.2.1")
    assert not is_loopback_host("example.com") and not is_loopback_host("")
    assert ip_literal("[::1]") == "::1" and ip_literal("host") is None


def test_pid_alive_tells_live_from_exited_and_zombie() -> None:
    assert pid_alive(os.getpid()) and process_state(os.getpid()) in {"R", "S"}
    assert not pid_alive(None) and not pid_alive(0) and not pid_alive(-1)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # wait until it exits without reaping it: waitid with WNOWAIT leaves the zombie
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    try:
        assert process_state(child.pid) == "Z"
        assert not pid_alive(child.pid)
    finally:
        child.wait()
    assert not pid_alive(child.pid)


def test_the_lab_account_is_motos_default_and_the_allowlist_admits_it() -> None:
    from moto.core import DEFAULT_ACCOUNT_ID

    assert aws.LAB_ACCOUNT_ID == DEFAULT_ACCOUNT_ID
    assert faults.LAB_ACCOUNT_ID is aws.LAB_ACCOUNT_ID


def _definitions() -> dict[str, list[str]]:
    """Where each shared helper's job is done: module-level regexes, functions, constants."""
    found: dict[str, list[str]] = {"duration": [], "loopback": [], "liveness": [], "account": []}
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        name = str(path.relative_to(PACKAGE))
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "is_loopback":
                found["loopback"].append(name)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "kill":
                args = node.args
                if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value == 0:
                    found["liveness"].append(name)
            if isinstance(node, ast.Constant) and node.value == "123456789012":
                found["account"].append(name)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "compile":
                pattern = node.args[0].value if node.args else ""
                if isinstance(pattern, str) and ("H)" in pattern or "h)" in pattern):
                    found["duration"].append(name)
    return found


def test_each_helper_is_defined_once_in_the_package() -> None:
    found = _definitions()
    assert found["duration"] == ["durations.py", "durations.py"], found["duration"]
    assert set(found["loopback"]) == {"netutil.py"}, found["loopback"]
    assert found["liveness"] == ["procutil.py"], found["liveness"]
    assert found["account"] == ["aws.py"], found["account"]
