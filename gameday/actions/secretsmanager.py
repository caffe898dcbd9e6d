"""Secrets Manager actions: remove a secret's replica from a region (and restore it).

A recovery region whose copy of a secret is missing cannot start its application or
connect to its database: the drill finds out whether the runbook notices.
"""

from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import activity, registry
from gameday.faults import Undo

__all__ = ["remove_secret_replica", "restore_secret_replica"]

_MODULE = __name__
_HINTS = {
    "ResourceNotFoundException": (
        "check the secret name or ARN with `aws secretsmanager list-secrets` in its primary region"
    ),
    "InvalidParameterException": "check the replica region and the KMS key",
    "InvalidRequestException": (
        "the secret or a secret of the same name in the replica region is in a state that "
        "forbids it (scheduled for deletion, or standalone): fix that first"
    ),
}


def _replicas(sm: Any, secret_id: str, region: str) -> dict[str, dict[str, Any]]:
    described = activity.call(
        sm,
        "describe_secret",
        f"Could not read secret {secret_id!r} in {region}",
        _HINTS,
        SecretId=secret_id,
    )
    if described.get("PrimaryRegion") and described["PrimaryRegion"] != region:
        raise activity.fail(
            f"Secret {secret_id!r} is a replica in {region}: pass its primary region "
            f"{described['PrimaryRegion']} as `region`."
        )
    return {r["Region"]: r for r in described.get("ReplicationStatus", []) or []}


@registry.fault(
    rollback="restore_secret_replica",
    iam=("secretsmanager:DescribeSecret", "secretsmanager:RemoveRegionsFromReplication"),
)
def remove_secret_replica(
    secret_id: str,
    replica_region: str,
    region: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Delete the replica of a secret in ``replica_region`` (the secret's primary is in ``region``).

    Calls ``remove_regions_from_replication`` after recording in the fault ledger how to
    put it back (the replica's KMS key included). Idempotent: a region holding no replica
    is left alone. Roll back with ``restore_secret_replica``.

    Returns ``secret_id``, ``region``, ``replica_region``, ``changed``, ``kms_key_id`` and
    ``fault_id``.
    """
    activity.require(secret_id, "secret_id", "the secret name or ARN")
    region = activity.check_region(region)
    replica_region = activity.check_region(replica_region, "replica_region")
    sm = activity.connect("secretsmanager", region, configuration, secrets)
    activity.guard(region, configuration, secrets)
    replica = _replicas(sm, secret_id, region).get(replica_region)
    outcome: dict[str, Any] = {
        "secret_id": secret_id,
        "region": region,
        "replica_region": replica_region,
        "changed": False,
        "kms_key_id": (replica or {}).get("KmsKeyId"),
        "fault_id": None,
    }
    if replica is None:
        activity.logger.info(
            "secret %s has no replica in %s: nothing to do", secret_id, replica_region
        )
        return outcome
    undo_kwargs: dict[str, Any] = {
        "secret_id": secret_id,
        "replica_region": replica_region,
        "region": region,
    }
    if replica.get("KmsKeyId"):
        undo_kwargs["kms_key_id"] = replica["KmsKeyId"]
    fault_id, _ = activity.inject(
        activity="remove_secret_replica",
        target=f"secretsmanager:{region}:{secret_id}:{replica_region}",
        arguments={"secret_id": secret_id, "replica_region": replica_region, "region": region},
        undo=Undo(_MODULE, "restore_secret_replica", undo_kwargs),
        configuration=configuration,
        apply=lambda _id: sm.remove_regions_from_replication(
            SecretId=secret_id, RemoveReplicaRegions=[replica_region]
        ),
        failure=f"Could not remove the {replica_region} replica of secret {secret_id!r}",
        hints=_HINTS,
    )
    outcome.update(changed=True, fault_id=fault_id)
    return outcome


@registry.rollback(iam=("secretsmanager:DescribeSecret", "secretsmanager:ReplicateSecretToRegions"))
def restore_secret_replica(
    secret_id: str,
    replica_region: str,
    region: str,
    kms_key_id: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Replicate a secret to ``replica_region`` again (rollback of ``remove_secret_replica``).

    Calls ``replicate_secret_to_regions`` with ``kms_key_id``, or the KMS key the fault
    ledger saved for that replica, or the default key. Idempotent: nothing is called when
    the replica exists. Marks the ledger entries reverted.

    Returns ``secret_id``, ``region``, ``replica_region``, ``changed`` and ``reverted``.
    """
    activity.require(secret_id, "secret_id", "the secret name or ARN")
    region = activity.check_region(region)
    replica_region = activity.check_region(replica_region, "replica_region")
    sm = activity.connect("secretsmanager", region, configuration, secrets)
    activity.guard(region, configuration, secrets)
    book = activity.ledger(configuration)
    entries = book.open_entries(
        activity="remove_secret_replica",
        target_prefix=f"secretsmanager:{region}:{secret_id}:{replica_region}",
    )
    key = kms_key_id or next(
        (e.undo.kwargs["kms_key_id"] for e in entries if e.undo.kwargs.get("kms_key_id")), None
    )
    changed = False
    if replica_region not in _replicas(sm, secret_id, region):
        add: dict[str, Any] = {"Region": replica_region}
        if key:
            add["KmsKeyId"] = key
        activity.call(
            sm,
            "replicate_secret_to_regions",
            f"Could not replicate secret {secret_id!r} to {replica_region}",
            _HINTS,
            SecretId=secret_id,
            AddReplicaRegions=[add],
        )
        changed = True
    book.mark_reverted(entries, by="restore_secret_replica")
    return {
        "secret_id": secret_id,
        "region": region,
        "replica_region": replica_region,
        "changed": changed,
        "reverted": [e.id for e in entries],
    }
