"""Aurora global database lookups shared by the database actions and probes (not activities).

Read-only: they describe what AWS holds; actions decide what to change from them.
"""

from __future__ import annotations

from typing import Any

from gameday.activity import call, fail

__all__ = ["HINTS", "arn_region", "describe_global_cluster", "writer_of"]

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
    clusters = call(
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
        raise fail(
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
