"""How the audit reads the service: its batch endpoint, or one ``GET`` per id.

The report package audits through a *lookup* (``describe()``, ``lookup(ids) -> (found,
missing)``). :func:`service_lookup` gives the service's batch read
(:class:`gameday.reports.audit.HttpBatchLookup`, ``POST /orders/lookup``) when it has one,
and otherwise :class:`GetLookup`, which reads ``GET /orders/{id}`` one id at a time on a
keep-alive connection: slower, but it works against any service that can read an order
back, which is all an audit needs.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import quote

from gameday.drill.sampler import http_status
from gameday.reports.audit import HttpBatchLookup


class GetLookup(HttpBatchLookup):
    """``GET {base_url}/orders/{id}`` per id (200: found, 404: missing, else an error), on
    the batch lookup's keep-alive connection."""

    def __init__(self, base_url: str, *, path: str = "/orders", timeout: float = 10.0) -> None:
        super().__init__(base_url, path=path, timeout=timeout)

    def describe(self) -> str:
        return f"GET {self.base_url}{self.path}/{{id}}"

    def _get(self, order_id: str) -> tuple[int, bytes]:
        for attempt in (1, 2):  # a keep-alive connection the server closed: one fresh retry
            conn = self._connection()
            try:
                conn.request("GET", f"{self.path}/{quote(order_id, safe='')}")
                response = conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def lookup(self, ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
        found: dict[str, list[dict[str, Any]]] = {}
        missing: list[str] = []
        for order_id in ids:
            status, body = self._get(order_id)
            if status == 200:
                found[order_id] = [json.loads(body or b"{}")]
            elif status == 404:
                missing.append(order_id)
            else:
                raise RuntimeError(f"{self.describe()} answered {status} for {order_id!r}")
        return found, missing


def answers(base_url: str, timeout: float = 3.0) -> bool:
    """Whether the service at ``base_url`` answers HTTP at all within ``timeout`` (one try):
    the audit's quick look before it commits to a region that may be cut off."""
    return http_status(base_url, "GET", "/health", timeout=timeout) is not None


def service_lookup(base_url: str, timeout: float = 10.0) -> Any:
    """The batch lookup if ``base_url`` serves ``POST /orders/lookup``, else GetLookup.

    Raises OSError when the service does not answer at all.
    """
    batch = HttpBatchLookup(base_url, timeout=timeout)
    try:
        batch.lookup([])
        return batch
    except Exception as exc:
        batch.close()
        if "answered 404" in str(exc) or "answered 405" in str(exc):
            lookup = GetLookup(base_url, timeout=timeout)
            lookup.lookup([])
            return lookup
        raise OSError(str(exc)) from exc
