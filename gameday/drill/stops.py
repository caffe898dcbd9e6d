"""Stop conditions: the drill stops itself (and rolls back) when things go worse than planned.

Declared in the experiment's ``gameday`` extension, every duration in AWS seconds (on
the lab run at 1/speed, like every other duration a drill declares)::

    "stop_conditions": {
        "max_duration_seconds": 900,           # the whole drill, from its start
        "error_rate": {"above": 0.5, "for_seconds": 30},   # beyond the RTO objective
        "cloudwatch_alarms": ["orders-5xx", {"name": "db-cpu", "region": "us-west-2"}]
    }

* ``max_duration_seconds``: the drill stops when it has run that long. It also bounds
  every fault AWS can bound in time: an FIS action's ``duration`` is cut to it
  (:func:`bound_fis_duration`), so a lost machine leaves nothing impaired for longer.
* ``error_rate``: once the RTO objective has passed since the fault (t0), the drill stops
  when the failed share of the requests of the last ``for_seconds`` is above ``above``
  (the service is not recovering: holding the fault longer only hurts).
* ``cloudwatch_alarms``: the drill stops when one of the alarms (the primary region's
  unless named) is in ``ALARM`` (``cloudwatch.describe_alarms``), as AWS FIS stop
  conditions do.

The emergency-stop file (:func:`gameday.drill.abort.abort_file`) is watched by the same
thread. A trip calls :meth:`gameday.drill.signals.StopGuard.request` with kind
``stop-condition`` (or ``abort``) and the condition's name: the drill rolls back at once
and ``run.json`` / the journal record which condition tripped, when, and in what phase.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.drill import DrillError
from gameday.durations import MAX_DURATION_ENV, bound_fis_duration

__all__ = [
    "MAX_DURATION_ENV",
    "Alarm",
    "StopConditions",
    "StopWatcher",
    "bound_fis_duration",
    "lab_speed",
    "parse_stop_conditions",
]

logger = logging.getLogger("chaostoolkit")

KEY = "stop_conditions"

_ALLOWED = ("max_duration_seconds", "error_rate", "cloudwatch_alarms")


@dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm to watch (region None: the drill's primary region)."""

    name: str
    region: str | None = None


@dataclass(frozen=True)
class StopConditions:
    """The parsed ``stop_conditions`` (all optional; AWS seconds)."""

    max_duration_seconds: float | None = None
    error_rate_above: float | None = None
    error_rate_for_seconds: float | None = None
    alarms: tuple[Alarm, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_duration_seconds": self.max_duration_seconds,
            "error_rate": None
            if self.error_rate_above is None
            else {"above": self.error_rate_above, "for_seconds": self.error_rate_for_seconds},
            "cloudwatch_alarms": [a.__dict__ for a in self.alarms],
        }


def _bad(where: str, what: str, value: Any) -> DrillError:
    return DrillError(f"extensions[gameday].{KEY}.{where} must be {what}, got {value!r}.")


def _positive(where: str, value: Any, high: float = math.inf) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not (0 < value <= high) or value != value:
        bound = f"a number above 0 and at most {high:g}" if high != math.inf else "a number above 0"
        raise _bad(where, bound, value)
    return float(value)


def _alarm(index: int, item: Any) -> Alarm:
    if isinstance(item, str) and item.strip():
        return Alarm(item.strip())
    if isinstance(item, dict) and set(item) <= {"name", "region"}:
        name, region = item.get("name"), item.get("region")
        if isinstance(name, str) and name.strip() and (region is None or isinstance(region, str)):
            return Alarm(name.strip(), region)
    raise _bad(f"cloudwatch_alarms[{index}]", 'an alarm name or {"name": ..., "region": ...}', item)


def parse_stop_conditions(ext: Mapping[str, Any] | None) -> StopConditions:
    """The extension's ``stop_conditions``; DrillError naming the key on a bad value."""
    data = (ext or {}).get(KEY)
    if data is None:
        return StopConditions()
    if not isinstance(data, dict):
        raise DrillError(f"extensions[gameday].{KEY} must be an object, got {data!r}.")
    unknown = sorted(set(data) - set(_ALLOWED))
    if unknown:
        raise DrillError(
            f"extensions[gameday].{KEY} has unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(_ALLOWED)}."
        )
    limit = data.get("max_duration_seconds")
    max_duration = None if limit is None else _positive("max_duration_seconds", limit, 43_200)
    above = for_seconds = None
    rate = data.get("error_rate")
    if rate is not None:
        if not isinstance(rate, dict) or set(rate) != {"above", "for_seconds"}:
            raise _bad("error_rate", '{"above": <0..1>, "for_seconds": <seconds>}', rate)
        above = rate["above"]
        if not isinstance(above, int | float) or isinstance(above, bool) or not 0 <= above < 1:
            raise _bad("error_rate.above", "a ratio from 0 to below 1", above)
        for_seconds = _positive("error_rate.for_seconds", rate["for_seconds"], 3600)
    alarms = data.get("cloudwatch_alarms") or []
    if not isinstance(alarms, list):
        raise _bad("cloudwatch_alarms", "a list of alarm names", alarms)
    return StopConditions(
        max_duration,
        None if above is None else float(above),
        for_seconds,
        tuple(_alarm(i, a) for i, a in enumerate(alarms)),
    )


