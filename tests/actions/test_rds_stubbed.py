"""Aurora global database actions: calls checked against the RDS model with Stubber."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.actions import rds
from gameday.faults import Ledger
from gameday.recovery import recover
from tests.actions.conftest import ACCOUNT, Stubs, ledger_states

EAST = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders-east"
WEST = f"arn:aws:rds:us-west-2:{ACCOUNT}:cluster:orders-west"
GID = {"GlobalClusterIdentifier": "orders-global"}


def cluster(writer: str, status: str | None = None, to: str = WEST) -> dict:
    """The global cluster with its writer and, during an operation, its FailoverState."""
    described: dict = {
        "GlobalClusterIdentifier": "orders-global",
        "GlobalClusterMembers": [
            {"DBClusterArn": EAST, "IsWriter": writer == EAST},
            {"DBClusterArn": WEST, "IsWriter": writer == WEST},
        ],
    }
    if status:
        described["FailoverState"] = {
            "Status": status,
            "FromDbClusterArn": EAST if to == WEST else WEST,
            "ToDbClusterArn": to,
            "IsDataLossAllowed": status == "failing-over",
        }
    return {"GlobalClusters": [described]}


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


def error_of(path: Path) -> str | None:
    (entry,) = Ledger(path).entries()
    return entry.error


def test_an_unfinished_switchover_fails_and_its_fault_stays_open(
    stubs: Stubs, isolated: Path
) -> None:
    """Not finished within ``timeout``: Aurora may still complete it, so the fault stays
    open and the rollback, finding the writer home and nothing in progress, closes it."""
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    r.add_response("switchover_global_cluster", {}, {**GID, "TargetDbClusterIdentifier": WEST})
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    with pytest.raises(
        ActivityFailed, match=r"did not finish within 0 s: the writer is in us-east-1\."
    ):
        rds.switchover_database("orders-global", "us-west-2", timeout=0)
    assert ledger_states(isolated) == [("switchover_database", "applied")]
    assert "waits for the operation to end" in (error_of(isolated) or "")

    r.add_response("describe_global_clusters", cluster(EAST), GID)
    back = rds.switchover_database("orders-global", "us-east-1")
    assert back["changed"] is False and back["completed"] is True
    assert ledger_states(isolated) == [("switchover_database", "reverted")]


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


def test_completed_only_once_the_operation_is_over(stubs: Stubs, isolated: Path) -> None:
    """The writer flag may flip before FailoverState clears; until then the global cluster
    refuses the next operation (a rollback's switchover), so the action keeps waiting."""
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    r.add_response(
        "failover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": "orders-global"}},
        {**GID, "TargetDbClusterIdentifier": WEST, "AllowDataLoss": True},
    )
    r.add_response("describe_global_clusters", cluster(EAST, "failing-over"), GID)
    r.add_response("describe_global_clusters", cluster(WEST, "failing-over"), GID)
    r.add_response("describe_global_clusters", cluster(WEST), GID)
    out = rds.failover_database("orders-global", "us-west-2", poll_interval=0.01, timeout=5)
    assert out["completed"] is True and out["cancelled"] is False


def test_a_cancelled_failback_fails_and_leaves_the_fault_open(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    r.add_response(
        "failover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": "orders-global"}},
        {**GID, "TargetDbClusterIdentifier": WEST, "AllowDataLoss": True},
    )
    r.add_response("describe_global_clusters", cluster(WEST), GID)
    rds.failover_database("orders-global", "us-west-2", poll_interval=0.01, timeout=5)

    r.add_response("describe_global_clusters", cluster(WEST), GID)
    r.add_response(
        "switchover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": "orders-global"}},
        {**GID, "TargetDbClusterIdentifier": EAST},
    )
    r.add_response("describe_global_clusters", cluster(WEST, "switching-over", to=EAST), GID)
    r.add_response("describe_global_clusters", cluster(WEST), GID)  # cancelled
    with pytest.raises(ActivityFailed, match="back to us-east-1 was cancelled"):
        rds.switchover_database("orders-global", "us-east-1", poll_interval=0.01, timeout=5)
    # still open: `gameday recover` will try the failback again
    assert ledger_states(isolated) == [("failover_database", "applied")]


def test_a_cancelled_switchover_fails_at_once_and_records_nothing_injected(
    stubs: Stubs, isolated: Path
) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    r.add_response("switchover_global_cluster", {}, {**GID, "TargetDbClusterIdentifier": WEST})
    r.add_response("describe_global_clusters", cluster(EAST, "switching-over"), GID)
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    started = time.monotonic()
    with pytest.raises(ActivityFailed, match="was cancelled: the writer is in us-east-1; nothing"):
        rds.switchover_database("orders-global", "us-west-2", poll_interval=0.01, timeout=60)
    assert time.monotonic() - started < 5
    assert ledger_states(isolated) == [("switchover_database", "failed")]

    # its rollback has nothing to undo: one read, no AWS change, the entry stays failed
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    assert rds.switchover_database("orders-global", "us-east-1")["reverted"] == []
    r.assert_no_pending_responses()
    assert ledger_states(isolated) == [("switchover_database", "failed")]
    assert recover(isolated) == []


