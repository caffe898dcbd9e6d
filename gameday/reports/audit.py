"""The RPO audit: which acknowledged writes exist in the region that is the writer now.

After the drill every write the load had acknowledged (its id and the client's ack time,
from the ledger) is looked up, in batches, in the surviving writer region. Lost writes are
the acknowledged ids the writer does not hold. Optionally the same ids are looked up in the
old region too, which gives the writes the recovery region took that the old region lacks
(what a failback must reconcile) and ids stored in both with differing payloads.

Lookups (anything with ``describe()`` and ``lookup(ids) -> (found, missing)``):

* :class:`HttpBatchLookup`: a service's batch read, ``POST {base}/orders/lookup`` with
  ``{"ids": [...]}`` answering ``{"found": {id: order | [orders]}, "missing": [ids]}`` (the
  lab's orders API has it). An id with a list of more than one stored order is a duplicate.
* :class:`DynamoDBLookup`: ``BatchGetItem`` on a DynamoDB table, through
  :func:`gameday.aws.client` (lab or AWS alike), 100 keys per call, unprocessed keys retried.

Clock offset: a stored order that carries the server's ``acked_at`` gives one measurement
of the client clock against the server's: the server acknowledged somewhere between the
request's client-side start and end, so ``acked_at - (start + end) / 2`` is the offset
within half the request's latency. The median over all found writes is kept in the audit
(``clock_offset``); the report uses it to put the ledger on the server's clock.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from gameday.load.ledger import read_ledger
from gameday.reports.errors import ReportError, RunDirError
from gameday.rundir import AUDIT
from gameday.rundir import values as v
from gameday.rundir.files import read_json, write_text

SCHEMA_VERSION = 1
DEFAULT_BATCH_SIZE = 500
#: Tries of one batch lookup before the audit fails (reads are safe to repeat).
LOOKUP_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class AckedWrite:
    """A write the client holds an acknowledgement for (client clock)."""

    id: str
    acked_at: float  # the request's end: when the client got the ack
    start: float | None = None
    region: str | None = None  # the region that acknowledged it (X-Region)


@dataclass(frozen=True)
class LostWrite:
    id: str
    acked_at: float
    region: str | None


@dataclass(frozen=True)
class Duplicate:
    id: str
    reason: str  # "stored N times" or "payload differs between regions"


@dataclass(frozen=True)
class ClockOffset:
    """Server clock minus client clock, from found writes' server ack times."""

    median_s: float
    samples: int
    spread_s: float  # interquartile range of the per-write offsets
    max_uncertainty_s: float  # half the longest request used


@dataclass(frozen=True)
class AuditResult:
    """What the audit found; ``lost`` is in ack order. Serialised as ``audit.json``."""

    writer_region: str | None
    lookup: str
    checked: int
    found: int
    lost: tuple[LostWrite, ...]
    duplicates: tuple[Duplicate, ...] = ()
    old_region: str | None = None
    old_lookup: str | None = None
    recovery_only: tuple[LostWrite, ...] = ()  # acked, in the writer, missing in the old region
    clock_offset: ClockOffset | None = None
    batches: int = 0
    duration_s: float = 0.0
    audited_at: float = 0.0
    schema: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditResult:
        """Validate and build (ValueError naming the field: :mod:`gameday.rundir.values`)."""
        offset = v.dict_field(data, "clock_offset")
        return cls(
            writer_region=v.str_field(data, "writer_region", required=False),
            lookup=v.str_field(data, "lookup", required=False) or "",
            checked=int(v.int_field(data, "checked") or 0),
            found=int(v.int_field(data, "found") or 0),
            lost=_writes(data, "lost", required=True),
            duplicates=tuple(
                Duplicate(str(v.str_field(d, "id")), str(v.str_field(d, "reason")))
                for d in _objects(data, "duplicates")
            ),
            old_region=v.str_field(data, "old_region", required=False),
            old_lookup=v.str_field(data, "old_lookup", required=False),
            recovery_only=_writes(data, "recovery_only", required=False),
            clock_offset=ClockOffset(
                float(v.number_field(offset, "median_s") or 0.0), int(v.int_field(offset, "samples") or 0),
                float(v.number_field(offset, "spread_s", minimum=0) or 0.0),
                float(v.number_field(offset, "max_uncertainty_s", minimum=0) or 0.0),
            ) if offset else None,
            batches=v.int_field(data, "batches", required=False) or 0,
            duration_s=v.number_field(data, "duration_s", required=False, minimum=0) or 0.0,
            audited_at=v.time_field(data, "audited_at", required=False) or 0.0,
            schema=v.int_field(data, "schema", required=False) or SCHEMA_VERSION,
        )  # fmt: skip


