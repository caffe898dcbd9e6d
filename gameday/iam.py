"""``gameday iam EXPERIMENT``: the least-privilege IAM policy a drill needs.

:data:`ACTIVITY_ACTIONS` says which AWS API actions each activity calls (gameday's own,
chaostoolkit-aws's used by the catalogue); :data:`CONTROL_ACTIONS` what the gameday
control itself calls (the allowlist's identity check, the preflight's look-ups, the
sampler's probes, the floors read at run start). :func:`policy` collects, for one
experiment, the actions of every activity it uses (runbook steps' automated actions
included) into one IAM policy document. A test holds every name against botocore's
service models, and the lab drills record the calls really made and compare.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from gameday.drill import DrillError

_R53_HC = ("route53:GetHealthCheck", "route53:UpdateHealthCheck")
_FIS_START = (
    "fis:ListExperimentTemplates",
    "fis:GetExperimentTemplate",
    "fis:CreateExperimentTemplate",
    "fis:TagResource",
    "fis:StartExperiment",
    "fis:GetExperiment",
    "iam:PassRole",
)
_FIS_STOP = ("fis:ListExperiments", "fis:GetExperiment", "fis:StopExperiment")

#: module.func -> the AWS API actions it may call.
ACTIVITY_ACTIONS: dict[str, tuple[str, ...]] = {
    "gameday.actions.route53.invert_health_check": _R53_HC,
    "gameday.actions.route53.restore_health_check": _R53_HC,
    "gameday.actions.ec2.block_endpoint": ("ec2:DescribeNetworkAcls", "ec2:CreateNetworkAclEntry"),
    "gameday.actions.ec2.unblock_endpoint": (
        "ec2:DescribeNetworkAcls",
        "ec2:DeleteNetworkAclEntry",
    ),
    "gameday.actions.fis.pause_replication": _FIS_START,
    "gameday.actions.fis.disrupt_cross_region_connectivity": _FIS_START,
    "gameday.actions.fis.resume_replication": _FIS_STOP,
    "gameday.actions.fis.restore_cross_region_connectivity": _FIS_STOP,
    "gameday.actions.rds.failover_database": (
        "rds:DescribeGlobalClusters",
        "rds:FailoverGlobalCluster",
    ),
    "gameday.actions.rds.switchover_database": (
        "rds:DescribeGlobalClusters",
        "rds:SwitchoverGlobalCluster",
    ),
    "gameday.actions.secretsmanager.remove_secret_replica": (
        "secretsmanager:DescribeSecret",
        "secretsmanager:RemoveRegionsFromReplication",
    ),
    "gameday.actions.secretsmanager.restore_secret_replica": (
        "secretsmanager:DescribeSecret",
        "secretsmanager:ReplicateSecretToRegions",
    ),
    "gameday.actions.arc.set_routing_control_state": (
        "route53-recovery-control-config:DescribeCluster",
        "route53-recovery-cluster:GetRoutingControlState",
        "route53-recovery-cluster:UpdateRoutingControlState",
    ),
    "gameday.actions.arc.restore_routing_control_state": (
        "route53-recovery-control-config:DescribeCluster",
        "route53-recovery-cluster:GetRoutingControlState",
        "route53-recovery-cluster:UpdateRoutingControlState",
    ),
    "gameday.probes.route53.health_check_status": (
        "route53:GetHealthCheck",
        "route53:GetHealthCheckStatus",
        "cloudwatch:GetMetricData",  # the HealthCheckStatus metric (Inverted applied)
    ),
    "gameday.probes.rds.writer_region": ("rds:DescribeGlobalClusters",),
    "gameday.probes.secretsmanager.secret_available": ("secretsmanager:GetSecretValue",),
    "gameday.probes.dns.dns_answer": (),
    "gameday.probes.http.endpoint_available": (),
    "gameday.probes.replication.replication_lag": (),
    "gameday.runbook.operator_step": (),
    # on AWS an FIS pause of the global table (the lab's own knob needs no AWS call)
    "gameday.drill.lag.delay_replication": _FIS_START,
    "gameday.drill.lag.restore_replication": _FIS_STOP,
    "gameday.drill.replay.replay_acknowledged_writes": (),
    "gameday.actions.baddata.inject_bad_data": (),  # the service's own API, not AWS
    "gameday.actions.baddata.purge_bad_data": (),
    "gameday.actions.restore.restore_database_to_point_in_time": (
        "rds:DescribeDBClusters",
        "rds:RestoreDBClusterToPointInTime",
        "rds:AddTagsToResource",
    ),
    "gameday.probes.restore.wait_for_restore": ("rds:DescribeDBClusters",),
    "gameday.actions.restore.cut_over_database": (
        "rds:DescribeDBClusters",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    ),
    "gameday.actions.restore.roll_back_cut_over": (
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    ),
    "gameday.actions.restore.delete_restored_cluster": (
        "rds:DescribeDBClusters",
        "rds:DeleteDBCluster",
    ),
    "gameday.probes.data.corrupted_records": (),
    "chaosaws.route53.probes.get_health_check_status": ("route53:GetHealthCheckStatus",),
    "chaosaws.fis.probes.get_experiment": ("fis:GetExperiment",),
}

#: What the gameday control calls in every drill (allowlist, preflight, sampler, floors).
CONTROL_ACTIONS = (
    "sts:GetCallerIdentity",
    "route53:GetHealthCheck",
    "route53:GetHealthCheckStatus",
    "cloudwatch:GetMetricData",
    "route53:ListResourceRecordSets",
    "rds:DescribeGlobalClusters",
)
#: Preflight look-ups made only when the experiment uses the variable.
PREFLIGHT_ACTIONS = {
    "primary_network_acl_id": "ec2:DescribeNetworkAcls",
    "secondary_network_acl_id": "ec2:DescribeNetworkAcls",
    "primary_subnet_id": "ec2:DescribeSubnets",
    "secondary_subnet_id": "ec2:DescribeSubnets",
    "secret_name": "secretsmanager:DescribeSecret",
    "table_name": "dynamodb:DescribeTable",
}


#: botocore signing names that differ from the IAM service prefix.
_IAM_PREFIXES = {"monitoring": "cloudwatch"}


def iam_prefix(service_model: Any) -> str:
    """The IAM service prefix of a botocore service model (``monitoring`` is ``cloudwatch``)."""
    name = service_model.signing_name or service_model.endpoint_prefix
    return _IAM_PREFIXES.get(name, name)


def activities(experiment: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Every python provider the experiment calls (automated runbook steps included)."""
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    for activity in [
        *(hypothesis.get("probes") or []),
        *(experiment.get("method") or []),
        *(experiment.get("rollbacks") or []),
    ]:
        provider = activity.get("provider") or {} if isinstance(activity, dict) else {}
        if provider.get("type") != "python":
            continue
        yield provider
        automated = (provider.get("arguments") or {}).get("automated")
        if isinstance(automated, dict):
            yield automated


