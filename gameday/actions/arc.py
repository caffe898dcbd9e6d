"""Route 53 Application Recovery Controller (ARC): set a routing control's state.

Routing controls are changed through the cluster's data plane: its regional endpoints
(from ``route53-recovery-control-config.describe_cluster``) are tried in turn until one
answers, as AWS recommends, so the change works while a region is impaired. The control
plane API lives in ``us-west-2`` (``control_region``).
"""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chaoslib.types import Configuration, Secrets

from gameday import activity, registry
from gameday.faults import Undo

__all__ = ["restore_routing_control_state", "set_routing_control_state"]

ROUTING_CONTROL_IAM = (
    "route53-recovery-control-config:DescribeCluster",
    "route53-recovery-cluster:GetRoutingControlState",
    "route53-recovery-cluster:UpdateRoutingControlState",
)

_MODULE = __name__
_STATES = {"on": "On", "off": "Off"}
_HINTS = {
    "ResourceNotFoundException": "check the ARN with `aws route53-recovery-control-config list-*`",
    "ValidationException": "check the routing control ARN and the state ('On' or 'Off')",
    "ConflictException": (
        "a safety rule blocks this change: pass its ARN in `safety_rules_to_override` if intended"
    ),
}
#: Errors after which the next cluster endpoint is tried.
_TRY_NEXT = frozenset(
    {"InternalServerException", "ThrottlingException", "EndpointTemporarilyUnavailableException"}
)


def _state(state: str) -> str:
    chosen = _STATES.get(str(state).strip().lower())
    if not chosen:
        raise activity.fail(f"Bad routing control `state` {state!r}: use 'On' or 'Off'.")
    return chosen


_check_state = registry.argument("state", _state)


def _endpoints(
    cluster_arn: str, control_region: str, configuration: Configuration, secrets: Secrets
) -> list[dict[str, str]]:
    control = activity.connect(
        "route53-recovery-control-config", control_region, configuration, secrets
    )
    cluster = activity.call(
        control,
        "describe_cluster",
        f"Could not read ARC cluster {cluster_arn!r}",
        _HINTS,
        ClusterArn=cluster_arn,
    )["Cluster"]
    endpoints = cluster.get("ClusterEndpoints") or []
    if not endpoints:
        raise activity.fail(
            f"ARC cluster {cluster_arn!r} lists no endpoints: check that it is deployed."
        )
    return endpoints


def _on_each_endpoint(
    endpoints: list[dict[str, str]],
    operation: str,
    failure: str,
    configuration: Configuration,
    secrets: Secrets,
    **params: Any,
) -> dict[str, Any]:
    """Call ``operation`` on the cluster endpoints in turn until one answers."""
    last: Exception | None = None
    for endpoint in endpoints:
        data_plane = activity.connect(
            "route53-recovery-cluster",
            endpoint["Region"],
            configuration,
            secrets,
            endpoint_url=endpoint["Endpoint"],
        )
        try:
            return getattr(data_plane, operation)(**params)
        except ClientError as exc:
            if activity.error_code(exc) not in _TRY_NEXT:
                raise activity.as_failure(exc, failure, _HINTS) from exc
            last = exc
        except BotoCoreError as exc:
            last = exc
        activity.logger.warning(
            "ARC endpoint %s did not answer, trying the next", endpoint["Endpoint"]
        )
    assert last is not None
    raise activity.as_failure(
        last, f"{failure} on any of the {len(endpoints)} cluster endpoints"
    ) from last


