"""The fault ledger: a write-ahead record of every fault gameday injects, and recovery.

Before an action calls AWS it appends what it is about to do and the exact way to undo
it (a rollback function of :mod:`gameday.actions` and its keyword arguments). The entry
then moves ``pending`` -> ``applied`` (or ``failed``: nothing was injected) ->
``reverted``. The file is JSON Lines, append-only: every state change is a new line
carrying the entry id, so a crash can at worst lose the line being written, never an
earlier one. Appends are single ``write`` calls on an ``O_APPEND`` descriptor under an
exclusive ``flock`` and are ``fsync``-ed, so several processes may share one ledger.

Where it lives does not depend on the current directory: configuration
``gameday_fault_ledger``, else ``$GAMEDAY_FAULT_LEDGER``, else the per-user state
directory (``$XDG_STATE_HOME/gameday/faults.jsonl``, by default
``~/.local/state/gameday/faults.jsonl``), so ``gameday recover`` finds a fault from any
shell of the same user.

Each entry records what its undo needs to reach the same place from a fresh shell: the
endpoint, region, profile and role in use and the account the allowlist verified (never
credentials). :func:`recover` reverts every entry not yet reverted (``pending`` ones
too: a process killed mid-call may or may not have injected), newest first, and only
with the rollback :data:`ROLLBACKS` registers for the entry's action: a ledger is a
file, so what it names is checked, never trusted. Rollbacks are idempotent, so
recovering twice, or after the experiment's own rollbacks ran, changes nothing. A line
that is not a valid record is reported with its number and skipped; it never stops the
recovery of the others.

The account guard (:func:`ensure_account_allowed`) lives in :mod:`gameday.allowlist`,
next to the client factory; it is re-exported here for existing callers.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday import aws
from gameday.allowlist import (
    LAB_ACCOUNT_ID,
    AccountNotAllowed,
    allowed_accounts,
    caller_account,
    ensure_account_allowed,
    forget_identities,
    verified_account,
)
from gameday.procutil import pid_alive

__all__ = [
    "LAB_ACCOUNT_ID",
    "ROLLBACKS",
    "AccountNotAllowed",
    "Entry",
    "Ledger",
    "LedgerNotFound",
    "Undo",
    "allowed_accounts",
    "caller_account",
    "default_ledger_path",
    "ensure_account_allowed",
    "forget_identities",
    "ledger_path",
    "recover",
]

logger = logging.getLogger("gameday.faults")

PENDING, APPLIED, FAILED, REVERTED = "pending", "applied", "failed", "reverted"
STATES = frozenset({PENDING, APPLIED, FAILED, REVERTED})
OPEN_STATES = frozenset({PENDING, APPLIED})

#: The one rollback each injecting action may be undone with: ``activity`` (as the action
#: records it) -> (module, function). :func:`recover` runs nothing else, whatever a
#: ledger line names (a failover's undo is a switchover back, hence the repeat).
ROLLBACKS: dict[str, tuple[str, str]] = {
    "invert_health_check": ("gameday.actions.route53", "restore_health_check"),
    "block_endpoint": ("gameday.actions.ec2", "unblock_endpoint"),
    "pause_replication": ("gameday.actions.fis", "resume_replication"),
    "disrupt_cross_region_connectivity": (
        "gameday.actions.fis",
        "restore_cross_region_connectivity",
    ),
    "failover_database": ("gameday.actions.rds", "switchover_database"),
    "switchover_database": ("gameday.actions.rds", "switchover_database"),
    "remove_secret_replica": ("gameday.actions.secretsmanager", "restore_secret_replica"),
    "set_routing_control_state": ("gameday.actions.arc", "restore_routing_control_state"),
}

#: Configuration keys copied into each entry so :func:`recover` talks to the same
#: endpoint / profile / role / region as the run that injected (never secrets).
_CARRIED_KEYS = (
    "aws_region",
    "aws_profile_name",
    "aws_assume_role_arn",
    "aws_assume_role_session_name",
    "aws_endpoint_url",
    "gameday_allowed_accounts",
)

#: Placeholder credentials for recovering a fault injected into a loopback endpoint (the
#: lab, which accepts any) from a shell that has none; never sent anywhere else.
_LOOPBACK_PLACEHOLDER = {
    "aws_access_key_id": "gameday-recover",
    "aws_secret_access_key": "gameday-recover",
}


class LedgerNotFound(FileNotFoundError):
    """The fault ledger to recover from does not exist (the message names the path)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def default_ledger_path() -> Path:
    """``$XDG_STATE_HOME/gameday/faults.jsonl`` (an absolute XDG_STATE_HOME only, as the
    XDG spec says), else ``~/.local/state/gameday/faults.jsonl``: per user, never per cwd."""
    state_home = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state_home) if os.path.isabs(state_home) else Path.home() / ".local" / "state"
    return base / "gameday" / "faults.jsonl"


