"""Alias records behind per-region load balancers, against a real lab: plain boto3 calls,
real DNS queries (dnspython and ``dig``), real health checks."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Iterator

import boto3
import dns.message
import dns.query
import pytest

from gameday.lab import Lab
from tests.lab.helpers import resolve, wait_until

pytestmark = pytest.mark.lab

DIG = shutil.which("dig")


def dig(lab: Lab, name: str) -> tuple[list[str], list[int]]:
    """Ask the lab's DNS server with ``dig``: (addresses, TTLs)."""
    assert DIG is not None
    info = lab.info
    out = subprocess.run(
        [DIG, f"@{info.dns_host}", "-p", str(info.dns_port), name, "A", "+noall", "+answer"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return sorted(r[4] for r in rows), [int(r[1]) for r in rows]


def ask_from(lab: Lab, name: str, source: str) -> list[str]:
    """Query the lab's DNS server from ``source`` (a loopback address): the addresses."""
    info = lab.info
    query = dns.message.make_query(name, "A")
    reply = dns.query.udp(query, info.dns_host, port=info.dns_port, source=source, timeout=2)
    return sorted(item.address for rrset in reply.answer for item in rrset)


def target_state(target_group_arn: str) -> str:
    elbv2 = boto3.client("elbv2", target_group_arn.split(":")[3])
    health = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    return health["TargetHealthDescriptions"][0]["TargetHealth"]["State"]


@pytest.fixture
def primary_targets_fail(lab: Lab, lab_env: dict[str, str]) -> Iterator[float]:
    """The primary ALB's health check asks for a page the region does not serve (404):
    its targets turn unhealthy while the region itself, and its Route 53 check, stay well.
    Yields when it made the change."""
    info = lab.info
    elbv2 = boto3.client("elbv2", info.primary.name)
    arn = info.primary.target_group_arn
    started = time.time()
    elbv2.modify_target_group(TargetGroupArn=arn, HealthCheckPath="/not-here")
    try:
        wait_until(lambda: target_state(arn) == "unhealthy", timeout=5)
        yield started
    finally:
        elbv2.modify_target_group(TargetGroupArn=arn, HealthCheckPath="/health")
        wait_until(lambda: target_state(arn) == "healthy", timeout=5)


def test_each_region_has_a_load_balancer_with_its_address_as_a_healthy_target(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    for region in lab.info.regions:
        elbv2 = boto3.client("elbv2", region.name)
        lb = elbv2.describe_load_balancers(LoadBalancerArns=[region.load_balancer_arn])
        assert lb["LoadBalancers"][0]["DNSName"] == region.load_balancer_dns_name
        health = elbv2.describe_target_health(TargetGroupArn=region.target_group_arn)
        (description,) = health["TargetHealthDescriptions"]
        assert description["Target"]["Id"] == region.address
        assert description["TargetHealth"]["State"] == "healthy"
    # from its first answer on, the alias name answered the primary: no start-up flip
    ready = next(e["time"] for e in lab.events(kind="lab-ready"))
    early = [
        e["answer"]
        for e in lab.events(kind="dns")
        if e["name"] == lab.info.alias_record_name and e["time"] <= ready
    ]
    assert early == [[lab.info.primary.address]]
    env = lab.env()
    assert env["GAMEDAY_ALIAS_SERVICE_NAME"] == lab.info.alias_record_name
    assert env["GAMEDAY_SECONDARY_TARGET_GROUP_ARN"] == lab.info.secondary.target_group_arn


def test_alias_failover_follows_target_health(
    lab: Lab, lab_env: dict[str, str], primary_targets_fail: float
) -> None:
    info = lab.info
    name = info.alias_record_name
    since = primary_targets_fail
    elbv2 = boto3.client("elbv2", info.primary.name)
    (description,) = elbv2.describe_target_health(TargetGroupArn=info.primary.target_group_arn)[
        "TargetHealthDescriptions"
    ]
    assert description["TargetHealth"]["Reason"] == "Target.ResponseCodeMismatch"
    assert "404" in description["TargetHealth"]["Description"]
    wait_until(lambda: resolve(lab, name)[0] == [info.secondary.address], timeout=2)
    # the service's own failover record follows its Route 53 check, which is still healthy
    assert resolve(lab)[0] == [info.primary.address]
    change = lab.wait_for_event(
        lambda e: (
            e["kind"] == "dns" and e["name"] == name and e["answer"] == [info.secondary.address]
        ),
        timeout=2,
        since=since,
    )
    flip = lab.wait_for_event(
        lambda e: (
            e["kind"] == "target-health"
            and e["region"] == info.primary.name
            and e["state"] == "unhealthy"
        ),
        timeout=2,
        since=since,
    )
    assert change["time"] >= flip["time"]


@pytest.mark.skipif(DIG is None, reason="dig is not installed (apt-get install dnsutils)")
def test_dig_sees_the_alias_fail_over_and_back(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    name = info.alias_record_name
    assert dig(lab, name)[0] == [info.primary.address]
    elbv2 = boto3.client("elbv2", info.primary.name)
    arn = info.primary.target_group_arn
    elbv2.deregister_targets(
        TargetGroupArn=arn, Targets=[{"Id": info.primary.address, "Port": info.service_port}]
    )
    try:
        # a target group without a registered target is unhealthy: the alias fails over
        wait_until(lambda: dig(lab, name)[0] == [info.secondary.address], timeout=3)
    finally:
        elbv2.register_targets(
            TargetGroupArn=arn, Targets=[{"Id": info.primary.address, "Port": info.service_port}]
        )
    wait_until(lambda: dig(lab, name)[0] == [info.primary.address], timeout=3)
    assert target_state(arn) == "healthy"


def test_alias_ttl_is_the_targets(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    route53 = boto3.client("route53")
    target, alias = f"ttl-target.{info.zone_name}", f"ttl-alias.{info.zone_name}"
    route53.change_resource_record_sets(
        HostedZoneId=info.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": target,
                        "Type": "A",
                        "TTL": 70,
                        "ResourceRecords": [{"Value": "127.0.9.7"}],
                    },
                },
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": alias,
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": info.zone_id,
                            "DNSName": target,
                            "EvaluateTargetHealth": False,
                        },
                    },
                },
            ]
        },
    )
    assert resolve(lab, alias) == (["127.0.9.7"], served(lab, 70))
    # an alias to a load balancer serves ELB's 60 s, on the lab's clock
    assert resolve(lab, info.alias_record_name) == ([info.primary.address], served(lab, 60))


