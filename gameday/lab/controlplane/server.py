"""The lab's control plane: moto's server, pinned to one exact moto version.

moto keeps the state (health checks, records, NACLs, FIS experiments, global clusters,
secrets, metrics) but has no data plane: it never probes a health check, never answers
DNS, and some operations the drills need are missing. The control plane is laid out like
moto itself, one module per service the lab extends:

* :mod:`.route53` health checks and zones as the data plane reads them; the Route 53 APIs
  that answer from the data plane (``GetHealthCheckStatus``, ...);
* :mod:`.ec2` network ACLs and subnets; :mod:`.fis` experiment timelines;
* :mod:`.rds` global-cluster failover and switchover; :mod:`.secretsmanager` replicas;
* :mod:`.cloudwatch` the ``AWS/Route53`` metrics the health checkers publish.

This module serves moto's WSGI application on a loopback port (:class:`ControlPlaneServer`)
and installs every service's operation overrides (:func:`install_operation_overrides`).

Every reach into moto's internals sits in a section marked ``moto internals (pinned)`` in
one of these modules, written against :data:`PINNED_MOTO_VERSION` (also pinned in
``pyproject.toml``); :func:`check_moto_version` and ``tests/lab/test_motoext.py`` fail
loudly when moto changes underneath them.
"""

from __future__ import annotations

import functools
import threading
from importlib.metadata import version
from typing import Any

from gameday.aws import LAB_ACCOUNT_ID
from gameday.lab.clock import LabClock

PINNED_MOTO_VERSION = "5.2.5"
__all__ = ["LAB_ACCOUNT_ID", "PINNED_MOTO_VERSION", "ControlPlaneServer", "check_moto_version"]


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

        from gameday.lab.controlplane import iam, route53, secretsmanager

        share_service_models()
        route53.register_url_paths()
        iam.install()  # AWS's managed policies, parsed when something reads them
        app = secretsmanager.notifying(
            _cached_dispatcher(DomainDispatcherApplication)(create_backend_app)
        )
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


def share_service_models() -> None:
    """One botocore data loader for every botocore session of this process.

    moto builds a new boto3 session in several places (every backend's list of regions, EC2's
    zones at import) and each session loads the service models from disk again: a lab start
    parsed EC2's model six times. The models are read-only data; sharing their loader changes
    nothing but the time. Idempotent.
    """
    import botocore.loaders
    import botocore.session

    if getattr(botocore.session.create_loader, "gameday_shared", False):
        return
    shared = functools.cache(botocore.loaders.create_loader)
    shared.gameday_shared = True
    botocore.session.create_loader = shared


# moto internals (pinned): DomainDispatcherApplication.get_backend_for_host lists moto's
# package directory (os.listdir and an isdir per entry) and then tries every service's URL
# patterns, for every request, under the dispatcher's lock. Its answer depends on the host
# alone, and the lab asks for a handful of hosts several times a second (each region reads
# its secret, the health checkers publish metrics): the supervisor spent about half of its
# CPU there while idle. Remembering the answer per host changes nothing else.
_HOSTS_REMEMBERED = 1024


def _cached_dispatcher(base: type) -> type:
    """``base`` (moto's DomainDispatcherApplication) answering each host's backend once."""

    class CachedDispatcher(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._backend_of: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            try:
                return self._backend_of[host]
            except KeyError:
                backend = super().get_backend_for_host(host)
                if len(self._backend_of) < _HOSTS_REMEMBERED:
                    self._backend_of[host] = backend
                return backend

    return CachedDispatcher


def truthy(value: Any) -> bool:
    """moto keeps some booleans as the strings of the request ('true'/'false')."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def install_operation_overrides(
    view: Any, failover_requests: Any, clock: LabClock | None = None, draws: Any = None
) -> None:
    """Patch moto's operations where the lab needs AWS's behaviour (see each service module).

    ``view`` is what the data plane publishes for the Route 53 APIs
    (:class:`gameday.lab.controlplane.route53.DataPlaneView`); ``failover_requests`` is the
    outbox accepted global-cluster failovers go to (:data:`gameday.lab.controlplane.rds.Outbox`);
    ``draws`` the lab's seeded draws (:class:`gameday.lab.draws.Draws`, FIS's delays).
    """
    from gameday.lab.controlplane import (
        alarms,
        dynamodb,
        ec2,
        fismoto,
        rds,
        route53,
        secretsmanager,
    )

    route53.install(view, clock)
    alarms.install()
    fismoto.install(clock or LabClock(1), draws)
    rds.install(failover_requests)
    ec2.install()
    secretsmanager.install(clock)
    dynamodb.install()
