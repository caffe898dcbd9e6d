"""One drill in progress: the state the control keeps between Chaos Toolkit's hooks.

:class:`DrillRun` is created by the control's ``configure_control`` and read by every
part of the drill (:mod:`gameday.drill.phases`, :mod:`gameday.drill.artefacts`, the
runbook steps, the live progress). :func:`apply_environment` makes the var file's target
the process's AWS environment for the run (the lab's endpoint and lab mode; Chaos
Toolkit's own AWS activities read ``AWS_ENDPOINT_URL``) and :func:`restore_environment`
undoes it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from gameday.drill.sampler import Sampler
from gameday.drill.settings import DrillSettings

#: Fake credentials for the lab (moto accepts anything; real AWS rejects these).
_LAB_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "gameday-lab",
    "AWS_SECRET_ACCESS_KEY": "gameday-lab",
    "AWS_SESSION_TOKEN": "gameday-lab",
}


class Phase(StrEnum):
    """Where a drill is (live progress, and what the control's hooks may still do)."""

    PREFLIGHT = "preflight"
    WARM_UP = "warm-up"
    METHOD = "method"
    OBSERVATION = "observation"
    ROLLBACK = "rollback"
    AUDIT = "audit"
    STOPPING = "stopping"  # stopped (signal, stop condition, abort): straight to rollbacks
    REFUSED = "refused"  # could not start: nothing injected, no rollbacks
    CLEANUP = "cleanup"  # reverting what is open, writing the run files
    REPORT = "report"
    DONE = "done"


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
    phase: Phase = Phase.PREFLIGHT
    activity: str | None = None  # the method's or rollback's activity under way
    t0: float | None = None
    rollbacks_started: float | None = None
    audited: bool = False
    #: the writer did not answer at the audit (cut off by the fault): audit after rollbacks
    audit_after_rollback: bool = False
    cleanup: list[dict[str, Any]] = field(default_factory=list)
    summary: Any = None
    saved_env: dict[str, str | None] = field(default_factory=dict)
    run_json: dict[str, Any] = field(default_factory=dict)
    safety: Any = None  # gameday.drill.safety.Safety: stop guard, target lock, watcher

    def enter(self, phase: Phase) -> None:
        """Move to ``phase`` (no activity under way yet)."""
        self.phase, self.activity = phase, None

    @property
    def progress(self) -> str:
        """The phase as live progress shows it: ``method: <activity>`` while one runs."""
        if self.activity and self.phase in (Phase.METHOD, Phase.ROLLBACK):
            return f"{self.phase}: {self.activity}"
        return str(self.phase)


def set_env(run: DrillRun, values: dict[str, str]) -> None:
    for key, value in values.items():
        run.saved_env.setdefault(key, os.environ.get(key))
        os.environ[key] = value


def apply_environment(run: DrillRun) -> None:
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
    set_env(run, values)


def restore_environment(run: DrillRun) -> None:
    for key, value in run.saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    run.saved_env.clear()
