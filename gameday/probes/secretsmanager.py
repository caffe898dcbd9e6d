"""Secrets Manager probes: is a secret readable in a region."""

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.types import Configuration, Secrets

from gameday import activity as s

__all__ = ["secret_available"]

_ABSENT = frozenset({"ResourceNotFoundException", "InvalidRequestException"})


def secret_available(
    secret_id: str,
    region: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when ``secret_id`` (its name, or a replica's) can be read in ``region``.

    Calls ``get_secret_value`` there; a missing or deleted secret gives ``False``, any
    other error (permissions, network) fails the probe with an actionable message.
    """
    s.require(secret_id, "secret_id", "the secret name or ARN")
    region = s.check_region(region)
    sm = s.connect("secretsmanager", region, configuration, secrets)
    try:
        sm.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        if s.error_code(exc) in _ABSENT:
            return False
        raise s.as_failure(exc, f"Could not read secret {secret_id!r} in {region}") from exc
    except BotoCoreError as exc:
        raise s.as_failure(exc, f"Could not read secret {secret_id!r} in {region}") from exc
    return True
