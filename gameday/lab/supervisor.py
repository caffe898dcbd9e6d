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

Run by :class:`gameday.lab.launcher.Lab`, not by hand:
``python -m gameday.lab.supervisor --config '<json>' --lab-dir DIR --lock-fd N``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gameday.children import die_with_parent as _die_with_parent
from gameday.lab import tlscert
from gameday.lab.bootstrap import Resources, bootstrap
from gameday.lab.config import LabConfig
from gameday.lab.controlplane import dynamodb, elbv2, healthcheckconfig
from gameday.lab.controlplane import server as controlplane
from gameday.lab.controlplane.alarms import AlarmEvaluator
from gameday.lab.controlplane.topology import FailoverTiming, Member, Topology
from gameday.lab.draws import Draws, new_seed
from gameday.lab.events import EventLog
from gameday.lab.lock import PID_NAME, LabLock
from gameday.lab.network import synfilter
from gameday.lab.network.dns import LabDNS, Router
from gameday.lab.network.endpointprobe import dns_resolver
from gameday.lab.network.healthchecker import HealthChecker
from gameday.lab.network.impairments import LabRegion, Reconciler
from gameday.lab.network.targethealth import TargetHealthProber
from gameday.lab.ports import require_free
from gameday.lab.region.client import RegionClient
from gameday.lab.region.multiactive import FailoverWitness
from gameday.lab.region.replication import ReplicationLink
from gameday.lab.state import LAB_CREDENTIALS, hold, write_state
from gameday.lab.varfile import write_varfile
from gameday.lab.workers import Worker

READY_TIMEOUT = 30.0
#: Seconds the replication link waits for a region's control API per attempt.
LINK_TIMEOUT = 1.0


