"""The drill's phases around Chaos Toolkit's method: load and warm-up, the fault time,
the observation window, stopping, and the audit of acknowledged writes."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

from gameday.drill import DrillError
from gameday.drill import rundir as rd
from gameday.drill.state import DrillRun, Phase
from gameday.registry import is_fault
from gameday.rundir import epoch

logger = logging.getLogger("chaostoolkit")


def start_load(run: DrillRun) -> None:
    """Start Locust into ``requests.jsonl`` and wait for its warm-up."""
    from gameday.load.ledger import recent_window
    from gameday.load.runner import LoadRun
    from gameday.load.settings import LoadSettings

    assert run.settings is not None and run.run_dir is not None
    c, profile = run.configuration, run.settings.load
    users = int(os.environ.get("GAMEDAY_USERS") or profile.users)
    extra: tuple[str, ...] = ()
    if profile.sticky_share:
        extra = ("--sticky-share", str(profile.sticky_share))
    settings = LoadSettings(
        target=str(c["service_name"]),
        port=int(c.get("service_port") or 80),
        users=users,
        spawn_rate=profile.spawn_rate,
        run_time=3600.0,
        ledger=run.run_dir / rd.REQUESTS,
        locustfile=run.settings.load_profile_path(run.path),
        scheme=str(c.get("service_scheme") or "http"),
        nameserver=c.get("nameserver") or None,
        lab=c.get("gameday_target") == "lab",
        write_ratio=profile.write_ratio,
        extra_args=extra,
    )
    run.load = LoadRun(settings).start()
    warm = profile.warmup
    deadline = time.monotonic() + warm.timeout_seconds
    run.load.wait_until_producing(timeout=warm.timeout_seconds)
    while True:
        stats = recent_window(run.run_dir / rd.REQUESTS, 3600.0)
        good = stats.requests - stats.errors
        if good >= warm.min_successes and stats.error_rate <= warm.max_error_ratio:
            return
        if time.monotonic() > deadline:
            raise DrillError(
                f"the load did not warm up within {warm.timeout_seconds:g} s ({good} successful "
                f"requests, error ratio {stats.error_rate:.1%}; wanted {warm.min_successes} and "
                f"at most {warm.max_error_ratio:.1%}): see {run.load.log}."
            )
        time.sleep(0.1)


def is_fault_activity(activity: dict[str, Any]) -> bool:
    """The registry's rule (:func:`gameday.registry.is_fault`) for a journal activity."""
    provider = activity.get("provider") or {}
    return is_fault(str(provider.get("module", "")), str(provider.get("func", "")))


def fault_time(run: DrillRun, runs: list[dict[str, Any]] | None) -> float | None:
    """End of the impairment action (named in the extension, else the first action that
    may be a fault)."""
    named = run.settings.fault_activity if run.settings else None
    for item in runs or []:
        activity = item.get("activity") or {}
        if activity.get("type") != "action":
            continue
        if (named and activity.get("name") == named) or (not named and is_fault_activity(activity)):
            with contextlib.suppress(TypeError, ValueError):
                return epoch(str(item.get("end")))
    return None


def observe(run: DrillRun) -> None:
    """Keep the load until sustained recovery (one good window after t0) or the maximum."""
    from gameday.load.ledger import recent_window

    assert run.settings is not None and run.run_dir is not None
    objectives = run.settings.objectives
    window = float(objectives.window_seconds)
    began = time.time()
    since = run.t0 or began
    run.enter(Phase.OBSERVATION)
    while time.time() - began < run.settings.observation_max_seconds:
        if run.load is None or not run.load.running():
            return
        now = time.time()
        # a window needs requests after its end too before it is proven: one second more
        if now - since >= window + 1.0:
            stats = recent_window(run.run_dir / rd.REQUESTS, window + 1.0)
            if (
                stats.requests >= objectives.min_requests
                and 1.0 - stats.error_rate >= objectives.success_threshold
            ):
                return
        time.sleep(0.2)
    logger.warning(
        "gameday: no sustained recovery within the observation maximum of %g s",
        run.settings.observation_max_seconds,
    )


def stop_load(run: DrillRun) -> None:
    if run.load is not None:
        with contextlib.suppress(Exception):
            run.load.stop()
    if run.sampler is not None:
        run.sampler.stop()


def audit(run: DrillRun) -> None:
    """Audit every acknowledged write against the writer region (``audit.json``)."""
    from gameday.drill.lookup import service_lookup
    from gameday.reports.audit import acked_writes, audit_writes, write_audit

    assert run.run_dir is not None and run.sampler is not None
    c = run.configuration
    writer = run.sampler.writer() or c.get("primary_region")
    old = next(
        (r for r in (c.get("primary_region"), c.get("secondary_region")) if r != writer), None
    )
    endpoints = run.sampler.targets.endpoints
    if writer not in endpoints:
        raise DrillError(f"no service endpoint for the writer region {writer!r}")
    old_lookup = None
    if old in endpoints:
        with contextlib.suppress(Exception):  # the old region is cut off: audit the writer only
            old_lookup = service_lookup(endpoints[old], timeout=2.0)
    result = audit_writes(
        acked_writes(run.run_dir / rd.REQUESTS),
        service_lookup(endpoints[writer]),
        writer_region=writer,
        old_lookup=old_lookup,
        old_region=old if old_lookup else None,
    )
    write_audit(run.run_dir, result)
    run.audited = True
