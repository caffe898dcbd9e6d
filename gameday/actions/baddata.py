"""Controlled bad data: a marked batch of invalid orders written through the service's API.

The corrupted-data drill needs the failure replication cannot help with: bad data written
in the primary, faithfully copied to the recovery region. ``inject_bad_data`` writes
``count`` orders with an invalid (negative) total, each marked (:mod:`gameday.baddata`:
the body's ``gameday_bad_data`` field names the batch, the id starts ``gameday-bad-``), so
probes count them and the purge removes exactly them.

It refuses anything that looks like production, before writing anything:

* the service URL's host must be allowlisted for bad data: the lab's loopback addresses in
  lab mode (and only those), else a host listed in ``gameday_bad_data_hosts`` (experiment
  configuration, comma-separated) or ``GAMEDAY_BAD_DATA_HOSTS``;
* even then, a host with a label such as ``prod``, ``production``, ``prd`` or ``live`` is
  refused, whatever the allowlist says.

Declared in :mod:`gameday.registry`: a fault undone by :func:`purge_bad_data`; no IAM
action (it calls the service, not AWS).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from chaoslib.types import Configuration, Secrets

from gameday import activity as s
from gameday import aws, registry
from gameday.baddata import INVALID_TOTAL, MARKER, batch_ids
from gameday.faults import Undo
from gameday.netutil import is_loopback_host
from gameday.probes.http import _check_url, _request

__all__ = ["inject_bad_data", "purge_bad_data"]

_MODULE = __name__
#: Host labels that mean production, whatever an allowlist says.
_PRODUCTION = re.compile(r"(^|[.-])(prod|production|prd|live)([.-]|$)", re.IGNORECASE)
_BATCH = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_COUNT = 1000


def _allowed_hosts(configuration: Mapping[str, Any] | None) -> set[str]:
    configured = (configuration or {}).get("gameday_bad_data_hosts") or ""
    if isinstance(configured, str):
        configured = configured.split(",")
    env = os.environ.get("GAMEDAY_BAD_DATA_HOSTS", "").split(",")
    return {str(h).strip().lower() for h in [*configured, *env] if str(h).strip()}


def _ensure_non_production(url: str, configuration: Mapping[str, Any] | None) -> str:
    """The URL's host, or :class:`ActivityFailed` when bad data may not be written there."""
    host = (urlsplit(_check_url(url)).hostname or "").lower()
    if _PRODUCTION.search(host):
        raise s.fail(
            f"Refusing to write bad data to {host}: the name looks like production. Point "
            "`writer_url` at a non-production copy of the service."
        )
    if aws.is_lab_mode():
        if not is_loopback_host(host):
            raise s.fail(
                f"Refusing to write bad data to {host} in lab mode: the lab serves on "
                "127.0.0.0/8 only; use the lab's endpoint (`${primary_endpoint}`)."
            )
        return host
    if host not in _allowed_hosts(configuration):
        raise s.fail(
            f"Refusing to write bad data to {host}: it is not allowlisted for bad data. Add "
            "it to `gameday_bad_data_hosts` (configuration) or GAMEDAY_BAD_DATA_HOSTS if, and "
            "only if, it is a non-production environment."
        )
    return host


def _check(batch: str, count: Any) -> int:
    if not isinstance(batch, str) or not _BATCH.match(batch):
        raise s.fail(f"Bad `batch` {batch!r}: give 1 to 32 lowercase letters, digits or hyphens.")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise s.fail(f"Bad `count` {count!r}: give a whole number from 1 to {MAX_COUNT}.")
    return count


def _write_batch(url: str, batch: str, count: int, timeout: float) -> dict[str, Any]:
    written: list[dict[str, Any]] = []
    refused: list[str] = []
    for order_id in batch_ids(batch, count):
        body = {"id": order_id, "total": INVALID_TOTAL, MARKER: batch}
        answer = _request(
            url.rstrip("/") + "/orders", method="POST", body=json.dumps(body).encode(),
            timeout=timeout, **{"Content-Type": "application/json"},
        )  # fmt: skip
        if answer["status"] in (200, 201):
            written.append(json.loads(answer["body"]))
        else:
            refused.append(f"{order_id}: {answer['status'] or answer['error']}")
    if not written:
        raise s.fail(
            f"No bad order was written to {url} ({'; '.join(refused[:3])}): check that "
            "`writer_url` is the writer region's endpoint."
        )
    acks = [float(w["acked_at"]) for w in written if w.get("acked_at") is not None]
    return {
        "batch": batch,
        "ids": [w["id"] for w in written],
        "written": len(written),
        "refused": refused,
        "writer_region": written[0].get("region"),
        "first_acked_at": min(acks) if acks else None,
        "last_acked_at": max(acks) if acks else None,
    }