def actions_for(experiment: Mapping[str, Any]) -> list[str]:
    """The sorted AWS API actions the experiment's drill calls; DrillError if unknown."""
    from gameday.drill.preflight import referenced_variables

    needed = set(CONTROL_ACTIONS)
    unknown = []
    for provider in activities(experiment):
        name = f"{provider.get('module')}.{provider.get('func')}"
        if name not in ACTIVITY_ACTIONS:
            unknown.append(name)
            continue
        needed.update(ACTIVITY_ACTIONS[name])
    if unknown:
        raise DrillError(
            f"no IAM mapping for {', '.join(sorted(set(unknown)))}: add it to gameday.iam.ACTIVITY_ACTIONS."
        )
    used = referenced_variables(experiment)
    needed.update(action for var, action in PREFLIGHT_ACTIONS.items() if var in used)
    return sorted(needed)


def policy(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """The IAM policy document (one statement per service) for the experiment's drill."""
    by_service: dict[str, list[str]] = {}
    for action in actions_for(experiment):
        by_service.setdefault(action.split(":", 1)[0], []).append(action)
    statements = []
    for service, names in sorted(by_service.items()):
        statement: dict[str, Any] = {
            "Sid": "Gameday" + "".join(p.capitalize() for p in service.split("-")),
            "Effect": "Allow",
            "Action": names,
            "Resource": "*",
        }
        if service == "iam":
            statement["Condition"] = {"StringEquals": {"iam:PassedToService": "fis.amazonaws.com"}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def render(experiment: Mapping[str, Any]) -> str:
    return json.dumps(policy(experiment), indent=2)
