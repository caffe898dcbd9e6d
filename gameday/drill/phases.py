"""The drill's phases around Chaos Toolkit's method: load and warm-up, the fault time,
the observation window, stopping, and the audit of acknowledged writes.

The rules are the report's (:mod:`gameday.reports`): which activity is the fault
(:mod:`~gameday.reports.faultrule`), t0 (its start), sustained recovery
(:mod:`~gameday.reports.recovery`) and the clock (:mod:`~gameday.reports.clock`): every
duration the experiment declares is in AWS seconds and runs here at 1/speed on the lab.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

from gameday.drill import DrillError
from gameday.drill import rundir as rd
from gameday.drill.settings import Warmup
from gameday.drill.state import DrillRun, Phase
from gameday.reports.clock import Timescale
from gameday.reports.faultrule import is_fault_activity
from gameday.rundir import epoch

logger = logging.getLogger("chaostoolkit")

#: The load's client behaviour, in AWS seconds (gameday.load's defaults): on the lab it
#: runs at 1/speed like everything else the drill declares.
CLIENT_SECONDS = {
    "think_min": 0.1,
    "think_max": 0.5,
    "connect_timeout": 2.0,
    "network_timeout": 5.0,
    "dns_timeout": 1.0,
}
#: Seconds a ledger record may still be in flight (flush interval, scheduling): a window
#: is judged only once every request that started in it has had time to reach the ledger.
SETTLE_SECONDS = 0.5


def timescale(run: DrillRun) -> Timescale:
    """This run's clock: the lab's speed from the floors read at run start (1 on AWS)."""
    return Timescale.of((run.run_json.get("floors") or {}).get("lab_speed"))


def scale_pauses(experiment: dict[str, Any], ts: Timescale) -> None:
    """Chaos Toolkit pauses are durations the drill declares (AWS seconds): on the lab they
    run at 1/speed. Scaled once, in place, before the method runs (chaoslib reads an
    activity's pauses when it executes it, so the journal shows what actually ran)."""
    if not ts.compressed:
        return
    for activity in [*(experiment.get("method") or []), *(experiment.get("rollbacks") or [])]:
        pauses = activity.get("pauses") if isinstance(activity, dict) else None
        if not isinstance(pauses, dict):
            continue
        for key, value in pauses.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                pauses[key] = ts.lab(float(value))


def is_warm(warm: Warmup, ts: Timescale, good: int, error_rate: float, ran_for: float) -> bool:
    """Whether a load that has run ``ran_for`` seconds of this machine's clock, with ``good``
    successes and ``error_rate``, is warm: the count, the ratio and ``warm.min_seconds`` (AWS
    seconds, so as long in AWS time at every lab speed: the RPO a failover can measure is
    capped by how long the load has been writing)."""
    return (
        good >= warm.min_successes
        and error_rate <= warm.max_error_ratio
        and ran_for >= ts.lab(warm.min_seconds)
    )


def start_load(run: DrillRun) -> None:
    """Start Locust into ``requests.jsonl`` and wait for its warm-up."""
    from gameday.load.ledger import recent_window
    from gameday.load.runner import LoadRun
    from gameday.load.settings import LoadSettings

    assert run.settings is not None and run.run_dir is not None
    c, profile = run.configuration, run.settings.load
    users = int(os.environ.get("GAMEDAY_USERS") or profile.users)
    ts = timescale(run)
    client = {k: ts.lab(v) for k, v in CLIENT_SECONDS.items()}
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
        **client,
    )
    run.load = LoadRun(settings).start()
    warm = profile.warmup
    deadline = time.monotonic() + warm.timeout_seconds + ts.lab(warm.min_seconds)
    run.load.wait_until_producing(timeout=warm.timeout_seconds)
    started = time.monotonic()  # the load's age counts from its first request
    while True:
        stats = recent_window(run.run_dir / rd.REQUESTS, 3600.0)
        good = stats.requests - stats.errors
        if is_warm(warm, ts, good, stats.error_rate, time.monotonic() - started):
            return
        if time.monotonic() > deadline:
            raise DrillError(
                f"the load did not warm up within {warm.timeout_seconds:g} s ({good} successful "
                f"requests, error ratio {stats.error_rate:.1%}; wanted {warm.min_successes} and "
                f"at most {warm.max_error_ratio:.1%}): see {run.load.log}."
            )
        time.sleep(0.1)


def fault_time(run: DrillRun, runs: list[dict[str, Any]] | None) -> float | None:
    """t0: the start of the impairment action (named in the extension, else the first
    action that is not load, probe, report or runbook work), from the journal's run list."""
    named = run.settings.fault_activity if run.settings else None
    for item in runs or []:
        if is_fault_activity(item.get("activity") or {}, named):
            with contextlib.suppress(TypeError, ValueError):
                return epoch(str(item.get("start")))
    return None


def recovered(run: DrillRun, t0: float, ts: Timescale, now: float) -> bool:
    """Whether the report's recovery rule already finds sustained recovery in the ledger,
    judged only up to ``now`` minus what may still be in flight (the client timeouts)."""
    from gameday.load.ledger import read_recent
    from gameday.reports.recovery import recovered_in

    assert run.settings is not None and run.run_dir is not None
    settle = ts.lab(CLIENT_SECONDS["connect_timeout"] + CLIENT_SECONDS["network_timeout"])
    until = now - settle - SETTLE_SECONDS
    records = sorted(
        (r for r in read_recent(run.run_dir / rd.REQUESTS, t0) if r.start >= t0 and r.end <= until),
        key=lambda r: r.start,
    )
    result = recovered_in(records, t0, run.settings.objectives, ts.speed)
    return result.recovered_at is not None


def observe(run: DrillRun) -> None:
    """Keep the load until the report's rule finds sustained recovery, or the observation
    maximum (AWS seconds, at 1/speed on the lab) has passed."""
    assert run.settings is not None and run.run_dir is not None
    ts = timescale(run)
    limit = ts.lab(run.settings.observation_max_seconds)
    began = time.time()
    t0 = run.t0 or began
    run.enter(Phase.OBSERVATION)
    while time.time() - began < limit:
        if run.load is None or not run.load.running():
            return
        if recovered(run, t0, ts, time.time()):
            return
        time.sleep(0.1)
    logger.warning(
        "gameday: no sustained recovery within the observation maximum of %g AWS s (%g lab s)",
        run.settings.observation_max_seconds,
        limit,
    )


def stop_load(run: DrillRun) -> None:
    if run.load is not None:
        with contextlib.suppress(Exception):
            run.load.stop()
    if run.sampler is not None:
        run.sampler.stop()


class AuditDeferred(Exception):
    """The writer region does not answer now (the fault cuts it off): audit it after the
    rollbacks instead of waiting on it with the fault in place."""


def audit(run: DrillRun, *, deferrable: bool = True) -> None:
    """Audit every acknowledged write against the writer region (``audit.json``).

    ``deferrable``: raise :class:`AuditDeferred` at once when the writer does not answer
    (one look, 3 s), so the control rolls back first and audits afterwards."""
    from gameday.drill.lookup import answers, service_lookup
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
    if deferrable and not answers(endpoints[writer]):
        raise AuditDeferred(f"the writer region {writer} does not answer")
    old_lookup = None
    if old in endpoints and answers(endpoints[old], timeout=2.0):
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
