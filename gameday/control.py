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
import os
import sys
import time
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InterruptExecution

from gameday.drill import DrillError, safety
from gameday.drill import rundir as rd
from gameday.drill.artefacts import (
    floors,
    revert_open_faults,
    write_faults_slice,
    write_lab_events,
    write_run_json,
)
from gameday.drill.phases import (
    AuditDeferred,
    audit,
    fault_time,
    observe,
    scale_pauses,
    start_load,
    stop_load,
    timescale,
)
from gameday.drill.sampler import Sampler, Targets
from gameday.drill.settings import extension, parse_settings
from gameday.drill.state import DrillRun, Phase, apply_environment, restore_environment
from gameday.reports.faultrule import is_fault_activity
from gameday.rundir import REPORT, SUMMARY

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

_current: DrillRun | None = None


def current_run() -> DrillRun | None:
    """The drill this process is running (None outside a drill)."""
    return _current


# -- environment ---------------------------------------------------------------------


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
    apply_environment(_current)


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
    safety.begin(run)
    run.configuration = dict(configuration or run.configuration)
    run.path = _experiment_path()
    try:
        run.settings = parse_settings(context, run.path)
        safety.admit(run)
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
        safety.started(run)
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
        safety.preflight(run)
        run.run_json["floors"] = floors(run)
        scale_pauses(context, timescale(run))
        write_run_json(run)
        run.enter(Phase.WARM_UP)
        start_load(run)
        run.sampler.start()
        run.enter(Phase.METHOD)
    except Exception as exc:
        run.error = str(exc) if isinstance(exc, DrillError) else f"{type(exc).__name__}: {exc}"
        if safety.stopping(run):
            run.error = f"stopped before anything was injected: {run.safety.guard.stop.reason}"
        logger.error("gameday: the drill cannot run: %s", run.error)
        run.enter(Phase.REFUSED)
        stop_load(run)
        write_run_json(run)
        raise InterruptExecution(f"gameday: the drill cannot run: {run.error}") from exc


def before_activity_control(context: dict[str, Any], **_: Any) -> None:
    """Live progress: the activity under way is the phase; t0 when the fault starts."""
    run = _current
    if run is not None and run.phase is Phase.METHOD:
        safety.check(run)  # a pending stop: no further activity
    if run is not None and run.phase in (Phase.METHOD, Phase.ROLLBACK):
        run.activity = str(context.get("name"))
        named = run.settings.fault_activity if run.settings else None
        if run.phase is Phase.METHOD and run.t0 is None and is_fault_activity(context, named):
            run.t0 = time.time()  # the journal's start of it replaces this after the method


def after_activity_control(context: dict[str, Any], state: Any = None, **_: Any) -> None:
    """Nothing to note: t0 is the impairment's start (:func:`before_activity_control`)."""


def before_rollback_control(context: dict[str, Any], **_: Any) -> None:
    """A drill that failed its preflight injected nothing: skip the rollbacks."""
    run = _current
    if (
        run is not None
        and run.error
        and run.phase in (Phase.PREFLIGHT, Phase.WARM_UP, Phase.REFUSED)
    ):
        raise InterruptExecution("gameday: nothing was injected, no rollback needed")
    if run is not None:
        run.enter(Phase.ROLLBACK)
        run.rollbacks_started = time.time()
        safety.quiet(run)


def after_method_control(
    context: dict[str, Any], state: list[dict[str, Any]] | None = None, **_: Any
) -> None:
    """Observation window, stop the load, audit."""
    run = _current
    if run is None or run.error or run.run_dir is None:
        return
    run.t0 = fault_time(run, state) or run.t0
    if safety.stopping(run):  # roll back now: no observation, no audit
        run.enter(Phase.STOPPING)
        return
    try:
        observe(run)
    finally:
        if not safety.stopping(run):  # a stopped drill rolls back first, the load can wait
            stop_load(run)
    run.enter(Phase.AUDIT)
    _audit(run, deferrable=True)