def served(lab: Lab, aws_ttl: int) -> int:
    """The TTL the lab serves for ``aws_ttl`` (AWS seconds divided by the lab's speed)."""
    return math.ceil(aws_ttl / float(lab.state()["config"]["speed"]))


def _alias_to(region_dns_name: str, **routing: object) -> dict:
    return {
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z2P70J7EXAMPLE",
            "DNSName": region_dns_name,
            "EvaluateTargetHealth": True,
        },
        **routing,
    }


def test_weighted_latency_and_simple_aliases(
    lab: Lab, lab_env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    info = lab.info
    zone = info.zone_name
    route53 = boto3.client("route53")
    east, west = info.primary, info.secondary
    changes = [
        {"Name": f"weighted-alias.{zone}", "SetIdentifier": "east", "Weight": 100},
        {"Name": f"weighted-alias.{zone}", "SetIdentifier": "west", "Weight": 0},
        {"Name": f"latency-alias.{zone}", "SetIdentifier": "east", "Region": east.name},
        {"Name": f"latency-alias.{zone}", "SetIdentifier": "west", "Region": west.name},
    ]
    targets = [east, west, east, west]
    batch = [
        {"Action": "UPSERT", "ResourceRecordSet": _alias_to(t.load_balancer_dns_name, **c)}
        for c, t in zip(changes, targets, strict=True)
    ]
    batch.append(
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": f"simple-alias.{zone}",
                "Type": "A",
                "AliasTarget": {
                    "HostedZoneId": info.zone_id,
                    "DNSName": info.record_name,  # the service's failover record
                    "EvaluateTargetHealth": True,
                },
            },
        }
    )
    route53.change_resource_record_sets(HostedZoneId=info.zone_id, ChangeBatch={"Changes": batch})
    assert {resolve(lab, f"weighted-alias.{zone}")[0][0] for _ in range(20)} == {east.address}
    # latency: a client in the secondary's range asks from us-west-2, anyone else from the primary
    assert ask_from(lab, f"latency-alias.{zone}", "127.0.0.1") == [east.address]
    assert ask_from(lab, f"latency-alias.{zone}", "127.0.2.77") == [west.address]
    # an alias to the service's record serves that record's TTL
    service_ttl = int(lab.state()["config"]["ttl"])
    assert resolve(lab, f"simple-alias.{zone}") == ([east.address], served(lab, service_ttl))

    request.getfixturevalue("primary_targets_fail")
    wait_until(lambda: resolve(lab, f"weighted-alias.{zone}")[0] == [west.address], timeout=2)
    assert ask_from(lab, f"latency-alias.{zone}", "127.0.0.1") == [west.address]
    assert ask_from(lab, f"latency-alias.{zone}", "127.0.2.77") == [west.address]