def client_health(address: str, port: int) -> int | None:
    """The status of ``GET /health`` on a region's public address (None if unreachable)."""
    conn = http.client.HTTPConnection(address, port, timeout=1.0)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


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
        self.target_health = elbv2.TargetHealthBoard()
        self.prober: TargetHealthProber | None = None
        self.certificate: tlscert.LabCertificate | None = None
        self.state_path = self.dir / "state.json"
        self._restart_lock = threading.Lock()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")
        self.control: ControlServer | None = None
        self.network_mode: tuple[str, str] = (synfilter.USERLAND, "not started")
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.clients: dict[str, RegionClient] = {}
        self.roles: dict[str, str] = {}
        self.resources: Resources | None = None
        self.ports: dict[str, int] = {}
        self.control_ports: dict[str, int] = {}
        self._exited: set[int] = set()
        self._watcher: Worker | None = None
        self.alarms: AlarmEvaluator | None = None
        self.draws: Draws | None = None

    # -- start ------------------------------------------------------------------------

    def start(self) -> None:
        controlplane.check_moto_version()
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
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob("region-*.db*"):
            stale.unlink()
        events_path = self.dir / "events.jsonl"
        events_path.unlink(missing_ok=True)
        self.events = EventLog(events_path)
        self.events.emit("lab-starting", pid=os.getpid(), seed=cfg.seed)
        self.draws = Draws(
            cfg.seed if cfg.seed is not None else new_seed(), self.events, cfg.fixed_draws()
        )
        self.certificate = tlscert.generate(self.dir, list(addresses), [cfg.zone, f"*.{cfg.zone}"])

        endpoint = f"http://127.0.0.1:{self.ports['endpoint']}"
        os.environ.update(self.region_env(endpoint))
        # Regions start first: their start-up overlaps the control plane's on the other core.
        for index, spec in enumerate(cfg.regions):
            self.roles[spec.name] = "writer" if index == 0 or self.multi_active else "reader"
            self._spawn_region(spec.name, spec.address, self.roles[spec.name])
        # The lab never launches instances: skip loading moto's catalogue of public AMIs.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        self.moto = controlplane.ControlPlaneServer("127.0.0.1", self.ports["endpoint"])
        self.moto.start()

        self.resources = bootstrap(cfg, endpoint, self.ports["service"])
        dynamodb.make_global(cfg.table_name, [r.name for r in cfg.regions])
        labels = {r.health_check_id: r.name for r in self.resources.regions}
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
                    self.processes[r.name].pid,
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
        self.checker = HealthChecker(
            self.events,
            cfg.clock,
            labels.get,
            draws=self.draws,
            resolve=dns_resolver("127.0.0.1", self.ports["dns"]),
        )
        self._start_links()
        assert self.link is not None
        self.topology = Topology(
            cfg.global_cluster,
            [Member(r.name, r.db_cluster_arn) for r in self.resources.regions],
            self.clients,
            self.link,
            self.events,
            on_change=self._roles_changed,
            lease=cfg.writer_lease,
            timing=FailoverTiming.from_aws(
                cfg.clock,
                cfg.failover_seconds,
                cfg.switchover_seconds,
                cfg.resync_seconds,
                cfg.in_region_failover_seconds,
            ),
            draws=self.draws,
        )
        controlplane.install_operation_overrides(
            Route53View(self), self.topology.requests, cfg.clock, self.draws
        )
        self.alarms = AlarmEvaluator(cfg.clock, self.events, [r.name for r in cfg.regions])
        healthcheckconfig.install()
        elbv2.install_target_health(self.target_health)
        by_address = {r.address: r.name for r in self.resources.regions}
        self.prober = TargetHealthProber(
            self.target_health,
            self.events,
            [r.name for r in cfg.regions],
            cfg.time_scale,
            by_address.get,
        )
        self.topology.start()
        for link in self.links.values():
            link.start()
        self.reconciler.start()
        self._watcher = Worker("process-watch", self._watch_processes, 0.05, self.events).start()
        self._wait_regions()
        # The data plane starts once the regions answer, so the first observations are real.
        self.checker.start()
        self.alarms.start()
        self.prober.start()
        # The DNS starts once every target has its first verdict: an alias must not answer
        # on targets still "initial" (that would log a failover that never happened).
        if not self.prober.wait_checked(READY_TIMEOUT):
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
        self.control = ControlServer(self, self.ports["supervisor"])
        self.control.start()

    @property
    def multi_active(self) -> bool:
        """True in the DynamoDB tier: every region takes writes."""
        return self.config.data_tier == "dynamodb"

    def _start_links(self) -> None:
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
                cfg.replication_lag,
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
                self.clients,
                self.links,
                self.events,
                self.stop_requested.is_set,
            )

    def set_lag(self, seconds: float) -> dict[str, Any]:
        """Lab-only: the replication links' delay, in lab seconds (not an AWS fault)."""
        for link in self.links.values():
            link.set_lag(seconds)
        return {"lag": seconds, "lab_only": True}

    def region_env(self, endpoint: str) -> dict[str, str]:
        """Environment under which lab processes reach the control plane."""
        return {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": self.config.primary.name,
            **LAB_CREDENTIALS,
        }

    def _spawn_region(self, name: str, address: str, role: str) -> None:
        assert self.events is not None and self.certificate is not None
        log = (self.dir / f"region-{name}.log").open("ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gameday.lab.region.server",
                "--name",
                name,
                "--address",
                address,
                "--port",
                str(self.ports["service"]),
                "--control-port",
                str(self.control_ports[name]),
                "--db",
                str(self.dir / f"region-{name}.db"),
                "--role",
                role,
                "--secret-name",
                self.config.secret_name,
                "--secret-refresh",
                str(min(0.25, self.config.health_check_interval / 4)),
                "--writer-lease",
                # every region of a global table writes: no lease bounds it (no fence either)
                "inf" if self.multi_active else str(self.config.writer_lease),
                *(["--table-name", self.config.table_name] if self.multi_active else []),
                "--tls-port",
                str(self.ports["service_tls"]),
                "--tls-cert",
                str(self.certificate.cert),
                "--tls-key",
                str(self.certificate.key),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            env=os.environ.copy(),
        )
        log.close()
        self.processes[name] = proc
        self.clients.setdefault(name, RegionClient(self.control_ports[name], timeout=2.0))
        self.events.emit("region-started", region=name, pid=proc.pid, address=address, role=role)

    def _wait_regions(self) -> None:
        """Wait until every region process answers and its deep health is green."""
        assert self.resources is not None
        deadline = time.monotonic() + READY_TIMEOUT
        for region in self.resources.regions:
            name = region.name
            while client_health(region.address, self.ports["service"]) != 200:
                proc = self.processes[name]
                if proc.poll() is not None:
                    log = (self.dir / f"region-{name}.log").read_text(errors="replace")[-800:]
                    raise RuntimeError(
                        f"region {name} exited with {proc.returncode} while starting: {log}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"region {name} was not healthy within {READY_TIMEOUT:.0f} s; see {self.dir}/region-{name}.log"
                    )
                time.sleep(0.02)

    def _wait_evaluated(self) -> None:
        assert self.resources is not None and self.checker is not None
        for region in self.resources.regions:
            if not self.checker.wait_evaluated(region.health_check_id, READY_TIMEOUT):
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
                proc = self.processes.get(region["name"])
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
        with self._restart_lock:
            region = next((r for r in self.resources.regions if r.name == name), None)
            if region is None:
                raise LookupError(f"the lab has no region {name!r}")
            if self.processes[name].poll() is None:
                raise RuntimeError(
                    f"region {name} is running: kill it first (gameday lab kill-region)"
                )
            role = "writer" if self.multi_active else self.topology.roles()[name]
            self.roles[name] = role
            # PR_SET_PDEATHSIG fires when the spawning *thread* ends, so a restarted region is
            # spawned by a long-lived thread, not by the short-lived request thread.
            self._spawner.submit(self._spawn_region, name, region.address, role).result()
            pid = self.processes[name].pid
            if self.reconciler is not None:
                self.reconciler.region_restarted(name, pid)
            deadline = time.monotonic() + READY_TIMEOUT
            while client_health(region.address, self.ports["service"]) != 200:
                if self.processes[name].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"region {name} did not come back; see {self.dir}/region-{name}.log"
                    )
                time.sleep(0.02)
            write_state(self.state_path, self.state("ready"))
            return {"region": name, "pid": pid, "role": role}

    def _roles_changed(self, roles: dict[str, str]) -> None:
        """The writer changed: record the new roles where commands and tests read them."""
        self.roles.update(roles)
        write_state(self.state_path, self.state("ready"))

    def _watch_processes(self) -> None:
        """Record each region process's exit once (a supervised worker)."""
        for name, proc in list(self.processes.items()):
            code = proc.poll()
            if code is not None and proc.pid not in self._exited:
                self._exited.add(proc.pid)
                assert self.events is not None
                self.events.emit("region-exited", region=name, pid=proc.pid, returncode=code)

    # -- stop -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop everything this supervisor started (safe to call on a half-started lab)."""
        self.stop_requested.set()
        if self._watcher is not None:
            self._watcher.stop()
        for part in (
            self.control,
            self.topology,
            self.reconciler,
            *self.links.values(),
            self.dns,
            self.prober,
            self.checker,
            self.alarms,
        ):
            if part is not None:
                try:
                    part.stop()
                except Exception:  # keep tearing down the rest
                    traceback.print_exc()
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    proc.send_signal(
                        signal.SIGCONT
                    )  # a stopped (hung) region cannot exit otherwise
                    proc.terminate()
                except ProcessLookupError:
                    pass
        for proc in self.processes.values():
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        self._spawner.shutdown(wait=False)  # after the regions: its thread is their "parent"
        if self.moto is not None:
            self.moto.stop()
        if self.events is not None:
            self.events.emit("lab-stopped", pid=os.getpid())
            self.events.close()


