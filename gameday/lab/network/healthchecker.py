"""The Route 53 health checker of the lab: real probes from several checker regions.

Route 53 probes every endpoint from health checkers in several regions. The lab does the
same with :data:`CHECKERS`: eight checker regions (or the three or more a check's
``Regions`` names), each probing from its own loopback source address (127.0.3.x, so a
network ACL can block the checkers' range and nothing else), each on its own supervised
worker. As AWS documents ("How Route 53 determines whether a health check is healthy";
``RequestInterval`` in the API reference), the checkers do not coordinate: each starts at
its own moment, drawn uniformly over a whole interval from the lab's seeded draws
(:mod:`gameday.lab.draws`), and waits ``RequestInterval`` from the endpoint's response (or
the probe's time-out) to its next request. For each health check:

* every checker keeps its own view, as Route 53's do: healthy -> unhealthy after
  ``FailureThreshold`` consecutive failed probes, and back after as many successes;
* a probe fails when the TCP connection is not made within AWS's limit (HTTP/HTTPS 4 s,
  TCP 10 s), or no HTTP status arrives within 2 s more, or the status is not 2xx/3xx, or
  the answer is not HTTP at all (garbage, a reset, half a response): each is a failed
  observation in AWS's wording, never a crash. The limits are the lab clock's
  (:meth:`gameday.lab.clock.LabClock.probe_timeouts`);
* the *effective* status is healthy when more than :data:`HEALTHY_FRACTION` of the
  checkers' views are healthy, then ``Inverted`` flips it and ``Disabled`` makes it
  healthy, or unhealthy when also inverted (AWS's way to stop routing to a resource whose
  check is disabled); both are read from the control plane at every evaluation. CALCULATED
  checks count their healthy children against ``HealthThreshold`` (0: always healthy).
  CLOUDWATCH_METRIC checks follow their alarm (:mod:`gameday.lab.network.alarmcheck`).

What the checkers saw (raw, never inverted) feeds ``GetHealthCheckStatus`` and
``GetHealthCheckLastFailureReason``; the effective status is what DNS routes on and what
the ground-truth log records (``health`` events). Once per AWS minute (Route 53's metric
granularity) the lab publishes ``AWS/Route53`` ``HealthCheckStatus`` (the minute's
minimum) and ``HealthCheckPercentageHealthy`` (:mod:`gameday.lab.controlplane.cloudwatch`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import cloudwatch, route53
from gameday.lab.controlplane.alarms import AlarmEvaluator
from gameday.lab.draws import Draws, new_seed
from gameday.lab.events import EventLog
from gameday.lab.network import alarmcheck, endpointprobe
from gameday.lab.network.checkerprobe import Observation, probe
from gameday.lab.workers import Worker

#: Route 53's checker regions the lab emulates, each with its own loopback source address.
CHECKERS: tuple[tuple[str, str], ...] = (
    ("us-east-1", "127.0.3.1"),
    ("us-west-1", "127.0.3.2"),
    ("us-west-2", "127.0.3.3"),
    ("eu-west-1", "127.0.3.4"),
    ("ap-southeast-1", "127.0.3.5"),
    ("ap-southeast-2", "127.0.3.6"),
    ("ap-northeast-1", "127.0.3.7"),
    ("sa-east-1", "127.0.3.8"),
)
#: The source range of the lab's checkers (a NACL rule on it models "block Route 53").
CHECKER_CIDR = "127.0.3.0/24"
#: Route 53: healthy when more than 18% of its checkers report healthy.
HEALTHY_FRACTION = 0.18
#: Seconds of AWS time between two publications of a check's metrics.
METRIC_PERIOD = 60.0


@dataclass
class CheckerView:
    """One checker region's view of one health check (FailureThreshold applied)."""

    region: str
    address: str
    healthy: bool = True  # a new check counts as healthy until proven otherwise
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last: Observation | None = None
    last_failure: Observation | None = None

    def record(self, observation: Observation, threshold: int) -> None:
        self.last = observation
        if observation.success:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            if not self.healthy and self.consecutive_successes >= threshold:
                self.healthy = True
        else:
            self.last_failure = observation
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            if self.healthy and self.consecutive_failures >= threshold:
                self.healthy = False

    def report(self, observation: Observation) -> dict[str, Any]:
        return {
            "Region": self.region,
            "IPAddress": self.address,
            "StatusReport": {
                "Status": observation.status,
                "CheckedTime": datetime.fromtimestamp(observation.checked_at, UTC),
            },
        }


