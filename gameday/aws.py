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
``aws_session_token``) when given, otherwise from boto3's normal chain. With a role to
assume, the session carries refreshable credentials from ``sts.assume_role`` (renewed
before they expire, so a long drill keeps working). boto3's global default session is
never touched: each distinct identity gets its own :class:`boto3.session.Session`,
cached for the life of the process.

A loop that calls the same probes many times a second (the drill's sampler) wraps itself in
:func:`reused_clients`: within it, the thread gets the client it made before for the same
service, region, endpoint and identity instead of building a new one each time (3 ms of CPU
per client).

In lab mode (``GAMEDAY_LAB=1``) a client whose endpoint is not on loopback is refused,
so a lab drill can never reach a real AWS account by accident.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)

from gameday.netutil import is_loopback_host

__all__ = [
    "LAB_ACCOUNT_ID",
    "RETRY_CONFIG",
    "AwsSetupError",
    "clear_sessions",
    "client",
    "is_lab_mode",
    "known_regions",
    "resolve_region",
    "reused_clients",
    "session",
    "validate_region",
]

#: The account id the lab answers with (moto's default account; the lab has no other).
LAB_ACCOUNT_ID = "123456789012"

#: One retry policy for every client: standard mode, 3 attempts in all, for throttling and
#: transient 500/502/503/504 errors; anything else (a client error, an operation the endpoint
#: does not implement) fails at once so a drill never hangs on a call that cannot work.
RETRY_CONFIG = Config(
    retries={"total_max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
)

#: Error codes / markers meaning "this endpoint does not implement the operation".
_UNIMPLEMENTED_CODES = frozenset(
    {"NotImplemented", "NotImplementedException", "InvalidAction", "UnknownOperationException"}
)
_UNIMPLEMENTED_MARKERS = (b"has not been implemented", b"not yet implemented")

_sessions: dict[tuple[Any, ...], boto3.session.Session] = {}
_sessions_lock = threading.Lock()
#: This thread's clients while it is inside :func:`reused_clients` (unset: none kept).
_reuse = threading.local()


class AwsSetupError(ValueError):
    """The AWS settings cannot work (unknown region, no region, refused endpoint)."""


def is_lab_mode() -> bool:
    """True when ``GAMEDAY_LAB`` is set to a true value (the lab's ``lab env`` sets it)."""
    return os.environ.get("GAMEDAY_LAB", "").strip().lower() in {"1", "true", "yes", "on"}


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region name botocore knows, all partitions (``*-global`` pseudo-regions aside)."""
    loader = botocore.session.get_session().get_component("data_loader")
    partitions = loader.load_data("partitions")["partitions"]
    return frozenset(
        name
        for partition in partitions
        for name in partition.get("regions", {})
        if not name.endswith("-global")
    )


def validate_region(region: str | None, *, what: str = "region") -> str:
    """Return ``region`` if botocore knows it, else raise :class:`AwsSetupError`."""
    if not region or not isinstance(region, str):
        raise AwsSetupError(
            f"No AWS {what} given: pass it as an argument or set `aws_region` in the "
            "experiment configuration (or AWS_DEFAULT_REGION)."
        )
    if region not in known_regions():
        raise AwsSetupError(
            f"{region!r} is not an AWS region name: use one such as 'us-east-1' or "
            "'eu-west-1' (botocore's list of known regions)."
        )
    return region


def _setting(explicit: Any, configuration: Mapping[str, Any] | None, key: str) -> Any:
    """Return the per-call value if given, else the configuration's, else None."""
    if explicit not in (None, ""):
        return explicit
    if configuration:
        value = configuration.get(key)
        if value not in (None, ""):
            return value
    return None


def resolve_region(
    region: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    *,
    sess: boto3.session.Session | None = None,
) -> str | None:
    """The region a call will use: per-call, then configuration, then the session's
    (profile or ``AWS_DEFAULT_REGION``), then ``AWS_REGION``."""
    chosen = _setting(region, configuration, "aws_region")
    if chosen:
        return str(chosen)
    if sess is None:
        sess = boto3.session.Session(botocore_session=botocore.session.Session())
    return sess.region_name or os.environ.get("AWS_REGION") or None


class _StaticProvider(CredentialProvider):
    """Hands out one credentials object (the assumed role's, refreshed by botocore)."""

    METHOD = "gameday-assume-role"
    CANONICAL_NAME = "gameday-assume-role"

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Any:
        return self._credentials


def _assumed_session(
    base: boto3.session.Session,
    role_arn: str,
    *,
    endpoint_url: str | None,
    region: str | None,
    session_name: str,
) -> boto3.session.Session:
    """A session whose credentials come from ``sts.assume_role`` with the base identity,
    refreshed automatically before they expire."""

    def create_sts(service: str, **kwargs: Any) -> BaseClient:
        kwargs.setdefault("config", RETRY_CONFIG)
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        if region:
            kwargs.setdefault("region_name", region)
        made = base.client(service, **kwargs)
        # the role is assumed lazily, on the first call of a client the lab check passed:
        # its own STS endpoint (AWS_ENDPOINT_URL_STS ...) must be on loopback as well
        _refuse_outside_lab(made)
        return made

    source = base.get_credentials()
    if source is None:
        raise AwsSetupError(
            f"Cannot assume {role_arn}: no base AWS credentials were found (set a profile, "
            "environment credentials or secrets)."
        )
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=create_sts,
        source_credentials=source,
        role_arn=role_arn,
        extra_args={"RoleSessionName": session_name},
    )
    credentials = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )
    core = botocore.session.Session()
    core.register_component(
        "credential_provider", CredentialResolver([_StaticProvider(credentials)])
    )
    if base.region_name:
        core.set_config_variable("region", base.region_name)
    return boto3.session.Session(botocore_session=core)


