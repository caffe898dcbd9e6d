"""The drill's safety wiring, called by the gameday control at a few points.

One object per drill (:class:`Safety`, kept on :class:`~gameday.drill.state.DrillRun`)
ties together what keeps a drill from doing harm:

* :func:`begin` (first thing before the experiment): the stop guard
  (:mod:`gameday.drill.signals`), so a signal from then on rolls back promptly;
* :func:`admit` (before the run directory): the emergency-stop file
  (:mod:`gameday.drill.abort`), only registered activities
  (:mod:`gameday.drill.allowed`), well-formed stop conditions
  (:mod:`gameday.drill.stops`), and the lab's lock (:mod:`gameday.drill.targetlock`):
  a refused drill touches nothing;
* :func:`started` (the run directory exists): register for ``gameday abort``, bound FIS
  durations, start the stop-condition watcher;
* :func:`preflight` (after gameday's preflight, before the load): the regions
  allowlisted, production-looking targets refused unless allowed, alarms exist, and on AWS
  the drill marker (a write, so only once the account is known to be allowlisted);
* :func:`end` / :func:`restore`: stop watching, release the lock, unregister, put the
  signal handlers back.

:func:`run_json_fields` is what ``run.json`` and the journal record: whether and why the
drill was stopped (signal, stop condition or abort; when; in which phase), later signals,
the stop conditions, and the production flag.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from gameday.drill import DrillError
from gameday.drill.signals import StopGuard
from gameday.drill.stops import StopConditions, StopWatcher

__all__ = [
    "Safety",
    "admit",
    "begin",
    "end",
    "preflight",
    "release_target",
    "restore",
    "run_json_fields",
    "started",
]

logger = logging.getLogger("chaostoolkit")

ALLOW_PRODUCTION_ENV = "GAMEDAY_ALLOW_PRODUCTION"
#: Configuration keys that are not targets (their values are never production names).
_NOT_TARGETS = ("gameday_", "aws_", "nameserver", "service_port", "service_scheme")


@dataclass
class Safety:
    """The safety state of one drill."""

    guard: StopGuard
    conditions: StopConditions = field(default_factory=StopConditions)
    lock: Any = None
    watcher: StopWatcher | None = None
    allow_production: bool = False
    production_like: list[str] = field(default_factory=list)
    registered: bool = False


def _still_open(run: Any) -> list[str]:
    """This run's faults still open in the ledger (for the answer to a late signal)."""
    from gameday.drill.artefacts import this_runs_entries

    with contextlib.suppress(Exception):
        return [f"{e.activity} on {e.target}" for e in this_runs_entries(run) if e.open]
    return ["(the fault ledger could not be read)"]


def _phase(run: Any) -> str:
    """The drill's phase and, in the method or rollbacks, the activity under way."""
    activity = getattr(run, "activity", None)
    return f"{run.phase}: {activity}" if activity else str(run.phase)


def begin(run: Any) -> Safety:
    """Install the stop guard for ``run`` (idempotent)."""
    if run.safety is None:
        guard = StopGuard(lambda: _phase(run), lambda: _still_open(run)).install()
        run.safety = Safety(guard)
    return run.safety


def admit(run: Any) -> None:
    """Refuse (DrillError) before anything is created or injected: the emergency stop,
    unregistered activities, malformed stop conditions, a lab another drill holds."""
    from gameday.drill.abort import ensure_not_aborted
    from gameday.drill.allowed import activity_problems
    from gameday.drill.settings import extension
    from gameday.drill.stops import parse_stop_conditions

    safety = begin(run)
    ensure_not_aborted()
    problems = activity_problems(run.experiment)
    if problems:
        raise DrillError("activities not allowed: " + "; ".join(problems) + ".")
    safety.conditions = parse_stop_conditions(extension(run.experiment))
    safety.allow_production = bool(
        os.environ.get(ALLOW_PRODUCTION_ENV) == "1"
        or run.configuration.get("gameday_allow_production") is True
    )
    if run.configuration.get("gameday_target") == "lab":  # local: take it before anything
        _lock(run)


def _lock(run: Any) -> None:
    """Take the target's lock (on AWS only once the account is known to be allowlisted:
    the marker is itself a write)."""
    from gameday.drill.targetlock import acquire

    safety: Safety = run.safety
    if safety.lock is None:
        name = run.settings.name if run.settings else None
        safety.lock = acquire(
            run.configuration, run.secrets, name, safety.conditions.max_duration_seconds
        )
        if run.run_dir is not None and hasattr(safety.lock, "record"):
            safety.lock.record(run.run_dir)


def started(run: Any) -> None:
    """The run directory exists: register, bound FIS durations, watch the conditions."""
    from gameday.drill import rundir as rd
    from gameday.drill.abort import abort_file, register
    from gameday.drill.state import set_env
    from gameday.drill.stops import MAX_DURATION_ENV, alarm_reader, lab_speed

    safety: Safety = run.safety
    if safety.lock is not None and hasattr(safety.lock, "record"):
        safety.lock.record(run.run_dir)
    register(run.run_dir, run.settings.name if run.settings else None,
             run.configuration.get("gameday_target"))  # fmt: skip
    safety.registered = True
    limit = safety.conditions.max_duration_seconds
    if limit is not None:
        set_env(run, {MAX_DURATION_ENV: str(limit)})
    objectives = run.settings.objectives if run.settings else None

    def trip(kind: str, condition: str, reason: str) -> None:
        safety.guard.request(kind, reason, condition=condition)

    safety.watcher = StopWatcher(
        safety.conditions,
        started=run.started,
        speed=lab_speed(run.configuration),
        t0=lambda: run.t0,
        requests=run.run_dir / rd.REQUESTS if run.run_dir else None,
        abort_file=abort_file(),
        alarm_state=alarm_reader(run.configuration, run.secrets),
        rto_seconds=getattr(objectives, "rto_seconds", None),
        trip=trip,
    ).start()


