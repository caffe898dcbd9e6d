"""Route 53 in the lab's control plane: configuration read by the data plane, and the
APIs that answer from the data plane.

The data plane (:mod:`gameday.lab.network`) reads health checks and zones here
(:func:`health_checks`, :func:`zones`), as they are configured right now. Every API a tool
uses to watch a failover answers from what the data plane publishes (a
:class:`DataPlaneView`), never from a guess:

* ``GetHealthCheckStatus``: each checker region's latest raw observation of the endpoint
  (``Inverted``/``Disabled`` are *not* applied, as in AWS); a CALCULATED check is refused
  with ``InvalidInput``, as AWS refuses it;
* ``GetHealthCheckLastFailureReason``: each checker's latest failed observation;
* ``TestDNSAnswer``: what the lab's DNS server answers for a record right now;
* the ``HealthCheckStatus`` metric lives in :mod:`.cloudwatch`.

Any other Route 53 operation moto does not implement fails with ``NotImplemented`` naming
the operation, never with a bare 404 or a server error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from gameday.lab.controlplane.healthcheckconfig import ALARM_ATTR, INSUFFICIENT_ATTR
from gameday.lab.controlplane.server import LAB_ACCOUNT_ID, truthy

#: An alias record to a load balancer has no TTL of its own: Route 53 answers with 60 s.
ELB_ALIAS_TTL = 60


@dataclass(frozen=True)
class HealthCheckConfig:
    """A health check as configured in the control plane (read at each evaluation)."""

    id: str
    type: str
    ip_address: str | None
    port: int
    resource_path: str
    request_interval: int
    failure_threshold: int
    inverted: bool
    disabled: bool
    search_string: str | None
    children: tuple[str, ...] = ()
    health_threshold: int | None = None
    fqdn: str | None = None
    enable_sni: bool = False
    #: The checker regions the check runs in (empty: every one of Route 53's).
    regions: tuple[str, ...] = ()
    #: CLOUDWATCH_METRIC: the alarm's (region, name) and InsufficientDataHealthStatus.
    alarm: tuple[str, str] | None = None
    insufficient_data_health_status: str | None = None


@dataclass(frozen=True)
class AliasTarget:
    """Where an alias record points: a load balancer's name or a record in the zone."""

    dns_name: str
    hosted_zone_id: str
    evaluate_target_health: bool


@dataclass(frozen=True)
class RecordSet:
    """One resource record set of a hosted zone."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]
    set_identifier: str | None = None
    failover: str | None = None
    weight: int | None = None
    health_check_id: str | None = None
    region: str | None = None  # latency routing
    alias: AliasTarget | None = None


@dataclass(frozen=True)
class Zone:
    """A hosted zone with its record sets."""

    id: str
    name: str
    private: bool
    records: tuple[RecordSet, ...] = field(default_factory=tuple)


class DataPlaneView(Protocol):
    """What the data plane publishes for the Route 53 APIs to read."""

    def observations(self, health_check_id: str) -> list[dict[str, Any]]:
        """``HealthCheckObservations``: each checker's latest observation."""
        ...

    def last_failures(self, health_check_id: str) -> list[dict[str, Any]]:
        """``HealthCheckObservations``: each checker's latest failed observation."""
        ...

    def dns_answer(self, name: str, rtype: str) -> tuple[str, list[str]]:
        """(DNS response code, record data) the lab's DNS server answers right now."""
        ...


# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_motoext.py)
# (from here to the end of the module)


def health_checks() -> list[HealthCheckConfig]:
    """Every health check in the control plane, as configured right now."""
    return [_config(hc) for hc in list(_route53().health_checks.values())]


def health_check(health_check_id: str) -> HealthCheckConfig | None:
    """One health check as configured right now (None once deleted)."""
    found = _route53().health_checks.get(health_check_id)
    return _config(found) if found is not None else None