def _audit(run: DrillRun, *, deferrable: bool) -> None:
    """The audit, or (``deferrable``, its writer cut off by the fault) a note to audit once
    the rollbacks have run: a fault is never held in place to wait on the region it cuts."""
    try:
        audit(run, deferrable=deferrable)
    except AuditDeferred as exc:
        logger.warning("gameday: %s: the audit waits until the rollbacks have run", exc)
        run.audit_after_rollback = True
    except InterruptExecution:
        raise
    except Exception as exc:
        logger.error("gameday: the audit failed: %s", exc)
        run.cleanup.append({"audit_error": str(exc)})


def _attach(journal: dict[str, Any], item: dict[str, Any]) -> None:
    extensions = journal.setdefault("extensions", [])
    extensions[:] = [
        e for e in extensions if not (isinstance(e, dict) and e.get("name") == "gameday")
    ]
    extensions.append({"name": "gameday", **item, **_safety_record()})


def _safety_record() -> dict[str, Any]:
    """Whether and why the drill was stopped, for the journal (as in run.json)."""
    if _current is None:
        return {}
    fields = safety.run_json_fields(_current)
    return {k: fields[k] for k in ("stopped", "allow_production") if k in fields}


def after_experiment_control(
    context: dict[str, Any], state: dict[str, Any] | None = None, **_: Any
) -> None:
    """Whatever happened: stop load, revert open faults, write the run files, report."""
    run = _current
    if run is None:
        return
    journal = state if isinstance(state, dict) else {}
    run.enter(Phase.CLEANUP)
    safety.quiet(run)
    stop_load(run)
    if run.run_dir is None:  # the extension itself was invalid: no run directory
        safety.end(run)
        _attach(journal, {"verdict": "incomplete", "error": run.error, "run_dir": None})
        return
    try:
        revert_open_faults(run)
        if run.audit_after_rollback and not safety.stopping(run):
            run.enter(Phase.AUDIT)
            _audit(run, deferrable=False)
        safety.release_target(run)  # restored: the next drill may start while this reports
        ended = time.time()
        write_faults_slice(run)
        write_lab_events(run, ended)
        write_run_json(run)
        run.run_json["ended"] = ended
        rd.write_json(run.run_dir / rd.RUN_JSON, run.run_json)
        rd.write_json(run.run_dir / rd.JOURNAL, journal)
        if run.error:
            _attach(
                journal, {"verdict": "incomplete", "error": run.error, "run_dir": str(run.run_dir)}
            )
            return
        run.enter(Phase.REPORT)
        from gameday.reports import build_report

        html = os.environ.get("GAMEDAY_REPORT_HTML") != "0"  # gameday run --no-html
        run.summary = build_report(run.run_dir, html=html)
        report = run.run_dir / (REPORT if html else SUMMARY)
        _attach(
            journal,
            {
                "verdict": run.summary.verdict,
                "run_dir": str(run.run_dir),
                "report": str(report),
                "cleanup": run.cleanup,
                "summary": run.summary.to_json(),
            },
        )
        logger.info("gameday: verdict %s, report %s", run.summary.verdict, report)
    except Exception as exc:
        logger.exception("gameday: the report could not be built")
        run.error = run.error or f"the report could not be built: {exc}"
        _attach(journal, {"verdict": "incomplete", "error": run.error, "run_dir": str(run.run_dir)})
    finally:
        safety.end(run)
        run.enter(Phase.DONE)
        rd.clear_current(run.run_dir)


def cleanup_control(**_: Any) -> None:
    """Restore the process environment; forget the drill."""
    global _current
    run = _current
    if run is not None:
        stop_load(run)
        safety.end(run)
        safety.restore(run)
        restore_environment(run)
    _current = None


def drill_extension(journal: dict[str, Any]) -> dict[str, Any] | None:
    """The gameday entry the control attached to a journal (None if it never ran)."""
    return extension(journal)
