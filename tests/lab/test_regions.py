"""Regional orders APIs and the replication link between them."""

from __future__ import annotations

import time
import uuid

import pytest

from gameday.lab import Lab
from gameday.lab.region.client import RegionClient
from tests.lab.helpers import (
    lab_is_the_shared_lab,  # noqa: F401  (lab: the worker's shared lab)
    request,
    wait_until,
)

pytestmark = pytest.mark.lab


def test_every_answer_names_its_region_and_health_is_deep(lab: Lab) -> None:
    info = lab.info
    for region in info.regions:
        status, headers, body = request(region.address, info.service_port, "GET", "/health")
        assert status == 200
        assert headers["X-Region"] == region.name
        assert body["checks"] == {"store": "ok", "secret": "ok", "role": region.role}
        status, headers, _ = request(region.address, info.service_port, "GET", "/orders/nope")
        assert (status, headers["X-Region"]) == (404, region.name)


def test_an_acknowledged_write_reaches_the_secondary_after_the_lag(lab: Lab) -> None:
    info = lab.info
    order_id = f"order-{uuid.uuid4()}"
    status, headers, body = request(
        info.primary.address, info.service_port, "POST", "/orders", {"id": order_id, "qty": 2}
    )
    acked = time.time()
    assert (status, headers["X-Region"], body["id"]) == (201, info.primary.name, order_id)

    def on_secondary() -> bool:
        return (
            request(info.secondary.address, info.service_port, "GET", f"/orders/{order_id}")[0]
            == 200
        )

    wait_until(on_secondary, timeout=3)
    seen_after = time.time() - body["acked_at"]
    assert seen_after >= 0.3, "replicated faster than the configured lag"
    status, headers, replica = request(
        info.secondary.address, info.service_port, "GET", f"/orders/{order_id}"
    )
    assert replica["body"] == {"id": order_id, "qty": 2}
    assert replica["origin"] == info.primary.name and headers["X-Region"] == info.secondary.name
    assert acked - body["acked_at"] < 1


def test_writes_are_idempotent_on_the_client_id(lab: Lab) -> None:
    info = lab.info
    order_id = f"order-{uuid.uuid4()}"
    first = request(info.primary.address, info.service_port, "POST", "/orders", {"id": order_id})
    again = request(info.primary.address, info.service_port, "POST", "/orders", {"id": order_id})
    assert (first[0], again[0]) == (201, 200)
    assert first[2]["acked_at"] == again[2]["acked_at"]


def test_the_reader_refuses_writes_with_a_clear_503(lab: Lab) -> None:
    info = lab.info
    status, headers, body = request(
        info.secondary.address, info.service_port, "POST", "/orders", {"id": "refused"}
    )
    assert status == 503 and headers["X-Region"] == info.secondary.name
    assert "read-only replica" in body["error"] and body["role"] == "reader"
    assert RegionClient(info.secondary.control_port).existing(["refused"]) == []


def test_malformed_writes_are_rejected(lab: Lab) -> None:
    info = lab.info
    for bad in ({}, {"id": 7}, {"id": ""}, ["id"]):
        status, _, body = request(info.primary.address, info.service_port, "POST", "/orders", bad)
        assert status == 400, bad
        assert "'id'" in body["error"]
