"""Chaos Toolkit probes over the live load ledger: what users are experiencing right now.

Usable in a steady-state hypothesis while the method runs, e.g.::

    {"type": "probe", "name": "users-mostly-served",
     "tolerance": {"type": "range", "range": [0.0, 0.01]},
     "provider": {"type": "python", "module": "gameday.probes.load", "func": "error_rate",
                  "arguments": {"window_seconds": 10}}}

The ledger path comes from the ``ledger_path`` argument, else the configuration key
``gameday_ledger``, else the environment variable ``GAMEDAY_LEDGER``. Only the tail of the
file is read, so a probe costs the same on a long drill as on a short one. These functions
only read; they never import gevent or locust.
"""

from __future__ import annotations

import os
from typing import Any

from gameday import registry
from gameday.load.ledger import recent_window

__all__ = ["error_rate", "load_window", "region_share"]


def _ledger(ledger_path: str | None, configuration: dict[str, Any] | None) -> str:
    path = (
        ledger_path
        or (configuration or {}).get("gameday_ledger")
        or os.environ.get("GAMEDAY_LEDGER")
    )
    if not path:
        from chaoslib.exceptions import ActivityFailed

        raise ActivityFailed(
            "no load ledger given: pass ledger_path, set configuration 'gameday_ledger' "
            "or export GAMEDAY_LEDGER."
        )
    if not os.path.exists(path):
        from chaoslib.exceptions import ActivityFailed

        raise ActivityFailed(f"load ledger {path} does not exist: is the load running?")
    return str(path)


@registry.probe()
def error_rate(
    window_seconds: float = 10.0,
    ledger_path: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Share of the requests that ended in the last ``window_seconds`` which failed.

    1.0 when no request ended in the window: nobody was served (every user is stuck in a
    timeout, or the load is not running).
    """
    return recent_window(_ledger(ledger_path, configuration), window_seconds).error_rate


@registry.probe()
def region_share(
    window_seconds: float = 10.0,
    ledger_path: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Share of the window's responses served by each region (from the region header)."""
    return recent_window(_ledger(ledger_path, configuration), window_seconds).region_share()


@registry.probe()
def load_window(
    window_seconds: float = 10.0,
    ledger_path: str | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything at once: requests, errors, error rate, per-region counts and shares."""
    stats = recent_window(_ledger(ledger_path, configuration), window_seconds)
    return {
        "window_seconds": window_seconds,
        "since": stats.since,
        "until": stats.until,
        "requests": stats.requests,
        "errors": stats.errors,
        "error_rate": stats.error_rate,
        "regions": dict(stats.regions),
        "region_share": stats.region_share(),
    }
