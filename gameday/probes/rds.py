"""Aurora global database probes: where is the writer.

Built on :mod:`gameday.describe.rds`, which the database actions read through too.
"""

from __future__ import annotations

from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.activity import check_region, connect, require
from gameday.describe.rds import describe_global_cluster, writer_of

__all__ = ["writer_region"]


@registry.probe(iam=("rds:DescribeGlobalClusters",))
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
    require(global_cluster_id, "global_cluster_id", "the Aurora global cluster identifier")
    region = check_region(region)
    rds = connect("rds", region, configuration, secrets)
    writer = writer_of(describe_global_cluster(rds, global_cluster_id))
    return writer["region"] if writer else None