def _config(hc: Any) -> HealthCheckConfig:
    threshold = hc.health_threshold
    return HealthCheckConfig(
        id=hc.id,
        type=str(hc.type_ or "HTTP"),
        ip_address=hc.ip_address,
        port=int(hc.port or 80),
        resource_path=hc.resource_path or "/",
        request_interval=int(hc.request_interval or 30),
        failure_threshold=int(hc.failure_threshold or 3),
        inverted=truthy(hc.inverted),
        disabled=truthy(hc.disabled),
        search_string=hc.search_string,
        children=tuple(hc.children or ()),
        health_threshold=int(threshold) if threshold not in (None, "") else None,
        fqdn=hc.fqdn or None,
        enable_sni=truthy(hc.enable_sni),
        regions=tuple(hc.regions or ()),
        alarm=_alarm(hc),
        insufficient_data_health_status=getattr(hc, INSUFFICIENT_ATTR, None),
    )


def _alarm(hc: Any) -> tuple[str, str] | None:
    identifier = getattr(hc, ALARM_ATTR, None)
    if not identifier:
        return None
    return str(identifier["Region"]), str(identifier["Name"])


def zones() -> list[Zone]:
    """Every hosted zone with its record sets, as configured right now."""
    found = []
    for zone in list(_route53().zones.values()):
        records = tuple(
            RecordSet(
                name=absolute(rr.name),
                type=str(rr.type),
                ttl=int(rr.ttl) if rr.ttl is not None else 300,
                values=tuple(str(v) for v in (rr.records or ())),
                set_identifier=rr.set_identifier,
                failover=rr.failover,
                weight=int(rr.weight) if rr.weight is not None else None,
                health_check_id=rr.health_check_id,
                region=rr.region,
                alias=_alias(rr.alias_target),
            )
            for rr in list(zone.rrsets)
        )
        found.append(
            Zone(
                id=zone.resource_id,
                name=absolute(zone.name),
                private=truthy(zone.private_zone),
                records=records,
            )
        )
    return found


def _alias(target: dict[str, Any] | None) -> AliasTarget | None:
    if not target:
        return None
    return AliasTarget(
        dns_name=absolute(str(target.get("DNSName", ""))),
        hosted_zone_id=str(target.get("HostedZoneId", "")),
        evaluate_target_health=truthy(target.get("EvaluateTargetHealth")),
    )


def absolute(name: str) -> str:
    """A DNS name in lower case with its trailing dot."""
    name = name.lower()
    return name if name.endswith(".") else name + "."


def iter_records(zone_list: list[Zone]) -> Iterator[tuple[Zone, RecordSet]]:
    """Every (zone, record set) pair."""
    for zone in zone_list:
        for record in zone.records:
            yield zone, record


#: Route 53 URL paths moto does not route; added so the operations answer (see install).
EXTRA_URL_PATHS = {
    "health_check_last_failure_reason": r"{0}/(?P<api_version>[\d_-]+)/healthcheck/(?P<health_check_id>[^/]+)/lastfailurereason$",
    "test_dns_answer": r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$",
    # Last: any other Route 53 path reaches the dispatcher, which names the operation.
    "unemulated": r"{0}/(?P<api_version>[\d_-]+)/(?P<lab_unemulated>.+)$",
}


def _route53() -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[LAB_ACCOUNT_ID]["aws"]


