"""AWS Fault Injection Service, emulated on the lab's clock.

moto stores experiment templates and experiments but finishes every experiment at once and
has no effects. The lab validates templates as FIS does (known action ids, their targets
and parameters, ISO 8601 durations), resolves targets against the control plane when an
experiment starts, and runs a timeline: pending -> initiating -> running -> completed, each
action from its start (after the actions it ``startAfter``) for its ``duration`` divided by
the lab's speed (``PT5M`` runs 30 lab seconds at speed 10, :mod:`gameday.lab.clock`);
``stop_experiment`` ends every effect at once (stopping -> stopped).

The effects the lab's data plane honours (:data:`EMULATED`):

* ``aws:dynamodb:global-table-pause-replication`` on the lab's table: in the ``dynamodb``
  data tier the global table's replication pauses in both directions; in the ``aurora``
  tier the orders are not in that table and nothing changes for them;
* ``aws:network:route-table-disrupt-cross-region-connectivity`` on a region's subnet (with
  ``region`` naming the other lab region): traffic between the two regions' addresses
  through the VPC is dropped; managed replication (Aurora storage, DynamoDB global tables)
  does not travel that way and keeps flowing;
* ``aws:network:disrupt-connectivity`` with ``scope`` ``all`` on a region's subnet: the
  region's address is black-holed.

Validation follows AWS's FIS actions reference for the actions whose parameters the lab
knows (:data:`ACTIONS`: parameter names, required ones, duration limits). Other real FIS
actions (:data:`NOT_EMULATED`, for example ``aws:ssm:start-automation-execution`` that AWS's
published Aurora global failover template uses) are accepted as AWS accepts them and run
their timeline with a "no effect in the lab" event, so real templates load unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gameday.durations import DurationError, iso8601_seconds
from gameday.lab.clock import LabClock
from gameday.lab.controlplane import ec2
from gameday.lab.controlplane.server import LAB_ACCOUNT_ID

#: Action id -> (target key -> resource type, required parameters, optional parameters).
ACTIONS: dict[str, tuple[dict[str, str], set[str], set[str]]] = {
    "aws:fis:wait": ({}, {"duration"}, set()),
    "aws:dynamodb:global-table-pause-replication": (
        {"Tables": "aws:dynamodb:global-table"},
        {"duration"},
        set(),
    ),
    "aws:s3:bucket-pause-replication": (
        {"Buckets": "aws:s3:bucket"},
        {"duration", "region"},
        {"destinationBuckets", "prefixes"},
    ),
    "aws:network:route-table-disrupt-cross-region-connectivity": (
        {"Subnets": "aws:ec2:subnet"},
        {"duration", "region"},
        {"preserveSession"},
    ),
    "aws:network:transit-gateway-disrupt-cross-region-connectivity": (
        {"TransitGateways": "aws:ec2:transit-gateway"},
        {"duration", "region"},
        set(),
    ),
    "aws:network:disrupt-connectivity": (
        {"Subnets": "aws:ec2:subnet"},
        {"duration"},
        {"scope", "prefixListIdentifier"},
    ),
    "aws:ec2:stop-instances": (
        {"Instances": "aws:ec2:instance"},
        set(),
        {"startInstancesAfterDuration", "completeIfInstancesTerminated"},
    ),
    "aws:ec2:reboot-instances": ({"Instances": "aws:ec2:instance"}, set(), set()),
    "aws:ec2:terminate-instances": ({"Instances": "aws:ec2:instance"}, set(), set()),
    "aws:rds:failover-db-cluster": ({"Clusters": "aws:rds:cluster"}, set(), set()),
    "aws:rds:reboot-db-instances": ({"DBInstances": "aws:rds:db"}, set(), {"forceFailover"}),
    "aws:ssm:send-command": (
        {"Instances": "aws:ec2:instance"},
        {"documentArn", "duration"},
        {"documentVersion", "documentParameters"},
    ),
    "aws:fis:inject-api-internal-error": (
        {"Roles": "aws:iam:role"},
        {"duration", "service", "operations", "percentage"},
        set(),
    ),
    "aws:fis:inject-api-throttle-error": (
        {"Roles": "aws:iam:role"},
        {"duration", "service", "operations", "percentage"},
        set(),
    ),
    "aws:fis:inject-api-unavailable-error": (
        {"Roles": "aws:iam:role"},
        {"duration", "service", "operations", "percentage"},
        set(),
    ),
    "aws:cloudwatch:assert-alarm-state": ({}, {"alarmArns", "alarmStates"}, set()),
    "aws:ssm:start-automation-execution": (
        {},
        {"documentArn"},
        {"documentParameters", "documentVersion", "maxDuration"},
    ),
}
#: Actions whose effect the lab emulates; every other accepted action has no effect here.
EMULATED = frozenset(
    {
        "aws:fis:wait",
        "aws:dynamodb:global-table-pause-replication",
        "aws:network:route-table-disrupt-cross-region-connectivity",
        "aws:network:disrupt-connectivity",
    }
)
#: Real FIS action ids the lab knows exist but has no parameter table for: accepted with any
#: parameters and targets (a ``duration``, if given, must still be ISO 8601).
NOT_EMULATED = frozenset(
    {
        "aws:arc:start-zonal-autoshift",
        "aws:dsql:cluster-connection-failure",
        "aws:ebs:pause-volume-io",
        "aws:ec2:api-insufficient-instance-capacity-error",
        "aws:ec2:asg-insufficient-instance-capacity-error",
        "aws:ec2:send-spot-instance-interruptions",
        "aws:ecs:drain-container-instances",
        "aws:ecs:stop-task",
        "aws:ecs:task-cpu-stress",
        "aws:ecs:task-io-stress",
        "aws:ecs:task-kill-process",
        "aws:ecs:task-network-blackhole-port",
        "aws:ecs:task-network-latency",
        "aws:ecs:task-network-packet-loss",
        "aws:eks:inject-kubernetes-custom-resource",
        "aws:eks:pod-cpu-stress",
        "aws:eks:pod-delete",
        "aws:eks:pod-io-stress",
        "aws:eks:pod-memory-stress",
        "aws:eks:pod-network-blackhole-port",
        "aws:eks:pod-network-latency",
        "aws:eks:pod-network-packet-loss",
        "aws:eks:terminate-nodegroup-instances",
        "aws:elasticache:replicationgroup-interrupt-az-power",
        "aws:lambda:invocation-add-delay",
        "aws:lambda:invocation-error",
        "aws:lambda:invocation-http-integration-response",
        "aws:network:disrupt-vpc-endpoint",
    }
)
#: Duration limits (AWS seconds) where the actions reference gives them; every other timed
#: action is limited to 12 hours, FIS's longest action duration.
MAX_DURATION = 12 * 3600.0
MIN_DURATION = {
    "aws:s3:bucket-pause-replication": 60.0,
    "aws:network:disrupt-connectivity": 60.0,
    "aws:fis:inject-api-internal-error": 60.0,
    "aws:fis:inject-api-throttle-error": 60.0,
    "aws:fis:inject-api-unavailable-error": 60.0,
}
DISRUPT_SCOPES = {"all", "availability-zone", "dynamodb", "prefix-list", "s3"}
PENDING_FOR = 0.1  # lab seconds in "pending"
INITIATING_FOR = 0.1  # lab seconds in "initiating"
STOPPING_FOR = 0.1  # lab seconds in "stopping"

#: FIS durations taken as lab seconds (for tests of the timeline itself).
REAL_TIME = LabClock(1)


class FisValidationError(ValueError):
    """A template FIS would reject (becomes a ValidationException)."""


def parse_duration(value: str) -> float:
    """Seconds in an ISO 8601 duration such as ``PT5M`` or ``PT30S``."""
    try:
        return iso8601_seconds(value)
    except DurationError as exc:
        raise FisValidationError(f"duration {exc}") from exc


def validate_template(actions: dict[str, Any], targets: dict[str, Any]) -> None:
    """Reject what FIS rejects at CreateExperimentTemplate."""
    if not actions:
        raise FisValidationError("an experiment template needs at least one action")
    for name, action in actions.items():
        action_id = action.get("actionId")
        params = action.get("parameters") or {}
        if action_id in NOT_EMULATED:
            if "duration" in params:
                _check_duration(name, action_id, params["duration"])
            _check_start_after(name, action, actions)
            continue
        if action_id not in ACTIONS:
            raise FisValidationError(f"action {name!r}: {action_id!r} is not a valid action id")
        target_keys, required, optional = ACTIONS[action_id]
        missing = required - set(params)
        if missing:
            raise FisValidationError(
                f"action {name!r} ({action_id}) needs parameter(s) {', '.join(sorted(missing))}"
            )
        unknown = set(params) - required - optional
        if unknown:
            raise FisValidationError(
                f"action {name!r} ({action_id}) has unknown parameter(s) {', '.join(sorted(unknown))}"
            )
        if "duration" in params:
            _check_duration(name, action_id, params["duration"])
        if (
            action_id == "aws:network:disrupt-connectivity"
            and params.get("scope", "all") not in DISRUPT_SCOPES
        ):
            raise FisValidationError(
                f"action {name!r}: scope must be one of {', '.join(sorted(DISRUPT_SCOPES))}"
            )
        for key, target_name in (action.get("targets") or {}).items():
            if key not in target_keys:
                raise FisValidationError(f"action {name!r} ({action_id}) has no target key {key!r}")
            target = targets.get(target_name)
            if target is None:
                raise FisValidationError(
                    f"action {name!r} refers to target {target_name!r}, which the template does not define"
                )
            if target.get("resourceType") != target_keys[key]:
                raise FisValidationError(
                    f"target {target_name!r} must have resourceType {target_keys[key]} for {action_id}"
                )
        for key in target_keys:
            if key not in (action.get("targets") or {}):
                raise FisValidationError(f"action {name!r} ({action_id}) needs a {key} target")
        _check_start_after(name, action, actions)


def _check_duration(name: str, action_id: str, value: str) -> None:
    seconds = parse_duration(value)
    low = MIN_DURATION.get(action_id, 0.0)
    if not low <= seconds <= MAX_DURATION or seconds <= 0:
        shortest = "one minute" if low else "more than zero"
        raise FisValidationError(
            f"action {name!r} ({action_id}): duration {value} is out of range "
            f"(from {shortest} to 12 hours)"
        )


def _check_start_after(name: str, action: dict[str, Any], actions: dict[str, Any]) -> None:
    for after in action.get("startAfter") or []:
        if after not in actions:
            raise FisValidationError(f"action {name!r} starts after unknown action {after!r}")


@dataclass
class ActionRun:
    """One action's place on an experiment's timeline."""

    name: str
    action_id: str
    parameters: dict[str, Any]
    resources: dict[str, list[str]]  # target key -> resolved ARNs
    start: float
    end: float


@dataclass
class ExperimentRun:
    """The lab's clock for one experiment."""

    experiment_id: str
    region: str
    started: float
    actions: list[ActionRun]
    failed_reason: str | None = None
    stopped_at: float | None = None
    finished: set[str] = field(default_factory=set)
    #: Actions whose start the lab has announced (a "no effect in the lab" event, ...).
    announced: set[str] = field(default_factory=set)

    @property
    def running_from(self) -> float:
        return self.started + PENDING_FOR + INITIATING_FOR

    @property
    def completes_at(self) -> float:
        return max((a.end for a in self.actions), default=self.running_from)

    def status(self, now: float) -> str:
        if now < self.started + PENDING_FOR:
            return "pending"
        if self.failed_reason is not None and now >= self.running_from:
            return "failed"
        if now < self.running_from:
            return "initiating"
        if self.stopped_at is not None:
            return "stopping" if now < self.stopped_at + STOPPING_FOR else "stopped"
        return "running" if now < self.completes_at else "completed"

    def end_time(self, now: float) -> float | None:
        status = self.status(now)
        if status == "completed":
            return self.completes_at
        if status == "stopped":
            assert self.stopped_at is not None
            return self.stopped_at + STOPPING_FOR
        if status == "failed":
            return self.running_from
        return None

    def action_status(
        self, action: ActionRun, now: float
    ) -> tuple[str, float | None, float | None]:
        """(status, startTime, endTime) of one action now."""
        if self.failed_reason is not None or now < action.start:
            cancelled = self.stopped_at is not None and self.stopped_at <= action.start
            if self.failed_reason is not None and now >= self.running_from:
                return "cancelled", None, None
            return ("cancelled" if cancelled else "pending"), None, None
        if self.stopped_at is not None and self.stopped_at < action.end:
            return (
                ("stopping" if now < self.stopped_at + STOPPING_FOR else "stopped"),
                action.start,
                self.stopped_at,
            )
        if now < action.end:
            return "running", action.start, None
        return "completed", action.start, action.end

    def begun(self, now: float) -> list[ActionRun]:
        """Actions that have started by ``now`` (whether or not their effect still holds)."""
        if self.failed_reason is not None:
            return []
        until = self.stopped_at if self.stopped_at is not None else float("inf")
        return [a for a in self.actions if a.start <= now and a.start <= until]

    def active(self, now: float) -> list[ActionRun]:
        """Actions whose effect holds now."""
        if self.failed_reason is not None:
            return []
        until = self.stopped_at if self.stopped_at is not None else float("inf")
        return [a for a in self.actions if a.start <= now < min(a.end, until)]


