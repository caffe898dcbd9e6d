"""A region reads its secret again when the control plane says it changed (not by polling).

In-process: the WSGI wrapper that spots a Secrets Manager change, the region's watcher
against moto, and the push to control listeners (one of them late). The whole path, with a
real lab, is ``tests/lab/test_impairments.py::test_a_missing_secret_replica_fails_...``.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from gameday.lab.controlplane import secretsmanager
from gameday.lab.ports import require_free
from gameday.lab.region.httpserver import Request
from gameday.lab.region.server import Region, watch_secret
from gameday.lab.region.store import OrderStore
from gameday.lab.secretpush import SecretPush
from tests.lab.helpers import wait_until


@pytest.fixture
def told() -> Iterator[list[str]]:
    """Each change the control plane tells, while the test runs (its listener is removed)."""
    calls: list[str] = []
    before = list(secretsmanager._listeners)
    secretsmanager.on_change(lambda: calls.append("changed"))
    yield calls
    secretsmanager._listeners[:] = before


def _answer(app: Any, target: str | None) -> list[bytes]:
    environ = {"HTTP_X_AMZ_TARGET": target} if target else {}
    return list(app(environ, lambda status, headers: None))


def test_only_a_secretsmanager_request_that_is_no_read_tells_the_regions(
    told: list[str],
) -> None:
    app = secretsmanager.notifying(lambda environ, start_response: [b"moto's answer"])
    for read in ("GetSecretValue", "DescribeSecret", "ListSecrets", "BatchGetSecretValue"):
        assert _answer(app, f"secretsmanager.{read}") == [b"moto's answer"]
    _answer(app, "DynamoDB_20120810.PutItem")  # another service's change
    _answer(app, None)  # a query-protocol request (Route 53, EC2, RDS ...)
    assert told == []
    for change in ("RemoveRegionsFromReplication", "PutSecretValue", "AnOperationNotYetKnown"):
        assert _answer(app, f"secretsmanager.{change}") == [b"moto's answer"]
    assert told == ["changed"] * 3


def test_a_region_reads_its_secret_again_when_told(tmp_path: Path) -> None:
    from moto import mock_aws

    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-west-2")
        secrets.create_secret(Name="app", SecretString="{}")
        region = Region("us-west-2", OrderStore(str(tmp_path / "r.db"), "us-west-2"), "reader", 0)
        stop = threading.Event()
        # it would read again only in an hour: whatever it reads sooner, it was told to
        watcher = threading.Thread(
            target=watch_secret, args=(region, "app", 3600.0, 3600.0, stop), daemon=True
        )
        watcher.start()
        try:
            wait_until(lambda: region.secret.readable, timeout=10)
            secrets.delete_secret(SecretId="app", ForceDeleteWithoutRecovery=True)
            told = Request("POST", "/_lab/secret-changed", "", {}, b"")
            assert region.control(told).status == 200
            wait_until(lambda: not region.secret.readable, timeout=10)
            assert "ResourceNotFoundException" in region.secret.detail
        finally:
            stop.set()
            region.secret_changed.set()
            watcher.join(timeout=10)
    assert not watcher.is_alive()


class _Listener(http.server.ThreadingHTTPServer):
    """A region's control listener that counts the words it takes."""

    def __init__(self, port: int = 0) -> None:
        self.told = threading.Event()
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path == "/_lab/secret-changed":
                    listener.told.set()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def test_every_region_is_told_and_one_that_missed_the_word_is_told_again() -> None:
    up = _Listener()
    late_port = require_free(0, ("127.0.0.1",), "region control")  # a region still starting
    # told in the order of their names: the late region has been tried once up is told
    push = SecretPush({"ap-south-1": late_port, "us-east-1": up.server_address[1]}, None).start()
    late = None
    try:
        push.changed()
        assert up.told.wait(10)
        late = _Listener(late_port)
        assert late.told.wait(10)  # told again until it took the word
        assert push.worker.failures == 0  # a region that does not answer is no lab error
    finally:
        push.stop()
        up.close()
        if late is not None:
            late.close()
