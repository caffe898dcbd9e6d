"""DB cluster lookups shared by the restore actions and probes (not activities).

Read-only: they describe what AWS holds; actions decide what to change from them.
"""

from __future__ import annotations

from typing import Any

from gameday import activity as s

__all__ = ["HINTS", "cluster_exists", "describe_db_cluster"]

#: Hints for the errors the restore and cut-over calls can meet.
HINTS = {
    "DBClusterNotFoundFault": "check the cluster id with `aws rds describe-db-clusters`",
    "DBClusterAlreadyExistsFault": "choose another `target_cluster_id` (that name is in use)",
    "InvalidRestoreFault": "choose a restore time inside the cluster's restorable window",
    "InvalidDBClusterStateFault": "wait until the cluster is 'available' and retry",
}


def describe_db_cluster(rds: Any, cluster_id: str) -> dict[str, Any]:
    """``describe_db_clusters`` for exactly ``cluster_id``; :class:`ActivityFailed` if absent."""
    return s.call(
        rds, "describe_db_clusters", f"Could not read DB cluster {cluster_id!r}", HINTS,
        DBClusterIdentifier=cluster_id,
    )["DBClusters"][0]  # fmt: skip


def cluster_exists(rds: Any, cluster_id: str) -> bool:
    """True if ``cluster_id`` exists (any other error is raised as :class:`ActivityFailed`)."""
    try:
        describe_db_cluster(rds, cluster_id)
    except Exception as exc:
        if s.caused_by(exc, "DBClusterNotFoundFault"):
            return False
        raise
    return True
