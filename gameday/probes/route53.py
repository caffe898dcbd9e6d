"""Route 53 probes: a health check's effective status, computed the way Route 53 computes it.

Route 53 never reports the status it routes on through ``GetHealthCheckStatus``: that API
returns what each checker region last saw of the endpoint (``Success: HTTP Status Code 200,
OK``, ``Failure: Connection timed out. ...``), with ``Inverted`` and ``Disabled`` *not*
applied. The status DNS routes on is published as the CloudWatch metric ``AWS/Route53``
``HealthCheckStatus`` (us-east-1). :func:`health_check_status` computes the status from the
configuration plus the observations, reads the metric's latest value, and says so when the
two disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.activity import call, connect, fail, require

__all__ = ["health_check_status"]

#: Route 53 considers an endpoint healthy when more than 18% of its checkers say so.
HEALTHY_FRACTION = 0.18
#: Route 53 publishes its health-check metrics in us-east-1 only.
METRIC_REGION = "us-east-1"
#: How far back to look for the latest metric datapoint (seconds).
METRIC_LOOKBACK = 600
#: CALCULATED checks may nest; deeper than this is refused rather than followed.
MAX_DEPTH = 3


@registry.probe(
    iam=(
        "route53:GetHealthCheck",
        "route53:GetHealthCheckStatus",
        "cloudwatch:GetMetricData",  # the HealthCheckStatus metric (Inverted applied)
    )
)
def health_check_status(
    health_check_id: str,
    metric_period: int = 60,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """The effective status of a Route 53 health check, with what it was computed from.

    How it is computed (Route 53's documented rules), and the assumptions:

    * HTTP/HTTPS/TCP checks: healthy when more than 18% of the checkers' latest
      observations start with ``Success`` (``GetHealthCheckStatus``). Assumption: the
      latest observation stands for each checker's view. Route 53 flips a checker's view
      only after ``FailureThreshold`` consecutive results, which one snapshot cannot show,
      so right after a change the computed status may lead Route 53's by up to
      FailureThreshold - 1 intervals; the metric (below) is Route 53's own verdict.
    * then ``Disabled`` makes it healthy and ``Inverted`` flips it;
    * CALCULATED checks (``GetHealthCheckStatus`` refuses them): healthy when at least
      ``HealthThreshold`` children are healthy, each child computed the same way
      (0 means always healthy);
    * other types (CLOUDWATCH_METRIC, RECOVERY_CONTROL) have no observations: their
      status is the metric's.

    The metric ``AWS/Route53`` ``HealthCheckStatus`` (dimension ``HealthCheckId``,
    us-east-1) is read with ``GetMetricData`` over the last 10 minutes at
    ``metric_period`` seconds (60 fits AWS, which publishes once a minute; the lab also
    answers 1) and its latest ``Minimum`` is reported. Reading it needs
    ``cloudwatch:GetMetricData``; when it cannot be read the probe says so and carries on.

    Returns ``health_check_id``, ``type``, ``healthy`` (the computed status),
    ``inverted``, ``disabled``, ``failure_threshold``, ``healthy_observations``,
    ``total_observations``, ``observations`` (``region``, ``ip_address``, ``status``,
    ``checked_time``), ``children`` (CALCULATED only), ``metric`` (``value`` 1/0/None,
    ``timestamp``, ``period``, ``error``), ``agrees_with_metric`` (None without a metric)
    and ``note`` (the disagreement or what was assumed), all JSON-serialisable.
    """
    require(health_check_id, "health_check_id", "the Route 53 health check id")
    if not isinstance(metric_period, int) or isinstance(metric_period, bool) or metric_period < 1:
        raise fail(f"metric_period must be a whole number of seconds >= 1, got {metric_period!r}")
    r53 = connect("route53", None, configuration, secrets)
    result = _computed(r53, health_check_id, depth=0)
    cloudwatch = connect("cloudwatch", METRIC_REGION, configuration, secrets)
    metric = _latest_metric(cloudwatch, health_check_id, metric_period)
    result["metric"] = metric
    value = metric["value"]
    if result["healthy"] is None:
        result["healthy"] = None if value is None else value >= 1
        result["agrees_with_metric"] = None
        result["note"] = (
            f"{result['type']} checks have no observations: the status is the metric's"
            if value is not None
            else f"{result['type']} checks have no observations and no metric was found"
        )
        return result
    if value is None:
        result["agrees_with_metric"] = None
        result["note"] = "no HealthCheckStatus datapoint found" + (
            f" ({metric['error']})" if metric["error"] else ""
        )
        return result
    agrees = (value >= 1) == result["healthy"]
    result["agrees_with_metric"] = agrees
    result["note"] = (
        None
        if agrees
        else (
            f"disagreement: computed {'healthy' if result['healthy'] else 'unhealthy'} from the "
            f"configuration and observations, but Route 53's HealthCheckStatus metric says "
            f"{int(value)} at {metric['timestamp']} (the metric lags by up to one period, the "
            "observations lead it by up to FailureThreshold - 1 intervals)"
        )
    )
    return result


def _effective_status(
    config: dict[str, Any], statuses: list[str], children: list[bool] | None = None
) -> bool | None:
    """Route 53's rules on a ``HealthCheckConfig`` and its observations' ``Status`` texts.

    ``children`` are the computed statuses of a CALCULATED check's children. Returns None
    for check types with no observations to compute from.
    """
    kind = str(config.get("Type", ""))
    if config.get("Disabled"):
        return True
    if kind == "CALCULATED":
        threshold = config.get("HealthThreshold")
        healthy_children = sum(1 for c in children or [] if c)
        raw = healthy_children >= (len(children or []) if threshold is None else int(threshold))
    elif kind in ("CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        return None
    else:
        good = sum(1 for text in statuses if text.startswith("Success"))
        raw = bool(statuses) and good / len(statuses) > HEALTHY_FRACTION
    return (not raw) if config.get("Inverted") else raw


def _computed(r53: Any, health_check_id: str, depth: int) -> dict[str, Any]:
    failure = f"Could not read the status of Route 53 health check {health_check_id!r}"
    hints = {"NoSuchHealthCheck": "check the id with `aws route53 list-health-checks`"}
    config = call(r53, "get_health_check", failure, hints, HealthCheckId=health_check_id)[
        "HealthCheck"
    ]["HealthCheckConfig"]
    kind = str(config.get("Type", ""))
    observations: list[dict[str, Any]] = []
    children: dict[str, bool | None] = {}
    if kind == "CALCULATED":
        if depth >= MAX_DEPTH:
            raise fail(
                f"{failure}: CALCULATED checks nest deeper than {MAX_DEPTH} levels; "
                "probe a child check instead."
            )
        for child in config.get("ChildHealthChecks") or []:
            children[child] = _computed(r53, child, depth + 1)["healthy"]
    elif kind not in ("CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        raw = call(r53, "get_health_check_status", failure, hints, HealthCheckId=health_check_id)
        observations = [_observation(o) for o in raw.get("HealthCheckObservations", [])]
    statuses = [str(o["status"]) for o in observations]
    healthy = _effective_status(
        config, statuses, [bool(c) for c in children.values()] if kind == "CALCULATED" else None
    )
    result: dict[str, Any] = {
        "health_check_id": health_check_id,
        "type": kind,
        "healthy": healthy,
        "inverted": bool(config.get("Inverted", False)),
        "disabled": bool(config.get("Disabled", False)),
        "failure_threshold": config.get("FailureThreshold"),
        "healthy_observations": sum(1 for t in statuses if t.startswith("Success")),
        "total_observations": len(statuses),
        "observations": observations,
    }
    if kind == "CALCULATED":
        result["children"] = children
        result["health_threshold"] = config.get("HealthThreshold")
    return result


def _observation(obs: dict[str, Any]) -> dict[str, Any]:
    report = obs.get("StatusReport") or {}
    checked = report.get("CheckedTime")
    return {
        "region": obs.get("Region"),
        "ip_address": obs.get("IPAddress"),
        "status": report.get("Status", ""),
        "checked_time": checked.isoformat() if isinstance(checked, datetime) else checked,
    }


def _metric_query(health_check_id: str, period: int) -> dict[str, Any]:
    """The ``GetMetricData`` query for a health check's ``HealthCheckStatus`` (Minimum)."""
    return {
        "Id": "status",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Route53",
                "MetricName": "HealthCheckStatus",
                "Dimensions": [{"Name": "HealthCheckId", "Value": health_check_id}],
            },
            "Period": period,
            "Stat": "Minimum",
        },
    }


def _latest_metric(cloudwatch: Any, health_check_id: str, period: int) -> dict[str, Any]:
    """The latest ``HealthCheckStatus`` datapoint: ``value`` (None if none), ``timestamp``,
    ``period`` and ``error`` (why it could not be read, else None)."""
    now = datetime.now(UTC)
    try:
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[_metric_query(health_check_id, period)],
            StartTime=now - timedelta(seconds=METRIC_LOOKBACK),
            EndTime=now + timedelta(seconds=period),
            ScanBy="TimestampDescending",
        )
    except (ClientError, BotoCoreError) as exc:
        return {"value": None, "timestamp": None, "period": period, "error": str(exc)}
    results = answer.get("MetricDataResults") or [{}]
    points = sorted(
        zip(results[0].get("Timestamps", []), results[0].get("Values", []), strict=False),
        key=lambda p: p[0],
    )
    if not points:
        return {"value": None, "timestamp": None, "period": period, "error": None}
    stamp, value = points[-1]
    return {"value": float(value), "timestamp": stamp.isoformat(), "period": period, "error": None}
