"""The lab answers as AWS documents, not as a drill hopes: plain boto3 against a lab.

Route 53 refusals (Regions, Port, HealthCheckVersion), CLOUDWATCH_METRIC health checks
following their alarm and driving a DNS failover, a check limited to three checker
regions, in-region Aurora failover, ``rds.global_db_rpo`` stalling writes, the refusals
of stopping a global member or an Aurora instance, and FIS's documented replication delay
and scopes. Timings are never asserted against the wall clock beyond what the lab's own
events say.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from gameday.lab import Lab, LabConfig
from gameday.lab.cli import lab as lab_cli
from gameday.lab.draws import RANGES, Draws
from tests.lab.helpers import request, resolve, wait_until

pytestmark = [pytest.mark.lab, pytest.mark.slow]

#: A seed whose first FIS replication delay is short (17.4 AWS s), so the test can watch
#: the pause start late without waiting minutes; the range itself is AWS's 0-300 s.
SEED = 5
SPEED = 10.0
MINUTE = 60 / SPEED


@pytest.fixture(scope="module")
def fidelity_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    handle = Lab.start(
        LabConfig(lab_dir=str(tmp_path_factory.mktemp("fidelity")), speed=SPEED, seed=SEED)
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def env(fidelity_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = fidelity_lab.env()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


# -- Route 53 ------------------------------------------------------------------------------


def test_route53_refuses_what_aws_refuses(fidelity_lab: Lab, env: dict[str, str]) -> None:
    # boto3 would refuse the first two itself: switch its validation off to reach the lab
    r53 = boto3.client("route53", config=Config(parameter_validation=False))
    base = {
        "Type": "HTTP",
        "IPAddress": fidelity_lab.info.primary.address,
        "Port": fidelity_lab.info.service_port,
        "ResourcePath": "/health",
        "RequestInterval": 10,
        "FailureThreshold": 2,
    }
    before = len(r53.list_health_checks()["HealthChecks"])
    for bad, field in (({"Regions": ["us-east-1", "us-west-2"]}, "regions"), ({"Port": 0}, "port")):
        with pytest.raises(ClientError) as raised:
            r53.create_health_check(CallerReference=str(uuid.uuid4()), HealthCheckConfig=base | bad)
        code, message = _error(raised)
        assert code == "InvalidInput" and f"healthCheckConfig.{field}" in message
    assert len(r53.list_health_checks()["HealthChecks"]) == before  # nothing created
    hc = r53.create_health_check(CallerReference=str(uuid.uuid4()), HealthCheckConfig=base)
    hc_id = hc["HealthCheck"]["Id"]
    try:
        assert hc["HealthCheck"]["HealthCheckVersion"] == 1
        r53.update_health_check(HealthCheckId=hc_id, HealthCheckVersion=1, FailureThreshold=3)
        with pytest.raises(ClientError) as raised:  # version 1 is stale now
            r53.update_health_check(HealthCheckId=hc_id, HealthCheckVersion=1, FailureThreshold=4)
        assert _error(raised)[0] == "HealthCheckVersionMismatch"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        check = r53.get_health_check(HealthCheckId=hc_id)["HealthCheck"]
        assert (check["HealthCheckVersion"], check["HealthCheckConfig"]["FailureThreshold"]) == (
            2,
            3,
        )
    finally:
        r53.delete_health_check(HealthCheckId=hc_id)


def test_a_record_whose_ttl_the_lab_would_distort_is_refused(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    info = fidelity_lab.info
    r53 = boto3.client("route53")
    name = f"ttl-{uuid.uuid4().hex[:6]}.{info.zone_name}"
    with pytest.raises(ClientError) as raised:
        r53.change_resource_record_sets(
            HostedZoneId=info.zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": name,
                            "Type": "A",
                            "TTL": 5,
                            "ResourceRecords": [{"Value": info.primary.address}],
                        },
                    }
                ]
            },
        )
    code, message = _error(raised)
    assert code == "InvalidInput" and "multiple of the lab's speed (10)" in message
    names = [
        r["Name"]
        for r in r53.list_resource_record_sets(HostedZoneId=info.zone_id)["ResourceRecordSets"]
    ]
    assert name + "." not in names


def test_a_check_limited_to_three_regions_gets_three_observations(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    r53 = boto3.client("route53")
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    hc_id = r53.create_health_check(
        CallerReference=str(uuid.uuid4()),
        HealthCheckConfig={
            "Type": "HTTP",
            "IPAddress": fidelity_lab.info.primary.address,
            "Port": fidelity_lab.info.service_port,
            "ResourcePath": "/health",
            "RequestInterval": 10,
            "FailureThreshold": 2,
            "Regions": regions,
        },
    )["HealthCheck"]["Id"]
    try:

        def observed() -> list[str]:
            found = r53.get_health_check_status(HealthCheckId=hc_id)["HealthCheckObservations"]
            return sorted(o["Region"] for o in found)

        assert wait_until(lambda: len(observed()) == 3, timeout=3)
        assert observed() == sorted(regions)
    finally:
        r53.delete_health_check(HealthCheckId=hc_id)


def _metric_alarm(cw: object, name: str, namespace: str) -> None:
    cw.put_metric_alarm(  # type: ignore[attr-defined]
        AlarmName=name,
        Namespace=namespace,
        MetricName="Errors",
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def _put(cw: object, namespace: str, value: float) -> None:
    cw.put_metric_data(  # type: ignore[attr-defined]
        Namespace=namespace, MetricData=[{"MetricName": "Errors", "Value": value}]
    )


def test_a_cloudwatch_metric_check_follows_its_alarm_and_drives_dns_failover(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    """The alarm is evaluated from metric data once per AWS minute; the check is unhealthy
    while it is ALARM; the failover record routed on that check moves DNS away and back."""
    info = fidelity_lab.info
    region = info.primary.name
    r53 = boto3.client("route53")
    cw = boto3.client("cloudwatch", region_name=region)
    namespace = f"Gameday/Test/{uuid.uuid4().hex[:8]}"
    alarm = f"orders-errors-{uuid.uuid4().hex[:8]}"
    _metric_alarm(cw, alarm, namespace)
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == (
        "INSUFFICIENT_DATA"
    )
    hc_id = r53.create_health_check(
        CallerReference=str(uuid.uuid4()),
        HealthCheckConfig={
            "Type": "CLOUDWATCH_METRIC",
            "AlarmIdentifier": {"Region": region, "Name": alarm},
            "InsufficientDataHealthStatus": "Healthy",
        },
    )["HealthCheck"]["Id"]
    config = r53.get_health_check(HealthCheckId=hc_id)["HealthCheck"]["HealthCheckConfig"]
    assert config["AlarmIdentifier"] == {"Region": region, "Name": alarm}
    assert config["InsufficientDataHealthStatus"] == "Healthy"
    zone = info.zone_id
    record = {
        "Name": info.record_name,
        "Type": "A",
        "TTL": 10,
        "SetIdentifier": f"{region}-primary",
        "Failover": "PRIMARY",
        "ResourceRecords": [{"Value": info.primary.address}],
    }

    def route_on(check: str) -> None:
        r53.change_resource_record_sets(
            HostedZoneId=zone,
            ChangeBatch={
                "Changes": [
                    {"Action": "UPSERT", "ResourceRecordSet": record | {"HealthCheckId": check}}
                ]
            },
        )

    route_on(hc_id)
    try:
        assert resolve(fidelity_lab)[0] == [info.primary.address]
        started = time.time()

        def state() -> str:
            _put(cw, namespace, 5.0)  # errors keep coming
            return str(cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"])

        wait_until(lambda: state() == "ALARM", timeout=2 * MINUTE + 2, interval=0.3)
        flip = fidelity_lab.wait_for_event(
            lambda e: e["kind"] == "health" and e["health_check_id"] == hc_id and not e["healthy"],
            timeout=2,
            since=started,
        )
        assert "follows CloudWatch alarm" in flip["detail"]
        wait_until(lambda: resolve(fidelity_lab)[0] == [info.secondary.address], timeout=3)
        # no more errors: the next evaluations find no breaching data, OK again
        wait_until(
            lambda: (
                cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] != "ALARM"
            ),
            timeout=3 * MINUTE,
            interval=0.3,
        )
        wait_until(lambda: resolve(fidelity_lab)[0] == [info.primary.address], timeout=3)
        # set_alarm_state drives it too (until the next evaluation, as in AWS)
        cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="drill")
        forced = time.time()
        fidelity_lab.wait_for_event(
            lambda e: e["kind"] == "health" and e["health_check_id"] == hc_id and not e["healthy"],
            timeout=2,
            since=forced,
        )
    finally:
        route_on(info.primary.health_check_id)
        r53.delete_health_check(HealthCheckId=hc_id)
        cw.delete_alarms(AlarmNames=[alarm])


def test_route53_publishes_both_metrics_once_per_aws_minute(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    hc = fidelity_lab.info.primary.health_check_id

    def names() -> set[str]:
        return {
            m["MetricName"]
            for m in cw.list_metrics(
                Namespace="AWS/Route53", Dimensions=[{"Name": "HealthCheckId", "Value": hc}]
            )["Metrics"]
        }

    # the first points come one AWS minute after the check starts: await them (alone, this
    # test can start before then; after its module's other tests it never did)
    published = wait_until(lambda: names() or None, timeout=3 * MINUTE)
    assert published == {"HealthCheckStatus", "HealthCheckPercentageHealthy"}
    start = fidelity_lab.state()["updated_at"] - 10 * MINUTE

    def stamps() -> list[float]:
        points = cw.get_metric_statistics(
            Namespace="AWS/Route53",
            MetricName="HealthCheckPercentageHealthy",
            Dimensions=[{"Name": "HealthCheckId", "Value": hc}],
            StartTime=start,
            EndTime=time.time() + 5,
            Period=1,
            Statistics=["SampleCount", "Minimum"],
        )["Datapoints"]
        return sorted(p["Timestamp"].timestamp() for p in points)

    found = wait_until(lambda: stamps() if len(stamps()) >= 2 else None, timeout=3 * MINUTE)
    gaps = [b - a for a, b in itertools.pairwise(found)]
    assert all(gap >= MINUTE - 1 for gap in gaps)  # never fresher than AWS's minute


# -- Aurora ----------------------------------------------------------------------------------


def test_in_region_failover_promotes_the_reader_and_drops_writes_for_30_aws_seconds(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    info = fidelity_lab.info
    rds = boto3.client("rds", region_name=info.primary.name)
    cluster = "orders-" + info.primary.name

    def writer() -> str:
        members = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
        return next(
            m["DBInstanceIdentifier"] for m in members["DBClusterMembers"] if m["IsClusterWriter"]
        )

    assert writer() == f"{cluster}-writer"
    started = time.time()
    rds.failover_db_cluster(DBClusterIdentifier=cluster)
    event = fidelity_lab.wait_for_event(
        lambda e: e["kind"] == "in-region-failover" and e["state"] == "started",
        timeout=2,
        since=started,
    )
    assert event["aws_seconds"] == 30 and event["writes_refused"] is True
    assert writer() == f"{cluster}-reader"
    status, _, body = request(
        info.primary.address, info.service_port, "POST", "/orders", {"id": str(uuid.uuid4())}
    )
    assert status == 503 and "in-region failover" in body["error"]
    done = fidelity_lab.wait_for_event(
        lambda e: e["kind"] == "in-region-failover" and e["state"] == "completed",
        timeout=10,
        since=started,
    )
    assert (done["time"] - event["time"]) * SPEED >= 30 - 1
    assert (
        rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["Status"]
        == "available"
    )
    status, _, _ = request(
        info.primary.address, info.service_port, "POST", "/orders", {"id": str(uuid.uuid4())}
    )
    assert status == 201


def test_a_global_member_and_an_aurora_instance_cannot_be_stopped(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    info = fidelity_lab.info
    rds = boto3.client("rds", region_name=info.primary.name)
    cluster = "orders-" + info.primary.name
    with pytest.raises(ClientError) as raised:
        rds.stop_db_cluster(DBClusterIdentifier=cluster)
    assert _error(raised)[0] == "InvalidDBClusterStateFault"
    with pytest.raises(ClientError) as raised:
        rds.stop_db_instance(DBInstanceIdentifier=f"{cluster}-reader")
    assert _error(raised)[0] == "InvalidParameterCombination"
    assert (
        rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["Status"]
        == "available"
    )


def test_global_db_rpo_turns_replication_lag_into_a_write_stall(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    info = fidelity_lab.info
    rds = boto3.client("rds", region_name=info.primary.name)
    group = "orders-" + info.primary.name
    with pytest.raises(ClientError) as raised:
        rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=group,
            Parameters=[
                {
                    "ParameterName": "rds.global_db_rpo",
                    "ParameterValue": "5",
                    "ApplyMethod": "immediate",
                }
            ],
        )
    assert _error(raised)[0] == "InvalidParameterValue"
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=group,
        Parameters=[
            {
                "ParameterName": "rds.global_db_rpo",
                "ParameterValue": "20",
                "ApplyMethod": "immediate",
            }
        ],
    )
    started = time.time()
    fidelity_lab.set_lag(30.0)  # lab-only: 30 AWS s behind, beyond the 20 s limit
    try:

        def write() -> tuple[int, dict[str, str]]:
            status, _, body = request(
                info.primary.address,
                info.service_port,
                "POST",
                "/orders",
                {"id": str(uuid.uuid4())},
            )
            return status, body

        refused = wait_until(
            lambda: (lambda r: r if r[0] == 503 else None)(write()), timeout=6, interval=0.1
        )
        assert "rds.global_db_rpo" in refused[1]["error"]
        stall = fidelity_lab.wait_for_event(
            lambda e: e["kind"] == "write-stall" and e["blocked"], timeout=1, since=started
        )
        assert stall["lag_aws_seconds"] > 20 and stall["rpo_limit_seconds"] == 20
    finally:
        fidelity_lab.set_lag(LabConfig().replication_lag)
        rds.reset_db_cluster_parameter_group(
            DBClusterParameterGroupName=group, ResetAllParameters=True
        )
    fidelity_lab.wait_for_event(
        lambda e: e["kind"] == "write-stall" and not e["blocked"], timeout=6, since=started
    )
    wait_until(
        lambda: (
            request(
                info.primary.address,
                info.service_port,
                "POST",
                "/orders",
                {"id": str(uuid.uuid4())},
            )[0]
            == 201
        ),
        timeout=3,
    )


# -- FIS ---------------------------------------------------------------------------------------


def _template(fis: object, action: dict[str, object], targets: dict[str, object]) -> str:
    return str(
        fis.create_experiment_template(  # type: ignore[attr-defined]
            clientToken=str(uuid.uuid4()),
            description="lab fidelity",
            roleArn="arn:aws:iam::123456789012:role/gameday-fis",
            stopConditions=[{"source": "none"}],
            targets=targets,
            actions={"a": action},
        )["experimentTemplate"]["id"]
    )


def test_pause_replication_takes_effect_after_a_drawn_delay(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    """Items may keep replicating for up to 5 minutes after the action starts: the lab draws
    the delay (seeded) and the pause begins only then."""
    info = fidelity_lab.info
    fis = boto3.client("fis", region_name=info.primary.name)
    table = f"arn:aws:dynamodb:{info.primary.name}:123456789012:table/orders"
    template = _template(
        fis,
        {
            "actionId": "aws:dynamodb:global-table-pause-replication",
            "parameters": {"duration": "PT2M"},
            "targets": {"Tables": "t"},
        },
        {
            "t": {
                "resourceType": "aws:dynamodb:global-table",
                "resourceArns": [table],
                "selectionMode": "ALL",
            }
        },
    )
    started = time.time()
    experiment = fis.start_experiment(experimentTemplateId=template, clientToken=str(uuid.uuid4()))
    draw = fidelity_lab.wait_for_event(
        lambda e: e["kind"] == "draw" and e["name"] == "pause_replication_delay_seconds",
        timeout=2,
        since=started,
    )
    expected = Draws(SEED).stream("pause_replication_delay_seconds").uniform(0, 300)
    assert draw["aws_seconds"] == pytest.approx(expected, abs=0.001)
    assert (
        (draw["low"], draw["high"])
        == (0.0, 300.0)
        == (
            RANGES["pause_replication_delay_seconds"].low,
            RANGES["pause_replication_delay_seconds"].high,
        )
    )
    applied = fidelity_lab.wait_for_event(
        lambda e: (
            e["kind"] == "fault"
            and e.get("state") == "applied"
            and e.get("fault") == "aws:dynamodb:global-table-pause-replication"
        ),
        timeout=draw["aws_seconds"] / SPEED + 3,
        since=started,
    )
    fis.stop_experiment(id=experiment["experiment"]["id"])
    running = fis.get_experiment(id=experiment["experiment"]["id"])["experiment"]
    action_start = running["actions"]["a"]["startTime"].timestamp()
    assert applied["time"] - action_start >= draw["aws_seconds"] / SPEED - 0.1


def test_disrupt_connectivity_scopes_are_accepted_and_unemulated_ones_refused_at_start(
    fidelity_lab: Lab, env: dict[str, str]
) -> None:
    info = fidelity_lab.info
    fis = boto3.client("fis", region_name=info.primary.name)
    subnet = f"arn:aws:ec2:{info.primary.name}:123456789012:subnet/{info.primary.subnet_id}"
    targets = {
        "s": {"resourceType": "aws:ec2:subnet", "resourceArns": [subnet], "selectionMode": "ALL"}
    }
    for scope in ("vpc", "s3express", "availability-zone"):
        template = _template(
            fis,
            {
                "actionId": "aws:network:disrupt-connectivity",
                "parameters": {"duration": "PT1M", "scope": scope},
                "targets": {"Subnets": "s"},
            },
            targets,
        )
        with pytest.raises(ClientError) as raised:
            fis.start_experiment(experimentTemplateId=template, clientToken=str(uuid.uuid4()))
        code, message = _error(raised)
        assert code == "ValidationException" and "not emulated by the gameday lab" in message


# -- the lab's own account of its draws --------------------------------------------------------


def test_lab_status_names_the_seed_and_every_draw(fidelity_lab: Lab) -> None:
    result = CliRunner().invoke(lab_cli, ["status", "--json", "--dir", str(fidelity_lab.dir)])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["seed"] == SEED
    names = {d["name"] for d in status["draws"]}
    assert names <= set(RANGES)
    text = CliRunner().invoke(lab_cli, ["status", "--dir", str(fidelity_lab.dir)]).output
    assert f"draws (seed {SEED})" in text
    assert Path(fidelity_lab.dir, "events.jsonl").exists()
