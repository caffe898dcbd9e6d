"""The lab supervisor: one process that owns a running lab.

It serves the control plane (moto) on loopback, creates the lab's resources, starts one
process per region, runs the Route 53 data plane (health checker and DNS server) and the
replication link, and writes ``state.json`` so that other commands can find the lab.
It stops everything it started on SIGTERM or SIGINT, and its region processes die with it
even if it is killed (PR_SET_PDEATHSIG).

It holds the lab directory's lock (:mod:`gameday.lab.lock`) for its whole life, and
stops itself and its regions when the lock file at its path disappears or is replaced
(the directory was deleted or taken over): a lab no command can find must not keep
running.

This module wires the parts together; the region processes are
:mod:`gameday.lab.regions`, the supervisor's HTTP API :mod:`gameday.lab.controlapi`.
Run by :class:`gameday.lab.launcher.Lab`, not by hand:
``python -m gameday.lab.supervisor --config '<json>' --lab-dir DIR --lock-fd N``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from gameday.lab import tlscert
from gameday.lab.bootstrap import Resources, bootstrap
from gameday.lab.config import LabConfig
from gameday.lab.controlapi import ControlServer, Route53View
from gameday.lab.controlplane import dynamodb, elbv2, healthcheckconfig, secretsmanager
from gameday.lab.controlplane import server as controlplane
from gameday.lab.controlplane.topology import FailoverTiming, Member, Topology
from gameday.lab.draws import Draws
from gameday.lab.events import EventLog
from gameday.lab.lock import PID_NAME, LabLock
from gameday.lab.network import synfilter
from gameday.lab.network.dns import LabDNS, Router
from gameday.lab.network.endpointprobe import dns_resolver
from gameday.lab.network.healthchecker import HealthChecker
from gameday.lab.network.impairments import LabRegion, Reconciler
from gameday.lab.network.targethealth import TargetHealthProber
from gameday.lab.ports import require_free
from gameday.lab.region import restore as pitr_restore
from gameday.lab.region.client import RegionClient
from gameday.lab.region.multiactive import FailoverWitness
from gameday.lab.region.replication import ReplicationLink
from gameday.lab.regions import RegionProcesses, ready_timeout
from gameday.lab.secretpush import SecretPush
from gameday.lab.state import LAB_CREDENTIALS, hold, write_state
from gameday.lab.varfile import write_varfile
from gameday.lab.workers import Worker

#: Seconds the replication link waits for a region's control API per attempt.
LINK_TIMEOUT = 1.0


class Supervisor:
    """Starts, watches and stops every part of one lab."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.dir = Path(config.lab_dir).resolve()
        self.stop_requested = threading.Event()
        self.events: EventLog | None = None
        self.moto: controlplane.ControlPlaneServer | None = None
        self.dns: LabDNS | None = None
        self.checker: HealthChecker | None = None
        self.link: ReplicationLink | None = None
        #: Every replication link by source region (two in the DynamoDB tier).
        self.links: dict[str, ReplicationLink] = {}
        self.reconciler: Reconciler | None = None
        self.topology: Topology | None = None
        self.restorer: pitr_restore.Restorer | None = None
        self.target_health = elbv2.TargetHealthBoard()
        self.prober: TargetHealthProber | None = None
        self.certificate: tlscert.LabCertificate | None = None
        self.state_path = self.dir / "state.json"
        self._restart_lock = threading.Lock()
        self.control: ControlServer | None = None
        self.network_mode: tuple[str, str] = (synfilter.USERLAND, "not started")
        self.regions: RegionProcesses | None = None
        self.roles: dict[str, str] = {}
        self.resources: Resources | None = None
        self.ports: dict[str, int] = {}
        self.control_ports: dict[str, int] = {}
        self._watcher: Worker | None = None
        self.secret_push: SecretPush | None = None
        self.draws: Draws | None = None

    # -- start ------------------------------------------------------------------------

    def start(self) -> None:
        """Ports, event log and certificate; regions, control plane and resources; the
        control-plane extensions; the data plane; the supervisor's own API."""
        controlplane.check_moto_version()
        self._allocate_ports()
        self._prepare_dir()
        endpoint = f"http://127.0.0.1:{self.ports['endpoint']}"
        os.environ.update(self.region_env(endpoint))
        pitr_restore.prepare(self.dir, self.config.global_cluster)
        regions = self._regions()
        # Regions start first: their start-up overlaps the control plane's on the other core.
        for index, spec in enumerate(self.config.regions):
            self.roles[spec.name] = "writer" if index == 0 or self.multi_active else "reader"
            regions.spawn(spec.name, spec.address, self.roles[spec.name])
        # The lab never launches instances: skip loading moto's catalogue of public AMIs.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        self.moto = controlplane.ControlPlaneServer("127.0.0.1", self.ports["endpoint"])
        # from the bootstrap's CreateSecret on, every change reaches the regions at once
        self.secret_push = SecretPush(self.control_ports, self.events).start()
        secretsmanager.on_change(self.secret_push.changed)
        self.moto.start()
        self.resources = bootstrap(self.config, endpoint, self.ports["service"])
        dynamodb.make_global(self.config.table_name, [r.name for r in self.config.regions])
        self._start_control_plane(regions)
        self._start_data_plane(regions)
        self.control = ControlServer(self, self.ports["supervisor"])
        self.control.start()

    def _allocate_ports(self) -> None:
        cfg = self.config
        addresses = tuple(r.address for r in cfg.regions)
        taken: set[int] = set()
        self.ports = {
            "endpoint": require_free(
                cfg.endpoint_port, ("127.0.0.1",), "control-plane endpoint", taken=taken
            ),
            "dns": require_free(cfg.dns_port, ("127.0.0.1",), "DNS", udp=True, taken=taken),
            "service": require_free(cfg.service_port, addresses, "region service", taken=taken),
            "service_tls": require_free(0, addresses, "region HTTPS", taken=taken),
            "supervisor": require_free(0, ("127.0.0.1",), "supervisor control", taken=taken),
        }
        for spec in cfg.regions:
            self.control_ports[spec.name] = require_free(
                0, ("127.0.0.1",), "region control", taken=taken
            )

    def _prepare_dir(self) -> None:
        """A fresh event log and certificate; no region store of an earlier lab."""
        cfg = self.config
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob("region-*.db*"):
            stale.unlink()
        events_path = self.dir / "events.jsonl"
        events_path.unlink(missing_ok=True)
        self.events = EventLog(events_path)
        self.events.emit("lab-starting", pid=os.getpid(), seed=cfg.seed)
        self.draws = Draws.for_lab(cfg, self.events)
        addresses = [r.address for r in cfg.regions]
        self.certificate = tlscert.generate(self.dir, addresses, [cfg.zone, f"*.{cfg.zone}"])

    def _regions(self) -> RegionProcesses:
        assert self.events is not None and self.certificate is not None
        self.regions = RegionProcesses(
            self.dir, self.config, self.ports, self.control_ports, self.events, self.certificate
        )
        return self.regions

    def _start_control_plane(self, regions: RegionProcesses) -> None:
        """The reconciler (faults), the replication links, the global database's topology
        and moto's extensions (Route 53 view, health-check config, target health)."""
        assert self.resources is not None and self.events is not None
        cfg = self.config
        self.network_mode = synfilter.mode()
        packet_filter = None
        if self.network_mode[0] == synfilter.NFTABLES:
            packet_filter = synfilter.PacketFilter(self.dir)
            packet_filter.remove()  # whatever a crashed lab of this directory left
        self.reconciler = Reconciler(
            [
                LabRegion(
                    r.name,
                    r.address,
                    r.subnet_id,
                    self.control_ports[r.name],
                    regions.processes[r.name].pid,
                )
                for r in self.resources.regions
            ],
            self.ports["service"],
            cfg.table_name,
            cfg.secret_name,
            self.events,
            data_tier=cfg.data_tier,
            packet_filter=packet_filter,
        )
        self._start_links(regions)
        assert self.link is not None
        self.topology = Topology(
            cfg.global_cluster,
            [Member(r.name, r.db_cluster_arn) for r in self.resources.regions],
            regions.clients,
            self.link,
            self.events,
            on_change=self._roles_changed,
            lease=cfg.writer_lease,
            timing=FailoverTiming.from_config(cfg),
            draws=self.draws,
        )
        controlplane.install_operation_overrides(
            Route53View(self), self.topology.requests, cfg.clock, self.draws
        )
        healthcheckconfig.install()
        self.restorer = pitr_restore.install(
            self.dir, self.resources, regions.clients, self.events, cfg.clock
        )
        elbv2.install_target_health(self.target_health)

    def _start_data_plane(self, regions: RegionProcesses) -> None:
        """Once the regions answer: the health checker, the target prober, then the DNS
        (once every target has its first verdict: an alias must not answer on targets
        still "initial", that would log a failover that never happened)."""
        assert self.resources is not None and self.events is not None
        assert self.topology is not None and self.reconciler is not None
        cfg = self.config
        labels = {r.health_check_id: r.name for r in self.resources.regions}
        self.checker = HealthChecker(
            self.events,
            cfg.clock,
            labels.get,
            draws=self.draws,
            resolve=dns_resolver("127.0.0.1", self.ports["dns"]),
        )
        by_address = {r.address: r.name for r in self.resources.regions}
        names = [r.name for r in cfg.regions]
        self.prober = TargetHealthProber(
            self.target_health, self.events, names, cfg.time_scale, by_address.get
        )
        self.topology.start()
        if self.restorer is not None:
            self.restorer.start()
        for link in self.links.values():
            link.start()
        self.reconciler.start()
        self._watcher = Worker("process-watch", regions.watch, 0.05, self.events).start()
        deadline = time.monotonic() + ready_timeout()
        for region in self.resources.regions:
            regions.wait_healthy(region.name, region.address, deadline, starting=True)
        self.checker.start()
        self.prober.start()
        if not self.prober.wait_checked(ready_timeout()):
            raise RuntimeError("the load balancers' targets were never health-checked")
        self.dns = LabDNS(
            "127.0.0.1",
            self.ports["dns"],
            self.checker.is_healthy,
            self.events,
            cfg.clock,
            router=Router(
                self.checker.is_healthy,
                load_balancer=lambda name: elbv2.load_balancer(name, self.target_health),
                # AWS's 60 s (ELB_ALIAS_TTL, the default), served on the lab's clock
                regions=tuple(r.name for r in cfg.regions),
            ),
            client_region=self._client_region,
        )
        self.dns.start()
        self._wait_evaluated()

    @property
    def multi_active(self) -> bool:
        """True in the DynamoDB tier: every region takes writes."""
        return self.config.data_tier == "dynamodb"

    def _start_links(self, regions: RegionProcesses) -> None:
        """The Aurora tier's one link (writer -> reader), or one per direction."""
        assert self.reconciler is not None and self.events is not None
        cfg = self.config
        pairs = [(cfg.primary.name, cfg.secondary.name)]
        if self.multi_active:
            pairs.append((cfg.secondary.name, cfg.primary.name))
        # The links have their own clients with a shorter timeout: a re-point (a failover)
        # waits for a delivery under way, and must not wait long on a frozen region.
        link_clients = {
            name: RegionClient(port, timeout=LINK_TIMEOUT)
            for name, port in self.control_ports.items()
        }
        for source, target in pairs:
            link = ReplicationLink(
                link_clients,
                cfg.clock.aws_to_lab(cfg.replication_lag),
                self.events,
                blocked=self.reconciler.link_blocked,
                impaired=self.reconciler.region_impaired,
                origin_only=self.multi_active,
                merge="last-writer-wins" if self.multi_active else "first-writer",
            )
            link.point(source, target, from_seq=0)
            self.links[source] = link
        self.link = self.links[cfg.primary.name]
        if self.multi_active:
            FailoverWitness(
                cfg.record_name,
                {r.name: r.address for r in cfg.regions},
                regions.clients,
                self.links,
                self.events,
                self.stop_requested.is_set,
            )

    def set_lag(self, seconds: float) -> dict[str, Any]:
        """Lab-only: the replication links' delay, ``seconds`` AWS seconds like every
        duration a user writes (served at 1/speed; not an AWS fault)."""
        lab_seconds = self.config.clock.aws_to_lab(seconds)
        for link in self.links.values():
            link.set_lag(lab_seconds, aws_seconds=seconds)
        return {"aws_seconds": seconds, "lab_seconds": lab_seconds, "lab_only": True}

    def region_env(self, endpoint: str) -> dict[str, str]:
        """Environment under which lab processes reach the control plane."""
        return {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": self.config.primary.name,
            **LAB_CREDENTIALS,
        }

    def _wait_evaluated(self) -> None:
        assert self.resources is not None and self.checker is not None
        for region in self.resources.regions:
            if not self.checker.wait_evaluated(region.health_check_id, ready_timeout()):
                raise RuntimeError(f"the health check of {region.name} was never evaluated")

    def _client_region(self, address: str) -> str:
        """The region a DNS query comes from: the region whose address shares the /24 of
        the resolver's source address, else the primary (latency routing's client)."""
        for spec in self.config.regions:
            if address.rsplit(".", 1)[0] == spec.address.rsplit(".", 1)[0]:
                return spec.name
        return self.config.primary.name

    # -- running ----------------------------------------------------------------------

    def state(self, status: str, error: str | None = None) -> dict[str, Any]:
        """The lab's description for ``state.json`` (what status and tests read)."""
        data: dict[str, Any] = {
            "status": status,
            "error": error,
            "supervisor_pid": os.getpid(),
            "lab_dir": str(self.dir),
            "config": self.config.to_dict(),
            "events_path": str(self.dir / "events.jsonl"),
            "updated_at": time.time(),
            "network_mode": self.network_mode[0],
            "network_mode_detail": self.network_mode[1],
        }
        if self.ports:
            data.update(
                endpoint_url=f"http://127.0.0.1:{self.ports['endpoint']}",
                dns_host="127.0.0.1",
                dns_port=self.ports["dns"],
                service_port=self.ports["service"],
                service_tls_port=self.ports["service_tls"],
                supervisor_port=self.ports["supervisor"],
            )
        if self.resources is not None:
            res = self.resources.to_dict()
            for region in res["regions"]:
                proc = self.regions.processes.get(region["name"]) if self.regions else None
                region["pid"] = proc.pid if proc else None
                region["control_port"] = self.control_ports.get(region["name"])
                region["role"] = self.roles.get(region["name"], region["role"])
            data.update(res)
        return data

    def restart_region(self, name: str) -> dict[str, Any]:
        """Start a region whose process exited (a killed region), with its durable store.

        It comes back in the role the global database gives it now (a reader after a
        failover, and fenced by the topology if it had unshipped writes).
        """
        assert self.resources is not None and self.topology is not None
        assert self.regions is not None
        with self._restart_lock:
            region = next((r for r in self.resources.regions if r.name == name), None)
            if region is None:
                raise LookupError(f"the lab has no region {name!r}")
            if self.regions.running(name):
                raise RuntimeError(
                    f"region {name} is running: kill it first (gameday lab kill-region)"
                )
            role = "writer" if self.multi_active else self.topology.roles()[name]
            self.roles[name] = role
            pid = self.regions.respawn(name, region.address, role)
            if self.reconciler is not None:
                self.reconciler.region_restarted(name, pid)
            deadline = time.monotonic() + ready_timeout()
            self.regions.wait_healthy(name, region.address, deadline, starting=False)
            write_state(self.state_path, self.state("ready"))
            return {"region": name, "pid": pid, "role": role}

    def _roles_changed(self, roles: dict[str, str]) -> None:
        """The writer changed: record the new roles where commands and tests read them."""
        self.roles.update(roles)
        write_state(self.state_path, self.state("ready"))

    # -- stop -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop everything this supervisor started (safe to call on a half-started lab)."""
        self.stop_requested.set()
        if self._watcher is not None:
            self._watcher.stop()
        for part in (
            self.control,
            self.restorer,
            self.topology,
            self.reconciler,
            *self.links.values(),
            self.dns,
            self.prober,
            self.checker,
            self.secret_push,
        ):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # keep tearing down the rest
                    traceback.print_exc()
        if self.regions is not None:
            self.regions.stop()
        if self.moto is not None:
            self.moto.stop()
        if self.events is not None:
            self.events.emit("lab-stopped", pid=os.getpid())
            self.events.close()


