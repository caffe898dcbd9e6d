"""Every reach of the lab into moto's internals, in one place.

The lab's control plane is moto's server running inside the lab supervisor. moto keeps
the state (health checks, records, NACLs, FIS experiments, global clusters, secrets) but
has no data plane: it never probes a health check, never answers DNS, and some operations
the drills need are missing. This module

* serves moto's WSGI application on a loopback port (:class:`ControlPlaneServer`);
* reads moto's backends for the lab's data plane (:func:`health_checks`, :func:`zones`, ...);
* replaces or adds a few operations so they return the lab's real observations
  (:func:`install_operation_overrides`).

It is written against one exact moto version (:data:`PINNED_MOTO_VERSION`, also pinned in
``pyproject.toml``); :func:`check_moto_version` and ``tests/lab/test_motoext.py`` fail
loudly when moto changes underneath it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Protocol

from gameday.aws import LAB_ACCOUNT_ID

PINNED_MOTO_VERSION = "5.2.5"


class MotoVersionError(RuntimeError):
    """moto is not the version this module was written against."""


def check_moto_version() -> str:
    """Return moto's version, or raise if it is not the pinned one."""
    found = version("moto")
    if found != PINNED_MOTO_VERSION:
        raise MotoVersionError(
            f"the lab is written against moto {PINNED_MOTO_VERSION} but {found} is installed: "
            f"reinstall with 'pip install moto[server]=={PINNED_MOTO_VERSION}' (or re-run make)"
        )
    return found


# ---------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------


class ControlPlaneServer:
    """moto's WSGI app served by a threaded werkzeug server on a loopback address."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            host, port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------------------------------
# Reading state
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthCheckConfig:
    """A health check as configured in the control plane (read at each evaluation)."""

    id: str
    type: str
    ip_address: str | None
    port: int
    resource_path: str
    request_interval: int
    failure_threshold: int
    inverted: bool
    disabled: bool
    search_string: str | None
    children: tuple[str, ...] = ()
    health_threshold: int | None = None
    fqdn: str | None = None
    enable_sni: bool = False


@dataclass(frozen=True)
class AliasTarget:
    """Where an alias record points: a load balancer's name or a record in the zone."""

    dns_name: str
    hosted_zone_id: str
    evaluate_target_health: bool


@dataclass(frozen=True)
class RecordSet:
    """One resource record set of a hosted zone."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]
    set_identifier: str | None = None
    failover: str | None = None
    weight: int | None = None
    health_check_id: str | None = None
    region: str | None = None  # latency routing
    alias: AliasTarget | None = None


@dataclass(frozen=True)
class Zone:
    """A hosted zone with its record sets."""

    id: str
    name: str
    private: bool
    records: tuple[RecordSet, ...] = field(default_factory=tuple)


def _route53() -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[LAB_ACCOUNT_ID]["aws"]


def health_checks() -> list[HealthCheckConfig]:
    """Every health check in the control plane, as configured right now."""
    found = []
    for hc in list(_route53().health_checks.values()):
        found.append(
            HealthCheckConfig(
                id=hc.id,
                type=str(hc.type_ or "HTTP"),
                ip_address=hc.ip_address,
                port=int(hc.port or 80),
                resource_path=hc.resource_path or "/",
                request_interval=int(hc.request_interval or 30),
                failure_threshold=int(hc.failure_threshold or 3),
                inverted=_truthy(hc.inverted),
                disabled=_truthy(hc.disabled),
                search_string=hc.search_string,
                children=tuple(hc.children or ()),
                health_threshold=int(hc.health_threshold) if hc.health_threshold else None,
                fqdn=hc.fqdn or None,
                enable_sni=_truthy(hc.enable_sni),
            )
        )
    return found


def _truthy(value: Any) -> bool:
    """moto keeps some booleans as the strings of the request ('true'/'false')."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def zones() -> list[Zone]:
    """Every hosted zone with its record sets, as configured right now."""
    found = []
    for zone in list(_route53().zones.values()):
        records = tuple(
            RecordSet(
                name=_absolute(rr.name),
                type=str(rr.type),
                ttl=int(rr.ttl) if rr.ttl is not None else 300,
                values=tuple(str(v) for v in (rr.records or ())),
                set_identifier=rr.set_identifier,
                failover=rr.failover,
                weight=int(rr.weight) if rr.weight is not None else None,
                health_check_id=rr.health_check_id,
                region=rr.region,
                alias=_alias(rr.alias_target),
            )
            for rr in list(zone.rrsets)
        )
        found.append(
            Zone(
                id=zone.resource_id,
                name=_absolute(zone.name),
                private=_truthy(zone.private_zone),
                records=records,
            )
        )
    return found