def _target_values(run: Any) -> dict[str, Any]:
    values = {
        k: v
        for k, v in run.configuration.items()
        if isinstance(v, str) and not k.startswith(_NOT_TARGETS) and not k.endswith("_region")
    }
    values |= _tags(run)
    return values


def _tags(run: Any) -> dict[str, str]:
    """Tags of the NACLs and health checks the drill names (read-only; best effort)."""
    from gameday.aws import client

    c, found = run.configuration, {}
    for role in ("primary", "secondary"):
        acl, region = c.get(f"{role}_network_acl_id"), c.get(f"{role}_region")
        if acl and region:
            with contextlib.suppress(Exception):
                ec2 = client("ec2", region, configuration=c, secrets=run.secrets)
                for acl_item in ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"]:
                    for tag in acl_item.get("Tags") or []:
                        found[f"tag {tag.get('Key')} of {acl}"] = str(tag.get("Value"))
        check = c.get(f"{role}_health_check_id")
        if check:
            with contextlib.suppress(Exception):
                r53 = client("route53", configuration=c, secrets=run.secrets)
                tags = r53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check)
                for tag in tags["ResourceTagSet"].get("Tags") or []:
                    found[f"tag {tag.get('Key')} of {check}"] = str(tag.get("Value"))
    return found


def _regions(run: Any) -> set[str]:
    from chaoslib import substitute

    c = run.configuration
    regions = {str(c[k]) for k in ("primary_region", "secondary_region", "aws_region") if c.get(k)}
    for item in run.experiment.get("method") or []:
        if not isinstance(item, dict):
            continue
        with contextlib.suppress(Exception):
            arguments = substitute((item.get("provider") or {}).get("arguments") or {}, c, {})
            for key in ("region", "target_region", "destination_region"):
                if isinstance(arguments, dict) and isinstance(arguments.get(key), str):
                    regions.add(arguments[key])
    return regions


def preflight(run: Any) -> None:
    """Regions allowlisted, production-looking targets refused unless allowed, alarms
    exist (all read-only); DrillError otherwise."""
    from gameday.allowlist import RegionNotAllowed, ensure_regions_allowed, production_like

    safety: Safety = run.safety
    try:
        ensure_regions_allowed(run.configuration, _regions(run))
    except RegionNotAllowed as exc:
        raise DrillError(str(exc)) from exc
    safety.production_like = production_like(_target_values(run))
    if safety.production_like and not safety.allow_production:
        raise DrillError(
            "target(s) look like production: " + ", ".join(safety.production_like) + ". "
            "gameday refuses them; if this really is a non-production target, run again with "
            "--allow-production (recorded in run.json and the report)."
        )
    if safety.production_like:
        logger.warning("gameday: production-looking targets allowed: %s", safety.production_like)
    from gameday.drill.stops import alarm_reader

    read = alarm_reader(run.configuration, run.secrets)
    for alarm in safety.conditions.alarms:
        try:
            read(alarm)
        except DrillError:
            raise
        except Exception as exc:
            raise DrillError(f"cannot read CloudWatch alarm {alarm.name!r}: {exc}") from exc
    _lock(run)


def check(run: Any) -> None:
    """Raise the pending stop, if any (a cooperative point: before an activity)."""
    if run.safety is not None:
        run.safety.guard.check()


def stopping(run: Any) -> bool:
    return run.safety is not None and run.safety.guard.stopping


def quiet(run: Any) -> None:
    """The rollbacks begin: stop watching the conditions (signals are answered, not obeyed)."""
    if run.safety is not None and run.safety.watcher is not None:
        run.safety.watcher.stop()


def release_target(run: Any) -> None:
    """Release the target's lock (the faults are reverted; the report needs no target)."""
    safety: Safety | None = run.safety
    if safety is None or safety.lock is None:
        return
    try:
        safety.lock.release()
    except Exception as exc:
        logger.error("gameday: could not release the target's drill lock: %s", exc)
    safety.lock = None


def end(run: Any) -> None:
    """Stop watching, release the target's lock, unregister (idempotent)."""
    from gameday.drill.abort import unregister

    safety: Safety | None = run.safety
    if safety is None:
        return
    quiet(run)
    release_target(run)
    if safety.registered:
        unregister()
        safety.registered = False


def restore(run: Any) -> None:
    """Put back the signal handlers found at :func:`begin`."""
    if run.safety is not None:
        run.safety.guard.restore()


def run_json_fields(run: Any) -> dict[str, Any]:
    """What ``run.json`` and the journal record about the drill's safety."""
    from gameday.drill.abort import read_abort_request

    safety: Safety | None = run.safety
    if safety is None:
        return {}
    stop = safety.guard.stop
    stopped = stop.to_json() if stop else None
    if stopped and stop is not None and stop.kind == "abort":
        stopped["request"] = read_abort_request(run.run_dir)
    return {
        "stopped": stopped,
        "signals_during_rollback": [s.to_json() for s in safety.guard.later],
        "stop_conditions": safety.conditions.to_json(),
        "allow_production": safety.allow_production,
        "production_like": safety.production_like,
    }
