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
credentials). A line that is not a valid record is reported with its number and
skipped by :meth:`Ledger.scan`; it never hides the other entries. Reverting what is
still open is :mod:`gameday.recovery` (``gameday recover``), which imports this module
(never the reverse).

The account guard (:func:`ensure_account_allowed`) lives in :mod:`gameday.allowlist`,
next to the client factory; it is re-exported here for existing callers.
"""

from __future__ import annotations

import fcntl
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

from gameday.allowlist import (
    LAB_ACCOUNT_ID,
    AccountNotAllowed,
    allowed_accounts,
    caller_account,
    ensure_account_allowed,
    forget_identities,
    verified_account,
)

__all__ = [
    "LAB_ACCOUNT_ID",
    "AccountNotAllowed",
    "Entry",
    "Ledger",
    "Undo",
    "allowed_accounts",
    "caller_account",
    "default_ledger_path",
    "ensure_account_allowed",
    "forget_identities",
    "ledger_path",
]

logger = logging.getLogger("gameday.faults")

PENDING, APPLIED, FAILED, REVERTED = "pending", "applied", "failed", "reverted"
STATES = frozenset({PENDING, APPLIED, FAILED, REVERTED})
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
