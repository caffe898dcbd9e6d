"""Fail loudly when moto changes underneath the lab's one module of moto internals."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pytest
from moto.ec2.models.network_acls import NetworkAclBackend
from moto.fis.models import Experiment, FISBackend
from moto.rds.models import DBCluster, GlobalCluster
from moto.rds.responses import RDSResponse
from moto.route53.models import route53_backends
from moto.route53.responses import Route53
from moto.secretsmanager.models import ReplicaSecret, SecretsManagerBackend

from gameday.lab.controlplane import motoext


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == motoext.PINNED_MOTO_VERSION, (
        "moto changed: re-check every patch in gameday/lab/controlplane/motoext.py against the new version, "
        "then update PINNED_MOTO_VERSION and the pin in pyproject.toml together"
    )
    assert motoext.check_moto_version() == motoext.PINNED_MOTO_VERSION


def test_a_different_moto_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(motoext, "version", lambda _: "9.9.9")
    with pytest.raises(motoext.MotoVersionError, match=r"moto\[server\]==5.2.5"):
        motoext.check_moto_version()


def test_the_internals_the_lab_reads_are_still_there() -> None:
    backend = route53_backends[motoext.LAB_ACCOUNT_ID]["aws"]
    assert isinstance(backend.health_checks, dict) and isinstance(backend.zones, dict)
    assert isinstance(Experiment.__dict__.get("status") or Experiment.status, property)
    assert "self.members" in inspect.getsource(GlobalCluster.__init__)
    assert "self.is_writer" in inspect.getsource(DBCluster.__init__)
    assert hasattr(SecretsManagerBackend, "_is_valid_identifier")
    assert hasattr(ReplicaSecret, "__init__")


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
    assert hasattr(Route53, "get_health_check_status")


def test_moto_still_lacks_what_the_lab_adds() -> None:
    """If moto grows these, the lab's versions may now fight with moto's: re-check them."""
    if getattr(getattr(RDSResponse, "failover_global_cluster", None), "__module__", "").startswith(
        "gameday"
    ):
        pytest.skip("already patched in this process by an in-process lab")
    assert not hasattr(RDSResponse, "failover_global_cluster")
    assert not hasattr(RDSResponse, "switchover_global_cluster")
