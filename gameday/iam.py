"""``gameday iam EXPERIMENT``: the least-privilege IAM policy a drill needs.

Each activity declares the AWS API actions it calls beside its definition
(:mod:`gameday.registry`; chaostoolkit-aws's used by the catalogue are declared there
too); :data:`CONTROL_ACTIONS` says what the gameday
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

from gameday import registry
from gameday.drill import DrillError

#: What the gameday control calls in every drill (allowlist, preflight, sampler, floors,
#: and the production guard, which reads the tags of the NACLs and health checks the var
#: file names: :mod:`gameday.drill.safety`).
CONTROL_ACTIONS = (
    "sts:GetCallerIdentity",
    "route53:ListTagsForResource",
    "ec2:DescribeNetworkAcls",
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
    name = str(service_model.signing_name or service_model.endpoint_prefix)
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
        spec = registry.lookup(
            str(provider.get("module")), str(provider.get("func")), import_any=True
        )
        if spec is None:
            unknown.append(f"{provider.get('module')}.{provider.get('func')}")
            continue
        needed.update(spec.iam)
    if unknown:
        raise DrillError(
            f"no IAM actions declared for {', '.join(sorted(set(unknown)))}: declare them "
            "with a gameday.registry decorator beside the activity."
        )
    used = referenced_variables(experiment)
    needed.update(action for var, action in PREFLIGHT_ACTIONS.items() if var in used)
    return sorted(needed)


def policy(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """The IAM policy document (one statement per service) for the experiment's drill."""
    return policy_document(actions_for(experiment))


def policy_document(actions: Iterable[str]) -> dict[str, Any]:
    """An IAM policy document allowing ``actions``, one statement per service."""
    by_service: dict[str, list[str]] = {}
    for action in sorted(set(actions)):
        by_service.setdefault(action.split(":", 1)[0], []).append(action)
    statements = []
    for service, names in sorted(by_service.items()):
        statement: dict[str, Any] = {
            "Sid": "Gameday" + "".join(p.capitalize() for p in service.split("-")),
            "Effect": "Allow",
            "Action": names,
            "Resource": "*",
        }
        if "iam:PassRole" in names:
            statement["Condition"] = {"StringEquals": {"iam:PassedToService": "fis.amazonaws.com"}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def render(experiment: Mapping[str, Any]) -> str:
    return json.dumps(policy(experiment), indent=2)


def discover_policy() -> str:
    """``gameday iam --discover``: the read-only policy ``gameday discover`` needs, derived
    from the only calls its reader may make (:data:`gameday.discovery.reader.READ_CALLS`)."""
    from gameday.discovery.reader import iam_actions

    return json.dumps(policy_document(iam_actions()), indent=2)
