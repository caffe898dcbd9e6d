"""The lab's ground-truth event log: what really happened, with wall-clock times.

The supervisor appends one JSON object per line (health flips, DNS answer changes, writer
changes, region processes starting and exiting, faults taking effect and ending, and
``lab-error`` when a part of the lab itself failed). Tests and `gameday lab status` read it
back to compare the harness's measurements with reality.

Listeners are called the way Locust's ``EventHook.fire`` calls them: each in its own
``try``; one that raises is logged and recorded as a ``lab-error`` event, and neither the
emitter nor the other listeners notice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = dict[str, Any]

log = logging.getLogger("gameday.lab")


def report_error(events: EventLog | None, component: str, exc: BaseException) -> dict[str, Any]:
    """Log ``exc`` and record it as a ``lab-error`` event (never raises)."""
    text = "".join(traceback.format_exception(exc))
    fields = {"component": component, "error": f"{type(exc).__name__}: {exc}", "traceback": text}
    log.error("lab component %s failed:\n%s", component, text)
    if events is not None:
        try:
            events.emit_quiet("lab-error", **fields)
        except Exception:  # the log itself is closed (shutdown): the logger has it
            log.exception("could not record the lab-error event")
    return fields


class EventLog:
    """Append-only JSONL event log (thread-safe, flushed per event)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")
        self._listeners: list[Callable[[Event], None]] = []

    def emit(self, kind: str, **fields: Any) -> Event:
        """Record an event now; returns it."""
        event = self.emit_quiet(kind, **fields)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:
                name = getattr(listener, "__qualname__", repr(listener))
                report_error(self, f"event listener {name} ({kind})", exc)
        return event

    def emit_quiet(self, kind: str, **fields: Any) -> Event:
        """Record an event without calling listeners (how a listener's failure is recorded)."""
        event: Event = {"time": time.time(), "kind": kind, **fields}
        line = json.dumps(event, sort_keys=True, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
        return event

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _is_event(value: Any) -> bool:
    """An object with a numeric ``time`` and a string ``kind``: the shape every event has."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("time"), int | float)
        and not isinstance(value.get("time"), bool)
        and isinstance(value.get("kind"), str)
    )


def read_events(
    path: str | Path, *, since: float | None = None, kind: str | None = None
) -> list[Event]:
    """Every event in the log at ``path`` (optionally only newer than ``since`` / of ``kind``)."""
    p = Path(path)
    if not p.exists():
        return []
    events = []
    # errors="replace": a damaged byte spoils its own line, never the whole log.
    with p.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line being written right now, or a damaged one
            if not _is_event(event):
                continue  # well-formed JSON that is not an event (a damaged log)
            if since is not None and event["time"] < since:
                continue
            if kind is not None and event["kind"] != kind:
                continue
            events.append(event)
    return events


def active_faults(events: list[Event]) -> list[Event]:
    """The ``fault`` events applied and not reverted since (what is impaired right now)."""
    active: dict[tuple[Any, ...], Event] = {}
    for event in events:
        if event["kind"] != "fault":
            continue
        key = tuple(event.get(k) for k in ("fault", "source", "region", "experiment_id", "action"))
        if event["state"] == "applied":
            active[key] = event
        else:
            active.pop(key, None)
    return list(active.values())


def served_data(events: list[dict[str, Any]], regions: list[str], home: str) -> dict[str, str]:
    """The data each region's application serves, from the ``cut-over`` events the lab's
    restorer records: its own member of the global database (``home``) or a restored
    cluster."""
    serving = dict.fromkeys(regions, home)
    for event in events:
        if event.get("kind") == "cut-over" and event.get("region") in serving:
            cluster = str(event.get("cluster"))
            serving[str(event["region"])] = home if cluster == "home" else cluster
    return serving
