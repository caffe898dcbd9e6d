"""The lab's authoritative DNS server: the hosted zones of the control plane, routed as
Route 53 routes them, over real UDP and TCP on loopback.

Routing policies:

* simple: every value of the record set;
* failover: the PRIMARY set if its health check is healthy, else the SECONDARY if healthy,
  else the PRIMARY (Route 53 answers the primary when both are unhealthy);
* weighted: one healthy set drawn by weight (when none is healthy, all count as healthy);
* a record set without a health check counts as healthy.

Answers carry the record set's TTL as the lab's clock serves it (Route 53's TTL divided
by the lab's speed, :meth:`gameday.lab.clock.LabClock.ttl_served`). Names outside the lab's zones are REFUSED (the lab
does not recurse); names in a zone without a record are NXDOMAIN.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import route53
from gameday.lab.events import EventLog
from gameday.lab.workers import Worker

HealthLookup = Callable[[str], bool]


@dataclass(frozen=True)
class Answer:
    """What a name resolves to right now, before any weighted draw."""

    name: str
    type: str
    ttl: int
    choices: tuple[tuple[tuple[str, ...], int], ...]  # (values, weight) candidates
    policy: str

    def pick(self) -> tuple[str, ...]:
        if len(self.choices) == 1:
            return self.choices[0][0]
        weights = [w for _, w in self.choices]
        if not any(weights):
            weights = [1] * len(weights)
        return random.choices([v for v, _ in self.choices], weights=weights)[0]

    @property
    def eligible(self) -> list[str]:
        """Every value that can be answered now (for change detection)."""
        return sorted({v for values, _ in self.choices for v in values})


def route(records: list[route53.RecordSet], healthy: HealthLookup) -> Answer | None:
    """Apply Route 53's routing to the record sets of one name and type."""
    if not records:
        return None
    first = records[0]

    def ok(record: route53.RecordSet) -> bool:
        return record.health_check_id is None or healthy(record.health_check_id)

    failover = [r for r in records if r.failover]
    if failover:
        primary = next((r for r in failover if r.failover == "PRIMARY"), None)
        secondary = next((r for r in failover if r.failover == "SECONDARY"), None)
        if primary is not None and ok(primary):
            chosen = primary
        elif secondary is not None and ok(secondary):
            chosen = secondary
        else:
            chosen = primary or secondary
        assert chosen is not None
        return Answer(first.name, first.type, chosen.ttl, ((chosen.values, 1),), "failover")
    weighted = [r for r in records if r.weight is not None]
    if weighted:
        healthy_sets = [r for r in weighted if ok(r)] or weighted
        choices = tuple((r.values, r.weight or 0) for r in healthy_sets)
        return Answer(first.name, first.type, healthy_sets[0].ttl, choices, "weighted")
    healthy_sets = [r for r in records if ok(r)] or records
    chosen = healthy_sets[0]
    return Answer(first.name, first.type, chosen.ttl, ((chosen.values, 1),), "simple")


def lookup(name: str, qtype: str, healthy: HealthLookup) -> tuple[str, Answer | None]:
    """Resolve ``name``/``qtype`` against the control plane: (rcode, answer)."""
    name = name.lower() if name.endswith(".") else name.lower() + "."
    zones = [z for z in route53.zones() if name == z.name or name.endswith("." + z.name)]
    if not zones:
        return "REFUSED", None
    zone = max(zones, key=lambda z: len(z.name))
    at_name = [r for r in zone.records if r.name == name]
    if not at_name:
        return "NXDOMAIN", None
    matching = [r for r in at_name if r.type == qtype]
    return "NOERROR", route(matching, healthy)


class _Resolver(BaseResolver):
    def __init__(self, healthy: HealthLookup, clock: LabClock) -> None:
        self._healthy = healthy
        self._clock = clock

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        reply.header.aa = 1
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        rcode, answer = lookup(qname, qtype, self._healthy)
        if rcode != "NOERROR":
            reply.header.rcode = getattr(RCODE, rcode)
            if rcode == "REFUSED":
                reply.header.aa = 0
            return reply
        if answer is not None:
            for value in answer.pick():
                reply.add_answer(
                    *RR.fromZone(
                        f"{answer.name} {self._clock.ttl_served(answer.ttl)} IN {answer.type} {value}"
                    )
                )
        return reply


class _QuietLogger:
    """dnslib logs every query to stdout by default; the lab keeps its own event log."""

    def log_recv(self, *a: object) -> None: ...
    def log_send(self, *a: object) -> None: ...
    def log_request(self, *a: object) -> None: ...
    def log_reply(self, *a: object) -> None: ...
    def log_truncated(self, *a: object) -> None: ...
    def log_data(self, *a: object) -> None: ...
    def log_error(self, handler: object, e: object) -> None: ...


class LabDNS:
    """UDP and TCP DNS servers on ``host:port`` plus a watcher logging answer changes."""

    def __init__(
        self,
        host: str,
        port: int,
        healthy: HealthLookup,
        events: EventLog,
        clock: LabClock | None = None,
    ) -> None:
        resolver = _Resolver(healthy, clock or LabClock())
        self._healthy = healthy
        self._events = events
        self._udp = DNSServer(resolver, address=host, port=port, logger=_QuietLogger())
        self._tcp = DNSServer(resolver, address=host, port=port, tcp=True, logger=_QuietLogger())
        self._last: dict[tuple[str, str], list[str]] = {}
        self._changes_lock = threading.Lock()
        # DNS publication is a supervised worker: a failing pass is a lab-error and a retry.
        self._watcher = Worker("dns-publication", self.check_changes, 0.05, events)
        # A health flip changes answers at once: log the DNS change in the same instant
        # (the watcher still catches record changes made through the API).
        events.subscribe(lambda event: self.check_changes() if event["kind"] == "health" else None)

    def start(self) -> None:
        self._udp.start_thread()
        self._tcp.start_thread()
        self.check_changes()
        self._watcher.start()

    def stop(self) -> None:
        self._watcher.stop()
        for server in (self._udp, self._tcp):
            server.server.shutdown()
            server.server.server_close()
        self._watcher.join()

    def answer(self, name: str, rtype: str) -> tuple[str, list[str]]:
        """(response code, record data) this server answers for ``name`` now (TestDNSAnswer)."""
        rcode, answer = lookup(name, rtype, self._healthy)
        return rcode, list(answer.pick()) if answer is not None else []

    def check_changes(self) -> None:
        """Log a ``dns`` event for every routed name whose eligible answer changed."""
        with self._changes_lock:
            self._check_changes()

    def _check_changes(self) -> None:
        for zone in route53.zones():
            keys = {(r.name, r.type) for r in zone.records if r.type in ("A", "AAAA", "CNAME")}
            for name, rtype in sorted(keys):
                answer = route(
                    [r for r in zone.records if (r.name, r.type) == (name, rtype)], self._healthy
                )
                values = answer.eligible if answer else []
                previous = self._last.get((name, rtype))
                if previous != values:
                    self._last[(name, rtype)] = values
                    self._events.emit(
                        "dns",
                        name=name.rstrip("."),
                        type=rtype,
                        answer=values,
                        previous=previous,
                        ttl=answer.ttl if answer else None,
                        policy=answer.policy if answer else None,
                    )
