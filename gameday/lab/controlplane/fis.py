"""AWS Fault Injection Service's rules, as pure functions: templates and timelines.

moto stores experiment templates and experiments but finishes every experiment at once and
has no effects; :mod:`.fismoto` patches it with what this module decides. The lab
validates templates as FIS does (known action ids, their targets
and parameters, ISO 8601 durations), resolves targets against the control plane when an
experiment starts, and runs a timeline: pending -> initiating -> running -> completed, each
action from its start (after the actions it ``startAfter``) for its ``duration`` divided by
the lab's speed (``PT5M`` runs 30 lab seconds at speed 10, :mod:`gameday.lab.clock`);
``stop_experiment`` ends every effect at once (stopping -> stopped).

The effects the lab's data plane honours (:data:`EMULATED`):

* ``aws:dynamodb:global-table-pause-replication`` on the lab's table: in the ``dynamodb``
  data tier the global table's replication pauses in both directions, from a delay after
  the action starts: the FIS actions reference says items may keep replicating for up to
  5 minutes, so the delay is drawn per action from 0-300 AWS seconds (:mod:`..draws`,
  never assumed to be 0); in the ``aurora`` tier the orders are not in that table and
  nothing changes for them;
* ``aws:network:route-table-disrupt-cross-region-connectivity`` on a region's subnet (with
  ``region`` naming the other lab region): traffic between the two regions' addresses
  through the VPC is dropped; managed replication (Aurora storage, DynamoDB global tables)
  does not travel that way and keeps flowing;
* ``aws:network:disrupt-connectivity`` with ``scope`` ``all`` on a region's subnet: the
  region's address is black-holed. The other scopes the reference lists
  (:data:`DISRUPT_SCOPES`) are valid in a template; an experiment using one is refused at
  ``StartExperiment`` as not emulated (:data:`EMULATED_SCOPES`), never run with no effect.

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
        # its former id, which AWS still accepts (chaostoolkit-aws's AZ power
        # interruption scenario uses it)
        "aws:elasticache:interrupt-cluster-az-power",
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
#: The scopes the FIS actions reference lists for aws:network:disrupt-connectivity.
DISRUPT_SCOPES = {
    "all",
    "availability-zone",
    "dynamodb",
    "prefix-list",
    "s3",
    "s3express",
    "vpc",
}
#: The scopes the lab emulates (the others are refused when an experiment starts).
EMULATED_SCOPES = {"all"}
#: Actions whose effect begins after a drawn delay (draw name in gameday.lab.draws).
EFFECT_DELAYS = {
    "aws:dynamodb:global-table-pause-replication": "pause_replication_delay_seconds",
}
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
    #: When the effect begins (lab time): ``start`` unless AWS documents a delay.
    effect_from: float | None = None

    @property
    def effective_from(self) -> float:
        return self.start if self.effect_from is None else self.effect_from


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
        return [a for a in self.actions if a.effective_from <= now < min(a.end, until)]


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


def unemulated_scope(actions: dict[str, Any]) -> str | None:
    """Why an experiment with these actions cannot run in the lab (a scope it does not
    emulate), or None."""
    for name, action in actions.items():
        if action.get("actionId") != "aws:network:disrupt-connectivity":
            continue
        scope = (action.get("parameters") or {}).get("scope", "all")
        if scope not in EMULATED_SCOPES:
            return (
                f"action {name!r}: aws:network:disrupt-connectivity with scope {scope!r} is "
                "valid in AWS but not emulated by the gameday lab (it emulates scope 'all'); "
                "run it against AWS, or use scope 'all'"
            )
    return None
