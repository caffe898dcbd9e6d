"""A client for a region process's control listener (supervisor and tests only)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any


class RegionControlError(RuntimeError):
    """The region's control listener did not answer as expected."""


class RegionClient:
    """Keep-alive JSON client for one region's ``/_lab/*`` control routes (thread-safe)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise RegionControlError(
                        f"region control 127.0.0.1:{self.port} unreachable: {exc}"
                    ) from exc
                continue
            if response.status != 200:
                raise RegionControlError(f"{method} {path} -> {response.status}: {data[:200]!r}")
            return json.loads(data)
        raise AssertionError("unreachable")

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/_lab/state")

    def set_role(
        self,
        role: str,
        discard_after_seq: int | None = None,
        request_id: str | None = None,
        *,
        not_before: float | None = None,
        lease_until: float | None = None,
    ) -> dict[str, Any]:
        """Set the region's role; with ``request_id`` a retry returns the first reply.

        ``not_before``: the change waits until then (the reply says ``deferred_until``);
        ``lease_until``: the lease a new writer starts with.
        """
        body = {
            "role": role,
            "discard_after_seq": discard_after_seq,
            "request_id": request_id,
            "not_before": not_before,
            "lease_until": lease_until,
            # a request this client gave up on (timed out) is never applied late
            "expires_at": time.time() + self.timeout,
        }
        return self.call("POST", "/_lab/role", body)

    def renew_lease(self, until: float) -> dict[str, Any]:
        """Extend a writer's lease to ``until`` (wall clock); a reader ignores it."""
        return self.call("POST", "/_lab/lease", {"until": until})

    def set_writes(
        self,
        *,
        unavailable_until: float | None = None,
        reason: str = "",
        rpo_blocked: bool | None = None,
        rpo_reason: str = "",
    ) -> dict[str, Any]:
        """Block the writer's commits: unavailable until a time (an in-region failover),
        and/or blocked by ``rds.global_db_rpo`` (see :mod:`gameday.lab.region.writeblock`)."""
        body = {
            "unavailable_until": unavailable_until,
            "reason": reason,
            "rpo_blocked": rpo_blocked,
            "rpo_reason": rpo_reason,
        }
        return self.call("POST", "/_lab/writes", body)

    def set_network(
        self,
        *,
        blackholed: bool,
        acl: list[dict[str, Any]] | None,
        blocked_sources: list[str] | None = None,
    ) -> dict[str, Any]:
        """Black-hole everything, and/or enforce a network ACL (rule dicts) per client, and
        drop traffic from ``blocked_sources`` (other regions' addresses, a route-table cut)."""
        body = {"blackholed": blackholed, "acl": acl, "blocked_sources": blocked_sources or []}
        return self.call("POST", "/_lab/network", body)

    def changes(self, after: int, limit: int = 2000) -> dict[str, Any]:
        return self.call("GET", f"/_lab/changes?after={after}&limit={limit}")

    def apply(self, changes: list[dict[str, Any]], merge: str = "first-writer") -> dict[str, Any]:
        return self.call("POST", "/_lab/apply", {"changes": changes, "merge": merge})

    def existing(self, ids: list[str]) -> list[str]:
        return list(self.call("POST", "/_lab/existing", {"ids": ids})["existing"])

    def lost(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/_lab/lost")["lost"])
