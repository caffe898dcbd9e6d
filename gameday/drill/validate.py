"""``gameday validate``: Chaos Toolkit's validation plus gameday's.

Beyond ``chaos validate`` (the experiment's syntax), a drill must:

* declare the gameday control (plain ``chaos run`` then gets the whole drill);
* give every action a rollback (gameday's impairments: their named rollback);
* carry well-formed objectives, load and observation in its ``gameday`` extension;
* name modules and functions that import, with arguments that bind to their signature;
* define every variable it uses (declared in ``configuration``; with a var file or
  ``--var``, also given a value).

:func:`validate_experiment` returns every problem found (empty: valid).
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gameday.drill import DrillError
from gameday.drill.preflight import referenced_variables, undefined_variables
from gameday.drill.settings import parse_settings

#: Each gameday impairment and the rollback that undoes it.
ROLLBACK_OF = {
    "gameday.actions.route53.invert_health_check": "gameday.actions.route53.restore_health_check",
    "gameday.actions.ec2.block_endpoint": "gameday.actions.ec2.unblock_endpoint",
    "gameday.actions.fis.pause_replication": "gameday.actions.fis.resume_replication",
    "gameday.actions.fis.disrupt_cross_region_connectivity": "gameday.actions.fis.restore_cross_region_connectivity",
    "gameday.actions.rds.failover_database": "gameday.actions.rds.switchover_database",
    "gameday.actions.rds.switchover_database": "gameday.actions.rds.switchover_database",
    "gameday.actions.secretsmanager.remove_secret_replica": "gameday.actions.secretsmanager.restore_secret_replica",
    "gameday.actions.arc.set_routing_control_state": "gameday.actions.arc.restore_routing_control_state",
    "gameday.drill.lag.delay_replication": "gameday.drill.lag.restore_replication",
    "gameday.drill.lag.restore_replication": None,
    "gameday.actions.route53.restore_health_check": None,
    "gameday.actions.ec2.unblock_endpoint": None,
    "gameday.actions.fis.resume_replication": None,
    "gameday.actions.secretsmanager.restore_secret_replica": None,
}
#: Actions that change no infrastructure (nothing to roll back).
NO_ROLLBACK_NEEDED = ("gameday.runbook.", "gameday.drill.replay.")
CONTROL_MODULE = "gameday.control"


def _name(provider: Mapping[str, Any]) -> str:
    return f"{provider.get('module')}.{provider.get('func')}"


def _binds(where: str, provider: Mapping[str, Any]) -> list[str]:
    """The provider's module imports, its function exists, its arguments bind."""
    if provider.get("type") != "python":
        return []
    module_name, func_name = provider.get("module"), provider.get("func")
    try:
        module = importlib.import_module(str(module_name))
    except ImportError as exc:
        return [f"{where}: module {module_name!r} does not import ({exc})"]
    func = getattr(module, str(func_name), None)
    if not callable(func):
        return [f"{where}: {module_name} has no function {func_name!r}"]
    arguments = dict(provider.get("arguments") or {})
    params = inspect.signature(func).parameters
    for injected in ("configuration", "secrets"):
        if injected in params:
            arguments.setdefault(injected, None)
    try:
        inspect.signature(func).bind(**arguments)
    except TypeError as exc:
        return [f"{where}: the arguments do not fit {module_name}.{func_name} ({exc})"]
    return []


def _rollbacks(experiment: Mapping[str, Any]) -> list[str]:
    declared = {
        _name(r.get("provider") or {})
        for r in experiment.get("rollbacks") or []
        if isinstance(r, dict)
    }
    problems = []
    for activity in experiment.get("method") or []:
        if not isinstance(activity, dict) or activity.get("type") != "action":
            continue
        provider = activity.get("provider") or {}
        names = [_name(provider)]
        arguments = provider.get("arguments")  # a process's may be a string
        automated = arguments.get("automated") if isinstance(arguments, dict) else None
        if isinstance(automated, dict):
            names.append(_name(automated))
        for name in names:
            if name.startswith(NO_ROLLBACK_NEEDED):
                continue
            needed = ROLLBACK_OF.get(name, "any")
            if needed is None:
                continue
            if needed == "any":
                if not declared:
                    problems.append(f"action {activity.get('name')!r} ({name}) has no rollback")
            elif needed not in declared:
                problems.append(
                    f"action {activity.get('name')!r} ({name}) has no rollback: add {needed} to rollbacks"
                )
    return problems


def _safety_problems(experiment: dict[str, Any]) -> list[str]:
    """Unregistered activities and malformed stop conditions (:mod:`gameday.drill.allowed`)."""
    from gameday.drill.allowed import activity_problems
    from gameday.drill.settings import extension
    from gameday.drill.stops import parse_stop_conditions

    problems = activity_problems(experiment)
    try:
        parse_stop_conditions(extension(experiment))
    except DrillError as exc:
        problems.append(str(exc))
    return problems


def validate_experiment(
    experiment: dict[str, Any],
    path: Path | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every problem of ``experiment`` (empty when it is a valid drill).

    ``configuration`` (the loaded configuration with the var files applied) adds the
    check that every variable the experiment uses has a value.
    """
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    problems: list[str] = []
    try:
        ensure_experiment_is_valid(json.loads(json.dumps(experiment)))
    except ChaosException as exc:
        problems.append(f"Chaos Toolkit: {exc}")
    controls = [c for c in experiment.get("controls") or [] if isinstance(c, dict)]
    if not any((c.get("provider") or {}).get("module") == CONTROL_MODULE for c in controls):
        problems.append(
            'the gameday control is not declared: add "controls": [{"name": "gameday", '
            '"provider": {"type": "python", "module": "gameday.control"}}]'
        )
    try:
        parse_settings(experiment, path)
    except DrillError as exc:
        problems.append(str(exc))
    problems += _rollbacks(experiment)
    problems += _safety_problems(experiment)
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    for section, items in (
        ("steady-state-hypothesis", hypothesis.get("probes") or []),
        ("method", experiment.get("method") or []),
        ("rollbacks", experiment.get("rollbacks") or []),
    ):
        for item in items:
            if not isinstance(item, dict):
                continue
            where = f"{section} {item.get('name')!r}"
            provider = item.get("provider") or {}
            problems += _binds(where, provider)
            arguments = provider.get("arguments")  # a process's may be a string
            automated = arguments.get("automated") if isinstance(arguments, dict) else None
            if isinstance(automated, dict):
                problems += _binds(f"{where} (automated)", {"type": "python", **automated})
    declared = set(experiment.get("configuration") or {})
    undeclared = sorted(referenced_variables(experiment) - declared)
    if undeclared:
        problems.append(
            f"variable(s) used but not declared in configuration: {', '.join(undeclared)}"
        )
    if configuration is not None:
        missing = undefined_variables(experiment, configuration)
        if missing:
            problems.append(
                f"variable(s) without a value: {', '.join(missing)} (give them in the var file or with --var)"
            )
    return problems
