"""The lab honours region impairments made with plain AWS calls, as AWS does."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from gameday.lab import Lab, LabConfig
from gameday.lab.region.client import RegionClient
from tests.lab.helpers import (
    deny_all_inbound,
    lab_is_the_shared_lab,  # noqa: F401  (lab: the worker's shared lab)
    request,
    resolve,
    wait_until,
)

pytestmark = pytest.mark.lab

#: The lab's default (lab-only) replication delay, restored after a test that raises it.
LAG = LabConfig().replication_lag


def answers(address: str, port: int, timeout: float = 0.5) -> bool | None:
    """True if /health answers, None if the request times out (black hole)."""
    try:
        request(address, port, "GET", "/health", timeout=timeout)
    except TimeoutError:
        return None
    except OSError:
        return False
    return True


def fault_event(lab: Lab, since: float, state: str, **match: object) -> dict:
    return lab.wait_for_event(
        lambda e: (
            e["kind"] == "fault"
            and e["state"] == state
            and all(e.get(k) == v for k, v in match.items())
        ),
        timeout=3,
        since=since,
    )


# -- network ACLs ------------------------------------------------------------------------


def test_a_nacl_deny_black_holes_the_region_and_dns_fails_over(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    ec2 = boto3.client("ec2", region_name=info.primary.name)
    acl = info.primary.network_acl_id
    port = info.service_port
    # A keep-alive connection opened before the fault: it must go silent too (stateless NACL).
    open_conn = socket.create_connection((info.primary.address, port), timeout=0.5)
    started = time.time()
    deny_all_inbound(ec2, acl, 10)
    try:
        applied = fault_event(
            lab, started, "applied", fault="network-acl-deny", region=info.primary.name
        )
        assert applied["deny_rules"] == [10]
        assert applied["time"] - started < 0.5
        assert answers(info.primary.address, port) is None  # times out, not refused
        open_conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(TimeoutError):
            open_conn.recv(100)
        assert answers(info.secondary.address, port) is True
        wait_until(lambda: resolve(lab)[0] == [info.secondary.address], timeout=4)
    finally:
        open_conn.close()
        removed = time.time()
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=10, Egress=False)
    reverted = fault_event(
        lab, removed, "reverted", fault="network-acl-deny", region=info.primary.name
    )
    assert reverted["time"] - removed < 0.5
    assert answers(info.primary.address, port) is True
    wait_until(lambda: resolve(lab)[0] == [info.primary.address], timeout=4)


def test_a_lower_numbered_allow_wins_over_a_deny(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    ec2 = boto3.client("ec2", region_name=info.primary.name)
    acl = info.primary.network_acl_id
    port = info.service_port
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=5,
        Protocol="6",
        RuleAction="allow",
        Egress=False,
        CidrBlock="127.0.0.0/8",
        PortRange={"From": port, "To": port},
    )
    deny_all_inbound(ec2, acl, 6)
    since = time.time()
    try:
        # Wait until the region enforces both new entries, then check it still answers.
        wait_until(
            lambda: (
                {5, 6} <= set(RegionClient(info.primary.control_port).state()["acl_rules"] or ())
            ),
            timeout=2,
        )
        assert answers(info.primary.address, port) is True
        assert not [
            e for e in lab.events(since=since, kind="fault") if e.get("fault") == "network-acl-deny"
        ]
    finally:
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=5, Egress=False)
    try:
        fault_event(lab, since, "applied", fault="network-acl-deny", region=info.primary.name)
        assert answers(info.primary.address, port) is None
    finally:
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=6, Egress=False)
    fault_event(lab, since, "reverted", fault="network-acl-deny", region=info.primary.name)


def test_an_outbound_deny_breaks_answers_too(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    ec2 = boto3.client("ec2", region_name=info.primary.name)
    acl = info.primary.network_acl_id
    since = time.time()
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=7,
        Protocol="6",
        RuleAction="deny",
        Egress=True,
        CidrBlock="127.0.0.0/8",
        PortRange={"From": 1024, "To": 65535},
    )
    try:
        fault_event(lab, since, "applied", fault="network-acl-deny", region=info.primary.name)
        assert answers(info.primary.address, info.service_port) is None
    finally:
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=7, Egress=True)
    fault_event(lab, since, "reverted", fault="network-acl-deny")


def test_nacl_bad_input_is_aws_errors(lab: Lab, lab_env: dict[str, str]) -> None:
    ec2 = boto3.client("ec2", region_name=lab.info.primary.name)
    with pytest.raises(ClientError) as raised:
        deny_all_inbound(ec2, "acl-0000000000", 1)
    assert raised.value.response["Error"]["Code"] == "InvalidNetworkAclID.NotFound"
    with pytest.raises(ClientError) as raised:
        ec2.delete_network_acl_entry(
            NetworkAclId=lab.info.primary.network_acl_id, RuleNumber=42, Egress=False
        )
    assert raised.value.response["Error"]["Code"] == "InvalidNetworkAclEntry.NotFound"
    assert answers(lab.info.primary.address, lab.info.service_port) is True


# -- FIS -----------------------------------------------------------------------------------


def _template(fis, action_id: str, targets: dict, parameters: dict, target_key: str) -> str:  # type: ignore[no-untyped-def]
    return fis.create_experiment_template(
        clientToken=str(uuid.uuid4()),
        description="gameday lab test",
        roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}],
        targets={"t": targets},
        actions={
            "a": {"actionId": action_id, "parameters": parameters, "targets": {target_key: "t"}}
        },
    )["experimentTemplate"]["id"]


def _subnet_target(info, region) -> dict:  # type: ignore[no-untyped-def]
    return {
        "resourceType": "aws:ec2:subnet",
        "resourceArns": [f"arn:aws:ec2:{region.name}:123456789012:subnet/{region.subnet_id}"],
        "selectionMode": "ALL",
    }


def _write(info, order_id: str) -> float:  # type: ignore[no-untyped-def]
    status, _, body = request(
        info.primary.address, info.service_port, "POST", "/orders", {"id": order_id}
    )
    assert status == 201, body
    return float(body["acked_at"])


@pytest.fixture
def writer(lab: Lab) -> Iterator[None]:
    """Put the primary back as the writer after a test that moves it."""
    yield
    info = lab.info
    lab.set_lag(LAG)
    if lab.info.primary.role != "writer":
        rds = boto3.client("rds", region_name=info.primary.name, endpoint_url=info.endpoint_url)

        def in_sync() -> bool:
            members = rds.describe_global_clusters()["GlobalClusters"][0]["GlobalClusterMembers"]
            return all(m["SynchronizationStatus"] == "connected" for m in members)

        # after an unplanned failover the old primary is rebuilt first (pending-resync):
        # AWS refuses the switchover back until then (20 AWS s on the shared lab)
        wait_until(in_sync, timeout=10)
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=info.global_cluster_id,
            TargetDbClusterIdentifier=info.primary.db_cluster_arn,
        )
        wait_until(lambda: lab.info.primary.role == "writer", timeout=10)


def test_stop_experiment_reverts_at_once(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    fis = boto3.client("fis", region_name=info.primary.name)
    template = _template(
        fis,
        "aws:network:disrupt-connectivity",
        _subnet_target(info, info.primary),
        {"duration": "PT10M", "scope": "all"},
        "Subnets",
    )
    experiment = fis.start_experiment(clientToken=str(uuid.uuid4()), experimentTemplateId=template)[
        "experiment"
    ]
    since = experiment["startTime"].timestamp() - 0.01
    fault_event(lab, since, "applied", source="fis", region=info.primary.name)
    assert answers(info.primary.address, info.service_port) is None
    states = fis.get_experiment(id=experiment["id"])["experiment"]["state"]["status"]
    assert states == "running"
    stopped_at = time.time()
    assert fis.stop_experiment(id=experiment["id"])["experiment"]["state"]["status"] == "stopping"
    reverted = fault_event(lab, stopped_at, "reverted", source="fis")
    assert reverted["time"] - stopped_at < 0.3
    assert answers(info.primary.address, info.service_port) is True
    wait_until(
        lambda: (
            fis.get_experiment(id=experiment["id"])["experiment"]["state"]["status"] == "stopped"
        ),
        timeout=2,
    )


def test_fis_bad_input_is_rejected(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    fis = boto3.client("fis", region_name=info.primary.name)
    for action_id, params in (
        ("aws:network:no-such-action", {"duration": "PT1M"}),
        ("aws:network:disrupt-connectivity", {"duration": "five minutes", "scope": "all"}),
    ):
        with pytest.raises(ClientError) as raised:
            _template(fis, action_id, _subnet_target(info, info.primary), params, "Subnets")
        assert raised.value.response["Error"]["Code"] == "ValidationException"
    nothing = {
        "resourceType": "aws:ec2:subnet",
        "resourceArns": [f"arn:aws:ec2:{info.primary.name}:123456789012:subnet/subnet-missing"],
        "selectionMode": "ALL",
    }
    template = _template(
        fis, "aws:network:disrupt-connectivity", nothing, {"duration": "PT1M"}, "Subnets"
    )
    experiment = fis.start_experiment(clientToken=str(uuid.uuid4()), experimentTemplateId=template)[
        "experiment"
    ]
    state = wait_until(
        lambda: (
            (s := fis.get_experiment(id=experiment["id"])["experiment"]["state"])["status"]
            == "failed"
            and s
        ),
        timeout=2,
    )
    assert "Target resolution failed" in state["reason"]
    assert answers(info.primary.address, info.service_port) is True


# -- global database ------------------------------------------------------------------------


def test_failover_with_data_loss_loses_exactly_the_unshipped_writes(
    lab: Lab, lab_env: dict[str, str], writer: None
) -> None:
    info = lab.info
    rds = boto3.client("rds", region_name=info.secondary.name)
    before = f"before-{uuid.uuid4()}"
    _write(info, before)
    primary, secondary = (
        RegionClient(info.primary.control_port),
        RegionClient(info.secondary.control_port),
    )
    wait_until(lambda: secondary.existing([before]) == [before], timeout=2)
    # the worker's shared lab may hold what earlier tests lost: this test owns only the rest
    lost_before = {o["id"] for o in primary.lost()}
    lab.set_lag(300)  # lab-only: no AWS fault delays Aurora's storage replication
    during = [f"during-{i}-{uuid.uuid4()}" for i in range(5)]
    for order_id in during:
        _write(info, order_id)
    started = time.time()
    answer = rds.failover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.secondary.db_cluster_arn,
        AllowDataLoss=True,
    )["GlobalCluster"]
    assert answer["FailoverState"]["IsDataLossAllowed"] is True
    assert answer["FailoverState"]["ToDbClusterArn"] == info.secondary.db_cluster_arn
    changed = lab.wait_for_event(lambda e: e["kind"] == "writer", timeout=10, since=started)
    assert changed["region"] == info.secondary.name and changed["lost_on_old_writer"] == len(during)
    lab.set_lag(LAG)

    assert secondary.existing([before, *during]) == [before]  # the new writer never had them
    assert primary.existing(during) == []  # moved aside by the old writer's demotion
    assert sorted(o["id"] for o in primary.lost() if o["id"] not in lost_before) == sorted(during)
    for region_name in (info.primary.name, info.secondary.name):
        members = boto3.client("rds", region_name=region_name).describe_global_clusters()[
            "GlobalClusters"
        ][0]
        assert "FailoverState" not in members
        flags = {m["DBClusterArn"]: m["IsWriter"] for m in members["GlobalClusterMembers"]}
        assert flags == {info.primary.db_cluster_arn: False, info.secondary.db_cluster_arn: True}
    assert lab.info.secondary.role == "writer"
    status, _, body = request(
        info.primary.address, info.service_port, "POST", "/orders", {"id": "late"}
    )
    assert status == 503 and "read-only replica" in body["error"]
    after = f"after-{uuid.uuid4()}"
    assert (
        request(info.secondary.address, info.service_port, "POST", "/orders", {"id": after})[0]
        == 201
    )
    wait_until(lambda: primary.existing([after]) == [after], timeout=2)  # flows from the new writer


def test_switchover_and_back_loses_nothing(lab: Lab, lab_env: dict[str, str], writer: None) -> None:
    info = lab.info
    rds = boto3.client("rds", region_name=info.primary.name)
    written = [f"planned-{i}-{uuid.uuid4()}" for i in range(20)]
    for order_id in written:
        _write(info, order_id)
    started = time.time()
    answer = rds.switchover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.secondary.db_cluster_arn,
    )["GlobalCluster"]
    assert answer["FailoverState"]["IsDataLossAllowed"] is False
    changed = lab.wait_for_event(lambda e: e["kind"] == "writer", timeout=10, since=started)
    assert changed["how"] == "switchover"
    secondary = RegionClient(info.secondary.control_port)
    assert sorted(secondary.existing(written)) == sorted(written)
    back = time.time()
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.primary.db_cluster_arn,
    )
    lab.wait_for_event(
        lambda e: e["kind"] == "writer" and e["region"] == info.primary.name, timeout=10, since=back
    )
    assert sorted(RegionClient(info.primary.control_port).existing(written)) == sorted(written)
    assert RegionClient(info.primary.control_port).lost() == [] or all(
        o["id"] not in written for o in RegionClient(info.primary.control_port).lost()
    )


def test_failover_bad_input_is_aws_errors(lab: Lab, lab_env: dict[str, str]) -> None:
    info = lab.info
    rds = boto3.client("rds", region_name=info.primary.name)
    cases = [
        (
            {
                "GlobalClusterIdentifier": "nope",
                "TargetDbClusterIdentifier": info.secondary.db_cluster_arn,
            },
            "GlobalClusterNotFoundFault",
        ),
        (
            {
                "GlobalClusterIdentifier": info.global_cluster_id,
                "TargetDbClusterIdentifier": "arn:aws:rds:eu-west-1:123456789012:cluster:other",
            },
            "DBClusterNotFoundFault",
        ),
        (
            {
                "GlobalClusterIdentifier": info.global_cluster_id,
                "TargetDbClusterIdentifier": info.primary.db_cluster_arn,
            },
            "InvalidDBClusterStateFault",
        ),
    ]
    for params, code in cases:
        with pytest.raises(ClientError) as raised:
            rds.failover_global_cluster(AllowDataLoss=True, **params)
        assert raised.value.response["Error"]["Code"] == code
    assert lab.info.primary.role == "writer"


# -- secrets --------------------------------------------------------------------------------


def test_a_missing_secret_replica_fails_the_secondary_health(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    secrets = boto3.client("secretsmanager", region_name=info.primary.name)
    route53 = boto3.client("route53")
    hc = info.secondary.health_check_id
    since = time.time()
    secrets.remove_regions_from_replication(
        SecretId=info.secret_name, RemoveReplicaRegions=[info.secondary.name]
    )
    try:
        fault_event(lab, since, "applied", fault="secret-missing", region=info.secondary.name)
        lab.wait_for_event(
            lambda e: (
                e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is False
            ),
            timeout=5,
            since=since,
        )
        status, _, body = request(info.secondary.address, info.service_port, "GET", "/health")
        assert status == 503 and "ResourceNotFoundException" in body["checks"]["secret"]
        report = route53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"][0]
        assert report["StatusReport"]["Status"].startswith("Failure")
    finally:
        restored = time.time()
        secrets.replicate_secret_to_regions(
            SecretId=info.secret_name, AddReplicaRegions=[{"Region": info.secondary.name}]
        )
    fault_event(lab, restored, "reverted", fault="secret-missing", region=info.secondary.name)
    lab.wait_for_event(
        lambda e: e["kind"] == "health" and e["health_check_id"] == hc and e["healthy"] is True,
        timeout=5,
        since=restored,
    )


def test_removing_a_region_that_is_no_replica_is_an_error(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    secrets = boto3.client("secretsmanager", region_name=lab.info.primary.name)
    with pytest.raises(ClientError) as raised:
        secrets.remove_regions_from_replication(
            SecretId=lab.info.secret_name, RemoveReplicaRegions=["eu-west-1"]
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert request(lab.info.secondary.address, lab.info.service_port, "GET", "/health")[0] == 200


def test_a_hung_old_writer_is_fenced_when_it_comes_back(
    lab: Lab, lab_env: dict[str, str], writer: None
) -> None:
    """Fail over away from a frozen primary; once it answers again it is a reader and its
    unshipped writes are moved aside, as Aurora demotes an old primary that returns."""
    info = lab.info
    primary = RegionClient(info.primary.control_port)
    lab.set_lag(300)  # lab-only: no AWS fault delays Aurora's storage replication
    unshipped = f"unshipped-{uuid.uuid4()}"
    _write(info, unshipped)
    assert info.primary.pid is not None
    os.kill(info.primary.pid, signal.SIGSTOP)
    started = time.time()
    try:
        boto3.client("rds", region_name=info.secondary.name).failover_global_cluster(
            GlobalClusterIdentifier=info.global_cluster_id,
            TargetDbClusterIdentifier=info.secondary.db_cluster_arn,
            AllowDataLoss=True,
        )
        changed = lab.wait_for_event(lambda e: e["kind"] == "writer", timeout=12, since=started)
        assert changed["region"] == info.secondary.name and changed["lost_on_old_writer"] is None
        assert (
            request(
                info.secondary.address,
                info.service_port,
                "POST",
                "/orders",
                {"id": f"new-{uuid.uuid4()}"},
            )[0]
            == 201
        )
    finally:
        os.kill(info.primary.pid, signal.SIGCONT)
        lab.set_lag(LAG)
    fenced = lab.wait_for_event(lambda e: e["kind"] == "writer-fenced", timeout=5, since=started)
    assert fenced["region"] == info.primary.name and fenced["lost_on_old_writer"] == 1
    assert unshipped in [o["id"] for o in primary.lost()]
    assert primary.existing([unshipped]) == []
    status, _, body = request(
        info.primary.address, info.service_port, "POST", "/orders", {"id": "late"}
    )
    assert status == 503 and "read-only replica" in body["error"]


@pytest.mark.slow
def test_the_whole_runbook_after_a_hard_outage(
    lab: Lab, lab_env: dict[str, str], writer: None
) -> None:
    """Kill the primary, fail over with data loss, bring the old primary back (as a fenced
    reader), let it catch up, then fail back with a switchover: nothing acknowledged by the
    surviving writer is lost, and only the unshipped writes of the dead primary are."""
    info = lab.info
    rds = boto3.client("rds", region_name=info.secondary.name)
    lab.set_lag(300)  # lab-only: no AWS fault delays Aurora's storage replication
    unshipped = f"doomed-{uuid.uuid4()}"
    _write(info, unshipped)
    assert info.primary.pid is not None
    started = time.time()
    os.kill(info.primary.pid, signal.SIGKILL)
    lab.wait_for_event(
        lambda e: e["kind"] == "region-exited" and e["region"] == info.primary.name,
        3,
        since=started,
    )
    rds.failover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.secondary.db_cluster_arn,
        AllowDataLoss=True,
    )
    lab.wait_for_event(
        lambda e: e["kind"] == "writer" and e["region"] == info.secondary.name, 10, since=started
    )
    lab.set_lag(LAG)
    survivors = [f"survivor-{i}-{uuid.uuid4()}" for i in range(5)]
    for order_id in survivors:
        assert (
            request(info.secondary.address, info.service_port, "POST", "/orders", {"id": order_id})[
                0
            ]
            == 201
        )

    back = lab.restart_region(info.primary.name)
    assert back["role"] == "reader"
    fenced = lab.wait_for_event(lambda e: e["kind"] == "writer-fenced", 5, since=started)
    assert fenced["lost_on_old_writer"] == 1
    primary = RegionClient(info.primary.control_port)
    wait_until(lambda: sorted(primary.existing(survivors)) == sorted(survivors), timeout=5)

    # the runbook waits for the rebuild too: AWS refuses the failback during pending-resync
    lab.wait_for_event(
        lambda e: e["kind"] == "resynchronised" and e["region"] == info.primary.name,
        10,
        since=started,
    )
    failback = time.time()
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=info.global_cluster_id,
        TargetDbClusterIdentifier=info.primary.db_cluster_arn,
    )
    lab.wait_for_event(
        lambda e: e["kind"] == "writer" and e["region"] == info.primary.name, 10, since=failback
    )
    assert lab.info.primary.role == "writer"
    assert primary.existing([unshipped]) == [] and unshipped in [o["id"] for o in primary.lost()]
    assert sorted(primary.existing(survivors)) == sorted(survivors)
    assert _write(info, f"after-failback-{uuid.uuid4()}") > failback


def test_a_tcp_health_check_fails_behind_a_nacl_deny(lab: Lab, lab_env: dict[str, str]) -> None:
    """A NACL deny fails a TCP check, which probes for real: as root the SYN is dropped by
    nftables and connect() times out (in userland mode the region accepts the connection,
    and only an HTTP check can see the block)."""
    if lab.state().get("network_mode") != "nftables":
        pytest.skip("a TCP check sees a userland black hole as a connection: needs root + nft")
    info = lab.info
    route53 = boto3.client("route53")
    ec2 = boto3.client("ec2", region_name=info.primary.name)
    hc = route53.create_health_check(
        CallerReference=f"tcp-{uuid.uuid4()}",
        HealthCheckConfig={
            "Type": "TCP",
            "IPAddress": info.primary.address,
            "Port": info.service_port,
            "RequestInterval": 10,
            "FailureThreshold": 1,
        },
    )["HealthCheck"]["Id"]

    def report() -> str:
        observations = route53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]
        return observations[0]["StatusReport"]["Status"] if observations else ""

    try:
        wait_until(lambda: report().startswith("Success"), timeout=3)
        since = time.time()
        deny_all_inbound(ec2, info.primary.network_acl_id, 11)
        try:
            fault_event(lab, since, "applied", fault="network-acl-deny", region=info.primary.name)
            wait_until(lambda: report().startswith("Failure"), timeout=3)
        finally:
            ec2.delete_network_acl_entry(
                NetworkAclId=info.primary.network_acl_id, RuleNumber=11, Egress=False
            )
        wait_until(lambda: report().startswith("Success"), timeout=3)
    finally:
        route53.delete_health_check(HealthCheckId=hc)
