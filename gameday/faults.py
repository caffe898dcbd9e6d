"""The fault ledger: a write-ahead record of every fault gameday injects, and recovery.

Before an action calls AWS it appends what it is about to do and the exact way to undo
it (a rollback function of :mod:`gameday.actions` and its keyword arguments). The entry
then moves ``pending`` -> ``applied`` (or ``failed``: nothing was injected) ->
``reverted``. The file is JSON Lines, append-only: every state change is a new line
carrying the entry id, so a crash can at worst lose the line being written, never an
earlier one. Appends are single ``write`` calls on an ``O_APPEND`` descriptor under an
exclusive ``flock`` and are ``fsync``-ed, so several processes may share one ledger.

:func:`recover` reverts every entry not yet reverted (``pending`` ones too: a process
killed mid-call may or may not have injected), newest first. Rollbacks are idempotent, so
recovering twice, or after the experiment's own rollbacks ran, changes nothing.

The account guard lives here too: :func:`ensure_account_allowed` refuses any account
not allowlisted (configuration ``gameday_allowed_accounts`` or env
``GAMEDAY_ALLOWED_ACCOUNTS``; the lab's account in lab mode), asking STS once per
process per identity.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday import aws
from gameday.aws import LAB_ACCOUNT_ID
from gameday.procutil import pid_alive

__all__ = [
    "DEFAULT_LEDGER",
    "LAB_ACCOUNT_ID",
    "AccountNotAllowed",
    "Entry",
    "Ledger",
    "Undo",
    "allowed_accounts",
    "ensure_account_allowed",
    "ledger_path",
    "recover",
]

logger = logging.getLogger("gameday.faults")

DEFAULT_LEDGER = ".gameday/faults.jsonl"

PENDING, APPLIED, FAILED, REVERTED = "pending", "applied", "failed", "reverted"
OPEN_STATES = frozenset({PENDING, APPLIED})

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

#: Only rollbacks from these modules may be called by recovery.
_UNDO_PACKAGE = "gameday.actions."


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def ledger_path(configuration: Mapping[str, Any] | None = None) -> Path:
    """The ledger file: configuration ``gameday_fault_ledger``, env
    ``GAMEDAY_FAULT_LEDGER``, else ``.gameday/faults.jsonl`` (relative to the cwd)."""
    configured = (configuration or {}).get("gameday_fault_ledger")
    return Path(configured or os.environ.get("GAMEDAY_FAULT_LEDGER") or DEFAULT_LEDGER)


_configured_ledger_path = ledger_path


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
        carried = {
            k: (configuration or {})[k] for k in _CARRIED_KEYS if (configuration or {}).get(k)
        }
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
        if not self.path.exists():
            return []
        folded: dict[str, Entry] = {}
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    logger.warning("%s:%d: ignoring a torn last line", self.path, number)
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                if not isinstance(record, dict):
                    logger.warning("%s:%d: ignoring a line that is not a record", self.path, number)
                    continue
                self._fold(folded, record)
        return list(folded.values())

    @staticmethod
    def _fold(folded: dict[str, Entry], record: dict[str, Any]) -> None:
        entry_id = record.get("id")
        if not entry_id:
            return
        current = folded.get(entry_id)
        if current is None:
            if "activity" not in record:
                return  # a state change for an entry whose first line was lost
            undo = record.get("undo") or {}
            folded[entry_id] = Entry(
                id=entry_id,
                time=record.get("time", ""),
                activity=record["activity"],
                target=record.get("target", ""),
                arguments=record.get("arguments") or {},
                undo=Undo(undo.get("module", ""), undo.get("func", ""), undo.get("kwargs") or {}),
                configuration=record.get("configuration") or {},
                state=record.get("state", PENDING),
                updated=record.get("time", ""),
                pid=record.get("pid"),
                host=record.get("host"),
            )
            return
        state = record.get("state")
        # reverted is final: a late "applied" from a slow writer never reopens an entry
        if state and current.state != REVERTED:
            current.state = state
        current.updated = record.get("time", current.updated)
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


# -- recovery ----------------------------------------------------------------------


def _resolve_undo(undo: Undo) -> Any:
    if not undo.module.startswith(_UNDO_PACKAGE):
        raise ValueError(f"refusing to call {undo.module}.{undo.func}: not a gameday rollback")
    module = importlib.import_module(undo.module)
    if undo.func not in getattr(module, "__all__", ()):
        raise ValueError(f"{undo.module} exports no rollback named {undo.func}")
    return getattr(module, undo.func)


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

    Each item: ``id``, ``activity``, ``target``, ``state`` (before), ``undo`` (a readable
    call), ``outcome`` (``reverted``, ``would revert``, ``skipped`` or ``error``) and
    ``error``. A failing undo is reported and left open so a later recover can retry it.
    Entries written by a process that still runs on this host belong to a drill under way
    and are skipped (its own rollbacks will run) unless ``include_live``.
    """
    path = Path(ledger_path) if ledger_path else _configured_ledger_path()
    ledger = Ledger(path)
    report: list[dict[str, Any]] = []
    for entry in reversed(ledger.entries()):
        if not entry.open:
            continue
        item: dict[str, Any] = {
            "id": entry.id,
            "time": entry.time,
            "activity": entry.activity,
            "target": entry.target,
            "state": entry.state,
            "undo": entry.undo.describe(),
            "outcome": "would revert" if dry_run else "reverted",
            "error": None,
        }
        report.append(item)
        if not include_live and live_writer(entry):
            item["outcome"] = "skipped"
            item["error"] = (
                f"the drill that injected it is still running (pid {entry.pid}); stop it, "
                "or pass --include-live to revert it anyway"
            )
            continue
        if dry_run:
            continue
        configuration = dict(entry.configuration)
        configuration["gameday_fault_ledger"] = str(path)
        try:
            func = _resolve_undo(entry.undo)
            func(**entry.undo.kwargs, configuration=configuration, secrets=dict(secrets or {}))
        except Exception as exc:
            logger.error("could not revert %s (%s): %s", entry.id, entry.activity, exc)
            item["outcome"] = "error"
            item["error"] = str(exc)
            continue
        ledger.mark(entry.id, REVERTED, by="recover")
    return report