def install(view: DataPlaneView, clock: Any = None) -> None:
    """Make the watching APIs answer from ``view``; name every operation the lab lacks;
    refuse a record whose TTL the lab's ``clock`` would serve distorted."""
    from botocore.session import get_session
    from moto.core.responses import ActionResult
    from moto.route53.exceptions import InvalidInput, Route53ClientError
    from moto.route53.responses import Route53

    class NotImplementedByLab(Route53ClientError):
        """A 400 ``NotImplemented`` naming the operation (a 5xx would be retried)."""

        def __init__(self, operation: str) -> None:
            super().__init__(
                "NotImplemented",
                f"The gameday lab does not emulate Route 53 {operation}: it cannot answer it "
                "truthfully. Run this call against AWS, or use the calls the lab documents.",
            )

    def get_health_check_status(self: Any) -> Any:
        health_check_id = self._get_param("HealthCheckId")
        check = self.backend.get_health_check(health_check_id)  # NoSuchHealthCheck if unknown
        if str(check.type_) == "CALCULATED":
            raise InvalidInput(
                f"Health check {health_check_id} is a calculated health check: "
                "GetHealthCheckStatus does not report calculated health checks. Read the "
                "status of its child health checks, or the CloudWatch metric HealthCheckStatus."
            )
        return ActionResult({"HealthCheckObservations": view.observations(health_check_id)})

    def get_health_check_last_failure_reason(self: Any) -> Any:
        health_check_id = self._get_param("HealthCheckId")
        self.backend.get_health_check(health_check_id)
        return ActionResult({"HealthCheckObservations": view.last_failures(health_check_id)})

    def test_dns_answer(self: Any) -> Any:
        zone_id = self._get_param("HostedZoneId")
        name = self._get_param("RecordName")
        rtype = self._get_param("RecordType")
        zone = self.backend.get_hosted_zone(zone_id)  # NoSuchHostedZone if unknown
        fqdn = absolute(name)
        if not (fqdn == absolute(zone.name) or fqdn.endswith("." + absolute(zone.name))):
            raise InvalidInput(f"{name} is not in hosted zone {zone_id} ({zone.name})")
        rcode, data = view.dns_answer(fqdn, rtype)
        return ActionResult(
            {
                "Nameserver": "ns.lab.internal",
                "RecordName": name,
                "RecordType": rtype,
                "RecordData": data,
                "ResponseCode": rcode,
                "Protocol": "UDP",
            }
        )

    if clock is not None:
        _refuse_distorted_ttls(clock, InvalidInput)
    Route53.get_health_check_status = get_health_check_status
    Route53.get_health_check_last_failure_reason = get_health_check_last_failure_reason
    Route53.test_dns_answer = test_dns_answer

    implemented = {name for name in dir(Route53) if not name.startswith("_")}
    model = get_session().get_service_model("route53")
    for operation in model.operation_names:
        method = _snake(operation)
        if method not in implemented:
            setattr(Route53, method, _refuse(operation, NotImplementedByLab))


def _refuse_distorted_ttls(clock: Any, invalid: Any) -> None:
    """ChangeResourceRecordSets with a TTL the lab cannot serve faithfully is refused,
    naming the lab's limit (AWS accepts it; the lab will not serve it wrong in silence)."""
    from moto.route53.models import Route53Backend

    change = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self: Any, the_zone_id: str, change_list: Any) -> Any:
        for item in change_list or []:
            record = item.get("ResourceRecordSet") or item
            ttl = record.get("TTL")
            if item.get("Action") == "DELETE" or ttl in (None, ""):
                continue
            problem = clock.ttl_problem(int(ttl))
            if problem:
                raise invalid(
                    f"The gameday lab cannot serve {record.get('Name')} faithfully: {problem}. "
                    f"Use a TTL that is a multiple of the lab's speed ({clock.speed:g}), or "
                    "run the lab at a speed that divides it."
                )
        return change(self, the_zone_id, change_list)

    Route53Backend.change_resource_record_sets = change_resource_record_sets


def register_url_paths() -> None:
    """Route the paths moto lacks to its Route 53 dispatcher (before the first request:
    moto builds each service's URL map once, when the service is first called)."""
    from moto.route53 import urls
    from moto.route53.responses import Route53

    for path in EXTRA_URL_PATHS.values():
        urls.url_paths.setdefault(path, Route53.dispatch)


def _refuse(operation: str, error: type[Exception]) -> Any:
    def refuse(self: Any) -> Any:
        raise error(operation)

    refuse.__name__ = _snake(operation)
    return refuse


def _snake(operation: str) -> str:
    from moto.core.utils import camelcase_to_underscores

    return str(camelcase_to_underscores(operation))