def plan(
    experiment_id: str,
    region: str,
    started: float,
    actions: dict[str, Any],
    resolved: dict[str, dict[str, list[str]]],
    clock: LabClock = REAL_TIME,
) -> ExperimentRun:
    """Lay out the actions on the lab's clock, honouring ``startAfter``."""
    runs: dict[str, ActionRun] = {}
    run = ExperimentRun(experiment_id, region, started, [])
    pending = dict(actions)
    while pending:
        progressed = False
        for name, action in list(pending.items()):
            after = action.get("startAfter") or []
            if any(a not in runs for a in after):
                continue
            start = max([run.running_from, *(runs[a].end for a in after)])
            params = action.get("parameters") or {}
            aws_seconds = parse_duration(params["duration"]) if "duration" in params else 0.0
            duration = clock.aws_to_lab(aws_seconds)
            runs[name] = ActionRun(
                name, action["actionId"], params, resolved.get(name, {}), start, start + duration
            )
            del pending[name]
            progressed = True
        if not progressed:
            raise FisValidationError("the actions' startAfter form a cycle")
    run.actions = list(runs.values())
    return run


# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


def runs() -> list[ExperimentRun]:
    """Every experiment the lab has started, in every region (what the data plane reads).

    The run lives on moto's experiment object, so the control plane publishes it and the
    fault reconciler only reads it; nothing else shares it.
    """
    from moto.fis.models import fis_backends

    found = []
    for backend in list(fis_backends[LAB_ACCOUNT_ID].values()):
        for experiment in list(backend.experiments.values()):
            run = getattr(experiment, "_lab_run", None)
            if run is not None:
                found.append(run)
    return found


