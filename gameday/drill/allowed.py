"""Only registered activities inject: what a drill may run without an explicit allow.

Chaos Toolkit runs any importable function (``{"module": "os", "func": "system"}``) and
any process. A drill runs unattended in shared accounts, so an activity is *known* only
when it is declared in :mod:`gameday.registry` (gameday's own and a team's registered
impairments), or its module is chaostoolkit-aws (:data:`KNOWN_PREFIXES`) **and**
chaoslib's discovery lists the function as one of that module's activities (its
``__all__``; private helpers are not activities). Everything else,
and every ``process`` provider, must be named in the experiment's ``gameday`` extension::

    "allow_activities": ["os.system", "process:./scripts/drain.sh"]

(``module.func`` for Python, ``process:<path>`` for a process). ``gameday validate`` and
``gameday run`` list each activity that is neither known nor allowed, and the gameday
control refuses to start such a drill (plain ``chaos run`` too) before anything runs.
HTTP providers only make requests and are not restricted.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from gameday import registry

__all__ = ["KNOWN_PREFIXES", "activity_problems"]

#: Modules whose discovered activities may run without an allow.
KNOWN_PREFIXES = ("gameday.actions.", "gameday.probes.", "chaosaws.")
ALLOW_KEY = "allow_activities"


@functools.lru_cache(maxsize=128)
def _discovered(module: str) -> frozenset[str]:
    """The function names chaoslib's discovery finds in ``module`` (empty if none)."""
    from chaoslib.discovery.discover import discover_activities

    names: set[str] = set()
    for kind in ("action", "probe"):
        try:
            names.update(a["name"] for a in discover_activities(module, kind))
        except Exception:  # an unimportable module: validate's own check says so
            continue
    return frozenset(names)


def _known(module: str, func: str) -> bool:
    """A discovered activity of gameday or chaostoolkit-aws, or a team's activity declared in
    :mod:`gameday.registry` (a declaration names its rollback and IAM actions, so it is
    as known as gameday's own)."""
    if registry.lookup(module, func, import_any=True) is not None:
        return True
    return module.startswith(KNOWN_PREFIXES) and func in _discovered(module)


def _activities(experiment: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    for section, items in (
        (
            "steady-state-hypothesis",
            hypothesis.get("probes") if isinstance(hypothesis, dict) else [],
        ),
        ("method", experiment.get("method")),
        ("rollbacks", experiment.get("rollbacks")),
    ):
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("provider"), dict):
                yield f"{section} {item.get('name')!r}", item["provider"]


def _allowed(experiment: Mapping[str, Any]) -> tuple[set[str], list[str]]:
    from gameday.drill.settings import extension

    ext = extension(dict(experiment)) or {}
    value = ext.get(ALLOW_KEY, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return set(), [f"extensions[gameday].{ALLOW_KEY} must be a list of names, got {value!r}"]
    return set(value), []


def activity_problems(experiment: Mapping[str, Any]) -> list[str]:
    """One line per activity that is neither a known activity nor explicitly allowed."""
    allowed, problems = _allowed(experiment)
    for where, provider in _activities(experiment):
        kind = provider.get("type")
        if kind == "process":
            name = f"process:{provider.get('path')}"
            if name not in allowed:
                problems.append(
                    f"{where} runs the process {provider.get('path')!r}: processes are not "
                    f'gameday activities; allow it with "{ALLOW_KEY}": ["{name}"] in the gameday '
                    "extension if it is meant to run"
                )
            arguments = provider.get("arguments")
            if arguments is not None and not isinstance(arguments, str | list):
                problems.append(
                    f"{where}: a process provider's arguments must be a string or a list, "
                    f"got {type(arguments).__name__}"
                )
        elif kind == "python":
            module, func = str(provider.get("module")), str(provider.get("func"))
            name = f"{module}.{func}"
            if name not in allowed and not _known(module, func):
                problems.append(
                    f"{where} calls {name}, which is not a gameday or chaostoolkit-aws "
                    f'activity; allow it with "{ALLOW_KEY}": ["{name}"] in the gameday '
                    "extension if it is meant to run"
                )
    return problems
