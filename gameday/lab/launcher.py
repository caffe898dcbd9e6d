"""Start, find, describe and stop a lab (used by the CLI, tests and benchmarks).

A lab is a supervisor process (see :mod:`gameday.lab.supervisor`) that writes
``<lab_dir>/state.json`` and holds ``<lab_dir>/lab.lock`` (:mod:`gameday.lab.lock`): one
lab per directory. :meth:`Lab.stop` finds what a directory started through the state, the
pid file and the command lines of running processes, so it stops a lab whose state was
lost or whose directory was deleted. :class:`Lab` is the handle on it::

    with Lab.start(LabConfig(lab_dir="/tmp/lab")) as lab:
        print(lab.info.record_name, lab.env())
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from gameday.faults import ledger_path
from gameday.lab.bootstrap import RegionResources, Resources
from gameday.lab.config import LabConfig, start_timeout
from gameday.lab.draws import new_seed
from gameday.lab.events import Event, read_events
from gameday.lab.lock import PID_NAME, LabLock, lab_processes, locked
from gameday.lab.network import synfilter
from gameday.lab.ports import listening
from gameday.lab.state import LAB_CREDENTIALS, read_state, write_state
from gameday.procutil import pid_alive, process_state

#: Seconds a running lab's state file may exist without a status (a supervisor writes it
#: whole, atomically) before a second command stops waiting for that lab to be ready.
BLANK_STATE_GRACE = 10.0
#: Fresh starts after losing a port race: a free port the lab picked was bound by another
#: process (another lab starting on the same machine) before the lab bound it.
PORT_RACE_RETRIES = 2


class LabError(RuntimeError):
    """A lab could not be started, found or stopped; the message says what to do."""


class LabAlreadyRunning(LabError):
    """A lab is already running in this lab directory."""


@dataclass(frozen=True)
class RegionInfo(RegionResources):
    """One region of a running lab: its resources, process and control port."""

    pid: int | None
    control_port: int


@dataclass(frozen=True)
class LabInfo(Resources):
    """Where a running lab answers and what it holds (its resources, ports, processes)."""

    regions: tuple[RegionInfo, ...]
    endpoint_url: str
    dns_host: str
    dns_port: int
    service_port: int
    service_tls_port: int
    supervisor_pid: int
    events_path: str
    lab_dir: str

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LabInfo:
        names = {f.name for f in fields(cls)} - {"regions"}
        return cls(
            regions=tuple(RegionInfo(**r) for r in state["regions"]),
            **{name: state[name] for name in names},
        )

    def region(self, name: str) -> RegionInfo:
        for region in self.regions:
            if region.name == name:
                return region
        known = ", ".join(r.name for r in self.regions)
        raise LabError(f"the lab has no region {name!r}; its regions are {known}")

    @property
    def primary(self) -> RegionInfo:
        return self.regions[0]

    @property
    def secondary(self) -> RegionInfo:
        return self.regions[1]


def lab_env(info: LabInfo) -> dict[str, str]:
    """The environment under which boto3, chaos and gameday talk to this lab.

    Besides the endpoint and credentials it names the lab's resources with the
    ``GAMEDAY_*`` variables the experiment catalogue reads, so the same experiment runs
    against real AWS once those are set to the real ids, and the fault ledger
    (``GAMEDAY_FAULT_LEDGER``) so every shell that evaluates it shares one.
    """
    env = {
        "AWS_ENDPOINT_URL": info.endpoint_url,
        "AWS_DEFAULT_REGION": info.primary.name,
        **LAB_CREDENTIALS,
        "GAMEDAY_LAB": "1",
        "GAMEDAY_LAB_DIR": info.lab_dir,
        "GAMEDAY_FAULT_LEDGER": str(ledger_path()),
        "GAMEDAY_NAMESERVER": f"{info.dns_host}:{info.dns_port}",
        "GAMEDAY_SERVICE_NAME": info.record_name,
        "GAMEDAY_ALIAS_SERVICE_NAME": info.alias_record_name,
        "GAMEDAY_SERVICE_TLS_PORT": str(info.service_tls_port),
        "GAMEDAY_SERVICE_PORT": str(info.service_port),
        "GAMEDAY_HOSTED_ZONE_ID": info.zone_id,
        "GAMEDAY_GLOBAL_CLUSTER_ID": info.global_cluster_id,
        "GAMEDAY_SECRET_NAME": info.secret_name,
        "GAMEDAY_TABLE_NAME": info.table_name,
        "GAMEDAY_LAB_SPEED": f"{info.speed:g}",
        "GAMEDAY_DATA_TIER": info.data_tier,
    }
    for role, region in (("PRIMARY", info.primary), ("SECONDARY", info.secondary)):
        env.update(
            {
                f"GAMEDAY_{role}_REGION": region.name,
                f"GAMEDAY_{role}_ENDPOINT": f"http://{region.address}:{info.service_port}",
                f"GAMEDAY_{role}_HEALTH_CHECK_ID": region.health_check_id,
                f"GAMEDAY_{role}_SUBNET_ID": region.subnet_id,
                f"GAMEDAY_{role}_NETWORK_ACL_ID": region.network_acl_id,
                f"GAMEDAY_{role}_DB_CLUSTER_ARN": region.db_cluster_arn,
                f"GAMEDAY_{role}_LOAD_BALANCER_ARN": region.load_balancer_arn,
                f"GAMEDAY_{role}_LOAD_BALANCER_DNS_NAME": region.load_balancer_dns_name,
                f"GAMEDAY_{role}_TARGET_GROUP_ARN": region.target_group_arn,
            }
        )
    return env


def shell_exports(env: dict[str, str]) -> list[str]:
    """``export NAME=value`` lines, every value quoted for POSIX shells, so that
    ``eval "$(gameday lab env)"`` sets exactly these values and runs nothing else."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


