"""Route 53 health-check configuration refused as AWS refuses it.

moto stores any health-check configuration; Route 53 does not. The lab checks what a
drill can get wrong and a real account would refuse, on ``CreateHealthCheck`` and
``UpdateHealthCheck`` alike, before anything is stored (a refused call changes nothing):

* ``RequestInterval`` is 10 or 30 seconds (it cannot be changed after creation);
* ``FailureThreshold`` is 1 to 10;
* an endpoint check (HTTP, HTTPS, TCP and the string-match types) names its endpoint
  by ``IPAddress`` or ``FullyQualifiedDomainName``; a string-match type has a
  ``SearchString`` of at most 255 characters;
* ``Port`` is 1 to 65535; ``Regions``, when given, lists at least 3 of Route 53's checker
  regions (the API model: ``HealthCheckRegionList`` min 3);
* a ``CLOUDWATCH_METRIC`` check names its alarm (``AlarmIdentifier``: Region and Name)
  and ``InsufficientDataHealthStatus`` (Healthy, Unhealthy or LastKnownStatus);
* ``UpdateHealthCheck`` with a ``HealthCheckVersion`` older than the check's is refused
  with ``HealthCheckVersionMismatch`` (HTTP 409); each accepted update adds one.

moto drops ``AlarmIdentifier`` and ``InsufficientDataHealthStatus`` and never moves
``HealthCheckVersion``: the lab keeps them (:func:`install`), renders them in
``HealthCheckConfig`` and ``CloudWatchAlarmConfiguration``, and the health checker
evaluates the alarm (:mod:`gameday.lab.network.alarmcheck`).

The error is AWS's: code ``InvalidInput``, HTTP 400. A value outside the API model's
range gets AWS's generic validation sentence ("1 validation error detected: Value ... at
'...' failed to satisfy constraint: ..."), which boto3 normally raises itself before
sending (``ParamValidationError``) unless parameter validation is turned off; a value
inside the model's range that Route 53 still refuses (an interval of 15) gets AWS's
"Invalid parameter : ..." form. AWS does not publish those sentences word for word: the
code and form are AWS's, the wording after the prefix is the lab's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENDPOINT_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
REQUEST_INTERVALS = (10, 30)
FAILURE_THRESHOLD_RANGE = (1, 10)
SEARCH_STRING_MAX = 255
PORT_RANGE = (1, 65535)
#: Route 53's checker regions (the API model's HealthCheckRegion enum).
CHECKER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
MIN_REGIONS = 3
INSUFFICIENT_DATA_STATUSES = ("Healthy", "Unhealthy", "LastKnownStatus")
#: Where the lab keeps what moto drops, on moto's HealthCheck object.
ALARM_ATTR = "_lab_alarm_identifier"
INSUFFICIENT_ATTR = "_lab_insufficient_data_health_status"


class HealthCheckConfigError(ValueError):
    """A configuration Route 53 refuses; ``str()`` is AWS's message."""


def validate(args: dict[str, Any], *, creating: bool, current: Any | None = None) -> None:
    """Raise :class:`HealthCheckConfigError` if Route 53 would refuse ``args``.

    ``args`` is moto's parsed request (``request_interval``, ``failure_threshold``, ...);
    on update, ``current`` is the stored health check whose values the request keeps.
    """
    where = "healthCheckConfig." if creating else ""
    interval = _int(args.get("request_interval"))
    if creating and interval is not None:
        _model_range(f"{where}requestInterval", interval, 10, 30)
        if interval not in REQUEST_INTERVALS:
            raise HealthCheckConfigError(
                f"Invalid parameter : RequestInterval must be 10 or 30 seconds, not {interval}."
            )
    threshold = _int(args.get("failure_threshold"))
    if threshold is not None:
        _model_range(f"{where}failureThreshold", threshold, *FAILURE_THRESHOLD_RANGE)
    port = _int(args.get("port"))
    if port is not None:
        _model_range(f"{where}port", port, *PORT_RANGE)
    _check_regions(args.get("regions"), where)

    def value(key: str, attribute: str) -> Any:
        given = args.get(key)
        if given is None and current is not None:
            return getattr(current, attribute, None)
        return given

    kind = str(value("type", "type_") or "")
    if kind in ENDPOINT_TYPES and not (value("ip_address", "ip_address") or value("fqdn", "fqdn")):
        raise HealthCheckConfigError(
            f"Invalid parameter : A {kind} health check needs an IPAddress or a "
            "FullyQualifiedDomainName."
        )
    if kind == "CLOUDWATCH_METRIC":
        _check_alarm(
            value("alarm_identifier", ALARM_ATTR), value("insufficient", INSUFFICIENT_ATTR)
        )
    if kind.endswith("_STR_MATCH"):
        search = value("search_string", "search_string")
        if not search:
            raise HealthCheckConfigError(
                f"Invalid parameter : A {kind} health check needs a SearchString."
            )
        if len(str(search)) > SEARCH_STRING_MAX:
            raise HealthCheckConfigError(
                f"1 validation error detected: Value at '{where}searchString' failed to "
                f"satisfy constraint: Member must have length less than or equal to "
                f"{SEARCH_STRING_MAX}"
            )


def _check_regions(regions: Any, where: str) -> None:
    if not regions:
        return  # not given: every checker region
    regions = list(regions)
    if len(regions) < MIN_REGIONS:
        raise HealthCheckConfigError(
            f"1 validation error detected: Value '[{', '.join(map(str, regions))}]' at "
            f"'{where}regions' failed to satisfy constraint: Member must have length greater "
            f"than or equal to {MIN_REGIONS}"
        )
    unknown = [r for r in regions if r not in CHECKER_REGIONS]
    if unknown:
        raise HealthCheckConfigError(
            f"1 validation error detected: Value '{unknown[0]}' at '{where}regions' failed to "
            f"satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(CHECKER_REGIONS)}]"
        )


