"""The timeline probes, sampled on background threads while a drill runs.

Four probes make the report's timeline: each region's Route 53 health check status, the
service name's DNS answer, the global database's writer region and the replication lag.
Each kind has its own thread, so a slow probe (a lag canary waiting on paused
replication, a DNS query timing out) never delays the others; each sample is one line
of ``samples.jsonl`` in the contract's shape::

    {"time": 1764513000.25, "probe": "health_check", "subject": "us-east-1",
     "value": {"healthy": true, "route53_status": 1}, "ok": true, "error": null}

(``healthy`` is computed from the checkers' observations, ``route53_status`` is Route 53's
own status from CloudWatch ``HealthCheckStatus``: the report labels them apart.)

The same probes run against the lab and AWS: they are gameday's own read-only probes
through :func:`gameday.aws.client`. A probe error is a sample with ``ok: false`` and the
error, never a dead thread.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gameday.aws import reused_clients
from gameday.drill.rundir import append_jsonl
from gameday.rundir.records import Sample

logger = logging.getLogger("gameday.control")

#: How long one lag canary may wait for replication before the sample says "not yet".
LAG_TIMEOUT = 2.0


@dataclass(frozen=True)
class Targets:
    """What the sampler probes, from the environment's variables."""

    primary_region: str
    secondary_region: str
    health_checks: Mapping[str, str]  # region -> health check id
    service_name: str | None
    nameserver: str | None
    endpoints: Mapping[str, str]  # region -> service base URL
    global_cluster_id: str | None

    @classmethod
    def from_configuration(cls, c: Mapping[str, Any]) -> Targets:
        regions = (c.get("primary_region"), c.get("secondary_region"))
        return cls(
            primary_region=str(regions[0]),
            secondary_region=str(regions[1]),
            health_checks={
                str(r): c[f"{role}_health_check_id"]
                for r, role in zip(regions, ("primary", "secondary"), strict=True)
                if c.get(f"{role}_health_check_id")
            },
            service_name=c.get("service_name"),
            nameserver=c.get("nameserver"),
            endpoints={
                str(r): c[f"{role}_endpoint"]
                for r, role in zip(regions, ("primary", "secondary"), strict=True)
                if c.get(f"{role}_endpoint")
            },
            global_cluster_id=c.get("global_cluster_id"),
        )

    def region_of_address(self, address: str) -> str | None:
        for region, url in self.endpoints.items():
            if urlsplit(url).hostname == address:
                return region
        return None


