"""Replay the drill's acknowledged writes against a region (the duplicate-replay drill).

After a failover, an event stream, a queue or a retrying client may send again what the
old region had already acknowledged. :func:`replay_acknowledged_writes` is the Chaos
Toolkit action that does exactly that with the running drill's own ledger: every write
the clients were told was accepted is sent again, with the same id, to ``endpoint``.
Idempotency holds when each replay is answered as the original (200/201, or 409 "already
there") and the audit afterwards finds every order stored once.

It changes no infrastructure, so it has no rollback and no fault-ledger entry; the
duplicates it could create are what the audit measures.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.drill.rundir import REQUESTS
from gameday.load.ledger import read_ledger

__all__ = ["replay_acknowledged_writes"]


@registry.action()
def replay_acknowledged_writes(
    endpoint: str,
    path: str = "/orders",
    limit: int = 100_000,
    timeout: float = 5.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """POST every acknowledged write of the running drill again to ``endpoint + path``.

    Returns ``replayed`` (how many were sent), ``already_there`` (answered as existing:
    200 or 409: idempotent), ``created`` (201: stored anew, a write the region did not
    have, e.g. one lost in the failover), ``refused`` (other statuses, by status) and
    ``errors`` (no answer).
    """
    from gameday import control

    run = control.current_run()
    if run is None or run.run_dir is None:
        raise ActivityFailed("replay_acknowledged_writes runs inside a gameday drill (its ledger).")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ActivityFailed(f"`endpoint` must be http(s)://host:port, got {endpoint!r}.")
    ids: dict[str, None] = {}
    for record in read_ledger(run.run_dir / REQUESTS):
        if record.acknowledged and record.write_id and len(ids) < int(limit):
            ids.setdefault(record.write_id)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=float(timeout))
    result: dict[str, Any] = {
        "replayed": 0,
        "created": 0,
        "already_there": 0,
        "refused": {},
        "errors": 0,
    }
    try:
        for write_id in ids:
            body = json.dumps({"id": write_id, "replay": True}).encode()
            result["replayed"] += 1
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                result["errors"] += 1
                continue
            if response.status == 201:
                result["created"] += 1
            elif response.status in (200, 409):
                result["already_there"] += 1
            else:
                key = str(response.status)
                result["refused"][key] = result["refused"].get(key, 0) + 1
    finally:
        conn.close()
    return result
