"""Secrets Manager probes: is a secret readable in a region."""

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.activity import as_failure, check_region, connect, error_code, require

__all__ = ["secret_available"]

_ABSENT = frozenset({"ResourceNotFoundException", "InvalidRequestException"})


@registry.probe(iam=("secretsmanager:GetSecretValue",))
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
    require(secret_id, "secret_id", "the secret name or ARN")
    region = check_region(region)
    sm = connect("secretsmanager", region, configuration, secrets)
    try:
        sm.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        if error_code(exc) in _ABSENT:
            return False
        raise as_failure(exc, f"Could not read secret {secret_id!r} in {region}") from exc
    except BotoCoreError as exc:
        raise as_failure(exc, f"Could not read secret {secret_id!r} in {region}") from exc
    return True
