"""Probes against real local servers (HTTP, DNS) and moto (Route 53, RDS, Secrets Manager)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed
from dnslib import QTYPE, RR, A, DNSRecord

from gameday import aws, faults
from gameday.probes.dns import dns_answer
from gameday.probes.http import endpoint_available
from gameday.probes.rds import writer_region
from gameday.probes.replication import replication_lag
from gameday.probes.route53 import health_check_status
from gameday.probes.secretsmanager import secret_available
from tests.moto_helpers import create_http_health_check
from tests.probes.conftest import Regions


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "GAMEDAY_LAB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.clear_sessions()
    faults.forget_identities()
    yield


def test_endpoint_available_reports_status_latency_and_region(regions: Regions) -> None:
    out = endpoint_available(regions.url(1) + "/health")
    assert out["available"] and out["status"] == 200 and out["region"] == "us-west-2"
    assert out["latency_ms"] > 0
    json.dumps(out)
    missing = endpoint_available(regions.url(0) + "/orders/none", expected_status=200)
    assert missing["available"] is False and missing["status"] == 404
    with socket.socket() as sink:  # accepts connections, never answers: a black hole
        sink.bind(("127.0.0.1", 0))
        sink.listen()
        host, port = sink.getsockname()
        hole = endpoint_available(f"http://{host}:{port}/health", timeout=0.3)
    assert hole == {**hole, "available": False, "status": None, "error": "timeout"}
    with pytest.raises(ActivityFailed, match="absolute"):
        endpoint_available("not-a-url")


def test_replication_lag_times_a_canary(regions: Regions) -> None:
    out = replication_lag(regions.url(0), regions.url(1), timeout=5, interval=0.02)
    assert out["replicated"] and 0.3 <= out["lag_seconds"] < 1.5
    assert (out["source_region"], out["target_region"]) == ("us-east-1", "us-west-2")
    regions.lag = 60
    late = replication_lag(regions.url(0), regions.url(1), timeout=0.3, interval=0.05)
    assert late["replicated"] is False and late["lag_seconds"] is None
    refused = replication_lag(regions.url(1), regions.url(0), timeout=1)
    assert refused["error"] == "canary write answered 503"


@pytest.fixture
def dns_server() -> Iterator[tuple[str, int]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            query = DNSRecord.parse(data)
            reply = query.reply()
            if str(query.q.qname) == "api.lab.internal.":
                reply.add_answer(RR("api.lab.internal.", QTYPE.A, rdata=A("127.0.2.1"), ttl=7))
            else:
                reply.header.rcode = 3
            sock.sendto(reply.pack(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()
    stop.set()
    thread.join(2)
    sock.close()


def test_dns_answer_through_a_chosen_nameserver(dns_server: tuple[str, int]) -> None:
    host, port = dns_server
    out = dns_answer("api.lab.internal", nameserver=host, port=port)
    assert (out["addresses"], out["ttl"], out["error"]) == (["127.0.2.1"], 7, None)
    assert dns_answer("api.lab.internal", nameserver=f"{host}:{port}")["addresses"] == ["127.0.2.1"]
    assert dns_answer("nope.lab.internal", nameserver=host, port=port)["error"] == "NXDOMAIN"
    with pytest.raises(ActivityFailed, match="record_type"):
        dns_answer("api.lab.internal", record_type="BOGUS")


def test_aws_probes_against_moto() -> None:
    from moto import mock_aws

    with mock_aws():
        r53 = boto3.client("route53")
        hc = create_http_health_check(r53)
        status = health_check_status(hc)
        assert status["healthy"] is True and status["total_observations"] == 1
        assert status["metric"]["value"] is None and status["agrees_with_metric"] is None
        json.dumps(status)
        r53.update_health_check(HealthCheckId=hc, Inverted=True)
        inverted = health_check_status(hc)  # moto's raw observation stays Success
        assert inverted["inverted"] is True and inverted["healthy"] is False
        with pytest.raises(ActivityFailed, match="list-health-checks"):
            health_check_status("nope")

        sm = boto3.client("secretsmanager")
        sm.create_secret(Name="db", SecretString="x", AddReplicaRegions=[{"Region": "us-west-2"}])
        assert secret_available("db", "us-east-1") is True
        assert secret_available("db", "us-west-2") is True
        sm.remove_regions_from_replication(SecretId="db", RemoveReplicaRegions=["us-west-2"])
        assert secret_available("db", "us-west-2") is False
        with pytest.raises(ActivityFailed, match="not an AWS region"):
            secret_available("db", "moon-1")

        rds = boto3.client("rds")
        rds.create_global_cluster(GlobalClusterIdentifier="g", Engine="aurora-postgresql")
        rds.create_db_cluster(
            DBClusterIdentifier="east",
            Engine="aurora-postgresql",
            MasterUsername="u",
            MasterUserPassword="password1",
            GlobalClusterIdentifier="g",
        )
        assert writer_region("g", "us-east-1") == "us-east-1"
        with pytest.raises(ActivityFailed, match="describe-global-clusters"):
            writer_region("nope", "us-east-1")
