"""Aurora global database actions: unplanned failover and planned switchover (failback).

Both move the writer of a global cluster to the member cluster in ``target_region`` and
wait until ``describe_global_clusters`` shows the writer there and the operation over (no
``FailoverState`` left: until then the global cluster refuses the next failover or
switchover), and report the old and the new writer. If the operation is cancelled, or has
not finished after ``timeout`` seconds, they fail (:class:`ActivityFailed` saying where
the writer is): a drill must never go on as if the writer had moved. What the fault
ledger then holds keeps the rollback right:

* cancelled with the writer where it was: the entry is ``failed`` (nothing was
  injected; the rollback finds the writer home and has nothing to do);
* not finished within ``timeout`` (Aurora may still complete it), or cancelled with the
  writer in a third region: the entry stays ``applied`` with the error, so the rollback
  (or ``gameday recover``) waits for the operation to end and moves the writer back.

An operation already in progress when they start is waited for first (up to
``timeout``; then they fail and change nothing), since until it ends the writer may
still move. AWS takes about a minute for either operation, sometimes several: the
default ``timeout`` (10 minutes) leaves room for that. ``failover_database`` uses
``failover_global_cluster(AllowDataLoss=True)`` (what you do when the primary region is
down: writes not yet replicated are lost); ``switchover_database`` uses
``switchover_global_cluster`` (planned, no data loss) and is also the failback, hence
the rollback of both.
"""

import math
import time
from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import activity, registry
from gameday.describe.rds import HINTS as _READ_HINTS
from gameday.describe.rds import arn_region, describe_global_cluster, writer_of
from gameday.faults import APPLIED, FAILED, Undo

__all__ = ["failover_database", "switchover_database"]

_MODULE = __name__
_ACTIVITIES = ("failover_database", "switchover_database")
_HINTS = {
    **_READ_HINTS,
    "DBClusterNotFoundFault": "check that the global cluster has a member in the target region",
    "InvalidGlobalClusterStateFault": (
        "wait until the global cluster is 'available' (no other failover in progress) and retry"
    ),
    "InvalidDBClusterStateFault": "wait until the member clusters are 'available' and retry",
}


