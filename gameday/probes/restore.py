"""Restore probes: is a point-in-time restored cluster available yet (read-only)."""

from __future__ import annotations

import logging
import time
from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import activity as s
from gameday import registry
from gameday.describe.restore import describe_db_cluster

__all__ = ["wait_for_restore"]

logger = logging.getLogger("gameday.activities")


@registry.probe(iam=("rds:DescribeDBClusters",))
def wait_for_restore(
    cluster_id: str,
    region: str,
    timeout: float = 3600.0,
    poll_interval: float = 10.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Wait until restored cluster ``cluster_id`` is ``available``, logging its progress.

    Logs the status and the time waited at every poll. Fails when the cluster is not
    available after ``timeout`` seconds (the restore goes on: wait again). Restores take
    longer the more data there is. ``timeout``, ``poll_interval`` and ``elapsed_seconds``
    are AWS seconds (on the lab, waited at 1/speed).

    Returns ``cluster_id``, ``status``, ``elapsed_seconds``, ``available_at`` and ``polls``.
    """
    s.require(cluster_id, "cluster_id", "the restored cluster")
    region = s.check_region(region)
    rds = s.connect("rds", region, configuration, secrets)
    speed = s.target_speed(configuration)  # AWS seconds, waited at 1/speed on the lab
    started, polls = time.monotonic(), 0
    while True:
        status = describe_db_cluster(rds, cluster_id).get("Status")
        polls += 1
        elapsed = (time.monotonic() - started) * speed
        logger.info("restore of %s: %s after %.1f s", cluster_id, status, elapsed)
        if status == "available":
            return {"cluster_id": cluster_id, "status": status, "polls": polls,
                    "elapsed_seconds": round(elapsed, 3), "available_at": time.time()}  # fmt: skip
        if elapsed >= float(timeout):
            raise s.fail(
                f"DB cluster {cluster_id!r} is still {status!r} after {float(timeout):g} s: the "
                "restore goes on; run wait_for_restore again."
            )
        time.sleep(float(poll_interval) / speed)