class Lab:
    """A handle on the lab whose state lives in ``lab_dir``."""

    def __init__(self, lab_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(lab_dir).resolve()
        self.state_path = self.dir / "state.json"
        self._proc: subprocess.Popen[bytes] | None = None
        #: pids the last :meth:`stop` found and stopped (tests check them)
        self.stopped: list[int] = []

    # -- lifecycle ----------------------------------------------------------------------

    @classmethod
    def start(cls, config: LabConfig, timeout: float | None = None) -> Lab:
        """Validate ``config``, start a supervisor and wait until the lab is ready.

        Raises :class:`LabAlreadyRunning` if a lab runs (or is starting) in that
        directory: its lock is held. :class:`LabError` (with nothing left running) if it
        cannot start. A start that lost a race for a port the lab picked itself (every
        port 0) is tried again with new ports, up to :data:`PORT_RACE_RETRIES` times.
        """
        timeout = start_timeout() if timeout is None else timeout
        picked = not (config.service_port or config.dns_port or config.endpoint_port)
        for attempt in range(PORT_RACE_RETRIES + 1):
            try:
                return cls._start_once(config, timeout)
            except LabError as exc:
                # the socket module says "Address already in use", asyncio's create_server
                # "... address already in use" (a region's HTTPS listener)
                lost_race = picked and "address already in use" in str(exc).lower()
                if not lost_race or attempt == PORT_RACE_RETRIES:
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def _start_once(cls, config: LabConfig, timeout: float) -> Lab:
        config.validate()
        if config.seed is None:  # the draws of this lab are repeatable with its seed
            config = dataclasses.replace(config, seed=new_seed())
        lab = cls(config.lab_dir)
        try:
            lock = LabLock.try_acquire(lab.dir)
        except OSError as exc:
            raise LabError(f"cannot use lab directory {lab.dir}: {exc.strerror}") from exc
        if lock is None or lab.running():
            if lock is not None:
                lock.release()
            raise LabAlreadyRunning(lab.describe_running())
        try:
            lab.state_path.unlink(missing_ok=True)
            log = (lab.dir / "supervisor.log").open("wb")
            config_json = json.dumps(config.to_dict() | {"lab_dir": str(lab.dir)})
            lab._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gameday.lab.supervisor",
                    "--config",
                    config_json,
                    "--lab-dir",
                    str(lab.dir),
                    "--lock-fd",
                    str(lock.fd),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(lock.fd,),  # the supervisor holds the lock from here on
            )
            log.close()
        finally:
            lock.release()  # our copy only: the supervisor's keeps the directory locked
        try:
            lab._wait_ready(timeout)
        except BaseException as failed:
            # an interrupted or failed start leaves nothing running; the start's own error
            # stays the one raised (a port lost to another lab is retried by start())
            try:
                lab.stop()
            except LabError as unclean:
                failed.add_note(f"stopping the failed start: {unclean}")
            raise
        return lab

    def describe_running(self) -> str:
        """One sentence on the lab that holds this directory (for a refused ``lab up``)."""
        state = read_state(self.state_path) or {}
        pid = state.get("supervisor_pid") or self._pid_file()
        status = state.get("status") or "starting"
        return (
            f"a lab is already {'running' if status == 'ready' else status} in {self.dir} "
            f"(supervisor pid {pid}): use it, or stop it with 'gameday lab down'"
        )

    def _pid_file(self) -> int | None:
        try:
            return int((self.dir / PID_NAME).read_text().strip())
        except (OSError, ValueError):
            return None

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = read_state(self.state_path) or {}
            if state.get("status") == "ready":
                return
            if state.get("status") == "failed" or self._proc.poll() is not None:
                self._proc.wait(timeout=15)
                raise LabError(f"the lab did not start: {state.get('error') or self._tail_log()}")
            time.sleep(0.02)
        raise LabError(
            f"the lab was not ready within {timeout:.0f} s; see {self.dir / 'supervisor.log'}"
        )

    def _tail_log(self) -> str:
        try:
            lines = (self.dir / "supervisor.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no supervisor log"
        return lines[-1] if lines else "the supervisor exited without a word"

    def state(self) -> dict[str, Any]:
        state = read_state(self.state_path)
        if state is None:
            raise LabError(f"no lab state in {self.dir}: start one with 'gameday lab up'")
        return state

    def running(self) -> bool:
        """True if this directory's state names a live supervisor that is starting or ready."""
        state = read_state(self.state_path)
        return (
            state is not None
            and state.get("status") in ("starting", "ready")
            and pid_alive(state.get("supervisor_pid"))
        )

    def held(self) -> bool:
        """True if a lab holds this directory's lock (it runs or is starting), whatever
        its state file says."""
        return locked(self.dir)

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Wait for a lab another command is starting here; True once it is ready.

        A lab whose ``state.json`` exists but says nothing for :data:`BLANK_STATE_GRACE`
        seconds (emptied or damaged while it runs) is not waited for: nothing will mark it
        ready. (A start removes the file first, so a missing one may be a start under way.)"""
        now = time.monotonic()
        deadline = now + (start_timeout() if timeout is None else timeout)
        blank_since: float | None = None
        while now < deadline:
            state = read_state(self.state_path) or {}
            if state.get("status") == "ready" and pid_alive(state.get("supervisor_pid")):
                return True
            if state.get("status") in ("failed", "stopped") or not self.held():
                return False
            if state.get("status") or not self.state_path.exists():
                blank_since = None
            elif blank_since is None:
                blank_since = now
            elif now - blank_since > BLANK_STATE_GRACE:
                return False
            time.sleep(0.05)
            now = time.monotonic()
        return False

    @property
    def info(self) -> LabInfo:
        state = self.state()
        if state.get("status") != "ready":
            raise LabError(f"the lab in {self.dir} is {state.get('status')}, not ready")
        try:
            return LabInfo.from_state(state)
        except (KeyError, TypeError, ValueError) as exc:
            raise LabError(
                f"the state of the lab in {self.dir} is damaged ({exc!r}): stop it with "
                "'gameday lab down' and start it again"
            ) from exc

    def stop(self, timeout: float = 15.0) -> list[str]:
        """Stop the lab and everything it started; returns what had to be killed by force.

        Finds its processes through the state file, the pid file, the supervisor it
        started and the command lines of every running process that name this directory,
        so it works when the supervisor or a region was killed, when ``state.json`` was
        emptied, and when the directory was deleted. Ports the state names are verified
        closed. The state is marked stopped only if it describes the lab stopped here.
        """
        state = read_state(self.state_path) or {}
        forced: list[str] = []
        found = lab_processes(self.dir)
        supervisors = {p.pid for p in found if p.kind == "supervisor"}
        for pid in (state.get("supervisor_pid"), self._pid_file()):
            if pid and _is_lab_process(pid, "gameday.lab.supervisor"):
                supervisors.add(pid)
        if self._proc is not None and self._proc.poll() is None:
            supervisors.add(self._proc.pid)
        regions = {p.pid for p in found if p.kind == "region"}
        regions |= {
            r["pid"]
            for r in state.get("regions", [])
            if r.get("pid") and _is_lab_process(r["pid"], "gameday.lab.region.server")
        }
        for pid in supervisors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                os.kill(pid, signal.SIGCONT)  # a stopped supervisor cannot act on it otherwise
        deadline = time.monotonic() + timeout
        while any(pid_alive(pid) for pid in supervisors) and time.monotonic() < deadline:
            if self._proc is not None:
                self._proc.poll()
            time.sleep(0.02)
        for pid in supervisors:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)  # its session: its regions too
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # started by hand: not a group leader
                forced.append(f"supervisor {pid}")
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        names = {r.get("pid"): r.get("name") for r in state.get("regions", [])}
        for pid in sorted(regions):
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
                forced.append(f"region {names.get(pid) or '?'} {pid}")
        _wait_gone(supervisors | regions)
        # the supervisor removes its nftables table on a clean stop; after a crash, here
        if synfilter.remove_table(self.dir):
            forced.append(f"nftables table {synfilter.table_name(self.dir)}")
        self.stopped = sorted(supervisors | regions)
        ours = state.get("supervisor_pid") in supervisors or not pid_alive(
            state.get("supervisor_pid")
        )
        if state and ours and self.dir.is_dir() and not self.held():
            final = read_state(self.state_path) or state
            if final.get("status") != "failed":
                final["status"] = "stopped"
            write_state(self.state_path, final)
        # last, once everything else is cleaned up: a port still open now is not one of the
        # processes above (all gone); after a start that lost a port race it is the winner's
        _wait_closed(state)
        return forced

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- observing ----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return lab_env(self.info)

    def events(self, *, since: float | None = None, kind: str | None = None) -> list[Event]:
        return read_events(self.dir / "events.jsonl", since=since, kind=kind)

    def wait_for_event(
        self,
        predicate: Callable[[Event], bool],
        timeout: float,
        *,
        since: float | None = None,
    ) -> Event:
        """The first event (newer than ``since``) matching ``predicate``; waits up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events(since=since):
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching lab event within {timeout} s")
            time.sleep(0.02)

    def restart_region(self, name: str) -> dict[str, Any]:
        """Start a killed region again (its store is durable); returns its pid and role."""
        self.info.region(name)  # LabError for an unknown region
        return self._supervisor("POST", f"/regions/{name}/restart")

    def set_lag(self, seconds: float) -> dict[str, Any]:
        """Lab-only: delay the lab's replication by ``seconds`` AWS seconds (served divided by
        the lab's speed; not an AWS fault)."""
        return self._supervisor("POST", "/replication/lag", {"seconds": seconds})

    def _supervisor(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One call to the supervisor's control API; LabError with its message on failure."""
        state = self.state()
        conn = http.client.HTTPConnection(
            "127.0.0.1", state["supervisor_port"], timeout=start_timeout()
        )
        try:
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=payload)
            response = conn.getresponse()
            body = json.loads(response.read() or b"{}")
        except OSError as exc:
            raise LabError(f"the lab supervisor does not answer: {exc}") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise LabError(body.get("error", f"{path} failed with HTTP {response.status}"))
        return body

    def liveness(self) -> dict[str, Any]:
        """Which of the lab's processes are alive (and whether a region is stopped)."""
        state = self.state()
        regions = {}
        for region in state.get("regions", []):
            pid = region.get("pid")
            alive = pid_alive(pid)
            regions[region["name"]] = {
                "pid": pid,
                "alive": alive,
                "stopped": alive and process_state(pid) == "T",
            }
        return {"supervisor": pid_alive(state.get("supervisor_pid")), "regions": regions}


def _is_lab_process(pid: int, module: str) -> bool:
    """True if ``pid`` runs ``module`` (a pid from a file may have been reused since)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return module.encode() in args


def _wait_gone(pids: set[int], timeout: float = 5.0) -> None:
    """Wait until none of ``pids`` is alive (killed processes take a moment to go)."""
    deadline = time.monotonic() + timeout
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            left = ", ".join(str(pid) for pid in sorted(pids) if pid_alive(pid))
            raise LabError(f"lab processes still alive after stop: {left}")
        time.sleep(0.02)


def _wait_closed(state: dict[str, Any], timeout: float = 5.0) -> None:
    """Wait until no lab port accepts connections any more."""
    targets = []
    if state.get("service_port"):
        targets += [(r["address"], state["service_port"]) for r in state.get("regions", [])]
        targets += [
            ("127.0.0.1", r["control_port"])
            for r in state.get("regions", [])
            if r.get("control_port")
        ]
    if state.get("endpoint_url"):
        targets.append(("127.0.0.1", int(state["endpoint_url"].rsplit(":", 1)[1])))
    if state.get("dns_port"):
        targets.append(("127.0.0.1", state["dns_port"]))
    if state.get("supervisor_port"):
        targets.append(("127.0.0.1", state["supervisor_port"]))
    deadline = time.monotonic() + timeout
    while any(listening(h, p) for h, p in targets):
        if time.monotonic() > deadline:
            open_ = [f"{h}:{p}" for h, p in targets if listening(h, p)]
            raise LabError(f"lab ports still open after stop: {', '.join(open_)}")
        time.sleep(0.05)