# -- account guard -----------------------------------------------------------------


class AccountNotAllowed(PermissionError):
    """The AWS account the credentials belong to is not allowlisted."""


_identities: dict[tuple[Any, ...], str] = {}
_identities_lock = threading.Lock()


def allowed_accounts(configuration: Mapping[str, Any] | None = None) -> set[str]:
    """Allowlisted account ids: configuration, environment, and the lab's in lab mode."""
    allowed: set[str] = set()
    configured = (configuration or {}).get("gameday_allowed_accounts")
    if isinstance(configured, str):
        configured = configured.split(",")
    for value in configured or ():
        if str(value).strip():
            allowed.add(str(value).strip())
    for value in os.environ.get("GAMEDAY_ALLOWED_ACCOUNTS", "").split(","):
        if value.strip():
            allowed.add(value.strip())
    if aws.is_lab_mode():
        allowed.add(LAB_ACCOUNT_ID)
    return allowed


def caller_account(
    region: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> str:
    """The account id of the identity in use (``sts.get_caller_identity``, cached)."""
    cfg = configuration or {}
    creds = secrets or {}
    key = (
        cfg.get("aws_profile_name"),
        cfg.get("aws_assume_role_arn"),
        cfg.get("aws_endpoint_url"),
        creds.get("aws_access_key_id"),
        os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_ENDPOINT_URL_STS"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_PROFILE"),
    )
    with _identities_lock:
        if key in _identities:
            return _identities[key]
    sts = aws.client("sts", region, configuration=configuration, secrets=secrets)
    account = str(sts.get_caller_identity()["Account"])
    with _identities_lock:
        _identities[key] = account
    return account


def ensure_account_allowed(
    region: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> str:
    """Return the account id if allowlisted, else raise :class:`AccountNotAllowed`."""
    allowed = allowed_accounts(configuration)
    if not allowed:
        raise AccountNotAllowed(
            "No AWS account is allowlisted for fault injection: set `gameday_allowed_accounts` "
            "in the experiment configuration or GAMEDAY_ALLOWED_ACCOUNTS to your non-prod "
            "account id."
        )
    account = caller_account(region, configuration, secrets)
    if account not in allowed:
        raise AccountNotAllowed(
            f"AWS account {account} is not allowlisted for fault injection (allowed: "
            f"{', '.join(sorted(allowed))}): use credentials for a non-prod account or add it "
            "to `gameday_allowed_accounts` / GAMEDAY_ALLOWED_ACCOUNTS."
        )
    return account


def forget_identities() -> None:
    """Forget cached caller identities (tests)."""
    with _identities_lock:
        _identities.clear()
