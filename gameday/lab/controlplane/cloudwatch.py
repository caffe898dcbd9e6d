"""CloudWatch in the lab's control plane: the metrics Route 53's health checkers publish.

In AWS, Route 53 publishes each health check's effective status as the metric
``AWS/Route53`` ``HealthCheckStatus`` (1 healthy, 0 unhealthy; dimension ``HealthCheckId``;
in us-east-1 only). The lab's health checker does the same through :func:`put_health_check_status`,
so any tool reads it with a plain ``cloudwatch.get_metric_data`` against the lab.
The datapoints go straight into moto's CloudWatch backend: through the API,
AWS refuses ``put_metric_data`` into an ``AWS/`` namespace from clients.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gameday.lab.controlplane.server import LAB_ACCOUNT_ID

NAMESPACE = "AWS/Route53"
METRIC = "HealthCheckStatus"
#: Route 53 publishes its health-check metrics in us-east-1 only.
METRIC_REGION = "us-east-1"

# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)


def put_health_check_status(health_check_id: str, healthy: bool, at: float) -> None:
    """Record one ``HealthCheckStatus`` datapoint (1 or 0) at the epoch time ``at``."""
    from moto.cloudwatch.models import cloudwatch_backends

    backend = cloudwatch_backends[LAB_ACCOUNT_ID][METRIC_REGION]
    backend.put_metric_data(
        NAMESPACE,
        [
            {
                "MetricName": METRIC,
                "Dimensions": [{"Name": "HealthCheckId", "Value": health_check_id}],
                "Value": 1.0 if healthy else 0.0,
                "Unit": "None",
                # moto compares naive UTC datetimes
                "Timestamp": datetime.fromtimestamp(at, UTC).replace(tzinfo=None),
            }
        ],
    )
