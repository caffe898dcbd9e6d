"""The helpers every gameday activity uses, actions and probes alike (not activities themselves).

Public so that probes, the control and a team's own activities build on it without
reaching into the actions package; nothing here changes state unless an action asks
(:func:`inject`).

- :func:`connect`: a client from :func:`gameday.aws.client`, with bad settings (unknown
  region, refused endpoint) turned into :class:`ActivityFailed`;
- :func:`call`: one AWS call, a ``ClientError`` turned into :class:`ActivityFailed` with one
  actionable sentence, raised ``from`` the original error;
- :func:`guard`: the account allowlist check, before any state-changing call;
- :func:`inject`: the write-ahead protocol around the one call that injects a fault;
- :func:`target_speed` / :func:`wall_seconds`: the one clock. The ``timeout`` and
  ``poll_interval`` of an activity that waits on AWS (a failover, a restore) are AWS
  seconds; on the lab (which runs AWS's durations ``speed`` times faster) they are waited
  at 1/speed. A per-request network timeout is this machine's and is not converted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from chaoslib.exceptions import ActivityFailed

from gameday import aws, registry
from gameday.faults import APPLIED, FAILED, AccountNotAllowed, Ledger, Undo, ensure_account_allowed

__all__ = [
    "as_failure",
    "call",
    "caused_by",
    "check_region",
    "connect",
    "error_code",
    "fail",
    "guard",
    "inject",
    "ledger",
    "outcome_unknown",
    "require",
]

logger = logging.getLogger("gameday.activities")

#: Default hints per AWS error code, appended to the failure sentence.
_HINTS = {
    "AccessDenied": "grant the calling identity this permission or use a role that has it",
    "AccessDeniedException": "grant the calling identity this permission or use a role that has it",
    "UnauthorizedOperation": "grant the calling identity this permission or use a role that has it",
    "ExpiredToken": "refresh your AWS credentials",
    "ExpiredTokenException": "refresh your AWS credentials",
    "InvalidClientTokenId": "check the AWS credentials (profile, environment or secrets)",
    "UnrecognizedClientException": "check the AWS credentials (profile, environment or secrets)",
    "Throttling": "retry later or lower the drill's request rate",
    "ThrottlingException": "retry later or lower the drill's request rate",
}


def fail(message: str) -> ActivityFailed:
    """An :class:`ActivityFailed` carrying ``message`` (one actionable sentence)."""
    return ActivityFailed(message)


def error_code(error: ClientError) -> str:
    """The AWS error code of ``error`` (``""`` when the answer carried none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def _sentence(failure: str, detail: str, hint: str) -> str:
    detail = detail.rstrip(". ")
    text = f"{failure} ({detail})" if detail else failure
    return f"{text}: {hint}." if hint else f"{text}."


def as_failure(
    error: Exception, failure: str, hints: Mapping[str, str] | None = None
) -> ActivityFailed:
    """Turn a boto error into an :class:`ActivityFailed` with ``failure`` and a hint."""
    if isinstance(error, ClientError):
        code = error_code(error)
        message = str(error.response.get("Error", {}).get("Message", "")) or str(error)
        hint = (hints or {}).get(code) or _HINTS.get(code) or "check the arguments and try again"
        return fail(_sentence(failure, f"{code}: {message}" if code else message, hint))
    if isinstance(error, ParamValidationError):
        return fail(_sentence(failure, str(error).replace("\n", " "), "fix the arguments"))
    return fail(
        _sentence(
            failure,
            str(error),
            "check the network path to the AWS endpoint (or that the lab is up)",
        )
    )


def caused_by(exc: BaseException, *codes: str) -> bool:
    """True when ``exc`` was raised from a ``ClientError`` with one of ``codes``."""
    cause = exc.__cause__
    return isinstance(cause, ClientError) and error_code(cause) in codes


def require(value: Any, name: str, hint: str = "") -> Any:
    """Return ``value``, or raise :class:`ActivityFailed` when it is missing or empty."""
    if value is None or (isinstance(value, str | list | dict | tuple) and not value):
        extra = f" ({hint})" if hint else ""
        raise fail(f"Missing value for `{name}`{extra}: pass it in the activity's arguments.")
    return value


def check_region(region: str | None, name: str = "region") -> str:
    """Validate a region argument against botocore's known regions."""
    if not region:
        raise fail(f"Missing value for `{name}`: pass an AWS region name such as 'us-east-1'.")
    try:
        return aws.validate_region(region)
    except aws.AwsSetupError as exc:
        raise fail(str(exc).replace("AWS region name", f"AWS region name (`{name}`)")) from exc


def connect(
    service: str,
    region: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None,
    *,
    endpoint_url: str | None = None,
) -> BaseClient:
    """A client for ``service`` in ``region`` from the one factory, errors made actionable."""
    try:
        made = aws.client(
            service,
            region,
            configuration=configuration,
            secrets=secrets,
            endpoint_url=endpoint_url,
        )
    except aws.AwsSetupError as exc:
        raise fail(str(exc)) from exc
    except BotoCoreError as exc:
        raise as_failure(exc, f"Could not create an AWS {service} client") from exc
    return made


def call(
    client: BaseClient,
    operation: str,
    failure: str,
    hints: Mapping[str, str] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """``client.<operation>(**params)``; any boto error becomes :class:`ActivityFailed`."""
    try:
        answer: dict[str, Any] = getattr(client, operation)(**params)
        return answer
    except (ClientError, BotoCoreError) as exc:
        raise as_failure(exc, failure, hints) from exc


def guard(
    region: str | None, configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None
) -> str:
    """Refuse to go on unless the caller's account is allowlisted; return the account id."""
    try:
        return ensure_account_allowed(region, configuration, secrets)
    except AccountNotAllowed as exc:
        raise fail(str(exc)) from exc
    except aws.AwsSetupError as exc:
        raise fail(str(exc)) from exc
    except (ClientError, BotoCoreError) as exc:
        raise as_failure(exc, "Could not identify the AWS account (sts:GetCallerIdentity)") from exc


def target_speed(configuration: Mapping[str, Any] | None) -> float:
    """AWS seconds per second of this machine's clock on the var file's target: the lab's
    ``speed`` (read through :mod:`gameday.lab.api`), 1 against AWS or when unreadable."""
    c = configuration or {}
    if c.get("gameday_target") != "lab" or not c.get("gameday_lab_dir"):
        return 1.0
    from gameday.lab import api

    speed = api.speed(str(c["gameday_lab_dir"]))
    return speed if speed is not None and math.isfinite(speed) and speed > 0 else 1.0


def wall_seconds(aws_seconds: float, configuration: Mapping[str, Any] | None) -> float:
    """How long this machine waits for ``aws_seconds`` (a declared timeout or poll
    interval) on the var file's target: ``aws_seconds / speed`` on the lab, as is on AWS."""
    return aws_seconds / target_speed(configuration)


def ledger(configuration: Mapping[str, Any] | None) -> Ledger:
    """The fault ledger the experiment's configuration names (or the default one)."""
    return Ledger.from_configuration(configuration)


def outcome_unknown(error: BaseException | None) -> bool:
    """True when a failed call may nevertheless have taken effect in AWS.

    That is a transport error (the request may have arrived, only the answer was lost), a
    server error (5xx), or an error answered to a *retried* attempt: botocore retries after
    a timeout or a 5xx, and the retry's refusal (``NetworkAclEntryAlreadyExists``,
    ``HealthCheckVersionMismatch``, ``InvalidGlobalClusterStateFault`` ...) may only mean
    that the first attempt already did it. An :class:`ActivityFailed` is judged by its cause.
    """
    if isinstance(error, ActivityFailed):
        error = error.__cause__
    if isinstance(error, ParamValidationError):
        return False  # refused before anything was sent
    if isinstance(error, BotoCoreError):
        return True
    if isinstance(error, ClientError):
        meta = error.response.get("ResponseMetadata") or {}
        return (
            int(meta.get("HTTPStatusCode") or 0) >= 500 or int(meta.get("RetryAttempts") or 0) > 0
        )
    return False


def inject(
    *,
    activity: str,
    target: str,
    arguments: Mapping[str, Any],
    undo: Undo,
    configuration: Mapping[str, Any] | None,
    apply: Callable[[str], Any],
    failure: str,
    hints: Mapping[str, str] | None = None,
    applied_undo: Callable[[Any], Undo | None] | None = None,
    summary: Callable[[Any], Any] | None = None,
) -> tuple[str, Any]:
    """Write ahead, inject, record the outcome; return ``(entry id, apply's result)``.

    ``apply`` receives the entry id (to tag what it creates). An AWS refusal marks the
    entry ``failed`` (nothing injected); an error whose outcome is unknown (connection
    lost mid-call, a 5xx, a refusal of a retried attempt: see :func:`outcome_unknown`)
    leaves it ``pending`` so a rollback or ``gameday recover`` undoes it to be safe.
    ``activity`` must be a fault declared with :func:`gameday.registry.fault` (so
    ``gameday recover`` knows its rollback): anything else is refused before the ledger.
    """
    if registry.fault_named(activity, load_all=False) is None:
        raise fail(
            f"{failure}: {activity!r} is not declared with @gameday.registry.fault, so "
            "`gameday recover` could not undo it; nothing was injected."
        )
    book = ledger(configuration)
    try:
        entry_id = book.begin(
            activity=activity,
            target=target,
            arguments=arguments,
            undo=undo,
            configuration=configuration,
        )
    except OSError as exc:
        raise fail(
            f"{failure}: could not write the fault ledger {book.path} ({exc}); nothing was "
            "injected: fix `gameday_fault_ledger` / GAMEDAY_FAULT_LEDGER or its permissions."
        ) from exc
    try:
        result = apply(entry_id)
    except (ClientError, BotoCoreError, ActivityFailed) as exc:
        if outcome_unknown(exc):
            # the fault may be in place: keep the entry open so a rollback or
            # `gameday recover` undoes it (every undo is idempotent)
            logger.warning(
                "outcome of %s unknown, ledger entry %s left pending", activity, entry_id
            )
        else:
            book.mark(entry_id, FAILED, error=str(exc))
        if isinstance(exc, ActivityFailed):
            raise
        raise as_failure(exc, failure, hints) from exc
    extra: dict[str, Any] = {}
    if summary is not None:
        extra["result"] = summary(result)
    if applied_undo is not None:
        new_undo = applied_undo(result)
        if new_undo is not None:
            extra["undo"] = new_undo
    book.mark(entry_id, APPLIED, **extra)
    return entry_id, result
