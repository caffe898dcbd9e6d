"""AWS Fault Injection Service actions: pause replication, cut cross-region connectivity.

Each action starts an FIS experiment that lasts ``duration`` (ISO 8601, e.g. ``PT5M``)
and stops by itself when it ends; its rollback stops it earlier. Give either an
existing ``template_id``, or the resources and an IAM ``role_arn`` FIS may assume (or the
configuration key ``gameday_fis_role_arn``): gameday then creates the template once and
reuses it on later runs (it is tagged ``gameday:template-key``).

FIS actions used: ``aws:dynamodb:global-table-pause-replication``,
``aws:s3:bucket-pause-replication`` and
``aws:network:route-table-disrupt-cross-region-connectivity``.
"""

import time
import uuid
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from gameday import activity, registry
from gameday.actions._fistemplates import HINTS as _HINTS
from gameday.actions._fistemplates import check_template as _check_template
from gameday.actions._fistemplates import ensure_template as _ensure_template
from gameday.durations import DurationError, bound_fis_duration, iso8601_seconds
from gameday.faults import FAILED, Undo

__all__ = [
    "disrupt_cross_region_connectivity",
    "pause_replication",
    "restore_cross_region_connectivity",
    "resume_replication",
]

#: What starting an FIS experiment from a template gameday creates (and tags) may call.
START_IAM = (
    "fis:ListExperimentTemplates",
    "fis:GetExperimentTemplate",
    "fis:CreateExperimentTemplate",
    "fis:TagResource",
    "fis:StartExperiment",
    "fis:GetExperiment",
    "iam:PassRole",
)
#: What stopping the experiments a fault started may call.
STOP_IAM = ("fis:ListExperiments", "fis:GetExperiment", "fis:StopExperiment")

_MODULE = __name__
_FINISHED = frozenset({"completed", "stopped", "failed", "cancelled", "stopping"})
_FAULT_TAG = "gameday:fault-id"


def _check_duration(duration: str) -> str:
    """``duration`` checked, and cut to the running drill's maximum duration (if any)."""
    try:
        iso8601_seconds(duration)
    except DurationError as exc:
        raise activity.fail(f"Bad `duration`: {exc}.") from exc
    return bound_fis_duration(duration)


_duration_check = registry.argument("duration", _check_duration)


def _role(role_arn: str | None, configuration: Configuration) -> str:
    role = role_arn or (configuration or {}).get("gameday_fis_role_arn")
    return activity.require(
        role,
        "role_arn",
        "an IAM role FIS can assume; or set `gameday_fis_role_arn` in the configuration",
    )


def _start(
    *,
    fault: str,
    rollback: str,
    fis: Any,
    region: str,
    template_id: str,
    arguments: dict[str, Any],
    configuration: Configuration,
    failure: str,
) -> dict[str, Any]:
    def apply(fault_id: str) -> dict[str, Any]:
        return fis.start_experiment(
            clientToken=str(uuid.uuid4()),
            experimentTemplateId=template_id,
            tags={_FAULT_TAG: fault_id},
        )["experiment"]

    fault_id, experiment = activity.inject(
        activity=fault,
        target=f"fis:{region}:template:{template_id}",
        arguments=arguments,
        # until the experiment id is known, undo = stop what gameday started from the template
        undo=Undo(_MODULE, rollback, {"region": region, "template_id": template_id}),
        configuration=configuration,
        apply=apply,
        failure=failure,
        hints=_HINTS,
        applied_undo=lambda exp: Undo(
            _MODULE, rollback, {"region": region, "experiment_id": exp["id"]}
        ),
        summary=lambda exp: {"experiment_id": exp["id"]},
    )
    state = _wait_running(fis, experiment, fault_id, configuration)
    return {
        "region": region,
        "experiment_id": experiment["id"],
        "template_id": template_id,
        "state": state,
        "fault_id": fault_id,
    }


#: How long an experiment may stay pending/initiating before the action gives up on it.
START_TIMEOUT = 120.0
START_POLL = 0.2


