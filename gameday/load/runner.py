"""Start, watch and stop Locust as a subprocess, from a process that never imports gevent.

Why a subprocess: Locust monkey-patches the standard library with gevent, which must not
touch boto3 or chaoslib in the harness. Every input is checked here *before* anything
starts (users, durations, the locustfile, the target's resolution and, in lab mode, that
it is loopback), so bad input costs one clear :class:`~gameday.load.errors.LoadError` and no
load. A run always has a hard ``--run-time`` cap, and :meth:`LoadRun.stop` always reaps.

Outputs beside the ledger ``DIR/NAME.jsonl``: ``NAME.summary.json`` (record count next to
Locust's request count), ``NAME.locust.html``, ``NAME.locust_stats.csv`` (and Locust's other
CSVs), ``NAME.locust.log`` (Locust's stdout and stderr).

Typical use::

    with LoadRun(LoadSettings(target="api.lab.internal", port=8080, users=4, run_time=600,
                              ledger=Path("reports/drill/ledger.jsonl"), lab=True)) as run:
        run.wait_until_producing()
        ...  # inject the fault, watch gameday.probes.load.error_rate
    result = run.result   # set by stop() on leaving the block
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from gameday.children import die_with_parent
from gameday.load.errors import (
    InvalidLoadSettings,
    LoadStartFailed,
    LocustfileImportError,
    NonLoopbackTarget,
    TargetUnresolvable,
)
from gameday.load.ledger import count_records, read_summary, summary_path
from gameday.load.resolver import (
    MODES,
    DNSResolutionError,
    TTLResolver,
    parse_nameserver,
)
from gameday.netutil import ip_literal, is_loopback
from gameday.numbers import number_problem
from gameday.rundir.files import create

STOCK_LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: The longest run gameday starts (a week): --run-time is a hard cap, never "for ever".
MAX_RUN_TIME = 7 * 24 * 3600.0
#: How Locust is started: a child that dies with the process that started it, and whose
#: own forked workers (--processes) die with it, so a SIGKILL of the harness never leaves
#: load running (see gameday.children). Run as ``python -c BOOT <locust arguments>``.
_BOOT = (
    "import os, sys\n"
    "from gameday.children import die_with_parent\n"
    "os.register_at_fork(after_in_child=die_with_parent)\n"
    "sys.argv[0] = 'locust'\n"
    "from locust.main import main\n"
    "main()\n"
)
Role = Literal["local", "master", "worker"]


@dataclass
class LoadSettings:
    """Everything a load run needs. Options reach the locustfile as Locust custom arguments.

    ``nameserver`` None means ``$GAMEDAY_NAMESERVER`` if set (the lab exports it), else the
    system's resolvers. ``lab=True`` refuses any target or nameserver outside loopback.
    ``processes`` > 0 runs Locust's ``--processes N`` (one master, N local workers).
    ``role="master"`` waits for ``expect_workers`` workers started elsewhere with
    ``role="worker"`` and ``master_host``/``master_port``; the master writes the ledger.
    """

    target: str = "api.lab.internal"
    port: int = 80
    users: int = 4
    spawn_rate: float | None = None  # default: all users in the first second
    run_time: float = 300.0  # seconds; Locust's hard --run-time cap
    ledger: Path = field(default_factory=lambda: Path("reports/load/ledger.jsonl"))
    locustfile: Path | None = None  # None: the stock orders workload
    scheme: str = "http"
    resolver_mode: str = "ttl"
    nameserver: str | None = None
    dns_timeout: float = 1.0
    lab: bool = False
    write_ratio: float = 0.5
    think_min: float = 0.1
    think_max: float = 0.5
    connect_timeout: float = 2.0
    network_timeout: float = 5.0
    region_header: str = "X-Region"
    flush_interval: float = 0.2
    processes: int = 0
    role: Role = "local"
    expect_workers: int = 1
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    stop_timeout: float = 0.0
    overwrite: bool = False
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def effective_nameserver(self) -> str | None:
        return self.nameserver or os.environ.get("GAMEDAY_NAMESERVER") or None

    @property
    def host_url(self) -> str:
        shown = (
            self.target
            if ip_literal(self.target) is None or ":" not in self.target
            else (f"[{self.target.strip('[]')}]")
        )
        return f"{self.scheme}://{shown}:{self.port}"


@dataclass(frozen=True)
class LoadResult:
    """What a finished run left behind."""

    returncode: int | None
    records: int
    locust_requests: int | None
    complete: bool
    ledger: Path
    summary: Path
    html: Path
    csv_prefix: Path
    log: Path
    duration: float


#: field -> (low, high, whole number?, unit, flag): the documented range of each number.
#: ``master_port`` 0 picks a free port; ``dns_timeout`` and ``flush_interval`` have no flag.
NUMBER_RANGES: dict[str, tuple[float, float, bool, str, str]] = {
    "port": (1, 65535, True, "", "--port"),
    "users": (1, 100_000, True, "", "--users"),
    "spawn_rate": (0.001, 100_000, False, "users per second", "--spawn-rate"),
    "run_time": (0.001, MAX_RUN_TIME, False, "seconds", "--run-time"),
    "write_ratio": (0.0, 1.0, False, "", "--write-ratio"),
    "think_min": (0.0, 3600.0, False, "seconds", "--think-min"),
    "think_max": (0.0, 3600.0, False, "seconds", "--think-max"),
    "connect_timeout": (0.001, 600.0, False, "seconds", "--connect-timeout"),
    "network_timeout": (0.001, 600.0, False, "seconds", "--network-timeout"),
    "dns_timeout": (0.001, 600.0, False, "seconds", "the dns_timeout setting"),
    "flush_interval": (0.001, 60.0, False, "seconds", "the flush_interval setting"),
    "processes": (0, 256, True, "", "--processes"),
    "expect_workers": (1, 10_000, True, "", "--expect-workers"),
    "master_port": (0, 65535, True, "", "--master-port"),
    "stop_timeout": (0.0, 3600.0, False, "seconds", "the stop_timeout setting"),
}
#: Settings a worker takes from its master, not from its own command line.
_MASTER_ONLY = frozenset({"users", "spawn_rate", "run_time", "expect_workers", "port"})


def _check_numbers(s: LoadSettings) -> None:
    for name, (low, high, integer, unit, flag) in NUMBER_RANGES.items():
        value = getattr(s, name)
        if (name == "spawn_rate" and value is None) or (
            s.role == "worker" and name in _MASTER_ONLY
        ):
            continue
        problem = number_problem(value, low, high, integer=integer, unit=unit)
        if problem:
            raise InvalidLoadSettings(f"{name} must be {problem}: fix {flag}.")


def validate(settings: LoadSettings) -> tuple[str, ...]:
    """Check every input; return the target's addresses. Raises a LoadError, starts nothing."""
    s = settings
    if s.role not in ("local", "master", "worker"):
        raise InvalidLoadSettings(f"role must be local, master or worker (got {s.role!r}).")
    _check_numbers(s)
    if s.think_min > s.think_max:
        raise InvalidLoadSettings(
            f"think time must satisfy 0 <= min <= max (got {s.think_min!r}, {s.think_max!r}): "
            "fix --think-min/--think-max."
        )
    if s.processes and s.role != "local":
        raise InvalidLoadSettings("processes cannot be combined with master/worker roles: use one.")
    if s.role == "worker" and s.master_port == 0:
        raise InvalidLoadSettings("a worker needs the master's port: pass --master-port.")
    if s.role in ("master", "worker") and s.lab and not is_loopback(s.master_host):
        verb = "bind the master to" if s.role == "master" else "reach a master at"
        raise NonLoopbackTarget(
            f"lab mode refuses to {verb} {s.master_host}, which is outside loopback: "
            "use --master-host 127.0.0.1 or drop --lab."
        )
    if s.resolver_mode not in MODES:
        raise InvalidLoadSettings(
            f"resolver mode must be one of {', '.join(MODES)} (got {s.resolver_mode!r}): "
            "fix --resolver."
        )
    if isinstance(s.processes, bool) or not isinstance(s.processes, int) or s.processes < 0:
        raise InvalidLoadSettings(
            f"processes must be 0 (single process) or more (got {s.processes!r}): fix --processes."
        )
    if s.processes and s.role != "local":
        raise InvalidLoadSettings("processes cannot be combined with master/worker roles: use one.")
    if s.role == "master" and (not isinstance(s.expect_workers, int) or s.expect_workers < 1):
        raise InvalidLoadSettings("a master must expect at least 1 worker: pass --expect-workers.")
    if s.scheme not in ("http", "https"):
        raise InvalidLoadSettings(f"scheme must be http or https (got {s.scheme!r}).")
    nameserver = s.effective_nameserver
    if nameserver is not None:
        try:
            ns_host, _ = parse_nameserver(nameserver)
        except ValueError as exc:
            raise InvalidLoadSettings(
                f"nameserver {nameserver!r} is not HOST:PORT with an IP address ({exc}): "
                "fix --nameserver."
            ) from exc
        if s.lab and not is_loopback(ns_host):
            raise NonLoopbackTarget(
                f"lab mode refuses nameserver {nameserver}, which is outside loopback: "
                "use the lab's DNS (GAMEDAY_NAMESERVER) or drop --lab."
            )
    locustfile = Path(s.locustfile) if s.locustfile else STOCK_LOCUSTFILE
    if not locustfile.is_file():
        raise LocustfileImportError(f"locustfile {locustfile} does not exist: check the path.")
    if s.role != "worker":
        ledger = Path(s.ledger)
        if ledger.exists() and ledger.stat().st_size > 0 and not s.overwrite:
            raise InvalidLoadSettings(
                f"ledger {ledger} already holds records: choose a new path or pass --overwrite."
            )
    if s.role == "worker":
        return ()  # a worker gets the target (and the load options) from its master
    if s.lab and (literal := ip_literal(s.target)) is not None and not is_loopback(literal):
        raise NonLoopbackTarget(_refusal(s.target, literal))
    return resolve_target(s)


