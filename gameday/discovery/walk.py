"""The walk: from the service's DNS name to every var-file value, read-only.

Order: the caller's account (allowlisted, or nothing happens) -> the record set and its
health checks (:mod:`.route53`) -> the region behind each record and its network
(:mod:`.regions`) -> the data tier and the secret spanning both regions
(:mod:`.datatier`). The keys that say how to reach the account rather than what it holds
(:data:`gameday.varkeys.ENVIRONMENT_KEYS`) come from the environment discovery runs in:
the same variables ``gameday lab env`` exports, or none on real AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from gameday import aws
from gameday.allowlist import allowed_accounts
from gameday.discovery import datatier
from gameday.discovery.drills import ruled_out
from gameday.discovery.model import Discovery, DiscoveryError, Missing
from gameday.discovery.reader import Reader
from gameday.discovery.regions import network, region_of
from gameday.discovery.route53 import RoutedRecord, ServiceRecords, find_service
from gameday.varkeys import KEYS

__all__ = ["discover", "environment_values"]

_SCHEMES = {"HTTP": "http", "HTTP_STR_MATCH": "http", "HTTPS": "https", "HTTPS_STR_MATCH": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def environment_values(nameserver: str | None = None) -> dict[str, Any]:
    """The :data:`~gameday.varkeys.ENVIRONMENT_KEYS` values of the environment in use."""
    lab = aws.is_lab_mode()
    return {
        "gameday_target": "lab" if lab else "aws",
        "gameday_lab_dir": (os.environ.get("GAMEDAY_LAB_DIR") or None) if lab else None,
        "aws_endpoint_url": os.environ.get("AWS_ENDPOINT_URL") or None,
        "nameserver": nameserver or os.environ.get("GAMEDAY_NAMESERVER") or None,
    }


def _allowed_account(reader: Reader) -> str:
    allowed = allowed_accounts(None)
    if not allowed:
        raise DiscoveryError(
            "no AWS account is allowlisted: set GAMEDAY_ALLOWED_ACCOUNTS to your non-prod "
            "account id (discovery writes a var file for fault injection, so it reads only "
            "an account drills may run in)."
        )
    account = str(reader.call("sts", None, "GetCallerIdentity")["Account"])
    if account not in allowed:
        raise DiscoveryError(
            f"AWS account {account} (the credentials in use) is not allowlisted (allowed: "
            f"{', '.join(sorted(allowed))}): use credentials for a non-prod account, or add "
            "it to GAMEDAY_ALLOWED_ACCOUNTS."
        )
    return account


def discover(
    service_name: str,
    *,
    hosted_zone_id: str | None = None,
    hints: datatier.Hints | None = None,
    nameserver: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> Discovery:
    """Walk the account from ``service_name``; :class:`DiscoveryError` on bad input."""
    hints = hints or datatier.Hints()
    reader = Reader(configuration)
    account = _allowed_account(reader)
    service = find_service(reader, service_name, hosted_zone_id)
    regions = {r.role: region_of(reader, r, service.name) for r in service.records}
    if regions["primary"] == regions["secondary"]:
        raise DiscoveryError(
            f"both records of {service.name} route to {regions['primary']}: gameday drills "
            "need the two regions of a multi-region service."
        )
    missing: list[Missing] = []
    values: dict[str, Any] = environment_values(nameserver) | {
        "gameday_allowed_accounts": account,
        "aws_region": regions["primary"],
        "service_name": service.name,
        "hosted_zone_id": service.zone_id,
    }
    notes: list[str] = []
    values |= _endpoints(service, regions, missing, notes)
    for record in service.records:
        net = network(reader, regions[record.role], record, service.name, missing)
        values[f"{record.role}_subnet_id"] = net.subnet_id
        values[f"{record.role}_network_acl_id"] = net.network_acl_id
    span = datatier.Span(service.name, regions["primary"], regions["secondary"])
    for find in (datatier.global_database, datatier.table, datatier.secret, datatier.fis_role):
        find(reader, span, hints, values, missing)
    found = Discovery({key: values[key] for key in KEYS}, missing, notes)
    found.ruled_out = ruled_out(key for m in missing for key in m.keys)
    return found


def _endpoints(
    service: ServiceRecords, regions: dict[str, str], missing: list[Missing], notes: list[str]
) -> dict[str, Any]:
    """Regions, health checks, endpoints, and the service's port and scheme."""
    checks = [_probed(r) for r in service.records if _probed(r)]
    reference = checks[0] if checks else {}
    scheme = _SCHEMES.get(str(reference.get("Type", "")), "http")
    port = int(reference.get("Port") or _DEFAULT_PORTS[scheme])
    if not checks:
        notes.append(
            f"neither health check probes an endpoint: service_scheme {scheme} and "
            f"service_port {port} are assumed; correct them in the var file if they differ"
        )
    values: dict[str, Any] = {"service_port": port, "service_scheme": scheme}
    for record in service.records:
        role = record.role
        values[f"{role}_region"] = regions[role]
        values[f"{role}_health_check_id"] = record.health_check_id if record.health_check else ""
        values[f"{role}_endpoint"] = _endpoint(record, scheme, port)
        if record.health_check is None:
            missing.append(
                Missing(
                    (f"{role}_health_check_id",),
                    f"the {role} health check {record.health_check_id}",
                    f"the {role} record ({record.set_identifier!r}) names it but Route 53 has "
                    "no such health check (NoSuchHealthCheck)",
                )
            )
    return values


def _probed(record: RoutedRecord) -> dict[str, Any]:
    """The record's health check if it probes an endpoint (not a metric or calculated one)."""
    config = record.health_check or {}
    return config if config.get("Type") in (*_SCHEMES, "TCP") else {}


def _endpoint(record: RoutedRecord, scheme: str, port: int) -> str:
    """``scheme://host[:port]`` of the region: the health check's target, else the record's."""
    config = _probed(record)
    if config:
        scheme = _SCHEMES.get(str(config.get("Type", "")), scheme)
        port = int(config.get("Port") or _DEFAULT_PORTS[scheme])
    host = config.get("FullyQualifiedDomainName") or config.get("IPAddress") or record.address
    host = f"[{host}]" if ":" in str(host) else str(host)
    suffix = "" if port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{suffix}"
