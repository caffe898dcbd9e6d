"""Live progress of a running drill: a terminal panel, or plain log lines without a TTY.

Reads what the control already has (its phase, fault time and the sampler's latest
values) and the last seconds of the request ledger; never calls AWS itself. In a
terminal it is a ``rich`` live panel refreshed a few times a second; in CI or cron
(no TTY) it prints one plain line every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

WINDOW = 5.0


@dataclass(frozen=True)
class Snapshot:
    """One reading of a drill's progress."""

    phase: str
    rps: float
    error_rate: float | None
    serving: str
    dns: str
    writer: str
    elapsed: float | None  # since the fault
    rto: float | None  # the objective

    def line(self) -> str:
        since = "before the fault" if self.elapsed is None else f"t0+{self.elapsed:5.1f}s"
        objective = f" / RTO objective {self.rto:g}s" if self.rto is not None else ""
        errors = "-" if self.error_rate is None else f"{self.error_rate:.1%}"
        return (
            f"[{self.phase}] {since}{objective} | {self.rps:5.1f} req/s, errors {errors} | "
            f"serving {self.serving} | DNS {self.dns} | writer {self.writer}"
        )


def snapshot() -> Snapshot | None:
    """The running drill's progress now (None when no drill runs in this process)."""
    from gameday import control
    from gameday.drill.phases import timescale
    from gameday.drill.rundir import REQUESTS
    from gameday.load.ledger import recent_window

    run = control.current_run()
    if run is None:
        return None
    rps, error_rate, serving = 0.0, None, "-"
    if run.run_dir is not None and (run.run_dir / REQUESTS).exists():
        stats = recent_window(run.run_dir / REQUESTS, WINDOW)
        rps = stats.requests / WINDOW
        error_rate = stats.error_rate if stats.requests else None
        share = stats.region_share()
        serving = ", ".join(f"{r} {s:.0%}" for r, s in share.items()) or "-"
    dns = writer = "-"
    if run.sampler is not None:
        for (probe, _subject), value in list(run.sampler.latest.items()):
            if probe == "dns_answer" and isinstance(value, dict):
                dns = value.get("region") or ",".join(value.get("addresses") or []) or "no answer"
            elif probe == "writer_region" and value:
                writer = str(value)
    objectives = getattr(run.settings, "objectives", None)
    return Snapshot(
        phase=run.progress,
        rps=rps,
        error_rate=error_rate,
        serving=serving,
        dns=dns,
        writer=writer,
        # AWS seconds since the fault started, like the objective it is shown against
        elapsed=None if run.t0 is None else timescale(run).speed * (time.time() - run.t0),
        rto=getattr(objectives, "rto_seconds", None),
    )


def _panel(shot: Snapshot) -> Any:
    from rich.table import Table

    table = Table(title="gameday drill", show_header=False, expand=False)
    table.add_column(style="bold")
    table.add_column()
    elapsed = "-" if shot.elapsed is None else f"{shot.elapsed:.1f} s"
    if shot.rto is not None and shot.elapsed is not None:
        style = "green" if shot.elapsed <= shot.rto else "red"
        elapsed = f"[{style}]{elapsed}[/] of {shot.rto:g} s (RTO objective)"
    for label, value in (
        ("phase", shot.phase),
        ("since the fault", elapsed),
        ("requests/s", f"{shot.rps:.1f}"),
        ("error rate", "-" if shot.error_rate is None else f"{shot.error_rate:.1%}"),
        ("serving region", shot.serving),
        ("DNS answer", shot.dns),
        ("writer", shot.writer),
    ):
        table.add_row(label, value)
    return table


def start_progress(
    stream: TextIO | None = None, interval: float = 5.0, tty: bool | None = None
) -> Callable[[], None]:
    """Start showing progress on a thread; returns the function that stops it."""
    stream = stream or sys.stderr
    tty = stream.isatty() if tty is None else tty
    done = threading.Event()
    chaos = logging.getLogger("chaostoolkit")
    handler: logging.Handler
    if tty:
        from rich.console import Console
        from rich.live import Live
        from rich.logging import RichHandler

        console = Console(file=stream, force_terminal=True)
        handler = RichHandler(console=console, show_path=False, markup=False)

        def show() -> None:
            with Live(console=console, refresh_per_second=4, transient=True) as live:
                while not done.wait(0.25):
                    shot = snapshot()
                    if shot is not None:
                        live.update(_panel(shot))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

        def show() -> None:
            while not done.wait(interval):
                shot = snapshot()
                if shot is not None:
                    print(
                        f"{time.strftime('%H:%M:%S')} gameday {shot.line()}",
                        file=stream,
                        flush=True,
                    )

    # Chaos Toolkit's own log lines (activities, rollbacks) go to the same place.
    handler.setLevel(logging.INFO)
    chaos.addHandler(handler)
    if chaos.level == logging.NOTSET or chaos.level > logging.INFO:
        chaos.setLevel(logging.INFO)
    thread = threading.Thread(target=show, name="gameday-progress", daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(2.0)
        chaos.removeHandler(handler)

    return stop
