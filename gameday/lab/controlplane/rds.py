"""RDS in the lab's control plane: global-cluster failover and switchover requests.

moto has neither ``FailoverGlobalCluster`` nor ``SwitchoverGlobalCluster``. The lab adds
both: the operation validates the request as AWS does, records ``FailoverState`` on the
global cluster (what AWS callers poll) and puts a :class:`FailoverRequest` in the outbox
given to :func:`install`. It never calls the topology: the topology
(:mod:`gameday.lab.controlplane.topology`) takes requests from the outbox, moves the
regions, and then records the new writer here (:func:`set_global_cluster_writer`) and
clears ``FailoverState`` (:func:`set_failover_state`). Dependencies point one way:
topology -> rds, never back.
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


Outbox = queue.Queue[FailoverRequest]

# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


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
