"""Supervised workers: every periodic part of the lab runs under one small abstraction.

Health checkers, DNS publication, the replication link, failover requests and the fault
reconciler (which also runs the FIS timelines' effects) are loops. A loop that dies
silently leaves the lab answering with stale state, and every RTO measured on it becomes
fiction. So none of them owns a bare thread: each is a :class:`Worker` that calls one
``step`` per period, and when a step raises,

* the exception becomes a ``lab-error`` event with the component, the error and its
  traceback (the ground truth says the lab misbehaved, and when);
* the worker restarts its loop after a short backoff (doubling per consecutive failure up
  to :data:`MAX_BACKOFF`), so the lab goes on with fresh state;
* :func:`lab_health` (what ``gameday lab status`` shows) reports the lab as degraded with
  the reason.

Event listeners get the same treatment from :class:`gameday.lab.events.EventLog`, the way
Locust's ``EventHook.fire`` guards its listeners; both record a failure with
:func:`gameday.lab.events.report_error` (this module imports the event log, never the
reverse).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gameday.lab.events import Event, EventLog, report_error

log = logging.getLogger("gameday.lab")

#: First pause before a failed step runs again (seconds), and the longest one.
BACKOFF = 0.05
MAX_BACKOFF = 1.0

#: A step returns the delay until the next one, or None for the worker's period.
Step = Callable[[], float | None]


class Worker:
    """A supervised periodic loop: one ``step`` per period on its own daemon thread."""

    def __init__(
        self,
        name: str,
        step: Step,
        period: float | Callable[[], float],
        events: EventLog | None,
        *,
        first_delay: float = 0.0,
    ) -> None:
        self.name = name
        self._step = step
        self._period = period if callable(period) else (lambda: period)
        self._events = events
        self._first_delay = first_delay
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.failures = 0  # every failed step since start
        self.last_error: str | None = None

    def start(self) -> Worker:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the loop to end: at once if it is waiting for its next step, after the step
        under way otherwise (a step that waits on a queue waits at most half a second)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Run the next step now instead of after the rest of the period: a producer of the
        step's work calls it, so the loop can sleep long while there is none."""
        self._wake.set()

    def join(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        delay = self._first_delay
        consecutive = 0
        while True:
            self._wake.wait(max(0.0, delay))
            self._wake.clear()  # a wake from here on runs the next step (it sees its work)
            if self._stop.is_set():
                return
            try:
                wanted = self._step()
            except Exception as exc:
                consecutive += 1
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = min(MAX_BACKOFF, BACKOFF * 2 ** (consecutive - 1))
                report_error(self._events, self.name, exc)
                continue
            consecutive = 0
            delay = self._period() if wanted is None else wanted


@dataclass(frozen=True)
class ComponentError:
    """A lab component that failed at least once during this lab's life."""

    component: str
    count: int
    last_error: str
    last_time: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "count": self.count,
            "last_error": self.last_error,
            "last_time": self.last_time,
        }


def lab_health(events: list[Event]) -> dict[str, Any]:
    """``{"status": "ok"|"degraded", "errors": [...], "reason": str|None}`` from the events.

    A lab whose loop or listener failed even once is degraded for the rest of its life:
    its worker restarted, but the ground truth around that moment may be incomplete, and a
    measurement taken across it deserves a second look.
    """
    by_component: dict[str, ComponentError] = {}
    for event in events:
        if event.get("kind") != "lab-error":
            continue
        name = str(event.get("component", "?"))
        previous = by_component.get(name)
        by_component[name] = ComponentError(
            name,
            (previous.count if previous else 0) + 1,
            str(event.get("error", "")),
            float(event["time"]),
        )
    errors = sorted(by_component.values(), key=lambda e: e.last_time)
    reason = (
        "; ".join(f"{e.component} failed {e.count}x (last: {e.last_error})" for e in errors) or None
    )
    return {
        "status": "degraded" if errors else "ok",
        "reason": reason,
        "errors": [e.to_dict() for e in errors],
    }
