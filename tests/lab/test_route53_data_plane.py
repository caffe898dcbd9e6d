"""The lab's Route 53 data plane: real DNS answers driven by real health probes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from gameday.lab import Lab
from gameday.probes.route53 import _metric_query as metric_query
from tests.lab.helpers import (
    lab_is_the_shared_lab,  # noqa: F401  (lab: the worker's shared lab)
    resolve,
    wait_until,
)

pytestmark = pytest.mark.lab

#: Route 53 publishes its metrics once per AWS minute: 6 lab seconds at the default speed.
MINUTE = 6.0


def test_service_name_answers_the_primary_with_the_configured_ttl(lab: Lab) -> None:
    info = lab.info
    assert resolve(lab) == ([info.primary.address], 1)
    assert resolve(lab, tcp=True) == ([info.primary.address], 1)
    assert resolve(lab, info.secondary.record_name) == ([info.secondary.address], 1)


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed")
def test_standard_dns_client_sees_the_same_answer(lab: Lab) -> None:
    info = lab.info
    for transport in ("+notcp", "+tcp"):
        out = subprocess.run(
            [
                "dig",
                f"@{info.dns_host}",
                "-p",
                str(info.dns_port),
                info.record_name,
                "A",
                transport,
                "+noall",
                "+answer",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.split()
        assert out[0] == info.record_name + "."
        assert out[1] == "1" and out[3] == "A" and out[4] == info.primary.address


def test_unknown_names_are_nxdomain_and_foreign_zones_refused(lab: Lab) -> None:
    import dns.resolver

    with pytest.raises(dns.resolver.NXDOMAIN):
        resolve(lab, f"nothing.{lab.info.zone_name}")
    with pytest.raises(dns.resolver.NoNameservers):  # REFUSED: the lab does not recurse
        resolve(lab, "example.com")


def _metric(cloudwatch: object, hc: str, since: float) -> list[tuple[float, float]]:
    """(time, value) of every ``AWS/Route53 HealthCheckStatus`` second since ``since``."""
    answer = cloudwatch.get_metric_data(  # type: ignore[attr-defined]
        MetricDataQueries=[metric_query(hc, period=1)],
        StartTime=datetime.fromtimestamp(since, UTC),
        EndTime=datetime.fromtimestamp(time.time() + 5, UTC),
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    return [(t.timestamp(), v) for t, v in zip(answer["Timestamps"], answer["Values"], strict=True)]


def _raw(route53: object, hc: str) -> list[str]:
    observations = route53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]  # type: ignore[attr-defined]
    return [o["StatusReport"]["Status"] for o in observations]


def test_inverting_the_primary_check_fails_over_and_back(lab: Lab, lab_env: dict[str, str]) -> None:
    """DNS follows an inversion within the threshold's intervals; the metric, published
    once per AWS minute as AWS does, shows the 0 in the datapoint of the minute the flip
    happened in, and 1 again after; the checkers' raw observations stay what they saw
    (Success) throughout, as in AWS."""
    info = lab.info
    route53 = boto3.client("route53")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    hc = info.primary.health_check_id
    interval, threshold = 1.0, 2  # the lab's defaults
    budget = interval * threshold + interval
    before = time.time()
    # the first datapoint of a minute wholly after the test began: the worker's shared lab
    # may have been impaired by the test before, within the minute ``before`` is in
    healthy = wait_until(
        lambda: [v for t, v in _metric(cloudwatch, hc, before) if t >= before],
        timeout=2 * MINUTE + 1,
    )
    assert set(healthy) == {1.0}
    try:
        started = time.time()
        route53.update_health_check(HealthCheckId=hc, Inverted=True)
        wait_until(lambda: resolve(lab)[0] == [info.secondary.address], timeout=budget + 1)
        switched = time.time() - started
        assert switched <= budget, f"failover took {switched:.2f} s, more than {budget} s"
        raw = _raw(route53, hc)
        assert len(raw) == 8 and all(s == "Success: HTTP Status Code 200, OK" for s in raw)
        flip = lab.wait_for_event(
            lambda e: (
                e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is False
            ),
            timeout=1,
            since=started,
        )
        assert flip["inverted"] is True and flip["region"] == info.primary.name
        assert flip["checkers_healthy"] == 8
        change = lab.wait_for_event(
            lambda e: (
                e["kind"] == "dns"
                and e["name"] == info.record_name
                and e["answer"] == [info.secondary.address]
            ),
            timeout=1,
            since=started,
        )
        assert change["time"] >= flip["time"]
        zero = wait_until(
            lambda: [t for t, v in _metric(cloudwatch, hc, started - MINUTE) if v == 0.0],
            timeout=MINUTE + 1,
        )
        # the datapoint is the minimum of the minute the flip happened in (stamped at its start)
        assert zero[0] <= flip["time"] < zero[0] + MINUTE + 1.0
        assert time.time() >= zero[0] + MINUTE  # published only once that minute was over
    finally:
        restored = time.time()
        route53.update_health_check(HealthCheckId=hc, Inverted=False)
    wait_until(
        lambda: [t for t, v in _metric(cloudwatch, hc, restored) if v == 1.0],
        timeout=2 * MINUTE + 1,
    )
    wait_until(lambda: resolve(lab)[0] == [info.primary.address], timeout=budget + 1)
    assert all(s.startswith("Success") for s in _raw(route53, hc))


def test_a_disabled_check_is_healthy_whatever_it_observes(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    route53 = boto3.client("route53")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    hc = info.primary.health_check_id
    since = time.time()
    try:
        # The checkers now get a 404; a disabled check is healthy all the same, as in AWS.
        # (Disabled together with Inverted is unhealthy: tests/lab/test_alias_records.py.)
        route53.update_health_check(HealthCheckId=hc, Disabled=True, ResourcePath="/nope")
        # two metric datapoints published after the change: evaluated with it at least once
        wait_until(lambda: len(_metric(cloudwatch, hc, since + 1)) >= 2, timeout=3 * MINUTE)
        wait_until(lambda: all("404" in s for s in _raw(route53, hc)), timeout=4)
        assert {v for _, v in _metric(cloudwatch, hc, since + 1)} == {1.0}
        assert resolve(lab)[0] == [info.primary.address]
        flips = [e for e in lab.events(since=since, kind="health") if e["health_check_id"] == hc]
        assert flips == []
    finally:
        # Re-enable only once every checker has passed twice again (the threshold), so the
        # check comes back healthy instead of flipping for an interval: a success checked a
        # whole interval (1 s) after the fix had a successful probe before it.
        fixed = time.time()
        route53.update_health_check(HealthCheckId=hc, ResourcePath="/health")

        def passed_twice() -> bool:
            status = route53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]
            return len(status) == 8 and all(
                o["StatusReport"]["Status"].startswith("Success")
                and o["StatusReport"]["CheckedTime"].timestamp() >= fixed + 1.0
                for o in status
            )

        wait_until(passed_twice, timeout=6)
        route53.update_health_check(HealthCheckId=hc, Disabled=False)


def test_health_status_of_an_unknown_check_is_an_aws_error(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    with pytest.raises(ClientError) as raised:
        boto3.client("route53").get_health_check_status(HealthCheckId="no-such-check")
    assert raised.value.response["Error"]["Code"] == "NoSuchHealthCheck"


def test_a_hung_region_turns_unhealthy_after_the_threshold_and_recovers(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    """SIGSTOP the primary: probes time out, FailureThreshold failures flip it, DNS follows;
    SIGCONT: as many successes flip it back."""
    info = lab.info
    hc = info.primary.health_check_id
    pid = info.primary.pid
    assert pid is not None
    started = time.time()
    os.kill(pid, signal.SIGSTOP)
    try:
        flip = lab.wait_for_event(
            lambda e: (
                e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is False
            ),
            timeout=6,
            since=started,
        )
        # Two consecutive failed probes are needed. The first may be one already in flight;
        # the second starts a whole interval (1 s) after it and waits out its 0.8 s timeout:
        # no flip sooner than one interval after the stop.
        assert flip["time"] - started >= 1.0 * (2 - 1)
        assert "timed out" in flip["detail"]
        wait_until(lambda: resolve(lab)[0] == [info.secondary.address], timeout=2)
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.time()
    back = lab.wait_for_event(
        lambda e: e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is True,
        timeout=6,
        since=resumed,
    )
    # Two consecutive successes are needed: the first may be a probe that was in flight when
    # the region froze (answered at once on SIGCONT); the second starts one interval after
    # that one started, so never sooner than interval - probe timeout (1 - 0.8 s) after.
    assert back["time"] - resumed >= 1.0 - 0.8
    assert (
        len([e for e in lab.events(since=resumed, kind="health") if e["health_check_id"] == hc])
        == 1
    )
    wait_until(lambda: resolve(lab)[0] == [info.primary.address], timeout=2)


def test_weighted_and_simple_records_created_with_boto3(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    route53 = boto3.client("route53")
    name = f"weighted.{info.zone_name}"

    def weighted(identifier: str, address: str, weight: int, hc: str) -> dict:
        return {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": name,
                "Type": "A",
                "TTL": 20,
                "SetIdentifier": identifier,
                "Weight": weight,
                "HealthCheckId": hc,
                "ResourceRecords": [{"Value": address}],
            },
        }

    route53.change_resource_record_sets(
        HostedZoneId=info.zone_id,
        ChangeBatch={
            "Changes": [
                weighted("east", info.primary.address, 50, info.primary.health_check_id),
                weighted("west", info.secondary.address, 50, info.secondary.health_check_id),
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"simple.{info.zone_name}",
                        "Type": "A",
                        "TTL": 40,
                        "ResourceRecords": [{"Value": "127.0.9.9"}, {"Value": "127.0.9.10"}],
                    },
                },
            ]
        },
    )
    # Route 53's 40 s, served on the lab clock (speed 10): 4 s exactly (a TTL the lab would
    # serve distorted, 42 s, is refused: tests/lab/test_fidelity.py)
    assert resolve(lab, f"simple.{info.zone_name}") == (["127.0.9.10", "127.0.9.9"], 4)
    seen = {resolve(lab, name)[0][0] for _ in range(60)}
    assert seen == {info.primary.address, info.secondary.address}
    assert resolve(lab, name)[1] == 2  # Route 53 holds 20 s; served 2 s at speed 10
    try:
        route53.update_health_check(HealthCheckId=info.primary.health_check_id, Inverted=True)
        # once the primary's check fails, every weighted answer is the secondary's
        wait_until(
            lambda: all(resolve(lab, name)[0] == [info.secondary.address] for _ in range(20)),
            timeout=4,
        )
    finally:
        route53.update_health_check(HealthCheckId=info.primary.health_check_id, Inverted=False)
    wait_until(lambda: resolve(lab)[0] == [info.primary.address], timeout=4)


def test_the_checker_never_probes_off_this_machine(lab: Lab, lab_env: dict[str, str]) -> None:
    route53 = boto3.client("route53")
    hc = route53.create_health_check(
        CallerReference=f"offbox-{time.time()}",
        HealthCheckConfig={
            "Type": "HTTP",
            "IPAddress": "192.0.2.10",
            "Port": 80,
            "ResourcePath": "/",
            "RequestInterval": 10,
            "FailureThreshold": 1,
        },
    )["HealthCheck"]["Id"]
    try:
        status = wait_until(
            lambda: route53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"],
            timeout=3,
        )
        assert "only probes 127.0.0.0/8" in status[0]["StatusReport"]["Status"]
    finally:
        route53.delete_health_check(HealthCheckId=hc)
