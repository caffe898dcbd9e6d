"""Replication probes: how long a write in one region takes to be readable in another."""

import json
import time
import uuid
from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.activity import fail
from gameday.probes.http import _check_url, _request

__all__ = ["replication_lag"]


@registry.probe()
def replication_lag(
    source_url: str,
    target_url: str,
    path: str = "/orders",
    timeout: float = 30.0,
    interval: float = 0.05,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Write a canary in one region and time until it is readable in the other.

    ``POST {source_url}{path}`` with ``{"id": "<canary>"}`` (the writer region), then
    ``GET {target_url}{path}/<canary>`` every ``interval`` seconds until it answers 200 or
    ``timeout`` seconds pass. The lag is measured from the moment the write is sent (before
    the source commits it) to the first successful read: never below the true lag, above it
    by at most the write's round trip plus ``interval`` and one read. (Measured from the
    acknowledgement's arrival it came out short of the lag by the response's latency.)

    Returns ``canary_id``, ``replicated`` (bool), ``lag_seconds`` (null if not replicated
    in time), ``source_region`` and ``target_region`` (``X-Region`` headers), ``reads`` and
    ``error`` (why the write failed, if it did).
    """
    _check_url(source_url)
    _check_url(target_url)
    if float(timeout) <= 0 or float(interval) <= 0:
        raise fail("Bad `timeout` or `interval`: give numbers of seconds above 0.")
    canary = f"gameday-canary-{uuid.uuid4().hex}"
    sent = time.monotonic()  # before the commit: the lag is never measured short
    write = _request(
        source_url.rstrip("/") + path,
        method="POST",
        body=json.dumps({"id": canary}).encode(),
        timeout=min(float(timeout), 10.0),
        **{"Content-Type": "application/json"},
    )
    result: dict[str, Any] = {
        "canary_id": canary,
        "replicated": False,
        "lag_seconds": None,
        "source_region": write["region"],
        "target_region": None,
        "reads": 0,
        "error": None,
    }
    if write["status"] not in (200, 201):
        result["error"] = (
            f"canary write answered {write['status']}" if write["status"] else write["error"]
        )
        return result
    acked = time.monotonic()
    deadline = acked + float(timeout)
    read_url = f"{target_url.rstrip('/')}{path}/{canary}"
    while True:
        read = _request(read_url, timeout=max(0.1, min(5.0, deadline - time.monotonic())))
        result["reads"] += 1
        result["target_region"] = read["region"] or result["target_region"]
        if read["status"] == 200:
            result.update(replicated=True, lag_seconds=round(time.monotonic() - sent, 4))
            return result
        if time.monotonic() + float(interval) > deadline:
            return result
        time.sleep(float(interval))
