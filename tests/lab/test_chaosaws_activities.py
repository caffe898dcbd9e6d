"""Every chaostoolkit-aws route53, rds, fis, cloudwatch and elbv2 activity, run on the lab.

Each activity that applies to the lab's resources runs through chaoslib
(``run_activity``, as ``chaos run`` would) against one lab, in an order that keeps the
lab usable (the destructive ones last). The test prints which work; each one that fails
must fail with the error AWS itself answers (a named AWS refusal, :data:`REFUSED`), never
with a lab gap. One activity does not apply: ``start_stress_pod_delete_scenario`` targets
EKS pods, and the lab has no EKS cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from chaoslib.activity import run_activity
from chaoslib.exceptions import ActivityFailed

from gameday.lab import Lab, LabConfig

pytestmark = [pytest.mark.lab, pytest.mark.slow]

#: Activities AWS refuses on resources like the lab's: (activity, AWS error code, why).
REFUSED = {
    "rds.stop_db_instance": (
        "InvalidParameterCombination",
        "Aurora DB instances can't be stopped on their own (stop the cluster)",
    ),
    "rds.stop_db_cluster": (
        "InvalidDBClusterStateFault",
        "a member of a global database can't be stopped",
    ),
    "rds.delete_db_cluster": (
        "InvalidDBClusterStateFault",
        "a cluster that still holds DB instances (here: a global member) can't be deleted",
    ),
    "rds.delete_db_cluster_endpoint": (
        "DBClusterEndpointNotFoundFault",
        "the cluster's own endpoint is not a custom endpoint (the lab's clusters have none)",
    ),
    "elbv2.set_subnets": (
        "InvalidConfigurationRequest",
        "an Application Load Balancer needs subnets in at least two Availability Zones",
    ),
}
NOT_APPLICABLE = {"fis.start_stress_pod_delete_scenario": "targets EKS pods; the lab has no EKS"}


@pytest.fixture(scope="module")
def activity_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    handle = Lab.start(
        LabConfig(lab_dir=str(tmp_path_factory.mktemp("chaosaws")), in_region_failover_seconds=5)
    )
    try:
        yield handle
    finally:
        handle.stop()


def _activity(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    service, func = name.split(".")
    kind = "probe" if func in PROBES else "action"
    return {
        "type": kind,
        "name": name,
        "provider": {
            "type": "python",
            "module": f"chaosaws.{service}.{'probes' if kind == 'probe' else 'actions'}",
            "func": func,
            "arguments": arguments,
        },
    }


PROBES = {
    "get_hosted_zone",
    "get_health_check_status",
    "get_dns_answer",
    "instance_status",
    "cluster_status",
    "cluster_membership_count",
    "get_experiment",
    "get_alarm_state_value",
    "get_metric_statistics",
    "get_metric_data",
    "targets_health_count",
    "all_targets_healthy",
    "is_access_log_enabled",
}


def _plan(lab: Lab, prepared: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(activity, arguments) in the order they run."""
    info = lab.info
    p, s = info.primary, info.secondary
    cluster = f"orders-{p.name}"
    lb = f"gameday-lab-{p.name}"
    return [
        ("route53.get_hosted_zone", {"zone_id": info.zone_id}),
        ("route53.get_health_check_status", {"check_id": p.health_check_id}),
        (
            "route53.get_dns_answer",
            {"zone_id": info.zone_id, "record_name": info.record_name, "record_type": "A"},
        ),
        (
            "route53.associate_vpc_with_zone",
            {"zone_id": info.zone_id, "vpc_id": s.vpc_id, "vpc_region": s.name},
        ),
        (
            "route53.disassociate_vpc_from_zone",
            {"zone_id": info.zone_id, "vpc_id": s.vpc_id, "vpc_region": s.name},
        ),
        ("rds.cluster_status", {"cluster_id": cluster}),
        ("rds.cluster_membership_count", {"cluster_id": cluster}),
        ("rds.instance_status", {"instance_id": f"{cluster}-writer"}),
        (
            "rds.failover_db_cluster",
            {
                "db_cluster_identifier": cluster,
                "target_db_instance_identifier": f"{cluster}-reader",
            },
        ),
        ("rds.reboot_db_instance", {"db_instance_identifier": f"{cluster}-reader"}),
        ("rds.stop_db_instance", {"db_instance_identifier": f"{cluster}-reader"}),
        ("rds.stop_db_cluster", {"db_cluster_identifier": cluster}),
        ("rds.delete_db_cluster_endpoint", {"db_cluster_identifier": cluster}),
        ("rds.delete_db_cluster", {"db_cluster_identifier": cluster, "skip_final_snapshot": True}),
        ("fis.start_experiment", {"experiment_template_id": prepared["template"]}),
        ("fis.get_experiment", {"experiment_id": "{experiment}"}),
        ("fis.stop_experiment", {"experiment_id": "{experiment}"}),
        ("fis.stop_experiments_by_tags", {"tags": {"gameday": "activities"}}),
        (
            "fis.start_availability_zone_power_interruption_scenario",
            {"az": f"{p.name}a", "tags": {"gameday": "az-power"}, "duration": "PT5M"},
        ),
        (
            "fis.restore_availability_zone_power_after_interruption",
            {"tags": {"gameday": "az-power"}},
        ),
        (
            "cloudwatch.put_metric_data",
            {
                "namespace": "Gameday/Activities",
                "metric_data": [{"MetricName": "Errors", "Value": 1.0}],
            },
        ),
        ("cloudwatch.get_alarm_state_value", {"alarm_name": prepared["alarm"]}),
        (
            "cloudwatch.get_metric_statistics",
            {
                "namespace": "AWS/Route53",
                "metric_name": "HealthCheckStatus",
                "dimension_name": "HealthCheckId",
                "dimension_value": p.health_check_id,
                "duration": 600,
                "statistic": "Minimum",
            },
        ),
        (
            "cloudwatch.get_metric_data",
            {
                "namespace": "AWS/Route53",
                "metric_name": "HealthCheckPercentageHealthy",
                "dimension_name": "HealthCheckId",
                "dimension_value": p.health_check_id,
                "duration": 600,
                "period": 60,
                "statistic": "Average",
            },
        ),
        (
            "cloudwatch.put_rule",
            {"rule_name": "gameday-rule", "schedule_expression": "rate(5 minutes)"},
        ),
        (
            "cloudwatch.put_rule_targets",
            {
                "rule_name": "gameday-rule",
                "targets": [{"Id": "t1", "Arn": prepared["topic"]}],
            },
        ),
        ("cloudwatch.disable_rule", {"rule_name": "gameday-rule"}),
        ("cloudwatch.enable_rule", {"rule_name": "gameday-rule"}),
        ("cloudwatch.remove_rule_targets", {"rule_name": "gameday-rule", "target_ids": ["t1"]}),
        ("cloudwatch.delete_rule", {"rule_name": "gameday-rule"}),
        ("elbv2.targets_health_count", {"tg_names": [lb]}),
        ("elbv2.all_targets_healthy", {"tg_names": [lb]}),
        ("elbv2.is_access_log_enabled", {"load_balancer_arn": p.load_balancer_arn}),
        (
            "elbv2.enable_access_log",
            {
                "load_balancer_arn": p.load_balancer_arn,
                "enable": True,
                "bucket_name": prepared["bucket"],
            },
        ),
        (
            "elbv2.set_security_groups",
            {"load_balancer_names": [lb], "security_group_ids": [prepared["sg"]]},
        ),
        ("elbv2.set_subnets", {"load_balancer_names": [lb], "subnet_ids": [p.subnet_id]}),
        ("elbv2.deregister_target", {"tg_name": lb}),
        (
            "rds.delete_db_instance",
            {"db_instance_identifier": f"{cluster}-reader", "skip_final_snapshot": True},
        ),
        ("elbv2.delete_load_balancer", {"load_balancer_names": [lb]}),
    ]