def _wait_running(
    fis: Any, experiment: dict[str, Any], fault_id: str, configuration: Configuration
) -> str:
    """Return once the experiment runs (or already completed): a drill must not go on
    believing replication is impaired while FIS is still initiating, or after it failed
    (a role it may not assume, targets that resolve to nothing)."""
    experiment_id = experiment["id"]
    status = (experiment.get("state") or {}).get("status", "pending")
    reason = (experiment.get("state") or {}).get("reason", "")
    deadline = time.monotonic() + START_TIMEOUT
    while status in ("pending", "initiating"):
        if time.monotonic() > deadline:
            raise activity.fail(
                f"FIS experiment {experiment_id} was still {status} after {START_TIMEOUT:.0f} s; "
                "the rollback (or `gameday recover`) stops it"
            )
        time.sleep(START_POLL)
        state = activity.call(
            fis,
            "get_experiment",
            f"Could not follow FIS experiment {experiment_id}; the rollback (or `gameday recover`) stops it",
            id=experiment_id,
        )["experiment"]["state"]
        status = state.get("status", "pending")
        reason = state.get("reason", "")
    if status in ("running", "completed"):
        return status
    activity.ledger(configuration).mark(fault_id, FAILED, reason=reason)
    raise activity.fail(
        f"FIS experiment {experiment_id} ended {status} before it took effect ({reason}): "
        "check the FIS role and that the targets exist in that region"
    )


def _stop(
    *,
    fault: str,
    fis: Any,
    region: str,
    experiment_id: str | None,
    template_id: str | None,
    configuration: Configuration,
) -> dict[str, Any]:
    """Stop the experiments designated, or all the open ledger ones of ``fault``."""
    book = activity.ledger(configuration)
    entries = book.open_entries(activity=fault, target_prefix=f"fis:{region}:")
    ids: list[str] = []
    if experiment_id:
        ids.append(experiment_id)
        entries = [
            e
            for e in entries
            if e.undo.kwargs.get("experiment_id") == experiment_id
            or (e.result or {}).get("experiment_id") == experiment_id
        ]
    else:
        if template_id:
            entries = [e for e in entries if e.target.endswith(f":template:{template_id}")]
        pending: dict[str, set[str]] = {}  # template id -> ledger entry ids
        for e in entries:
            known = e.undo.kwargs.get("experiment_id") or (e.result or {}).get("experiment_id")
            if known:
                ids.append(known)
            else:
                pending.setdefault(e.target.rsplit(":", 1)[-1], set()).add(e.id)
        # experiments these entries started but whose id never reached the ledger: found by
        # the entry id they are tagged with, never another run's experiment of the template
        for tid, entry_ids in sorted(pending.items()):
            pages = fis.get_paginator("list_experiments").paginate(experimentTemplateId=tid)
            try:
                for page in pages:
                    for summary in page.get("experiments", []):
                        if (summary.get("tags") or {}).get(_FAULT_TAG) in entry_ids:
                            ids.append(summary["id"])
            except Exception as exc:
                raise activity.as_failure(
                    exc, f"Could not list the FIS experiments of template {tid} in {region}", _HINTS
                ) from exc
    stopped: list[str] = []
    for exp_id in dict.fromkeys(ids):
        try:
            state = activity.call(
                fis,
                "get_experiment",
                f"Could not read FIS experiment {exp_id!r} in {region}",
                _HINTS,
                id=exp_id,
            )["experiment"]["state"]["status"]
        except ActivityFailed as exc:
            if activity.caused_by(exc, "ResourceNotFoundException") and not experiment_id:
                continue
            raise
        if state in _FINISHED:
            continue
        activity.call(
            fis,
            "stop_experiment",
            f"Could not stop FIS experiment {exp_id!r} in {region}",
            _HINTS,
            id=exp_id,
        )
        stopped.append(exp_id)
    book.mark_reverted(entries, by=fault)
    return {"region": region, "stopped": stopped, "reverted": [e.id for e in entries]}


