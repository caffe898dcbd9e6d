"""``gameday load``: run the drill load from the command line, and look at its ledger.

    gameday load run --target api.lab.internal --port 8080 --users 4 --run-time 120 \\
                     --ledger reports/load/ledger.jsonl
    gameday load worker --master-host 10.0.0.5 --master-port 5557   # on another machine
    gameday load status --ledger reports/load/ledger.jsonl --window 10
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from gameday.durations import DurationError, span_seconds
from gameday.load.errors import LoadError
from gameday.load.ledger import read_recent, read_summary, window_stats
from gameday.load.resolver import MODES
from gameday.load.runner import LoadRun
from gameday.load.settings import LoadSettings
from gameday.numbers import number_problem

#: The longest window `load status` reads (a week).
MAX_WINDOW = 7 * 24 * 3600.0


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"2m"``, ``"1h30m"``, ``"PT2M"`` -> seconds."""
    try:
        return span_seconds(text)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from exc


def _lab_default() -> bool:
    # the one definition of lab mode, so `GAMEDAY_LAB=true` refuses non-loopback load
    # exactly as it refuses non-loopback AWS endpoints
    from gameday.aws import is_lab_mode

    return is_lab_mode()


def _shared_options(func: Any) -> Any:
    options = [
        click.option(
            "--locustfile",
            type=click.Path(path_type=Path),
            default=None,
            help="Your own locustfile (default: the stock orders workload).",
        ),
        click.option(
            "--resolver",
            "resolver_mode",
            type=click.Choice(MODES),
            default="ttl",
            show_default=True,
            help="ttl: re-resolve when the TTL expires; sticky: never re-resolve.",
        ),
        click.option(
            "--nameserver",
            default=None,
            help="DNS server HOST:PORT (default: $GAMEDAY_NAMESERVER, else the system).",
        ),
        click.option(
            "--lab/--no-lab",
            default=_lab_default,
            help="Refuse non-loopback targets (default: on when GAMEDAY_LAB=1).",
        ),
        click.option(
            "--write-ratio",
            type=float,
            default=0.5,
            show_default=True,
            help="Share of iterations that write; the rest read acknowledged ids.",
        ),
        click.option(
            "--think-min",
            type=float,
            default=0.1,
            show_default=True,
            help="Minimum think time between requests, seconds.",
        ),
        click.option(
            "--think-max",
            type=float,
            default=0.5,
            show_default=True,
            help="Maximum think time between requests, seconds.",
        ),
        click.option(
            "--connect-timeout",
            type=float,
            default=2.0,
            show_default=True,
            help="TCP connect timeout, seconds.",
        ),
        click.option(
            "--network-timeout",
            type=float,
            default=5.0,
            show_default=True,
            help="Timeout for each network read/write, seconds.",
        ),
        click.option(
            "--region-header",
            default="X-Region",
            show_default=True,
            help="Response header naming the serving region.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group("load")
def load() -> None:
    """Drive the service with Locust during a drill and record every request."""


@load.command("run")
@click.option(
    "--target",
    envvar="GAMEDAY_SERVICE_NAME",
    default="api.lab.internal",
    show_default=True,
    help="Service name (resolved like a real client) or IP address [env GAMEDAY_SERVICE_NAME].",
)
@click.option(
    "--port",
    type=int,
    envvar="GAMEDAY_SERVICE_PORT",
    required=True,
    help="Service port [env GAMEDAY_SERVICE_PORT, which 'gameday lab env' exports].",
)
@click.option("--users", type=int, default=4, show_default=True, help="Concurrent users, 1-100000.")
@click.option("--spawn-rate", type=float, default=None, help="Users started per second (> 0).")
@click.option(
    "--run-time",
    default="5m",
    show_default=True,
    callback=lambda _ctx, _param, value: parse_duration(value),
    help="Hard cap on the run (90, 90s, 2m, 1h30m or ISO 8601 PT2M; at most a week).",
)
@click.option(
    "--ledger",
    type=click.Path(path_type=Path),
    default=Path("reports/load/ledger.jsonl"),
    show_default=True,
    help="JSONL ledger; Locust's HTML/CSV/log land beside it.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing ledger.")
@click.option(
    "--processes",
    type=int,
    default=0,
    show_default=True,
    help=(
        "Locust worker processes on this machine, 0-256 (0: one process); the master then "
        "listens on 127.0.0.1 on a free port."
    ),
)
@click.option(
    "--master",
    "as_master",
    is_flag=True,
    help="Be a master for workers started elsewhere with `gameday load worker`.",
)
@click.option("--expect-workers", type=int, default=1, show_default=True)
@click.option(
    "--master-host", default="127.0.0.1", show_default=True, help="Address the master binds to."
)
@click.option(
    "--master-port", type=int, default=5557, show_default=True, help="0 picks a free port."
)
@_shared_options
def run_command(**opts: Any) -> None:
    """Run the load until --run-time (or Ctrl-C), then report the ledger's completeness."""
    as_master = opts.pop("as_master")
    settings = LoadSettings(role="master" if as_master else "local", **opts)
    _run(settings, produce=True)


@load.command("worker")
@click.option("--master-host", required=True, help="Address of the master.")
@click.option("--master-port", type=int, default=5557, show_default=True)
@click.option(
    "--log-dir",
    type=click.Path(path_type=Path),
    default=Path("reports/load"),
    show_default=True,
    help="Where the worker's Locust log goes.",
)
@_shared_options
def worker_command(log_dir: Path, **opts: Any) -> None:
    """Run a Locust worker for a `gameday load run --master` elsewhere."""
    settings = LoadSettings(role="worker", ledger=log_dir / "worker.jsonl", **opts)
    _run(settings, produce=False)


def _run(settings: LoadSettings, *, produce: bool) -> None:
    run = LoadRun(settings)
    try:
        run.start()
        if produce:
            run.wait_until_producing(timeout=60)
            click.echo(
                f"load running against {settings.host_url} -> {run.addresses}; ledger {run.ledger}"
            )
        result = run.wait(timeout=None if settings.role != "worker" else 10 * 24 * 3600)
    except LoadError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        result = run.stop()
    if settings.role == "worker":
        click.echo(f"worker finished (exit code {result.returncode}); log {result.log}")
        return
    click.echo(
        f"{result.records} records, Locust counted {result.locust_requests}: "
        f"{'complete' if result.complete else 'INCOMPLETE'}\n"
        f"ledger {result.ledger}\nreport {result.html}\nlog    {result.log}"
    )
    if not result.complete:
        raise click.ClickException("the ledger is incomplete: see the Locust log above.")


@load.command("status")
@click.option("--ledger", type=click.Path(path_type=Path, exists=True), required=True)
@click.option(
    "--window",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds, up to a week; the window ends now, or at the end of a finished run.",
)
def status_command(ledger: Path, window: float) -> None:
    """What users experienced over the last --window seconds of the run (JSON).

    While the run goes the window ends now; once it has finished (its summary is written)
    the window ends when the run did, so a finished run reads as it ended, not as
    silence (100% errors)."""
    problem = number_problem(window, 0.0, MAX_WINDOW, unit="seconds", low_exclusive=True)
    if problem:
        raise click.BadParameter(f"must be {problem}", param_hint="'--window'")
    summary = read_summary(ledger)
    finished = summary is not None
    until = time.time()
    if summary is not None:
        ended = summary.get("finished_at")
        until = float(ended) if isinstance(ended, int | float) else ledger.stat().st_mtime
    since = until - window
    stats = window_stats(read_recent(ledger, since), since, until)
    data = {
        "window_seconds": window,
        "since": stats.since,
        "until": stats.until,
        "finished": finished,
        "requests": stats.requests,
        "errors": stats.errors,
        "error_rate": stats.error_rate,
        "regions": dict(stats.regions),
        "region_share": stats.region_share(),
    }
    click.echo(json.dumps(data, indent=2, allow_nan=False))
