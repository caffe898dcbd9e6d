"""``gameday run``: a convenience over chaoslib's ``run_experiment`` with the gameday control.

It validates first (Chaos Toolkit's and gameday's validation, the variables against the
var files), then runs the experiment exactly as ``chaos run --rollback-strategy always``
would (the control declared in the experiment does the drill), with live progress, and
turns the verdict the control attached to the journal into the exit code:

* 0: every objective met;
* 1: an objective missed;
* 2: the drill could not run (bad input, preflight, no report): nothing was injected,
  or what was injected has been rolled back.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gameday.drill import DrillError
from gameday.drill.validate import validate_experiment

EXIT_MET, EXIT_MISSED, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3


@dataclass
class RunRequest:
    """What ``gameday run`` was asked to do."""

    experiment: Path
    var_files: list[Path] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    users: int | None = None
    out: Path | None = None
    unattended: bool = False
    allow_production: bool = False
    #: False: no report.html (summary.json and junit.xml only; ``gameday run --no-html``).
    html: bool = True


@dataclass
class RunOutcome:
    """The verdict, the exit code and where the report is."""

    exit_code: int
    verdict: str
    run_dir: Path | None
    message: str
    journal: dict[str, Any] | None = None


def load(path: Path) -> dict[str, Any]:
    """The experiment at ``path`` (JSON or YAML, through chaoslib's loader)."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.loader import load_experiment

    if not path.is_file():
        raise DrillError(
            f"no experiment at {path}: give the path of a JSON file (see 'gameday list')."
        )
    try:
        return load_experiment(str(path))
    except (ChaosException, ValueError) as exc:
        raise DrillError(f"{path} is not a valid experiment file: {exc}") from exc


def configuration_for(
    experiment: Mapping[str, Any], var_files: list[Path], variables: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(configuration, config_vars, secret_vars) as chaoslib will load them."""
    from chaoslib import merge_vars
    from chaoslib.configuration import load_configuration
    from chaoslib.exceptions import ChaosException

    for var_file in var_files:
        if not var_file.is_file():
            raise DrillError(f"no var file at {var_file}.")
        try:
            data = json.loads(var_file.read_text()) if var_file.suffix == ".json" else None
        except ValueError as exc:
            raise DrillError(f"var file {var_file} is not valid JSON: {exc}") from exc
        if data is not None and not isinstance(data, dict):
            raise DrillError(
                f"var file {var_file} must hold a JSON object such as "
                '{"configuration": {...}, "secrets": {...}}, '
                f"not a {type(data).__name__}."
            )
        if data is not None and not isinstance(data.get("configuration", {}), dict):
            raise DrillError(f"var file {var_file}: 'configuration' must be an object.")
    config_vars, secret_vars = merge_vars(dict(variables), [str(p) for p in var_files])
    try:
        configuration = load_configuration(
            dict(experiment.get("configuration") or {}), dict(config_vars)
        )
    except ChaosException as exc:
        raise DrillError(str(exc)) from exc
    return configuration, config_vars, secret_vars


def _set(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        _set(values)
        yield
    finally:
        _set(saved)


def outcome_of(journal: Mapping[str, Any]) -> RunOutcome:
    """Exit code, verdict and run directory from the control's journal extension."""
    from gameday.control import drill_extension

    ext = drill_extension(dict(journal)) or {}
    verdict = ext.get("verdict") or "incomplete"
    run_dir = Path(ext["run_dir"]) if ext.get("run_dir") else None
    if verdict == "met":
        return RunOutcome(EXIT_MET, verdict, run_dir, "all five checks passed", dict(journal))
    if verdict == "missed":
        return RunOutcome(EXIT_MISSED, verdict, run_dir, "a check was missed", dict(journal))
    if verdict == "interrupted":
        why = ext.get("interrupted") or (ext.get("summary") or {}).get("interrupted") or "stopped"
        return RunOutcome(EXIT_INTERRUPTED, verdict, run_dir, f"interrupted: {why}", dict(journal))
    message = (
        ext.get("error") or "the drill did not complete (see the journal and chaostoolkit.log)"
    )
    return RunOutcome(EXIT_INCOMPLETE, "incomplete", run_dir, message, dict(journal))


#: The load generator's bound on users (:data:`gameday.load.runner.NUMBER_RANGES`).
MAX_USERS = 100_000


def check_request(request: RunRequest) -> None:
    """Bad input refused before anything runs (preflight included)."""
    if request.users is not None and not 1 <= request.users <= MAX_USERS:
        raise DrillError(f"--users must be between 1 and {MAX_USERS}, got {request.users}.")
    share = os.environ.get("GAMEDAY_STICKY_SHARE")
    if share:
        try:
            ok = 0.0 <= float(share) <= 1.0
        except ValueError:
            ok = False
        if not ok:
            raise DrillError(
                f"GAMEDAY_STICKY_SHARE must be a fraction between 0 and 1, got {share!r}."
            )


def plan_drill(request: RunRequest) -> Any:
    """``gameday run --dry-run``: validate, resolve, describe; change nothing."""
    from gameday.drill.dryrun import dry_run

    check_request(request)
    experiment = load(request.experiment)
    configuration, _config_vars, secret_vars = configuration_for(
        experiment, request.var_files, request.variables
    )
    problems = validate_experiment(experiment, request.experiment, configuration)
    plan = dry_run(request.experiment, experiment, configuration, secret_vars or None)
    plan.problems = problems + plan.problems
    return plan


def run_drill(request: RunRequest, watch: Callable[[], Any] | None = None) -> RunOutcome:
    """Validate, then run the experiment with rollbacks always; never raises for a drill
    that ran (its outcome says how it went), DrillError for bad input (exit 2)."""
    from chaoslib.experiment import run_experiment
    from chaoslib.settings import get_loaded_settings, load_settings

    check_request(request)
    experiment = load(request.experiment)
    configuration, config_vars, secret_vars = configuration_for(
        experiment, request.var_files, request.variables
    )
    problems = validate_experiment(experiment, request.experiment, configuration)
    if problems:
        raise DrillError(
            f"{request.experiment} is not a runnable drill:\n  - " + "\n  - ".join(problems)
        )
    settings = dict(get_loaded_settings() or load_settings() or {})
    settings.setdefault("runtime", {}).setdefault("rollbacks", {})["strategy"] = "always"
    env = {
        "GAMEDAY_EXPERIMENT_PATH": str(request.experiment),
        "GAMEDAY_USERS": str(request.users) if request.users else None,
        "GAMEDAY_REPORTS_DIR": str(request.out)
        if request.out
        else os.environ.get("GAMEDAY_REPORTS_DIR"),
        "GAMEDAY_UNATTENDED": "1" if request.unattended else os.environ.get("GAMEDAY_UNATTENDED"),
        "GAMEDAY_ALLOW_PRODUCTION": "1" if request.allow_production else None,
        "GAMEDAY_REPORT_HTML": None if request.html else "0",
    }
    with _environment(env):
        stop = watch() if watch else None
        try:
            journal = run_experiment(
                experiment, settings=settings, experiment_vars=(config_vars, secret_vars)
            )
        finally:
            if callable(stop):
                stop()
    return outcome_of(journal)