class Route53View:
    """What the data plane publishes for the Route 53 APIs (read-only, see controlplane.route53)."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def observations(self, health_check_id: str) -> list[dict[str, Any]]:
        checker = self._supervisor.checker
        return checker.observations(health_check_id) if checker else []

    def last_failures(self, health_check_id: str) -> list[dict[str, Any]]:
        checker = self._supervisor.checker
        return checker.last_failures(health_check_id) if checker else []

    def dns_answer(self, name: str, rtype: str) -> tuple[str, list[str]]:
        dns = self._supervisor.dns
        if dns is None:
            raise RuntimeError("the lab's DNS server is not running yet")
        return dns.answer(name, rtype)


class ControlServer:
    """The supervisor's own control API on 127.0.0.1 (``gameday lab restart-region``)."""

    def __init__(self, supervisor: Supervisor, port: int) -> None:
        owner = supervisor

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[0] == "regions" and parts[2] == "restart":
                    try:
                        self._reply(200, owner.restart_region(parts[1]))
                    except LookupError as exc:
                        self._reply(404, {"error": str(exc)})
                    except RuntimeError as exc:
                        self._reply(409, {"error": str(exc)})
                    return
                if parts == ["replication", "lag"]:
                    try:
                        seconds = float(self._body()["seconds"])
                    except (KeyError, TypeError, ValueError):
                        self._reply(400, {"error": 'send {"seconds": <number >= 0>}'})
                        return
                    if not 0 <= seconds < float("inf"):
                        self._reply(400, {"error": f"lag must be >= 0 seconds, got {seconds}"})
                        return
                    self._reply(200, owner.set_lag(seconds))
                    return
                self._reply(404, {"error": f"no route POST {self.path}"})

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # the event log is the lab's record
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="control", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


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
