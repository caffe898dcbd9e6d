"""Route 53 health-check configuration refused as AWS refuses it.

moto stores any health-check configuration; Route 53 does not. The lab checks what a
drill can get wrong and a real account would refuse, on ``CreateHealthCheck`` and
``UpdateHealthCheck`` alike, before anything is stored (a refused call changes nothing):

* ``RequestInterval`` is 10 or 30 seconds (it cannot be changed after creation);
* ``FailureThreshold`` is 1 to 10;
* an endpoint check (HTTP, HTTPS, TCP and the string-match types) names its endpoint
  by ``IPAddress`` or ``FullyQualifiedDomainName``; a string-match type has a
  ``SearchString`` of at most 255 characters.

The error is AWS's: code ``InvalidInput``, HTTP 400. A value outside the API model's
range gets AWS's generic validation sentence ("1 validation error detected: Value ... at
'...' failed to satisfy constraint: ..."), which boto3 normally raises itself before
sending (``ParamValidationError``) unless parameter validation is turned off; a value
inside the model's range that Route 53 still refuses (an interval of 15) gets AWS's
"Invalid parameter : ..." form. AWS does not publish those sentences word for word: the
code and form are AWS's, the wording after the prefix is the lab's.
"""

from __future__ import annotations

from typing import Any

ENDPOINT_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
REQUEST_INTERVALS = (10, 30)
FAILURE_THRESHOLD_RANGE = (1, 10)
SEARCH_STRING_MAX = 255


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
    """Validate moto's CreateHealthCheck and UpdateHealthCheck as Route 53 does."""
    from moto.route53.exceptions import InvalidInput
    from moto.route53.models import Route53Backend

    create = Route53Backend.create_health_check
    update = Route53Backend.update_health_check

    def create_health_check(self: Any, caller_reference: str, health_check_args: Any) -> Any:
        try:
            validate(health_check_args, creating=True)
        except HealthCheckConfigError as exc:
            raise InvalidInput(str(exc)) from exc
        return create(self, caller_reference, health_check_args)

    def update_health_check(self: Any, health_check_id: str, health_check_args: Any) -> Any:
        current = self.get_health_check(health_check_id)  # NoSuchHealthCheck first
        try:
            validate(health_check_args, creating=False, current=current)
        except HealthCheckConfigError as exc:
            raise InvalidInput(str(exc)) from exc
        return update(self, health_check_id, health_check_args)

    Route53Backend.create_health_check = create_health_check
    Route53Backend.update_health_check = update_health_check