def _refusal(target: str, address: str) -> str:
    return (
        f"lab mode refuses target {target} ({address}), which is outside loopback "
        "(127.0.0.0/8, ::1): point --target at the lab or drop --lab."
    )


def resolve_target(settings: LoadSettings) -> tuple[str, ...]:
    """Resolve the target now, the way the load will, and apply the lab-mode check."""
    nameserver = settings.effective_nameserver
    resolver = TTLResolver(settings.target, nameserver=nameserver, timeout=settings.dns_timeout)
    try:
        answer = resolver.resolve()
    except DNSResolutionError as exc:
        via = f"nameserver {nameserver}" if nameserver else "the system resolver"
        raise TargetUnresolvable(
            f"target {settings.target} does not resolve via {via} ({exc}): check --target and "
            "--nameserver (or GAMEDAY_NAMESERVER)."
        ) from exc
    if settings.lab:
        for address in answer.addresses:
            if not is_loopback(address):
                raise NonLoopbackTarget(_refusal(settings.target, address))
    return answer.addresses


def check_locustfile(
    path: Path, *, env: dict[str, str] | None = None, timeout: float = 60.0
) -> list[str]:
    """Import ``path`` with Locust in a throwaway subprocess; return its User class names.

    Raises LocustfileImportError with the import error's last line when it fails.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(path), "--list", "--skip-log-setup"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    output = (proc.stdout + "\n" + proc.stderr).strip()
    if proc.returncode != 0 or "Available Users:" not in proc.stdout:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {proc.returncode}"
        raise LocustfileImportError(
            f"locustfile {path} failed to import ({reason}): fix it and retry."
        )
    users = [
        line.strip()
        for line in proc.stdout.split("Available Users:", 1)[1].splitlines()
        if line.strip()
    ]
    if not users:
        raise LocustfileImportError(
            f"locustfile {path} defines no Locust User class: add one (e.g. subclass GamedayUser)."
        )
    return users


def _free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (the master binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so a run started
#: from a short-lived thread is spawned by this long-lived one instead.
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="locust-spawner")


def _spawn(cmd: list[str], log: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
    def popen() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: stop() can reap workers too
            preexec_fn=die_with_parent,  # and a SIGKILL of this process takes it along
        )

    if threading.current_thread() is threading.main_thread():
        return popen()
    return _spawner.submit(popen).result()


_live: weakref.WeakSet[LoadRun] = weakref.WeakSet()


@atexit.register
def _reap_all() -> None:
    for run in list(_live):
        run.stop(timeout=5.0)


class LoadRun:
    """One Locust subprocess: :meth:`start`, :meth:`wait_until_producing`, :meth:`stop`."""

    def __init__(self, settings: LoadSettings) -> None:
        self.settings = settings
        ledger = Path(settings.ledger)
        stem = ledger.with_name(ledger.stem)
        self.ledger = ledger
        self.summary = summary_path(ledger)
        self.html = Path(f"{stem}.locust.html")
        self.csv_prefix = Path(f"{stem}.locust")
        self.log = Path(f"{stem}.locust.log")
        self.addresses: tuple[str, ...] = ()
        self.process: subprocess.Popen[bytes] | None = None
        self.result: LoadResult | None = None
        self._started_at = 0.0
        #: the port Locust's master listens on (chosen at start when it is free to choose)
        self.master_port: int | None = None

    # -- command ---------------------------------------------------------------------
    def command(self) -> list[str]:
        """The Locust command line this run uses."""
        s = self.settings
        locustfile = Path(s.locustfile) if s.locustfile else STOCK_LOCUSTFILE
        cmd = [sys.executable, "-c", _BOOT, "-f", str(locustfile)]
        if s.role == "worker":
            cmd += ["--worker", "--master-host", s.master_host, "--master-port", str(s.master_port)]
        else:
            run_time = max(1, math.ceil(s.run_time))
            spawn_rate = s.spawn_rate if s.spawn_rate is not None else s.users
            cmd += [
                "--headless",
                "--host", s.host_url,
                "--users", str(s.users),
                "--spawn-rate", str(spawn_rate),
                "--run-time", f"{run_time}s",
                "--stop-timeout", str(math.ceil(s.stop_timeout)),
                "--only-summary",
                "--exit-code-on-error", "0",
                "--html", str(self.html),
                "--csv", str(self.csv_prefix),
                "--ledger", str(self.ledger),
            ]  # fmt: skip
            if s.processes:
                # the master and its forked workers talk over loopback, on a port of this
                # run's own: never on every interface, never on a fixed port two runs share
                port = self.master_port or 0
                cmd += [
                    "--processes", str(s.processes),
                    "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", str(port),
                    "--master-host", "127.0.0.1",
                    "--master-port", str(port),
                ]  # fmt: skip
            if s.role == "master":
                cmd += [
                    "--master",
                    "--expect-workers", str(s.expect_workers),
                    "--master-bind-host", s.master_host,
                    "--master-bind-port", str(self.master_port or s.master_port),
                ]  # fmt: skip
        cmd += [
            "--region-header", s.region_header,
            "--resolver-mode", s.resolver_mode,
            "--nameserver", s.effective_nameserver or "",
            "--dns-timeout", str(s.dns_timeout),
            "--write-ratio", str(s.write_ratio),
            "--think-min", str(s.think_min),
            "--think-max", str(s.think_max),
            "--connect-timeout", str(s.connect_timeout),
            "--network-timeout", str(s.network_timeout),
            "--ledger-flush-interval", str(s.flush_interval),
        ]  # fmt: skip
        if s.lab:
            cmd.append("--lab-mode")
        cmd += list(s.extra_args)
        return cmd

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> LoadRun:
        """Validate, then start Locust. Raises a LoadError (and starts nothing) on bad input."""
        if self.process is not None:
            raise LoadStartFailed("this run was already started: create a new LoadRun.")
        self.addresses = validate(self.settings)
        env = {**os.environ, **self.settings.env}
        if self.settings.locustfile:
            check_locustfile(Path(self.settings.locustfile), env=env)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        if self.settings.role != "worker":
            for stale in (self.ledger, self.summary):
                stale.unlink(missing_ok=True)
        if self.settings.processes or (
            self.settings.role == "master" and self.settings.master_port == 0
        ):
            self.master_port = _free_loopback_port()
        with create(self.log) as log:
            self.process = _spawn(self.command(), log, env)
        self._started_at = time.monotonic()
        _live.add(self)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until_producing(self, timeout: float = 30.0, min_records: int = 1) -> int:
        """Block until the ledger holds ``min_records`` records; returns the count.

        Raises LoadStartFailed (after reaping) if Locust exits or the deadline passes first.
        """
        if self.process is None:
            raise LoadStartFailed("the run was not started: call start() first.")
        deadline = time.monotonic() + timeout
        while True:
            count = count_records(self.ledger)
            if count >= min_records:
                return count
            if self.process.poll() is not None:
                reason = self._log_reason()
                self.stop()
                raise LoadStartFailed(
                    f"Locust exited (code {self.process.returncode}) before producing load "
                    f"({reason}): see {self.log}."
                )
            if time.monotonic() > deadline:
                self.stop()
                raise LoadStartFailed(
                    f"no request recorded within {timeout:g}s ({self._log_reason()}): "
                    f"check the target and see {self.log}."
                )
            time.sleep(0.05)

    def _log_reason(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "no output"
        for line in reversed(lines):
            text = line.strip()
            if text and ("Error" in text or "error" in text or "Exception" in text):
                return text[-300:]
        return lines[-1].strip()[-300:] if lines else "no output"

    def wait(self, timeout: float | None = None) -> LoadResult:
        """Wait for the run to end by itself (its --run-time), then reap; a run still going
        after ``timeout`` (default run time + 30 s) is stopped."""
        assert self.process is not None, "call start() first"
        if timeout is None:
            timeout = self.settings.run_time + 30.0
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        return self.stop()

    def stop(self, timeout: float = 30.0) -> LoadResult:
        """Stop gracefully, kill the process group if it does not exit within ``timeout``;
        always reap. Idempotent.

        Graceful is SIGINT, Locust's Ctrl-C path: it stops the users, writes the HTML report,
        and fires ``quit`` (the ledger's final flush and summary). SIGTERM also leaves a
        complete ledger, but Locust skips the HTML report on it."""
        if self.process is None:
            raise LoadStartFailed("the run was not started: nothing to stop.")
        if self.result is not None:
            return self.result
        proc = self.process
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(proc.pid)
                proc.wait(timeout=10)
        self._reap_group(proc.pid)
        _live.discard(self)
        self.result = self._result(proc.returncode)
        return self.result

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def _reap_group(self, pgid: int) -> None:
        """Locust's --processes workers are in our group; none may outlive the run."""
        deadline = time.monotonic() + 5.0
        while True:
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                return
            if time.monotonic() > deadline:
                self._kill_group(pgid)
                return
            time.sleep(0.05)

    def _result(self, returncode: int | None) -> LoadResult:
        summary = read_summary(self.ledger) if self.settings.role != "worker" else None
        records = count_records(self.ledger)
        locust_requests = summary.get("locust_requests") if summary else None
        return LoadResult(
            returncode=returncode,
            records=records,
            locust_requests=locust_requests,
            complete=locust_requests is not None and records == locust_requests,
            ledger=self.ledger,
            summary=self.summary,
            html=self.html,
            csv_prefix=self.csv_prefix,
            log=self.log,
            duration=time.monotonic() - self._started_at,
        )

    def __enter__(self) -> LoadRun:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def run_load(settings: LoadSettings, *, produce_timeout: float = 30.0) -> LoadResult:
    """Run for the configured run time and return the result (start, wait, reap)."""
    run = LoadRun(settings).start()
    try:
        run.wait_until_producing(timeout=produce_timeout)
    except BaseException:
        run.stop()
        raise
    return run.wait()
