"""Data probes: how many records of a bad-data batch each region's service serves.

Read-only, through the service's own API (``POST /orders/lookup``), so they see what users
would see: before a restore the batch is in the writer and, once replicated, in the
recovery region too (failing over would not help); after the cut-over, in neither.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chaoslib.types import Configuration, Secrets

from gameday import activity as s
from gameday import registry
from gameday.baddata import batch_ids
from gameday.probes.http import _check_url, _request

__all__ = ["corrupted_records"]


def _count(url: str, ids: list[str], timeout: float) -> dict[str, Any]:
    answer = _request(
        _check_url(url).rstrip("/") + "/orders/lookup", method="POST",
        body=json.dumps({"ids": ids}).encode(), timeout=timeout,
        **{"Content-Type": "application/json"},
    )  # fmt: skip
    if answer["status"] != 200:
        return {"url": url, "region": answer["region"], "corrupted": None,
                "error": str(answer["status"] or answer["error"])}  # fmt: skip
    found = json.loads(answer["body"])["found"]
    return {"url": url, "region": answer["region"], "corrupted": len(found), "error": None}


@registry.probe()
def corrupted_records(
    urls: list[str],
    batch: str,
    count: int = 10,
    wait_for: str | None = None,
    timeout: float = 30.0,
    interval: float = 0.1,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Count the records of bad-data ``batch`` each region's service serves.

    Without ``wait_for`` it looks once. With ``wait_for="all"`` it looks every ``interval``
    seconds until every region serves the whole batch (the corruption has replicated), with
    ``"none"`` until no region serves any of it, for at most ``timeout`` seconds; then it
    answers with what it saw last (``settled`` false). ``timeout``, ``interval`` and
    ``elapsed_seconds`` are AWS seconds (on the lab, waited at 1/speed); the per-request
    HTTP timeout (at most 5 s) is this machine's.

    Returns ``batch``, ``regions`` (one entry per URL: ``url``, ``region``, ``corrupted``,
    ``error``), ``total`` (null if a region did not answer), ``settled``, ``elapsed_seconds``
    and ``seen_at``.
    """
    if not isinstance(urls, list) or not urls:
        raise s.fail("Bad `urls`: give a list of the regions' service endpoints.")
    if wait_for not in (None, "all", "none"):
        raise s.fail(f"Bad `wait_for` {wait_for!r}: give 'all', 'none' or leave it out.")
    ids = batch_ids(str(s.require(batch, "batch", "the bad-data batch name")), int(count))
    speed = s.target_speed(configuration)  # AWS seconds, waited at 1/speed on the lab
    started = time.monotonic()
    while True:
        regions = [_count(u, ids, min(float(timeout), 5.0)) for u in urls]
        counts = [r["corrupted"] for r in regions]
        total = None if None in counts else sum(counts)
        settled = wait_for is None or (
            None not in counts and all(c == (len(ids) if wait_for == "all" else 0) for c in counts)
        )
        elapsed = (time.monotonic() - started) * speed
        if settled or elapsed >= float(timeout):
            return {"batch": batch, "regions": regions, "total": total, "settled": settled,
                    "elapsed_seconds": round(elapsed, 3), "seen_at": time.time()}  # fmt: skip
        time.sleep(float(interval) / speed)
