"""The account allowlist: gameday injects faults only into accounts named as safe.

Every state-changing activity calls :func:`ensure_account_allowed` before it touches AWS.
It asks STS who the caller is (once per process per identity: the answer is cached) and
refuses unless that account is allowlisted by the experiment configuration
(``gameday_allowed_accounts``), the environment (``GAMEDAY_ALLOWED_ACCOUNTS``) or, in lab
mode, is the lab's own account. It lives next to :mod:`gameday.aws` because it is a
property of the identity a client is made for, not of any one fault.

:func:`verified_account` hands back the account the guard last let through for an
identity, so the fault ledger can record which account a fault was injected into (and
``gameday recover`` can be held to that same account in a fresh shell).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from gameday import aws
from gameday.aws import LAB_ACCOUNT_ID

__all__ = [
    "LAB_ACCOUNT_ID",
    "AccountNotAllowed",
    "RegionNotAllowed",
    "allowed_accounts",
    "allowed_regions",
    "caller_account",
    "ensure_account_allowed",
    "ensure_regions_allowed",
    "forget_identities",
    "production_like",
    "verified_account",
]


class AccountNotAllowed(PermissionError):
    """The AWS account the credentials belong to is not allowlisted."""


_identities: dict[tuple[Any, ...], str] = {}
_verified: dict[tuple[Any, ...], str] = {}
_identities_lock = threading.Lock()


def allowed_accounts(configuration: Mapping[str, Any] | None = None) -> set[str]:
    """Allowlisted account ids: configuration, environment, and the lab's in lab mode."""
    allowed: set[str] = set()
    configured = (configuration or {}).get("gameday_allowed_accounts")
    if isinstance(configured, str):
        configured = configured.split(",")
    for value in configured or ():
        if str(value).strip():
            allowed.add(str(value).strip())
    for value in os.environ.get("GAMEDAY_ALLOWED_ACCOUNTS", "").split(","):
        if value.strip():
            allowed.add(value.strip())
    if aws.is_lab_mode():
        allowed.add(LAB_ACCOUNT_ID)
    return allowed


def _where(configuration: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The identity-selecting settings other than credentials (profile, role, endpoint)."""
    cfg = configuration or {}
    return (
        cfg.get("aws_profile_name"),
        cfg.get("aws_assume_role_arn"),
        cfg.get("aws_endpoint_url"),
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_ENDPOINT_URL_STS"),
        os.environ.get("AWS_PROFILE"),
    )


def _identity_key(
    configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None
) -> tuple[Any, ...]:
    return (
        *_where(configuration),
        (secrets or {}).get("aws_access_key_id"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
    )


def caller_account(
    region: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> str:
    """The account id of the identity in use (``sts.get_caller_identity``, cached)."""
    key = _identity_key(configuration, secrets)
    with _identities_lock:
        if key in _identities:
            return _identities[key]
    sts = aws.client("sts", region, configuration=configuration, secrets=secrets)
    account = str(sts.get_caller_identity()["Account"])
    with _identities_lock:
        _identities[key] = account
    return account


def ensure_account_allowed(
    region: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> str:
    """Return the account id if allowlisted, else raise :class:`AccountNotAllowed`."""
    allowed = allowed_accounts(configuration)
    if not allowed:
        raise AccountNotAllowed(
            "No AWS account is allowlisted for fault injection: set `gameday_allowed_accounts` "
            "in the experiment configuration or GAMEDAY_ALLOWED_ACCOUNTS to your non-prod "
            "account id."
        )
    account = caller_account(region, configuration, secrets)
    if account not in allowed:
        raise AccountNotAllowed(
            f"AWS account {account} is not allowlisted for fault injection (allowed: "
            f"{', '.join(sorted(allowed))}): use credentials for a non-prod account or add it "
            "to `gameday_allowed_accounts` / GAMEDAY_ALLOWED_ACCOUNTS."
        )
    with _identities_lock:
        _verified[_where(configuration)] = account
    return account


def verified_account(configuration: Mapping[str, Any] | None = None) -> str | None:
    """The account :func:`ensure_account_allowed` last let through for these settings."""
    with _identities_lock:
        return _verified.get(_where(configuration))


def forget_identities() -> None:
    """Forget cached caller identities (tests)."""
    with _identities_lock:
        _identities.clear()
        _verified.clear()


# -- regions ---------------------------------------------------------------------------


class RegionNotAllowed(PermissionError):
    """A region the drill would touch is not allowlisted."""


def allowed_regions(configuration: Mapping[str, Any] | None = None) -> set[str]:
    """Allowlisted regions: ``gameday_allowed_regions`` (list or comma-separated) and
    ``GAMEDAY_ALLOWED_REGIONS``; on the lab, its own two regions."""
    cfg = configuration or {}
    allowed: set[str] = set()
    configured = cfg.get("gameday_allowed_regions")
    if isinstance(configured, str):
        configured = configured.split(",")
    for value in configured or ():
        if str(value).strip():
            allowed.add(str(value).strip())
    for value in os.environ.get("GAMEDAY_ALLOWED_REGIONS", "").split(","):
        if value.strip():
            allowed.add(value.strip())
    if cfg.get("gameday_target") == "lab":
        allowed |= {str(cfg[k]) for k in ("primary_region", "secondary_region") if cfg.get(k)}
    return allowed


def ensure_regions_allowed(configuration: Mapping[str, Any], regions: set[str]) -> None:
    """Raise :class:`RegionNotAllowed` unless every region of ``regions`` is allowlisted."""
    allowed = allowed_regions(configuration)
    if not allowed:
        raise RegionNotAllowed(
            "No AWS region is allowlisted for fault injection: set `gameday_allowed_regions` "
            "in the var file (or GAMEDAY_ALLOWED_REGIONS) to the regions this drill may impair."
        )
    outside = sorted(r for r in regions if r and r not in allowed)
    if outside:
        raise RegionNotAllowed(
            f"region(s) {', '.join(outside)} not allowlisted for fault injection (allowed: "
            f"{', '.join(sorted(allowed))}): add them to `gameday_allowed_regions` / "
            "GAMEDAY_ALLOWED_REGIONS if this drill may impair them."
        )


# -- production-looking targets ----------------------------------------------------------

#: "prod", "production", "prd" as a word of a name or tag ("non-prod" and "preprod" are not).
_PRODUCTION = re.compile(r"(?<![a-z0-9])(?<!non-)(?<!non_)(?<!pre-)(prod|production|prd)(?![a-z])")


def production_like(values: Mapping[str, Any]) -> list[str]:
    """``"where=value"`` for each value (a name or tag) that looks like production."""
    return [
        f"{where}={value}"
        for where, value in values.items()
        if isinstance(value, str) and _PRODUCTION.search(value.lower())
    ]
