"""Point-in-time recovery in the lab's control plane: Aurora clusters and DynamoDB tables.

What moto 5.2.5 does, and what the lab changes so the calls answer as AWS does:

* ``RestoreDBClusterToPointInTime``: moto copies the source cluster at once, ignores the
  time, keeps the source's global-cluster membership (so the copy joins the global
  database) and reports it ``available`` on the second read. The lab checks the request
  (``DBClusterAlreadyExistsFault`` for a name in use, ``InvalidRestoreFault`` for a time
  outside the restorable window, ``InvalidParameterCombination`` for both or neither of
  ``RestoreToTime`` / ``UseLatestRestorableTime``), creates a standalone cluster that stays
  ``creating`` until the lab's restorer (:mod:`gameday.lab.region.restore`) has rebuilt its
  data as of the restore time, and puts a :class:`RestoreRequest` in the outbox.
* ``DescribeDBClusters``: moto reports ``LatestRestorableTime`` as *now*, the flattering end.
  Aurora's continuous backup trails the writes by the time it takes to archive them; AWS
  gives no figure for Aurora, so the lab assumes :data:`LATEST_RESTORABLE_LAG_SECONDS` (AWS
  seconds, on the lab's clock). ``EarliestRestorableTime`` is the cluster's creation, or the
  start of the ``BackupRetentionPeriod`` (days) when that is later.
* DynamoDB ``DescribeContinuousBackups``: moto freezes both restorable times at the moment
  PITR was enabled. The lab reports them as AWS documents: the earliest is when PITR was
  enabled or the start of the recovery period (35 days unless set), the latest is
  typically five minutes before now (:data:`DYNAMODB_LATEST_LAG_SECONDS`).
* DynamoDB ``RestoreTableToPointInTime``: moto copies every item whatever the time. The lab
  refuses a table without PITR (``PointInTimeRecoveryUnavailableException``) and a time
  outside the window (``InvalidRestoreTimeException``), and keeps only the items written
  at or before the restore time (the orders mirror carries each item's ``acked_at``).

Dependencies point one way: the restorer reads the outbox and calls
:func:`finish_restore`; nothing here calls the restorer.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gameday.lab.clock import LabClock
from gameday.lab.controlplane.server import LAB_ACCOUNT_ID

#: AWS seconds Aurora's LatestRestorableTime trails now (a lab assumption: AWS gives none).
LATEST_RESTORABLE_LAG_SECONDS = 60.0
#: AWS seconds DynamoDB's LatestRestorableDateTime trails now ("typically five minutes").
DYNAMODB_LATEST_LAG_SECONDS = 300.0
#: DynamoDB's default PITR recovery period, in days.
DYNAMODB_RECOVERY_DAYS = 35


@dataclass(frozen=True)
class RestoreRequest:
    """One accepted RestoreDBClusterToPointInTime call."""

    cluster_id: str
    cluster_arn: str
    region: str
    source_id: str
    source_arn: str
    restore_time: float
    requested_at: float


Outbox = queue.Queue[RestoreRequest]

_lock = threading.Lock()
#: cluster ARN -> still being restored (``creating``) by the lab's restorer.
_RESTORING: set[str] = set()
_CLOCK: list[LabClock] = [LabClock(1)]


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def restorable_window(cluster: Any) -> tuple[float, float]:
    """(earliest, latest) restorable times of a moto cluster, epoch seconds, lab clock."""
    clock = _CLOCK[0]
    now = time.time()
    retention = float(getattr(cluster, "backup_retention_period", 1) or 1) * 86400.0
    earliest = max(_epoch(cluster.earliest_restorable_time), now - clock.aws_to_lab(retention))
    latest = now - clock.aws_to_lab(LATEST_RESTORABLE_LAG_SECONDS)
    return earliest, max(earliest, latest)


def finish_restore(region: str, cluster_id: str) -> bool:
    """The restorer has rebuilt the data: the cluster is ``available`` (False if deleted)."""
    cluster = _rds(region).clusters.get(cluster_id)
    with _lock:
        if cluster is not None:
            _RESTORING.discard(cluster.db_cluster_arn)
    return cluster is not None


def cluster_exists(region: str, cluster_id: str) -> bool:
    return cluster_id in _rds(region).clusters


# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_pitr.py)


def _rds(region: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[LAB_ACCOUNT_ID][region]


def install(outbox: Outbox, clock: LabClock | None = None) -> None:
    """Patch moto's PITR operations for both tiers (see the module docstring)."""
    _CLOCK[0] = clock or LabClock(1)
    _install_rds(outbox)
    _install_dynamodb()


