"""The Route 53 health checker of the lab: real probes, Route 53's rules.

For each health check in the control plane, a thread probes its target every
``RequestInterval`` (on the lab's compressed clock) and keeps Route 53's state machine:
a healthy check turns unhealthy after ``FailureThreshold`` consecutive failed probes and
healthy again after as many consecutive successes. ``Inverted`` and ``Disabled`` are read
from the control plane at every evaluation: inverted flips the result, disabled makes the
check healthy whatever the probes say (exactly as in AWS, where a disabled check never
triggers a failover). CALCULATED checks combine their children's status.

The observations feed ``route53.get_health_check_status`` and the DNS server.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gameday.lab.controlplane import motoext
from gameday.lab.events import EventLog
from gameday.lab.network import endpointprobe
from gameday.netutil import is_loopback

#: The checker region named in observations (one real prober stands for Route 53's fleet).
CHECKER_REGION = "us-east-1"


@dataclass
class Observation:
    """One probe's outcome."""

    success: bool
    detail: str
    checked_at: float


@dataclass
class CheckState:
    """Route 53's view of one health check."""

    id: str
    healthy: bool = True  # before its first evaluations a new check counts as healthy
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last: Observation | None = None
    reported: bool | None = None  # the last reported (inverted/disabled-adjusted) status
    config: motoext.HealthCheckConfig | None = None
    evaluations: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)