@registry.fault(
    rollback="restore_routing_control_state", iam=ROUTING_CONTROL_IAM, check=_check_state
)
def set_routing_control_state(
    routing_control_arn: str,
    state: str,
    cluster_arn: str,
    safety_rules_to_override: list[str] | None = None,
    control_region: str = "us-west-2",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Set a Route 53 ARC routing control ``On`` or ``Off`` (e.g. ``Off`` to drain a region).

    Reads the current state first (saved in the fault ledger as the undo), then calls
    ``update_routing_control_state`` on the cluster's endpoints in turn. Idempotent: a
    control already in ``state`` is left alone. Roll back with
    ``restore_routing_control_state``.

    Returns ``routing_control_arn``, ``state``, ``previous_state``, ``changed`` and
    ``fault_id``.
    """
    activity.require(routing_control_arn, "routing_control_arn")
    activity.require(cluster_arn, "cluster_arn", "the ARC cluster holding the routing control")
    desired = _state(state)
    control_region = activity.check_region(control_region, "control_region")
    activity.guard(control_region, configuration, secrets)
    endpoints = _endpoints(cluster_arn, control_region, configuration, secrets)
    failure = f"Could not set routing control {routing_control_arn!r} to {desired}"
    previous = _on_each_endpoint(
        endpoints,
        "get_routing_control_state",
        f"Could not read routing control {routing_control_arn!r}",
        configuration,
        secrets,
        RoutingControlArn=routing_control_arn,
    )["RoutingControlState"]
    outcome: dict[str, Any] = {
        "routing_control_arn": routing_control_arn,
        "state": desired,
        "previous_state": previous,
        "changed": False,
        "fault_id": None,
    }
    if previous == desired:
        return outcome
    params: dict[str, Any] = {
        "RoutingControlArn": routing_control_arn,
        "RoutingControlState": desired,
    }
    if safety_rules_to_override:
        params["SafetyRulesToOverride"] = list(safety_rules_to_override)
    fault_id, _ = activity.inject(
        activity="set_routing_control_state",
        target=f"arc:routing-control:{routing_control_arn}",
        arguments={
            "routing_control_arn": routing_control_arn,
            "state": desired,
            "cluster_arn": cluster_arn,
        },
        undo=Undo(
            _MODULE,
            "restore_routing_control_state",
            {
                "routing_control_arn": routing_control_arn,
                "cluster_arn": cluster_arn,
                "state": previous,
                "control_region": control_region,
                "safety_rules_to_override": list(safety_rules_to_override or []),
            },
        ),
        configuration=configuration,
        apply=lambda _id: _on_each_endpoint(
            endpoints, "update_routing_control_state", failure, configuration, secrets, **params
        ),
        failure=failure,
        hints=_HINTS,
    )
    outcome.update(changed=True, fault_id=fault_id)
    return outcome


@registry.rollback(iam=ROUTING_CONTROL_IAM)
def restore_routing_control_state(
    routing_control_arn: str,
    cluster_arn: str,
    state: str | None = None,
    safety_rules_to_override: list[str] | None = None,
    control_region: str = "us-west-2",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Set a routing control back (rollback of ``set_routing_control_state``).

    The state restored is ``state`` when given, else the one the fault ledger saved
    before the oldest open change; with neither, the control is left as it is (the drill
    did not change it). Idempotent; marks the ledger entries reverted.

    Returns ``routing_control_arn``, ``state``, ``changed`` and ``reverted``.
    """
    activity.require(routing_control_arn, "routing_control_arn")
    activity.require(cluster_arn, "cluster_arn", "the ARC cluster holding the routing control")
    control_region = activity.check_region(control_region, "control_region")
    activity.guard(control_region, configuration, secrets)
    book = activity.ledger(configuration)
    entries = book.open_entries(
        activity="set_routing_control_state",
        target_prefix=f"arc:routing-control:{routing_control_arn}",
    )
    saved = state or (entries[0].undo.kwargs.get("state") if entries else None)
    desired = _state(saved) if saved else None
    rules = safety_rules_to_override or next(
        (e.undo.kwargs.get("safety_rules_to_override") for e in entries), None
    )
    endpoints = _endpoints(cluster_arn, control_region, configuration, secrets)
    current = _on_each_endpoint(
        endpoints,
        "get_routing_control_state",
        f"Could not read routing control {routing_control_arn!r}",
        configuration,
        secrets,
        RoutingControlArn=routing_control_arn,
    )["RoutingControlState"]
    changed = False
    if desired is None:
        # no change of ours is open on this control (the action found it in that state
        # already, failed, or was rolled back): a control Off on purpose stays Off
        activity.logger.info(
            "no open set_routing_control_state for %s: left as it is", routing_control_arn
        )
        desired = current
    if current != desired:
        params: dict[str, Any] = {
            "RoutingControlArn": routing_control_arn,
            "RoutingControlState": desired,
        }
        if rules:
            params["SafetyRulesToOverride"] = list(rules)
        _on_each_endpoint(
            endpoints,
            "update_routing_control_state",
            f"Could not set routing control {routing_control_arn!r} back to {desired}",
            configuration,
            secrets,
            **params,
        )
        changed = True
    book.mark_reverted(entries, by="restore_routing_control_state")
    return {
        "routing_control_arn": routing_control_arn,
        "state": desired,
        "changed": changed,
        "reverted": [e.id for e in entries],
    }
