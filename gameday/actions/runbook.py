"""Operator runbook steps and the scribe's notes.

A game day is people rehearsing a runbook, and the time they take to decide and act is
part of the real RTO. :func:`operator_step` is a Chaos Toolkit action that stands for one
human step ("declare the failover decision", "promote the database per the runbook"):
it records ``started`` in the run's ``steps.jsonl``, prompts in the terminal and waits
until the operator confirms, in that terminal (Enter) or from any other with
``gameday step done`` (a line in the run's ``step-confirmations.jsonl``); then it records
``confirmed``. Each step's start and confirmation become phases of the report's timeline
and of the RTO breakdown.

Unattended (``gameday run --unattended``, configuration ``gameday_unattended`` or
``GAMEDAY_UNATTENDED=1``: scheduled runs) a step never waits for a person: it runs its
declared ``automated`` activity (``{"module": ..., "func": ..., "arguments": {...}}``,
called like a Chaos Toolkit python provider) or continues after its declared
``delay_seconds``, and records ``automated``. A step nobody confirms within
``timeout_seconds`` records ``timed-out`` and fails (the drill goes on; the report shows it).

``gameday step done`` and ``gameday note`` are :mod:`gameday.drill.steps`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from gameday import registry
from gameday.drill.rundir import CONFIRMATIONS, STEPS, append_jsonl, read_jsonl
from gameday.rundir.records import StepEvent

__all__ = ["operator_step"]

#: Modules an automated step may call (activities, never arbitrary code).
_AUTOMATION_PREFIXES = ("gameday.actions.", "gameday.probes.", "chaosaws.")


def _run_dir() -> Path | None:
    from gameday import control

    run = control.current_run()
    return run.run_dir if run is not None else None


def _unattended(configuration: Configuration) -> bool:
    flag = (configuration or {}).get("gameday_unattended")
    if flag is None:
        flag = os.environ.get("GAMEDAY_UNATTENDED", "")
    return str(flag).lower() in ("1", "true", "yes")


def _record(run_dir: Path | None, step: str, event: str, detail: str | None = None) -> None:
    if run_dir is not None:
        append_jsonl(run_dir / STEPS, StepEvent(time.time(), step, event, detail).to_json())


def _automate(automated: dict[str, Any], configuration: Configuration, secrets: Secrets) -> Any:
    module_name = str(automated.get("module", ""))
    if not module_name.startswith(_AUTOMATION_PREFIXES):
        raise ActivityFailed(
            f"automated step module {module_name!r} is not an activity module "
            f"(allowed: {', '.join(_AUTOMATION_PREFIXES)})."
        )
    func = getattr(importlib.import_module(module_name), str(automated.get("func")))
    arguments = dict(automated.get("arguments") or {})
    params = inspect.signature(func).parameters
    if "configuration" in params:
        arguments["configuration"] = configuration
    if "secrets" in params:
        arguments["secrets"] = secrets
    return func(**arguments)


def _terminal_confirmation(step: str, instructions: str, confirmed: threading.Event) -> None:
    """Prompt on the terminal; Enter confirms (only when stdin is a terminal)."""
    if not sys.stdin or not sys.stdin.isatty():
        return
    print(
        f"\n>>> OPERATOR STEP: {step}\n    {instructions}\n"
        "    Press Enter when done (or run 'gameday step done' in another terminal).",
        file=sys.stderr,
        flush=True,
    )

    def read() -> None:
        try:
            sys.stdin.readline()
        except (OSError, ValueError):
            return
        confirmed.set()

    threading.Thread(target=read, name="gameday-step-prompt", daemon=True).start()


def _remote_confirmation(run_dir: Path | None, step: str, since_line: int) -> bool:
    if run_dir is None:
        return False
    for line in read_jsonl(run_dir / CONFIRMATIONS)[since_line:]:
        if line.get("step") in (None, "", step):
            return True
    return False


@registry.action()
def operator_step(
    step: str,
    instructions: str = "",
    delay_seconds: float = 0.0,
    automated: dict[str, Any] | None = None,
    timeout_seconds: float = 900.0,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """One human runbook step: prompt, wait for confirmation, record its phases.

    Attended: waits until Enter in the terminal or ``gameday step done`` (from any
    terminal), at most ``timeout_seconds``. Unattended: runs ``automated`` if declared,
    else waits ``delay_seconds``. Records ``started`` and then ``confirmed``,
    ``automated`` or ``timed-out`` in the run's ``steps.jsonl``.

    Returns ``step``, ``event``, ``seconds`` (start to end) and ``result`` (the automated
    activity's return value, if one ran). Raises ActivityFailed when it timed out or the
    automated activity failed.
    """
    if not step or not isinstance(step, str):
        raise ActivityFailed("operator_step needs a `step`: a short name of the runbook step.")
    if float(delay_seconds) < 0 or float(timeout_seconds) <= 0:
        raise ActivityFailed("`delay_seconds` must be >= 0 and `timeout_seconds` > 0.")
    run_dir = _run_dir()
    began = time.time()
    _record(run_dir, step, "started", instructions or None)
    if _unattended(configuration):
        if automated:
            what = f"{automated.get('module')}.{automated.get('func')}"
            try:
                result = _automate(automated, configuration, secrets)
            except Exception as exc:
                _record(run_dir, step, "automated", f"{what} failed: {exc}")
                raise ActivityFailed(
                    f"the automated action of step {step!r} failed: {exc}"
                ) from exc
            _record(run_dir, step, "automated", f"ran {what}")
            return {
                "step": step,
                "event": "automated",
                "seconds": time.time() - began,
                "result": result,
            }
        time.sleep(float(delay_seconds))
        _record(
            run_dir, step, "automated", f"unattended: continued after {float(delay_seconds):g} s"
        )
        return {"step": step, "event": "automated", "seconds": time.time() - began, "result": None}

    confirmations = len(read_jsonl(run_dir / CONFIRMATIONS)) if run_dir else 0
    confirmed = threading.Event()
    _terminal_confirmation(step, instructions, confirmed)
    deadline = time.monotonic() + float(timeout_seconds)
    while not confirmed.is_set():
        if _remote_confirmation(run_dir, step, confirmations):
            break
        if time.monotonic() > deadline:
            _record(
                run_dir, step, "timed-out", f"nobody confirmed within {float(timeout_seconds):g} s"
            )
            raise ActivityFailed(
                f"operator step {step!r} was not confirmed within {float(timeout_seconds):g} s."
            )
        confirmed.wait(0.1)
    _record(run_dir, step, "confirmed", None)
    return {"step": step, "event": "confirmed", "seconds": time.time() - began, "result": None}
