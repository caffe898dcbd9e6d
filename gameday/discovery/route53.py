"""The service's record set in Route 53: its zone, its two routed records, their checks.

Given the service's DNS name, find the one hosted zone holding records of that name (or
use the zone given), read the routed record set (failover, weighted or latency; alias or
not) and each record's health check. Which record is the primary comes from the routing
itself (``Failover``), else from the ``gameday:role`` tag of its health check, else (for
weighted records) from the larger weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gameday.discovery.model import TAG_ROLE, DiscoveryError
from gameday.discovery.reader import Reader, error_code

__all__ = ["RoutedRecord", "ServiceRecords", "find_service", "normalise"]

_ADDRESS_TYPES = ("A", "AAAA", "CNAME")


def normalise(name: str) -> str:
    """A DNS name as Route 53 compares it: lower case, no trailing dot."""
    return name.strip().lower().removesuffix(".")


@dataclass(frozen=True)
class RoutedRecord:
    """One record of the set: its role, where it points, and its health check."""

    role: str
    set_identifier: str
    record: dict[str, Any]
    health_check_id: str
    #: The check's HealthCheckConfig; None when the record names a check that is gone.
    health_check: dict[str, Any] | None
    tags: dict[str, str]

    @property
    def address(self) -> str | None:
        """The record's first value (an IP or a name), or the alias target's DNS name."""
        alias = self.record.get("AliasTarget")
        if alias:
            return str(alias["DNSName"]).removesuffix(".")
        values = self.record.get("ResourceRecords") or []
        return values[0]["Value"] if values else None


@dataclass(frozen=True)
class ServiceRecords:
    """The service name's zone and its two routed records (primary first)."""

    name: str
    zone_id: str
    routing: str
    records: tuple[RoutedRecord, RoutedRecord]


def find_service(reader: Reader, name: str, zone_id: str | None = None) -> ServiceRecords:
    """The service's record set; :class:`DiscoveryError` when it cannot be drilled."""
    name = normalise(name)
    zone_id, records = _zone_and_records(reader, name, zone_id)
    routing, chosen = _routed(name, records)
    missing_check = [r for r in chosen if not r.get("HealthCheckId")]
    if missing_check:
        r = missing_check[0]
        raise DiscoveryError(
            f"the {routing} record {r.get('SetIdentifier')!r} of {name} (zone {zone_id}) has "
            "no Route 53 health check: the catalogue drills fail over by health checks "
            "(EvaluateTargetHealth alone cannot be inverted). Attach a health check to every "
            "record of the set."
        )
    checks = {r["HealthCheckId"]: _health_check(reader, r["HealthCheckId"]) for r in chosen}
    tags = _tags(reader, [hc for hc, config in checks.items() if config is not None])
    roles = _roles(name, routing, chosen, tags)
    routed = [
        RoutedRecord(
            role=roles[i],
            set_identifier=str(r.get("SetIdentifier", "")),
            record=r,
            health_check_id=r["HealthCheckId"],
            health_check=checks[r["HealthCheckId"]],
            tags=tags.get(r["HealthCheckId"], {}),
        )
        for i, r in enumerate(chosen)
    ]
    routed.sort(key=lambda r: r.role != "primary")
    return ServiceRecords(name, zone_id, routing, (routed[0], routed[1]))


