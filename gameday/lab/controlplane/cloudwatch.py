"""CloudWatch in the lab's control plane: Route 53's metrics and alarms' states.

In AWS, Route 53 publishes each health check's metrics in ``AWS/Route53`` (dimension
``HealthCheckId``, us-east-1 only) at one-minute intervals (Route 53 developer guide,
"Monitoring health checks using CloudWatch"): ``HealthCheckStatus`` (1 healthy, 0
unhealthy) and, for endpoint checks, ``HealthCheckPercentageHealthy`` (the percentage of
checkers that consider the endpoint healthy). The lab's health checker publishes one
datapoint of each per AWS minute (60 AWS seconds on the lab's clock), timestamped at the
minute's start, ``HealthCheckStatus`` being the minute's minimum, through
:func:`put_health_check_metrics`; any tool reads them with ``cloudwatch.get_metric_data``.
The datapoints go straight into moto's CloudWatch backend: through the API, AWS refuses
``put_metric_data`` into an ``AWS/`` namespace from clients.

:func:`alarm_state` reads an alarm's state (``set_alarm_state`` or the lab's evaluation of
its metric data, :mod:`gameday.lab.controlplane.alarms`) for Route 53's CLOUDWATCH_METRIC
health checks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gameday.lab.controlplane.server import LAB_ACCOUNT_ID

NAMESPACE = "AWS/Route53"
METRIC = "HealthCheckStatus"
PERCENTAGE_METRIC = "HealthCheckPercentageHealthy"
#: Route 53 publishes its health-check metrics in us-east-1 only.
METRIC_REGION = "us-east-1"

# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


def backend(region: str) -> Any:
    """moto's CloudWatch backend of ``region`` in the lab's account."""
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[LAB_ACCOUNT_ID][region]


def regions_in_use() -> list[str]:
    """The regions whose CloudWatch backend exists (where alarms can be)."""
    from moto.cloudwatch.models import cloudwatch_backends

    return [b.region_name for b in dict.values(cloudwatch_backends[LAB_ACCOUNT_ID])]


def put_health_check_metrics(
    health_check_id: str, healthy: bool, percentage: float | None, at: float
) -> None:
    """One datapoint of ``HealthCheckStatus`` (and ``HealthCheckPercentageHealthy`` when
    the check has checkers) at the epoch time ``at``."""
    # moto compares naive UTC datetimes
    stamp = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
    dimensions = [{"Name": "HealthCheckId", "Value": health_check_id}]
    data: list[dict[str, Any]] = [
        {
            "MetricName": METRIC,
            "Dimensions": dimensions,
            "Value": 1.0 if healthy else 0.0,
            "Unit": "None",
            "Timestamp": stamp,
        }
    ]
    if percentage is not None:
        data.append(
            {
                "MetricName": PERCENTAGE_METRIC,
                "Dimensions": dimensions,
                "Value": percentage,
                "Unit": "Percent",
                "Timestamp": stamp,
            }
        )
    backend(METRIC_REGION).put_metric_data(NAMESPACE, data)


def alarm_state(region: str, name: str) -> str | None:
    """An alarm's ``StateValue`` now (None when there is no such alarm)."""
    alarm = backend(region).alarms.get(name)
    return None if alarm is None else str(alarm.state_value)