def _table_arns(region: str) -> list[str]:
    from moto.dynamodb.models import dynamodb_backends

    return [t.table_arn for t in list(dynamodb_backends[LAB_ACCOUNT_ID][region].tables.values())]


def install(clock: LabClock = REAL_TIME) -> None:
    """FIS templates are validated, experiments run on the lab's clock with effects."""
    import time as _time

    from moto.fis.exceptions import FISException
    from moto.fis.models import Experiment, FISBackend

    class ValidationException(FISException):
        code = 400

        def __init__(self, message: str) -> None:
            super().__init__("ValidationException", message)

    create_template = FISBackend.create_experiment_template
    start = FISBackend.start_experiment
    managed_status = Experiment.status

    def create_experiment_template(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            validate_template(kwargs.get("actions") or {}, kwargs.get("targets") or {})
        except FisValidationError as exc:
            raise ValidationException(str(exc)) from exc
        return create_template(self, *args, **kwargs)

    def start_experiment(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = start(self, *args, **kwargs)
        experiment = self.experiments[result["id"]]
        if getattr(experiment, "_lab_run", None) is not None:
            return result  # an idempotent retry with the same client token
        resolved, failure = _resolve_targets(
            self.region_name, experiment.targets, experiment.actions
        )
        run = plan(
            experiment.id,
            self.region_name,
            experiment.start_time,
            experiment.actions,
            resolved,
            clock,
        )
        if failure and experiment.experiment_options.get("emptyTargetResolutionMode") != "skip":
            run.failed_reason = failure
            experiment.STATUS_REASONS = {**Experiment.STATUS_REASONS, "failed": failure}
        experiment._lab_run = run
        return experiment.to_dict(tags=self.tagger.get_tag_dict_for_resource(experiment.arn))

    def status_get(self: Any) -> str | None:
        run = getattr(self, "_lab_run", None)
        if run is None:
            return managed_status.fget(self)
        return run.status(_time.time())

    def status_set(self: Any, value: str) -> None:
        run = getattr(self, "_lab_run", None)
        if run is None:
            managed_status.fset(self, value)
        elif value == "stopping" and run.stopped_at is None:
            run.stopped_at = _time.time()

    def sync_state(self: Any) -> str:
        run = getattr(self, "_lab_run", None)
        if run is None:
            return Experiment._moto_sync_state(self)
        now = _time.time()
        status = run.status(now)
        self.end_time = run.end_time(now)
        for action in run.actions:
            state, started, ended = run.action_status(action, now)
            entry = self.actions[action.name]
            entry["state"] = {"status": state, "reason": f"Action is {state}"}
            if started is not None:
                entry["startTime"] = started
            if ended is not None:
                entry["endTime"] = ended
        return status

    Experiment._moto_sync_state = Experiment._sync_state
    Experiment._sync_state = sync_state
    Experiment.status = property(status_get, status_set)
    FISBackend.create_experiment_template = create_experiment_template
    FISBackend.start_experiment = start_experiment


def _resolve_targets(
    region: str, targets: dict[str, Any], actions: dict[str, Any]
) -> tuple[dict[str, dict[str, list[str]]], str | None]:
    """Resolve each action's targets to ARNs in the control plane; (resolved, failure)."""
    subnet_list = ec2.subnets(region)
    tables = _table_arns(region)
    by_target: dict[str, list[str]] = {}
    for name, target in targets.items():
        kind = target.get("resourceType")
        arns = list(target.get("resourceArns") or [])
        tags = target.get("resourceTags") or {}
        if kind == "aws:ec2:subnet":
            if arns:
                known = {arn for _, arn, _ in subnet_list}
                arns = [a for a in arns if a in known]
            elif tags:
                arns = [
                    arn for _, arn, t in subnet_list if all(t.get(k) == v for k, v in tags.items())
                ]
        elif kind == "aws:dynamodb:global-table":
            arns = [a for a in arns if a in tables]
        arns = _select(arns, target.get("selectionMode", "ALL"))
        by_target[name] = arns
    resolved: dict[str, dict[str, list[str]]] = {}
    for action_name, action in actions.items():
        resolved[action_name] = {
            key: by_target.get(t, []) for key, t in (action.get("targets") or {}).items()
        }
        for key, target_name in (action.get("targets") or {}).items():
            if not by_target.get(target_name):
                return (
                    resolved,
                    f"Target resolution failed: target {target_name} ({key}) matched no resource in {region}",
                )
    return resolved, None


def _select(arns: list[str], mode: str) -> list[str]:
    if mode.startswith("COUNT(") and mode.endswith(")"):
        return arns[: int(mode[6:-1])]
    if mode.startswith("PERCENT(") and mode.endswith(")"):
        keep = max(1, round(len(arns) * int(mode[8:-1]) / 100)) if arns else 0
        return arns[:keep]
    return arns
