"""Elastic Load Balancing (v2) in the lab's control plane: target health as AWS reports it.

moto keeps the load balancers, target groups, listeners and registered targets, but it has
no health checks: ``describe_target_health`` answers ``healthy`` for every registered
target. In the lab, the data plane probes each target the way an Application Load
Balancer does (:mod:`gameday.lab.network.targethealth`) and hands each verdict to
:meth:`TargetHealthBoard.publish`, the one entry point from the data plane into this
module. ``describe_target_health`` then answers from the board, and the DNS server asks
:func:`load_balancer` whether an alias target is healthy. Nothing here writes into moto's
state: the board sits next to it, as CloudWatch's view of target health does in AWS.

Route 53's rule for an alias to an Application or Network Load Balancer with
``EvaluateTargetHealth`` (AWS's AliasTarget reference): the load balancer is healthy when
every target group associated with it contains at least one healthy target; a target
group with no registered target counts as unhealthy.

The lab has no load-balancer nodes: a lab region process is both the node and the target,
so a load balancer's name answers the addresses of the ``ip`` targets registered behind
it (see :func:`load_balancer`). Every reach into moto's elbv2 internals is here and is
pinned with the rest of the lab to :data:`server.PINNED_MOTO_VERSION` and checked by
``tests/lab/test_alias_moto_internals.py``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from gameday.aws import LAB_ACCOUNT_ID
from gameday.netutil import ip_literal

#: AWS's states and reason codes for target health (ELB's TargetHealth reference).
INITIAL = "initial"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
UNUSED = "unused"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class TargetHealth:
    """One target's health as ``describe_target_health`` reports it."""

    state: str
    reason: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    """A registered target with the health-check settings of its target group."""

    target_group_arn: str
    target_group_name: str
    region: str
    target_id: str
    port: int
    protocol: str
    path: str
    health_port: int
    interval: int
    timeout: int
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str
    enabled: bool
    in_use: bool  # the target group is associated with a load balancer

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.target_group_arn, self.target_id, self.port)


@dataclass(frozen=True)
class LoadBalancerView:
    """What an alias to a load balancer needs: where it answers and whether it is healthy."""

    arn: str
    dns_name: str
    addresses: tuple[str, ...]
    healthy: bool


class TargetHealthBoard:
    """The published health of every probed target (written by the data plane only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health: dict[tuple[str, str, int], TargetHealth] = {}

    def publish(self, key: tuple[str, str, int], health: TargetHealth) -> None:
        """Record the data plane's verdict for (target group ARN, target id, port)."""
        with self._lock:
            self._health[key] = health

    def forget(self, key: tuple[str, str, int]) -> None:
        with self._lock:
            self._health.pop(key, None)

    def get(self, key: tuple[str, str, int]) -> TargetHealth | None:
        with self._lock:
            return self._health.get(key)


def _elbv2(region: str) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[LAB_ACCOUNT_ID][region]


def targets(regions: list[str]) -> list[TargetSpec]:
    """Every registered target of every target group in ``regions``, as configured now."""
    return [
        _spec(tg, target, region)
        for region in regions
        for tg in list(_elbv2(region).target_groups.values())
        for target in list(tg.targets.values())
    ]


def _spec(tg: Any, target: dict[str, Any], region: str) -> TargetSpec:
    port = int(target.get("Port") or tg.port)
    health_port = tg.health_check_port
    return TargetSpec(
        target_group_arn=tg.arn,
        target_group_name=tg.name,
        region=region,
        target_id=str(target["Id"]),
        port=port,
        protocol=str(tg.health_check_protocol or tg.protocol or "HTTP"),
        path=tg.health_check_path or "/",
        health_port=port if health_port in (None, "traffic-port") else int(health_port),
        interval=int(tg.health_check_interval_seconds),
        timeout=int(tg.health_check_timeout_seconds),
        healthy_threshold=int(tg.healthy_threshold_count),
        unhealthy_threshold=int(tg.unhealthy_threshold_count),
        matcher=str((getattr(tg, "matcher", None) or {}).get("HttpCode", "200")),
        enabled=bool(tg.health_check_enabled),
        in_use=bool(tg.load_balancer_arns),
    )


def reported_health(spec: TargetSpec, board: TargetHealthBoard) -> TargetHealth:
    """The health AWS reports for a registered target (ELB's reason codes)."""
    if not spec.in_use:
        return TargetHealth(
            UNUSED,
            "Target.NotInUse",
            "Target group is not configured to receive traffic from the load balancer",
        )
    if not spec.enabled:
        return TargetHealth(UNAVAILABLE, "Target.HealthCheckDisabled", "Health checks are disabled")
    return board.get(spec.key) or TargetHealth(
        INITIAL, "Elb.InitialHealthChecking", "Initial health checks in progress"
    )


def _region_of(dns_name: str) -> str | None:
    """``name-1.us-east-1.elb.amazonaws.com`` -> ``us-east-1``."""
    labels = dns_name.split(".")
    if len(labels) >= 5 and labels[-3:] == ["elb", "amazonaws", "com"]:
        return labels[-4]
    return None


def load_balancer(dns_name: str, board: TargetHealthBoard) -> LoadBalancerView | None:
    """The load balancer an alias target names (``dualstack.`` prefix allowed), or None."""
    name = dns_name.lower().rstrip(".")
    name = name.removeprefix("dualstack.")
    region = _region_of(name)
    if region is None:
        return None
    try:
        backend = _elbv2(region)
    except KeyError:
        return None
    lb = next(
        (b for b in list(backend.load_balancers.values()) if b.dns_name.lower() == name), None
    )
    if lb is None:
        return None
    groups = [tg for tg in list(backend.target_groups.values()) if lb.arn in tg.load_balancer_arns]
    addresses: list[str] = []
    healthy = bool(groups)
    for tg in groups:
        members = [_spec(tg, t, region) for t in list(tg.targets.values())]
        addresses.extend(s.target_id for s in members if ip_literal(s.target_id))
        if not any(reported_health(s, board).state == HEALTHY for s in members):
            healthy = False
    return LoadBalancerView(lb.arn, lb.dns_name, tuple(dict.fromkeys(addresses)), healthy)


def install_target_health(board: TargetHealthBoard) -> None:
    """``describe_target_health`` answers the board's verdicts for registered targets."""
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    original = FakeTargetGroup.health_for

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        registered = self.targets.get(target["Id"])
        if registered is None:
            return original(self, target, ec2_backend)  # moto's "not registered" answers
        health = reported_health(_spec(self, registered, self.region_name), board)
        return FakeHealthStatus(
            registered["Id"],
            registered["Port"],
            self.health_check_port,
            health.state,
            health.reason,
            health.description,
        )

    FakeTargetGroup.health_for = health_for
