"""``gameday recover``: revert every fault the ledger still holds open."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gameday.faults import ledger_path, recover

__all__ = ["recover_command"]


@click.command("recover")
@click.option(
    "--ledger",
    "ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Fault ledger to recover from (default: $GAMEDAY_FAULT_LEDGER or .gameday/faults.jsonl).",
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
    entry of the fault ledger is undone with the rollback it recorded, using the AWS
    endpoint, profile and region of the run that injected it (credentials from the normal
    chain). Faults of a drill still running on this host are skipped (its own rollbacks
    will run) unless --include-live. Exits 1 if any revert failed; running it again
    retries those.
    """
    path = ledger or ledger_path()
    report = recover(path, dry_run=dry_run, include_live=include_live)
    if as_json:
        click.echo(json.dumps({"ledger": str(path), "dry_run": dry_run, "entries": report}))
    elif not report:
        click.echo(f"Nothing to recover in {path}: every recorded fault is reverted.")
    else:
        verb = "Would revert" if dry_run else "Reverting"
        click.echo(f"{verb} {len(report)} fault(s) from {path}, newest first:")
        for item in report:
            line = f"  {item['outcome']:<12} {item['activity']} [{item['state']}] -> {item['undo']}"
            if item["error"]:
                label = "why" if item["outcome"] == "skipped" else "error"
                line += f"\n               {label}: {item['error']}"
            click.echo(line)
    if any(item["outcome"] == "error" for item in report):
        raise SystemExit(1)
