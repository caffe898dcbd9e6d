"""Replication, database and secret impairments and their rollbacks, against the lab.

Each test drives a gameday action and its rollback with real boto3 calls, then checks
what really happened: writes on the regions' stores (region control listeners), answers
of the orders API, Route 53 health as the lab's checkers observe it, the lab's
ground-truth events, the probes a drill would run, and the fault ledger (pending ->
applied -> reverted). Every test puts the module's lab back in its steady state.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from gameday import faults, recovery
from gameday.actions import fis as fis_actions
from gameday.actions import rds as rds_actions
from gameday.actions import secretsmanager as sm_actions
from gameday.lab import Lab, LabInfo
from gameday.lab.region.client import RegionClient
from gameday.probes.dns import dns_answer
from gameday.probes.http import endpoint_available
from gameday.probes.rds import writer_region
from gameday.probes.replication import replication_lag
from gameday.probes.route53 import health_check_status
from gameday.probes.secretsmanager import secret_available
from tests.lab.helpers import (
    lab_is_the_shared_lab,  # noqa: F401  (lab: the worker's shared lab)
    request,
    wait_until,
)

pytestmark = pytest.mark.lab

#: Any role ARN: the lab, like moto, does not assume it.
FIS_ROLE = "arn:aws:iam::123456789012:role/gameday-fis"
#: A flowing link delivers within the baseline lag; this bounds catch-up after a fault.
CATCH_UP = 5.0


def base_url(info: LabInfo, index: int) -> str:
    return f"http://{info.regions[index].address}:{info.service_port}"


def lag(info: LabInfo, timeout: float) -> dict[str, Any]:
    """The replication_lag probe, primary -> secondary."""
    return replication_lag(base_url(info, 0), base_url(info, 1), timeout=timeout)


def fault_event(lab: Lab, since: float, state: str, timeout: float = 3.0, **match: Any) -> dict:
    return lab.wait_for_event(
        lambda e: (
            e["kind"] == "fault"
            and e["state"] == state
            and all(e.get(k) == v for k, v in match.items())
        ),
        timeout=timeout,
        since=since,
    )


def ledger_history(path: Path, entry_id: str) -> list[str]:
    """Every state the fault ledger recorded for ``entry_id``, in order (raw lines)."""
    states = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["id"] == entry_id:
            states.append(record["state"])
    return states


def ledger_state(path: Path, entry_id: str) -> str:
    return next(e.state for e in faults.Ledger(path).entries() if e.id == entry_id)


def experiment_status(region: str, experiment_id: str) -> str:
    fis = boto3.client("fis", region_name=region)
    return str(fis.get_experiment(id=experiment_id)["experiment"]["state"]["status"])


def table_arn(info: LabInfo) -> str:
    dynamodb = boto3.client("dynamodb", region_name=info.primary.name)
    return str(dynamodb.describe_table(TableName=info.table_name)["Table"]["TableArn"])


def write(info: LabInfo, index: int, order_id: str) -> tuple[int, Any]:
    status, _, body = request(
        info.regions[index].address, info.service_port, "POST", "/orders", {"id": order_id}
    )
    return status, body


def _primary_writer(lab: Lab) -> None:
    """Switch the writer back to the primary if a failed test left it elsewhere."""
    info = lab.info
    rds = boto3.client("rds", region_name=info.primary.name)

    def settled() -> dict | None:
        cluster = rds.describe_global_clusters(GlobalClusterIdentifier=info.global_cluster_id)[
            "GlobalClusters"
        ][0]
        # an old primary rebuilding after an unplanned failover (pending-resync) must be in
        # sync first: AWS refuses the switchover back until then
        rebuilding = any(
            m.get("SynchronizationStatus") == "pending-resync"
            for m in cluster["GlobalClusterMembers"]
        )
        return None if cluster.get("FailoverState") or rebuilding else cluster

    cluster = wait_until(settled, timeout=40)
    writer = next(m["DBClusterArn"] for m in cluster["GlobalClusterMembers"] if m["IsWriter"])
    if writer != info.primary.db_cluster_arn:
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=info.global_cluster_id,
            TargetDbClusterIdentifier=info.primary.db_cluster_arn,
        )
    wait_until(lambda: lab.info.primary.role == "writer", timeout=40)


@pytest.fixture
def steady(lab: Lab, lab_env: dict[str, str], isolated: Path) -> Iterator[LabInfo]:
    """The lab in its steady state before the test, and put back after it, whatever happens."""
    info = lab.info
    assert info.primary.role == "writer"
    try:
        yield info
    finally:
        # Safety net for a test that failed half-way: the product's own recovery first
        # (it reverts whatever the ledger still holds open), then the lab's invariants.
        recovery.recover(isolated)
        # replication must flow before the writer can be switched back without loss
        for region in (info.primary.name, info.secondary.name):
            fis = boto3.client("fis", region_name=region)
            for summary in fis.list_experiments().get("experiments", []):
                if summary["state"]["status"] in ("pending", "initiating", "running"):
                    fis.stop_experiment(id=summary["id"])
        _primary_writer(lab)
        secrets = boto3.client("secretsmanager", region_name=info.primary.name)
        replicas = secrets.describe_secret(SecretId=info.secret_name).get("ReplicationStatus", [])
        if info.secondary.name not in {r["Region"] for r in replicas}:
            secrets.replicate_secret_to_regions(
                SecretId=info.secret_name, AddReplicaRegions=[{"Region": info.secondary.name}]
            )
        wait_until(lambda: lag(info, timeout=CATCH_UP)["replicated"], timeout=2 * CATCH_UP)


# -- paused replication (FIS) -------------------------------------------------------------


def test_pause_replication_holds_writes_back_until_resume(
    lab: Lab, steady: LabInfo, isolated: Path
) -> None:
    info = steady
    secondary = RegionClient(info.secondary.control_port)
    before = lag(info, timeout=CATCH_UP)
    assert before["replicated"] is True
    assert (before["source_region"], before["target_region"]) == (
        info.primary.name,
        info.secondary.name,
    )

    since = time.time()
    paused = fis_actions.pause_replication(
        region=info.primary.name, duration="PT1M", table_arns=[table_arn(info)], role_arn=FIS_ROLE
    )
    try:
        assert ledger_state(isolated, paused["fault_id"]) == "applied"
        applied = fault_event(
            lab, since, "applied", source="fis", experiment_id=paused["experiment_id"]
        )
        # The lab's default tier keeps the orders in Aurora: as in AWS, pausing a DynamoDB
        # global table does not touch Aurora's storage replication (tests/lab/test_tiers.py
        # shows the pause holding replication in the dynamodb tier).
        assert applied["effect"].startswith("no effect on the orders")
        assert applied["region"] == info.primary.name
        assert experiment_status(info.primary.name, paused["experiment_id"]) == "running"

        during = lag(info, timeout=CATCH_UP)
        assert during["error"] is None and during["source_region"] == info.primary.name
        assert during["replicated"] is True
    finally:
        resumed_at = time.time()
        resumed = fis_actions.resume_replication(
            region=info.primary.name, experiment_id=paused["experiment_id"]
        )
    assert resumed["stopped"] == [paused["experiment_id"]]
    assert resumed["reverted"] == [paused["fault_id"]]
    reverted = fault_event(
        lab, resumed_at, "reverted", source="fis", experiment_id=paused["experiment_id"]
    )
    assert reverted["time"] - resumed_at < 1.0  # stop_experiment ends the effect at once
    wait_until(
        lambda: secondary.existing([during["canary_id"]]) == [during["canary_id"]],
        timeout=CATCH_UP,
    )
    after = lag(info, timeout=CATCH_UP)
    assert after["replicated"] is True and after["lag_seconds"] < CATCH_UP
    wait_until(
        lambda: experiment_status(info.primary.name, paused["experiment_id"]) == "stopped",
        timeout=3,
    )
    assert ledger_history(isolated, paused["fault_id"]) == ["pending", "applied", "reverted"]
    # a second rollback is a no-op
    again = fis_actions.resume_replication(region=info.primary.name)
    assert again == {"region": info.primary.name, "stopped": [], "reverted": []}


# -- cross-region connectivity (FIS) -------------------------------------------------------


def test_disrupt_cross_region_connectivity_stops_replication_until_restored(
    lab: Lab, steady: LabInfo, isolated: Path
) -> None:
    info = steady
    secondary = RegionClient(info.secondary.control_port)
    assert lag(info, timeout=CATCH_UP)["replicated"] is True

    since = time.time()
    cut = fis_actions.disrupt_cross_region_connectivity(
        region=info.primary.name,
        destination_region=info.secondary.name,
        subnet_ids=[info.primary.subnet_id],
        duration="PT1M",
        role_arn=FIS_ROLE,
    )
    try:
        assert ledger_state(isolated, cut["fault_id"]) == "applied"
        applied = fault_event(
            lab, since, "applied", source="fis", experiment_id=cut["experiment_id"]
        )
        # The cut drops VPC traffic between the regions; managed replication does not
        # travel that way in AWS and keeps flowing (tests/lab/test_tiers.py).
        assert applied["effect"].endswith("(managed replication unaffected)")
        assert applied["region"] == info.primary.name

        during = lag(info, timeout=CATCH_UP)
        assert during["error"] is None and during["replicated"] is True
        # only cross-region traffic is cut: users still reach both regions
        for index in (0, 1):
            assert endpoint_available(f"{base_url(info, index)}/health", timeout=1.0)["available"]
    finally:
        restored_at = time.time()
        # no experiment id: the rollback finds what to stop in the fault ledger
        restored = fis_actions.restore_cross_region_connectivity(region=info.primary.name)
    assert restored["stopped"] == [cut["experiment_id"]]
    assert restored["reverted"] == [cut["fault_id"]]
    fault_event(lab, restored_at, "reverted", source="fis", experiment_id=cut["experiment_id"])
    wait_until(
        lambda: secondary.existing([during["canary_id"]]) == [during["canary_id"]],
        timeout=CATCH_UP,
    )
    assert lag(info, timeout=CATCH_UP)["replicated"] is True
    wait_until(
        lambda: experiment_status(info.primary.name, cut["experiment_id"]) == "stopped",
        timeout=3,
    )
    assert ledger_history(isolated, cut["fault_id"]) == ["pending", "applied", "reverted"]


# -- global database failover and failback --------------------------------------------------


def test_failover_database_then_switchover_back(lab: Lab, steady: LabInfo, isolated: Path) -> None:
    info = steady
    gcid = info.global_cluster_id
    primary = RegionClient(info.primary.control_port)
    secondary = RegionClient(info.secondary.control_port)
    for api in (info.primary.name, info.secondary.name):
        assert writer_region(gcid, region=api) == info.primary.name

    # acknowledged and replicated before the fault: it must survive failover and failback
    kept = f"kept-{uuid.uuid4()}"
    assert write(info, 0, kept)[0] == 201
    wait_until(lambda: secondary.existing([kept]) == [kept], timeout=CATCH_UP)

    since = time.time()
    failed = rds_actions.failover_database(
        global_cluster_id=gcid, target_region=info.secondary.name, timeout=20, poll_interval=0.05
    )
    try:
        assert failed["completed"] is True and failed["changed"] is True
        assert failed["old_writer"]["region"] == info.primary.name
        assert failed["new_writer"] == {
            "region": info.secondary.name,
            "cluster_arn": info.secondary.db_cluster_arn,
        }
        assert ledger_state(isolated, failed["fault_id"]) == "applied"
        moved = lab.wait_for_event(lambda e: e["kind"] == "writer", timeout=3, since=since)
        assert (moved["region"], moved["previous"], moved["how"]) == (
            info.secondary.name,
            info.primary.name,
            "failover",
        )
        for api in (info.primary.name, info.secondary.name):
            assert writer_region(gcid, region=api) == info.secondary.name
        wait_until(lambda: lab.info.secondary.role == "writer", timeout=3)
        assert lab.info.primary.role == "reader"

        # the old writer is fenced: it refuses writes; the new writer takes them
        status, body = write(info, 0, f"refused-{uuid.uuid4()}")
        assert status == 503 and "read-only replica" in body["error"]
        during = f"during-{uuid.uuid4()}"
        assert write(info, 1, during)[0] == 201
        assert secondary.existing([kept]) == [kept]
        # replication now flows from the new writer to the old one
        wait_until(lambda: primary.existing([during]) == [during], timeout=CATCH_UP)
    finally:
        back_at = time.time()
        back = rds_actions.switchover_database(
            global_cluster_id=gcid, target_region=info.primary.name, timeout=40, poll_interval=0.05
        )
    assert back["completed"] is True and back["changed"] is True
    assert back["fault_id"] is None  # the failback closes the failover, it is no new fault
    assert back["reverted"] == [failed["fault_id"]]
    returned = lab.wait_for_event(
        lambda e: e["kind"] == "writer" and e["region"] == info.primary.name,
        timeout=3,
        since=back_at,
    )
    assert returned["how"] == "switchover"
    for api in (info.primary.name, info.secondary.name):
        assert writer_region(gcid, region=api) == info.primary.name
    wait_until(lambda: lab.info.primary.role == "writer", timeout=3)
    assert lab.info.secondary.role == "reader"
    # a planned switchover loses nothing: both writes are on the primary again
    assert sorted(primary.existing([kept, during])) == sorted([kept, during])
    assert write(info, 0, f"after-{uuid.uuid4()}")[0] == 201
    assert write(info, 1, f"refused-{uuid.uuid4()}")[0] == 503
    assert ledger_history(isolated, failed["fault_id"]) == ["pending", "applied", "reverted"]
    # DNS never moved: both regions stayed healthy, only the writer role travelled
    answer = dns_answer(info.record_name, nameserver=info.dns_host, port=info.dns_port)
    assert answer["addresses"] == [info.primary.address]


def test_a_failover_cancelled_by_the_lab_fails_and_leaves_nothing_to_undo(
    lab: Lab, steady: LabInfo, isolated: Path
) -> None:
    """The target region is frozen, so the lab cancels the failover (as Aurora does when
    the target cannot be promoted). The action fails naming the writer's region, the
    ledger says nothing was injected, and the rollback and `gameday recover` change nothing."""
    info = steady
    gcid = info.global_cluster_id
    assert info.secondary.pid is not None
    since = time.time()
    os.kill(info.secondary.pid, signal.SIGSTOP)
    try:
        with pytest.raises(ActivityFailed) as failed:
            rds_actions.failover_database(
                global_cluster_id=gcid,
                target_region=info.secondary.name,
                region=info.primary.name,
                timeout=60,
                poll_interval=0.05,
            )
    finally:
        os.kill(info.secondary.pid, signal.SIGCONT)
    assert f"was cancelled: the writer is in {info.primary.name}; nothing changed" in str(
        failed.value
    )
    unchanged = lab.wait_for_event(lambda e: e["kind"] == "writer-unchanged", 3, since=since)
    assert unchanged["region"] == info.primary.name and unchanged["how"] == "failover"
    assert not lab.events(since=since, kind="writer")  # the ground truth: it never moved
    (entry,) = faults.Ledger(isolated).entries()
    assert ledger_history(isolated, entry.id) == ["pending", "applied", "failed"]

    back = rds_actions.switchover_database(
        global_cluster_id=gcid, target_region=info.primary.name, timeout=60, poll_interval=0.05
    )
    assert back["changed"] is False and back["reverted"] == []
    assert recovery.recover(isolated) == []
    assert writer_region(gcid, region=info.secondary.name) == info.primary.name
    assert lab.info.primary.role == "writer"


def test_an_unfinished_switchover_fails_and_its_rollback_waits_to_bring_the_writer_back(
    lab: Lab, steady: LabInfo, isolated: Path
) -> None:
    """Replication is paused with a write not shipped, so the switchover cannot drain and
    is still in progress when the action's ``timeout`` runs out: the action fails saying
    where the writer is and keeps its fault open. Replication resumes, the switchover
    completes late (the writer does move), and the rollback waits for it and moves the
    writer home: the ledger entry it leaves is what makes that rollback right."""
    info = steady
    gcid = info.global_cluster_id
    paused = fis_actions.pause_replication(
        region=info.primary.name, duration="PT5M", table_arns=[table_arn(info)], role_arn=FIS_ROLE
    )
    try:
        held = f"held-{uuid.uuid4()}"
        assert write(info, 0, held)[0] == 201  # acknowledged, not shipped: nothing may lose it
        with pytest.raises(ActivityFailed) as failed:
            rds_actions.switchover_database(
                global_cluster_id=gcid,
                target_region=info.secondary.name,
                timeout=1,
                poll_interval=0.05,
            )
    finally:
        since = time.time()
        fis_actions.resume_replication(
            region=info.primary.name, experiment_id=paused["experiment_id"]
        )
    message = str(failed.value)
    assert "did not finish within 1 s, its FailoverState still" in message
    assert f"the writer is in {info.primary.name}" in message
    assert f"moves the writer back to {info.primary.name}" in message
    (entry,) = faults.Ledger(isolated).open_entries(activity="switchover_database")
    assert entry.state == "applied" and entry.error == message

    # Aurora finishes what it was asked to do: the writer moves after the action gave up
    moved = lab.wait_for_event(
        lambda e: e["kind"] == "writer" and e["region"] == info.secondary.name, 40, since=since
    )
    assert moved["how"] == "switchover"
    back = rds_actions.switchover_database(
        global_cluster_id=gcid, target_region=info.primary.name, timeout=60, poll_interval=0.05
    )
    assert back["completed"] and back["old_writer"]["region"] == info.secondary.name
    assert back["reverted"] == [entry.id]
    assert ledger_history(isolated, entry.id) == ["pending", "applied", "applied", "reverted"]
    wait_until(lambda: lab.info.primary.role == "writer", timeout=5)
    assert RegionClient(info.primary.control_port).existing([held]) == [held]


# -- secret replica ---------------------------------------------------------------------------


@pytest.mark.slow
def test_remove_secret_replica_fails_the_secondary_and_restore_heals_it(
    lab: Lab, steady: LabInfo, isolated: Path
) -> None:
    info = steady
    hc = info.secondary.health_check_id
    assert secret_available(info.secret_name, region=info.secondary.name) is True
    assert health_check_status(hc)["healthy"] is True

    since = time.time()
    removed = sm_actions.remove_secret_replica(
        secret_id=info.secret_name, replica_region=info.secondary.name, region=info.primary.name
    )
    try:
        assert removed["changed"] is True
        assert ledger_state(isolated, removed["fault_id"]) == "applied"
        assert secret_available(info.secret_name, region=info.secondary.name) is False
        assert secret_available(info.secret_name, region=info.primary.name) is True
        fault_event(lab, since, "applied", fault="secret-missing", region=info.secondary.name)
        lab.wait_for_event(
            lambda e: (
                e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is False
            ),
            timeout=10,
            since=since,
        )
        unhealthy = health_check_status(hc)
        assert unhealthy["healthy"] is False and unhealthy["inverted"] is False
        # real traffic: the secondary's deep health fails on the secret, the primary's does not
        status, _, body = request(info.secondary.address, info.service_port, "GET", "/health")
        assert status == 503 and "ResourceNotFoundException" in body["checks"]["secret"]
        assert endpoint_available(f"{base_url(info, 0)}/health", timeout=1.0)["available"]
        assert health_check_status(info.primary.health_check_id)["healthy"] is True
    finally:
        restored_at = time.time()
        restored = sm_actions.restore_secret_replica(
            secret_id=info.secret_name, replica_region=info.secondary.name, region=info.primary.name
        )
    assert restored["changed"] is True
    assert restored["reverted"] == [removed["fault_id"]]
    # A new replica is InProgress for a moment (as in AWS) before it is readable there.
    wait_until(
        lambda: secret_available(info.secret_name, region=info.secondary.name) is True, timeout=5
    )
    fault_event(lab, restored_at, "reverted", fault="secret-missing", region=info.secondary.name)
    lab.wait_for_event(
        lambda e: e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is True,
        timeout=10,
        since=restored_at,
    )
    assert health_check_status(hc)["healthy"] is True
    assert endpoint_available(f"{base_url(info, 1)}/health", timeout=1.0)["available"]
    assert ledger_history(isolated, removed["fault_id"]) == ["pending", "applied", "reverted"]
