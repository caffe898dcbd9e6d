"""The load balancers' health checks: every registered target probed as an ALB probes it.

One thread per registered target (of a target group associated with a load balancer)
sends ``GET HealthCheckPath`` to the target every ``HealthCheckIntervalSeconds`` on the
lab's clock, waits at most ``HealthCheckTimeoutSeconds`` (scaled the same way) and
compares the status with the target group's matcher. ELB's state machine, as its
target-group health-check guide describes it:

* a new target is ``initial`` until its first check: one success makes it ``healthy``,
  ``UnhealthyThresholdCount`` consecutive failures make it ``unhealthy``;
* a healthy target turns unhealthy after ``UnhealthyThresholdCount`` consecutive
  failures, an unhealthy one healthy after ``HealthyThresholdCount`` consecutive successes.

Each verdict is published through :meth:`TargetHealthBoard.publish` (the control plane's
one entry point for it) and each change is a ``target-health`` event in the ground-truth
log. The probes come from 127.0.0.1 like any client, so a network ACL deny or an FIS
disruption on the region black-holes them too, as it would an ALB's health checks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gameday.lab.controlplane import elbv2
from gameday.lab.events import EventLog
from gameday.lab.network.endpointprobe import http_get
from gameday.lab.workers import Worker

USER_AGENT = "ELB-HealthChecker/2.0"


def matches(matcher: str, status: int) -> bool:
    """ELB's HttpCode matcher: ``"200"``, ``"200,202"`` or ``"200-299"``."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= status <= int(high or low):
            return True
    return False


class _Target:
    """ELB's view of one target: its counters and its published health."""

    def __init__(self, spec: elbv2.TargetSpec) -> None:
        self.spec = spec
        self.health = elbv2.TargetHealth(
            elbv2.INITIAL, "Elb.InitialHealthChecking", "Initial health checks in progress"
        )
        self.successes = 0
        self.failures = 0
        self.checks = 0

    def record(self, ok: bool, failure: elbv2.TargetHealth) -> elbv2.TargetHealth:
        """Count one check's outcome; return the health to publish."""
        unhealthy = self.health.state == elbv2.UNHEALTHY
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if not unhealthy or self.successes >= self.spec.healthy_threshold:
                return elbv2.TargetHealth(elbv2.HEALTHY)
            return self.health
        self.failures, self.successes = self.failures + 1, 0
        if unhealthy or self.failures >= self.spec.unhealthy_threshold:
            return failure
        return self.health


class TargetHealthProber:
    """Probes every in-use target of the lab's target groups and publishes their health.

    Each target is probed by its own supervised worker (:class:`gameday.lab.workers.Worker`),
    and one more worker follows registrations: a failing step is a ``lab-error`` event and
    a retry, never a dead prober.
    """

    def __init__(
        self,
        board: elbv2.TargetHealthBoard,
        events: EventLog,
        regions: list[str],
        time_scale: float,
        label: Callable[[str], str | None],
    ) -> None:
        self._board = board
        self._events = events
        self._regions = regions
        self._scale = time_scale
        self._label = label
        self._targets: dict[tuple[str, str, int], _Target] = {}
        self._workers: dict[tuple[str, str, int], Worker] = {}
        self._lock = threading.Lock()
        self._reconciler = Worker("target-health", self._reconcile, 0.25, events)

    def start(self) -> None:
        self._reconcile()
        self._reconciler.start()

    def stop(self) -> None:
        workers = [self._reconciler, *self._workers.values()]
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.join()

    def wait_checked(self, timeout: float) -> bool:
        """Block until every known target has been checked once (readiness)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(t.checks > 0 for t in self._targets.values()):
                    return True
            time.sleep(0.02)
        return False

    def _reconcile(self) -> None:
        specs = {s.key: s for s in elbv2.targets(self._regions) if s.in_use and s.enabled}
        with self._lock:
            for key, spec in specs.items():
                target = self._targets.get(key)
                if target is None:
                    target = self._targets[key] = _Target(spec)
                    self._workers[key] = Worker(
                        f"target-health-{spec.target_id}:{spec.port}",
                        self._step(target),
                        lambda target=target: target.spec.interval * self._scale,
                        self._events,
                    ).start()
                else:
                    target.spec = spec
            for gone in set(self._targets) - set(specs):
                self._targets.pop(gone)
                self._workers.pop(gone).stop()
                self._board.forget(gone)

    def _step(self, target: _Target) -> Callable[[], float | None]:
        """One check of ``target`` per interval, counted from the previous check's start."""
        next_due = [0.0]

        def step() -> float | None:
            started = time.monotonic()
            next_due[0] = next_due[0] or started
            ok, failure = self._check(target.spec)
            health = target.record(ok, failure)
            target.checks += 1
            self._publish(target, health)
            next_due[0] = max(next_due[0] + target.spec.interval * self._scale, time.monotonic())
            return next_due[0] - time.monotonic()

        return step

    def _check(self, spec: elbv2.TargetSpec) -> tuple[bool, elbv2.TargetHealth]:
        result = http_get(
            spec.target_id,
            spec.health_port,
            spec.path,
            timeout=max(0.2, spec.timeout * self._scale),
            tls=spec.protocol == "HTTPS",
            user_agent=USER_AGENT,
        )
        if result.timed_out:
            return False, elbv2.TargetHealth(elbv2.UNHEALTHY, "Target.Timeout", "Request timed out")
        if result.status is None:
            return False, elbv2.TargetHealth(
                elbv2.UNHEALTHY, "Target.FailedHealthChecks", "Health checks failed"
            )
        if not matches(spec.matcher, result.status):
            return False, elbv2.TargetHealth(
                elbv2.UNHEALTHY,
                "Target.ResponseCodeMismatch",
                f"Health checks failed with these codes: [{result.status}]",
            )
        return True, elbv2.TargetHealth(elbv2.HEALTHY)

    def _publish(self, target: _Target, health: elbv2.TargetHealth) -> None:
        previous, target.health = target.health, health
        self._board.publish(target.spec.key, health)
        if previous.state != health.state:
            self._events.emit(
                "target-health",
                region=self._label(target.spec.target_id),
                target_group=target.spec.target_group_name,
                target_group_arn=target.spec.target_group_arn,
                target=f"{target.spec.target_id}:{target.spec.port}",
                state=health.state,
                previous=previous.state,
                reason=health.reason,
            )
