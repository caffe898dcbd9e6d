"""The one boto3 client factory of gameday.

Every AWS call gameday makes (actions, probes, the lab's own bootstrap) goes through
:func:`client`, so that region, endpoint, profile, assumed role and retry policy are
decided in one place and the same code talks to real AWS or to the lab: only the
endpoint differs.

Precedence, highest first:

1. per-call arguments (``region``, ``endpoint_url``, ``profile_name``, ``role_arn``);
2. the Chaos Toolkit experiment configuration (``aws_region``, ``aws_endpoint_url``,
   ``aws_profile_name``, ``aws_assume_role_arn``);
3. the environment, read by boto3 itself (``AWS_ENDPOINT_URL``,
   ``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_DEFAULT_REGION``, ``AWS_PROFILE`` ...).

Credentials come from ``secrets`` (``aws_access_key_id``, ``aws_secret_access_key``,
``aws_session_token``) when given, otherwise from boto3's normal chain. boto3's global
default session is never touched: each distinct identity gets its own
:class:`boto3.session.Session`, cached for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

__all__ = ["RETRY_CONFIG", "client", "resolve_region", "session"]

#: One retry policy for every client: standard mode retries throttling and transient
#: 500/502/503/504 a few times; anything else (an unimplemented operation answers
#: 501 or a client error) fails at once so a drill never hangs on a call that cannot work.
RETRY_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
)

_sessions: dict[tuple[Any, ...], boto3.session.Session] = {}
_sessions_lock = threading.Lock()


def _setting(
    explicit: Any, configuration: Mapping[str, Any] | None, key: str
) -> Any:
    """Return the per-call value if given, else the configuration's, else None."""
    if explicit not in (None, ""):
        return explicit
    if configuration:
        value = configuration.get(key)
        if value not in (None, ""):
            return value
    return None


def resolve_region(
    region: str | None = None, configuration: Mapping[str, Any] | None = None
) -> str | None:
    """The region a call will use: per-call, then configuration, then boto3's default."""
    chosen = _setting(region, configuration, "aws_region")
    if chosen:
        return str(chosen)
    return boto3.session.Session().region_name


def session(
    *,
    profile_name: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    role_arn: str | None = None,
) -> boto3.session.Session:
    """A boto3 session for the identity described by the arguments (cached).

    With a role to assume, the session carries the temporary credentials of
    ``sts.assume_role`` obtained with the base identity.
    """
    profile = _setting(profile_name, configuration, "aws_profile_name")
    role = _setting(role_arn, configuration, "aws_assume_role_arn")
    creds = secrets or {}
    key = (
        profile,
        role,
        creds.get("aws_access_key_id"),
        creds.get("aws_secret_access_key"),
        creds.get("aws_session_token"),
        _setting(None, configuration, "aws_endpoint_url"),
    )
    with _sessions_lock:
        cached = _sessions.get(key)
        if cached is not None:
            return cached
        base = boto3.session.Session(
            profile_name=profile,
            aws_access_key_id=creds.get("aws_access_key_id"),
            aws_secret_access_key=creds.get("aws_secret_access_key"),
            aws_session_token=creds.get("aws_session_token"),
        )
        if role:
            sts = base.client(
                "sts",
                endpoint_url=_setting(None, configuration, "aws_endpoint_url"),
                config=RETRY_CONFIG,
            )
            issued = sts.assume_role(RoleArn=role, RoleSessionName="gameday")["Credentials"]
            base = boto3.session.Session(
                aws_access_key_id=issued["AccessKeyId"],
                aws_secret_access_key=issued["SecretAccessKey"],
                aws_session_token=issued["SessionToken"],
            )
        _sessions[key] = base
        return base


def client(
    service: str,
    region: str | None = None,
    *,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    endpoint_url: str | None = None,
    profile_name: str | None = None,
    role_arn: str | None = None,
) -> BaseClient:
    """A boto3 client for ``service`` in ``region`` (see the module doc for precedence)."""
    sess = session(
        profile_name=profile_name,
        configuration=configuration,
        secrets=secrets,
        role_arn=role_arn,
    )
    return sess.client(
        service,
        region_name=resolve_region(region, configuration) or sess.region_name,
        endpoint_url=_setting(endpoint_url, configuration, "aws_endpoint_url"),
        config=RETRY_CONFIG,
    )
