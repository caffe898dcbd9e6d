"""Point-in-time restore of an Aurora cluster, and the cut-over of the application to it.

Replication copies bad data to the recovery region as faithfully as good data; the way
back is a restore to a time before the corruption. Aurora restores into a *new* cluster
(``restore_db_cluster_to_point_in_time``), so recovering takes four steps, one action each:

1. :func:`restore_database_to_point_in_time`: start the restore (to a given time, or to
   just before the first record of a bad-data batch, found through the service's API);
2. :func:`gameday.probes.restore.wait_for_restore` (a probe: it only reads): wait until
   the new cluster is ``available``, logging progress;
3. :func:`cut_over_database`: point the application at it by changing the connection in
   its secret (``dbClusterIdentifier``), and wait until every region's deep health says it
   is connected there;
4. :func:`roll_back_cut_over` (the cut-over's rollback) points it back, and
   :func:`delete_restored_cluster` (the restore's rollback) removes the restored cluster.

The restore and the cut-over are recovery steps, not impairments, but they change
infrastructure: each is declared a fault in :mod:`gameday.registry` (recorded in the
fault ledger before it is made, with its rollback and IAM actions beside it), so neither
outlives the run.

Bad input changes nothing: a restore time outside the restorable window, a target name
already in use, a cut-over to a cluster that is not ``available``: each fails with one
message before any state-changing call.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import activity as s
from gameday import registry
from gameday.baddata import batch_ids
from gameday.describe.restore import HINTS, cluster_exists, describe_db_cluster
from gameday.faults import Undo
from gameday.probes.http import _check_url, _request

__all__ = [
    "cut_over_database",
    "delete_restored_cluster",
    "restore_database_to_point_in_time",
    "roll_back_cut_over",
]

_MODULE = __name__
#: The tag a restored cluster carries: only such a cluster is ever deleted by gameday.
RESTORED_TAG = "gameday:restored-from"
_HINTS = HINTS


def _epoch(value: Any, name: str) -> float:
    """An ISO 8601 time or epoch seconds, as epoch seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise s.fail(
            f"Bad `{name}` {value!r}: give an ISO 8601 time (2026-01-31T12:00:00Z) or epoch "
            "seconds."
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _first_bad_ack(writer_url: str, batch: str, count: int, timeout: float = 5.0) -> float:
    """When the first order of a bad-data batch was acknowledged, read through the service."""
    answer = _request(
        _check_url(writer_url).rstrip("/") + "/orders/lookup", method="POST",
        body=json.dumps({"ids": batch_ids(batch, count)}).encode(), timeout=timeout,
        **{"Content-Type": "application/json"},
    )  # fmt: skip
    if answer["status"] != 200:
        raise s.fail(
            f"Could not look up bad-data batch {batch!r} at {writer_url} "
            f"({answer['status'] or answer['error']}): check `writer_url`."
        )
    found = json.loads(answer["body"])["found"].values()
    if not found:
        raise s.fail(
            f"No order of bad-data batch {batch!r} is in {writer_url}: nothing tells when the "
            "corruption began; give `restore_time` instead."
        )
    return min(float(o["acked_at"]) for o in found)


def _await_window(rds: Any, source: str, when: float, timeout: float, poll: float) -> None:
    """Wait until ``when`` is restorable; fail (nothing changed) if it never can be."""
    deadline = time.monotonic() + timeout
    while True:
        cluster = describe_db_cluster(rds, source)
        earliest = cluster.get("EarliestRestorableTime")
        latest = cluster.get("LatestRestorableTime")
        if earliest is not None and when < earliest.timestamp():
            raise s.fail(
                f"Cannot restore DB cluster {source!r} to {_iso(when)}: its backups begin at "
                f"{_iso(earliest.timestamp())} (EarliestRestorableTime); choose a later time."
            )
        if latest is None or when <= latest.timestamp():
            return
        if when > time.time() or time.monotonic() >= deadline:
            raise s.fail(
                f"Cannot restore DB cluster {source!r} to {_iso(when)}: its latest restorable "
                f"time is {_iso(latest.timestamp())}; choose an earlier time (or give "
                "`window_timeout` room for the backup to catch up)."
            )
        time.sleep(poll)


@registry.fault(
    rollback="delete_restored_cluster",
    iam=("rds:DescribeDBClusters", "rds:RestoreDBClusterToPointInTime", "rds:AddTagsToResource"),
    note="a recovery step: Aurora point-in-time restore into a new cluster",
)
def restore_database_to_point_in_time(
    source_cluster_id: str,
    target_cluster_id: str,
    region: str,
    restore_time: Any = None,
    bad_data_batch: str | None = None,
    bad_data_count: int = 10,
    writer_url: str | None = None,
    window_timeout: float = 600.0,
    poll_interval: float = 5.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Start restoring ``source_cluster_id`` into a new cluster ``target_cluster_id``.

    The restore point is ``restore_time`` (ISO 8601 or epoch seconds) or, with
    ``bad_data_batch`` and ``writer_url``, one millisecond before the batch's first order
    was acknowledged (read through the service's API). A time that is not restorable yet
    (after ``LatestRestorableTime`` but not in the future) is waited for up to
    ``window_timeout`` AWS seconds (at 1/speed on the lab, as ``poll_interval``); before ``EarliestRestorableTime``, in the future, or a
    target name already in use fails at once, nothing changed. Recorded in the fault
    ledger with its rollback :func:`delete_restored_cluster`. Does not wait for the
    restore: the probe :func:`gameday.probes.restore.wait_for_restore` does.

    Returns ``cluster_id``, ``source_cluster_id``, ``restore_time`` (epoch), ``restore_time_iso``,
    ``requested_at``, ``status`` and ``fault_id``.
    """
    s.require(source_cluster_id, "source_cluster_id", "the cluster to restore from")
    if source_cluster_id.startswith("arn:"):  # its ARN names it too (same region)
        source_cluster_id = source_cluster_id.rsplit(":", 1)[-1]
    s.require(target_cluster_id, "target_cluster_id", "a new, unused cluster name")
    region = s.check_region(region)
    if (restore_time is None) == (bad_data_batch is None):
        raise s.fail("Give exactly one of `restore_time` and `bad_data_batch` (with `writer_url`).")
    if restore_time is not None:
        when = _epoch(restore_time, "restore_time")
    else:
        s.require(writer_url, "writer_url", "the service endpoint holding the bad data")
        when = _first_bad_ack(str(writer_url), str(bad_data_batch), int(bad_data_count)) - 0.001
    rds = s.connect("rds", region, configuration, secrets)
    s.guard(region, configuration, secrets)
    if cluster_exists(rds, target_cluster_id):
        raise s.fail(
            f"DB cluster {target_cluster_id!r} already exists in {region}: choose another "
            "`target_cluster_id`; nothing was restored."
        )
    _await_window(rds, source_cluster_id, when, s.wall_seconds(float(window_timeout), configuration),
                  s.wall_seconds(float(poll_interval), configuration))  # fmt: skip
    requested = time.time()
    fault_id, answer = s.inject(
        activity="restore_database_to_point_in_time",
        target=f"rds:cluster:{region}:{target_cluster_id}",
        arguments={"source_cluster_id": source_cluster_id, "target_cluster_id": target_cluster_id,
                   "region": region, "restore_time": when},
        undo=Undo(_MODULE, "delete_restored_cluster",
                  {"cluster_id": target_cluster_id, "region": region}),
        configuration=configuration,
        apply=lambda _id: rds.restore_db_cluster_to_point_in_time(
            DBClusterIdentifier=target_cluster_id, SourceDBClusterIdentifier=source_cluster_id,
            RestoreToTime=datetime.fromtimestamp(when, UTC),
            Tags=[{"Key": RESTORED_TAG, "Value": source_cluster_id}],
        ),
        failure=f"Could not restore DB cluster {source_cluster_id!r} to {_iso(when)}",
        hints=_HINTS,
    )  # fmt: skip
    return {
        "cluster_id": target_cluster_id,
        "source_cluster_id": source_cluster_id,
        "restore_time": when,
        "restore_time_iso": _iso(when),
        "requested_at": requested,
        "status": answer["DBCluster"].get("Status"),
        "fault_id": fault_id,
    }


def _secret_json(sm: Any, secret_id: str) -> dict[str, Any]:
    value = s.call(sm, "get_secret_value", f"Could not read secret {secret_id!r}",
                   SecretId=secret_id).get("SecretString")  # fmt: skip
    try:
        data = json.loads(value or "")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise s.fail(
            f"Secret {secret_id!r} does not hold a JSON object: the cut-over changes a key of "
            "the application's connection secret."
        )
    return data


def _await_database(
    urls: list[str], database: str | None, timeout: float, configuration: Configuration
) -> float:
    """Wait until every ``{url}/health`` reports ``database``; the AWS seconds it took.

    ``timeout`` is AWS seconds (waited at 1/speed on the lab). Nothing to wait for when
    ``database`` is None (the secret named no cluster before)."""
    speed = s.target_speed(configuration)
    started = time.monotonic()
    pending = list(urls) if database is not None else []
    while pending:
        pending = [u for u in pending if _health_database(u) != database]
        if pending and (time.monotonic() - started) * speed >= timeout:
            raise s.fail(
                f"{', '.join(pending)} still not connected to {database!r} after {timeout:g} s: "
                "check that the application re-reads its secret."
            )
        if pending:
            time.sleep(0.1 / speed)
    return round((time.monotonic() - started) * speed, 3)


def _health_database(url: str) -> Any:
    answer = _request(url.rstrip("/") + "/health", timeout=2.0)
    try:
        return json.loads(answer["body"]).get("database")
    except (ValueError, AttributeError):
        return None


def _put_connection(sm: Any, secret_id: str, data: dict[str, Any]) -> Any:
    return s.call(sm, "put_secret_value", f"Could not update secret {secret_id!r}",
                  SecretId=secret_id, SecretString=json.dumps(data))  # fmt: skip


@registry.fault(
    rollback="roll_back_cut_over",
    iam=(
        "rds:DescribeDBClusters",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
    ),
    note="a recovery step: the application's connection secret names the restored cluster",
)
def cut_over_database(
    secret_id: str,
    region: str,
    cluster_id: str,
    key: str = "dbClusterIdentifier",
    service_urls: list[str] | None = None,
    timeout: float = 60.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Point the application at ``cluster_id``: set ``key`` in its connection secret.

    Refuses (nothing changed) unless the cluster is ``available``. Then
    ``put_secret_value`` with ``key`` set, recorded in the fault ledger with its rollback
    :func:`roll_back_cut_over` (the previous value), and waits up to ``timeout`` seconds
    until each of ``service_urls`` reports ``database`` = ``cluster_id`` in its deep
    health (``timeout`` and ``followed_after_s`` in AWS seconds, at 1/speed on the lab).
    Idempotent: nothing is written when the secret already names the cluster.

    Returns ``secret_id``, ``previous``, ``cluster_id``, ``changed``, ``followed_after_s``
    and ``fault_id``.
    """
    s.require(secret_id, "secret_id", "the application's connection secret")
    s.require(cluster_id, "cluster_id", "the restored cluster to cut over to")
    region = s.check_region(region)
    rds = s.connect("rds", region, configuration, secrets)
    sm = s.connect("secretsmanager", region, configuration, secrets)
    s.guard(region, configuration, secrets)
    status = describe_db_cluster(rds, cluster_id).get("Status")
    if status != "available":
        raise s.fail(
            f"DB cluster {cluster_id!r} is {status!r}, not 'available': wait for the restore "
            "(the wait_for_restore probe) before cutting over; nothing was changed."
        )
    data = _secret_json(sm, secret_id)
    previous = data.get(key)
    fault_id = None
    if previous != cluster_id:
        fault_id, _ = s.inject(
            activity="cut_over_database",
            target=f"secretsmanager:{region}:{secret_id}",
            arguments={"secret_id": secret_id, "region": region, "cluster_id": cluster_id},
            undo=Undo(_MODULE, "roll_back_cut_over",
                      {"secret_id": secret_id, "region": region, "cluster_id": previous,
                       "key": key, "service_urls": list(service_urls or [])}),
            configuration=configuration,
            apply=lambda _id: sm.put_secret_value(
                SecretId=secret_id, SecretString=json.dumps({**data, key: cluster_id})),
            failure=f"Could not point secret {secret_id!r} at {cluster_id!r}",
        )  # fmt: skip
    followed = _await_database(list(service_urls or []), cluster_id, float(timeout), configuration)
    return {"secret_id": secret_id, "previous": previous, "cluster_id": cluster_id,
            "changed": fault_id is not None, "followed_after_s": followed,
            "fault_id": fault_id}  # fmt: skip


@registry.rollback(iam=("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"))
def roll_back_cut_over(
    secret_id: str,
    region: str,
    cluster_id: str | None = None,
    key: str = "dbClusterIdentifier",
    service_urls: list[str] | None = None,
    timeout: float = 60.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Point the application back (the rollback of :func:`cut_over_database`).

    Back to ``cluster_id`` when given; otherwise to what the secret named before the open
    cut-over recorded in the fault ledger (a key it did not have is removed), and nothing
    is done when no cut-over is open. Waits until each of ``service_urls`` reports
    that database, and closes the secret's open cut-over entries in the fault ledger.
    Writes made to the restored cluster since the cut-over stay there: they are not
    carried back. Idempotent.

    Returns ``secret_id``, ``cluster_id``, ``changed``, ``followed_after_s`` and ``reverted``.
    """
    s.require(secret_id, "secret_id", "the application's connection secret")
    region = s.check_region(region)
    sm = s.connect("secretsmanager", region, configuration, secrets)
    s.guard(region, configuration, secrets)
    book = s.ledger(configuration)
    target = f"secretsmanager:{region}:{secret_id}"
    entries = [e for e in book.open_entries(activity="cut_over_database") if e.target == target]
    if cluster_id is None and not entries:
        return {"secret_id": secret_id, "cluster_id": None, "changed": False,
                "followed_after_s": 0.0, "reverted": []}  # fmt: skip
    if cluster_id is None:
        cluster_id = entries[0].undo.kwargs.get("cluster_id")
    data = _secret_json(sm, secret_id)
    changed = data.get(key) != cluster_id
    if changed:
        restored = {k: v for k, v in data.items() if k != key}
        _put_connection(
            sm, secret_id, restored if cluster_id is None else {**restored, key: cluster_id}
        )
    followed = _await_database(list(service_urls or []), cluster_id, float(timeout), configuration)
    book.mark_reverted(entries, by="roll_back_cut_over")
    return {"secret_id": secret_id, "cluster_id": cluster_id, "changed": changed,
            "followed_after_s": followed, "reverted": [e.id for e in entries]}  # fmt: skip


@registry.rollback(iam=("rds:DescribeDBClusters", "rds:DeleteDBCluster"))
def delete_restored_cluster(
    cluster_id: str,
    region: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Delete a cluster gameday restored (the rollback of the restore).

    Refuses any cluster without the ``gameday:restored-from`` tag: a cluster gameday did
    not create is never deleted. No final snapshot. A cluster already gone counts as
    deleted (idempotent). Closes the restore's open entries in the fault ledger.

    Returns ``cluster_id``, ``deleted`` (false when it was already gone) and ``reverted``.
    """
    s.require(cluster_id, "cluster_id", "the restored cluster to delete")
    region = s.check_region(region)
    rds = s.connect("rds", region, configuration, secrets)
    s.guard(region, configuration, secrets)
    deleted = False
    if cluster_exists(rds, cluster_id):
        tags = {t.get("Key") for t in describe_db_cluster(rds, cluster_id).get("TagList") or []}
        if RESTORED_TAG not in tags:
            raise s.fail(
                f"Refusing to delete DB cluster {cluster_id!r}: it has no {RESTORED_TAG!r} tag, "
                "so gameday did not restore it."
            )
        s.call(rds, "delete_db_cluster", f"Could not delete DB cluster {cluster_id!r}", _HINTS,
               DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)  # fmt: skip
        deleted = True
    book = s.ledger(configuration)
    target = f"rds:cluster:{region}:{cluster_id}"
    entries = [
        e for e in book.open_entries(activity="restore_database_to_point_in_time")
        if e.target == target
    ]  # fmt: skip
    book.mark_reverted(entries, by="delete_restored_cluster")
    return {"cluster_id": cluster_id, "deleted": deleted, "reverted": [e.id for e in entries]}
