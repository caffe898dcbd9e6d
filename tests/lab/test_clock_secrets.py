"""Secrets Manager replicas on the lab's clock, as AWS answers ReplicateSecretToRegions."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from gameday.lab import Lab
from gameday.lab.controlplane.secretsmanager import REPLICA_SYNC_SECONDS
from tests.lab.helpers import (
    lab_is_the_shared_lab,  # noqa: F401  (lab: the worker's shared lab)
    request,
    wait_until,
)

pytestmark = pytest.mark.lab


def _statuses(secrets, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        r["Status"] for r in secrets.describe_secret(SecretId=name).get("ReplicationStatus", [])
    ]


def _readable(region: str, name: str) -> bool:
    try:
        boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=name)
    except ClientError:
        return False
    return True


def test_a_new_replica_is_in_progress_then_in_sync_on_the_lab_clock(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    secrets = boto3.client("secretsmanager", region_name=info.primary.name)
    secrets.remove_regions_from_replication(
        SecretId=info.secret_name, RemoveReplicaRegions=[info.secondary.name]
    )
    try:
        started = time.monotonic()
        secrets.replicate_secret_to_regions(
            SecretId=info.secret_name, AddReplicaRegions=[{"Region": info.secondary.name}]
        )
        assert _statuses(secrets, info.secret_name) == ["InProgress"]
        assert not _readable(info.secondary.name, info.secret_name)
        wait_until(lambda: _statuses(secrets, info.secret_name) == ["InSync"], timeout=5)
        took = time.monotonic() - started
        speed = float(lab_env["GAMEDAY_LAB_SPEED"])
        assert REPLICA_SYNC_SECONDS / speed <= took < REPLICA_SYNC_SECONDS / speed + 0.5
        assert _readable(info.secondary.name, info.secret_name)
    finally:
        if info.secondary.name not in {
            r["Region"]
            for r in secrets.describe_secret(SecretId=info.secret_name).get("ReplicationStatus", [])
        }:
            secrets.replicate_secret_to_regions(
                SecretId=info.secret_name, AddReplicaRegions=[{"Region": info.secondary.name}]
            )
        wait_until(lambda: _statuses(secrets, info.secret_name) == ["InSync"], timeout=5)
    wait_until(
        lambda: request(info.secondary.address, info.service_port, "GET", "/health")[0] == 200,
        timeout=5,
    )


def test_replicating_to_a_region_that_holds_a_replica_fails(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    info = lab.info
    secrets = boto3.client("secretsmanager", region_name=info.primary.name)
    with pytest.raises(ClientError) as raised:
        secrets.replicate_secret_to_regions(
            SecretId=info.secret_name, AddReplicaRegions=[{"Region": info.secondary.name}]
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert _statuses(secrets, info.secret_name) == ["InSync"]  # still one entry
