"""Point-in-time recovery in the lab, as AWS answers it (and where moto does not).

moto 5.2.5 restores a cluster at once, whatever the time, into the source's global
cluster, and reports ``LatestRestorableTime`` as now; its DynamoDB restore copies every
item. These tests fail loudly if the lab's behaviour (or moto underneath it) changes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from gameday.cli import main as gameday_cli
from gameday.lab import Lab
from gameday.lab.controlplane.pitr import LATEST_RESTORABLE_LAG_SECONDS
from gameday.lab.region.restore import RESTORE_BASE_SECONDS
from tests.lab.helpers import request, wait_until

pytestmark = pytest.mark.lab


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _write(lab: Lab, order_id: str, **body: object) -> float:
    info = lab.info
    status, _, reply = request(
        info.primary.address, info.service_port, "POST", "/orders", {"id": order_id, **body}
    )
    assert status == 201, reply
    return float(reply["acked_at"])


def _ids_on_disk(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {r[0] for r in db.execute("SELECT id FROM orders")}


def test_the_window_trails_now_and_bad_requests_are_refused_as_aws_does(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    rds = boto3.client("rds", region_name=info.primary.name)
    (cluster,) = rds.describe_db_clusters(DBClusterIdentifier=info.primary.db_cluster_id)[
        "DBClusters"
    ]
    lag = LATEST_RESTORABLE_LAG_SECONDS / lab.state()["config"]["speed"]
    assert cluster["EarliestRestorableTime"] <= cluster["LatestRestorableTime"]
    assert cluster["LatestRestorableTime"].timestamp() <= time.time() - lag + 0.5 or (
        cluster["LatestRestorableTime"] == cluster["EarliestRestorableTime"]
    )
    source = info.primary.db_cluster_id
    refused = {
        "InvalidRestoreFault": {"RestoreToTime": _at(time.time() + 3600)},
        "InvalidParameterCombination": {
            "RestoreToTime": cluster["EarliestRestorableTime"],
            "UseLatestRestorableTime": True,
        },
        "DBClusterAlreadyExistsFault": {"UseLatestRestorableTime": True},
    }
    for code, when in refused.items():
        target = source if code == "DBClusterAlreadyExistsFault" else "never-made"
        with pytest.raises(ClientError) as caught:
            rds.restore_db_cluster_to_point_in_time(
                DBClusterIdentifier=target, SourceDBClusterIdentifier=source, **when
            )
        assert caught.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError, match="DBClusterNotFound"):
        rds.describe_db_clusters(DBClusterIdentifier="never-made")


@pytest.mark.slow
def test_a_restore_rebuilds_the_data_as_of_its_time_and_a_cut_over_serves_it(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    port = info.service_port
    kept = _write(lab, "pitr-kept")
    time.sleep(0.05)
    point = time.time()
    _write(lab, "pitr-after")
    rds = boto3.client("rds", region_name=info.primary.name)

    def restorable() -> bool:
        (c,) = rds.describe_db_clusters(DBClusterIdentifier=info.primary.db_cluster_id)[
            "DBClusters"
        ]
        return c["LatestRestorableTime"].timestamp() >= point

    wait_until(restorable, timeout=30, interval=0.2)
    asked = time.time()
    made = rds.restore_db_cluster_to_point_in_time(
        DBClusterIdentifier="pitr-restored", SourceDBClusterIdentifier=info.primary.db_cluster_id,
        RestoreToTime=_at(point),
    )["DBCluster"]  # fmt: skip
    assert made["Status"] == "creating" and kept < point
    members = boto3.client("rds", region_name=info.primary.name).describe_global_clusters(
        GlobalClusterIdentifier=info.global_cluster_id
    )["GlobalClusters"][0]["GlobalClusterMembers"]
    assert "pitr-restored" not in json.dumps(members)  # standalone, as AWS restores it

    def status() -> str:
        return rds.describe_db_clusters(DBClusterIdentifier="pitr-restored")["DBClusters"][0][
            "Status"
        ]

    wait_until(lambda: status() == "available", timeout=60, interval=0.1)
    took = time.time() - asked
    assert took >= RESTORE_BASE_SECONDS / lab.state()["config"]["speed"] - 0.2
    restored = _ids_on_disk(Path(lab.dir) / "clusters" / "pitr-restored.db")
    source = _ids_on_disk(Path(lab.dir) / f"region-{info.primary.name}.db")
    assert "pitr-kept" in restored and "pitr-after" not in restored
    assert restored <= source

    secrets = boto3.client("secretsmanager", region_name=info.primary.name)
    original = secrets.get_secret_value(SecretId=info.secret_name)["SecretString"]
    secrets.put_secret_value(
        SecretId=info.secret_name,
        SecretString=json.dumps({**json.loads(original), "dbClusterIdentifier": "pitr-restored"}),
    )
    try:
        for region in (info.primary, info.secondary):
            wait_until(
                lambda r=region: (
                    request(r.address, port, "GET", "/health")[2]["database"] == "pitr-restored"
                ),
                timeout=10,
            )
            assert request(region.address, port, "GET", "/orders/pitr-after")[0] == 404
            assert request(region.address, port, "GET", "/orders/pitr-kept")[0] == 200
        cut = wait_until(
            lambda: [e for e in lab.events(kind="cut-over") if e["cluster"] == "pitr-restored"
                     and e["region"] == info.primary.name],
            timeout=5,
        )  # fmt: skip
        assert "pitr-after" in {w["id"] for w in cut[0]["discarded"]}
    finally:
        secrets.put_secret_value(SecretId=info.secret_name, SecretString=original)
    wait_until(
        lambda: request(info.primary.address, port, "GET", "/orders/pitr-after")[0] == 200,
        timeout=10,
    )
    rds.delete_db_cluster(DBClusterIdentifier="pitr-restored", SkipFinalSnapshot=True)
    wait_until(lambda: lab.events(kind="pitr-cluster-deleted"), timeout=5)
    assert not (Path(lab.dir) / "clusters" / "pitr-restored.db").exists()


def test_a_cut_over_to_a_cluster_that_does_not_exist_fails_the_deep_health(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    secrets = boto3.client("secretsmanager", region_name=info.primary.name)
    original = secrets.get_secret_value(SecretId=info.secret_name)["SecretString"]
    secrets.put_secret_value(
        SecretId=info.secret_name,
        SecretString=json.dumps({**json.loads(original), "dbClusterIdentifier": "no-such"}),
    )
    try:
        _status, _, body = wait_until(
            lambda: (a := request(info.primary.address, info.service_port, "GET", "/health"))[0]
            == 503 and a, timeout=10,
        )  # fmt: skip
        assert "cannot connect to DB cluster no-such" in body["checks"]["store"]
        assert wait_until(lambda: _served(lab).get(info.primary.name) == "no-such", timeout=5)
    finally:
        secrets.put_secret_value(SecretId=info.secret_name, SecretString=original)
    wait_until(
        lambda: request(info.primary.address, info.service_port, "GET", "/health")[0] == 200,
        timeout=10,
    )
    home = info.global_cluster_id
    assert wait_until(lambda: set(_served(lab).values()) == {home}, timeout=5)


def _served(lab: Lab) -> dict[str, str]:
    """What `gameday lab status --json` says each region serves."""
    out = CliRunner().invoke(gameday_cli, ["lab", "status", "--json", "--dir", str(lab.dir)])
    return dict(json.loads(out.output)["data_served"])


def test_a_delete_replicates_as_a_tombstone(lab: Lab) -> None:
    info = lab.info
    _write(lab, "pitr-deleted")
    port = info.service_port
    wait_until(lambda: request(info.secondary.address, port, "GET", "/orders/pitr-deleted")[0]
               == 200, timeout=10)  # fmt: skip
    assert request(info.secondary.address, port, "DELETE", "/orders/pitr-deleted")[0] == 503
    assert request(info.primary.address, port, "DELETE", "/orders/pitr-deleted")[0] == 200
    assert request(info.primary.address, port, "DELETE", "/orders/pitr-deleted")[0] == 404
    wait_until(lambda: request(info.secondary.address, port, "GET", "/orders/pitr-deleted")[0]
               == 404, timeout=10)  # fmt: skip


def test_dynamodb_pitr_window_and_refusals(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    ddb = boto3.client("dynamodb", region_name=info.primary.name)
    table = lab.state()["table_name"]
    with pytest.raises(ClientError) as caught:
        ddb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName="pitr-t", UseLatestRestorableTime=True
        )
    assert caught.value.response["Error"]["Code"] == "PointInTimeRecoveryUnavailableException"
    ddb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    described = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = described["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    assert pitr["EarliestRestorableDateTime"] <= pitr["LatestRestorableDateTime"]
    with pytest.raises(ClientError) as caught:
        ddb.restore_table_to_point_in_time(
            SourceTableName=table, TargetTableName="pitr-t", RestoreDateTime=_at(time.time() + 60)
        )
    assert caught.value.response["Error"]["Code"] == "InvalidRestoreTimeException"
    restored = ddb.restore_table_to_point_in_time(
        SourceTableName=table, TargetTableName="pitr-t", UseLatestRestorableTime=True
    )
    assert restored["TableDescription"]["TableName"] == "pitr-t"
