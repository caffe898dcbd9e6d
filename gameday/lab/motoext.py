"""Every reach of the lab into moto's internals, in one place.

The lab's control plane is moto's server running inside the lab supervisor. moto keeps
the state (health checks, records, NACLs, FIS experiments, global clusters, secrets) but
has no data plane: it never probes a health check, never answers DNS, and some operations
the drills need are missing. This module

* serves moto's WSGI application on a loopback port (:class:`ControlPlaneServer`);
* reads moto's backends for the lab's data plane (:func:`health_checks`, :func:`zones`, ...);
* replaces or adds a few operations so they return the lab's real observations
  (:func:`install_operation_overrides`).

It is written against one exact moto version (:data:`PINNED_MOTO_VERSION`, also pinned in
``pyproject.toml``); :func:`check_moto_version` and ``tests/lab/test_motoext.py`` fail
loudly when moto changes underneath it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

PINNED_MOTO_VERSION = "5.2.5"
#: moto's default account: the only account the lab has.
LAB_ACCOUNT_ID = "123456789012"


class MotoVersionError(RuntimeError):
    """moto is not the version this module was written against."""


def check_moto_version() -> str:
    """Return moto's version, or raise if it is not the pinned one."""
    found = version("moto")
    if found != PINNED_MOTO_VERSION:
        raise MotoVersionError(
            f"the lab is written against moto {PINNED_MOTO_VERSION} but {found} is installed: "
            f"reinstall with 'pip install moto[server]=={PINNED_MOTO_VERSION}' (or re-run make)"
        )
    return found


# ---------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------


class ControlPlaneServer:
    """moto's WSGI app served by a threaded werkzeug server on a loopback address."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            host, port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------------------------------
# Reading state
# ---------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Zone:
    """A hosted zone with its record sets."""

    id: str
    name: str
    private: bool
    records: tuple[RecordSet, ...] = field(default_factory=tuple)


def _route53() -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[LAB_ACCOUNT_ID]["aws"]


def health_checks() -> list[HealthCheckConfig]:
    """Every health check in the control plane, as configured right now."""
    found = []
    for hc in list(_route53().health_checks.values()):
        found.append(
            HealthCheckConfig(
                id=hc.id,
                type=str(hc.type_ or "HTTP"),
                ip_address=hc.ip_address,
                port=int(hc.port or 80),
                resource_path=hc.resource_path or "/",
                request_interval=int(hc.request_interval or 30),
                failure_threshold=int(hc.failure_threshold or 3),
                inverted=_truthy(hc.inverted),
                disabled=_truthy(hc.disabled),
                search_string=hc.search_string,
                children=tuple(hc.children or ()),
                health_threshold=int(hc.health_threshold) if hc.health_threshold else None,
            )
        )
    return found


def _truthy(value: Any) -> bool:
    """moto keeps some booleans as the strings of the request ('true'/'false')."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def zones() -> list[Zone]:
    """Every hosted zone with its record sets, as configured right now."""
    found = []
    for zone in list(_route53().zones.values()):
        records = tuple(
            RecordSet(
                name=_absolute(rr.name),
                type=str(rr.type),
                ttl=int(rr.ttl) if rr.ttl is not None else 300,
                values=tuple(str(v) for v in (rr.records or ())),
                set_identifier=rr.set_identifier,
                failover=rr.failover,
                weight=int(rr.weight) if rr.weight is not None else None,
                health_check_id=rr.health_check_id,
            )
            for rr in list(zone.rrsets)
        )
        found.append(
            Zone(
                id=zone.resource_id,
                name=_absolute(zone.name),
                private=_truthy(zone.private_zone),
                records=records,
            )
        )
    return found


def _absolute(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


# ---------------------------------------------------------------------------------------
# Operation overrides
# ---------------------------------------------------------------------------------------

#: Returns the observations for a health check id in the shape of
#: ``GetHealthCheckStatus``'s ``HealthCheckObservations``.
ObservationSource = Callable[[str], list[dict[str, Any]]]


def install_operation_overrides(observations: ObservationSource) -> None:
    """Make ``route53.get_health_check_status`` answer the lab's real observations."""
    from moto.core.responses import ActionResult
    from moto.route53.responses import Route53

    def get_health_check_status(self: Any) -> Any:
        health_check_id = self._get_param("HealthCheckId")
        self.backend.get_health_check(health_check_id)  # NoSuchHealthCheck if unknown
        return ActionResult({"HealthCheckObservations": observations(health_check_id)})

    Route53.get_health_check_status = get_health_check_status


def iter_records(zone_list: list[Zone]) -> Iterator[tuple[Zone, RecordSet]]:
    """Every (zone, record set) pair."""
    for zone in zone_list:
        for record in zone.records:
            yield zone, record
