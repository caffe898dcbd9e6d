"""Secrets Manager in the lab's control plane: which region holds the application secret.

A region process reads its secret through the API itself (its deep health); the fault
reconciler reads :func:`secret_in_region` only to record ground truth. One operation is
patched: removing a region that holds no replica is AWS's ``InvalidParameterException``.

The regions read again when told (:func:`on_change`): after every Secrets Manager request
that is not a read (:func:`notifying` wraps moto's WSGI application), and when a new replica
turns ``InSync`` on the lab's clock. Without the word they would have to poll the API several
times a lab second to notice a change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from gameday.lab.clock import LabClock
from gameday.lab.controlplane.server import LAB_ACCOUNT_ID

#: Secrets Manager operations that change nothing. Every other one (including one this list
#: does not know yet) tells the regions to read their secret again.
READ_OPERATIONS = frozenset(
    {
        "BatchGetSecretValue",
        "DescribeSecret",
        "GetRandomPassword",
        "GetResourcePolicy",
        "GetSecretValue",
        "ListSecretVersionIds",
        "ListSecrets",
        "ValidateResourcePolicy",
    }
)

_listeners: list[Callable[[], None]] = []


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener`` (from any thread, without blocking it) whenever a secret may have
    changed in some region."""
    _listeners.append(listener)


def _changed() -> None:
    for listener in list(_listeners):
        listener()


def notifying(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``app`` (moto's WSGI application), telling :func:`on_change`'s listeners after every
    Secrets Manager request that is not a read (the JSON protocol names it in
    ``X-Amz-Target``), once moto has answered it."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        answer = app(environ, start_response)
        service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
        if service == "secretsmanager" and operation not in READ_OPERATIONS:
            _changed()
        return answer

    return application


# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


def secret_in_region(region: str, name: str) -> bool:
    """True if Secrets Manager in ``region`` holds ``name`` (a primary or a replica)."""
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[LAB_ACCOUNT_ID][region]
    try:
        return bool(backend._is_valid_identifier(name))
    except Exception:
        return False


#: AWS seconds a new secret replica spends ``InProgress`` before it is ``InSync`` and
#: readable in its region. AWS documents no figure (replication is asynchronous and usually
#: quick); the lab assumes ten seconds, one lab second at the default speed.
REPLICA_SYNC_SECONDS = 10.0


def install(clock: LabClock | None = None) -> None:
    """Removing a region that holds no replica is AWS's InvalidParameterException; adding
    one is on the lab's clock (:func:`_install_replication`)."""
    _install_replication(clock or LabClock(1))
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


def _install_replication(clock: LabClock) -> None:
    """``ReplicateSecretToRegions`` as AWS answers it, on the lab's clock.

    * Replicating to a region that already holds a replica is refused
      (``InvalidParameterException``, the error AWS gives for a replica region it cannot
      use) instead of adding a second, failed entry as moto does.
    * A new replica is ``InProgress`` (and not readable in its region) for
      :data:`REPLICA_SYNC_SECONDS` on the lab's clock, then ``InSync``.
    """
    from moto.secretsmanager.exceptions import InvalidParameterException
    from moto.secretsmanager.models import (
        ReplicaSecret,
        SecretsManagerBackend,
        secretsmanager_backends,
    )

    original = SecretsManagerBackend.replicate_secret_to_regions

    def set_status(replica: Any, status: str, message: str) -> None:
        replica.status, replica.message = status, message
        replica.config["Status"], replica.config["StatusMessage"] = status, message

    def in_sync(secret: Any, backend: Any, replica: Any) -> None:
        if replica in secret.replicas:  # not removed while it was in progress
            backend.secrets[replica.arn] = replica
            set_status(replica, "InSync", "Replication succeeded")
            _changed()  # readable in its region from now on

    def replicate_secret_to_regions(
        self: Any, secret_id: str, replica_regions: list[dict[str, str]], force_overwrite: bool
    ) -> Any:
        secret = self.describe_secret(secret_id)
        if not isinstance(secret, ReplicaSecret):
            held = {r.region for r in secret.replicas}
            again = [c["Region"] for c in replica_regions if c["Region"] in held]
            if again:
                raise InvalidParameterException(
                    f"Invalid replica region: the secret {secret.name} is already replicated "
                    f"to {', '.join(again)}."
                )
        before = list(getattr(secret, "replicas", []))
        result = original(self, secret_id, replica_regions, force_overwrite)
        for replica in [r for r in secret.replicas if r not in before and r.has_replica]:
            backend = secretsmanager_backends[self.account_id][replica.region]
            dict.pop(backend.secrets, replica.arn, None)
            set_status(replica, "InProgress", "Replication in progress")
            timer = threading.Timer(
                clock.aws_to_lab(REPLICA_SYNC_SECONDS), in_sync, args=(secret, backend, replica)
            )
            timer.daemon = True
            timer.start()
        return result

    SecretsManagerBackend.replicate_secret_to_regions = replicate_secret_to_regions
