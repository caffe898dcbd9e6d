"""RDS in the lab's control plane: global-cluster failover and switchover requests,
in-region failover, and the refusals AWS makes.

moto has neither ``FailoverGlobalCluster`` nor ``SwitchoverGlobalCluster``. The lab adds
both: the operation validates the request as AWS does, records ``FailoverState`` on the
global cluster (what AWS callers poll) and puts a :class:`FailoverRequest` in the outbox
given to :func:`install`. It never calls the topology: the topology
(:mod:`gameday.lab.controlplane.topology`) takes requests from the outbox, moves the
regions, and then records the new writer here (:func:`set_global_cluster_writer`) and
clears ``FailoverState`` (:func:`set_failover_state`). Dependencies point one way:
topology -> rds, never back.

In-region operations (``FailoverDBCluster``, ``RebootDBInstance`` of a cluster's writer)
go to the same outbox as an :class:`InRegionRequest`: moto swaps the writer instance, the
topology makes the region's writer unavailable for the in-region failover's duration
(:mod:`gameday.lab.controlplane.aurora`).

Refused as AWS refuses them (API reference and Aurora User Guide):

* ``SwitchoverGlobalCluster`` / ``FailoverGlobalCluster`` while a member is
  ``pending-resync`` (the old primary's volume is being rebuilt after an unplanned
  failover; a switchover needs every secondary in sync) or to such a member:
  ``InvalidGlobalClusterStateFault``;
* ``StopDBCluster`` on a member of a global database: ``InvalidDBClusterStateFault``;
* ``StopDBInstance`` on an Aurora instance (Aurora stops whole clusters):
  ``InvalidParameterCombination``;
* ``rds.global_db_rpo`` below 20 seconds: ``InvalidParameterValue``.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

from gameday.lab.controlplane.server import LAB_ACCOUNT_ID


@dataclass(frozen=True)
class FailoverRequest:
    """One accepted FailoverGlobalCluster / SwitchoverGlobalCluster call."""

    global_cluster_id: str
    from_arn: str
    to_arn: str
    allow_data_loss: bool


@dataclass(frozen=True)
class InRegionRequest:
    """One accepted FailoverDBCluster, or RebootDBInstance of a cluster's writer."""

    region: str
    cluster_id: str
    operation: str  # "failover" or "reboot"


Outbox = queue.Queue[FailoverRequest | InRegionRequest]
#: The parameter that bounds a global database's RPO (Aurora PostgreSQL), and its floor.
GLOBAL_DB_RPO = "rds.global_db_rpo"
GLOBAL_DB_RPO_MIN = 20

# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


