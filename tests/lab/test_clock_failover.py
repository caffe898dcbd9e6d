"""Aurora global-database failover and switchover take time on the lab's clock.

Written against plain boto3 (``describe_global_clusters``) and HTTP: the writer is
unavailable while the operation runs, ``FailoverState`` moves pending -> failing-over /
switching-over -> cleared, and the old primary resynchronises after a failover.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from gameday.lab import Lab
from gameday.lab.controlplane.topology import TICK
from gameday.lab.region.client import RegionClient
from tests.lab.helpers import request, wait_until

pytestmark = pytest.mark.lab

SPEED = 10
FAILOVER_AWS_SECONDS = 30.0
SWITCHOVER_AWS_SECONDS = 20.0
#: The old primary's rebuild, set short here (the default is drawn from 300-1800 AWS s).
RESYNC_AWS_SECONDS = 20.0
#: One lab tick of the topology's clock, plus the event log's own write.
TOLERANCE = TICK * 5


@pytest.fixture
def timed_lab(lab_factory: Callable[..., Lab], monkeypatch: pytest.MonkeyPatch) -> Lab:
    lab = lab_factory(
        speed=SPEED,
        failover_seconds=FAILOVER_AWS_SECONDS,
        switchover_seconds=SWITCHOVER_AWS_SECONDS,
        resync_seconds=RESYNC_AWS_SECONDS,
    )
    for name, value in lab.env().items():
        monkeypatch.setenv(name, value)
    return lab


def _cluster(region: str) -> dict[str, Any]:
    return boto3.client("rds", region_name=region).describe_global_clusters()["GlobalClusters"][0]


def _write(lab: Lab, address: str) -> int:
    return request(address, lab.info.service_port, "POST", "/orders", {"id": str(uuid.uuid4())})[0]


def test_an_unplanned_failover_takes_its_configured_time_and_writes_fail_meanwhile(
    timed_lab: Lab,
) -> None:
    info = timed_lab.info
    rds = boto3.client("rds", region_name=info.secondary.name)
    assert _write(timed_lab, info.primary.address) == 201
    started = time.time()
    answer = rds.failover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.secondary.db_cluster_arn,
        AllowDataLoss=True,
    )["GlobalCluster"]
    assert answer["FailoverState"]["Status"] == "pending"
    # The topology takes the accepted request up within a lab tick; from then on, until the
    # configured duration has passed, no region takes a write.
    wait_until(lambda: _write(timed_lab, info.primary.address) == 503, timeout=1)

    seen_states: list[str] = []
    refused = 0
    while True:
        cluster = _cluster(info.primary.name)
        state = cluster.get("FailoverState")
        if not state:
            break
        assert cluster["Status"] == "failing-over"
        if not seen_states or seen_states[-1] != state["Status"]:
            seen_states.append(state["Status"])
        for region in (info.primary, info.secondary):
            status = _write(timed_lab, region.address)
            if time.time() < started + FAILOVER_AWS_SECONDS / SPEED - TOLERANCE:
                assert status == 503, f"{region.name} took a write during the failover"
                refused += 1
        time.sleep(0.05)
    assert seen_states == ["pending", "failing-over"]
    assert refused > 20

    writer = timed_lab.wait_for_event(lambda e: e["kind"] == "writer", timeout=1, since=started)
    took = writer["time"] - writer["started"]
    assert FAILOVER_AWS_SECONDS / SPEED <= took < FAILOVER_AWS_SECONDS / SPEED + TOLERANCE
    # Scaled back by the factor, the lab's phase is the configured AWS duration.
    assert took * SPEED == pytest.approx(FAILOVER_AWS_SECONDS, abs=TOLERANCE * SPEED)
    assert _write(timed_lab, info.secondary.address) == 201
    assert _cluster(info.primary.name)["Status"] == "available"


def test_the_old_primary_is_rebuilt_and_a_failback_is_refused_meanwhile(timed_lab: Lab) -> None:
    """AWS rebuilds the old primary's volume after an unplanned failover (pending-resync
    from the promotion, for its rebuild time), keeps an ``rds:unplanned-global-failover``
    snapshot of it, and refuses a switchover back while it is not in sync."""
    info = timed_lab.info
    started = time.time()
    rds = boto3.client("rds", region_name=info.secondary.name)
    rds.failover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.secondary.db_cluster_arn,
        AllowDataLoss=True,
    )

    def sync() -> dict[str, str]:
        members = _cluster(info.primary.name)["GlobalClusterMembers"]
        return {m["DBClusterArn"]: m["SynchronizationStatus"] for m in members}

    # Still the writer while the failover runs: not pending-resync yet.
    assert sync()[info.primary.db_cluster_arn] == "connected"
    writer = timed_lab.wait_for_event(lambda e: e["kind"] == "writer", timeout=5, since=started)
    rebuild = timed_lab.wait_for_event(
        lambda e: e["kind"] == "resync-started", timeout=2, since=started
    )
    assert rebuild["region"] == info.primary.name
    assert rebuild["rebuild_aws_seconds"] == pytest.approx(RESYNC_AWS_SECONDS)
    assert sync()[info.primary.db_cluster_arn] == "pending-resync"
    snapshots = boto3.client("rds", region_name=info.primary.name).describe_db_cluster_snapshots(
        SnapshotType="automated"
    )["DBClusterSnapshots"]
    names = [s["DBClusterSnapshotIdentifier"] for s in snapshots]
    assert rebuild["snapshot"] in names
    assert rebuild["snapshot"].startswith("rds:unplanned-global-failover-orders-")
    with pytest.raises(rds.exceptions.ClientError) as refused:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=info.global_cluster_id,
            TargetDbClusterIdentifier=info.primary.db_cluster_arn,
        )
    assert refused.value.response["Error"]["Code"] == "InvalidGlobalClusterStateFault"
    assert "pending-resync" in refused.value.response["Error"]["Message"]
    resynced = timed_lab.wait_for_event(
        lambda e: e["kind"] == "resynchronised", timeout=10, since=started
    )
    assert resynced["region"] == info.primary.name
    # the rebuild runs from the promotion, which the writer event records: the event itself
    # is written after the new writer's role is set (later still on a busy machine)
    assert resynced["time"] - writer["promoted_at"] >= RESYNC_AWS_SECONDS / SPEED
    assert set(sync().values()) == {"connected"}
    # in sync again: the failback is accepted
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.primary.db_cluster_arn,
    )
    back = timed_lab.wait_for_event(
        lambda e: e["kind"] == "writer" and e["region"] == info.primary.name,
        timeout=10,
        since=resynced["time"],
    )
    assert back["how"] == "switchover"


def test_a_switchover_takes_its_configured_time_and_loses_nothing(timed_lab: Lab) -> None:
    info = timed_lab.info
    rds = boto3.client("rds", region_name=info.primary.name)
    written = [str(uuid.uuid4()) for _ in range(10)]
    for order_id in written:
        request(info.primary.address, info.service_port, "POST", "/orders", {"id": order_id})
    started = time.time()
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.secondary.db_cluster_arn,
    )
    assert _cluster(info.primary.name)["Status"] == "switching-over"
    wait_until(
        lambda: (
            (_cluster(info.primary.name).get("FailoverState") or {}).get("Status")
            == "switching-over"
        ),
        timeout=2,
    )
    writer = timed_lab.wait_for_event(lambda e: e["kind"] == "writer", timeout=5, since=started)
    assert writer["how"] == "switchover"
    took = writer["time"] - writer["started"]
    assert SWITCHOVER_AWS_SECONDS / SPEED <= took < SWITCHOVER_AWS_SECONDS / SPEED + TOLERANCE
    new_writer = RegionClient(info.secondary.control_port)
    assert sorted(new_writer.existing(written)) == sorted(written)
    wait_until(lambda: "FailoverState" not in _cluster(info.primary.name), timeout=1)
    members = _cluster(info.primary.name)["GlobalClusterMembers"]
    assert {m["SynchronizationStatus"] for m in members} == {"connected"}