def test_health_check_configuration_refused_as_aws_does(lab: Lab, lab_env: dict[str, str]) -> None:
    from botocore.config import Config
    from botocore.exceptions import ClientError

    info = lab.info
    unchecked = boto3.client("route53", config=Config(parameter_validation=False))
    base = {"Type": "HTTP", "IPAddress": info.primary.address, "Port": info.service_port}
    before = unchecked.list_health_checks()["HealthChecks"]
    for config, message in (
        ({"RequestInterval": 15}, "RequestInterval must be 10 or 30"),
        ({"RequestInterval": 5}, "must have value greater than or equal to 10"),
        ({"FailureThreshold": 0}, "must have value greater than or equal to 1"),
        ({"FailureThreshold": 11}, "must have value less than or equal to 10"),
    ):
        with pytest.raises(ClientError) as raised:
            unchecked.create_health_check(
                CallerReference=f"bad-{time.time()}", HealthCheckConfig={**base, **config}
            )
        error = raised.value.response["Error"]
        assert error["Code"] == "InvalidInput", config
        assert message in error["Message"], (config, error["Message"])
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    hc = info.primary.health_check_id
    with pytest.raises(ClientError) as raised:
        unchecked.update_health_check(HealthCheckId=hc, FailureThreshold=11)
    assert raised.value.response["Error"]["Code"] == "InvalidInput"
    # nothing was created or changed
    assert unchecked.list_health_checks()["HealthChecks"] == before
    config = unchecked.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]
    assert config["FailureThreshold"] == 2


def test_disabled_and_inverted_is_unhealthy(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    route53 = boto3.client("route53")
    hc = info.primary.health_check_id
    since = time.time()
    try:
        route53.update_health_check(HealthCheckId=hc, Disabled=True, Inverted=True)
        flip = lab.wait_for_event(
            lambda e: (
                e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is False
            ),
            timeout=3,
            since=since,
        )
        assert flip["disabled"] is True and flip["inverted"] is True
        wait_until(lambda: resolve(lab)[0] == [info.secondary.address], timeout=2)
    finally:
        route53.update_health_check(HealthCheckId=hc, Disabled=False, Inverted=False)
    wait_until(lambda: resolve(lab)[0] == [info.primary.address], timeout=3)


def _status(route53: object, hc: str) -> str:
    observations = route53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]  # type: ignore[attr-defined]
    return observations[0]["StatusReport"]["Status"] if observations else ""


@pytest.mark.parametrize("sni", [False, True])
def test_https_check_against_a_lab_region(lab: Lab, lab_env: dict[str, str], sni: bool) -> None:
    info = lab.info
    route53 = boto3.client("route53")
    config = {
        "Type": "HTTPS_STR_MATCH",
        "IPAddress": info.secondary.address,
        "Port": info.service_tls_port,
        "ResourcePath": "/health",
        "SearchString": "ok",
        "RequestInterval": 10,
        "FailureThreshold": 1,
        "EnableSNI": sni,
    }
    if sni:
        config["FullyQualifiedDomainName"] = info.secondary.record_name
    hc = route53.create_health_check(
        CallerReference=f"https-{sni}-{time.time()}", HealthCheckConfig=config
    )["HealthCheck"]["Id"]
    try:
        status = wait_until(lambda: _status(route53, hc), timeout=3)
        assert status.startswith("Success: HTTP Status Code 200"), status
    finally:
        route53.delete_health_check(HealthCheckId=hc)


def test_fqdn_checks_resolve_through_the_lab_dns(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    route53 = boto3.client("route53")
    created = []
    for name in (info.secondary.record_name, f"nowhere.{info.zone_name}"):
        created.append(
            route53.create_health_check(
                CallerReference=f"fqdn-{name}-{time.time()}",
                HealthCheckConfig={
                    "Type": "HTTP",
                    "FullyQualifiedDomainName": name,
                    "Port": info.service_port,
                    "ResourcePath": "/health",
                    "RequestInterval": 10,
                    "FailureThreshold": 1,
                },
            )["HealthCheck"]["Id"]
        )
    try:
        found, missing = (wait_until(lambda h=h: _status(route53, h), timeout=3) for h in created)
        assert found.startswith("Success: HTTP Status Code 200"), found
        assert missing.startswith("Failure") and "resolve" in missing, missing
    finally:
        for hc in created:
            route53.delete_health_check(HealthCheckId=hc)
