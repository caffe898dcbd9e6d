"""Chaos on the lab itself: misbehaving endpoints, raising listeners, a replication peer that
dies mid-batch. Each is a failed observation or a ``lab-error`` and a restart, never a
silently dead loop, and ``gameday lab status`` says the lab is degraded."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from click.testing import CliRunner

from gameday.cli import main as gameday_cli
from gameday.lab import Lab
from gameday.lab.clock import LabClock
from gameday.lab.controlplane.route53 import HealthCheckConfig
from gameday.lab.events import EventLog, read_events
from gameday.lab.network import synfilter
from gameday.lab.network.healthchecker import CHECKER_CIDR, probe
from gameday.lab.region.client import RegionClient
from gameday.lab.region.replication import ReplicationLink
from gameday.lab.workers import Worker, lab_health
from tests.lab.helpers import deny_all_inbound, wait_until

pytestmark = pytest.mark.lab

# -- misbehaving endpoints ---------------------------------------------------------------


@contextmanager
def misbehaving(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that treats every connection with ``answer``; its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                conn.settimeout(1)
                with suppress(OSError):
                    conn.recv(4096)
                answer(conn)
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def garbage(conn: socket.socket) -> None:
    conn.sendall(b"\x00\x01garbage that is not HTTP\r\n\r\n")


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def half_status_line(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 20")


def half_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok, and then noth")


def ssh_banner(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")


def _config(port: int, kind: str = "HTTP", address: str = "127.0.0.1") -> HealthCheckConfig:
    return HealthCheckConfig(
        id="hc",
        type=kind,
        ip_address=address,
        port=port,
        resource_path="/health",
        request_interval=10,
        failure_threshold=1,
        inverted=False,
        disabled=False,
        search_string="ok, and then nothing" if kind == "HTTP_STR_MATCH" else None,
    )


@pytest.mark.parametrize(
    ("answer", "kind", "wording"),
    [
        (garbage, "HTTP", "did not return a valid HTTP response"),
        (reset, "HTTP", "Connection reset by peer"),
        (half_status_line, "HTTP", "did not return a valid HTTP response"),
        (half_body, "HTTP_STR_MATCH", "search string was not found"),
        (ssh_banner, "HTTP", "did not return a valid HTTP response"),
    ],
)
def test_a_misbehaving_endpoint_is_a_failed_observation(
    answer: Callable[[socket.socket], None], kind: str, wording: str
) -> None:
    with misbehaving(answer) as port:
        observation = probe(_config(port, kind), source="127.0.3.1", clock=LabClock(10))
    assert not observation.success
    assert observation.status.startswith("Failure: ") and wording in observation.status


def test_a_closed_port_and_an_address_off_loopback_are_failed_observations() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        closed = placeholder.getsockname()[1]
    refused = probe(_config(closed), source="127.0.3.1", clock=LabClock(10))
    assert refused.status.startswith("Failure: Connection refused.")
    away = probe(_config(80, address="192.0.2.1"), source="127.0.3.1", clock=LabClock(10))
    assert not away.success and "was not probed" in away.status
    tcp_closed = probe(_config(closed, "TCP"), source="127.0.3.1", clock=LabClock(10))
    assert tcp_closed.status.startswith("Failure: Connection refused.")


def test_a_garbage_target_fails_with_a_fresh_checked_time_every_interval(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    """Before, BadStatusLine killed the check's thread and its status froze forever."""
    route53 = boto3.client("route53")
    with misbehaving(garbage) as port:
        hc = route53.create_health_check(
            CallerReference=f"garbage-{uuid.uuid4()}",
            HealthCheckConfig={
                "Type": "HTTP",
                "IPAddress": "127.0.0.1",
                "Port": port,
                "ResourcePath": "/",
                "RequestInterval": 10,
                "FailureThreshold": 1,
            },
        )["HealthCheck"]["Id"]
        try:

            def checked() -> dict[str, Any]:
                observations = route53.get_health_check_status(HealthCheckId=hc)[
                    "HealthCheckObservations"
                ]
                return {o["Region"]: o["StatusReport"] for o in observations}

            first = wait_until(lambda: len(checked()) == 8 and checked(), timeout=3)
            seen = [first]
            for _ in range(2):  # two more intervals, each with new CheckedTimes everywhere
                previous = seen[-1]
                seen.append(
                    wait_until(
                        lambda p=previous: (
                            all(
                                r["CheckedTime"] > p[k]["CheckedTime"] for k, r in checked().items()
                            )
                            and checked()
                        ),
                        timeout=3,
                    )
                )
            for reports in seen:
                assert all(
                    "did not return a valid HTTP response" in r["Status"] for r in reports.values()
                )
            assert {
                o["IPAddress"]
                for o in route53.get_health_check_status(HealthCheckId=hc)[
                    "HealthCheckObservations"
                ]
            } == {f"127.0.3.{i}" for i in range(1, 9)}
        finally:
            route53.delete_health_check(HealthCheckId=hc)
    assert lab_health(lab.events())["status"] == "ok"  # a bad target is not a lab failure


