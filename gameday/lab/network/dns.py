"""The lab's authoritative DNS server: the hosted zones of the control plane, routed as
Route 53 routes them, over real UDP and TCP on loopback.

Routing policies:

* simple: every value of the record set;
* failover: the PRIMARY set if it is healthy, else the SECONDARY if healthy, else the
  PRIMARY (Route 53 answers the primary when both are unhealthy);
* weighted: one healthy set drawn by weight (when none is healthy, all count as healthy);
* latency: the healthy set in the client's region, else the nearest one. The lab has no
  latency table: a client's region is the region whose address shares the /24 of the
  resolver's source address (a client on 127.0.2.x asks from the secondary's "VPC"), any
  other source asks from the primary, and "nearest" is the lab's region order;
* a record set without a health check counts as healthy.

Alias records (any policy) answer their target: a load balancer's addresses or another
record set of the zone, with the target's TTL, and inherit the target's health when
``EvaluateTargetHealth`` is set (see :class:`Router`).

Answers carry the record set's TTL as the lab's clock serves it (Route 53's TTL divided
by the lab's speed, :meth:`gameday.lab.clock.LabClock.ttl_served`). Names outside the lab's
zones are REFUSED (the lab does not recurse); names in a zone without a record are NXDOMAIN.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from gameday.lab.clock import LabClock
from gameday.lab.controlplane import elbv2, route53
from gameday.lab.controlplane.route53 import ELB_ALIAS_TTL
from gameday.lab.events import EventLog
from gameday.lab.workers import Worker

HealthLookup = Callable[[str], bool]
#: The control plane's view of a load balancer named by an alias target (None if unknown).
LoadBalancerLookup = Callable[[str], elbv2.LoadBalancerView | None]
#: How many aliases a name may go through before the lab gives up (Route 53 refuses loops).
MAX_ALIAS_DEPTH = 8


@dataclass(frozen=True)
class Choice:
    """One candidate answer: its values (or an alias target's answer) and weight."""

    values: tuple[str, ...]
    weight: int
    ttl: int
    target: Answer | None = None  # an alias to another record: its answer, drawn at query

    def draw(self) -> tuple[tuple[str, ...], int]:
        if self.target is not None:
            return self.target.draw()
        return self.values, self.ttl

    @property
    def eligible(self) -> set[str]:
        return set(self.target.eligible) if self.target is not None else set(self.values)


@dataclass(frozen=True)
class Answer:
    """What a name resolves to right now, before any weighted draw."""

    name: str
    type: str
    ttl: int
    choices: tuple[Choice, ...]
    policy: str

    def draw(self) -> tuple[tuple[str, ...], int]:
        """The values to answer and the TTL to serve with them."""
        if len(self.choices) == 1:
            return self.choices[0].draw()
        weights = [c.weight for c in self.choices]
        if not any(weights):
            weights = [1] * len(weights)
        return random.choices(self.choices, weights=weights)[0].draw()

    def pick(self) -> tuple[str, ...]:
        return self.draw()[0]

    @property
    def eligible(self) -> list[str]:
        """Every value that can be answered now (for change detection)."""
        return sorted({v for choice in self.choices for v in choice.eligible})


class Router:
    """Route 53's routing of one name and type, alias records included.

    Policies: simple, failover, weighted and latency (see the module docstring). A record
    set counts as healthy when its health check (if any) is healthy and, for an alias with
    ``EvaluateTargetHealth``, when its target is healthy: a load balancer by
    :func:`gameday.lab.controlplane.elbv2.load_balancer`'s rule, another record set when
    at least one record of it is healthy.

    Alias TTLs: an alias has no TTL of its own. An alias to a record in the zone serves
    that record's TTL; an alias to a load balancer serves ``elb_ttl`` (AWS: 60 s).
    """

    def __init__(
        self,
        healthy: HealthLookup,
        *,
        load_balancer: LoadBalancerLookup = lambda name: None,
        elb_ttl: int = ELB_ALIAS_TTL,
        regions: tuple[str, ...] = (),
    ) -> None:
        self._healthy = healthy
        self._load_balancer = load_balancer
        self._elb_ttl = elb_ttl
        self._regions = regions  # latency preference after the client's own region

    def route(
        self,
        records: list[route53.RecordSet],
        zone: route53.Zone | None = None,
        client_region: str | None = None,
        depth: int = 0,
    ) -> Answer | None:
        """Apply Route 53's routing to the record sets of one name and type."""
        if not records:
            return None
        first = records[0]
        candidates = [self._candidate(r, zone, client_region, depth) for r in records]
        ok = {id(r): healthy for r, (_, healthy) in zip(records, candidates, strict=True)}
        choice = {id(r): c for r, (c, _) in zip(records, candidates, strict=True)}

        def answer(chosen: list[route53.RecordSet], policy: str, weighted: bool = False) -> Answer:
            picks = tuple(
                Choice(
                    choice[id(r)].values,
                    (r.weight or 0) if weighted else 1,
                    choice[id(r)].ttl,
                    choice[id(r)].target,
                )
                for r in chosen
            )
            return Answer(first.name, first.type, picks[0].ttl, picks, policy)

        failover = [r for r in records if r.failover]
        if failover:
            primary = next((r for r in failover if r.failover == "PRIMARY"), None)
            secondary = next((r for r in failover if r.failover == "SECONDARY"), None)
            if primary is not None and ok[id(primary)]:
                chosen = primary
            elif secondary is not None and ok[id(secondary)]:
                chosen = secondary
            else:
                chosen = primary or secondary
            assert chosen is not None
            return answer([chosen], "failover")
        weighted = [r for r in records if r.weight is not None]
        if weighted:
            return answer([r for r in weighted if ok[id(r)]] or weighted, "weighted", True)
        latency = [r for r in records if r.region]
        if latency:
            eligible = [r for r in latency if ok[id(r)]] or latency
            order = [client_region, *self._regions]
            rank = {region: i for i, region in reversed(list(enumerate(order)))}
            best = min(eligible, key=lambda r: rank.get(r.region, len(order)))
            return answer([best], "latency")
        healthy_sets = [r for r in records if ok[id(r)]] or records
        return answer([healthy_sets[0]], "simple")

    def _candidate(
        self,
        record: route53.RecordSet,
        zone: route53.Zone | None,
        client_region: str | None,
        depth: int,
    ) -> tuple[Choice, bool]:
        """The record's answer and whether Route 53 counts it as healthy."""
        healthy = record.health_check_id is None or self._healthy(record.health_check_id)
        alias = record.alias
        if alias is None:
            return Choice(record.values, 1, record.ttl), healthy
        view = self._load_balancer(alias.dns_name)
        if view is not None:
            target_ok = view.healthy
            found = Choice(view.addresses, 1, self._elb_ttl)
        else:
            target = self._record_target(alias.dns_name, record.type, zone, client_region, depth)
            if target is None:  # nothing the lab knows: no address to give
                return Choice((), 1, 0), False
            answer, target_ok = target
            found = Choice((), 1, answer.ttl, answer)
        return found, healthy and (target_ok or not alias.evaluate_target_health)

    def _record_target(
        self,
        name: str,
        rtype: str,
        zone: route53.Zone | None,
        client_region: str | None,
        depth: int,
    ) -> tuple[Answer, bool] | None:
        if zone is None or depth >= MAX_ALIAS_DEPTH:
            return None
        records = [r for r in zone.records if r.name == name and r.type == rtype]
        answer = self.route(records, zone, client_region, depth + 1)
        if answer is None:
            return None
        healthy = any(self._candidate(r, zone, client_region, depth + 1)[1] for r in records)
        return answer, healthy


def route(records: list[route53.RecordSet], healthy: HealthLookup) -> Answer | None:
    """Route 53's routing of plain (non-alias) record sets of one name and type."""
    return Router(healthy).route(records)


def lookup(
    name: str, qtype: str, router: Router, client_region: str | None = None
) -> tuple[str, Answer | None]:
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
    return "NOERROR", router.route(matching, zone, client_region)


#: The region a query comes from, by the resolver's source address (None: unknown).
ClientRegion = Callable[[str], str | None]


class _Resolver(BaseResolver):
    def __init__(self, router: Router, client_region: ClientRegion, clock: LabClock) -> None:
        self._router = router
        self._client_region = client_region
        self._clock = clock

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        reply.header.aa = 1
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        source = getattr(handler, "client_address", None)
        region = self._client_region(source[0]) if source else None
        rcode, answer = lookup(qname, qtype, self._router, region)
        if rcode != "NOERROR":
            reply.header.rcode = getattr(RCODE, rcode)
            if rcode == "REFUSED":
                reply.header.aa = 0
            return reply
        if answer is not None:
            values, ttl = answer.draw()
            served = self._clock.ttl_served(ttl)
            for value in values:
                reply.add_answer(*RR.fromZone(f"{answer.name} {served} IN {answer.type} {value}"))
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
        *,
        router: Router | None = None,
        client_region: ClientRegion = lambda address: None,
    ) -> None:
        self._router = router or Router(healthy)
        resolver = _Resolver(self._router, client_region, clock or LabClock())
        self._events = events
        self._udp = DNSServer(resolver, address=host, port=port, logger=_QuietLogger())
        self._tcp = DNSServer(resolver, address=host, port=port, tcp=True, logger=_QuietLogger())
        self._last: dict[tuple[str, str], list[str]] = {}
        self._changes_lock = threading.Lock()
        # DNS publication is a supervised worker: a failing pass is a lab-error and a retry.
        self._watcher = Worker("dns-publication", self.check_changes, 0.05, events)
        # A health flip changes answers at once: log the DNS change in the same instant
        # (the watcher still catches record changes made through the API).
        events.subscribe(
            lambda event: (
                self.check_changes() if event["kind"] in ("health", "target-health") else None
            )
        )

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
        rcode, answer = lookup(name, rtype, self._router)
        return rcode, list(answer.pick()) if answer is not None else []

    def check_changes(self) -> None:
        """Log a ``dns`` event for every routed name whose eligible answer changed."""
        with self._changes_lock:
            self._check_changes()

    def _check_changes(self) -> None:
        for zone in route53.zones():
            keys = {(r.name, r.type) for r in zone.records if r.type in ("A", "AAAA", "CNAME")}
            for name, rtype in sorted(keys):
                answer = self._router.route(
                    [r for r in zone.records if (r.name, r.type) == (name, rtype)], zone
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
