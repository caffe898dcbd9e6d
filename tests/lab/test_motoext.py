"""Fail loudly when moto changes underneath the lab's control plane.

Every reach into moto's internals sits in a section marked ``moto internals (pinned)`` in
one of ``gameday/lab/controlplane/{server,route53,ec2,fismoto,rds,secretsmanager,cloudwatch,
alarms}.py``;
this test checks each thing those sections rely on.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

import pytest
from moto.cloudwatch.models import Alarm, CloudWatchBackend, cloudwatch_backends
from moto.ec2.models.network_acls import NetworkAclBackend
from moto.fis.models import Experiment, FISBackend, fis_backends
from moto.rds.models import DBCluster, GlobalCluster, RDSBackend
from moto.rds.responses import RDSResponse
from moto.route53 import urls as route53_urls
from moto.route53.exceptions import InvalidInput
from moto.route53.models import HealthCheck, route53_backends
from moto.route53.responses import Route53
from moto.secretsmanager.models import ReplicaSecret, SecretsManagerBackend

import gameday.lab.controlplane as controlplane_package
from gameday.lab.controlplane import server as motoext_server

SERVICE_MODULES = (
    "route53",
    "ec2",
    "fismoto",
    "rds",
    "secretsmanager",
    "cloudwatch",
    "alarms",
    "iam",
)
#: Modules of the control plane that hold rules only: they never reach into moto.
PURE_MODULES = ("fis", "aurora")


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == motoext_server.PINNED_MOTO_VERSION, (
        "moto changed: re-check every 'moto internals (pinned)' section in "
        "gameday/lab/controlplane/ against the new version, then update PINNED_MOTO_VERSION "
        "and the pin in pyproject.toml together"
    )
    assert motoext_server.check_moto_version() == motoext_server.PINNED_MOTO_VERSION


def test_a_different_moto_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(motoext_server, "version", lambda _: "9.9.9")
    with pytest.raises(motoext_server.MotoVersionError, match=r"moto\[server\]==5.2.5"):
        motoext_server.check_moto_version()


def test_every_service_module_marks_its_moto_internals() -> None:
    """One room per service, and each says where it reaches into moto."""
    folder = Path(controlplane_package.__file__).parent
    for name in SERVICE_MODULES:
        text = (folder / f"{name}.py").read_text()
        assert "moto internals (pinned" in text, f"{name}.py lost its marker"
    for name in PURE_MODULES:
        text = (folder / f"{name}.py").read_text()
        assert "from moto" not in text and "import moto" not in text, (
            f"{name}.py holds rules only and must not reach into moto"
        )
    # nothing outside the control plane imports moto
    package = folder.parent
    for path in package.rglob("*.py"):
        if folder in path.parents:
            continue
        assert "from moto" not in path.read_text(), f"{path} reaches into moto"


def test_the_internals_the_lab_reads_are_still_there() -> None:
    backend = route53_backends[motoext_server.LAB_ACCOUNT_ID]["aws"]
    assert isinstance(backend.health_checks, dict) and isinstance(backend.zones, dict)
    assert isinstance(Experiment.__dict__.get("status") or Experiment.status, property)
    assert hasattr(Experiment, "_sync_state")
    assert isinstance(fis_backends[motoext_server.LAB_ACCOUNT_ID]["us-east-1"].experiments, dict)
    assert "self.members" in inspect.getsource(GlobalCluster.__init__)
    assert "self.is_writer" in inspect.getsource(DBCluster.__init__)
    assert hasattr(SecretsManagerBackend, "_is_valid_identifier")
    assert hasattr(ReplicaSecret, "__init__")
    assert isinstance(route53_urls.url_paths, dict)
    assert issubclass(InvalidInput, Exception)
    cw = cloudwatch_backends[motoext_server.LAB_ACCOUNT_ID]["us-east-1"]
    assert isinstance(cw, CloudWatchBackend) and isinstance(cw.metric_data, list)


def test_the_operations_the_lab_patches_have_the_shapes_it_wraps() -> None:
    params = inspect.signature(FISBackend.create_experiment_template).parameters
    assert {"actions", "targets"} <= params.keys()
    assert {"experiment_template_id"} <= inspect.signature(
        FISBackend.start_experiment
    ).parameters.keys()
    assert list(inspect.signature(NetworkAclBackend.delete_network_acl_entry).parameters) == [
        "self",
        "network_acl_id",
        "rule_number",
        "egress",
    ]
    assert list(
        inspect.signature(SecretsManagerBackend.remove_regions_from_replication).parameters
    ) == [
        "self",
        "secret_id",
        "replica_regions",
    ]
    assert list(inspect.signature(CloudWatchBackend.put_metric_data).parameters) == [
        "self",
        "namespace",
        "metric_data",
    ]
    assert hasattr(Route53, "get_health_check_status")
    assert {"db_cluster_identifier", "target_db_instance_identifier"} <= inspect.signature(
        RDSBackend.failover_db_cluster
    ).parameters.keys()
    assert "cluster_identifier" in inspect.signature(RDSBackend.stop_db_cluster).parameters
    assert "snapshot_type" in inspect.signature(RDSBackend.create_db_cluster_snapshot).parameters
    assert "self.state_value" in inspect.getsource(Alarm.__init__)
    assert "health_check_version" in inspect.getsource(HealthCheck.__init__)


def test_moto_still_lacks_what_the_lab_adds() -> None:
    """If moto grows these, the lab's versions may now fight with moto's: re-check them."""
    if getattr(getattr(RDSResponse, "failover_global_cluster", None), "__module__", "").startswith(
        "gameday"
    ):
        pytest.skip("already patched in this process by an in-process lab")
    assert not hasattr(RDSResponse, "failover_global_cluster")
    assert not hasattr(RDSResponse, "switchover_global_cluster")
    assert not hasattr(Route53, "test_dns_answer")
    assert not hasattr(Route53, "get_health_check_last_failure_reason")


def test_the_readers_understand_moto_objects() -> None:
    """The control plane's readers map moto's objects (attribute names and all) right."""
    import boto3
    from moto import mock_aws

    from gameday.lab.controlplane import ec2, route53

    with mock_aws():
        r53 = boto3.client("route53", region_name="us-east-1")
        hc = r53.create_health_check(
            CallerReference="r",
            HealthCheckConfig={
                "Type": "HTTP",
                "IPAddress": "127.0.1.1",
                "Port": 8080,
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 2,
                "Inverted": True,
            },
        )["HealthCheck"]["Id"]
        zone = r53.create_hosted_zone(Name="lab.internal", CallerReference="z")["HostedZone"]
        r53.change_resource_record_sets(
            HostedZoneId=zone["Id"],
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": "api.lab.internal",
                            "Type": "A",
                            "TTL": 1,
                            "SetIdentifier": "p",
                            "Failover": "PRIMARY",
                            "HealthCheckId": hc,
                            "ResourceRecords": [{"Value": "127.0.1.1"}],
                        },
                    }
                ]
            },
        )
        config = route53.health_check(hc)
        assert config is not None and (config.type, config.port, config.inverted) == (
            "HTTP",
            8080,
            True,
        )
        assert (config.failure_threshold, config.request_interval) == (2, 10)
        (found,) = [z for z in route53.zones() if z.name == "lab.internal."]
        (record,) = [r for r in found.records if r.type == "A"]
        assert (record.failover, record.health_check_id, record.values) == (
            "PRIMARY",
            hc,
            ("127.0.1.1",),
        )
        ec2_client = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2_client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2_client.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        acl_id, entries = ec2.subnet_acl("us-east-1", subnet)
        assert acl_id is not None and {e.action for e in entries} >= {"allow", "deny"}


def test_the_remembered_backend_is_the_one_moto_picks() -> None:
    """The control plane remembers moto's backend per Host header (moto re-lists its package
    for every request): the answer must be moto's own, for every kind of host."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    plain = DomainDispatcherApplication(create_backend_app)
    remembered = motoext_server._cached_dispatcher(DomainDispatcherApplication)(create_backend_app)
    hosts = [None, "moto_api", "route53", "rds.us-east-1.amazonaws.com",
             "secretsmanager.us-west-2.amazonaws.com", "monitoring.eu-west-1.amazonaws.com",
             "route53.amazonaws.com", "127.0.0.1:4566", "nothing.example"]  # fmt: skip
    for host in hosts * 2:  # the second pass answers from memory
        assert remembered.get_backend_for_host(host) == plain.get_backend_for_host(host), host