def _objects(data: dict[str, Any], key: str, *, required: bool = False) -> list[dict[str, Any]]:
    items = data.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{key!r} is not a list of JSON objects")
    return items


def _writes(data: dict[str, Any], key: str, *, required: bool) -> tuple[LostWrite, ...]:
    return tuple(
        LostWrite(str(v.str_field(w, "id")), v.required_time(w, "acked_at"),
                  v.str_field(w, "region", required=False))
        for w in _objects(data, key, required=required)
    )  # fmt: skip


class Lookup(Protocol):
    def describe(self) -> str: ...

    def lookup(self, ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
        """(found: id -> stored orders, missing ids)."""
        ...


class HttpBatchLookup:
    """``POST {base_url}/orders/lookup``: one keep-alive connection, ``timeout`` per call."""

    def __init__(
        self, base_url: str, *, path: str = "/orders/lookup", timeout: float = 30.0
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ReportError(f"lookup URL {base_url!r} is not http(s)://host:port")
        self.base_url = base_url.rstrip("/")
        self._parts = parts
        self.path = path
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def describe(self) -> str:
        return f"POST {self.base_url}{self.path}"

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._parts.hostname or "", self._parts.port, timeout=self.timeout)
        return self._conn

    def lookup(self, ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
        body = json.dumps({"ids": ids}).encode()
        # A keep-alive connection the server closed, or a service too busy to answer in
        # time: a read changes nothing, so it is tried again on a fresh connection.
        for attempt in range(1, LOOKUP_ATTEMPTS + 1):
            conn = self._connection()
            try:
                conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conn = None
                if attempt == LOOKUP_ATTEMPTS:
                    raise ReportError(
                        f"audit lookup {self.describe()} failed {attempt} times: {exc}"
                    ) from exc
                time.sleep(0.5 * attempt)
        if response.status != 200:
            raise ReportError(
                f"audit lookup {self.describe()} answered {response.status}: {payload[:200]!r}"
            )
        try:
            data = json.loads(payload)
            found_raw, missing = data["found"], list(data["missing"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ReportError(
                f"audit lookup {self.describe()} answered something other than "
                f'{{"found": {{...}}, "missing": [...]}}: {payload[:200]!r}'
            ) from exc
        found = {k: v if isinstance(v, list) else [v] for k, v in found_raw.items()}
        return found, missing

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class DynamoDBLookup:
    """``BatchGetItem`` on ``table`` in ``region`` (key attribute ``key``, a string)."""

    MAX_KEYS = 100  # DynamoDB's limit per BatchGetItem

    def __init__(
        self, table: str, region: str, key: str = "id", *, retries: int = 8, **client_kwargs: Any
    ) -> None:
        from gameday.aws import client

        self.table, self.region, self.key, self.retries = table, region, key, retries
        self._client = client("dynamodb", region, **client_kwargs)

    def describe(self) -> str:
        return f"dynamodb:BatchGetItem {self.table} ({self.region})"

    def lookup(self, ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
        from boto3.dynamodb.types import TypeDeserializer
        from botocore.exceptions import BotoCoreError, ClientError

        decode = TypeDeserializer().deserialize
        found: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), self.MAX_KEYS):
            keys = [{self.key: {"S": i}} for i in dict.fromkeys(ids[start : start + self.MAX_KEYS])]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            for attempt in range(self.retries + 1):
                try:
                    reply = self._client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise ReportError(f"audit lookup {self.describe()} failed: {exc}") from exc
                for item in reply.get("Responses", {}).get(self.table, []):
                    row = {k: decode(v) for k, v in item.items()}
                    found.setdefault(str(row[self.key]), []).append(row)
                request = reply.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise ReportError(
                    f"audit lookup {self.describe()}: keys still unprocessed after {self.retries} retries (throttled?)"
                )
        return found, [i for i in ids if i not in found]


def acked_writes(ledger: Path) -> Iterator[AckedWrite]:
    """The acknowledged writes of a request ledger, in file order."""
    for record in read_ledger(ledger):
        if record.acknowledged:
            assert record.write_id is not None
            yield AckedWrite(record.write_id, record.end, record.start, record.region)


def _as_acked(item: Any) -> AckedWrite:
    if isinstance(item, AckedWrite):
        return item
    if isinstance(item, tuple | list) and 2 <= len(item) <= 4:
        write_id, acked_at, *rest = item
        return AckedWrite(str(write_id), float(acked_at), *rest)
    raise ReportError(
        f"an acknowledged write must be (id, ack_time[, start, region]), got {item!r}"
    )


def _payload(order: dict[str, Any]) -> Any:
    return order.get(
        "body", {k: v for k, v in order.items() if k not in ("region", "seq", "acked_at", "origin")}
    )


def audit_writes(
    acked_ids_with_ack_times: Iterable[AckedWrite | tuple[Any, ...]],
    lookup: Lookup,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    writer_region: str | None = None,
    old_lookup: Lookup | None = None,
    old_region: str | None = None,
) -> AuditResult:
    """Look every acknowledged write up in ``lookup`` (the writer after the drill), in
    batches of ``batch_size``; with ``old_lookup`` also in the old region. Memory follows
    the number of writes. Raises ReportError when a lookup fails (no partial audit)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ReportError(f"batch_size must be a whole number of at least 1, got {batch_size!r}")
    began = time.time()
    writes: dict[str, AckedWrite] = {}
    for item in acked_ids_with_ack_times:
        write = _as_acked(item)
        writes.setdefault(write.id, write)  # a retried write acked twice is one write
    ids = list(writes)
    lost: list[LostWrite] = []
    duplicates: list[Duplicate] = []
    recovery_only: list[LostWrite] = []
    offsets: list[float] = []
    uncertainty = 0.0
    found_count = batches = 0
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        found, _missing = lookup.lookup(chunk)
        batches += 1
        old_found: dict[str, list[dict[str, Any]]] | None = None
        if old_lookup is not None:
            old_found, _ = old_lookup.lookup(chunk)
        for write_id in chunk:
            write = writes[write_id]
            orders = found.get(write_id)
            if not orders:
                lost.append(LostWrite(write_id, write.acked_at, write.region))
                continue
            found_count += 1
            if len(orders) > 1:
                duplicates.append(Duplicate(write_id, f"stored {len(orders)} times"))
            server_ack = orders[0].get("acked_at")
            if write.start is not None and isinstance(server_ack, int | float):
                offsets.append(float(server_ack) - (write.start + write.acked_at) / 2)
                uncertainty = max(uncertainty, (write.acked_at - write.start) / 2)
            if old_found is not None:
                old_orders = old_found.get(write_id)
                if not old_orders:
                    recovery_only.append(LostWrite(write_id, write.acked_at, write.region))
                elif _payload(old_orders[0]) != _payload(orders[0]):
                    duplicates.append(Duplicate(write_id, "payload differs between regions"))
    close = getattr(lookup, "close", None)
    if close is not None:
        close()
    clock = None
    if offsets:
        quartiles = statistics.quantiles(offsets, n=4) if len(offsets) > 1 else [offsets[0]] * 3
        clock = ClockOffset(
            statistics.median(offsets), len(offsets), quartiles[2] - quartiles[0], uncertainty
        )
    lost.sort(key=lambda w: w.acked_at)
    recovery_only.sort(key=lambda w: w.acked_at)
    return AuditResult(
        writer_region=writer_region,
        lookup=lookup.describe(),
        checked=len(ids),
        found=found_count,
        lost=tuple(lost),
        duplicates=tuple(duplicates),
        old_region=old_region,
        old_lookup=old_lookup.describe() if old_lookup is not None else None,
        recovery_only=tuple(recovery_only),
        clock_offset=clock,
        batches=batches,
        duration_s=time.time() - began,
        audited_at=time.time(),
    )


def write_audit(run_dir: Path, result: AuditResult) -> Path:
    """Write ``audit.json`` into ``run_dir`` (atomically: a reader never sees half of it,
    and never through a symbolic link)."""
    return write_text(Path(run_dir) / AUDIT, json.dumps(result.to_json(), indent=1) + "\n")


def read_audit(run_dir: Path) -> AuditResult | None:
    """``audit.json`` of ``run_dir`` (None when the run was not audited)."""
    path = Path(run_dir) / AUDIT
    data = read_json(path, required=False)
    if data is None:
        return None
    try:
        return AuditResult.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunDirError(path, f"is not an audit result: {exc}") from None


__all__ = [
    "AckedWrite", "AuditResult", "ClockOffset", "DynamoDBLookup", "HttpBatchLookup", "Lookup",
    "LostWrite", "acked_writes", "audit_writes", "read_audit", "write_audit",
]  # fmt: skip
