"""Route 53 health-check actions: invert a health check (and restore it).

Inverting a health check makes Route 53 report the opposite of what its checkers observe:
a healthy primary is declared unhealthy and failover records switch to the secondary,
without touching the application. (``Disabled=True`` would not do it: a disabled check
is always healthy.)
"""

from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from gameday import activity, registry
from gameday.faults import Undo

__all__ = ["invert_health_check", "restore_health_check"]

HEALTH_CHECK_IAM = ("route53:GetHealthCheck", "route53:UpdateHealthCheck")

_MODULE = __name__
_HINTS = {
    "NoSuchHealthCheck": "check the id with `aws route53 list-health-checks`",
    "HealthCheckVersionMismatch": "someone changed the health check meanwhile, run the action again",
    "InvalidInput": "check the health check id",
}


def _target(health_check_id: str) -> str:
    return f"route53:health-check:{health_check_id}"


def _read(r53: Any, health_check_id: str) -> dict[str, Any]:
    return activity.call(
        r53,
        "get_health_check",
        f"Could not read Route 53 health check {health_check_id!r}",
        _HINTS,
        HealthCheckId=health_check_id,
    )["HealthCheck"]


@registry.fault(rollback="restore_health_check", iam=HEALTH_CHECK_IAM)
def invert_health_check(
    health_check_id: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Invert a Route 53 health check, so a healthy endpoint is reported unhealthy.

    Saves the check's previous ``Inverted`` state in the fault ledger (write-ahead) and
    updates it with its current ``HealthCheckVersion``, so a concurrent change is refused
    rather than overwritten. Idempotent: a check already inverted is left as it is.
    Roll back with ``restore_health_check``.

    Returns ``health_check_id``, ``inverted`` (now), ``previous_inverted``, ``changed``,
    ``health_check_version`` and ``fault_id`` (the ledger entry, or null if unchanged).
    """
    activity.require(health_check_id, "health_check_id", "the Route 53 health check id")
    r53 = activity.connect("route53", None, configuration, secrets)
    activity.guard(None, configuration, secrets)
    check = _read(r53, health_check_id)
    previous = bool(check["HealthCheckConfig"].get("Inverted", False))
    version = int(check["HealthCheckVersion"])
    outcome: dict[str, Any] = {
        "health_check_id": health_check_id,
        "inverted": True,
        "previous_inverted": previous,
        "changed": False,
        "health_check_version": version,
        "fault_id": None,
    }
    if previous:
        activity.logger.info("health check %s is already inverted: nothing to do", health_check_id)
        return outcome

    def apply(_entry_id: str) -> dict[str, Any]:
        return r53.update_health_check(
            HealthCheckId=health_check_id, HealthCheckVersion=version, Inverted=True
        )["HealthCheck"]

    fault_id, updated = activity.inject(
        activity="invert_health_check",
        target=_target(health_check_id),
        arguments={"health_check_id": health_check_id},
        undo=Undo(
            _MODULE,
            "restore_health_check",
            {"health_check_id": health_check_id, "inverted": previous},
        ),
        configuration=configuration,
        apply=apply,
        failure=f"Could not invert Route 53 health check {health_check_id!r}",
        hints=_HINTS,
        summary=lambda hc: {"health_check_version": hc.get("HealthCheckVersion")},
    )
    outcome.update(
        changed=True,
        health_check_version=int(updated.get("HealthCheckVersion", version + 1)),
        fault_id=fault_id,
    )
    return outcome


@registry.rollback(iam=HEALTH_CHECK_IAM)
def restore_health_check(
    health_check_id: str,
    inverted: bool | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Restore a Route 53 health check's ``Inverted`` state (rollback of ``invert_health_check``).

    The state restored is ``inverted`` when given, otherwise the one saved in the fault
    ledger by the oldest ``invert_health_check`` not yet reverted; with neither, the check
    is left as it is (the drill did not change it: it may be inverted on purpose).
    Idempotent: nothing is called when the check is already in that state. Marks the
    ledger entries reverted.

    Returns ``health_check_id``, ``inverted`` (now), ``changed`` and ``reverted`` (the
    ledger entry ids closed).
    """
    activity.require(health_check_id, "health_check_id", "the Route 53 health check id")
    r53 = activity.connect("route53", None, configuration, secrets)
    activity.guard(None, configuration, secrets)
    book = activity.ledger(configuration)
    open_entries = book.open_entries(
        activity="invert_health_check", target_prefix=_target(health_check_id)
    )
    desired = inverted
    if desired is None and open_entries:
        desired = bool(open_entries[0].undo.kwargs.get("inverted", False))
    try:
        check = _read(r53, health_check_id)
    except ActivityFailed as exc:
        if open_entries and activity.caused_by(exc, "NoSuchHealthCheck"):
            # deleted since the fault was injected: nothing is left to restore
            book.mark_reverted(open_entries, by="restore_health_check", note="health check gone")
            return {
                "health_check_id": health_check_id,
                "inverted": None,
                "changed": False,
                "reverted": [entry.id for entry in open_entries],
            }
        raise
    current = bool(check["HealthCheckConfig"].get("Inverted", False))
    changed = False
    if desired is None:
        # no fault of ours is open on this check (the action found it already inverted,
        # failed, or was rolled back already): its state is someone else's, leave it
        activity.logger.info("no open invert_health_check for %s: left as it is", health_check_id)
        desired = current
    if current != desired:
        activity.call(
            r53,
            "update_health_check",
            f"Could not restore Route 53 health check {health_check_id!r}",
            _HINTS,
            HealthCheckId=health_check_id,
            HealthCheckVersion=int(check["HealthCheckVersion"]),
            Inverted=desired,
        )
        changed = True
    book.mark_reverted(open_entries, by="restore_health_check")
    return {
        "health_check_id": health_check_id,
        "inverted": desired,
        "changed": changed,
        "reverted": [entry.id for entry in open_entries],
    }