def ledger_path(configuration: Mapping[str, Any] | None = None) -> Path:
    """The ledger file: configuration ``gameday_fault_ledger``, env
    ``GAMEDAY_FAULT_LEDGER``, else :func:`default_ledger_path`; always absolute."""
    configured = (configuration or {}).get("gameday_fault_ledger")
    chosen = configured or os.environ.get("GAMEDAY_FAULT_LEDGER")
    return Path(chosen).expanduser().absolute() if chosen else default_ledger_path()


_configured_ledger_path = ledger_path


def _where(configuration: Mapping[str, Any] | None) -> dict[str, Any]:
    """What an undo needs to reach the same place later: the run's carried settings, the
    endpoint, region and profile the environment gave it, and the account the allowlist
    verified for it (no credentials, ever)."""
    cfg = configuration or {}
    carried = {k: cfg[k] for k in _CARRIED_KEYS if cfg.get(k)}
    if "aws_endpoint_url" not in carried and os.environ.get("AWS_ENDPOINT_URL"):
        carried["aws_endpoint_url"] = os.environ["AWS_ENDPOINT_URL"]
    if "aws_region" not in carried:
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        if region:
            carried["aws_region"] = region
    if "aws_profile_name" not in carried and os.environ.get("AWS_PROFILE"):
        carried["aws_profile_name"] = os.environ["AWS_PROFILE"]
    account = verified_account(configuration)
    if account:
        carried["gameday_account"] = account
    return carried


@dataclass(frozen=True)
class Undo:
    """How to revert one fault: ``module.func(**kwargs)``, a rollback of gameday."""

    module: str
    func: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.kwargs.items()))
        return f"{self.module}.{self.func}({args})"