def _zone_and_records(
    reader: Reader, name: str, zone_id: str | None
) -> tuple[str, list[dict[str, Any]]]:
    if zone_id:
        zone_id = zone_id.split("/")[-1]
        try:
            records = _records(reader, zone_id, name)
        except ClientError as exc:
            raise DiscoveryError(
                f"hosted zone {zone_id} cannot be read ({error_code(exc)}): check the id "
                "(`aws route53 list-hosted-zones`)."
            ) from exc
        if not records:
            raise DiscoveryError(f"hosted zone {zone_id} holds no record named {name}.")
        return zone_id, records
    zones = [
        z
        for z in reader.pages("route53", None, "ListHostedZones", "HostedZones")
        if name == normalise(z["Name"]) or name.endswith("." + normalise(z["Name"]))
    ]
    holding = [(z, r) for z in zones if (r := _records(reader, z["Id"].split("/")[-1], name))]
    if not holding:
        looked = ", ".join(f"{normalise(z['Name'])} ({z['Id'].split('/')[-1]})" for z in zones)
        raise DiscoveryError(
            f"no hosted zone holds a record named {name} (zones that could: "
            f"{looked or 'none in this account'}): check the name and the account."
        )
    if len(holding) > 1:
        found = ", ".join(
            f"{z['Id'].split('/')[-1]} ({normalise(z['Name'])}, "
            f"{'private' if z.get('Config', {}).get('PrivateZone') else 'public'})"
            for z, _ in holding
        )
        raise DiscoveryError(
            f"{len(holding)} hosted zones hold records named {name}: {found}. "
            "Pass --hosted-zone-id to say which one the drills should use."
        )
    zone, records = holding[0]
    return zone["Id"].split("/")[-1], records


def _records(reader: Reader, zone_id: str, name: str) -> list[dict[str, Any]]:
    """The address records named ``name`` in the zone (A, AAAA, CNAME; alias or not)."""
    found = []
    for record in reader.pages(
        "route53",
        None,
        "ListResourceRecordSets",
        "ResourceRecordSets",
        HostedZoneId=zone_id,
        StartRecordName=name,
    ):
        if normalise(record["Name"]) != name:
            break
        if record["Type"] in _ADDRESS_TYPES:
            found.append(record)
    return found


def _routed(name: str, records: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The routing policy and one record per set identifier (A before AAAA)."""
    by_set: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: _ADDRESS_TYPES.index(r["Type"])):
        by_set.setdefault(str(record.get("SetIdentifier", "")), record)
    chosen = list(by_set.values())
    routing = next(
        (
            policy
            for policy, key in (
                ("failover", "Failover"),
                ("latency", "Region"),
                ("weighted", "Weight"),
            )
            if any(key in r for r in chosen)
        ),
        "simple",
    )
    if routing == "simple" or len(chosen) != 2:
        raise DiscoveryError(
            f"{name} has {len(chosen)} {routing} record(s): gameday drills need a failover, "
            "weighted or latency record set with exactly two records, one per region."
        )
    return routing, chosen


def _health_check(reader: Reader, health_check_id: str) -> dict[str, Any] | None:
    try:
        answer = reader.call("route53", None, "GetHealthCheck", HealthCheckId=health_check_id)
    except ClientError as exc:
        if error_code(exc) == "NoSuchHealthCheck":
            return None
        raise
    return dict(answer["HealthCheck"]["HealthCheckConfig"])


def _tags(reader: Reader, ids: list[str]) -> dict[str, dict[str, str]]:
    if not ids:
        return {}
    answer = reader.call(
        "route53", None, "ListTagsForResources", ResourceType="healthcheck", ResourceIds=ids
    )
    return {
        s["ResourceId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        for s in answer["ResourceTagSets"]
    }


def _roles(
    name: str, routing: str, records: list[dict[str, Any]], tags: dict[str, dict[str, str]]
) -> list[str]:
    """``primary`` / ``secondary`` for each record, in the records' order."""
    if routing == "failover":
        roles = [str(r.get("Failover", "")).lower() for r in records]
    else:
        roles = [tags.get(r["HealthCheckId"], {}).get(TAG_ROLE, "") for r in records]
        if sorted(roles) != ["primary", "secondary"] and routing == "weighted":
            weights = [int(r.get("Weight", 0)) for r in records]
            if weights[0] != weights[1]:
                roles = ["primary" if w == max(weights) else "secondary" for w in weights]
    if sorted(roles) != ["primary", "secondary"]:
        raise DiscoveryError(
            f"cannot tell which {routing} record of {name} is the primary: tag its health "
            f"check {TAG_ROLE}=primary and the other's {TAG_ROLE}=secondary."
        )
    return roles
