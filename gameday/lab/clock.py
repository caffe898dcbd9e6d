"""The lab's one clock: every AWS-side duration runs ``speed`` times faster than in AWS.

A drill in the lab is worth something only if each phase it measures can be scaled back to
what the same phase takes in a real account. So the lab has one speed factor (default 10;
1 rehearses in real time) and every duration AWS owns goes through :class:`LabClock`:

* Route 53 health checks: the ``RequestInterval`` in the control plane (10 or 30 AWS
  seconds) and the checker's timeouts (HTTP/HTTPS: 4 s to connect, 2 s for the status
  line after connecting; TCP: 10 s to connect), the interval counted from the response;
* record TTLs as the DNS server serves them (the control plane keeps the AWS TTL). DNS
  TTLs are whole seconds, so a TTL is served faithfully only when ``speed`` divides it:
  the lab refuses a speed that would distort its own TTLs (:func:`ttl_problem`, checked
  by ``LabConfig.validate``) and a record whose TTL it would distort (Route 53's
  ``InvalidInput``, naming the lab's limit), never serving a silently longer TTL;
* Aurora global-database failover and switchover durations, the old primary's resync;
* Secrets Manager replica status changes;
* FIS action durations (``PT5M`` runs 30 lab seconds at speed 10);
* point-in-time restores.

The lab-only knobs (the replication delay of ``gameday lab up --lag`` and ``gameday lab
set-lag``) are written in AWS seconds too and served divided by the speed.

The drill runs the durations it declares (objectives, windows, pauses, the load's think
times and timeouts) at 1/speed as well (:mod:`gameday.drill.phases`), and its report gives
AWS seconds (:mod:`gameday.reports.clock`). What is not scaled: the time gameday's own code
and the lab's processes take to run (their API calls, their ticks); the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Lab seconds are this many times shorter than AWS seconds unless configured otherwise.
DEFAULT_SPEED = 10.0

#: Route 53's health checker, in AWS seconds ("How Amazon Route 53 determines whether a
#: health check is healthy": an HTTP/HTTPS endpoint must accept the TCP connection within
#: four seconds and answer with a status within two seconds after connecting; a TCP check
#: must connect within ten seconds).
HTTP_CONNECT_TIMEOUT = 4.0
HTTP_RESPONSE_TIMEOUT = 2.0
TCP_CONNECT_TIMEOUT = 10.0


class LabClockError(ValueError):
    """A speed factor the lab cannot run at."""


def faithful_speeds(ttls: list[int]) -> list[float]:
    """Whole speeds from 1 up at which every one of ``ttls`` is served faithfully."""
    whole = math.gcd(*[t for t in ttls if t > 0]) if any(t > 0 for t in ttls) else 1
    return [float(d) for d in range(1, whole + 1) if whole % d == 0]


def check_speed(speed: object) -> float:
    """``speed`` as a float, or :class:`LabClockError` saying what a valid one is."""
    if (
        isinstance(speed, bool)
        or not isinstance(speed, int | float)
        or not math.isfinite(speed)
        or speed <= 0
    ):
        raise LabClockError(
            f"speed must be a finite number > 0 (10 runs AWS durations ten times faster, "
            f"1 in real time), got {speed!r}"
        )
    return float(speed)


@dataclass(frozen=True)
class ProbeTimeouts:
    """How long one health-check probe may take, in lab seconds."""

    connect: float
    response: float


@dataclass(frozen=True)
class LabClock:
    """Converts AWS durations to lab durations and back (``speed`` AWS s per lab s)."""

    speed: float = DEFAULT_SPEED

    def __post_init__(self) -> None:
        object.__setattr__(self, "speed", check_speed(self.speed))

    def aws_to_lab(self, seconds: float) -> float:
        """Lab seconds that stand for ``seconds`` of AWS time."""
        return seconds / self.speed

    def lab_to_aws(self, seconds: float) -> float:
        """AWS seconds that ``seconds`` of lab time stand for."""
        return seconds * self.speed

    def ttl_served(self, ttl: int) -> int:
        """The TTL the lab's DNS serves for a record whose TTL is ``ttl`` in Route 53.

        DNS TTLs are whole seconds: the scaled TTL is rounded up and never below 1 s unless
        the record says 0 (a zero TTL stays zero, as resolvers must not cache it).
        """
        if ttl <= 0:
            return 0
        return max(1, math.ceil(ttl / self.speed))

    def ttl_problem(self, ttl: int) -> str | None:
        """Why ``ttl`` cannot be served faithfully at this speed (None: it can)."""
        if ttl <= 0:
            return None
        served = ttl / self.speed
        if served >= 1 and abs(served - round(served)) < 1e-9:
            return None
        return (
            f"a TTL of {ttl} s at speed {self.speed:g} would be {served:g} lab seconds, but "
            f"DNS TTLs are whole seconds: it would be served as {self.ttl_served(ttl)} s, "
            f"that is {self.ttl_served(ttl) * self.speed:g} AWS s"
        )

    def health_check_interval(self, request_interval: float) -> float:
        """Lab seconds between the end of one probe and the start of the next."""
        return self.aws_to_lab(request_interval)

    def probe_timeouts(self, check_type: str) -> ProbeTimeouts:
        """Route 53's probe timeouts for ``check_type`` (HTTP, HTTPS, TCP, ...) in lab seconds."""
        if check_type.upper().startswith("TCP"):
            return ProbeTimeouts(self.aws_to_lab(TCP_CONNECT_TIMEOUT), 0.0)
        return ProbeTimeouts(
            self.aws_to_lab(HTTP_CONNECT_TIMEOUT), self.aws_to_lab(HTTP_RESPONSE_TIMEOUT)
        )