@dataclass
class CheckState:
    """Route 53's view of one health check."""

    id: str
    config: route53.HealthCheckConfig
    views: list[CheckerView] = field(default_factory=list)
    reported: bool | None = None  # the published effective status
    #: The lowest effective status since the last metric datapoint (None: none yet).
    minute_low: bool | None = None
    evaluations: int = 0
    workers: list[Worker] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.views:
            self.views = checker_views(self.config)


def checker_views(config: route53.HealthCheckConfig) -> list[CheckerView]:
    """One view per checker region the check runs in (its ``Regions``, else all eight)."""
    if config.type in ("CALCULATED", "CLOUDWATCH_METRIC"):
        return []  # no checker probes them
    wanted = set(config.regions)
    return [CheckerView(r, a) for r, a in CHECKERS if not wanted or r in wanted]


class HealthChecker:
    """Runs the checkers' workers for every health check and publishes their status."""

    def __init__(
        self,
        events: EventLog,
        clock: LabClock,
        label: Callable[[str], str | None],
        *,
        draws: Draws | None = None,
        publish_metric: Callable[
            [str, bool, float | None, float], None
        ] = cloudwatch.put_health_check_metrics,
        resolve: endpointprobe.Resolve | None = None,
    ) -> None:
        self._resolve = resolve  # FQDN checks: names resolve through the lab's DNS
        self._events = events
        self._clock = clock
        self._draws = draws or Draws(new_seed())
        self._label = label
        self._publish_metric = publish_metric
        self._states: dict[str, CheckState] = {}
        self._lock = threading.Lock()
        self._reconciler = Worker("health-checks", self._reconcile, 0.25, events)
        #: CloudWatch's alarm evaluation, which CLOUDWATCH_METRIC checks (and anyone) read
        self.alarms = AlarmEvaluator(clock, events)

    def start(self) -> None:
        self._reconcile()
        self._reconciler.start()
        self.alarms.start()

    def stop(self) -> None:
        self.alarms.stop()
        workers = [self._reconciler]
        for state in list(self._states.values()):
            workers.extend(state.workers)
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.join()

    # -- status ------------------------------------------------------------------------

    def is_healthy(self, health_check_id: str) -> bool:
        """The effective status Route 53 routes on (as published, never ahead of the log)."""
        state = self._states.get(health_check_id)
        if state is None or state.reported is None:
            return True  # unknown or not yet evaluated: Route 53 treats as healthy
        return state.reported

    def observations(self, health_check_id: str) -> list[dict[str, Any]]:
        """``HealthCheckObservations``: each checker's latest raw observation."""
        state = self._states.get(health_check_id)
        if state is None:
            return []
        return [v.report(v.last) for v in state.views if v.last is not None]

    def last_failures(self, health_check_id: str) -> list[dict[str, Any]]:
        """``HealthCheckObservations``: each checker's latest failed observation."""
        state = self._states.get(health_check_id)
        if state is None:
            return []
        return [v.report(v.last_failure) for v in state.views if v.last_failure is not None]

    def wait_evaluated(self, health_check_id: str, timeout: float) -> bool:
        """Block until every checker has evaluated the check at least once (readiness)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self._states.get(health_check_id)
            if (
                state is not None
                and state.reported is not None
                and all(v.last for v in state.views)
            ):
                return True
            time.sleep(0.02)
        return False

    def workers(self) -> list[Worker]:
        """Every worker the checker runs now (for tests and status)."""
        found = [self._reconciler]
        for state in list(self._states.values()):
            found.extend(state.workers)
        return found

    # -- evaluation ---------------------------------------------------------------------

    def _effective(self, state: CheckState) -> bool:
        config = state.config
        if config.disabled:
            return not config.inverted
        if config.type == "CALCULATED":
            threshold = config.health_threshold
            if threshold is None:
                threshold = len(config.children)
            raw = sum(self.is_healthy(c) for c in config.children) >= threshold
        elif config.type == "CLOUDWATCH_METRIC":
            last = None if state.reported is None else state.reported != config.inverted
            raw = alarmcheck.healthy(config, last)
        else:
            healthy = sum(1 for v in state.views if v.healthy)
            raw = healthy / len(state.views) > HEALTHY_FRACTION
        return (not raw) if config.inverted else raw

    def _publish(self, state: CheckState) -> None:
        """Evaluate the effective status; record a flip.

        Under the check's lock, so that flips seen by two checkers at once reach the log
        and DNS in the order they happened.
        """
        with state.lock:
            reported = self._effective(state)
            state.evaluations += 1
            changed = reported != state.reported
            previous, state.reported = state.reported, reported
            state.minute_low = (
                reported if state.minute_low is None else (state.minute_low and reported)
            )
            if changed:
                config = state.config
                self._events.emit(
                    "health",
                    health_check_id=state.id,
                    region=self._label(state.id),
                    healthy=reported,
                    previous=previous,
                    inverted=config.inverted,
                    disabled=config.disabled,
                    checkers_healthy=sum(1 for v in state.views if v.healthy),
                    checkers=len(state.views),
                    detail=_detail(state),
                )

    def _publish_minute(self, state: CheckState, minute_start: float) -> None:
        """The metrics of the AWS minute that began at ``minute_start`` (one datapoint each)."""
        with state.lock:
            low, state.minute_low = state.minute_low, state.reported
            views = state.views
            percentage = 100.0 * sum(1 for v in views if v.healthy) / len(views) if views else None
        if low is None:
            return  # not evaluated yet: Route 53 publishes nothing either
        self._publish_metric(state.id, low, percentage, minute_start)

    # -- workers -------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Start workers for each new health check; stop those of deleted ones; restart
        those whose checker regions changed."""
        configs = {c.id: c for c in route53.health_checks()}
        with self._lock:
            for hc_id, config in configs.items():
                state = self._states.get(hc_id)
                if state is not None and state.config.regions != config.regions:
                    for worker in state.workers:
                        worker.stop()
                    state = CheckState(hc_id, config, reported=state.reported)
                    self._states[hc_id] = state
                    self._start_workers(state)
                elif state is None:
                    state = CheckState(hc_id, config)
                    self._states[hc_id] = state
                    self._start_workers(state)
                else:
                    state.config = config
            for gone in set(self._states) - set(configs):
                for worker in self._states.pop(gone).workers:
                    worker.stop()
        return None

    def _start_workers(self, state: CheckState) -> None:
        state.workers = [*self._workers_for(state), self._metric_worker(state)]
        for worker in state.workers:
            worker.start()

    def _interval(self, state: CheckState) -> float:
        return self._clock.health_check_interval(state.config.request_interval)

    def _metric_worker(self, state: CheckState) -> Worker:
        period = self._clock.aws_to_lab(METRIC_PERIOD)
        started = [time.time()]

        def publish() -> None:
            now = time.time()
            self._publish_minute(state, started[0])
            started[0] = now

        return Worker(
            f"hc-{state.id[:8]}-metrics", publish, period, self._events, first_delay=period
        )

    def _workers_for(self, state: CheckState) -> list[Worker]:
        short = state.id[:8]
        if state.config.type in ("CALCULATED", "CLOUDWATCH_METRIC"):

            def evaluate() -> None:
                state.config = route53.health_check(state.id) or state.config
                self._publish(state)

            return [
                Worker(
                    f"hc-{short}-{state.config.type.lower()}",
                    evaluate,
                    lambda: self._interval(state) / len(CHECKERS),
                    self._events,
                )
            ]
        phases = self._draws.stream("checker-phase")
        workers = []
        for view in state.views:
            # uncoordinated checkers: each starts at its own moment within an interval
            offset = phases.uniform(0.0, self._interval(state))
            workers.append(
                Worker(
                    f"hc-{short}-{view.region}",
                    self._checker_step(state, view),
                    lambda: self._interval(state),
                    self._events,
                    first_delay=offset,
                )
            )
        return workers

    def _checker_step(self, state: CheckState, view: CheckerView) -> Callable[[], float | None]:
        def step() -> float | None:
            config = route53.health_check(state.id) or state.config  # read at every probe
            state.config = config
            observation = probe(
                config, source=view.address, clock=self._clock, resolve=self._resolve
            )
            with state.lock:
                view.record(observation, config.failure_threshold)
            self._publish(state)  # a flip is published the moment an observation causes it
            # RequestInterval runs from the endpoint's response (or the probe's time-out)
            return self._interval(state)

        return step


def _detail(state: CheckState) -> str:
    config = state.config
    if config.type == "CALCULATED":
        return "calculated from child health checks"
    if config.type == "CLOUDWATCH_METRIC":
        region, name = config.alarm or ("?", "?")
        return f"follows CloudWatch alarm {name} ({region})"
    healthy = sum(1 for v in state.views if v.healthy)
    latest = max((v.last for v in state.views if v.last), key=lambda o: o.checked_at, default=None)
    text = f"{healthy} of {len(state.views)} checkers healthy"
    if latest is not None:
        text += f"; latest: {latest.status}"
    if config.disabled:
        text += "; disabled and inverted (unhealthy)" if config.inverted else "; disabled (healthy)"
    elif config.inverted:
        text += "; inverted"
    return text
