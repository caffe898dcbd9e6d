"""What a load run is asked to do, and the checks that run before anything starts.

:class:`LoadSettings` is every input of a run; :func:`validate` checks each one (numbers in
their documented ranges, roles, the resolver mode, the nameserver, the locustfile, the
ledger, and in lab mode that every address is loopback) and resolves the target the way
the load will, raising one :class:`~gameday.load.errors.LoadError` with an actionable
message. :func:`check_locustfile` imports a locustfile in a throwaway subprocess.
:mod:`gameday.load.runner` starts Locust only with settings that passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gameday.load.errors import (
    InvalidLoadSettings,
    LocustfileImportError,
    NonLoopbackTarget,
    TargetUnresolvable,
)
from gameday.load.resolver import MODES, DNSResolutionError, TTLResolver, parse_nameserver
from gameday.netutil import ip_literal, is_loopback
from gameday.numbers import number_problem

__all__ = [
    "MAX_RUN_TIME",
    "NUMBER_RANGES",
    "STOCK_LOCUSTFILE",
    "LoadSettings",
    "Role",
    "check_locustfile",
    "resolve_target",
    "validate",
]

STOCK_LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: The longest run gameday starts (a week): --run-time is a hard cap, never "for ever".
MAX_RUN_TIME = 7 * 24 * 3600.0
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
