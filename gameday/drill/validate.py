"""``gameday validate``: Chaos Toolkit's validation plus gameday's.

Beyond ``chaos validate`` (the experiment's syntax), a drill must:

* declare the gameday control (plain ``chaos run`` then gets the whole drill);
* give every action a rollback (gameday's faults: the rollback they declare in
  :mod:`gameday.registry`; its rollbacks, operator steps and replays need none);
* carry well-formed objectives, load and observation in its ``gameday`` extension;
* name modules and functions that import, with arguments that bind to their signature
  and pass the activity's own declared check;
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

from gameday import registry
from gameday.drill import DrillError
from gameday.drill.preflight import referenced_variables, undefined_variables
from gameday.drill.settings import parse_settings

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
    spec = registry.lookup(str(module_name), str(func_name), import_any=True)
    return [f"{where}: {problem}" for problem in spec.problems(arguments)] if spec else []


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
            problem = _rollback_problem(name, declared)
            if problem is not None:
                problems.append(
                    f"action {activity.get('name')!r} ({name}) has no rollback{problem}"
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


def _rollback_problem(name: str, declared: set[str]) -> str | None:
    """Why the action ``name`` lacks its rollback ("" or a hint), None when it has it: a
    declared fault needs the rollback it declares; a gameday rollback, step or probe none;
    anything else (chaostoolkit-aws's, a team's own) at least one rollback."""
    module, _, func = name.rpartition(".")
    spec = registry.lookup(module, func, import_any=True)
    if spec is None:
        return None if declared else ""
    if not spec.is_fault or spec.rollback in declared:
        return None
    return f": add {spec.rollback} to rollbacks"


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