@dataclass
class Entry:
    """The current view of one ledger entry (its lines folded together)."""

    id: str
    time: str
    activity: str
    target: str
    arguments: dict[str, Any]
    undo: Undo
    configuration: dict[str, Any]
    state: str = PENDING
    updated: str = ""
    result: Any = None
    error: str | None = None
    pid: int | None = None
    host: str | None = None
    #: the line number of the entry's first record (for messages)
    line: int = 0

    @property
    def open(self) -> bool:
        """True while the fault may still be in place (pending or applied)."""
        return self.state in OPEN_STATES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    """An append-only JSONL fault ledger at ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any] | None) -> Ledger:
        return cls(ledger_path(configuration))

    # -- writing -------------------------------------------------------------------
    def _append(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record, default=str, sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    # a writer died mid-line: end its torn line first, or this record
                    # would be glued to it and lost with it when the ledger is read
                    line = b"\n" + line
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        if created:  # make the new file's directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def begin(
        self,
        *,
        activity: str,
        target: str,
        arguments: Mapping[str, Any],
        undo: Undo,
        configuration: Mapping[str, Any] | None = None,
    ) -> str:
        """Record a fault about to be injected (state ``pending``); return its id."""
        entry_id = uuid.uuid4().hex
        carried = _where(configuration)
        self._append(
            {
                "id": entry_id,
                "time": _now(),
                "state": PENDING,
                "activity": activity,
                "target": target,
                "arguments": dict(arguments),
                "undo": asdict(undo),
                "configuration": carried,
                "pid": os.getpid(),
                "host": socket.gethostname(),
            }
        )
        return entry_id

    def mark(self, entry_id: str, state: str, **extra: Any) -> None:
        """Append a state change for ``entry_id`` (``extra``: result, error, undo ...)."""
        record: dict[str, Any] = {"id": entry_id, "time": _now(), "state": state}
        for key, value in extra.items():
            record[key] = asdict(value) if isinstance(value, Undo) else value
        self._append(record)

    # -- reading -------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """All entries, in the order they were begun, with their latest state."""
        return self.scan()[0]

    def scan(self) -> tuple[list[Entry], list[tuple[int, str]]]:
        """``(entries, problems)``: the folded entries, and ``(line number, why)`` for each
        complete line that is not a valid record (skipped). A torn last line is not a
        problem: its write never finished, so the call it announced never started."""
        if not self.path.exists():
            return [], []
        folded: dict[str, Entry] = {}
        problems: list[tuple[int, str]] = []
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    logger.warning("%s:%d: ignoring a torn last line", self.path, number)
                    continue
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                why = _invalid(record, folded)
                if why:
                    logger.warning("%s:%d: skipping: %s", self.path, number, why)
                    problems.append((number, why))
                    continue
                self._fold(folded, record, number)
        return list(folded.values()), problems

    @staticmethod
    def _fold(folded: dict[str, Entry], record: dict[str, Any], number: int) -> None:
        entry_id = record["id"]
        current = folded.get(entry_id)
        if current is None:
            undo = record["undo"]
            folded[entry_id] = Entry(
                id=entry_id,
                time=record.get("time") or "",
                activity=record["activity"],
                target=record.get("target") or "",
                arguments=record.get("arguments") or {},
                undo=Undo(undo["module"], undo["func"], undo.get("kwargs") or {}),
                configuration=record.get("configuration") or {},
                state=record.get("state") or PENDING,
                updated=record.get("time") or "",
                pid=record.get("pid"),
                host=record.get("host"),
                line=number,
            )
            return
        state = record.get("state")
        # reverted is final: a late "applied" from a slow writer never reopens an entry
        if state and current.state != REVERTED:
            current.state = state
        current.updated = record.get("time") or current.updated
        if "result" in record:
            current.result = record["result"]
        if "error" in record:
            current.error = record["error"]
        if record.get("undo"):
            undo = record["undo"]
            current.undo = Undo(undo["module"], undo["func"], undo.get("kwargs") or {})

    def open_entries(
        self, *, activity: str | Iterable[str] | None = None, target_prefix: str | None = None
    ) -> list[Entry]:
        """Entries still open (pending/applied), oldest first, optionally filtered."""
        names = {activity} if isinstance(activity, str) else set(activity or ())
        return [
            entry
            for entry in self.entries()
            if entry.open
            and (not names or entry.activity in names)
            and (target_prefix is None or entry.target.startswith(target_prefix))
        ]

    def mark_reverted(self, entries: Iterable[Entry], **extra: Any) -> None:
        for entry in entries:
            self.mark(entry.id, REVERTED, **extra)


# -- validation of what is read ------------------------------------------------------

_FIELD_TYPES: dict[str, type] = {
    "time": str,
    "activity": str,
    "target": str,
    "arguments": dict,
    "configuration": dict,
    "pid": int,
    "host": str,
    "error": str,
}


def _invalid(record: Any, folded: Mapping[str, Entry]) -> str | None:
    """Why ``record`` is not a valid ledger record, or None if it is."""
    if not isinstance(record, dict):
        return "not a JSON object"
    entry_id = record.get("id")
    if not isinstance(entry_id, str) or not entry_id:
        return "its id is not a non-empty string"
    if "state" in record and record["state"] not in STATES:
        return f"unknown state {record['state']!r}"
    for key, kind in _FIELD_TYPES.items():
        value = record.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"{key} is not a {kind.__name__}"
    undo = record.get("undo")
    if undo is not None and not (
        isinstance(undo, dict)
        and isinstance(undo.get("module"), str)
        and isinstance(undo.get("func"), str)
        and isinstance(undo.get("kwargs") or {}, dict)
    ):
        return "undo is not {module, func, kwargs}"
    if entry_id not in folded:
        if not record.get("activity"):
            return f"a change to entry {entry_id}, which no earlier line begins"
        if undo is None:
            return "it begins an entry without an undo"
    return None


# -- recovery ----------------------------------------------------------------------


def _resolve_undo(entry: Entry) -> Any:
    """The rollback registered for ``entry``'s action, if the entry names exactly it."""
    registered = ROLLBACKS.get(entry.activity)
    if registered is None:
        raise ValueError(
            f"refusing to revert {entry.activity!r}: not an action gameday injects, so it "
            "has no registered rollback"
        )
    if (entry.undo.module, entry.undo.func) != registered:
        raise ValueError(
            f"refusing to call {entry.undo.module}.{entry.undo.func} for {entry.activity}: "
            f"not a gameday rollback of it (its rollback is {'.'.join(registered)})"
        )
    return getattr(importlib.import_module(registered[0]), registered[1])


def _recovery_configuration(entry: Entry, path: Path) -> dict[str, Any]:
    """The configuration the undo of ``entry`` runs with: what the entry recorded, held
    to the account it was injected into (the guard still checks the caller is that one)."""
    configuration = {k: v for k, v in entry.configuration.items() if k != "gameday_account"}
    account = entry.configuration.get("gameday_account")
    if account and not configuration.get("gameday_allowed_accounts"):
        configuration["gameday_allowed_accounts"] = [str(account)]
    configuration["gameday_fault_ledger"] = str(path)
    return configuration