def _install_rds(outbox: Outbox) -> None:
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import DBCluster
    from moto.rds.responses import RDSResponse

    status = DBCluster.status

    def status_while_restoring(self: Any) -> str:
        with _lock:
            if self.db_cluster_arn in _RESTORING:
                return "creating"
        return str(status.fget(self))

    DBCluster.status = property(status_while_restoring, status.fset)
    DBCluster.latest_restorable_time = property(
        lambda self: datetime.fromtimestamp(restorable_window(self)[1]).astimezone()
    )

    def restore_db_cluster_to_point_in_time(self: Any) -> Any:
        params = self.params
        target, source_id = params["DBClusterIdentifier"], params["SourceDBClusterIdentifier"]
        at, latest = params.get("RestoreToTime"), bool(params.get("UseLatestRestorableTime"))
        if (at is None) == (not latest):
            raise RDSClientError(
                "InvalidParameterCombination",
                "Specify exactly one of RestoreToTime and UseLatestRestorableTime.",
            )
        source = self.backend.describe_db_clusters(db_cluster_identifier=source_id)[0]
        if target in self.backend.clusters:
            raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
        earliest, newest = restorable_window(source)
        when = newest if latest else _epoch(at)
        if not earliest <= when <= newest:
            raise RDSClientError(
                "InvalidRestoreFault",
                f"The requested restore time {_iso(when)} is not within the restorable "
                f"window of DB cluster {source_id} ({_iso(earliest)} to {_iso(newest)}).",
            )
        cluster = self.backend.restore_db_cluster_to_point_in_time(
            db_cluster_identifier=target,
            source_db_cluster_identifier=source_id,
            global_cluster_identifier=None,
            is_writer=False,
            replication_source_identifier=None,
            tags=params.get("Tags") or [],
            # a global member keeps no password of its own in moto; the restored cluster
            # is standalone and moto insists on one (AWS copies the source's credentials)
            master_user_password=getattr(source, "_master_user_password", None)
            or "lab-restored-cluster",
        )
        with _lock:
            _RESTORING.add(cluster.db_cluster_arn)
        outbox.put(
            RestoreRequest(
                target,
                cluster.db_cluster_arn,
                self.region,
                source_id,
                source.db_cluster_arn,
                when,
                time.time(),
            )
        )
        return ActionResult({"DBCluster": cluster})

    RDSResponse.restore_db_cluster_to_point_in_time = restore_db_cluster_to_point_in_time


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def _dynamodb_window(table: Any) -> tuple[float, float] | None:
    """(earliest, latest) restorable times of a moto table with PITR on, else None."""
    description = table.continuous_backups["PointInTimeRecoveryDescription"]
    if description.get("PointInTimeRecoveryStatus") != "ENABLED":
        return None
    clock, now = _CLOCK[0], time.time()
    days = float(description.get("RecoveryPeriodInDays") or DYNAMODB_RECOVERY_DAYS)
    enabled = float(description.get("_lab_enabled_at") or now)
    earliest = max(enabled, now - clock.aws_to_lab(days * 86400.0))
    latest = now - clock.aws_to_lab(DYNAMODB_LATEST_LAG_SECONDS)
    return earliest, max(earliest, latest)


def _install_dynamodb() -> None:
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    describe, restore, update = (
        DynamoDBBackend.describe_continuous_backups,
        DynamoDBBackend.restore_table_to_point_in_time,
        DynamoDBBackend.update_continuous_backups,
    )
    prefix = "com.amazonaws.dynamodb.v20120810#"

    def describe_continuous_backups(self: Any, table_name: str) -> dict[str, Any]:
        backups = describe(self, table_name)
        window = _dynamodb_window(self.get_table(table_name))
        shown = {k: v for k, v in backups["PointInTimeRecoveryDescription"].items()}
        shown.pop("_lab_enabled_at", None)
        if window is not None:
            shown["EarliestRestorableDateTime"], shown["LatestRestorableDateTime"] = window
        return {**backups, "PointInTimeRecoveryDescription": shown}

    def update_continuous_backups(self: Any, table_name: str, spec: dict[str, Any]) -> Any:
        description = self.get_table(table_name).continuous_backups[
            "PointInTimeRecoveryDescription"
        ]
        was_on = description.get("PointInTimeRecoveryStatus") == "ENABLED"
        enabled_at = description.get("_lab_enabled_at")
        result = update(self, table_name, spec)
        description = self.get_table(table_name).continuous_backups[
            "PointInTimeRecoveryDescription"
        ]
        if description.get("PointInTimeRecoveryStatus") == "ENABLED":
            description["_lab_enabled_at"] = enabled_at if was_on else time.time()
        return describe_continuous_backups(self, table_name) if result else result

    def restore_table_to_point_in_time(
        self: Any, target_table_name: str, source_table_name: str, **when: Any
    ) -> Any:
        source = self.get_table(source_table_name)
        window = _dynamodb_window(source)
        if window is None:
            raise DynamodbException(
                prefix + "PointInTimeRecoveryUnavailableException",
                f"Point in time recovery is not enabled for table '{source_table_name}'",
            )
        at = window[1] if when.get("latest") or not when.get("at") else _epoch(when["at"])
        if not window[0] <= at <= window[1]:
            raise DynamodbException(
                prefix + "InvalidRestoreTimeException",
                f"RestoreDateTime {_iso(at)} is not within the restorable window "
                f"({_iso(window[0])} to {_iso(window[1])}).",
            )
        table = restore(self, target_table_name, source_table_name)
        for key in [k for k, item in table.items.items() if _written_after(item, at)]:
            del table.items[key]
        return table

    DynamoDBBackend.describe_continuous_backups = describe_continuous_backups
    DynamoDBBackend.update_continuous_backups = update_continuous_backups
    DynamoDBBackend.restore_table_to_point_in_time = restore_table_to_point_in_time
    _install_dynamodb_response()


def _written_after(item: Any, at: float) -> bool:
    acked = item.attrs.get("acked_at") if hasattr(item, "attrs") else None
    try:
        return acked is not None and float(acked.value) > at
    except (TypeError, ValueError, AttributeError):
        return False


def _install_dynamodb_response() -> None:
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    def restore_table_to_point_in_time(self: Any) -> Any:
        body = self.body
        table = self.dynamodb_backend.restore_table_to_point_in_time(
            body.get("TargetTableName"),
            body.get("SourceTableName"),
            at=body.get("RestoreDateTime"),
            latest=bool(body.get("UseLatestRestorableTime")),
        )
        return DynamoResult(table.describe())

    DynamoHandler.restore_table_to_point_in_time = restore_table_to_point_in_time