def session(
    *,
    profile_name: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    role_arn: str | None = None,
) -> boto3.session.Session:
    """A boto3 session for the identity described by the arguments (cached per identity).

    Never the global default session: each identity gets its own, so two experiments (or
    the lab and the product) in one process do not leak settings into each other.
    """
    profile = _setting(profile_name, configuration, "aws_profile_name")
    role = _setting(role_arn, configuration, "aws_assume_role_arn")
    endpoint = _setting(None, configuration, "aws_endpoint_url")
    region = _setting(None, configuration, "aws_region")
    session_name = _setting(None, configuration, "aws_assume_role_session_name") or "gameday"
    creds = secrets or {}
    key = (
        profile,
        role,
        session_name,
        creds.get("aws_access_key_id"),
        creds.get("aws_secret_access_key"),
        creds.get("aws_session_token"),
        endpoint,
    )
    with _sessions_lock:
        cached = _sessions.get(key)
        if cached is not None:
            return cached
        base = boto3.session.Session(
            botocore_session=botocore.session.Session(),
            profile_name=profile,
            aws_access_key_id=creds.get("aws_access_key_id"),
            aws_secret_access_key=creds.get("aws_secret_access_key"),
            aws_session_token=creds.get("aws_session_token"),
        )
        if role:
            base = _assumed_session(
                base,
                role,
                endpoint_url=endpoint,
                region=region or base.region_name,
                session_name=session_name,
            )
        _sessions[key] = base
        return base


def clear_sessions() -> None:
    """Forget the cached sessions (tests; or after credentials changed on disk)."""
    with _sessions_lock:
        _sessions.clear()


def _is_loopback(url: str | None) -> bool:
    return is_loopback_host(urlsplit(url or "").hostname or "")


def _refuse_outside_lab(made: BaseClient) -> None:
    """In lab mode, raise :class:`AwsSetupError` for a client whose endpoint is off loopback."""
    if is_lab_mode() and not _is_loopback(made.meta.endpoint_url):
        raise AwsSetupError(
            f"Lab mode (GAMEDAY_LAB=1) refuses the {made.meta.service_model.service_name} "
            f"endpoint {made.meta.endpoint_url}: point AWS_ENDPOINT_URL at the lab "
            "(`eval $(gameday lab env)`) or unset GAMEDAY_LAB to target real AWS."
        )


def _fail_fast_on_unimplemented(response: Any = None, **_: Any) -> bool | None:
    """``needs-retry`` hook: never retry an operation the endpoint does not implement.

    Registered first, so its ``False`` wins over the standard retry handler's verdict.
    """
    if not response:
        return None
    http, parsed = response
    status = getattr(http, "status_code", 0)
    code = (parsed or {}).get("Error", {}).get("Code", "")
    if status == 501 or code in _UNIMPLEMENTED_CODES:
        return False
    if status == 500:
        body = getattr(http, "content", b"") or b""
        if any(marker in body for marker in _UNIMPLEMENTED_MARKERS):
            return False
    return None


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
    """A boto3 client for ``service`` in ``region`` (see the module doc for precedence).

    Raises :class:`AwsSetupError` when the region is unknown or, in lab mode, when the
    endpoint the client would use is not on loopback.
    """
    sess = session(
        profile_name=profile_name,
        configuration=configuration,
        secrets=secrets,
        role_arn=role_arn,
    )
    chosen_region = resolve_region(region, configuration, sess=sess)
    if chosen_region is not None:
        validate_region(chosen_region)
    endpoint = _setting(endpoint_url, configuration, "aws_endpoint_url")
    kept: dict[tuple[Any, ...], BaseClient] | None = getattr(_reuse, "clients", None)
    key = (sess, service, chosen_region, endpoint)
    if kept is not None and key in kept:
        return kept[key]
    made = sess.client(
        service, region_name=chosen_region, endpoint_url=endpoint, config=RETRY_CONFIG
    )
    _refuse_outside_lab(made)
    service_id = made.meta.service_model.service_id.hyphenize()
    made.meta.events.register_first(f"needs-retry.{service_id}", _fail_fast_on_unimplemented)
    if kept is not None:
        kept[key] = made
    return made


@contextmanager
def reused_clients() -> Iterator[None]:
    """Within the block, :func:`client` returns this thread's earlier client for the same
    service, region, endpoint and identity (sessions are cached per identity, so the
    session stands for it). For hot loops only: a client lives as long as the block."""
    outer = getattr(_reuse, "clients", None)
    _reuse.clients = {} if outer is None else outer
    try:
        yield
    finally:
        _reuse.clients = outer