def _prepare(lab: Lab) -> dict[str, str]:
    """What some activities need besides the lab's own resources (a template, an alarm ...)."""
    info = lab.info
    region = info.primary.name
    fis = boto3.client("fis", region_name=region)
    template = fis.create_experiment_template(
        clientToken="activities",
        description="chaostoolkit-aws activities on the lab",
        roleArn="arn:aws:iam::123456789012:role/gameday-fis",
        stopConditions=[{"source": "none"}],
        targets={
            "t": {
                "resourceType": "aws:dynamodb:global-table",
                "resourceArns": [f"arn:aws:dynamodb:{region}:123456789012:table/orders"],
                "selectionMode": "ALL",
            }
        },
        actions={
            "pause": {
                "actionId": "aws:dynamodb:global-table-pause-replication",
                "parameters": {"duration": "PT10M"},
                "targets": {"Tables": "t"},
            }
        },
        tags={"gameday": "activities"},
    )["experimentTemplate"]["id"]
    cw = boto3.client("cloudwatch", region_name=region)
    cw.put_metric_alarm(
        AlarmName="gameday-activities",
        Namespace="Gameday/Activities",
        MetricName="Errors",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    topic = boto3.client("sns", region_name=region).create_topic(Name="gameday")["TopicArn"]
    bucket = "gameday-lab-access-logs"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    sg = boto3.client("ec2", region_name=region).create_security_group(
        GroupName="gameday-activities", Description="lab", VpcId=info.primary.vpc_id
    )["GroupId"]
    return {
        "template": template,
        "alarm": "gameday-activities",
        "topic": topic,
        "bucket": bucket,
        "sg": sg,
    }


def test_every_chaostoolkit_aws_activity_works_or_is_an_aws_refusal(
    activity_lab: Lab, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in activity_lab.env().items():
        monkeypatch.setenv(name, value)
    configuration = {"aws_region": activity_lab.info.primary.name}
    prepared = _prepare(activity_lab)
    outcomes: list[tuple[str, str, str]] = []
    results: dict[str, Any] = {}
    for name, arguments in _plan(activity_lab, prepared):
        arguments = {
            k: (v.format(**results) if isinstance(v, str) and v.startswith("{") else v)
            for k, v in arguments.items()
        }
        try:
            result = run_activity(_activity(name, arguments), configuration, {})
        except ActivityFailed as exc:
            outcomes.append((name, "refused", f"{_aws_code(exc)}: {str(exc)[:160]}"))
            continue
        if name == "fis.start_experiment":
            results["experiment"] = result["experiment"]["id"]
        outcomes.append((name, "works", ""))
    with capsys.disabled():
        print("\nchaostoolkit-aws activities on the lab:")
        for name, outcome, detail in outcomes:
            print(f"  {outcome:<8} {name}  {detail}")
        for name, why in NOT_APPLICABLE.items():
            print(f"  n/a      {name}  ({why})")
    unexpected = []
    for name, outcome, detail in outcomes:
        if outcome == "works":
            if name in REFUSED:
                unexpected.append(f"{name} worked, but AWS refuses it ({REFUSED[name][1]})")
            continue
        code = REFUSED.get(name, ("", ""))[0]
        if not code or not detail.startswith(f"{code}:"):
            unexpected.append(f"{name} failed without AWS's refusal: {detail}")
    assert not unexpected, "\n".join(unexpected)
    assert {n for n, _, _ in outcomes} | set(NOT_APPLICABLE) == _every_activity()


def _aws_code(exc: BaseException) -> str:
    """The AWS error code behind an activity's failure (chaostoolkit-aws keeps only the
    message; the ClientError is in the exception chain), or "" when AWS said nothing."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            return str(seen.response.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return ""


def _every_activity() -> set[str]:
    import importlib

    found = set()
    for service in ("route53", "rds", "fis", "cloudwatch", "elbv2"):
        for kind in ("actions", "probes"):
            module = importlib.import_module(f"chaosaws.{service}.{kind}")
            found |= {f"{service}.{n}" for n in getattr(module, "__all__", [])}
    return found
