"""The gameday control: the Chaos Toolkit control that turns an experiment into a drill.

Declared in the experiment (or in Chaos Toolkit settings)::

    "controls": [{"name": "gameday", "provider": {"type": "python", "module": "gameday.control"}}]

so that plain ``chaos run --rollback-strategy always experiments/X.json --var-file F`` gets
the whole behaviour; ``gameday run`` is a convenience over chaoslib's ``run_experiment``
with this same control, not a second engine. What it does, at Chaos Toolkit's hooks:

* ``configure_control``: the environment var file becomes the process environment the
  activities need (the lab's endpoint and lab mode; chaostoolkit-aws's own activities
  read ``AWS_ENDPOINT_URL``); undone by ``cleanup_control``.
* before the experiment: create the run directory (``reports/<drill>/<UTC stamp>/``),
  **preflight** (variables, allowlist, targets, steady state; see
  :mod:`gameday.drill.preflight`), start the load and wait for its warm-up, start the
  background sampler (``samples.jsonl``). Any failure interrupts the run with one message
  *before anything is injected*, and the rollbacks are skipped (nothing to roll back).
* after the method: keep the load through the observation window (until sustained
  recovery or its maximum), stop it, audit every acknowledged write against the writer
  region (the report package's ``audit_writes`` + ``write_audit``).
* after the experiment, **whatever happened**: revert every fault of this run still open
  in the fault ledger (Chaos Toolkit skips rollbacks of failed or interrupted runs unless
  ``--rollback-strategy always``) and record that in ``run.json`` and ``faults.jsonl``;
  write ``faults.jsonl``, ``lab-events.jsonl`` (lab), ``journal.json``; build the report
  (``build_report``) and attach its summary under the journal's ``extensions``
  (``{"name": "gameday", "summary": {...}, "run_dir": ...}``).

A drill that could not run leaves ``run.json`` with ``"error"`` and the journal extension
``{"name": "gameday", "error": ..., "verdict": "incomplete"}``: ``gameday run`` exits 2.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution

from gameday.drill import DrillError
from gameday.drill import rundir as rd
from gameday.drill.sampler import Sampler, Targets
from gameday.drill.settings import DrillSettings, extension, parse_settings

__all__ = [
    "after_activity_control",
    "after_experiment_control",
    "after_method_control",
    "before_activity_control",
    "before_experiment_control",
    "before_rollback_control",
    "cleanup_control",
    "configure_control",
    "current_run",
]

logger = logging.getLogger("chaostoolkit")

#: Fake credentials for the lab (moto accepts anything; real AWS rejects these).
_LAB_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "gameday-lab",
    "AWS_SECRET_ACCESS_KEY": "gameday-lab",
    "AWS_SESSION_TOKEN": "gameday-lab",
}
#: Modules whose actions are not the impairment when the experiment names none.
_NOT_FAULTS = ("gameday.probes", "gameday.runbook", "gameday.load", "gameday.reports")


@dataclass
class DrillRun:
    """One drill in progress (the control's state between hooks)."""

    experiment: dict[str, Any]
    configuration: dict[str, Any]
    secrets: dict[str, Any]
    started: float = field(default_factory=time.time)
    settings: DrillSettings | None = None
    path: Path | None = None
    run_dir: Path | None = None
    sampler: Sampler | None = None
    load: Any = None  # gameday.load.runner.LoadRun
    account: str | None = None
    error: str | None = None
    phase: str = "preflight"
    t0: float | None = None
    rollbacks_started: float | None = None
    audited: bool = False
    cleanup: list[dict[str, Any]] = field(default_factory=list)
    summary: Any = None
    saved_env: dict[str, str | None] = field(default_factory=dict)
    run_json: dict[str, Any] = field(default_factory=dict)


_current: DrillRun | None = None


def current_run() -> DrillRun | None:
    """The drill this process is running (None outside a drill)."""
    return _current


# -- environment ---------------------------------------------------------------------


def _set_env(run: DrillRun, values: dict[str, str]) -> None:
    for key, value in values.items():
        run.saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value


def _apply_environment(run: DrillRun) -> None:
    """Make the var file's target the process's AWS environment (lab: endpoint, lab mode)."""
    c = run.configuration
    values: dict[str, str] = {}
    if c.get("aws_endpoint_url"):
        values["AWS_ENDPOINT_URL"] = str(c["aws_endpoint_url"])
    if c.get("aws_region"):
        values["AWS_DEFAULT_REGION"] = str(c["aws_region"])
    if c.get("gameday_target") == "lab":
        values["GAMEDAY_LAB"] = "1"
        if c.get("gameday_lab_dir"):
            values["GAMEDAY_LAB_DIR"] = str(c["gameday_lab_dir"])
        if c.get("nameserver"):
            values["GAMEDAY_NAMESERVER"] = str(c["nameserver"])
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            values |= _LAB_CREDENTIALS
    _set_env(run, values)


def _restore_environment(run: DrillRun) -> None:
    for key, value in run.saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    run.saved_env.clear()


# -- hooks -----------------------------------------------------------------------------


def configure_control(
    experiment: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    """Start tracking a drill and point the process at the var file's target."""
    global _current
    _current = DrillRun(dict(experiment or {}), dict(configuration or {}), dict(secrets or {}))
    _apply_environment(_current)


def _experiment_path() -> Path | None:
    """The experiment file: ``GAMEDAY_EXPERIMENT_PATH`` (gameday run), else chaos's argv."""
    named = os.environ.get("GAMEDAY_EXPERIMENT_PATH")
    if named:
        return Path(named)
    for arg in reversed(sys.argv[1:]):
        if arg.endswith((".json", ".yaml", ".yml")) and Path(arg).is_file():
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(Path(arg).read_text()) if arg.endswith(".json") else {}
                if "configuration" in data and "method" in data:
                    return Path(arg)
    return None


def _reports_base(configuration: dict[str, Any]) -> Path:
    return Path(
        os.environ.get("GAMEDAY_REPORTS_DIR")
        or configuration.get("gameday_reports_dir")
        or "reports"
    )


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("gameday", "chaostoolkit-lib", "chaostoolkit-aws", "moto", "locust"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _floors(run: DrillRun) -> dict[str, Any]:
    """The physical floor of a DNS failover, read from Route 53 at run start."""
    from gameday.aws import client

    c = run.configuration
    floors: dict[str, Any] = {
        "health_check_interval_s": None,
        "failure_threshold": None,
        "ttl_s": None,
        "lab_speed": None,
    }
    with contextlib.suppress(Exception):
        hc = client("route53", configuration=c).get_health_check(
            HealthCheckId=c["primary_health_check_id"]
        )["HealthCheck"]["HealthCheckConfig"]
        floors["health_check_interval_s"] = float(hc.get("RequestInterval", 30))
        floors["failure_threshold"] = int(hc.get("FailureThreshold", 3))
    with contextlib.suppress(Exception):
        zone = c["hosted_zone_id"]
        name = str(c["service_name"]).rstrip(".") + "."
        records = client("route53", configuration=c).list_resource_record_sets(
            HostedZoneId=zone, StartRecordName=name
        )["ResourceRecordSets"]
        ttls = [r["TTL"] for r in records if r["Name"] == name and "TTL" in r]
        floors["ttl_s"] = float(min(ttls)) if ttls else None
    if c.get("gameday_target") == "lab" and c.get("gameday_lab_dir"):
        # The lab runs AWS's durations `speed` times faster: floors in lab seconds, as
        # measured. (Older labs: `health_check_interval` lab seconds per 10 s of Route 53.)
        with contextlib.suppress(Exception):
            state = json.loads((Path(c["gameday_lab_dir"]) / "state.json").read_text())
            config = state.get("config") or {}
            speed = float(config.get("speed") or 10.0 / float(config["health_check_interval"]))
            floors["lab_speed"] = speed
            if floors["health_check_interval_s"] is not None:
                floors["health_check_interval_s"] /= speed
            if floors["ttl_s"] is not None:
                floors["ttl_s"] = float(math.ceil(floors["ttl_s"] / speed))
    return floors


def _write_run_json(run: DrillRun) -> None:
    assert run.run_dir is not None
    c = run.configuration
    objectives = run.settings.objectives.to_json() if run.settings else None
    load = run.settings.load if run.settings else None
    users = int(os.environ.get("GAMEDAY_USERS") or (load.users if load else 0))
    run.run_json = {
        "schema": 1,
        "experiment": {
            "name": run.settings.name if run.settings else None,
            "title": run.experiment.get("title"),
            "path": str(run.path) if run.path else None,
        },
        "target": "lab" if c.get("gameday_target") == "lab" else "aws",
        "account": run.account,
        "regions": {"primary": c.get("primary_region"), "secondary": c.get("secondary_region")},
        "objectives": objectives,
        "floors": run.run_json.get("floors") or {},
        "versions": _versions(),
        "configuration": {k: v for k, v in c.items() if "secret_access" not in k},
        "started": run.started,
        "ended": None,
        "load": {
            "users": users,
            "spawn_rate": float((load.spawn_rate if load else None) or users),
            "sticky_share": float(load.sticky_share) if load else 0.0,
            "profile": load.profile if load else None,
        },
        "error": run.error,
        "cleanup": run.cleanup,
        "pid": os.getpid(),
    }
    rd.write_json(run.run_dir / rd.RUN_JSON, run.run_json)


def _start_load(run: DrillRun) -> None:
    """Start Locust into ``requests.jsonl`` and wait for its warm-up."""
    from gameday.load.ledger import recent_window
    from gameday.load.runner import LoadRun, LoadSettings

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


def before_experiment_control(
    context: dict[str, Any],
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    """Run directory, preflight, load warm-up, sampler; interrupts the run on failure."""
    from gameday.drill.preflight import preflight

    run = _current
    if run is None:  # declared as a global control without configure: start here
        configure_control(context, configuration, secrets)
        run = _current
    assert run is not None
    run.configuration = dict(configuration or run.configuration)
    run.path = _experiment_path()
    try:
        run.settings = parse_settings(context, run.path)
    except DrillError as exc:
        run.error = str(exc)
        logger.error("gameday: %s", exc)
        raise InterruptExecution(f"gameday: {exc}") from exc
    run.run_dir = rd.create_run_dir(
        _reports_base(run.configuration), run.settings.name, run.started
    )
    rd.publish_current(run.run_dir)
    logger.info("gameday: run directory %s", run.run_dir)
    try:
        targets = Targets.from_configuration(run.configuration)
        run.sampler = Sampler(
            run.run_dir / rd.SAMPLES,
            targets,
            run.settings.sample_interval,
            run.configuration,
            run.secrets,
        )

        def steady() -> dict[tuple[str, str], Any]:
            assert run.sampler is not None
            run.sampler.sample_once()
            return run.sampler.latest

        run.account = preflight(context, run.configuration, run.secrets, steady, targets)
        run.run_json["floors"] = _floors(run)
        _write_run_json(run)
        run.phase = "warm-up"
        _start_load(run)
        run.sampler.start()
        run.phase = "method"
    except Exception as exc:
        run.error = str(exc) if isinstance(exc, DrillError) else f"{type(exc).__name__}: {exc}"
        logger.error("gameday: the drill cannot run: %s", run.error)
        _stop_load(run)
        _write_run_json(run)
        raise InterruptExecution(f"gameday: the drill cannot run: {run.error}") from exc


def before_activity_control(context: dict[str, Any], **_: Any) -> None:
    """Live progress: the activity under way is the phase."""
    run = _current
    if run is not None and run.phase.startswith(("method", "rollback")):
        stage = "rollback" if run.phase.startswith("rollback") else "method"
        run.phase = f"{stage}: {context.get('name')}"


def after_activity_control(context: dict[str, Any], state: Any = None, **_: Any) -> None:
    """Live progress: note the fault time as soon as the impairment completed."""
    run = _current
    if run is None or run.t0 is not None or run.settings is None:
        return
    if context.get("type") != "action" or run.phase.startswith("rollback"):
        return
    module = str((context.get("provider") or {}).get("module", ""))
    named = run.settings.fault_activity
    if (named and context.get("name") == named) or (
        not named and not module.startswith(_NOT_FAULTS)
    ):
        run.t0 = time.time()


def before_rollback_control(context: dict[str, Any], **_: Any) -> None:
    """A drill that failed its preflight injected nothing: skip the rollbacks."""
    run = _current
    if run is not None and run.error and run.phase in ("preflight", "warm-up"):
        raise InterruptExecution("gameday: nothing was injected, no rollback needed")
    if run is not None:
        run.phase = "rollback"
        run.rollbacks_started = time.time()


def _fault_time(run: DrillRun, runs: list[dict[str, Any]] | None) -> float | None:
    """End of the impairment action (named in the extension, else the first action)."""
    named = run.settings.fault_activity if run.settings else None
    for item in runs or []:
        activity = item.get("activity") or {}
        if activity.get("type") != "action":
            continue
        module = str((activity.get("provider") or {}).get("module", ""))
        if (named and activity.get("name") == named) or (
            not named and not module.startswith(_NOT_FAULTS)
        ):
            with contextlib.suppress(TypeError, ValueError):
                return _iso_epoch(str(item.get("end")))
    return None


def _iso_epoch(text: str) -> float:
    """Unix seconds of an ISO time (chaoslib writes naive UTC)."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _observe(run: DrillRun) -> None:
    """Keep the load until sustained recovery (one good window after t0) or the maximum."""
    from gameday.load.ledger import recent_window

    assert run.settings is not None and run.run_dir is not None
    objectives = run.settings.objectives
    window = float(objectives.window_seconds)
    began = time.time()
    since = run.t0 or began
    run.phase = "observation"
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


def _stop_load(run: DrillRun) -> None:
    if run.load is not None:
        with contextlib.suppress(Exception):
            run.load.stop()
    if run.sampler is not None:
        run.sampler.stop()


def _audit(run: DrillRun) -> None:
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


def after_method_control(
    context: dict[str, Any], state: list[dict[str, Any]] | None = None, **_: Any
) -> None:
    """Observation window, stop the load, audit."""
    run = _current
    if run is None or run.error or run.run_dir is None:
        return
    run.t0 = _fault_time(run, state) or run.t0
    try:
        _observe(run)
    finally:
        _stop_load(run)
    run.phase = "audit"
    try:
        _audit(run)
    except Exception as exc:
        logger.error("gameday: the audit failed: %s", exc)
        run.cleanup.append({"audit_error": str(exc)})


def _this_runs_entries(run: DrillRun) -> list[Any]:
    from gameday.faults import Ledger, ledger_path

    ledger = Ledger(ledger_path(run.configuration))
    return [
        entry
        for entry in ledger.entries()
        if entry.pid == os.getpid() and _iso_epoch(entry.time) >= run.started - 1
    ]


def _revert_open_faults(run: DrillRun) -> None:
    """Revert every fault of this run still open in the ledger; record what was done."""
    from gameday.faults import REVERTED, Ledger, _resolve_undo, ledger_path

    ledger = Ledger(ledger_path(run.configuration))
    for entry in reversed(_this_runs_entries(run)):
        # A rollback that had nothing of this run to revert (a writer moved back after an
        # operator's own failover, say) records what it did as a fault of its own: undoing
        # that would undo the rollback. Only what the method injected is reverted here.
        begun = _iso_epoch(entry.time)
        if not entry.open:
            continue
        if run.rollbacks_started and begun >= run.rollbacks_started:
            # closed, not undone: 'gameday recover' must not undo a rollback either
            ledger.mark(entry.id, REVERTED, by="gameday control: a rollback's own change")
            run.cleanup.append({"id": entry.id, "activity": entry.activity, "target": entry.target,
                                "undo": None, "outcome": "closed (made by a rollback)", "error": None})  # fmt: skip
            continue
        item = {"id": entry.id, "activity": entry.activity, "target": entry.target,
                "undo": entry.undo.describe(), "outcome": "reverted", "error": None}  # fmt: skip
        try:
            func = _resolve_undo(entry.undo)
            func(**entry.undo.kwargs, configuration=run.configuration, secrets=run.secrets)
            ledger.mark(entry.id, REVERTED, by="gameday control (after the experiment)")
        except Exception as exc:
            item["outcome"], item["error"] = "error", str(exc)
        logger.warning(
            "gameday: fault %s (%s) was still open: %s", entry.id, entry.activity, item["outcome"]
        )
        run.cleanup.append(item)


def _write_faults_slice(run: DrillRun) -> None:
    from gameday.faults import ledger_path

    assert run.run_dir is not None
    ids = {entry.id for entry in _this_runs_entries(run)}
    path = ledger_path(run.configuration)
    lines = []
    with contextlib.suppress(FileNotFoundError):
        for raw in path.read_bytes().splitlines(keepends=True):
            with contextlib.suppress(ValueError):
                if raw.endswith(b"\n") and json.loads(raw).get("id") in ids:
                    lines.append(raw)
    (run.run_dir / rd.FAULTS).write_bytes(b"".join(lines))


def _write_lab_events(run: DrillRun, ended: float) -> None:
    assert run.run_dir is not None
    lab_dir = run.configuration.get("gameday_lab_dir")
    if run.configuration.get("gameday_target") != "lab" or not lab_dir:
        return
    events = [
        e
        for e in rd.read_jsonl(Path(lab_dir) / "events.jsonl")
        if run.started - 1 <= float(e.get("time", 0)) <= ended + 1
    ]
    body = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    (run.run_dir / rd.LAB_EVENTS).write_text(body, encoding="utf-8")


def _attach(journal: dict[str, Any], item: dict[str, Any]) -> None:
    extensions = journal.setdefault("extensions", [])
    extensions[:] = [
        e for e in extensions if not (isinstance(e, dict) and e.get("name") == "gameday")
    ]
    extensions.append({"name": "gameday", **item})


def after_experiment_control(
    context: dict[str, Any], state: dict[str, Any] | None = None, **_: Any
) -> None:
    """Whatever happened: stop load, revert open faults, write the run files, report."""
    run = _current
    if run is None:
        return
    journal = state if isinstance(state, dict) else {}
    _stop_load(run)
    if run.run_dir is None:  # the extension itself was invalid: no run directory
        _attach(journal, {"verdict": "incomplete", "error": run.error, "run_dir": None})
        return
    try:
        _revert_open_faults(run)
        ended = time.time()
        _write_faults_slice(run)
        _write_lab_events(run, ended)
        _write_run_json(run)
        run.run_json["ended"] = ended
        rd.write_json(run.run_dir / rd.RUN_JSON, run.run_json)
        rd.write_json(run.run_dir / rd.JOURNAL, journal)
        if run.error:
            _attach(
                journal, {"verdict": "incomplete", "error": run.error, "run_dir": str(run.run_dir)}
            )
            return
        run.phase = "report"
        from gameday.reports import build_report

        run.summary = build_report(run.run_dir)
        _attach(
            journal,
            {
                "verdict": run.summary.verdict,
                "run_dir": str(run.run_dir),
                "report": str(run.run_dir / "report.html"),
                "cleanup": run.cleanup,
                "summary": run.summary.to_json(),
            },
        )
        logger.info(
            "gameday: verdict %s, report %s", run.summary.verdict, run.run_dir / "report.html"
        )
    except Exception as exc:
        logger.exception("gameday: the report could not be built")
        run.error = run.error or f"the report could not be built: {exc}"
        _attach(journal, {"verdict": "incomplete", "error": run.error, "run_dir": str(run.run_dir)})
    finally:
        run.phase = "done"
        rd.clear_current(run.run_dir)


def cleanup_control(**_: Any) -> None:
    """Restore the process environment; forget the drill."""
    global _current
    run = _current
    if run is not None:
        _stop_load(run)
        _restore_environment(run)
    _current = None


def drill_extension(journal: dict[str, Any]) -> dict[str, Any] | None:
    """The gameday entry the control attached to a journal (None if it never ran)."""
    return extension(journal)