def lab_speed(configuration: Mapping[str, Any]) -> float:
    """AWS seconds per wall second of the target: the lab's ``speed``, 1 on AWS."""
    from gameday.activity import target_speed

    return target_speed(configuration)


class StopWatcher:
    """A thread checking the stop conditions and the emergency-stop file.

    ``trip(kind, condition, reason)`` is called once, from the watcher thread, for the
    first condition that holds; ``t0()`` gives the fault time (None before it)."""

    def __init__(
        self,
        conditions: StopConditions,
        *,
        started: float,
        speed: float,
        t0: Callable[[], float | None],
        requests: Path | None,
        abort_file: Path,
        alarm_state: Callable[[Alarm], str | None],
        rto_seconds: float | None,
        trip: Callable[[str, str, str], None],
        interval: float = 0.25,
    ) -> None:
        self.conditions = conditions
        self.started = started
        self.speed = speed
        self._t0 = t0
        self._requests = requests
        self._abort_file = abort_file
        self._alarm_state = alarm_state
        self._rto = rto_seconds
        self._trip = trip
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gameday-stop-watch", daemon=True)
        self._last_alarm_check = 0.0

    def start(self) -> StopWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                found = self.first_tripped(time.time())
            except Exception as exc:  # a watcher that dies silently would stop nothing
                logger.warning("gameday: checking the stop conditions failed: %s", exc)
                continue
            if found:
                self._trip(*found)
                return

    def first_tripped(self, now: float) -> tuple[str, str, str] | None:
        """(kind, condition, reason) of the first condition holding at ``now``, or None."""
        c = self.conditions
        if self._abort_file.exists():
            return ("abort", "abort_file", f"emergency stop file {self._abort_file} exists")
        if c.max_duration_seconds is not None:
            ran = (now - self.started) * self.speed
            if ran >= c.max_duration_seconds:
                return (
                    "stop-condition",
                    "max_duration",
                    f"the drill ran {ran:.0f} s, its maximum duration is "
                    f"{c.max_duration_seconds:g} s",
                )
        tripped = self._error_rate(now)
        if tripped:
            return tripped
        return self._alarms(now)

    def _error_rate(self, now: float) -> tuple[str, str, str] | None:
        c = self.conditions
        t0 = self._t0()
        if c.error_rate_above is None or c.error_rate_for_seconds is None or t0 is None:
            return None
        if self._requests is None:
            return None
        window = c.error_rate_for_seconds / self.speed
        since = t0 + (self._rto or 0.0) / self.speed
        if now - since < window:
            return None
        from gameday.load.ledger import recent_window

        stats = recent_window(self._requests, window)
        if stats.requests and stats.error_rate > c.error_rate_above:
            return (
                "stop-condition",
                "error_rate",
                f"the error rate was {stats.error_rate:.0%} over the last "
                f"{c.error_rate_for_seconds:g} s, {(self._rto or 0):g} s and more after the "
                f"fault (above {c.error_rate_above:.0%})",
            )
        return None

    def _alarms(self, now: float) -> tuple[str, str, str] | None:
        if not self.conditions.alarms or now - self._last_alarm_check < 1.0:
            return None
        self._last_alarm_check = now
        for alarm in self.conditions.alarms:
            if self._alarm_state(alarm) == "ALARM":
                where = f" in {alarm.region}" if alarm.region else ""
                return (
                    "stop-condition",
                    "cloudwatch_alarm",
                    f"alarm {alarm.name}{where} is in ALARM",
                )
        return None


def alarm_reader(
    configuration: Mapping[str, Any], secrets: Mapping[str, Any] | None
) -> Callable[[Alarm], str | None]:
    """``alarm -> state`` through ``cloudwatch.describe_alarms`` (read-only)."""
    from gameday.aws import client

    def state(alarm: Alarm) -> str | None:
        region = alarm.region or configuration.get("primary_region")
        found = client(
            "cloudwatch", region, configuration=configuration, secrets=secrets
        ).describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"]
        if not found:
            raise DrillError(f"CloudWatch alarm {alarm.name!r} does not exist in {region}")
        return str(found[0].get("StateValue"))

    return state