def _check_alarm(alarm: Any, insufficient: Any) -> None:
    if not isinstance(alarm, dict) or not alarm.get("Region") or not alarm.get("Name"):
        raise HealthCheckConfigError(
            "Invalid parameter : A CLOUDWATCH_METRIC health check needs an AlarmIdentifier "
            "with the Region and Name of a CloudWatch alarm."
        )
    if insufficient not in INSUFFICIENT_DATA_STATUSES:
        raise HealthCheckConfigError(
            "Invalid parameter : A CLOUDWATCH_METRIC health check needs "
            f"InsufficientDataHealthStatus ({', '.join(INSUFFICIENT_DATA_STATUSES)})."
        )


def _model_range(field: str, value: int, low: int, high: int) -> None:
    if value < low:
        bound = f"greater than or equal to {low}"
    elif value > high:
        bound = f"less than or equal to {high}"
    else:
        return
    raise HealthCheckConfigError(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: Member must have value {bound}"
    )


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise HealthCheckConfigError(f"Invalid parameter : {value!r} is not a number.") from exc


def install() -> None:
    """Validate CreateHealthCheck and UpdateHealthCheck as Route 53 does; keep what moto drops."""
    from moto.route53.exceptions import InvalidInput, Route53ClientError
    from moto.route53.models import HealthCheck, Route53Backend
    from moto.route53.responses import Route53

    create = Route53Backend.create_health_check
    update = Route53Backend.update_health_check
    create_response = Route53.create_health_check
    update_response = Route53.update_health_check

    class HealthCheckVersionMismatch(Route53ClientError):
        def __init__(self, message: str) -> None:
            super().__init__("HealthCheckVersionMismatch", message)

    def create_health_check(self: Any, caller_reference: str, health_check_args: Any) -> Any:
        health_check_args = {**health_check_args, **_request_extras()}
        try:
            validate(health_check_args, creating=True)
        except HealthCheckConfigError as exc:
            raise InvalidInput(str(exc)) from exc
        check = create(self, caller_reference, health_check_args)
        _keep_alarm(check, health_check_args)
        return check

    def update_health_check(self: Any, health_check_id: str, health_check_args: Any) -> Any:
        current = self.get_health_check(health_check_id)  # NoSuchHealthCheck first
        health_check_args = {**health_check_args, **_request_extras()}
        try:
            validate(health_check_args, creating=False, current=current)
        except HealthCheckConfigError as exc:
            raise InvalidInput(str(exc)) from exc
        version = health_check_args.get("health_check_version")
        if version not in (None, "") and int(version) != int(current.health_check_version):
            raise HealthCheckVersionMismatch(
                f"The value of HealthCheckVersion in the request ({version}) doesn't match the "
                f"value of HealthCheckVersion in the health check "
                f"({current.health_check_version}): get the health check again and retry."
            )
        check = update(self, health_check_id, health_check_args)
        _keep_alarm(check, health_check_args)
        check.health_check_version = int(check.health_check_version) + 1
        return check

    def create_health_check_response(self: Any) -> Any:
        config = self._get_param("HealthCheckConfig") or {}
        with _request(config):
            return create_response(self)

    def update_health_check_response(self: Any) -> Any:
        extra = {
            "AlarmIdentifier": self._get_param("AlarmIdentifier"),
            "InsufficientDataHealthStatus": self._get_param("InsufficientDataHealthStatus"),
            "HealthCheckVersion": self._get_param("HealthCheckVersion"),
        }
        with _request(extra):
            return update_response(self)

    config_property = HealthCheck.health_check_config

    def health_check_config(self: Any) -> dict[str, Any]:
        config = dict(config_property.fget(self))
        if getattr(self, ALARM_ATTR, None):
            config["AlarmIdentifier"] = getattr(self, ALARM_ATTR)
        if getattr(self, INSUFFICIENT_ATTR, None):
            config["InsufficientDataHealthStatus"] = getattr(self, INSUFFICIENT_ATTR)
        return config

    Route53Backend.create_health_check = create_health_check
    Route53Backend.update_health_check = update_health_check
    Route53.create_health_check = create_health_check_response
    Route53.update_health_check = update_health_check_response
    HealthCheck.health_check_config = property(health_check_config)


#: The request fields moto's response parser drops, handed to its backend per thread.
_REQUEST = threading.local()


@contextmanager
def _request(params: dict[str, Any]) -> Iterator[None]:
    """Make the fields moto drops from this request visible to the backend call."""
    _REQUEST.extras = {
        "alarm_identifier": params.get("AlarmIdentifier"),
        "insufficient": params.get("InsufficientDataHealthStatus"),
        "health_check_version": params.get("HealthCheckVersion"),
    }
    try:
        yield
    finally:
        _REQUEST.extras = {}


def _request_extras() -> dict[str, Any]:
    return {k: v for k, v in (getattr(_REQUEST, "extras", None) or {}).items() if v is not None}


def _keep_alarm(check: Any, args: dict[str, Any]) -> None:
    """Store AlarmIdentifier / InsufficientDataHealthStatus from the request on the check."""
    if args.get("alarm_identifier"):
        setattr(check, ALARM_ATTR, dict(args["alarm_identifier"]))
    if args.get("insufficient"):
        setattr(check, INSUFFICIENT_ATTR, args["insufficient"])
