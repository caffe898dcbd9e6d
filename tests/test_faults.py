"""The fault ledger (write-ahead, concurrent appends), the account guard and recovery."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed
from click.testing import CliRunner

from gameday import aws, faults, recovery
from gameday.actions import ec2, route53
from gameday.faults import Ledger, Undo
from tests.moto_helpers import create_http_health_check


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    ledger = tmp_path / "l" / "faults.jsonl"
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "GAMEDAY_LAB", "GAMEDAY_ALLOWED_ACCOUNTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(ledger))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.clear_sessions()
    faults.forget_identities()
    yield ledger
    faults.forget_identities()


def _append_many(path: str, worker: int) -> None:
    book = Ledger(path)
    for i in range(40):
        entry = book.begin(
            activity="x",
            target=f"t:{worker}:{i}",
            arguments={"pad": "p" * 300},
            undo=Undo("gameday.actions.route53", "restore_health_check"),
        )
        book.mark(entry, faults.APPLIED)


def test_concurrent_appends_from_processes_never_interleave(env: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(env), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(20)
    lines = env.read_bytes().splitlines()
    assert len(lines) == 4 * 40 * 2
    assert all(json.loads(line) for line in lines)
    entries = Ledger(env).entries()
    assert len(entries) == 160 and {e.state for e in entries} == {"applied"}


def test_states_fold_and_torn_lines_are_ignored(env: Path) -> None:
    book = Ledger(env)
    a = book.begin(
        activity="a",
        target="t:a",
        arguments={},
        undo=Undo("m", "f"),
        configuration={"aws_region": "eu-west-1", "secret": "never copied"},
    )
    b = book.begin(activity="b", target="t:b", arguments={}, undo=Undo("m", "f"))
    book.mark(a, faults.APPLIED, undo=Undo("m", "g", {"k": 1}))
    book.mark(b, faults.FAILED, error="refused")
    book.mark(a, faults.REVERTED)
    book.mark(a, faults.APPLIED)  # a late writer cannot reopen a reverted entry
    with env.open("ab") as handle:
        handle.write(b'{"id": "torn", "activ')
    by_id = {e.id: e for e in book.entries()}
    assert by_id[a].state == "reverted" and by_id[a].undo.func == "g"
    assert by_id[a].configuration == {"aws_region": "eu-west-1"}
    assert by_id[b].state == "failed" and by_id[b].error == "refused"
    assert book.open_entries() == []


def test_allowlist_from_configuration_environment_and_lab_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto import mock_aws

    with mock_aws():
        with pytest.raises(faults.AccountNotAllowed, match="No AWS account is allowlisted"):
            faults.ensure_account_allowed()
        with pytest.raises(faults.AccountNotAllowed, match="123456789012 is not allowlisted"):
            faults.ensure_account_allowed(configuration={"gameday_allowed_accounts": "111,222"})
        cfg = {"gameday_allowed_accounts": ["123456789012"]}
        assert faults.ensure_account_allowed(configuration=cfg) == "123456789012"
        monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", "999, 123456789012")
        assert faults.ensure_account_allowed() == "123456789012"
        monkeypatch.delenv("GAMEDAY_ALLOWED_ACCOUNTS")
        monkeypatch.setenv("GAMEDAY_LAB", "1")
        assert faults.LAB_ACCOUNT_ID in faults.allowed_accounts()


def test_non_allowlisted_account_injects_nothing(env: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        r53 = boto3.client("route53")
        hc = create_http_health_check(r53)
        with pytest.raises(ActivityFailed, match="allowlisted"):
            route53.invert_health_check(hc, configuration={"gameday_allowed_accounts": "111"})
        config = r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]
        assert config["Inverted"] is False
        assert not env.exists() or Ledger(env).entries() == []


def test_recover_reverts_open_entries_newest_first_idempotently(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", "123456789012")
    with mock_aws():
        r53 = boto3.client("route53")
        hc = create_http_health_check(r53)
        e = boto3.client("ec2", region_name="eu-west-1")
        vpc = e.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnet = e.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
        route53.invert_health_check(hc)
        blocked = ec2.block_endpoint(region="eu-west-1", subnet_id=subnet)

        dry = CliRunner().invoke(_cli(), ["recover", "--dry-run", "--ledger", str(env)])
        assert dry.exit_code == 0, dry.output
        assert "Would revert 2" in dry.output and "unblock_endpoint" in dry.output
        assert r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"][
            "Inverted"
        ]

        report = recovery.recover(env)
        assert [r["activity"] for r in report] == ["block_endpoint", "invert_health_check"]
        assert {r["outcome"] for r in report} == {"reverted"}
        assert not r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"][
            "Inverted"
        ]
        acl = e.describe_network_acls(NetworkAclIds=[blocked["network_acl_id"]])["NetworkAcls"][0]
        assert blocked["rule_number"] not in {x["RuleNumber"] for x in acl["Entries"]}
        again = CliRunner().invoke(_cli(), ["recover", "--ledger", str(env)])
        assert again.exit_code == 0 and "Nothing to recover" in again.output


def test_recover_reports_a_failing_undo_and_keeps_it_open(env: Path) -> None:
    book = Ledger(env)
    book.begin(activity="evil", target="t", arguments={}, undo=Undo("os", "system", {"c": "x"}))
    result = CliRunner().invoke(_cli(), ["recover", "--ledger", str(env), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)["entries"]
    assert report[0]["outcome"] == "error" and "no registered rollback" in report[0]["error"]
    assert len(book.open_entries()) == 1


def _cli():
    from gameday.cli import main

    return main


def test_a_torn_line_left_by_a_dead_writer_never_swallows_the_next_record(env: Path) -> None:
    """A writer killed mid-line leaves no newline: the next append must not be glued to it
    (the glued line is not JSON, and the fault it records would be invisible to recover)."""
    book = Ledger(env)
    book.begin(activity="a", target="t:a", arguments={}, undo=Undo("m", "f"))
    with env.open("ab") as handle:
        handle.write(b'{"id": "torn", "activ')  # the dead writer's half line
    b = book.begin(activity="b", target="t:b", arguments={}, undo=Undo("m", "f"))
    book.mark(b, faults.APPLIED)
    with env.open("ab") as handle:
        handle.write(b"[1, 2]\n")  # valid JSON, not a record: skipped, not a crash
    assert [(e.activity, e.state) for e in book.entries()] == [
        ("a", "pending"),
        ("b", "applied"),
    ]


def test_an_unwritable_ledger_fails_the_action_before_any_aws_call(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", "123456789012")
    env.mkdir(parents=True)  # the ledger path is a directory: nothing can be written there
    with mock_aws():
        r53 = boto3.client("route53")
        hc = r53.create_health_check(
            CallerReference="r",
            HealthCheckConfig={"IPAddress": "192.0.2.1", "Port": 80, "Type": "HTTP"},
        )["HealthCheck"]["Id"]
        with pytest.raises(ActivityFailed, match="could not write the fault ledger") as info:
            route53.invert_health_check(hc)
        assert "GAMEDAY_FAULT_LEDGER" in str(info.value)
        config = r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]
        assert config["Inverted"] is False


def test_recover_skips_the_faults_of_a_drill_still_running(tmp_path: Path) -> None:
    """`gameday recover` next to a live drill must not pull its faults from under it."""
    import subprocess
    import sys
    import time

    from gameday.recovery import recover

    ledger = tmp_path / "faults.jsonl"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from gameday.faults import Ledger, Undo\n"
            "Ledger(sys.argv[1]).begin(activity='invert_health_check', target='route53:hc-1',\n"
            "    arguments={}, undo=Undo('gameday.actions.route53', 'restore_health_check',\n"
            "    {'health_check_id': 'hc-1'}))\n"
            "print('written', flush=True)\n"
            "time.sleep(60)\n",
            str(ledger),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
        live = recover(ledger)
        assert [(i["outcome"], i["activity"]) for i in live] == [("skipped", "invert_health_check")]
        assert f"pid {writer.pid}" in live[0]["error"]
        forced = recover(ledger, dry_run=True, include_live=True)
        assert [i["outcome"] for i in forced] == ["would revert"]
    finally:
        writer.kill()
        writer.wait(timeout=10)
    deadline = time.monotonic() + 5
    while recover(ledger, dry_run=True)[0]["outcome"] != "would revert":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert Ledger(ledger).entries()[0].open  # nothing was reverted while the drill lived