def _alias(target: dict[str, Any] | None) -> AliasTarget | None:
    if not target:
        return None
    return AliasTarget(
        dns_name=_absolute(str(target.get("DNSName", ""))),
        hosted_zone_id=str(target.get("HostedZoneId", "")),
        evaluate_target_health=_truthy(target.get("EvaluateTargetHealth")),
    )


def _absolute(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


# ---------------------------------------------------------------------------------------
# Operation overrides
# ---------------------------------------------------------------------------------------

#: Returns the observations for a health check id in the shape of
#: ``GetHealthCheckStatus``'s ``HealthCheckObservations``.
ObservationSource = Callable[[str], list[dict[str, Any]]]


class GlobalFailover(Protocol):
    """The lab side of a global-cluster failover (see :mod:`gameday.lab.controlplane.topology`)."""

    busy: bool

    def begin(self, from_arn: str, to_arn: str, allow_data_loss: bool) -> None: ...


def install_operation_overrides(
    observations: ObservationSource,
    experiments: dict[str, Any],
    failover: GlobalFailover,
) -> None:
    """Patch moto's operations where the lab needs AWS's behaviour (see each patch)."""
    _patch_route53(observations)
    _patch_fis(experiments)
    _patch_rds(failover)
    _patch_ec2()
    _patch_secretsmanager()


def _patch_secretsmanager() -> None:
    """Removing a region that holds no replica is AWS's InvalidParameterException."""
    from moto.secretsmanager.exceptions import InvalidParameterException
    from moto.secretsmanager.models import ReplicaSecret, SecretsManagerBackend

    original = SecretsManagerBackend.remove_regions_from_replication

    def remove_regions_from_replication(
        self: Any, secret_id: str, replica_regions: list[str]
    ) -> Any:
        secret = self.describe_secret(secret_id)
        if not isinstance(secret, ReplicaSecret):
            replicated = {r.region for r in secret.replicas}
            missing = [r for r in replica_regions if r not in replicated]
            if missing:
                raise InvalidParameterException(
                    f"The secret {secret.name} is not replicated to region(s) {', '.join(missing)}."
                )
        return original(self, secret_id, replica_regions)

    SecretsManagerBackend.remove_regions_from_replication = remove_regions_from_replication


def _patch_route53(observations: ObservationSource) -> None:
    """``get_health_check_status`` answers the lab's real observations."""
    from moto.core.responses import ActionResult
    from moto.route53.responses import Route53

    def get_health_check_status(self: Any) -> Any:
        health_check_id = self._get_param("HealthCheckId")
        self.backend.get_health_check(health_check_id)  # NoSuchHealthCheck if unknown
        return ActionResult({"HealthCheckObservations": observations(health_check_id)})

    Route53.get_health_check_status = get_health_check_status


def _patch_ec2() -> None:
    """``delete_network_acl_entry`` of a missing entry is AWS's error, not a server error."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.network_acls import NetworkAclBackend

    original = NetworkAclBackend.delete_network_acl_entry

    def delete_network_acl_entry(
        self: Any, network_acl_id: str, rule_number: int, egress: bool
    ) -> Any:
        acl = self.get_network_acl(network_acl_id)
        if not any(
            _truthy(e.egress) == _truthy(egress) and int(e.rule_number) == int(rule_number)
            for e in acl.network_acl_entries
        ):
            direction = "egress" if _truthy(egress) else "ingress"
            raise EC2ClientError(
                "InvalidNetworkAclEntry.NotFound",
                f"The network ACL entry identified by {rule_number} ({direction}) does not exist in {network_acl_id}",
            )
        return original(self, network_acl_id, rule_number, egress)

    NetworkAclBackend.delete_network_acl_entry = delete_network_acl_entry


def _patch_fis(experiments: dict[str, Any]) -> None:
    """FIS templates are validated, experiments run on the lab's clock with effects."""
    import time as _time

    from moto.fis.exceptions import FISException
    from moto.fis.models import Experiment, FISBackend

    from gameday.lab.controlplane import fis

    class ValidationException(FISException):
        code = 400

        def __init__(self, message: str) -> None:
            super().__init__("ValidationException", message)

    create_template = FISBackend.create_experiment_template
    start = FISBackend.start_experiment
    managed_status = Experiment.status

    def create_experiment_template(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            fis.validate_template(kwargs.get("actions") or {}, kwargs.get("targets") or {})
        except fis.FisValidationError as exc:
            raise ValidationException(str(exc)) from exc
        return create_template(self, *args, **kwargs)

    def start_experiment(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = start(self, *args, **kwargs)
        experiment = self.experiments[result["id"]]
        if experiment.id in experiments:
            return result  # an idempotent retry with the same client token
        resolved, failure = _resolve_targets(
            self.region_name, experiment.targets, experiment.actions
        )
        run = fis.plan(
            experiment.id, self.region_name, experiment.start_time, experiment.actions, resolved
        )
        if failure and experiment.experiment_options.get("emptyTargetResolutionMode") != "skip":
            run.failed_reason = failure
            experiment.STATUS_REASONS = {**Experiment.STATUS_REASONS, "failed": failure}
        experiment._lab_run = run
        experiments[experiment.id] = run
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
    subnet_list = subnets(region)
    tables = table_arns(region)
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


def _patch_rds(failover: GlobalFailover) -> None:
    """Adds ``failover_global_cluster`` and ``switchover_global_cluster`` (moto has neither)."""
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import RDSClientError
    from moto.rds.responses import RDSResponse

    def error(code: str, message: str) -> RDSClientError:
        # The HTTP status comes from the error's shape in the service model.
        return RDSClientError(code, message)

    def begin(self: Any, allow_data_loss: bool) -> Any:
        global_id = self._get_param("GlobalClusterIdentifier")
        target = self._get_param("TargetDbClusterIdentifier")
        cluster = global_cluster(global_id)
        if cluster is None:
            raise error("GlobalClusterNotFoundFault", f"Global cluster {global_id} not found.")
        member = next(
            (m for m in cluster.members if target in (m.db_cluster_arn, m.db_cluster_identifier)),
            None,
        )
        if member is None:
            raise error(
                "DBClusterNotFoundFault",
                f"DB cluster {target} is not a member of global cluster {global_id}.",
            )
        if getattr(cluster, "failover_state", None) or failover.busy:
            raise error(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {global_id} is already failing over or switching over.",
            )
        if member.is_writer:
            raise error(
                "InvalidDBClusterStateFault",
                f"DB cluster {member.db_cluster_arn} is already the primary cluster of global cluster {global_id}.",
            )
        writer = global_cluster_writer(global_id)
        assert writer is not None
        set_failover_state(
            global_id,
            {
                "Status": "failing-over" if allow_data_loss else "pending",
                "FromDbClusterArn": writer,
                "ToDbClusterArn": member.db_cluster_arn,
                "IsDataLossAllowed": allow_data_loss,
            },
        )
        failover.begin(writer, member.db_cluster_arn, allow_data_loss)
        return ActionResult({"GlobalCluster": cluster})

    def failover_global_cluster(self: Any) -> Any:
        allow = self._get_bool_param("AllowDataLoss", False)
        if allow and self._get_bool_param("Switchover", False):
            raise error(
                "InvalidParameterCombination",
                "AllowDataLoss and Switchover cannot be specified together.",
            )
        return begin(self, allow)

    def switchover_global_cluster(self: Any) -> Any:
        return begin(self, False)

    RDSResponse.failover_global_cluster = failover_global_cluster
    RDSResponse.switchover_global_cluster = switchover_global_cluster


def iter_records(zone_list: list[Zone]) -> Iterator[tuple[Zone, RecordSet]]:
    """Every (zone, record set) pair."""
    for zone in zone_list:
        for record in zone.records:
            yield zone, record


# ---------------------------------------------------------------------------------------
# EC2: network ACLs and subnets
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AclEntry:
    """One network ACL entry (protocol as AWS numbers it: "-1" all, "6" TCP, "17" UDP)."""

    rule_number: int
    protocol: str
    action: str
    egress: bool
    cidr: str | None
    port_from: int | None
    port_to: int | None


def _ec2(region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[LAB_ACCOUNT_ID][region]


def subnet_acl(region: str, subnet_id: str) -> tuple[str | None, list[AclEntry]]:
    """The network ACL associated with ``subnet_id`` right now and its entries."""
    for acl in list(_ec2(region).network_acls.values()):
        if any(a.subnet_id == subnet_id for a in acl.associations):
            entries = [
                AclEntry(
                    rule_number=int(e.rule_number),
                    protocol=str(e.protocol),
                    action=str(e.rule_action).lower(),
                    egress=_truthy(e.egress),
                    cidr=e.cidr_block,
                    port_from=int(e.port_range_from)
                    if e.port_range_from not in (None, "")
                    else None,
                    port_to=int(e.port_range_to) if e.port_range_to not in (None, "") else None,
                )
                for e in list(acl.network_acl_entries)
            ]
            return acl.id, entries
    return None, []


def subnets(region: str) -> list[tuple[str, str, dict[str, str]]]:
    """Every subnet of ``region``: (subnet id, ARN, tags)."""
    found = []
    backend = _ec2(region)
    for subnet in backend.describe_subnets():
        tags = {
            t["key"]: t["value"]
            for t in backend.describe_tags(filters={"resource-id": [subnet.id]})
        }
        arn = f"arn:aws:ec2:{region}:{LAB_ACCOUNT_ID}:subnet/{subnet.id}"
        found.append((subnet.id, arn, tags))
    return found


# ---------------------------------------------------------------------------------------
# DynamoDB, Secrets Manager, RDS
# ---------------------------------------------------------------------------------------


def table_arns(region: str) -> list[str]:
    from moto.dynamodb.models import dynamodb_backends

    return [t.table_arn for t in list(dynamodb_backends[LAB_ACCOUNT_ID][region].tables.values())]


def secret_in_region(region: str, name: str) -> bool:
    """True if Secrets Manager in ``region`` holds ``name`` (a primary or a replica)."""
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[LAB_ACCOUNT_ID][region]
    try:
        return backend._is_valid_identifier(name)
    except Exception:
        return False


def _rds(region: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[LAB_ACCOUNT_ID][region]


def global_cluster(identifier: str) -> Any | None:
    """moto's GlobalCluster object (global clusters live in us-east-1's backend)."""
    return _rds("us-east-1").global_clusters.get(identifier)


def global_cluster_writer(identifier: str) -> str | None:
    """The ARN of the writer member of a global cluster."""
    cluster = global_cluster(identifier)
    if cluster is None:
        return None
    for member in cluster.members:
        if member.is_writer:
            return str(member.db_cluster_arn)
    return None


def set_global_cluster_writer(identifier: str, writer_arn: str) -> None:
    cluster = global_cluster(identifier)
    assert cluster is not None
    for member in cluster.members:
        member.is_writer = member.db_cluster_arn == writer_arn


def set_failover_state(identifier: str, state: dict[str, Any] | None) -> None:
    cluster = global_cluster(identifier)
    if cluster is not None:
        cluster.failover_state = state