def _watch_lock(lock: LabLock, supervisor: Supervisor) -> None:
    """Stop the lab when its directory's lock file is no longer ours (deleted, replaced)."""
    while not supervisor.stop_requested.wait(0.2):
        if not lock.intact():
            print(f"the lab directory {lock.dir} (or its lock) is gone: stopping", flush=True)
            if supervisor.events is not None:
                supervisor.events.emit("lab-dir-lost", pid=os.getpid(), lab_dir=str(lock.dir))
            supervisor.stop_requested.set()


def _claim(lab_dir: Path, lock_fd: int | None) -> LabLock | None:
    """The directory lock: handed over by the launcher, or taken here (run by hand)."""
    if lock_fd is not None:
        return LabLock.adopt(lab_dir, lock_fd)
    return LabLock.try_acquire(lab_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="gameday lab supervisor (started by 'gameday lab up')"
    )
    parser.add_argument("--config", required=True, help="the lab configuration as JSON")
    parser.add_argument("--lab-dir", help="the lab directory (names it on the command line)")
    parser.add_argument("--lock-fd", type=int, help="descriptor of the held lab.lock")
    args = parser.parse_args(argv)
    # Validated by the launcher that started us (gameday.lab.launcher.Lab.start), and again
    # here: a supervisor started by hand with a NaN interval would spin, not fail.
    config = LabConfig.from_dict(json.loads(args.config)).validate()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    supervisor = Supervisor(config)
    lock = _claim(supervisor.dir, args.lock_fd)
    if lock is None:  # another lab holds the directory: touch nothing of it
        print(f"another lab holds {supervisor.dir}: not starting", flush=True)
        return 3
    hold(lock)
    pid_file = supervisor.dir / PID_NAME
    pid_file.write_text(f"{os.getpid()}\n")
    state_path = supervisor.state_path
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: supervisor.stop_requested.set())
    threading.Thread(
        target=_watch_lock, args=(lock, supervisor), name="lock-watch", daemon=True
    ).start()
    failure: str | None = None
    try:
        write_state(state_path, supervisor.state("starting"))
        supervisor.start()
        ready = supervisor.state("ready")
        write_varfile(supervisor.dir, ready)  # before "ready": whoever waits finds it
        write_state(state_path, ready)
        assert supervisor.events is not None
        supervisor.events.emit("lab-ready", pid=os.getpid())
        supervisor.stop_requested.wait()
        write_state(state_path, supervisor.state("stopping"))
        return 0
    except Exception as exc:
        traceback.print_exc()
        failure = str(exc)
        write_state(state_path, supervisor.state("failed", error=failure))
        return 1
    finally:
        supervisor.shutdown()
        # A failed start keeps saying why; a clean stop says "stopped".
        final = supervisor.state("failed" if failure else "stopped", error=failure)
        if write_state(state_path, final | {"supervisor_exited": True}):
            pid_file.unlink(missing_ok=True)
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
