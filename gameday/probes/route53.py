"""Route 53 probes: health check status, as Route 53's own checkers see it."""

from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import activity as s

__all__ = ["health_check_status"]

#: Route 53 considers an endpoint healthy when more than 18% of its checkers say so.
HEALTHY_FRACTION = 0.18


def health_check_status(
    health_check_id: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Whether a Route 53 health check is healthy, with its checkers' observations.

    Healthy when more than 18% of the observations report success (Route 53's rule).
    Route 53 reports the observations with ``Inverted`` / ``Disabled`` already applied,
    so this is the status DNS routing uses; ``inverted`` and ``disabled`` say why.

    Returns ``health_check_id``, ``healthy`` (bool), ``inverted``, ``healthy_observations``,
    ``total_observations`` and ``observations`` (``region``, ``ip_address``, ``status``,
    ``checked_time``), all JSON-serialisable.
    """
    s.require(health_check_id, "health_check_id", "the Route 53 health check id")
    r53 = s.connect("route53", None, configuration, secrets)
    failure = f"Could not read the status of Route 53 health check {health_check_id!r}"
    hints = {"NoSuchHealthCheck": "check the id with `aws route53 list-health-checks`"}
    config = s.call(r53, "get_health_check", failure, hints, HealthCheckId=health_check_id)[
        "HealthCheck"
    ]["HealthCheckConfig"]
    raw = s.call(r53, "get_health_check_status", failure, hints, HealthCheckId=health_check_id)
    observations = []
    for obs in raw.get("HealthCheckObservations", []):
        report = obs.get("StatusReport") or {}
        checked = report.get("CheckedTime")
        observations.append(
            {
                "region": obs.get("Region"),
                "ip_address": obs.get("IPAddress"),
                "status": report.get("Status", ""),
                "checked_time": checked.isoformat() if hasattr(checked, "isoformat") else checked,
            }
        )
    good = sum(1 for o in observations if str(o["status"]).startswith("Success"))
    # Route 53 reports observations with Inverted/Disabled already applied
    # ("Failure: Inverted health check; ..."): they are what routing uses.
    healthy = bool(observations) and good / len(observations) > HEALTHY_FRACTION
    inverted = bool(config.get("Inverted", False))
    return {
        "health_check_id": health_check_id,
        "healthy": healthy,
        "inverted": inverted,
        "disabled": bool(config.get("Disabled", False)),
        "healthy_observations": good,
        "total_observations": len(observations),
        "observations": observations,
    }
