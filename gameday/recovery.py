"""Recovery: revert every fault the ledger still holds open (``gameday recover``).

:func:`recover` reverts every entry not yet reverted (``pending`` ones too: a process
killed mid-call may or may not have injected), newest first, and only with the rollback
the entry's action declared in :mod:`gameday.registry` (the allowlist of what recovery
may call): a ledger is a file, so what it names is checked, never trusted. Each undo runs with the endpoint, region, profile and role the
entry recorded and is held to the account it was injected into (the allowlist still
checks the caller), so it works from a fresh shell. Rollbacks are idempotent, so
recovering twice, or after the experiment's own rollbacks ran, changes nothing.
Entries written by a drill still running on this host are left to it.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gameday import aws, registry
from gameday.faults import REVERTED, Entry, Ledger
from gameday.faults import ledger_path as configured_ledger_path
from gameday.procutil import alive_since

__all__ = ["LedgerNotFound", "live_writer", "recover", "rollback_for"]

logger = logging.getLogger("gameday.faults")

#: Placeholder credentials for recovering a fault injected into a loopback endpoint (the
#: lab, which accepts any) from a shell that has none; never sent anywhere else.
_LOOPBACK_PLACEHOLDER = {
    "aws_access_key_id": "gameday-recover",
    "aws_secret_access_key": "gameday-recover",
}


class LedgerNotFound(FileNotFoundError):
    """The fault ledger to recover from does not exist (the message names the path)."""


def rollback_for(entry: Entry) -> Any:
    """The rollback ``entry``'s action declared (:func:`gameday.registry.fault`), if the
    entry's undo names exactly it; raises :class:`ValueError` otherwise (the undo is never
    looked up by name alone). Call it as
    ``rollback_for(entry)(**entry.undo.kwargs, configuration=..., secrets=...)``.
    """
    registered = registry.rollback_of_recorded(entry.activity)
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
    # a zombie has exited, and a process that started after the entry was written merely
    # reuses the pid: either way its faults are orphans
    return alive_since(entry.pid, _entry_epoch(entry))


def _entry_epoch(entry: Entry) -> float:
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(entry.time)
    except (TypeError, ValueError):
        return float("inf")  # unknown: trust the pid alone, as before
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


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
    path = Path(ledger_path) if ledger_path else configured_ledger_path()
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
        func = rollback_for(entry)
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
