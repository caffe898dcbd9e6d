"""Secrets Manager in the lab's control plane: which region holds the application secret.

A region process reads its secret through the API itself (its deep health); the fault
reconciler reads :func:`secret_in_region` only to record ground truth. One operation is
patched: removing a region that holds no replica is AWS's ``InvalidParameterException``.
"""

from __future__ import annotations

from typing import Any

from gameday.lab.controlplane.server import LAB_ACCOUNT_ID

# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


def secret_in_region(region: str, name: str) -> bool:
    """True if Secrets Manager in ``region`` holds ``name`` (a primary or a replica)."""
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[LAB_ACCOUNT_ID][region]
    try:
        return bool(backend._is_valid_identifier(name))
    except Exception:
        return False


def install() -> None:
    """Removing a region that holds no replica is AWS's InvalidParameterException."""
    from moto.secretsmanager.exceptions import InvalidParameterException
    from moto.secretsmanager.models import ReplicaSecret, SecretsManagerBackend

    original = SecretsManagerBackend.remove_regions_from_replication

    def remove_regions_from_replication(
        self: Any, secret_id: str, replica_regions: list[str]
    ) -> Any:
        secret = self.describe_secret(secret_id)
        if not isinstance(secret, ReplicaSecret):
            replicated = {r.region for r in secret.replicas}
            missing = [r for r in replica_regions if r not in replicated]
            if missing:
                raise InvalidParameterException(
                    f"The secret {secret.name} is not replicated to region(s) {', '.join(missing)}."
                )
        return original(self, secret_id, replica_regions)

    SecretsManagerBackend.remove_regions_from_replication = remove_regions_from_replication