def _recovery_secrets(
    configuration: Mapping[str, Any], secrets: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``secrets``; for a loopback endpoint (the lab) when no credentials are found
    anywhere, placeholder ones the lab accepts, so a fresh shell can recover a lab fault."""
    if secrets:
        return dict(secrets)
    loopback = aws._is_loopback(configuration.get("aws_endpoint_url"))
    if loopback and aws.session(configuration=configuration).get_credentials() is None:
        return dict(_LOOPBACK_PLACEHOLDER)
    return {}


def live_writer(entry: Entry) -> bool:
    """True if the process that wrote ``entry`` still runs on this host (a drill under way).

    The current process never counts: a run may recover its own faults."""
    if not entry.pid or entry.pid == os.getpid() or entry.host != socket.gethostname():
        return False
    return pid_alive(entry.pid)  # a zombie has exited: its faults are orphans


def recover(
    ledger_path: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    *,
    secrets: Mapping[str, Any] | None = None,
    include_live: bool = False,
) -> list[dict[str, Any]]:
    """Revert every entry not yet reverted, newest first; return what was (or would be) done.

    Each item: ``id``, ``line``, ``activity``, ``target``, ``state`` (before), ``undo`` (a
    readable call), ``outcome`` (``reverted``, ``would revert``, ``skipped``, ``error``,
    or ``unreadable`` for a ledger line that is not a valid record), ``error``, and
    ``warning`` (a revert that happened but could not be recorded). A failing undo is
    reported and left open so a later recover can retry it. Entries written by a process
    that still runs on this host belong to a drill under way and are skipped (its own
    rollbacks will run) unless ``include_live``.

    Raises :class:`LedgerNotFound` when the ledger does not exist: recovering "nothing"
    from a wrong path must never look like a clean bill of health.
    """
    path = Path(ledger_path) if ledger_path else _configured_ledger_path()
    if not path.is_file():
        raise LedgerNotFound(
            f"no fault ledger at {path}: pass --ledger (or set GAMEDAY_FAULT_LEDGER) to the "
            "ledger the drill wrote"
        )
    ledger = Ledger(path)
    entries, problems = ledger.scan()
    report = [
        _recover_one(ledger, entry, dry_run, secrets, include_live)
        for entry in reversed(entries)
        if entry.open
    ]
    for number, why in problems:
        report.append(
            {
                "id": None,
                "line": number,
                "time": None,
                "activity": None,
                "target": None,
                "state": None,
                "undo": None,
                "outcome": "unreadable",
                "error": f"line {number} skipped, not a valid ledger record: {why}",
                "warning": None,
            }
        )
    return report


def _recover_one(
    ledger: Ledger,
    entry: Entry,
    dry_run: bool,
    secrets: Mapping[str, Any] | None,
    include_live: bool,
) -> dict[str, Any]:
    """Revert (or, dry, check) one open entry; the report item for it."""
    item: dict[str, Any] = {
        "id": entry.id,
        "line": entry.line,
        "time": entry.time,
        "activity": entry.activity,
        "target": entry.target,
        "state": entry.state,
        "undo": entry.undo.describe(),
        "outcome": "would revert" if dry_run else "reverted",
        "error": None,
        "warning": None,
    }
    if not include_live and live_writer(entry):
        item["outcome"] = "skipped"
        item["error"] = (
            f"the drill that injected it is still running (pid {entry.pid}); stop it, "
            "or pass --include-live to revert it anyway"
        )
        return item
    try:
        func = _resolve_undo(entry)
    except (ValueError, ImportError, AttributeError) as exc:
        item["outcome"] = "error"
        item["error"] = str(exc)
        return item
    if dry_run:
        return item
    configuration = _recovery_configuration(entry, ledger.path)
    try:
        func(
            **entry.undo.kwargs,
            configuration=configuration,
            secrets=_recovery_secrets(configuration, secrets),
        )
    except OSError as exc:
        if not _is_ledger_error(exc, ledger.path):
            return _failed(item, entry, exc)
        # rollbacks record their revert after the AWS call that did it: only the record
        # failed (a read-only ledger ...). The entry stays open and the next recover runs
        # the idempotent undo once more.
        item["warning"] = f"reverted, but could not record it in {ledger.path}: {exc}"
        return item
    except Exception as exc:
        return _failed(item, entry, exc)
    try:
        ledger.mark(entry.id, REVERTED, by="recover")
    except OSError as exc:
        item["warning"] = f"reverted, but could not record it in {ledger.path}: {exc}"
    return item


def _is_ledger_error(exc: OSError, path: Path) -> bool:
    """True if ``exc`` is about the ledger file itself (it could not be written)."""
    return exc.filename is not None and Path(exc.filename).absolute() == path.absolute()


def _failed(item: dict[str, Any], entry: Entry, exc: BaseException) -> dict[str, Any]:
    logger.error("could not revert %s (%s): %s", entry.id, entry.activity, exc)
    item["outcome"] = "error"
    item["error"] = str(exc)
    return item
