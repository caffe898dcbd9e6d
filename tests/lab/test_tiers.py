"""Data tiers: each impairment affects what it affects in AWS.

Written against plain boto3 (DynamoDB, FIS) and HTTP on the lab's regions. The ``dynamodb``
tier is multi-active (a global table replicating both ways, paused by FIS's global-table
action, last writer wins); the ``aurora`` tier is single-writer and no FIS action touches
its storage replication; the route-table cut drops traffic between the regions through the
VPC, never managed replication.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from gameday.lab import Lab, LabConfig
from gameday.lab.launcher import LabInfo
from gameday.lab.region.client import RegionClient
from tests.lab.helpers import request, wait_until

pytestmark = pytest.mark.lab

SPEED = 10
PAUSE = "PT20S"  # 2 lab seconds at speed 10


@pytest.fixture(scope="module")
def dynamo_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    handle = Lab.start(
        LabConfig(
            lab_dir=str(tmp_path_factory.mktemp("ddb")),
            data_tier="dynamodb",
            speed=SPEED,
            # these tests are about what a pause holds, not when it starts: it bites at
            # once here (AWS: up to 5 minutes later, drawn by default; test_fidelity.py)
            pause_replication_delay_seconds=0.0,
        )
    )
    try:
        yield handle
    finally:
        handle.stop()


def _aws(lab: Lab, service: str, region: str) -> Any:
    env = lab.env()
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _start(lab: Lab, action_id: str, target: dict[str, Any], key: str, params: dict) -> dict:
    fis = _aws(lab, "fis", lab.info.primary.name)
    template = fis.create_experiment_template(
        clientToken=str(uuid.uuid4()),
        description="tier test",
        roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}],
        targets={"t": target},
        actions={"a": {"actionId": action_id, "parameters": params, "targets": {key: "t"}}},
    )["experimentTemplate"]["id"]
    return fis.start_experiment(clientToken=str(uuid.uuid4()), experimentTemplateId=template)[
        "experiment"
    ]


def _pause_table(lab: Lab, duration: str = PAUSE) -> dict:
    info = lab.info
    arn = f"arn:aws:dynamodb:{info.primary.name}:123456789012:table/{info.table_name}"
    target = {"resourceType": "aws:dynamodb:global-table", "resourceArns": [arn]}
    target["selectionMode"] = "ALL"
    return _start(
        lab, "aws:dynamodb:global-table-pause-replication", target, "Tables", {"duration": duration}
    )


def _fault(lab: Lab, since: float, state: str, timeout: float = 5) -> dict:
    return lab.wait_for_event(
        lambda e: e["kind"] == "fault" and e["state"] == state and e.get("source") == "fis",
        timeout=timeout,
        since=since,
    )


def _post(info: LabInfo, region: int, order: dict[str, Any]) -> int:
    return request(info.regions[region].address, info.service_port, "POST", "/orders", order)[0]


def _get(info: LabInfo, region: int, order_id: str) -> tuple[int, Any]:
    status, _, body = request(
        info.regions[region].address, info.service_port, "GET", f"/orders/{order_id}"
    )
    return status, body


# -- the global table in the control plane --------------------------------------------------


def test_the_orders_table_is_a_global_table(dynamo_lab: Lab) -> None:
    info = dynamo_lab.info
    for here, there in (
        (info.primary.name, info.secondary.name),
        (info.secondary.name, info.primary.name),
    ):
        ddb = _aws(dynamo_lab, "dynamodb", here)
        table = ddb.describe_table(TableName=info.table_name)["Table"]
        assert table["GlobalTableVersion"] == "2019.11.21"
        assert table["Replicas"] == [{"RegionName": there, "ReplicaStatus": "ACTIVE"}]
        listed = ddb.list_global_tables()["GlobalTables"]
        assert [t["GlobalTableName"] for t in listed] == [info.table_name]
        described = ddb.describe_global_table(GlobalTableName=info.table_name)
        group = described["GlobalTableDescription"]["ReplicationGroup"]
        assert {g["RegionName"] for g in group} == {here, there}
    with pytest.raises(ClientError) as raised:
        _aws(dynamo_lab, "dynamodb", info.primary.name).describe_global_table(
            GlobalTableName="no-such-table"
        )
    assert raised.value.response["Error"]["Code"] == "GlobalTableNotFoundException"


def test_the_dynamodb_tier_has_no_aurora_and_every_region_writes(dynamo_lab: Lab) -> None:
    info = dynamo_lab.info
    assert [r.role for r in info.regions] == ["writer", "writer"]
    assert dynamo_lab.env()["GAMEDAY_DATA_TIER"] == "dynamodb"
    rds = _aws(dynamo_lab, "rds", info.primary.name)
    assert rds.describe_global_clusters()["GlobalClusters"] == []
    for index in (0, 1):
        assert _post(info, index, {"id": f"local-{index}-{uuid.uuid4()}"}) == 201


def _item(lab: Lab, region: str, order_id: str) -> dict | None:
    table = lab.info.table_name
    ddb = _aws(lab, "dynamodb", region)
    return ddb.get_item(TableName=table, Key={"id": {"S": order_id}}).get("Item")


def test_each_region_s_replica_of_the_table_holds_what_that_region_holds(dynamo_lab: Lab) -> None:
    info = dynamo_lab.info
    east, west = info.primary.name, info.secondary.name
    order = f"item-{uuid.uuid4()}"
    assert _post(info, 0, {"id": order, "qty": 2}) == 201
    item = wait_until(lambda: _item(dynamo_lab, east, order), timeout=2)
    assert item["origin"] == {"S": east} and '"qty": 2' in item["body"]["S"]
    wait_until(lambda: _item(dynamo_lab, west, order), timeout=2)  # replicated, then mirrored
    experiment = _pause_table(dynamo_lab)
    _fault(dynamo_lab, experiment["startTime"].timestamp() - 0.01, "applied")
    held = f"held-{uuid.uuid4()}"
    assert _post(info, 1, {"id": held}) == 201
    wait_until(lambda: _item(dynamo_lab, west, held), timeout=1)
    assert _item(dynamo_lab, east, held) is None  # the pause holds it in us-west-2
    wait_until(lambda: _item(dynamo_lab, east, held), timeout=5)  # and it arrives after


# -- the FIS pause on each tier --------------------------------------------------------------


def test_a_global_table_pause_holds_both_directions_and_last_writer_wins(dynamo_lab: Lab) -> None:
    info = dynamo_lab.info
    since = time.time()
    experiment = _pause_table(dynamo_lab)
    applied = _fault(dynamo_lab, experiment["startTime"].timestamp() - 0.01, "applied")
    east, west, both = (f"{p}-{uuid.uuid4()}" for p in ("east", "west", "both"))
    assert _post(info, 0, {"id": east}) == 201
    assert _post(info, 1, {"id": west}) == 201
    assert _post(info, 0, {"id": both, "v": "first"}) == 201
    time.sleep(0.01)  # the second write is later by the regions' clocks
    assert _post(info, 1, {"id": both, "v": "second"}) == 201
    # Held for the whole pause, in both directions (checked just before it ends).
    while time.time() < applied["time"] + 2.0 - 0.3:
        time.sleep(0.1)
    assert _get(info, 1, east)[0] == 404 and _get(info, 0, west)[0] == 404
    assert _get(info, 0, both)[1]["body"]["v"] == "first"
    reverted = _fault(dynamo_lab, since, "reverted")
    assert reverted["time"] - applied["time"] == pytest.approx(2.0, abs=0.2)
    for index in (0, 1):
        wait_until(lambda i=index: _get(info, i, east)[0] == _get(info, i, west)[0] == 200, 3)
        wait_until(lambda i=index: _get(info, i, both)[1]["body"]["v"] == "second", 3)


def test_the_same_pause_does_not_touch_aurora_replication(lab: Lab) -> None:
    info = lab.info
    experiment = _pause_table(lab, "PT1M")  # 6 lab seconds at the default speed
    applied = _fault(lab, experiment["startTime"].timestamp() - 0.01, "applied")
    assert "no effect on the orders" in applied["effect"]
    order = f"aurora-{uuid.uuid4()}"
    assert _post(info, 0, {"id": order}) == 201
    secondary = RegionClient(info.secondary.control_port)
    wait_until(lambda: secondary.existing([order]) == [order], timeout=2)
    fis = _aws(lab, "fis", info.primary.name)
    assert fis.get_experiment(id=experiment["id"])["experiment"]["state"]["status"] == "running"
    fis.stop_experiment(id=experiment["id"])


# -- the route-table cut ---------------------------------------------------------------------


def _from(source: str, address: str, port: int, timeout: float = 0.5) -> bool:
    """True if ``address:port`` answers /health to a connection from ``source``."""
    try:
        with socket.create_connection(
            (address, port), timeout=timeout, source_address=(source, 0)
        ) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1")
    except OSError:
        return False


def test_the_route_table_cut_drops_cross_region_traffic_not_replication(lab: Lab) -> None:
    info = lab.info
    primary, secondary = info.primary, info.secondary
    assert _from(secondary.address, primary.address, info.service_port)
    target = {
        "resourceType": "aws:ec2:subnet",
        "resourceArns": [f"arn:aws:ec2:{primary.name}:123456789012:subnet/{primary.subnet_id}"],
        "selectionMode": "ALL",
    }
    experiment = _start(
        lab,
        "aws:network:route-table-disrupt-cross-region-connectivity",
        target,
        "Subnets",
        {"duration": "PT1M", "region": secondary.name},
    )
    _fault(lab, experiment["startTime"].timestamp() - 0.01, "applied")
    try:
        wait_until(lambda: not _from(secondary.address, primary.address, info.service_port), 2)
        assert not _from(primary.address, secondary.address, info.service_port)
        assert _from("127.0.0.1", primary.address, info.service_port)  # users still reach it
        order = f"cut-{uuid.uuid4()}"
        assert _post(info, 0, {"id": order}) == 201
        wait_until(
            lambda: RegionClient(secondary.control_port).existing([order]) == [order], timeout=2
        )
    finally:
        _aws(lab, "fis", primary.name).stop_experiment(id=experiment["id"])
    wait_until(lambda: _from(secondary.address, primary.address, info.service_port), 2)


# -- ground truth of a multi-active failover ---------------------------------------------------


def test_writes_missing_at_failover_are_recorded_and_so_is_their_late_arrival(
    dynamo_lab: Lab,
) -> None:
    info = dynamo_lab.info
    experiment = _pause_table(dynamo_lab, "PT30S")  # 3 lab seconds
    _fault(dynamo_lab, experiment["startTime"].timestamp() - 0.01, "applied")
    stranded = [f"stranded-{i}-{uuid.uuid4()}" for i in range(3)]
    for order_id in stranded:
        assert _post(info, 0, {"id": order_id}) == 201
    route53 = _aws(dynamo_lab, "route53", info.primary.name)
    started = time.time()
    route53.update_health_check(HealthCheckId=info.primary.health_check_id, Inverted=True)
    try:
        gap = dynamo_lab.wait_for_event(
            lambda e: e["kind"] == "unreplicated-at-failover", timeout=5, since=started
        )
        assert (gap["region"], gap["survivor"]) == (info.primary.name, info.secondary.name)
        assert set(stranded) <= set(gap["ids"]) and gap["complete"] is True
        late = dynamo_lab.wait_for_event(
            lambda e: e["kind"] == "arrived-later", timeout=6, since=started
        )
        assert set(stranded) <= set(late["ids"])
    finally:
        route53.update_health_check(HealthCheckId=info.primary.health_check_id, Inverted=False)


# -- the lab-only replication delay -------------------------------------------------------------


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", "lab", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_set_lag_is_a_lab_only_knob(lab: Lab) -> None:
    info = lab.info
    since = time.time()
    result = _gameday("set-lag", "30", "--dir", info.lab_dir)
    assert result.returncode == 0 and "lab-only" in result.stdout
    event = lab.wait_for_event(lambda e: e["kind"] == "replication-lag", timeout=2, since=since)
    speed = lab.state()["config"]["speed"]
    assert event["lab_only"] is True and event["aws_seconds"] == 30
    assert event["lab_seconds"] == pytest.approx(30 / speed)
    order = f"lagged-{uuid.uuid4()}"
    try:
        assert _post(info, 0, {"id": order}) == 201
        time.sleep(1.0)  # an absence needs a window: three times the default lag (0.3 lab s)
        assert RegionClient(info.secondary.control_port).existing([order]) == []
    finally:
        assert _gameday("set-lag", "3", "--dir", info.lab_dir).returncode == 0
    wait_until(lambda: RegionClient(info.secondary.control_port).existing([order]) == [order], 2)
    bad = _gameday("set-lag", "nan", "--dir", info.lab_dir)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "lag must be" in bad.stderr
