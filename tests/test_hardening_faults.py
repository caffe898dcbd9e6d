"""Issue 12, `gameday recover` and the fault ledger: every defect reproduced as reported.

Real boto3 against a real moto server on loopback (a separate process can reach it, as a
fresh shell would), and the real `gameday` command in subprocesses.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from gameday import aws, faults, registry
from gameday.actions import route53
from gameday.faults import Ledger, Undo
from gameday.lab.ports import free_port, listening
from tests.moto_helpers import create_http_health_check

GAMEDAY = [sys.executable, "-m", "gameday.cli"]
ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = faults.LAB_ACCOUNT_ID  # what moto answers


def fresh_shell(home: Path, **extra: str) -> dict[str, str]:
    """An environment like a new login shell's: no AWS or gameday variables at all."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    return {**keep, "HOME": str(home), "PYTHONPATH": str(ROOT), **extra}


def gameday(*args: str, env: dict[str, str], cwd: Path | None = None):
    return subprocess.run(
        [*GAMEDAY, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


@pytest.fixture
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port; stopped (and its port closed) afterwards."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        assert not listening("127.0.0.1", port)


@pytest.fixture
def drill_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_server: str) -> Iterator[str]:
    """This process as the shell a drill ran in: endpoint, allowlist, per-user ledger."""
    for name in ("AWS_PROFILE", "GAMEDAY_LAB", "GAMEDAY_FAULT_LEDGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", ACCOUNT)
    aws.clear_sessions()
    faults.forget_identities()
    yield moto_server
    aws.clear_sessions()
    faults.forget_identities()


def route53_at(endpoint: str) -> Any:
    """A plain boto3 Route 53 client on ``endpoint`` (the test's own view of the truth)."""
    return boto3.client(
        "route53",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def inverted(endpoint: str, hc: str) -> bool:
    check = route53_at(endpoint).get_health_check(HealthCheckId=hc)["HealthCheck"]
    return check["HealthCheckConfig"]["Inverted"]


def new_health_check(endpoint: str) -> str:
    return create_http_health_check(route53_at(endpoint), reference=os.urandom(4).hex())


def record_inversion(
    hc: str, undo_func: str, configuration: dict[str, str] | None = None
) -> Ledger:
    """Write an open `invert_health_check` entry by hand whose undo is ``undo_func``."""
    book = Ledger(faults.ledger_path())
    book.begin(
        activity="invert_health_check",
        target=f"route53:health-check:{hc}",
        arguments={},
        undo=Undo("gameday.actions.route53", undo_func, {"health_check_id": hc}),
        configuration=configuration,
    )
    return book


def test_recover_on_a_missing_ledger_is_an_error_naming_the_path(tmp_path: Path) -> None:
    """Defect 3: it said "every recorded fault is reverted" and exited 0."""
    missing = tmp_path / "nowhere" / "faults.jsonl"
    result = gameday("recover", "--ledger", str(missing), env=fresh_shell(tmp_path))
    assert result.returncode == 1
    assert str(missing) in result.stderr and "no fault ledger" in result.stderr
    assert "reverted" not in result.stdout
    default = gameday("recover", env=fresh_shell(tmp_path, XDG_STATE_HOME=str(tmp_path / "s")))
    assert default.returncode == 1
    assert str(tmp_path / "s" / "gameday" / "faults.jsonl") in default.stderr


def test_the_default_ledger_is_per_user_not_per_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 3: the default was `.gameday/faults.jsonl` under whatever the cwd was."""
    monkeypatch.delenv("GAMEDAY_FAULT_LEDGER", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".local" / "state" / "gameday" / "faults.jsonl"
    for cwd in (tmp_path, ROOT):
        monkeypatch.chdir(cwd)
        assert faults.ledger_path() == expected
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")  # the XDG spec: absolute only
    assert faults.ledger_path() == expected
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert faults.ledger_path() == tmp_path / "xdg" / "gameday" / "faults.jsonl"
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", "rel/f.jsonl")  # the override still wins
    assert faults.ledger_path() == ROOT / "rel" / "f.jsonl"


def test_a_malformed_line_is_reported_and_every_other_fault_still_reverted(
    drill_shell: str, tmp_path: Path
) -> None:
    """Defect 4: `{"id":["x"],"activity":"a"}` made recover crash before reverting."""
    hc = new_health_check(drill_shell)
    route53.invert_health_check(hc)
    ledger = faults.ledger_path()
    with ledger.open("a") as handle:
        handle.write('{"id":["x"],"activity":"a"}\n')
        handle.write('"just a string"\n')
        handle.write('{"id":"y","activity":"a","undo":{"module":5}}\n')
    assert inverted(drill_shell, hc)
    result = gameday("recover", "--json", "--include-live", env={**os.environ})
    assert result.returncode == 1, result.stderr  # unreadable lines: not a clean bill
    report = json.loads(result.stdout)["entries"]
    assert [(i["outcome"], i["activity"]) for i in report] == [
        ("reverted", "invert_health_check"),
        ("unreadable", None),
        ("unreadable", None),
        ("unreadable", None),
    ]
    assert [i["line"] for i in report[1:]] == [3, 4, 5]
    assert "id is not a non-empty string" in report[1]["error"]
    assert not inverted(drill_shell, hc)
    text = gameday("recover", env={**os.environ})
    assert f"{ledger}:3" in text.stdout and "Nothing to recover" in text.stdout


def test_only_the_rollback_registered_for_the_action_may_run(
    drill_shell: str, tmp_path: Path
) -> None:
    """Defect 5: an undo naming the injecting action itself was executed and failed over."""
    hc = new_health_check(drill_shell)
    book = record_inversion(hc, "invert_health_check")
    book.begin(
        activity="block_endpoint",
        target="ec2:x",
        arguments={},
        undo=Undo("gameday.actions.route53", "restore_health_check", {"health_check_id": hc}),
    )
    result = gameday("recover", "--json", "--include-live", env={**os.environ})
    assert result.returncode == 1
    report = json.loads(result.stdout)["entries"]
    assert [i["outcome"] for i in report] == ["error", "error"]
    assert "its rollback is gameday.actions.ec2.unblock_endpoint" in report[0]["error"]
    assert "its rollback is gameday.actions.route53.restore_health_check" in report[1]["error"]
    assert not inverted(drill_shell, hc)  # nothing was injected by "recovery"
    assert len(book.open_entries()) == 2


def test_every_declared_fault_has_a_declared_rollback_it_exports() -> None:
    """Each fault's rollback is a declared rollback (or fault, for a switchover undone by
    another) of an exported activity; :func:`activity.inject` refuses any undeclared name,
    so an action cannot record what recovery would not know how to undo."""
    import importlib

    faults_declared = [s for s in registry.specs() if s.is_fault]
    assert faults_declared
    for spec in faults_declared:
        module, _, func = (spec.rollback or "").rpartition(".")
        assert func in importlib.import_module(module).__all__, spec.name
        undo = registry.lookup(module, func)
        assert undo is not None and undo.kind in (registry.Kind.ROLLBACK, registry.Kind.FAULT)


def test_inject_refuses_an_activity_not_declared_as_a_fault(tmp_path: Path) -> None:
    from chaoslib.exceptions import ActivityFailed

    from gameday.activity import inject

    configuration = {"gameday_fault_ledger": str(tmp_path / "faults.jsonl")}
    with pytest.raises(ActivityFailed, match=r"not declared with @gameday\.registry\.fault"):
        inject(
            activity="invented_fault",
            target="t",
            arguments={},
            undo=Undo("gameday.actions.route53", "restore_health_check"),
            configuration=configuration,
            apply=lambda _id: pytest.fail("must not be called"),
            failure="Could not invent",
        )
    assert not (tmp_path / "faults.jsonl").exists()


def test_recover_works_from_a_fresh_shell_with_what_the_ledger_recorded(
    drill_shell: str, tmp_path: Path
) -> None:
    """Defect 5: from a new shell (no endpoint, no allowlist, no credentials) recover failed
    with "No AWS account is allowlisted"; the ledger now carries endpoint, region, account."""
    hc = new_health_check(drill_shell)
    route53.invert_health_check(hc)
    first = Ledger(faults.ledger_path()).entries()[0]
    assert first.configuration["aws_endpoint_url"] == drill_shell
    assert first.configuration["gameday_account"] == ACCOUNT
    assert first.configuration["aws_region"] == "us-east-1"
    raw = faults.ledger_path().read_text()
    assert "testing" not in raw  # no credential was written down

    shell = fresh_shell(tmp_path / "home", XDG_STATE_HOME=os.environ["XDG_STATE_HOME"])
    result = gameday("recover", "--include-live", env=shell, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reverted" in result.stdout
    assert not inverted(drill_shell, hc)


def test_recover_is_held_to_the_account_the_fault_was_injected_into(
    drill_shell: str, tmp_path: Path
) -> None:
    """The recorded account is not a blank cheque: another account is still refused."""
    hc = new_health_check(drill_shell)
    record_inversion(hc, "restore_health_check", {"aws_endpoint_url": drill_shell})
    # forge the account the entry says it was injected into
    text = (
        faults.ledger_path()
        .read_text()
        .replace('"aws_endpoint_url"', '"gameday_account": "111111111111", "aws_endpoint_url"', 1)
    )
    faults.ledger_path().write_text(text)
    shell = fresh_shell(tmp_path / "home", XDG_STATE_HOME=os.environ["XDG_STATE_HOME"])
    result = gameday("recover", "--json", "--include-live", env=shell)
    assert result.returncode == 1
    [item] = json.loads(result.stdout)["entries"]
    assert item["outcome"] == "error" and "not allowlisted" in item["error"]


def test_recover_exits_non_zero_when_it_skipped_a_fault_still_applied(
    drill_shell: str, tmp_path: Path
) -> None:
    """Defect 9: faults of a live drill were skipped and recover still exited 0."""
    hc = new_health_check(drill_shell)
    route53.invert_health_check(hc)  # written by this (live) test process
    result = gameday("recover", env={**os.environ})
    assert result.returncode == 1
    assert "skipped" in result.stdout and "not reverted" in result.stderr
    assert inverted(drill_shell, hc)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable even for root (the immutable attribute), then restore it."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_a_read_only_ledger_reports_reverts_that_happened_as_reverted(
    drill_shell: str, tmp_path: Path
) -> None:
    """Defect 9: a revert that happened was reported as an "error" because the ledger could
    not be written; it is reverted (with a warning), and the next recover retries."""
    hc = new_health_check(drill_shell)
    route53.invert_health_check(hc)
    ledger = faults.ledger_path()
    before = ledger.read_bytes()
    with read_only(ledger):
        result = gameday("recover", "--json", "--include-live", env={**os.environ})
    assert result.returncode == 0, result.stderr
    [item] = json.loads(result.stdout)["entries"]
    assert item["outcome"] == "reverted" and "could not record it" in item["warning"]
    assert not inverted(drill_shell, hc)
    assert ledger.read_bytes() == before
    again = gameday("recover", "--json", "--include-live", env={**os.environ})
    assert [i["outcome"] for i in json.loads(again.stdout)["entries"]] == ["reverted"]


def test_rollback_for_checks_the_undo_against_the_action() -> None:
    """`rollback_for` refuses an undo that is not the rollback the action declared."""
    from gameday.faults import Entry
    from gameday.recovery import rollback_for

    wrong = Entry(
        "e", "", "block_endpoint", "t", {}, Undo("gameday.actions.rds", "switchover_database"), {}
    )
    with pytest.raises(
        ValueError, match=r"its rollback is gameday\.actions\.ec2\.unblock_endpoint"
    ):
        rollback_for(wrong)
    unknown = Entry("e", "", "rm_rf", "t", {}, Undo("os", "system", {"command": "true"}), {})
    with pytest.raises(ValueError, match="no registered rollback"):
        rollback_for(unknown)