def _seconds(value: Any, name: str, *, minimum: float) -> float:
    """``value`` as a number of seconds, or :class:`ActivityFailed` before any call."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not number >= minimum or math.isinf(number):
        raise activity.fail(
            f"Bad `{name}` {value!r}: give a number of seconds, {minimum:g} or more."
        )
    return number


def _member_in(cluster: dict[str, Any], region: str, global_cluster_id: str) -> str:
    members = [m["DBClusterArn"] for m in cluster.get("GlobalClusterMembers", [])]
    for arn in members:
        if arn_region(arn) == region:
            return arn
    regions = ", ".join(sorted({arn_region(a) for a in members})) or "none"
    raise activity.fail(
        f"Global cluster {global_cluster_id!r} has no member in {region} (members in: "
        f"{regions}): choose one of those regions as `target_region`."
    )


def _settled(
    rds: Any, global_cluster_id: str, cluster: dict[str, Any], timeout: float, poll_interval: float
) -> dict[str, Any]:
    """The global cluster once no operation runs and no member is rebuilding (or fail)."""
    # an operation still running (a failover whose action timed out, say) must end before
    # the writer's place means anything: until then the global cluster refuses the next one
    # and the writer may still move
    busy_until = time.monotonic() + timeout
    while cluster.get("FailoverState") and time.monotonic() < busy_until:
        time.sleep(max(0.05, poll_interval))
        cluster = describe_global_cluster(rds, global_cluster_id)
    if cluster.get("FailoverState"):
        state = cluster["FailoverState"]
        raise activity.fail(
            f"Global cluster {global_cluster_id!r} still has a failover or switchover in "
            f"progress ({state.get('Status', 'unknown')}, towards "
            f"{arn_region(state.get('ToDbClusterArn', '')) or 'an unknown region'}) after "
            f"{timeout:g} s: wait until it ends, then run the action again."
        )
    # after an unplanned failover the old primary is rebuilt (pending-resync, minutes to
    # hours): AWS refuses a switchover until every member is in sync again, so wait for it
    while _resyncing(cluster) and time.monotonic() < busy_until:
        time.sleep(max(0.05, poll_interval))
        cluster = describe_global_cluster(rds, global_cluster_id)
    if _resyncing(cluster):
        raise activity.fail(
            f"Global cluster {global_cluster_id!r} has member(s) in pending-resync "
            f"({', '.join(sorted(arn_region(a) for a in _resyncing(cluster)))}) after "
            f"{timeout:g} s: an old primary is rebuilt after an unplanned failover and AWS "
            "refuses a switchover until it is in sync; wait, then run the action again."
        )
    return cluster


def _resyncing(cluster: dict[str, Any]) -> list[str]:
    """The members still rebuilding after an unplanned failover (``pending-resync``)."""
    return [
        m["DBClusterArn"]
        for m in cluster.get("GlobalClusterMembers", [])
        if m.get("SynchronizationStatus") == "pending-resync"
    ]


def _open_reverts(book: Any, target: str, target_region: str) -> list[Any]:
    """The open faults on this global cluster that moving the writer to ``target_region``
    reverts (moving it back where an open fault found it is that fault's revert)."""
    open_entries = [  # exactly this global cluster: "orders" is a prefix of "orders-eu"
        e
        for e in book.open_entries(activity=_ACTIVITIES, target_prefix=target)
        if e.target == target
    ]
    return [e for e in open_entries if e.undo.kwargs.get("target_region") == target_region]


def _start_move(
    *,
    rds: Any,
    fault: str,
    operation: str,
    global_cluster_id: str,
    target: str,
    target_arn: str,
    target_region: str,
    api_region: str,
    old: dict[str, Any] | None,
    reverting: list[Any],
    configuration: Configuration,
) -> str | None:
    """Call ``operation``: plainly when it reverts open faults, else through the ledger
    (with a switchover back to the old writer's region as its undo); the fault id, if any."""
    params: dict[str, Any] = {
        "GlobalClusterIdentifier": global_cluster_id,
        "TargetDbClusterIdentifier": target_arn,
    }
    if operation == "failover_global_cluster":
        params["AllowDataLoss"] = True
    failure = (
        f"Could not move the writer of global cluster {global_cluster_id!r} to {target_region}"
    )
    if reverting:
        activity.call(rds, operation, failure, _HINTS, **params)
        return None
    fault_id, _ = activity.inject(
        activity=fault,
        target=target,
        arguments={
            "global_cluster_id": global_cluster_id,
            "target_region": target_region,
            "region": api_region,
        },
        undo=Undo(
            _MODULE,
            "switchover_database",
            {
                "global_cluster_id": global_cluster_id,
                "target_region": old["region"] if old else target_region,
                "region": old["region"] if old else api_region,
            },
        ),
        configuration=configuration,
        apply=lambda _id: getattr(rds, operation)(**params),
        failure=failure,
        hints=_HINTS,
    )
    return fault_id


def _await_writer(
    rds: Any, global_cluster_id: str, target_region: str, deadline: float, poll_interval: float
) -> tuple[dict[str, Any], dict[str, Any] | None, bool, bool]:
    """Poll until the writer is in ``target_region`` with the operation over, the operation
    ends elsewhere (cancelled) or ``deadline``: (cluster, writer, completed, cancelled)."""
    seen_in_progress = cancelled = False
    while True:
        cluster = describe_global_cluster(rds, global_cluster_id)
        new = writer_of(cluster)
        # FailoverState is set only while an operation is pending or in progress: the
        # writer flag may flip before it ends, and the next operation is refused until then
        in_progress = bool(cluster.get("FailoverState"))
        seen_in_progress = seen_in_progress or in_progress
        arrived = bool(new and new["region"] == target_region)
        if arrived and not in_progress:
            break
        if seen_in_progress and not in_progress:
            cancelled = True  # the operation ended with the writer elsewhere
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(max(0.05, poll_interval))
    return cluster, new, arrived and not in_progress, cancelled


def _close_reverted(
    book: Any,
    reverting: list[Any],
    fault: str,
    outcome: dict[str, Any],
    target_region: str,
    timeout: float,
) -> None:
    """Close the reverted faults once the writer is back; fail (they stay open) if not."""
    if not outcome["completed"]:
        # a rollback that did not bring the writer back fails: its fault stays open
        # in the ledger, so `gameday recover` (or a second run) tries again
        new = outcome["new_writer"]
        where = new["region"] if new else "no region"
        why = "was cancelled" if outcome["cancelled"] else f"did not finish within {timeout:g} s"
        raise activity.fail(
            f"Moving the writer of global cluster {outcome['global_cluster_id']!r} back to "
            f"{target_region} {why} (writer in {where}): wait until replication "
            "has caught up, then run the rollback or `gameday recover` again."
        )
    book.mark_reverted(reverting, by=fault)
    outcome["reverted"] = [e.id for e in reverting]


def _move_writer(
    *,
    fault: str,
    operation: str,
    global_cluster_id: str,
    target_region: str,
    region: str | None,
    timeout: float,
    poll_interval: float,
    configuration: Configuration,
    secrets: Secrets,
) -> dict[str, Any]:
    """Move the writer of a global cluster to ``target_region`` with ``operation`` and wait
    for it (see the module docstring); shared by failover and switchover."""
    activity.require(global_cluster_id, "global_cluster_id", "the Aurora global cluster identifier")
    target_region = activity.check_region(target_region, "target_region")
    api_region = activity.check_region(region or target_region)
    timeout = _seconds(timeout, "timeout", minimum=0.0)
    poll_interval = _seconds(poll_interval, "poll_interval", minimum=0.0)
    rds = activity.connect("rds", api_region, configuration, secrets)
    activity.guard(api_region, configuration, secrets)
    # declared in AWS seconds; on the lab waited at 1/speed (the one clock)
    speed = activity.target_speed(configuration)
    wait, poll = timeout / speed, poll_interval / speed
    cluster = describe_global_cluster(rds, global_cluster_id)
    cluster = _settled(rds, global_cluster_id, cluster, wait, poll)
    old = writer_of(cluster)
    target_arn = _member_in(cluster, target_region, global_cluster_id)
    outcome: dict[str, Any] = {
        "global_cluster_id": global_cluster_id,
        "old_writer": old,
        "new_writer": old,
        "changed": False,
        "completed": bool(old and old["region"] == target_region),
        "cancelled": False,
        "elapsed_seconds": 0.0,
        "fault_id": None,
    }
    book = activity.ledger(configuration)
    target = f"rds:global-cluster:{global_cluster_id}"
    reverting = _open_reverts(book, target, target_region)
    if outcome["completed"]:
        book.mark_reverted(reverting, by=fault)
        outcome["reverted"] = [e.id for e in reverting]
        return outcome

    started = time.monotonic()
    fault_id = _start_move(
        rds=rds,
        fault=fault,
        operation=operation,
        global_cluster_id=global_cluster_id,
        target=target,
        target_arn=target_arn,
        target_region=target_region,
        api_region=api_region,
        old=old,
        reverting=reverting,
        configuration=configuration,
    )
    outcome["fault_id"] = fault_id
    cluster, new, completed, cancelled = _await_writer(
        rds, global_cluster_id, target_region, started + wait, poll
    )
    outcome.update(
        new_writer=new,
        changed=new != old,
        completed=completed,
        cancelled=cancelled,
        elapsed_seconds=round((time.monotonic() - started) * speed, 3),
    )
    if reverting:
        _close_reverted(book, reverting, fault, outcome, target_region, timeout)
    elif not outcome["completed"]:
        raise _not_moved(book, outcome, cluster, target_region, timeout)
    return outcome


def _not_moved(
    book: Any,
    outcome: dict[str, Any],
    cluster: dict[str, Any],
    target_region: str,
    timeout: float,
) -> Exception:
    """Record in the ledger why the writer is not in ``target_region``; the failure to raise.

    Cancelled with the writer where it was: nothing was injected (``failed``). Otherwise
    (unfinished, or the writer in a third region) the fault stays ``applied``: the
    rollback must wait for the operation and bring the writer back.
    """
    gcid, old, new = outcome["global_cluster_id"], outcome["old_writer"], outcome["new_writer"]
    where = f"the writer is in {new['region']}" if new else "the global cluster has no writer"
    home = old["region"] if old else target_region
    if outcome["cancelled"]:
        why = "was cancelled"
    else:
        status = (cluster.get("FailoverState") or {}).get("Status")
        still = f", its FailoverState still {status}" if status else ""
        why = f"did not finish within {timeout:g} s{still}"
    head = f"Moving the writer of global cluster {gcid!r} to {target_region} {why}: {where}"
    if outcome["cancelled"] and new == old:
        message = (
            f"{head}; nothing changed, so the rollback has nothing to undo: see why in the "
            "global cluster's events (`aws rds describe-events --source-type "
            "db-cluster`), fix that (replication caught up, target reachable) and run it again."
        )
        book.mark(outcome["fault_id"], FAILED, error=message)
    else:
        message = (
            f"{head}. The fault stays open: the rollback (or `gameday recover`) waits for "
            f"the operation to end and moves the writer back to {home}. Aurora can take "
            "minutes: give `timeout` room for that."
        )
        book.mark(outcome["fault_id"], APPLIED, error=message)
    return activity.fail(message)


@registry.fault(
    rollback="switchover_database",
    iam=("rds:DescribeGlobalClusters", "rds:FailoverGlobalCluster"),
    note="Aurora global, `AllowDataLoss`",
)
def failover_database(
    global_cluster_id: str,
    target_region: str,
    region: str | None = None,
    timeout: float = 600.0,
    poll_interval: float = 5.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Fail an Aurora global database over to ``target_region`` (unplanned, data loss allowed).

    Calls ``failover_global_cluster(AllowDataLoss=True)`` towards the member cluster in
    ``target_region`` (API calls go to ``region``, default ``target_region``), then waits
    up to ``timeout`` seconds for the writer to be there and the operation over (``timeout``,
    ``poll_interval`` and the returned ``elapsed_seconds`` are AWS seconds: on the lab,
    waited at 1/speed).
    Idempotent: nothing is called when the writer is already in ``target_region``.
    Recorded in the fault ledger with its undo (a switchover back to the old writer's
    region). Roll back with ``switchover_database`` towards the old writer's region.

    Raises :class:`ActivityFailed`, naming the writer's region, when the failover is
    cancelled or unfinished after ``timeout`` (see the module docstring for what the
    ledger then holds).

    Returns ``global_cluster_id``, ``old_writer`` and ``new_writer`` (``region``,
    ``cluster_arn``), ``changed``, ``completed`` (always true once it returns),
    ``cancelled`` (always false once it returns), ``elapsed_seconds`` and ``fault_id``.
    """
    return _move_writer(
        fault="failover_database",
        operation="failover_global_cluster",
        global_cluster_id=global_cluster_id,
        target_region=target_region,
        region=region,
        timeout=timeout,
        poll_interval=poll_interval,
        configuration=configuration,
        secrets=secrets,
    )


@registry.fault(
    rollback="switchover_database",
    iam=("rds:DescribeGlobalClusters", "rds:SwitchoverGlobalCluster"),
    note="planned, no data loss; also the rollback of a failover and the failback",
)
def switchover_database(
    global_cluster_id: str,
    target_region: str,
    region: str | None = None,
    timeout: float = 600.0,
    poll_interval: float = 5.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Switch an Aurora global database's writer over to ``target_region`` (planned).

    Calls ``switchover_global_cluster`` towards the member cluster in ``target_region``
    and waits up to ``timeout`` seconds for the writer to be there. Also the failback and
    the rollback of ``failover_database``: moving the writer back to where an open fault
    found it closes that fault in the ledger instead of recording a new one, once the
    switchover has completed; if it is cancelled or unfinished after ``timeout``, the
    rollback fails and the fault stays open for ``gameday recover``. As a forward action
    it fails the same way as ``failover_database``. Idempotent.

    Returns ``global_cluster_id``, ``old_writer``, ``new_writer``, ``changed``,
    ``completed``, ``cancelled``, ``elapsed_seconds``, ``fault_id`` and, for a failback,
    ``reverted`` (the ledger entries closed).
    """
    return _move_writer(
        fault="switchover_database",
        operation="switchover_global_cluster",
        global_cluster_id=global_cluster_id,
        target_region=target_region,
        region=region,
        timeout=timeout,
        poll_interval=poll_interval,
        configuration=configuration,
        secrets=secrets,
    )