def _every(resource_type: str, arns: list[str]) -> dict[str, Any]:
    """An FIS experiment target selecting every one of ``arns``."""
    return {"resourceType": resource_type, "resourceArns": list(arns), "selectionMode": "ALL"}


def _pause_spec(
    table_arns: list[str] | None,
    bucket_arns: list[str] | None,
    duration: str,
    destination_region: str | None,
) -> dict[str, Any]:
    """The targets and actions of an FIS template pausing the tables' and buckets' replication."""
    targets: dict[str, Any] = {}
    actions: dict[str, Any] = {}
    if table_arns:
        targets["tables"] = _every("aws:dynamodb:global-table", table_arns)
        actions["pause-table-replication"] = {
            "actionId": "aws:dynamodb:global-table-pause-replication",
            "parameters": {"duration": duration},
            "targets": {"Tables": "tables"},
        }
    if bucket_arns:
        targets["buckets"] = _every("aws:s3:bucket", bucket_arns)
        actions["pause-bucket-replication"] = {
            "actionId": "aws:s3:bucket-pause-replication",
            "parameters": {"duration": duration, "region": destination_region},
            "targets": {"Buckets": "buckets"},
        }
    return {"targets": targets, "actions": actions}


@registry.fault(
    rollback="resume_replication",
    iam=START_IAM,
    check=_duration_check,
    note="DynamoDB global table or S3",
)
def pause_replication(
    region: str,
    duration: str = "PT5M",
    template_id: str | None = None,
    table_arns: list[str] | None = None,
    bucket_arns: list[str] | None = None,
    destination_region: str | None = None,
    role_arn: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Pause replication of DynamoDB global tables or S3 buckets with an FIS experiment.

    Runs the experiment in ``region`` (the replication source) for ``duration``. Give a
    ``template_id``, or ``table_arns`` (``aws:dynamodb:global-table-pause-replication``)
    or ``bucket_arns`` with their ``destination_region``
    (``aws:s3:bucket-pause-replication``) and a ``role_arn`` FIS may assume. Recorded in the
    fault ledger before the experiment starts. Roll back with ``resume_replication``.

    Returns ``region``, ``experiment_id``, ``template_id``, ``state`` and ``fault_id``.
    """
    region = activity.check_region(region)
    duration = _check_duration(duration)
    if not template_id and not table_arns and not bucket_arns:
        raise activity.fail(
            "Give `template_id`, or the `table_arns` / `bucket_arns` whose replication to pause."
        )
    if bucket_arns and not template_id:
        destination_region = activity.check_region(destination_region, "destination_region")
    role = None if template_id else _role(role_arn, configuration)
    fis = activity.connect("fis", region, configuration, secrets)
    activity.guard(region, configuration, secrets)
    if template_id:
        template_id = _check_template(fis, region, template_id)
    else:
        template_id = _ensure_template(
            fis,
            region,
            _pause_spec(table_arns, bucket_arns, duration, destination_region),
            role,
            "gameday: pause replication",
        )
    return _start(
        fault="pause_replication",
        rollback="resume_replication",
        fis=fis,
        region=region,
        template_id=template_id,
        arguments={
            "region": region,
            "duration": duration,
            "template_id": template_id,
            "table_arns": table_arns,
            "bucket_arns": bucket_arns,
            "destination_region": destination_region,
        },
        configuration=configuration,
        failure=f"Could not start the FIS experiment pausing replication in {region}",
    )


@registry.rollback(iam=STOP_IAM)
def resume_replication(
    region: str,
    experiment_id: str | None = None,
    template_id: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Stop the FIS experiment pausing replication (rollback of ``pause_replication``).

    Stops ``experiment_id`` when given; otherwise every experiment ``pause_replication``
    started in ``region`` (from ``template_id`` only, when given) that the fault ledger
    still holds open. Experiments already finished are left alone (idempotent).

    Returns ``region``, ``stopped`` (experiment ids) and ``reverted`` (ledger entry ids).
    """
    region = activity.check_region(region)
    fis = activity.connect("fis", region, configuration, secrets)
    activity.guard(region, configuration, secrets)
    return _stop(
        fault="pause_replication",
        fis=fis,
        region=region,
        experiment_id=experiment_id,
        template_id=template_id,
        configuration=configuration,
    )


def _subnet_arn(region: str, account: str, subnet: str) -> str:
    if subnet.startswith("arn:"):
        return subnet
    if not subnet.startswith("subnet-"):
        raise activity.fail(
            f"Bad subnet {subnet!r}: give subnet ids ('subnet-...') or subnet ARNs."
        )
    return f"arn:aws:ec2:{region}:{account}:subnet/{subnet}"


@registry.fault(rollback="restore_cross_region_connectivity", iam=START_IAM, check=_duration_check)
def disrupt_cross_region_connectivity(
    region: str,
    destination_region: str | None = None,
    subnet_ids: list[str] | None = None,
    duration: str = "PT5M",
    template_id: str | None = None,
    role_arn: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Cut traffic from subnets of ``region`` to ``destination_region`` with FIS.

    Uses ``aws:network:route-table-disrupt-cross-region-connectivity`` on ``subnet_ids``
    (ids or ARNs) for ``duration``, or runs the given ``template_id``. Recorded in the fault
    ledger before the experiment starts. Roll back with
    ``restore_cross_region_connectivity``.

    Returns ``region``, ``experiment_id``, ``template_id``, ``state`` and ``fault_id``.
    """
    region = activity.check_region(region)
    duration = _check_duration(duration)
    if not template_id:
        destination_region = activity.check_region(destination_region, "destination_region")
        activity.require(subnet_ids, "subnet_ids", "the subnets whose cross-region traffic to cut")
    role = None if template_id else _role(role_arn, configuration)
    fis = activity.connect("fis", region, configuration, secrets)
    account = activity.guard(region, configuration, secrets)
    if template_id:
        template_id = _check_template(fis, region, template_id)
    else:
        arns = [_subnet_arn(region, account, sub) for sub in subnet_ids or []]
        template_id = _ensure_template(
            fis,
            region,
            {
                "targets": {
                    "subnets": _every("aws:ec2:subnet", arns),
                },
                "actions": {
                    "disrupt-cross-region": {
                        "actionId": "aws:network:route-table-disrupt-cross-region-connectivity",
                        "parameters": {"duration": duration, "region": destination_region},
                        "targets": {"Subnets": "subnets"},
                    }
                },
            },
            role,
            "gameday: disrupt cross-region connectivity",
        )
    return _start(
        fault="disrupt_cross_region_connectivity",
        rollback="restore_cross_region_connectivity",
        fis=fis,
        region=region,
        template_id=template_id,
        arguments={
            "region": region,
            "destination_region": destination_region,
            "subnet_ids": subnet_ids,
            "duration": duration,
            "template_id": template_id,
        },
        configuration=configuration,
        failure=f"Could not start the FIS experiment disrupting connectivity from {region}",
    )


@registry.rollback(iam=STOP_IAM)
def restore_cross_region_connectivity(
    region: str,
    experiment_id: str | None = None,
    template_id: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Stop the FIS experiment cutting cross-region traffic (rollback of
    ``disrupt_cross_region_connectivity``).

    Stops ``experiment_id`` when given; otherwise every experiment
    ``disrupt_cross_region_connectivity`` started in ``region`` (from ``template_id`` only,
    when given) that the fault ledger still holds open. Idempotent.

    Returns ``region``, ``stopped`` (experiment ids) and ``reverted`` (ledger entry ids).
    """
    region = activity.check_region(region)
    fis = activity.connect("fis", region, configuration, secrets)
    activity.guard(region, configuration, secrets)
    return _stop(
        fault="disrupt_cross_region_connectivity",
        fis=fis,
        region=region,
        experiment_id=experiment_id,
        template_id=template_id,
        configuration=configuration,
    )
