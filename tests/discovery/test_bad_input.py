"""Bad input: one message naming what was looked for, exit 2, nothing written.

moto in-process holds the account (no lab needed: each case fails before the regions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from gameday.cli import main
from tests.moto_helpers import create_http_health_check

NAME = "api.example.com"


def _zone(route53: Any, name: str = "example.com", private: bool = False) -> str:
    extra: dict[str, Any] = {}
    if private:
        vpc = boto3.client("ec2", region_name="us-east-1").create_vpc(CidrBlock="10.0.0.0/16")
        extra = {
            "HostedZoneConfig": {"Comment": "", "PrivateZone": True},
            "VPC": {"VPCRegion": "us-east-1", "VPCId": vpc["Vpc"]["VpcId"]},
        }
    zone = route53.create_hosted_zone(Name=name, CallerReference=f"{name}{private}", **extra)
    return str(zone["HostedZone"]["Id"].split("/")[-1])


def _failover(route53: Any, zone_id: str, checks: tuple[str | None, str | None]) -> None:
    changes = []
    for role, address, check in zip(
        ("PRIMARY", "SECONDARY"), ("192.0.2.1", "192.0.2.2"), checks, strict=True
    ):
        record: dict[str, Any] = {
            "Name": NAME, "Type": "A", "TTL": 10, "SetIdentifier": role.lower(),
            "Failover": role, "ResourceRecords": [{"Value": address}],
        }  # fmt: skip
        if check:
            record["HealthCheckId"] = check
        changes.append({"Action": "UPSERT", "ResourceRecordSet": record})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def _discover(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    out = tmp_path / "staging.json"
    result = CliRunner().invoke(main, ["discover", NAME, "--out", str(out), *args])
    return result.exit_code, result.output, out


def test_a_name_in_no_hosted_zone(account: Any, tmp_path: Path) -> None:
    zone_id = _zone(account)
    code, output, out = _discover(tmp_path)
    assert code == 2 and not out.exists()
    assert output.strip() == (
        f"gameday: discover {NAME}: no hosted zone holds a record named {NAME} (zones that "
        f"could: example.com ({zone_id})): check the name and the account."
    )


def test_two_zones_holding_the_name(account: Any, tmp_path: Path) -> None:
    checks = (create_http_health_check(account, "a"), create_http_health_check(account, "b"))
    public, private = _zone(account), _zone(account, private=True)
    for zone_id in (public, private):
        _failover(account, zone_id, checks)
    code, output, out = _discover(tmp_path)
    assert code == 2 and not out.exists()
    assert f"2 hosted zones hold records named {NAME}: " in output
    assert f"{public} (example.com, public)" in output
    assert f"{private} (example.com, private)" in output
    assert "Pass --hosted-zone-id" in output
    # with the zone named, the walk goes on, to the next thing it cannot know: the region
    # behind 192.0.2.1 (no latency record, no load balancer alias, no tag, no target group)
    code, output, out = _discover(tmp_path, "--hosted-zone-id", public)
    assert code == 2 and not out.exists()
    assert f"cannot tell which region the primary record of {NAME} ('primary') serves" in output
    assert "no target group in an enabled region holds 192.0.2.1" in output


def test_a_record_with_no_health_check(account: Any, tmp_path: Path) -> None:
    zone_id = _zone(account)
    _failover(account, zone_id, (create_http_health_check(account), None))
    code, output, out = _discover(tmp_path)
    assert code == 2 and not out.exists()
    assert (
        f"the failover record 'secondary' of {NAME} (zone {zone_id}) has no Route 53 health "
        "check" in output
    )


def test_an_account_that_is_not_allowlisted(
    account: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAMEDAY_ALLOWED_ACCOUNTS", "111122223333")
    code, output, out = _discover(tmp_path)
    assert code == 2 and not out.exists()
    assert output.strip() == (
        f"gameday: discover {NAME}: AWS account 123456789012 (the credentials in use) is not "
        "allowlisted (allowed: 111122223333): use credentials for a non-prod account, or add "
        "it to GAMEDAY_ALLOWED_ACCOUNTS."
    )
    monkeypatch.delenv("GAMEDAY_ALLOWED_ACCOUNTS")
    code, output, out = _discover(tmp_path)
    assert code == 2 and not out.exists()
    assert "no AWS account is allowlisted: set GAMEDAY_ALLOWED_ACCOUNTS" in output


def test_a_simple_record_is_not_a_multi_region_set(account: Any, tmp_path: Path) -> None:
    zone_id = _zone(account)
    record = {"Name": NAME, "Type": "A", "TTL": 10, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    account.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )
    code, output, out = _discover(tmp_path)
    assert code == 2 and not out.exists()
    assert f"{NAME} has 1 simple record(s): gameday drills need a failover" in output