def _rds(region: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[LAB_ACCOUNT_ID][region]


def global_cluster(identifier: str) -> Any | None:
    """moto's GlobalCluster object (global clusters live in us-east-1's backend)."""
    return _rds("us-east-1").global_clusters.get(identifier)


def cluster_parameter(region: str, cluster_id: str, name: str) -> str | None:
    """A parameter of the DB cluster parameter group ``cluster_id`` uses (None if unset)."""
    backend = _rds(region)
    cluster = backend.clusters.get(cluster_id)
    if cluster is None:
        return None
    group = backend.db_cluster_parameter_groups.get(str(cluster.parameter_group).lower())
    if group is None:
        return None
    value = group.parameters.get(name, {}).get("ParameterValue")
    return None if value in (None, "") else str(value)


def set_cluster_status(region: str, cluster_id: str, status: str) -> None:
    """A regional DB cluster's ``Status`` (available, failing-over, rebooting ...)."""
    cluster = _rds(region).clusters.get(cluster_id)
    if cluster is not None:
        cluster.status = status


def member_synchronization(identifier: str, member_arn: str) -> str:
    """A member's ``SynchronizationStatus`` as the lab renders it."""
    cluster = global_cluster(identifier)
    return str(getattr(cluster, _SYNC_ATTR, {}).get(member_arn, "connected"))


def take_snapshot(region: str, cluster_id: str, snapshot_id: str) -> str:
    """An automated cluster snapshot (what Aurora keeps of an old primary's volume); its id."""
    snapshot = _rds(region).create_db_cluster_snapshot(
        cluster_id, snapshot_id, snapshot_type="automated"
    )
    return str(snapshot.db_cluster_snapshot_identifier)


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


def update_failover_status(identifier: str, status: str) -> None:
    """Move ``FailoverState.Status`` of an operation in progress (no-op when none is)."""
    cluster = global_cluster(identifier)
    state = getattr(cluster, "failover_state", None)
    if cluster is not None and state:
        cluster.failover_state = {**state, "Status": status}


def set_global_cluster_status(identifier: str, status: str) -> None:
    """The global cluster's ``Status`` (available, failing-over, switching-over)."""
    cluster = global_cluster(identifier)
    if cluster is not None:
        cluster.status = status


#: moto's GlobalCluster renders its members from a property; the lab adds
#: ``SynchronizationStatus`` (connected / pending-resync) kept per member ARN.
_SYNC_ATTR = "_lab_synchronization"


def set_member_synchronization(identifier: str, member_arn: str, status: str) -> None:
    """A member's ``SynchronizationStatus``: ``connected`` or ``pending-resync``."""
    cluster = global_cluster(identifier)
    if cluster is not None:
        sync = dict(getattr(cluster, _SYNC_ATTR, {}))
        sync[member_arn] = status
        setattr(cluster, _SYNC_ATTR, sync)


def _patch_global_cluster_members() -> None:
    from moto.rds.models import GlobalCluster

    members = GlobalCluster.global_cluster_members

    def global_cluster_members(self: Any) -> list[dict[str, Any]]:
        rendered = members.fget(self)
        sync = getattr(self, _SYNC_ATTR, {})
        for member in rendered:
            member["SynchronizationStatus"] = sync.get(member["DBClusterArn"], "connected")
        return rendered

    GlobalCluster.global_cluster_members = property(global_cluster_members)


def _refuse_while_resyncing(
    cluster: Any, member: Any, global_id: str, allow_data_loss: bool, error: Any
) -> None:
    """AWS refuses a switchover while any member is pending-resync, and any operation
    towards such a member (its volume is being rebuilt)."""
    resyncing = [
        m.db_cluster_arn
        for m in cluster.members
        if member_synchronization(global_id, m.db_cluster_arn) == "pending-resync"
    ]
    if member.db_cluster_arn in resyncing or (resyncing and not allow_data_loss):
        raise error(
            "InvalidGlobalClusterStateFault",
            f"Global cluster {global_id} can't switch over or fail over to "
            f"{member.db_cluster_arn} now: member(s) {', '.join(resyncing)} are in "
            "SynchronizationStatus pending-resync (the old primary's storage is being "
            "rebuilt after an unplanned failover). Wait until every member is connected.",
        )


def install(outbox: Outbox) -> None:
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
        if getattr(cluster, "failover_state", None):
            raise error(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {global_id} is already failing over or switching over.",
            )
        if member.is_writer:
            raise error(
                "InvalidDBClusterStateFault",
                f"DB cluster {member.db_cluster_arn} is already the primary cluster of global cluster {global_id}.",
            )
        _refuse_while_resyncing(cluster, member, global_id, allow_data_loss, error)
        writer = global_cluster_writer(global_id)
        assert writer is not None
        set_failover_state(
            global_id,
            {
                "Status": "pending",
                "FromDbClusterArn": writer,
                "ToDbClusterArn": member.db_cluster_arn,
                "IsDataLossAllowed": allow_data_loss,
            },
        )
        # The accepted operation is what callers poll from now on: the global cluster's
        # Status says so at once, before the topology picks the request up.
        set_global_cluster_status(
            global_id, "failing-over" if allow_data_loss else "switching-over"
        )
        outbox.put(FailoverRequest(global_id, writer, member.db_cluster_arn, allow_data_loss))
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
    _patch_global_cluster_members()
    _patch_regional_operations(outbox, error)
    _add_missing_operations(error)


def _add_missing_operations(error: Any) -> None:
    """RDS operations moto lacks that drills and chaostoolkit-aws call."""
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    def reset_db_cluster_parameter_group(self: Any) -> Any:
        # moto lacks it; how a team turns rds.global_db_rpo off again
        name = str(self._get_param("DBClusterParameterGroupName")).lower()
        group = self.backend.db_cluster_parameter_groups.get(name)
        if group is None:
            raise error("DBParameterGroupNotFound", f"DB cluster parameter group {name} not found.")
        if self._get_bool_param("ResetAllParameters", False):
            group.parameters.clear()
        for parameter in self.params.get("Parameters") or []:
            given = parameter.original_dict() if hasattr(parameter, "original_dict") else parameter
            group.parameters.pop(given.get("ParameterName"), None)
        return ActionResult({"DBClusterParameterGroupName": group.name})

    def delete_db_cluster_endpoint(self: Any) -> Any:
        # moto has no custom cluster endpoints; neither has the lab: none can be found
        identifier = self._get_param("DBClusterEndpointIdentifier")
        raise error(
            "DBClusterEndpointNotFoundFault",
            f"The specified custom endpoint {identifier} doesn't exist (a cluster's own "
            "writer and reader endpoints are not custom endpoints and can't be deleted).",
        )

    RDSResponse.reset_db_cluster_parameter_group = reset_db_cluster_parameter_group
    RDSResponse.delete_db_cluster_endpoint = delete_db_cluster_endpoint


def _patch_regional_operations(outbox: Outbox, error: Any) -> None:
    """In-region failover and reboot reach the topology; refusals AWS makes."""
    from moto.rds.models import RDSBackend

    failover = RDSBackend.failover_db_cluster
    reboot = RDSBackend.reboot_db_instance
    stop_cluster = RDSBackend.stop_db_cluster
    stop_instance = RDSBackend.stop_db_instance
    modify_group = RDSBackend.modify_db_cluster_parameter_group

    def failover_db_cluster(self: Any, db_cluster_identifier: str, *args: Any, **kw: Any) -> Any:
        cluster = failover(self, db_cluster_identifier, *args, **kw)
        cluster.status = "failing-over"
        outbox.put(InRegionRequest(self.region_name, cluster.db_cluster_identifier, "failover"))
        return cluster

    def reboot_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kw: Any) -> Any:
        instance = reboot(self, db_instance_identifier, *args, **kw)
        cluster_id = getattr(instance, "db_cluster_identifier", None)
        if cluster_id and getattr(instance, "is_cluster_writer", False):
            outbox.put(InRegionRequest(self.region_name, cluster_id, "reboot"))
        return instance

    def stop_db_cluster(self: Any, cluster_identifier: str) -> Any:
        cluster = self.clusters.get(cluster_identifier)
        if cluster is not None and getattr(cluster, "global_cluster_identifier", None):
            raise error(
                "InvalidDBClusterStateFault",
                f"DB cluster {cluster_identifier} is a member of global database "
                f"{cluster.global_cluster_identifier}: a member of a global database can't "
                "be stopped. Remove it from the global database first.",
            )
        return stop_cluster(self, cluster_identifier)

    def stop_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kw: Any) -> Any:
        instance = self.databases.get(db_instance_identifier)
        if instance is not None and str(instance.engine).startswith("aurora"):
            raise error(
                "InvalidParameterCombination",
                f"DB instance {db_instance_identifier} is an Aurora instance: Aurora DB "
                "instances can't be stopped on their own; stop the DB cluster instead.",
            )
        return stop_instance(self, db_instance_identifier, *args, **kw)

    def modify_db_cluster_parameter_group(self: Any, name: str, parameters: Any) -> Any:
        parameters = list(parameters)
        for parameter in parameters:
            if parameter.get("ParameterName") != GLOBAL_DB_RPO:
                continue
            value = parameter.get("ParameterValue")
            try:
                seconds = int(value)
            except (TypeError, ValueError):
                seconds = -1
            if seconds < GLOBAL_DB_RPO_MIN:
                raise error(
                    "InvalidParameterValue",
                    f"{GLOBAL_DB_RPO} must be a whole number of seconds >= "
                    f"{GLOBAL_DB_RPO_MIN}, got {value!r}.",
                )
        return modify_group(self, name, parameters)

    RDSBackend.failover_db_cluster = failover_db_cluster
    RDSBackend.reboot_db_instance = reboot_db_instance
    RDSBackend.stop_db_cluster = stop_db_cluster
    RDSBackend.stop_db_instance = stop_db_instance
    RDSBackend.modify_db_cluster_parameter_group = modify_db_cluster_parameter_group
