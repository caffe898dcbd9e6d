"""The lab's region processes: spawned, watched, restarted and stopped by the supervisor.

Each region is ``python -m gameday.lab.region.server`` with the lab's ports, its durable
store and its role. A region dies with the thread that spawned it (PR_SET_PDEATHSIG), so
a restart is spawned from one long-lived thread, never from a short-lived request thread.
An exit is recorded once as a ``region-exited`` event (:meth:`RegionProcesses.watch`, a
supervised worker's step).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gameday.children import die_with_parent as _die_with_parent
from gameday.lab.config import LabConfig, start_timeout
from gameday.lab.events import EventLog
from gameday.lab.region.client import RegionClient
from gameday.lab.tlscert import LabCertificate

__all__ = ["RegionProcesses", "client_health", "ready_timeout"]


def ready_timeout() -> float:
    """Seconds each of the supervisor's start-up waits may take: two thirds of the lab's
    start timeout (30 s by default), so that a slow start fails with its cause."""
    return start_timeout() * 2 / 3


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


@dataclass
class RegionProcesses:
    """Every region process of one lab, by region name, and a control client for each."""

    dir: Path
    config: LabConfig
    ports: dict[str, int]
    control_ports: dict[str, int]
    events: EventLog
    certificate: LabCertificate
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    clients: dict[str, RegionClient] = field(default_factory=dict)
    _exited: set[int] = field(default_factory=set)
    _spawner: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")
    )

    @property
    def multi_active(self) -> bool:
        return self.config.data_tier == "dynamodb"

    def _argv(self, name: str, address: str, role: str) -> list[str]:
        cfg = self.config
        return [
            *(sys.executable, "-m", "gameday.lab.region.server"),
            *("--name", name, "--address", address),
            *("--port", str(self.ports["service"])),
            *("--control-port", str(self.control_ports[name])),
            *("--db", str(self.dir / f"region-{name}.db"), "--role", role),
            *("--secret-name", cfg.secret_name),
            # the secret's changes are pushed (gameday.lab.secretpush); while Secrets Manager
            # does not answer (the lab is starting) or the database the secret names cannot be
            # connected to, the region asks again every quarter of a health-check interval at most
            *("--secret-retry", str(min(0.25, cfg.health_check_interval / 4))),
            # every region of a global table writes: no lease bounds it (no fence either)
            *("--writer-lease", "inf" if self.multi_active else str(cfg.writer_lease)),
            *(["--table-name", cfg.table_name] if self.multi_active else []),
            *("--tls-port", str(self.ports["service_tls"])),
            *("--tls-cert", str(self.certificate.cert), "--tls-key", str(self.certificate.key)),
        ]

    def spawn(self, name: str, address: str, role: str) -> None:
        """Start region ``name`` (from the calling thread: it becomes the region's parent)."""
        log = (self.dir / f"region-{name}.log").open("ab")
        proc = subprocess.Popen(
            self._argv(name, address, role),
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

    def respawn(self, name: str, address: str, role: str) -> int:
        """Start an exited region again from the long-lived spawner thread; its pid."""
        self._spawner.submit(self.spawn, name, address, role).result()
        return self.processes[name].pid

    def running(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def wait_healthy(self, name: str, address: str, deadline: float, starting: bool) -> None:
        """Wait until region ``name`` answers ``/health`` with 200; RuntimeError saying why
        if it exits or ``deadline`` (monotonic) passes."""
        while client_health(address, self.ports["service"]) != 200:
            proc = self.processes[name]
            exited = proc.poll() is not None
            if exited or time.monotonic() > deadline:
                raise RuntimeError(self._not_healthy(name, proc, starting, exited))
            time.sleep(0.02)

    def _not_healthy(
        self, name: str, proc: subprocess.Popen[bytes], starting: bool, exited: bool
    ) -> str:
        log = self.dir / f"region-{name}.log"
        if not starting:
            return f"region {name} did not come back; see {log}"
        if exited:
            tail = log.read_text(errors="replace")[-800:]
            return f"region {name} exited with {proc.returncode} while starting: {tail}"
        return f"region {name} was not healthy within {ready_timeout():.0f} s; see {log}"

    def watch(self) -> None:
        """Record each region process's exit once (a supervised worker's step)."""
        for name, proc in list(self.processes.items()):
            code = proc.poll()
            if code is not None and proc.pid not in self._exited:
                self._exited.add(proc.pid)
                self.events.emit("region-exited", region=name, pid=proc.pid, returncode=code)

    def stop(self) -> None:
        """Terminate every region (a stopped, hung one is continued first), kill what
        does not exit within 3 s, then let the spawner thread go."""
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGCONT)  # a stopped region cannot exit otherwise
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
