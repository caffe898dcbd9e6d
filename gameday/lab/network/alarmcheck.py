"""CLOUDWATCH_METRIC health checks: Route 53 follows a CloudWatch alarm's state.

Route 53 developer guide, "Health checks that monitor CloudWatch alarms": the check is
healthy while its alarm (``AlarmIdentifier``: region and name) is ``OK`` and unhealthy
while it is ``ALARM``; while the alarm is ``INSUFFICIENT_DATA`` the check takes its
``InsufficientDataHealthStatus``: ``Healthy``, ``Unhealthy`` or ``LastKnownStatus`` (the
status it had before the data ran short; healthy when it never had one, as a new check is).

The alarm's state is what CloudWatch holds: set by ``set_alarm_state`` or by the lab's
evaluation of the alarm's metric data (:mod:`gameday.lab.controlplane.alarms`). A check
whose alarm does not exist (deleted, or in another region) has no data: it is treated as
``INSUFFICIENT_DATA``.
"""

from __future__ import annotations

from gameday.lab.controlplane import cloudwatch
from gameday.lab.controlplane.route53 import HealthCheckConfig


def healthy(config: HealthCheckConfig, last_known: bool | None) -> bool:
    """The check's raw status (before Inverted/Disabled) from its alarm's state now.

    ``last_known`` is the raw status the check had at its previous evaluation (None:
    never evaluated).
    """
    state = cloudwatch.alarm_state(*config.alarm) if config.alarm else None
    if state == "OK":
        return True
    if state == "ALARM":
        return False
    setting = config.insufficient_data_health_status or "LastKnownStatus"
    if setting == "Healthy":
        return True
    if setting == "Unhealthy":
        return False
    return True if last_known is None else last_known
