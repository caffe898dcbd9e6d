"""One emulated region: the orders API on its own loopback address, as its own process.

Public listener (``address:port``), what users and health checks reach:

* ``POST /orders``: body ``{"id": ..., ...}``; 201 when stored, 200 when that id already
  was (idempotent); 503 on a region that is not the writer.
* ``GET /orders/{id}``: 200 with the order, or 404.
* ``POST /orders/lookup``: body ``{"ids": [...]}`` (at most 1000); 200 with
  ``{"found": {id: order}, "missing": [ids]}``: the batch read an RPO audit uses. Served by
  the writer and the reader alike.
* ``DELETE /orders/{id}``: 200 when deleted, 404 when absent; writer only, like a write.
* ``GET /health``: a deep check (store answers, the application secret is readable in
  this region, the role is known); 200 or 503 with the reasons.

Every answer carries ``X-Region``. The listener can be black-holed (a NACL deny or an FIS
disruption in the control plane): connections are accepted and never answered.

Control listener (``127.0.0.1:control_port``), for the lab supervisor only and never
black-holed: role changes, network state, the change log the replication link ships,
ground-truth lookups, and word that the application secret changed.

The application secret is read through this region's Secrets Manager API (:func:`watch_secret`),
as the application would: at start, whenever the control plane says the secret changed
(``/_lab/secret-changed``), and at least every ``--secret-resync`` seconds as a backstop.

The fence window (what a writer cut off from the control plane does): a writer acknowledges
a write only while it holds a *writer lease*, which the supervisor renews (``/_lab/lease``)
as long as the global database names it the writer. A region frozen with ``stop-region``
or otherwise cut off keeps acknowledging writes until its lease runs out, never after; a
fence that reaches it earlier (``not_before``) waits for the lease to end. So the window
in which an old writer can acknowledge writes after a promotion is exactly the rest of its
lease: deterministic, and each such write is reported by the topology as a
``split-brain-write`` event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from gameday.lab.network.netacl import Rule, connection_allowed
from gameday.lab.region.dataswitch import DataSource
from gameday.lab.region.httpserver import Gate, Request, Response, serve
from gameday.lab.region.store import OrderStore
from gameday.lab.region.tablemirror import TableMirror
from gameday.lab.region.writeblock import WriteBlock

ROLES = ("writer", "reader")
MAX_ID_LENGTH = 128
MAX_LOOKUP_IDS = 1000


@dataclass
class SecretStatus:
    """The last answer of this region's Secrets Manager for the application secret."""

    readable: bool = False
    detail: str = "not checked yet"
    checked_at: float = 0.0


