"""``gameday recover``: revert every fault the ledger still holds open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gameday.faults import ledger_path
from gameday.recovery import LedgerNotFound, recover

__all__ = ["recover_command"]

#: Outcomes after which a fault may still be in place (or the ledger could not be read).
_NOT_DONE = frozenset({"error", "skipped", "unreadable"})


@click.command("recover")
@click.option(
    "--ledger",
    "ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=(
        "Fault ledger to recover from (default: $GAMEDAY_FAULT_LEDGER, else "
        "$XDG_STATE_HOME/gameday/faults.jsonl, i.e. ~/.local/state/gameday/faults.jsonl)."
    ),
)
@click.option("--dry-run", is_flag=True, help="Print what would be reverted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--include-live",
    is_flag=True,
    help="Also revert faults of a drill whose process still runs on this host (skipped by default).",
)
def recover_command(ledger: Path | None, dry_run: bool, as_json: bool, include_live: bool) -> None:
    """Revert every injected fault not yet reverted, newest first (idempotent).

    Use it after a drill was interrupted (killed, crashed, lost its rollbacks): each open
    entry of the fault ledger is undone with the rollback registered for its action, using
    the AWS endpoint, region, profile and account the injecting run recorded (credentials
    from the normal chain), so it works from a fresh shell. Faults of a drill still
    running on this host are skipped (its own rollbacks will run) unless --include-live.

    Exits 1 if the ledger does not exist, if any revert failed, if a fault was skipped
    (it is still in place) or if a ledger line could not be read; running it again
    retries what is left.
    """
    path = ledger or ledger_path()
    try:
        report = recover(path, dry_run=dry_run, include_live=include_live)
    except LedgerNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"ledger": str(path), "dry_run": dry_run, "entries": report}))
    else:
        _print(report, path, dry_run)
    left = [item for item in report if item["outcome"] in _NOT_DONE]
    if left:
        if not as_json:
            click.echo(
                f"gameday recover: {len(left)} item(s) not reverted (see above); "
                "run it again once fixed.",
                err=True,
            )
        raise SystemExit(1)


def _print(report: list[dict[str, Any]], path: Path, dry_run: bool) -> None:
    faults = [item for item in report if item["outcome"] != "unreadable"]
    if not faults:
        click.echo(f"Nothing to recover in {path}: every recorded fault is reverted.")
    else:
        verb = "Would revert" if dry_run else "Reverting"
        click.echo(f"{verb} {len(faults)} fault(s) from {path}, newest first:")
    for item in report:
        if item["outcome"] == "unreadable":
            click.echo(f"  unreadable   {path}:{item['line']}\n               {item['error']}")
            continue
        line = f"  {item['outcome']:<12} {item['activity']} [{item['state']}] -> {item['undo']}"
        if item["error"]:
            label = "why" if item["outcome"] == "skipped" else "error"
            line += f"\n               {label}: {item['error']}"
        if item.get("warning"):
            line += f"\n               warning: {item['warning']}"
        click.echo(line)
