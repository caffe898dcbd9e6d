"""The audit's lookups against real services: the lab's ``POST /orders/lookup`` and a
DynamoDB table (moto) through ``BatchGetItem``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from gameday import aws
from gameday.lab import Lab
from gameday.reports import ReportError
from gameday.reports.audit import AckedWrite, DynamoDBLookup, HttpBatchLookup, audit_writes
from tests.lab.helpers import (
    lab_is_the_shared_lab,  # noqa: F401  (lab: the worker's shared lab)
    request,
)


@pytest.mark.lab
def test_the_lab_batch_lookup_answers_found_and_missing_exactly(lab: Lab) -> None:
    info = lab.info
    port = info.service_port
    written = [f"lookup-{uuid.uuid4()}" for _ in range(30)]
    acks = {}
    for order_id in written:
        status, _, body = request(
            info.primary.address, port, "POST", "/orders", {"id": order_id, "n": 1}
        )
        assert status == 201
        acks[order_id] = body["acked_at"]
    never = [f"never-{uuid.uuid4()}" for _ in range(5)]
    lookup = HttpBatchLookup(f"http://{info.primary.address}:{port}")
    found, missing = lookup.lookup(written + never)
    assert set(found) == set(written) and missing == never
    assert found[written[0]][0]["body"] == {"id": written[0], "n": 1}
    assert found[written[0]][0]["acked_at"] == acks[written[0]]

    status, headers, body = request(
        info.primary.address, port, "POST", "/orders/lookup", {"ids": "x"}
    )
    assert status == 400 and headers["X-Region"] == info.primary.name and "ids" in body["error"]
    status, _, body = request(
        info.primary.address, port, "POST", "/orders/lookup", {"ids": ["a"] * 1001}
    )
    assert status == 400 and "at most 1000 ids" in body["error"]
    assert (
        request(info.primary.address, port, "GET", "/orders/lookup")[0] == 404
    )  # an id, as before

    acked = [AckedWrite(i, acks[i] + 0.001, acks[i] - 0.001, info.primary.name) for i in written]
    acked += [AckedWrite(i, 1.0, None, info.primary.name) for i in never]
    result = audit_writes(acked, lookup, batch_size=7, writer_region=info.primary.name)
    assert (result.checked, result.found, result.batches) == (35, 30, 5)
    assert [w.id for w in result.lost] == never
    assert result.clock_offset is not None and abs(result.clock_offset.median_s) < 0.002


def test_a_lookup_that_cannot_answer_is_a_clear_error() -> None:
    with pytest.raises(ReportError, match="is not http"):
        HttpBatchLookup("ftp://x")
    lookup = HttpBatchLookup("http://127.0.0.1:9", timeout=1)  # discard port: nothing listens
    with pytest.raises(
        ReportError, match=r"audit lookup POST http://127.0.0.1:9/orders/lookup failed"
    ):
        audit_writes([("a", 1.0)], lookup)
    with pytest.raises(ReportError, match="batch_size"):
        audit_writes([], lookup, batch_size=0)


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "GAMEDAY_LAB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.clear_sessions()
    with mock_aws():
        yield
    aws.clear_sessions()


def test_dynamodb_lookup_batches_get_item_100_keys_at_a_time(dynamodb: None) -> None:
    client = boto3.client("dynamodb", region_name="us-west-2")
    client.create_table(
        TableName="orders", KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    stored = [f"o-{i:04d}" for i in range(150)]
    for order_id in stored:
        client.put_item(TableName="orders", Item={"order_id": {"S": order_id}, "qty": {"N": "2"}})
    lost = [f"lost-{i:04d}" for i in range(100)]
    lookup = DynamoDBLookup("orders", "us-west-2", key="order_id")
    assert lookup.describe() == "dynamodb:BatchGetItem orders (us-west-2)"
    acked = [AckedWrite(i, 1000.0 + n) for n, i in enumerate(stored + lost)]
    result = audit_writes(acked, lookup, batch_size=250)
    assert (result.checked, result.found) == (250, 150)
    assert [w.id for w in result.lost] == lost
    found, missing = lookup.lookup(["o-0001", "nope"])
    assert found["o-0001"][0]["qty"] == 2 and missing == ["nope"]

    with pytest.raises(ReportError, match="dynamodb:BatchGetItem absent"):
        DynamoDBLookup("absent", "us-west-2").lookup(["x"])