# -- listeners and workers ------------------------------------------------------------------


def test_a_raising_listener_is_recorded_and_cannot_break_the_emitter(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    seen: list[str] = []

    def broken(event: dict[str, Any]) -> None:
        raise KeyError("no such thing")

    log.subscribe(broken)
    log.subscribe(lambda event: seen.append(event["kind"]))
    event = log.emit("health", healthy=False)
    assert event["kind"] == "health" and seen == ["health"]
    errors = read_events(tmp_path / "events.jsonl", kind="lab-error")
    assert len(errors) == 1 and "broken" in errors[0]["component"]
    assert "KeyError" in errors[0]["error"] and "raise KeyError" in errors[0]["traceback"]
    health = lab_health(read_events(tmp_path / "events.jsonl"))
    assert health["status"] == "degraded" and "KeyError" in health["reason"]
    log.close()


def test_a_failing_worker_step_is_a_lab_error_and_a_restart(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    calls: list[int] = []
    ran_again = threading.Event()

    def step() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        ran_again.set()

    worker = Worker("flaky", step, 0.01, log).start()
    try:
        assert ran_again.wait(3)
    finally:
        worker.stop()
        worker.join()
    assert worker.failures == 1 and worker.last_error == "RuntimeError: boom"
    (error,) = read_events(tmp_path / "events.jsonl", kind="lab-error")
    assert error["component"] == "flaky" and "RuntimeError: boom" in error["error"]
    log.close()


def test_a_woken_worker_steps_at_once_and_a_stopped_one_ends_without_its_period(
    tmp_path: Path,
) -> None:
    """A loop with nothing to do sleeps its whole period; the producer of its work wakes it
    (the lab's idle loops rely on it instead of polling fast)."""
    log = EventLog(tmp_path / "events.jsonl")
    steps: list[float] = []
    stepped = threading.Event()

    def step() -> None:
        steps.append(time.monotonic())
        stepped.set()

    worker = Worker("sleepy", step, 3600.0, log).start()
    try:
        assert stepped.wait(3)  # the first step runs at once (no first delay)
        stepped.clear()
        woken = time.monotonic()
        worker.wake()
        assert stepped.wait(3), "a woken worker must step without waiting its hour"
        assert len(steps) == 2 and steps[1] >= woken
    finally:
        worker.stop()
        worker.join(timeout=3)
    assert not worker.alive, "a stopped worker must end without waiting its period"
    log.close()


# -- a replication peer that dies mid-batch -------------------------------------------------


class FakeRegion:
    """A region's control API with a change log; ``die`` > 0 makes /_lab/apply drop the
    connection without an answer that many times (a peer dying mid-batch)."""

    def __init__(self, changes: list[dict[str, Any]]) -> None:
        self.changes = changes
        self.applied: list[dict[str, Any]] = []
        self.die = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                after = int(parse_qs(urlsplit(self.path).query).get("after", ["0"])[0])
                changes = [c for c in owner.changes if c["seq"] > after]
                self._send({"changes": changes, "max_seq": len(owner.changes)})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if owner.die > 0:
                    owner.die -= 1
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                owner.applied.extend(body["changes"])
                self._send({"applied": len(body["changes"]), "max_seq": len(owner.applied)})

            def _send(self, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_peer_dying_mid_batch_is_a_lab_error_and_the_batch_still_arrives(
    tmp_path: Path,
) -> None:
    change = {"id": "o1", "body": {}, "acked_at": time.time() - 5, "origin": "a", "seq": 1}
    source, target = FakeRegion([change]), FakeRegion([])
    target.die = 2  # both attempts of the client's retry
    log = EventLog(tmp_path / "events.jsonl")
    clients = {"a": RegionClient(source.port, timeout=1), "b": RegionClient(target.port, timeout=1)}
    link = ReplicationLink(clients, 0.0, log, period=0.01)
    link.point("a", "b", from_seq=0)
    link.start()
    try:
        wait_until(lambda: target.applied, timeout=5)
    finally:
        link.stop()
        source.close()
        target.close()
    assert [c["id"] for c in target.applied] == ["o1"]
    assert link.status().shipped_seq == 1
    errors = read_events(tmp_path / "events.jsonl", kind="lab-error")
    assert errors and errors[0]["component"] == "replication"
    assert lab_health(read_events(tmp_path / "events.jsonl"))["status"] == "degraded"
    log.close()


def test_lab_status_says_degraded_with_the_reason(lab: Lab) -> None:
    runner = CliRunner()
    healthy = json.loads(
        runner.invoke(gameday_cli, ["lab", "status", "--json", "--dir", lab.dir.as_posix()]).output
    )
    assert healthy["health"]["status"] == "ok"
    assert healthy["network"]["mode"] in ("nftables", "userland")
    # A worker of this lab's kind failing, recorded in the lab's own log as the supervisor's
    # workers record theirs.
    log = EventLog(lab.dir / "events.jsonl")
    worker = Worker("dns-publication", _raise_once(), 0.01, log).start()
    wait_until(lambda: lab.events(kind="lab-error"), timeout=3)
    worker.stop()
    worker.join()
    log.close()
    text = runner.invoke(gameday_cli, ["lab", "status", "--dir", lab.dir.as_posix()]).output
    assert "lab health: DEGRADED: dns-publication failed 1x (last: ValueError: bad zone)" in text
    data = json.loads(
        runner.invoke(gameday_cli, ["lab", "status", "--json", "--dir", lab.dir.as_posix()]).output
    )
    assert data["health"]["status"] == "degraded"
    assert data["health"]["errors"][0]["component"] == "dns-publication"


def _raise_once() -> Callable[[], None]:
    state = {"raised": False}

    def step() -> None:
        if not state["raised"]:
            state["raised"] = True
            raise ValueError("bad zone")

    return step


# -- a blocked endpoint drops the SYN ---------------------------------------------------------


def _network_mode(lab: Lab) -> str:
    return str(lab.state().get("network_mode"))


def test_behind_a_nacl_deny_a_new_connection_times_out_in_connect(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    """A client with a 1 s connect timeout and a 30 s read timeout fails in about 1 s with a
    connect timeout, as behind a real NACL (the SYN is dropped, nothing is accepted)."""
    if _network_mode(lab) != synfilter.NFTABLES:
        pytest.skip(f"the lab runs in {_network_mode(lab)} mode (needs root and nft)")
    info = lab.info
    ec2 = boto3.client("ec2", region_name=info.primary.name)
    url = f"http://{info.primary.address}:{info.service_port}/health"
    assert requests.get(url, timeout=(1, 30)).status_code == 200
    since = time.time()
    deny_all_inbound(ec2, info.primary.network_acl_id, 12)
    try:
        lab.wait_for_event(
            lambda e: e["kind"] == "fault" and e.get("fault") == "network-acl-deny",
            timeout=3,
            since=since,
        )
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ConnectTimeout):
            requests.get(url, timeout=(1, 30))
        took = time.monotonic() - started
        assert 0.95 <= took < 1.8, f"failed after {took:.2f} s"
    finally:
        ec2.delete_network_acl_entry(
            NetworkAclId=info.primary.network_acl_id, RuleNumber=12, Egress=False
        )
    wait_until(lambda: _answers(url), timeout=3)
    table = synfilter.table_name(lab.dir)
    assert table in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=(0.5, 1)).status_code == 200
    except requests.RequestException:
        return False


def test_a_deny_of_the_checkers_range_fails_the_check_and_nothing_else(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    """The NACL is evaluated against each checker's source address: blocking Route 53's
    checker range fails the health check while clients still get answers."""
    info = lab.info
    route53 = boto3.client("route53")
    ec2 = boto3.client("ec2", region_name=info.primary.name)
    hc = info.primary.health_check_id
    since = time.time()
    deny_all_inbound(ec2, info.primary.network_acl_id, 13, cidr=CHECKER_CIDR)
    try:
        flip = lab.wait_for_event(
            lambda e: e["kind"] == "health" and e["health_check_id"] == hc and not e["healthy"],
            timeout=6,
            since=since,
        )
        assert flip["checkers_healthy"] <= 1

        def raw() -> list[str]:
            observations = route53.get_health_check_status(HealthCheckId=hc)[
                "HealthCheckObservations"
            ]
            return [o["StatusReport"]["Status"] for o in observations]

        # every checker's next probe after the flip times out too (the flip needs 7 of 8)
        wait_until(
            lambda: all(s.startswith("Failure: ") and "timed out" in s.lower() for s in raw()),
            timeout=3,
        )
        assert requests.get(
            f"http://{info.primary.address}:{info.service_port}/health", timeout=(1, 2)
        ).ok
    finally:
        ec2.delete_network_acl_entry(
            NetworkAclId=info.primary.network_acl_id, RuleNumber=13, Egress=False
        )
    lab.wait_for_event(
        lambda e: e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"],
        timeout=6,
        since=since,
    )


# -- the Route 53 APIs that watch a failover --------------------------------------------------


def test_a_calculated_check_is_refused_by_get_health_check_status_as_aws_does(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    route53 = boto3.client("route53")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    info = lab.info
    calculated = route53.create_health_check(
        CallerReference=f"calc-{uuid.uuid4()}",
        HealthCheckConfig={
            "Type": "CALCULATED",
            "ChildHealthChecks": [info.primary.health_check_id],
            "HealthThreshold": 0,
        },
    )["HealthCheck"]["Id"]
    try:
        with pytest.raises(ClientError) as raised:
            route53.get_health_check_status(HealthCheckId=calculated)
        assert raised.value.response["Error"]["Code"] == "InvalidInput"
        assert "calculated" in raised.value.response["Error"]["Message"]
        # HealthThreshold 0: always healthy, published as the metric once per AWS minute
        # (6 lab seconds at speed 10), the datapoint stamped at the minute's start
        since = time.time() - 6
        wait_until(lambda: _metric_values(cloudwatch, calculated, since), timeout=13)
        assert set(_metric_values(cloudwatch, calculated, since)) == {1.0}
    finally:
        route53.delete_health_check(HealthCheckId=calculated)


def _metric_values(cloudwatch: Any, hc: str, since: float) -> list[float]:
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": hc}],
        StartTime=datetime.fromtimestamp(since, UTC),
        EndTime=datetime.fromtimestamp(time.time() + 5, UTC),
        Period=1,
        Statistics=["Minimum"],
    )
    return [p["Minimum"] for p in stats["Datapoints"]]


def test_test_dns_answer_and_last_failure_reason_answer_from_the_data_plane(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    route53 = boto3.client("route53")
    answer = route53.test_dns_answer(
        HostedZoneId=info.zone_id, RecordName=info.record_name, RecordType="A"
    )
    assert answer["RecordData"] == [info.primary.address]
    assert answer["ResponseCode"] == "NOERROR" and answer["Protocol"] == "UDP"
    missing = route53.test_dns_answer(
        HostedZoneId=info.zone_id, RecordName=f"nothing.{info.zone_name}", RecordType="A"
    )
    assert missing["ResponseCode"] == "NXDOMAIN" and missing["RecordData"] == []
    never_failed = info.secondary.health_check_id  # nothing in this module impairs it
    assert (
        route53.get_health_check_last_failure_reason(HealthCheckId=never_failed)[
            "HealthCheckObservations"
        ]
        == []
    )
    hc = info.primary.health_check_id
    ec2 = boto3.client("ec2", region_name=info.primary.name)
    since = time.time()
    deny_all_inbound(ec2, info.primary.network_acl_id, 14)
    try:
        lab.wait_for_event(
            lambda e: e["kind"] == "health" and e["health_check_id"] == hc and not e["healthy"],
            timeout=6,
            since=since,
        )
        moved = route53.test_dns_answer(
            HostedZoneId=info.zone_id, RecordName=info.record_name, RecordType="A"
        )
        assert moved["RecordData"] == [info.secondary.address]
    finally:
        ec2.delete_network_acl_entry(
            NetworkAclId=info.primary.network_acl_id, RuleNumber=14, Egress=False
        )
    failures = route53.get_health_check_last_failure_reason(HealthCheckId=hc)[
        "HealthCheckObservations"
    ]
    assert len(failures) == 8
    assert all(f["StatusReport"]["Status"].startswith("Failure: ") for f in failures)
    assert all(f["StatusReport"]["CheckedTime"].timestamp() >= since for f in failures)


def test_an_api_the_lab_cannot_answer_names_itself(lab: Lab, lab_env: dict[str, str]) -> None:
    route53 = boto3.client("route53")
    with pytest.raises(ClientError) as raised:
        route53.get_checker_ip_ranges()
    error = raised.value.response["Error"]
    assert error["Code"] == "NotImplemented" and "GetCheckerIpRanges" in error["Message"]


# -- the hung-writer fence window ---------------------------------------------------------------


def _freeze_and_fail_over(lab: Lab, old: int) -> tuple[int, float, dict[str, Any]]:
    """SIGSTOP region ``old`` (0 primary, 1 secondary), fail over to the other with data
    loss; (its pid, when it froze, the writer event)."""
    info = lab.info
    frozen, target = info.regions[old], info.regions[1 - old]
    assert frozen.pid is not None
    os.kill(frozen.pid, signal.SIGSTOP)
    frozen_at = time.time()
    env = lab.env()
    rds = boto3.client(
        "rds",
        region_name=target.name,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )
    rds.failover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=target.db_cluster_arn,
        AllowDataLoss=True,
    )
    changed = lab.wait_for_event(
        lambda e: e["kind"] == "writer" and e["region"] == target.name,
        timeout=10,
        since=frozen_at,
    )
    return frozen.pid, frozen_at, changed


def _post(lab: Lab, region: int, order_id: str) -> tuple[int, dict[str, Any]]:
    info = lab.info
    response = requests.post(
        f"http://{info.regions[region].address}:{info.service_port}/orders",
        json={"id": order_id},
        timeout=(1, 2),
    )
    return response.status_code, response.json()


@pytest.mark.slow
def test_an_old_writer_acknowledges_writes_until_its_lease_ends_and_never_after(
    lab_factory: Callable[..., Lab],
) -> None:
    """The fence window is the writer lease. Resumed within it, the old writer acknowledges
    writes until it ends, each one a split-brain-write event; frozen past it, nothing."""
    lease = 6.0
    # a 1 lab second failover (10 AWS s at speed 10): the promotion lands well inside the lease;
    # the old primary's rebuild is cut to 1 AWS s so that part 2 may fail back at once (a
    # failback during the rebuild is refused, as AWS refuses it: test_clock_failover.py)
    lab = lab_factory(writer_lease=lease, failover_seconds=10, resync_seconds=1)
    info = lab.info
    # 1. the primary freezes, the secondary is promoted, the primary resumes within its lease
    pid, _, changed = _freeze_and_fail_over(lab, 0)
    os.kill(pid, signal.SIGCONT)
    split = f"split-{uuid.uuid4()}"
    status, body = _post(lab, 0, split)
    assert status == 201, body  # the lease it held at the promotion still runs
    primary = RegionClient(info.primary.control_port)
    lease_until = primary.state()["lease_until"]
    assert lease_until <= changed["fence_not_before"]
    fenced = lab.wait_for_event(
        lambda e: e["kind"] == "writer-fenced" and e["region"] == info.primary.name,
        timeout=lease + 3,
        since=changed["time"],
    )
    assert fenced["time"] >= lease_until and fenced["split_brain_writes"] == 1
    (event,) = lab.events(kind="split-brain-write")
    assert event["id"] == split and event["region"] == info.primary.name
    assert changed["promoted_at"] < event["acked_at"] < lease_until
    assert _post(lab, 0, f"late-{uuid.uuid4()}")[0] == 503
    assert split in [w["id"] for w in primary.lost()]

    # 2. the new writer freezes for longer than its lease: after resuming it acknowledges
    # nothing (the freeze itself is the scenario: it must outlast the lease). The old
    # primary is back in sync first: AWS refuses a failover to a member in pending-resync.
    lab.wait_for_event(
        lambda e: e["kind"] == "resynchronised" and e["region"] == info.primary.name,
        timeout=5,
        since=changed["time"],
    )
    pid, frozen_at, changed = _freeze_and_fail_over(lab, 1)
    time.sleep(max(0.0, frozen_at + lease + 0.1 - time.time()))
    os.kill(pid, signal.SIGCONT)
    status, body = _post(lab, 1, f"refused-{uuid.uuid4()}")
    assert status == 503 and (
        "lease expired" in body["error"] or "read-only replica" in body["error"]
    ), body
    fenced = lab.wait_for_event(
        lambda e: e["kind"] == "writer-fenced" and e["region"] == info.secondary.name,
        timeout=5,
        since=changed["time"],
    )
    assert fenced["split_brain_writes"] == 0
    assert [e["region"] for e in lab.events(kind="split-brain-write")] == [info.primary.name]
