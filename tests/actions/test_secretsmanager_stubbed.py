"""Secrets Manager actions: calls checked against the service model with Stubber."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.actions import secretsmanager as sm
from tests.actions.conftest import Stubs, ledger_states

SECRET = "gameday/orders-db"
KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def described(*replicas: str) -> dict:
    return {
        "Name": SECRET,
        "ReplicationStatus": [{"Region": r, "KmsKeyId": KEY, "Status": "InSync"} for r in replicas],
    }


def test_remove_then_restore_with_the_saved_kms_key(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    s = stubs.stub("secretsmanager")
    s.add_response("describe_secret", described("us-west-2"), {"SecretId": SECRET})
    s.add_response(
        "remove_regions_from_replication",
        {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:gameday/orders-db-AbCdEf"},
        {"SecretId": SECRET, "RemoveReplicaRegions": ["us-west-2"]},
    )
    out = sm.remove_secret_replica(SECRET, "us-west-2", "us-east-1")
    assert out["changed"] and out["kms_key_id"] == KEY
    s.add_response("describe_secret", described(), {"SecretId": SECRET})
    s.add_response(
        "replicate_secret_to_regions",
        {"ReplicationStatus": [{"Region": "us-west-2", "Status": "InProgress"}]},
        {"SecretId": SECRET, "AddReplicaRegions": [{"Region": "us-west-2", "KmsKeyId": KEY}]},
    )
    assert sm.restore_secret_replica(SECRET, "us-west-2", "us-east-1")["changed"]
    assert ledger_states(isolated) == [("remove_secret_replica", "reverted")]
    s.add_response("describe_secret", described("us-west-2"), {"SecretId": SECRET})
    assert sm.restore_secret_replica(SECRET, "us-west-2", "us-east-1")["changed"] is False


def test_unknown_secret_and_no_replica(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    s = stubs.stub("secretsmanager")
    s.add_response("describe_secret", described(), {"SecretId": SECRET})
    assert sm.remove_secret_replica(SECRET, "us-west-2", "us-east-1")["changed"] is False
    s.add_client_error(
        "describe_secret",
        service_error_code="ResourceNotFoundException",
        service_message="no",
        http_status_code=400,
        expected_params={"SecretId": "nope"},
    )
    with pytest.raises(ActivityFailed, match="list-secrets"):
        sm.remove_secret_replica("nope", "us-west-2", "us-east-1")
    assert ledger_states(isolated) == []