def http_status(
    base_url: str, method: str, path: str, body: Any = None, timeout: float = LAG_TIMEOUT
) -> int | None:
    """One request's status on a fresh connection (None when nothing answered within
    ``timeout``)."""
    parts = urlsplit(base_url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, payload, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class Sampler:
    """Background sampling of the timeline probes into ``samples.jsonl``.

    ``latest`` holds the newest value of each probe/subject (the live progress reads it).
    """

    def __init__(
        self,
        path: Path,
        targets: Targets,
        interval: float,
        configuration: Mapping[str, Any] | None = None,
        secrets: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.targets = targets
        self.interval = interval
        self.configuration = dict(configuration or {})
        self.secrets = dict(secrets or {})
        self.latest: dict[tuple[str, str], Any] = {}
        self._canary: tuple[str, str, float] | None = None  # id, subject, ack time
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- one sample of each kind --------------------------------------------------------

    def _record(self, probe: str, subject: str, read: Callable[[], tuple[Any, bool]]) -> None:
        now = time.time()
        try:
            value, ok = read()
            error = None
        except Exception as exc:  # a probe failure is a sample, never a dead thread
            value, ok, error = None, False, f"{type(exc).__name__}: {exc}"
        self.latest[(probe, subject)] = value
        append_jsonl(self.path, Sample(now, probe, subject, value, ok, error).to_json())

    def sample_health(self) -> None:
        from gameday.probes.route53 import health_check_status

        # AWS publishes HealthCheckStatus once a minute; the lab answers per second
        period = 1 if self.configuration.get("gameday_target") == "lab" else 60
        for region, check in self.targets.health_checks.items():

            def read(check: str = check) -> tuple[Any, bool]:
                status = health_check_status(
                    check, metric_period=period, configuration=self.configuration,
                    secrets=self.secrets,
                )  # fmt: skip
                # "healthy": computed from the checkers' observations (leads Route 53);
                # "route53_status": Route 53's own verdict (CloudWatch HealthCheckStatus)
                metric = (status.get("metric") or {}).get("value")
                return {"healthy": bool(status["healthy"]), "route53_status": metric}, True

            self._record("health_check", region, read)

    def sample_dns(self) -> None:
        from gameday.probes.dns import dns_answer

        name = self.targets.service_name
        if not name:
            return

        def read() -> tuple[Any, bool]:
            answer = dns_answer(name, nameserver=self.targets.nameserver or None, timeout=1.0)
            addresses = sorted(answer.get("addresses") or [])
            regions = {self.targets.region_of_address(a) for a in addresses}
            region = regions.pop() if len(regions) == 1 else None
            return {"addresses": addresses, "region": region}, bool(addresses)

        self._record("dns_answer", name, read)

    def writer(self) -> str | None:
        from gameday.probes.rds import writer_region

        if not self.targets.global_cluster_id:
            return None
        return writer_region(
            self.targets.global_cluster_id,
            self.targets.primary_region,
            configuration=self.configuration,
            secrets=self.secrets,
        )

    def sample_writer(self) -> None:
        if not self.targets.global_cluster_id:
            return

        def read() -> tuple[Any, bool]:
            region = self.writer()
            return region, region is not None

        self._record("writer_region", self.targets.global_cluster_id, read)

    def sample_lag(self) -> None:
        """Replication lag from canaries: write one in the writer, time until the reader has
        it. While a canary is not there yet, each sample is its age so far (a lower bound
        that grows while replication is paused, ``ok`` false), so the timeline shows the lag
        crossing the RPO objective and by how much."""
        writer = self.latest.get(("writer_region", self.targets.global_cluster_id or ""))
        writer = writer or self.targets.primary_region
        reader = (
            self.targets.secondary_region
            if writer == self.targets.primary_region
            else self.targets.primary_region
        )
        if writer not in self.targets.endpoints or reader not in self.targets.endpoints:
            return
        subject = f"{writer}->{reader}"

        def read() -> tuple[Any, bool]:
            pending = self._canary
            if pending is None or pending[1] != subject:
                canary = f"gameday-canary-{uuid.uuid4().hex}"
                sent = time.time()  # before the commit: the lag is never measured short
                status = http_status(
                    self.targets.endpoints[writer], "POST", "/orders", {"id": canary}
                )
                if status not in (200, 201):
                    raise RuntimeError(f"the canary write to {writer} answered {status}")
                pending = self._canary = (canary, subject, sent)
            canary, _, acked = pending
            deadline = time.monotonic() + min(LAG_TIMEOUT, self.interval * 2)
            while True:
                if http_status(self.targets.endpoints[reader], "GET", f"/orders/{canary}") == 200:
                    self._canary = None
                    return time.time() - acked, True
                if time.monotonic() > deadline:
                    return time.time() - acked, False
                time.sleep(0.02)

        self._record("replication_lag", subject, read)

    def sample_once(self) -> None:
        """One sample of every probe (preflight's steady-state read uses it too)."""
        self.sample_health()
        self.sample_dns()
        self.sample_writer()
        self.sample_lag()

    # -- background -----------------------------------------------------------------------

    def _loop(self, sample: Callable[[], None], interval: float) -> None:
        next_at = time.monotonic()
        with reused_clients():  # the same few calls every interval: build their clients once
            while not self._stop.is_set():
                try:
                    sample()
                except Exception:  # pragma: no cover - _record already catches probe errors
                    logger.exception("sampler %s failed", sample.__name__)
                next_at = max(next_at + interval, time.monotonic())
                self._stop.wait(next_at - time.monotonic())

    def start(self) -> None:
        kinds = (
            (self.sample_health, self.interval),
            (self.sample_dns, self.interval),
            (self.sample_writer, self.interval),
            (self.sample_lag, max(self.interval * 4, 1.0)),
        )
        for sample, interval in kinds:
            thread = threading.Thread(
                target=self._loop,
                args=(sample, interval),
                name=f"gameday-{sample.__name__}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = LAG_TIMEOUT + 3) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
