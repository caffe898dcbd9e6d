"""Start, watch and stop Locust as a subprocess, from a process that never imports gevent.

(Its inputs and their checks are :mod:`gameday.load.settings`.)

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
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gameday.children import die_with_parent
from gameday.load.errors import LoadStartFailed
from gameday.load.ledger import count_records, read_summary, summary_path
from gameday.load.settings import STOCK_LOCUSTFILE, LoadSettings, check_locustfile, validate
from gameday.rundir.files import create

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
            cmd += self._run_args()
        cmd += self._workload_args()
        if s.lab:
            cmd.append("--lab-mode")
        cmd += list(s.extra_args)
        return cmd

    def _run_args(self) -> list[str]:
        """A local run's or a master's: users, duration, outputs, its own workers."""
        s = self.settings
        spawn_rate = s.spawn_rate if s.spawn_rate is not None else s.users
        cmd = [
            "--headless",
            *("--host", s.host_url, "--users", str(s.users), "--spawn-rate", str(spawn_rate)),
            *("--run-time", f"{max(1, math.ceil(s.run_time))}s"),
            *("--stop-timeout", str(math.ceil(s.stop_timeout))),
            *("--only-summary", "--exit-code-on-error", "0"),
            *("--html", str(self.html), "--csv", str(self.csv_prefix)),
            *("--ledger", str(self.ledger)),
        ]
        if s.processes:
            # the master and its forked workers talk over loopback, on a port of this
            # run's own: never on every interface, never on a fixed port two runs share
            port = str(self.master_port or 0)
            cmd += [
                *("--processes", str(s.processes)),
                *("--master-bind-host", "127.0.0.1", "--master-bind-port", port),
                *("--master-host", "127.0.0.1", "--master-port", port),
            ]
        if s.role == "master":
            cmd += [
                *("--master", "--expect-workers", str(s.expect_workers)),
                *("--master-bind-host", s.master_host),
                *("--master-bind-port", str(self.master_port or s.master_port)),
            ]
        return cmd

    def _workload_args(self) -> list[str]:
        """The locustfile's own options (every role)."""
        s = self.settings
        return [
            *("--region-header", s.region_header, "--resolver-mode", s.resolver_mode),
            *("--nameserver", s.effective_nameserver or ""),
            *("--dns-timeout", str(s.dns_timeout), "--write-ratio", str(s.write_ratio)),
            *("--think-min", str(s.think_min), "--think-max", str(s.think_max)),
            *("--connect-timeout", str(s.connect_timeout)),
            *("--network-timeout", str(s.network_timeout)),
            *("--ledger-flush-interval", str(s.flush_interval)),
        ]

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