def test_a_cancelled_failover_is_an_activity_failure_not_a_warning(
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
    r.add_response("describe_global_clusters", cluster(EAST, "failing-over"), GID)
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    with pytest.raises(ActivityFailed) as failed:
        rds.failover_database("orders-global", "us-west-2", poll_interval=0.01, timeout=60)
    assert "to us-west-2 was cancelled: the writer is in us-east-1" in str(failed.value)
    assert ledger_states(isolated) == [("failover_database", "failed")]
    assert error_of(isolated) == str(failed.value)


def test_a_failover_cancelled_with_the_writer_elsewhere_stays_open(
    stubs: Stubs, isolated: Path
) -> None:
    """Three members: the operation ended with the writer neither home nor at the target.
    The fault is in effect, so it stays open and its undo still names the old home."""
    eu = f"arn:aws:rds:eu-west-1:{ACCOUNT}:cluster:orders-eu"

    def three(writer: str, status: str | None = None) -> dict:
        described = cluster(writer, status)
        described["GlobalClusters"][0]["GlobalClusterMembers"].append(
            {"DBClusterArn": eu, "IsWriter": writer == eu}
        )
        return described

    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", three(EAST), GID)
    r.add_response(
        "failover_global_cluster",
        {},
        {**GID, "TargetDbClusterIdentifier": WEST, "AllowDataLoss": True},
    )
    r.add_response("describe_global_clusters", three(EAST, "failing-over"), GID)
    r.add_response("describe_global_clusters", three(eu), GID)
    with pytest.raises(ActivityFailed, match=r"the writer is in eu-west-1\. The fault stays open"):
        rds.failover_database("orders-global", "us-west-2", poll_interval=0.01, timeout=60)
    (entry,) = Ledger(isolated).open_entries()
    assert entry.undo.kwargs["target_region"] == "us-east-1"


def test_a_rollback_waits_for_a_failover_still_in_progress(stubs: Stubs, isolated: Path) -> None:
    """The failover action gave up waiting (its timeout) with the writer still in the east.
    The rollback must not call the writer "back home" and close the fault: the failover
    is still moving it west. It waits for the operation to end, then fails back."""
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    r.add_response(
        "failover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": "orders-global"}},
        {**GID, "TargetDbClusterIdentifier": WEST, "AllowDataLoss": True},
    )
    r.add_response("describe_global_clusters", cluster(EAST, "failing-over"), GID)
    with pytest.raises(ActivityFailed, match="FailoverState still failing-over: the writer is in"):
        rds.failover_database("orders-global", "us-west-2", timeout=0)
    assert ledger_states(isolated) == [("failover_database", "applied")]

    r.add_response("describe_global_clusters", cluster(EAST, "failing-over"), GID)
    r.add_response("describe_global_clusters", cluster(WEST), GID)  # the failover ends
    r.add_response(
        "switchover_global_cluster",
        {"GlobalCluster": {"GlobalClusterIdentifier": "orders-global"}},
        {**GID, "TargetDbClusterIdentifier": EAST},
    )
    r.add_response("describe_global_clusters", cluster(EAST), GID)
    back = rds.switchover_database("orders-global", "us-east-1", poll_interval=0.01, timeout=5)
    assert back["old_writer"]["region"] == "us-west-2" and back["completed"]
    assert ledger_states(isolated) == [("failover_database", "reverted")]


def test_an_operation_that_does_not_end_fails_the_action_and_changes_nothing(
    stubs: Stubs, isolated: Path
) -> None:
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST, "switching-over", to=WEST), GID)
    with pytest.raises(ActivityFailed, match="still has a failover or switchover in progress"):
        rds.failover_database("orders-global", "us-west-2", timeout=0)
    assert ledger_states(isolated) == []


def test_a_failback_closes_only_this_global_clusters_faults(stubs: Stubs, isolated: Path) -> None:
    """The global cluster "orders-global" is a prefix of "orders-global-eu": its failback
    must not close (and so abandon) the open failover of the other."""
    from gameday.faults import Ledger, Undo

    other = Ledger(isolated).begin(
        activity="failover_database",
        target="rds:global-cluster:orders-global-eu",
        arguments={},
        undo=Undo(
            "gameday.actions.rds",
            "switchover_database",
            {"global_cluster_id": "orders-global-eu", "target_region": "us-east-1"},
        ),
    )
    stubs.identity()
    r = stubs.stub("rds")
    r.add_response("describe_global_clusters", cluster(EAST), GID)  # already home
    out = rds.switchover_database("orders-global", "us-east-1")
    assert out["reverted"] == []
    assert [e.id for e in Ledger(isolated).open_entries()] == [other]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"poll_interval": "fast"}, "Bad `poll_interval`"), ({"timeout": "soon"}, "Bad `timeout`")],
)
def test_bad_waiting_arguments_fail_before_any_call(
    stubs: Stubs, isolated: Path, arguments: dict, message: str
) -> None:
    with pytest.raises(ActivityFailed, match=message):
        rds.failover_database("orders-global", "us-west-2", **arguments)
    assert stubs.calls == [] and ledger_states(isolated) == []
