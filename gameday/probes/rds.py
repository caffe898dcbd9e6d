"""Aurora global database probes: where is the writer.

:func:`writer_region` is the activity. :func:`describe_global_cluster`, :func:`writer_of`
and :func:`arn_region` are the readers it is built from; the database actions use them
too (an action reads through the probes, a probe never imports an action).
"""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import activity as s

__all__ = ["writer_region"]

#: Hints for the errors a read of a global cluster can meet.
HINTS = {
    "GlobalClusterNotFoundFault": (
        "check the id with `aws rds describe-global-clusters` in one of its regions"
    ),
}


def arn_region(arn: str) -> str:
    """The region field of an ARN (``""`` when ``arn`` has none)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def describe_global_cluster(rds: Any, global_cluster_id: str) -> dict[str, Any]:
    """``describe_global_clusters`` for exactly ``global_cluster_id`` (its id or ARN).

    Raises :class:`ActivityFailed` when the call fails or the cluster does not exist.
    """
    clusters = s.call(
        rds,
        "describe_global_clusters",
        f"Could not read global cluster {global_cluster_id!r}",
        HINTS,
        GlobalClusterIdentifier=global_cluster_id,
    )["GlobalClusters"]
    clusters = [
        c
        for c in clusters
        if global_cluster_id in (c.get("GlobalClusterIdentifier"), c.get("GlobalClusterArn"))
    ]
    if not clusters:
        raise s.fail(
            f"Found no global cluster {global_cluster_id!r}: check the id with "
            "`aws rds describe-global-clusters`."
        )
    return clusters[0]


def writer_of(cluster: dict[str, Any]) -> dict[str, Any] | None:
    """The writer member of a described global cluster: ``region`` and ``cluster_arn``."""
    for member in cluster.get("GlobalClusterMembers", []):
        if member.get("IsWriter"):
            arn = member["DBClusterArn"]
            return {"region": arn_region(arn), "cluster_arn": arn}
    return None


def writer_region(
    global_cluster_id: str,
    region: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> str | None:
    """The region of the writer cluster of an Aurora global database (``None`` if none).

    Reads ``describe_global_clusters`` through the API of ``region`` (any region holding a
    member of the global cluster).
    """
    s.require(global_cluster_id, "global_cluster_id", "the Aurora global cluster identifier")
    region = s.check_region(region)
    rds = s.connect("rds", region, configuration, secrets)
    writer = writer_of(describe_global_cluster(rds, global_cluster_id))
    return writer["region"] if writer else None
