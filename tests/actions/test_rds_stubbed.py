"""Aurora global database actions: calls checked against the RDS model with Stubber."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.actions import rds
from tests.actions.conftest import ACCOUNT, Stubs, ledger_states

EAST = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders-east"
WEST = f"arn:aws:rds:us-west-2:{ACCOUNT}:cluster:orders-west"
GID = {"GlobalClusterIdentifier": "orders-global"}


def cluster(writer: str) -> dict:
    return {
        "GlobalClusters": [
            {
                "GlobalClusterIdentifier": "orders-global",
                "GlobalClusterMembers": [
                    {"DBClusterArn": EAST, "IsWriter": writer == EAST},
                    {"DBClusterArn": WEST, "IsWriter": writer == WEST},
                ],
            }
        ]
    }


def test_failover_waits_for_the_new_writer_and_switchover_fails_back(
    stubs: Stubs, isolated: Path
) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    r.add_response(
        "failover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": "orders-global"}},
        {**GID, "TargetDbClusterIdentifier": WEST, "AllowDataLoss": True},
    )
    r.add_response("describe_global_clusters", cluster(EAST), GID)  # not yet
    r.add_response("describe_global_clusters", cluster(WEST), GID)
    out = rds.failover_database("orders-global", "us-west-2", poll_interval=0.01, timeout=5)
    assert out["old_writer"] == {"region": "us-east-1", "cluster_arn": EAST}
    assert out["new_writer"] == {"region": "us-west-2", "cluster_arn": WEST}
    assert out["completed"] and out["changed"]
    assert ledger_states(isolated) == [("failover_database", "applied")]

    r.add_response("describe_global_clusters", cluster(WEST), GID)
    r.add_response(
        "switchover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": "orders-global"}},
        {**GID, "TargetDbClusterIdentifier": EAST},
    )
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    back = rds.switchover_database("orders-global", "us-east-1", poll_interval=0.01, timeout=5)
    assert back["new_writer"]["region"] == "us-east-1"
    # the failback closes the failover instead of recording a new fault
    assert ledger_states(isolated) == [("failover_database", "reverted")]


def test_timeout_reports_the_writer_unchanged(stubs: Stubs) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    r.add_response("switchover_global_cluster", {}, {**GID, "TargetDbClusterIdentifier": WEST})
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    out = rds.switchover_database("orders-global", "us-west-2", timeout=0)
    assert out["completed"] is False and out["new_writer"]["region"] == "us-east-1"


def test_already_there_and_bad_input(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(WEST), GID)
    assert rds.failover_database("orders-global", "us-west-2")["changed"] is False
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    with pytest.raises(ActivityFailed, match="no member in eu-west-1"):
        rds.failover_database("orders-global", "eu-west-1")
    r.add_client_error(
        "describe_global_clusters",
        service_error_code="GlobalClusterNotFoundFault",
        service_message="not found",
        http_status_code=404,
        expected_params={"GlobalClusterIdentifier": "nope"},
    )
    with pytest.raises(ActivityFailed, match="describe-global-clusters"):
        rds.failover_database("nope", "us-west-2")
    with pytest.raises(ActivityFailed, match="not an AWS region"):
        rds.failover_database("orders-global", "us-west-42")
    assert ledger_states(isolated) == []
