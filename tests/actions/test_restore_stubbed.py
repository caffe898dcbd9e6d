"""Point-in-time restore and cut-over actions: calls checked against the service models.

Stubber validates every call's operation and parameters against botocore's RDS and
Secrets Manager models; bad input (a time outside the restorable window, a target name in
use, a cut-over to a cluster that is not ready) fails with one message, nothing changed:
no state-changing call is queued, so Stubber would fail the test if one were made, and
the fault ledger stays empty.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.actions import restore
from gameday.probes.restore import wait_for_restore
from tests.actions.conftest import ACCOUNT, Stubs, ledger_states

SOURCE = "orders-us-east-1"
TARGET = "orders-restored"
T = 1_790_000_000.0  # in the past: AWS restores no future time
SECRET = "orders/db"


def described(cluster_id: str, status: str = "available", *, earliest: float = T - 3600,
              latest: float = T + 60, tags: list | None = None) -> dict:  # fmt: skip
    return {"DBClusters": [{
        "DBClusterIdentifier": cluster_id, "Status": status,
        "DBClusterArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:{cluster_id}",
        "EarliestRestorableTime": datetime.fromtimestamp(earliest, UTC),
        "LatestRestorableTime": datetime.fromtimestamp(latest, UTC),
        "TagList": tags or [],
    }]}  # fmt: skip


def not_found(stubs: Stubs, cluster_id: str) -> None:
    stubs.stub("rds").add_client_error(
        "describe_db_clusters", "DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.",
        404, expected_params={"DBClusterIdentifier": cluster_id},
    )  # fmt: skip


def test_restore_to_a_time_in_the_window_creates_a_tagged_cluster_and_records_its_undo(
    stubs: Stubs, isolated: Path
) -> None:
    stubs.identity()
    not_found(stubs, TARGET)
    r = stubs.stub("rds")
    r.add_response("describe_db_clusters", described(SOURCE), {"DBClusterIdentifier": SOURCE})
    r.add_response(
        "restore_db_cluster_to_point_in_time",
        {"DBCluster": {"DBClusterIdentifier": TARGET, "Status": "creating"}},
        {"DBClusterIdentifier": TARGET, "SourceDBClusterIdentifier": SOURCE,
         "RestoreToTime": datetime.fromtimestamp(T, UTC),
         "Tags": [{"Key": "gameday:restored-from", "Value": SOURCE}]},
    )  # fmt: skip
    out = restore.restore_database_to_point_in_time(
        f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:{SOURCE}", TARGET, "us-east-1",
        restore_time=datetime.fromtimestamp(T, UTC).isoformat(),
    )  # fmt: skip
    assert out["restore_time"] == T and out["status"] == "creating"
    assert ledger_states(isolated) == [("restore_database_to_point_in_time", "applied")]


@pytest.mark.parametrize(
    ("when", "words"),
    [(T - 7200, "its backups begin at"), (T + 600, "latest restorable time")],
)
def test_a_time_outside_the_window_fails_with_one_message_and_restores_nothing(
    stubs: Stubs, isolated: Path, when: float, words: str
) -> None:
    stubs.identity()
    not_found(stubs, TARGET)
    stubs.stub("rds").add_response(
        "describe_db_clusters", described(SOURCE, latest=T), {"DBClusterIdentifier": SOURCE}
    )
    with pytest.raises(ActivityFailed, match=words):
        restore.restore_database_to_point_in_time(
            SOURCE, TARGET, "us-east-1", restore_time=when, window_timeout=0
        )
    assert ledger_states(isolated) == []


def test_a_target_name_in_use_fails_before_any_restore(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    stubs.stub("rds").add_response(
        "describe_db_clusters", described(TARGET), {"DBClusterIdentifier": TARGET}
    )
    with pytest.raises(ActivityFailed, match="already exists"):
        restore.restore_database_to_point_in_time(SOURCE, TARGET, "us-east-1", restore_time=T)
    assert ledger_states(isolated) == []


def test_wait_for_restore_polls_until_available(stubs: Stubs) -> None:
    r = stubs.stub("rds")
    for status in ("creating", "creating", "available"):
        r.add_response(
            "describe_db_clusters", described(TARGET, status), {"DBClusterIdentifier": TARGET}
        )
    out = wait_for_restore(TARGET, "us-east-1", timeout=10, poll_interval=0.01)
    assert out["status"] == "available" and out["polls"] == 3


def connection(cluster: str) -> dict:
    return {"SecretString": json.dumps({"username": "app", "dbClusterIdentifier": cluster})}


def test_cut_over_rewrites_the_secret_and_its_rollback_puts_it_back(
    stubs: Stubs, isolated: Path
) -> None:
    stubs.identity()
    stubs.stub("rds").add_response(
        "describe_db_clusters", described(TARGET), {"DBClusterIdentifier": TARGET}
    )
    sm = stubs.stub("secretsmanager")
    sm.add_response("get_secret_value", connection("orders-global"), {"SecretId": SECRET})
    sm.add_response(
        "put_secret_value", {"Name": SECRET},
        {"SecretId": SECRET, "SecretString": json.dumps(
            {"username": "app", "dbClusterIdentifier": TARGET})},
    )  # fmt: skip
    out = restore.cut_over_database(SECRET, "us-east-1", TARGET)
    assert out["previous"] == "orders-global" and out["changed"]
    assert ledger_states(isolated) == [("cut_over_database", "applied")]

    sm.add_response("get_secret_value", connection(TARGET), {"SecretId": SECRET})
    sm.add_response(
        "put_secret_value", {"Name": SECRET},
        {"SecretId": SECRET, "SecretString": json.dumps(
            {"username": "app", "dbClusterIdentifier": "orders-global"})},
    )  # fmt: skip
    back = restore.roll_back_cut_over(SECRET, "us-east-1")  # the previous value: the ledger's
    assert back["cluster_id"] == "orders-global" and back["changed"]
    assert ledger_states(isolated) == [("cut_over_database", "reverted")]


def test_cut_over_to_a_cluster_not_ready_changes_nothing(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    stubs.stub("rds").add_response(
        "describe_db_clusters", described(TARGET, "creating"), {"DBClusterIdentifier": TARGET}
    )
    stubs.stub("secretsmanager")  # no call may reach it
    with pytest.raises(ActivityFailed, match="not 'available'"):
        restore.cut_over_database(SECRET, "us-east-1", TARGET)
    assert ledger_states(isolated) == []


def test_delete_restored_cluster_refuses_a_cluster_gameday_did_not_restore(
    stubs: Stubs, isolated: Path
) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    for _ in range(2):
        r.add_response("describe_db_clusters", described(SOURCE), {"DBClusterIdentifier": SOURCE})
    with pytest.raises(ActivityFailed, match="did not restore it"):
        restore.delete_restored_cluster(SOURCE, "us-east-1")


def test_delete_restored_cluster_deletes_a_tagged_cluster(stubs: Stubs) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    tagged = described(TARGET, tags=[{"Key": "gameday:restored-from", "Value": SOURCE}])
    for _ in range(2):
        r.add_response("describe_db_clusters", tagged, {"DBClusterIdentifier": TARGET})
    r.add_response(
        "delete_db_cluster", {"DBCluster": {"DBClusterIdentifier": TARGET}},
        {"DBClusterIdentifier": TARGET, "SkipFinalSnapshot": True},
    )  # fmt: skip
    assert restore.delete_restored_cluster(TARGET, "us-east-1")["deleted"]