@registry.fault(
    rollback="purge_bad_data",
    iam=(),
    note="a marked batch of invalid orders through the service's own API; refuses "
    "production-looking or non-allowlisted hosts",
)
def inject_bad_data(
    writer_url: str,
    batch: str | None = None,
    count: int = 10,
    timeout: float = 5.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Write ``count`` marked orders with an invalid total to the service (a fault).

    ``POST {writer_url}/orders`` for each id of the batch (``batch`` defaults to a random
    name). Refuses production-looking or non-allowlisted hosts before writing anything
    (see the module docstring). Recorded in the fault ledger first; roll back with
    :func:`purge_bad_data`. Fails when no order could be written (nothing injected).

    Returns ``batch``, ``ids``, ``written``, ``refused`` (id: status of each refusal),
    ``writer_region``, ``first_acked_at`` / ``last_acked_at`` (the service's own ack
    times: when the corruption began and ended) and ``fault_id``.
    """
    batch = batch or uuid.uuid4().hex[:12]
    count = _check(batch, count)
    host = _ensure_non_production(writer_url, configuration)
    if float(timeout) <= 0:
        raise s.fail("Bad `timeout`: give a number of seconds above 0.")
    arguments = {"writer_url": writer_url, "batch": batch, "count": count}
    fault_id, result = s.inject(
        activity="inject_bad_data",
        target=f"data:{host}:{batch}",
        arguments=arguments,
        undo=Undo(_MODULE, "purge_bad_data", arguments),
        configuration=configuration,
        apply=lambda _id: _write_batch(writer_url, batch, count, float(timeout)),
        failure=f"Could not write bad data to {writer_url}",
        summary=lambda r: {k: r[k] for k in ("written", "first_acked_at", "last_acked_at")},
    )
    return {**result, "fault_id": fault_id}


@registry.rollback(iam=())
def purge_bad_data(
    writer_url: str,
    batch: str,
    count: int = 10,
    timeout: float = 5.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Delete the orders of bad-data ``batch`` (the rollback of :func:`inject_bad_data`).

    ``DELETE {writer_url}/orders/{id}`` for each id of the batch; an id already gone (404)
    counts as purged, so it is idempotent. Closes the batch's open ledger entries once
    every id is gone; fails (entries left open for ``gameday recover``) otherwise.

    Returns ``batch``, ``deleted``, ``already_gone``, ``failed`` and ``reverted``.
    """
    count = _check(batch, count)
    host = _ensure_non_production(writer_url, configuration)
    deleted = gone = 0
    failed: list[str] = []
    for order_id in batch_ids(batch, count):
        answer = _request(
            f"{writer_url.rstrip('/')}/orders/{quote(order_id)}", method="DELETE",
            timeout=float(timeout),
        )  # fmt: skip
        if answer["status"] == 200:
            deleted += 1
        elif answer["status"] == 404:
            gone += 1
        else:
            failed.append(f"{order_id}: {answer['status'] or answer['error']}")
    if failed:
        raise s.fail(
            f"Could not purge {len(failed)} bad order(s) of batch {batch!r} from {writer_url} "
            f"({'; '.join(failed[:3])}): run the rollback again once the writer answers."
        )
    book = s.ledger(configuration)
    entries = [
        e
        for e in book.open_entries(activity="inject_bad_data", target_prefix=f"data:{host}:")
        if e.arguments.get("batch") == batch
    ]
    book.mark_reverted(entries, by="purge_bad_data")
    return {
        "batch": batch,
        "deleted": deleted,
        "already_gone": gone,
        "failed": failed,
        "reverted": [e.id for e in entries],
    }