class Region:
    """The state and request handlers of one region."""

    def __init__(
        self,
        name: str,
        store: OrderStore,
        role: str | None,
        port: int,
        lease: float | None = None,
        mirror: TableMirror | None = None,
        lab_dir: str | None = None,
    ) -> None:
        self.name = name
        #: The data the public API serves: this region's own store, or a restored cluster
        #: the application secret names (:mod:`gameday.lab.region.dataswitch`).
        self.data = DataSource(store, lab_dir or ".", name)
        #: The DynamoDB tier's replica of the global table this region mirrors its orders to.
        self.mirror = mirror
        self.port = port
        self.store = store
        self.role = role
        self.gate = Gate()
        self.writes = WriteBlock()
        self.secret = SecretStatus()
        #: Set when the control plane says the secret changed: the watcher reads it at once.
        self.secret_changed = threading.Event()
        self.acl_rules: list[int] | None = None  # rule numbers of the enforced NACL
        self._role_replies: dict[str, dict[str, Any]] = {}
        self.started_at = time.time()
        #: wall-clock end of the writer lease (a writer starts with one lease; without a
        #: lease length, as embedded in a benchmark, it never runs out)
        if lease is None:
            self.lease_until = float("inf")
        else:
            self.lease_until = self.started_at + lease if role == "writer" else 0.0

    # -- public API ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/health":
            return self._health()
        if path == "/orders":
            if request.method != "POST":
                return Response(
                    405, {"error": "use POST /orders to write, GET /orders/{id} to read"}
                )
            return self._create_order(request)
        if path == "/orders/lookup" and request.method == "POST":
            return self._lookup(request)
        if path.startswith("/orders/"):
            order_id = unquote(path[len("/orders/") :])
            if request.method == "DELETE":
                return self._delete_order(order_id)
            if request.method != "GET":
                return Response(405, {"error": "use GET or DELETE /orders/{id}"})
            return self._read_order(order_id)
        return Response(404, {"error": f"no route {request.method} {path}"})

    def _health(self) -> Response:
        checks = {
            "store": "ok" if self.data.ping() else (self.data.error or "unreachable"),
            "secret": "ok" if self.secret.readable else self.secret.detail,
            "role": self.role or "unknown",
        }
        healthy = checks["store"] == "ok" and self.secret.readable and self.role in ROLES
        body = {
            "status": "ok" if healthy else "unhealthy",
            "region": self.name,
            "checks": checks,
            # the database the application is connected to (what a cut-over changes)
            "database": self.data.connected_to(),
        }
        return Response(200 if healthy else 503, body)

    def _refusal(self) -> Response | None:
        """Why this region takes no write now (None: it takes them)."""
        if self.role != "writer":
            return Response(
                503,
                {
                    "error": f"region {self.name} is a read-only replica and refuses writes; "
                    "send writes to the writer region",
                    "region": self.name,
                    "role": self.role,
                },
            )
        if self.data.store is None:
            return Response(503, {"error": self.data.error, "region": self.name})
        if time.time() >= self.lease_until:
            return Response(
                503,
                {
                    "error": f"region {self.name}'s writer lease expired: it acknowledges no "
                    "write until the control plane renews or fences it",
                    "region": self.name,
                    "role": self.role,
                },
            )
        blocked = self.writes.refusal()  # an in-region failover, rds.global_db_rpo
        if blocked is not None:
            return Response(503, {"error": blocked, "region": self.name, "role": self.role})
        return None

    def _delete_order(self, order_id: str) -> Response:
        refused = self._refusal()
        if refused is not None:
            return refused
        store = self.data.store
        assert store is not None
        if not store.delete(order_id):
            return Response(404, {"error": f"no order {order_id!r} in {self.name}", "id": order_id})
        return Response(200, {"id": order_id, "deleted": True, "region": self.name})

    def _create_order(self, request: Request) -> Response:
        refused = self._refusal()
        if refused is not None:
            return refused
        try:
            data = request.json()
        except ValueError:
            return Response(400, {"error": "the body must be a JSON object with an 'id'"})
        order_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(order_id, str) or not 0 < len(order_id) <= MAX_ID_LENGTH:
            return Response(
                400, {"error": f"'id' must be a string of 1 to {MAX_ID_LENGTH} characters"}
            )
        store = self.data.store
        assert store is not None
        order, created = store.put(order_id, data)
        if created and self.mirror is not None and store is self.store:
            self.mirror.put(order)
        body = {"id": order.id, "region": self.name, "acked_at": order.acked_at, "seq": order.seq}
        return Response(201 if created else 200, body)

    def _lookup(self, request: Request) -> Response:
        try:
            data = request.json()
        except ValueError:
            data = None
        ids = data.get("ids") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return Response(400, {"error": 'the body must be {"ids": ["id", ...]} (strings)'})
        if len(ids) > MAX_LOOKUP_IDS:
            return Response(
                400,
                {
                    "error": f"at most {MAX_LOOKUP_IDS} ids per lookup, got {len(ids)}: split the batch"
                },
            )
        store = self.data.store
        if store is None:
            return Response(503, {"error": self.data.error, "region": self.name})
        found = {order.id: order.to_dict() for order in store.get_many(ids)}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        return Response(200, {"found": found, "missing": missing, "region": self.name})

    def _read_order(self, order_id: str) -> Response:
        store = self.data.store
        if store is None:
            return Response(503, {"error": self.data.error, "region": self.name})
        order = store.get(order_id)
        if order is None:
            return Response(404, {"error": f"no order {order_id!r} in {self.name}", "id": order_id})
        body = order.to_dict()
        body["region"] = self.name
        return Response(200, body)

    # -- control API (lab supervisor only) ----------------------------------------------

    def control(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/_lab/state" and method == "GET":
            return Response(200, self.state())
        if path == "/_lab/changes" and method == "GET":
            query = parse_qs(request.query)
            after = int(query.get("after", ["0"])[0])
            limit = int(query.get("limit", ["1000"])[0])
            changes = [o.to_dict() for o in self.store.changes_after(after, limit)]
            return Response(200, {"changes": changes, "max_seq": self.store.max_seq})
        if path == "/_lab/apply" and method == "POST":
            data = request.json()
            applied = self.store.apply(data["changes"], data.get("merge", "first-writer"))
            if applied and self.mirror is not None:
                self._mirror_applied(data["changes"])
            return Response(200, {"applied": applied, "max_seq": self.store.max_seq})
        if path == "/_lab/role" and method == "POST":
            data = request.json()
            if data.get("role") not in ROLES:
                return Response(400, {"error": f"role must be one of {ROLES}"})
            # A request that timed out at the supervisor may still arrive (a hung region
            # reads its socket when it resumes): a retry with the same id gets that reply.
            request_id = data.get("request_id")
            if request_id is not None and request_id in self._role_replies:
                return Response(200, self._role_replies[request_id])
            expires_at = data.get("expires_at")
            if expires_at is not None and time.time() > float(expires_at):
                # read late (this process was frozen): its sender already gave up on it
                return Response(409, {"error": "stale role change: its sender gave up"})
            not_before = data.get("not_before")
            if not_before is not None and time.time() < float(not_before):
                # the fence waits for the lease it ends: the window stays deterministic
                return Response(200, {"role": self.role, "deferred_until": float(not_before)})
            discarded = 0
            if data.get("discard_after_seq") is not None:
                discarded = self.store.discard_after(int(data["discard_after_seq"]))
            self.role = data["role"]
            if self.role == "writer":
                self.lease_until = max(self.lease_until, float(data.get("lease_until") or 0))
            reply = {"role": self.role, "discarded": discarded}
            if request_id is not None:
                self._role_replies[request_id] = reply
            return Response(200, reply)
        if path == "/_lab/writes" and method == "POST":
            return Response(200, self.writes.set_from(request.json()))
        if path == "/_lab/lease" and method == "POST":
            if self.role == "writer":
                self.lease_until = max(self.lease_until, float(request.json()["until"]))
            return Response(200, {"role": self.role, "lease_until": self._lease_end()})
        if path == "/_lab/network" and method == "POST":
            data = request.json()
            rules = [Rule(**r) for r in data["acl"]] if data.get("acl") is not None else None
            # Traffic from another lab region's address crosses regions through the VPC: a
            # route-table cut drops it (managed replication does not travel this way).
            cut = frozenset(data.get("blocked_sources") or ())
            port = self.port

            def allows(client: str, client_port: int) -> bool:
                if client in cut:
                    return False
                return rules is None or connection_allowed(
                    rules, client=client, client_port=client_port, service_port=port
                )

            self.gate.update(
                blackholed=bool(data["blackholed"]),
                rule=allows if rules is not None or cut else None,
            )
            self.acl_rules = [r.rule_number for r in rules] if rules is not None else None
            return Response(200, {"blackholed": self.gate.blackholed, "acl_rules": self.acl_rules})
        if path == "/_lab/secret-changed" and method == "POST":
            self.secret_changed.set()
            return Response(200, {"secret": "reading"})
        if path == "/_lab/existing" and method == "POST":
            return Response(200, {"existing": self.store.existing(list(request.json()["ids"]))})
        if path == "/_lab/lost" and method == "GET":
            return Response(200, {"lost": self.store.lost()})
        return Response(404, {"error": f"no control route {method} {path}"})

    def _mirror_applied(self, changes: list[dict[str, Any]]) -> None:
        """Mirror the replicated versions this region now holds (last writer won here)."""
        assert self.mirror is not None
        for change in changes:
            held = self.store.get(change["id"])
            if held is not None and (held.origin, held.acked_at) == (
                change["origin"],
                change["acked_at"],
            ):
                self.mirror.put(held)

    def state(self) -> dict[str, Any]:
        return {
            "region": self.name,
            "pid": os.getpid(),
            "role": self.role,
            "blackholed": self.gate.blackholed,
            "acl_rules": self.acl_rules,
            "secret": {"readable": self.secret.readable, "detail": self.secret.detail},
            "orders": self.store.count(),
            "max_seq": self.store.max_seq,
            "started_at": self.started_at,
            "lease_until": self._lease_end(),
            "data": self.data.describe(),
        }

    def _lease_end(self) -> float | None:
        """The lease's end for JSON (None: this region runs without a lease)."""
        return None if self.lease_until == float("inf") else self.lease_until


def watch_secret(
    region: Region, secret_name: str, resync: float, retry: float, stop: threading.Event
) -> None:
    """Keep ``region.secret`` current by reading the secret from this region's endpoint.

    It reads when told the secret changed (``region.secret_changed``), else every ``resync``
    seconds; every ``retry`` seconds while Secrets Manager does not answer at all or the
    application cannot connect to the database the secret names (a restore still under way),
    as an application retries its connection.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from gameday.aws import client

    secrets = client("secretsmanager", region.name)
    while not stop.is_set():
        region.secret_changed.clear()  # a change told from here on is read next round
        answered = True
        try:
            value = secrets.get_secret_value(SecretId=secret_name)
            region.data.follow(value.get("SecretString"))
            region.secret = SecretStatus(True, "ok", time.time())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Error")
            region.secret = SecretStatus(
                False, f"secret unreadable in {region.name}: {code}", time.time()
            )
        except BotoCoreError as exc:
            answered = False
            region.secret = SecretStatus(False, f"secrets manager unreachable: {exc}", time.time())
        except Exception as exc:  # never a silently dead watcher: the deep health says why
            answered = False
            region.secret = SecretStatus(
                False, f"secret check failed: {type(exc).__name__}: {exc}", time.time()
            )
        connected = region.data.error is None
        region.secret_changed.wait(resync if answered and connected else retry)


async def _main(args: argparse.Namespace) -> None:
    store = OrderStore(args.db, args.name)
    mirror = TableMirror(args.name, args.table_name) if args.table_name else None
    region = Region(
        args.name,
        store,
        args.role,
        args.port,
        lease=args.writer_lease,
        mirror=mirror,
        lab_dir=os.path.dirname(os.path.abspath(args.db)),
    )
    if mirror is not None:
        mirror.start()
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_secret,
        args=(region, args.secret_name, args.secret_resync, args.secret_retry, stop),
        daemon=True,
    )
    watcher.start()
    public = await serve(
        region.handle, args.address, args.port, gate=region.gate, headers={"X-Region": args.name}
    )
    control = await serve(
        region.control, "127.0.0.1", args.control_port, headers={"X-Region": args.name}
    )
    secure = None
    if args.tls_port:  # the same API over TLS, for HTTPS health checks
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        secure = await serve(
            region.handle,
            args.address,
            args.tls_port,
            gate=region.gate,
            headers={"X-Region": args.name},
            tls=context,
        )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    stop.set()
    region.secret_changed.set()  # the watcher's wait ends with its loop
    public.close()
    control.close()
    if secure is not None:
        secure.close()
    region.data.close()
    store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="One region of the gameday lab (started by the lab)."
    )
    parser.add_argument("--name", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--role", choices=ROLES)
    parser.add_argument("--secret-name", required=True)
    parser.add_argument(
        "--secret-resync",
        type=float,
        default=2.0,
        help="lab seconds between reads of the secret when no change is told (a backstop)",
    )
    parser.add_argument(
        "--secret-retry",
        type=float,
        default=0.25,
        help="lab seconds between reads while Secrets Manager does not answer or the database "
        "the secret names cannot be connected to",
    )
    parser.add_argument("--tls-port", type=int, default=0, help="also serve HTTPS here")
    parser.add_argument("--tls-cert", help="PEM certificate for --tls-port")
    parser.add_argument("--tls-key", help="PEM private key for --tls-port")
    parser.add_argument(
        "--writer-lease", type=float, default=1.0, help="seconds a writer's lease lasts"
    )
    parser.add_argument(
        "--table-name", help="DynamoDB tier: mirror the orders into this global table's replica"
    )
    args = parser.parse_args(argv)
    if not args.address.startswith("127."):
        parser.error("a lab region binds to 127.0.0.0/8 only")
    if args.tls_port and not (args.tls_cert and args.tls_key):
        parser.error("--tls-port needs --tls-cert and --tls-key")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