class HealthChecker:
    """Runs one probing thread per health check and answers their status."""

    def __init__(
        self,
        events: EventLog,
        time_scale: float,
        label: Callable[[str], str | None],
        dropped: Callable[[str], bool] = lambda address: False,
        resolve: endpointprobe.Resolve | None = None,
    ) -> None:
        self._resolve = resolve
        self._events = events
        self._scale = time_scale
        self._label = label
        self._dropped = dropped
        self._states: dict[str, CheckState] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._reconciler = threading.Thread(
            target=self._reconcile_loop, name="hc-reconcile", daemon=True
        )

    def start(self) -> None:
        self._reconcile()
        self._reconciler.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in [self._reconciler, *self._threads.values()]:
            if thread.is_alive():
                thread.join(timeout=5)

    # -- status ------------------------------------------------------------------------

    def is_healthy(self, health_check_id: str) -> bool:
        """The status Route 53 uses for routing (inverted/disabled applied)."""
        state = self._states.get(health_check_id)
        if state is None or state.reported is None:
            return True  # unknown or not yet evaluated: Route 53 treats as healthy
        # The published status (what the ground-truth log says), changed only at an
        # evaluation: DNS never routes on a status the event log has not recorded.
        return state.reported

    def observations(self, health_check_id: str) -> list[dict[str, Any]]:
        """``HealthCheckObservations`` as GetHealthCheckStatus returns them."""
        state = self._states.get(health_check_id)
        if state is None or state.last is None:
            return []
        healthy = self.is_healthy(health_check_id)
        outcome = "Success" if healthy else "Failure"
        detail = state.last.detail
        if state.config and state.config.disabled:
            verdict = "unhealthy (inverted)" if state.config.inverted else "healthy"
            detail = (
                f"Health checking is disabled; Route 53 considers the endpoint {verdict} ({detail})"
            )
        elif state.config and state.config.inverted:
            detail = f"Inverted health check; the probe result was: {detail}"
        return [
            {
                "Region": CHECKER_REGION,
                "IPAddress": state.config.ip_address if state.config else None,
                "StatusReport": {
                    "Status": f"{outcome}: {detail}",
                    "CheckedTime": datetime.fromtimestamp(state.last.checked_at, UTC),
                },
            }
        ]

    def wait_evaluated(self, health_check_id: str, timeout: float) -> bool:
        """Block until the check has been evaluated at least once (readiness)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self._states.get(health_check_id)
            if state is not None and state.evaluations > 0:
                return True
            time.sleep(0.02)
        return False

    def _reported(self, state: CheckState) -> bool:
        config = state.config
        if config is None:
            return True
        if config.disabled:
            # Disabled is healthy; inverted too, it is unhealthy: AWS's way to stop routing
            # to a resource whose check is disabled.
            return not config.inverted
        if config.type == "CALCULATED":
            healthy_children = sum(self.is_healthy(c) for c in config.children)
            raw = healthy_children >= (config.health_threshold or len(config.children))
        else:
            raw = state.healthy
        return (not raw) if config.inverted else raw

    # -- threads -----------------------------------------------------------------------

    def _reconcile_loop(self) -> None:
        while not self._stop.wait(0.25):
            self._reconcile()

    def _reconcile(self) -> None:
        """Start a thread for each new health check; forget deleted ones."""
        configs = {c.id: c for c in motoext.health_checks()}
        with self._lock:
            for hc_id, config in configs.items():
                if hc_id not in self._states:
                    self._states[hc_id] = CheckState(hc_id, config=config)
                    thread = threading.Thread(
                        target=self._run, args=(hc_id,), name=f"hc-{hc_id[:8]}", daemon=True
                    )
                    self._threads[hc_id] = thread
                    thread.start()
            for gone in set(self._states) - set(configs):
                self._states.pop(gone, None)
                self._threads.pop(gone, None)

    def _config(self, hc_id: str) -> motoext.HealthCheckConfig | None:
        for config in motoext.health_checks():
            if config.id == hc_id:
                return config
        return None

    def _run(self, hc_id: str) -> None:
        next_due = time.monotonic()
        while not self._stop.is_set():
            config = self._config(hc_id)
            state = self._states.get(hc_id)
            if config is None or state is None:
                return  # deleted
            state.config = config
            if config.type != "CALCULATED":
                observation = probe(
                    config,
                    timeout=self._probe_timeout(config),
                    dropped=self._dropped,
                    resolve=self._resolve,
                )
                self._record(state, observation)
            else:
                state.last = Observation(True, "Calculated from child health checks", time.time())
            state.evaluations += 1
            self._publish(state)
            next_due += config.request_interval * self._scale
            delay = next_due - time.monotonic()
            if delay < 0:
                next_due = time.monotonic()
                delay = 0
            if self._stop.wait(delay):
                return

    def _probe_timeout(self, config: motoext.HealthCheckConfig) -> float:
        # Route 53 allows 4 s to connect and 2 s to answer; the lab compresses like intervals
        # but never below what a loopback round trip needs.
        return max(0.2, min(2.0, 0.8 * config.request_interval * self._scale))

    def _record(self, state: CheckState, observation: Observation) -> None:
        state.last = observation
        assert state.config is not None
        threshold = state.config.failure_threshold
        if observation.success:
            state.consecutive_successes += 1
            state.consecutive_failures = 0
            if not state.healthy and state.consecutive_successes >= threshold:
                state.healthy = True
        else:
            state.consecutive_failures += 1
            state.consecutive_successes = 0
            if state.healthy and state.consecutive_failures >= threshold:
                state.healthy = False

    def _publish(self, state: CheckState) -> None:
        reported = self._reported(state)
        if reported != state.reported:
            previous, state.reported = state.reported, reported
            config = state.config
            self._events.emit(
                "health",
                health_check_id=state.id,
                region=self._label(state.id),
                healthy=reported,
                previous=previous,
                inverted=bool(config and config.inverted),
                disabled=bool(config and config.disabled),
                detail=state.last.detail if state.last else None,
            )
        with state.changed:
            state.changed.notify_all()


def probe(
    config: motoext.HealthCheckConfig,
    timeout: float,
    dropped: Callable[[str], bool] = lambda address: False,
    resolve: endpointprobe.Resolve | None = None,
) -> Observation:
    """Probe a health check's endpoint once, as Route 53's checkers do.

    ``dropped`` tells whether the lab black-holes an address right now (a NACL deny, an FIS
    disruption). A region process accepts TCP connections even then (it only stops
    answering), so a TCP check asks the lab, as a dropped SYN would have told a real checker.
    """
    now = time.time()
    if config.type in ("HTTPS", "HTTPS_STR_MATCH") or (not config.ip_address and config.fqdn):
        return Observation(*endpointprobe.probe_route53(config, timeout, resolve, dropped), now)
    if not config.ip_address:
        return Observation(
            False, "No IP address configured (the lab does not resolve FQDN checks)", now
        )
    if not is_loopback(config.ip_address):
        # Network hygiene: the lab never sends a probe off this machine.
        return Observation(
            False, f"The lab only probes 127.0.0.0/8; {config.ip_address} was not probed", now
        )
    if config.type == "TCP":
        if dropped(config.ip_address):
            return Observation(False, "Failure to connect: connection timed out", now)
        try:
            with socket.create_connection((config.ip_address, config.port), timeout=timeout):
                return Observation(True, "TCP connection established", now)
        except OSError as exc:
            return Observation(False, f"Failure to connect: {exc}", now)
    if config.type not in ("HTTP", "HTTP_STR_MATCH"):
        return Observation(False, f"The lab does not probe {config.type} health checks", now)
    conn = http.client.HTTPConnection(config.ip_address, config.port, timeout=timeout)
    try:
        conn.request(
            "GET",
            config.resource_path,
            headers={"User-Agent": "Amazon-Route53-Health-Check-Service"},
        )
        response = conn.getresponse()
        body = response.read(5120)
    except TimeoutError:
        return Observation(
            False,
            "Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall.",
            now,
        )
    except OSError as exc:
        return Observation(False, f"Failure to connect: {exc}", now)
    finally:
        conn.close()
    status = f"HTTP Status Code {response.status}, {response.reason}"
    if not 200 <= response.status < 400:
        return Observation(False, status, now)
    if config.type == "HTTP_STR_MATCH" and (config.search_string or "") not in body.decode(
        "utf-8", "replace"
    ):
        return Observation(False, f"{status}. Search string not found in the response body", now)
    return Observation(True, f"{status}", now)
