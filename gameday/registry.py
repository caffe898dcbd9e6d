"""The activity registry: each activity declares, beside its definition, what it is.

A decorator on every public function of :mod:`gameday.actions` and :mod:`gameday.probes`
says what kind of activity it is and what the rest of gameday needs to know about it::

    @registry.fault(rollback="restore_health_check", iam=R53_HEALTH_CHECK)
    def invert_health_check(health_check_id, configuration=None, secrets=None): ...

    @registry.rollback(iam=R53_HEALTH_CHECK)
    def restore_health_check(health_check_id, configuration=None, secrets=None): ...

Everything else is derived from these declarations, never kept beside them:

* the undo table ``gameday recover`` may call (:func:`rollback_of_recorded`: a fault's
  ledger entry may only be undone by the rollback its action declared);
* ``gameday validate``'s rollback rule and argument checks (:attr:`Spec.check`);
* ``gameday iam``'s least-privilege policy (:attr:`Spec.iam`);
* the drill's "which activity is the fault" rule (:func:`is_fault`), used by the control,
  the phases and the report alike;
* the README's impairment table (:func:`impairment_table`, held to the README by a test).

The decorators return the function unchanged (Chaos Toolkit discovers and calls it as
before). This module imports nothing heavy, so the report can ask :func:`is_fault` without
importing boto3 at import time; a lookup imports the named activity module when it is one
of gameday's (that is where its declaration runs).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

__all__ = [
    "ACTIVITY_PACKAGES",
    "Kind",
    "Spec",
    "action",
    "activity_modules",
    "argument",
    "fault",
    "fault_named",
    "impairment_table",
    "is_fault",
    "is_fault_target",
    "load",
    "lookup",
    "probe",
    "rollback",
    "rollback_of_recorded",
    "specs",
]

F = TypeVar("F", bound=Callable[..., Any])

#: An argument check: the provider's ``arguments`` -> the problems found (none: fine).
Check = Callable[[Mapping[str, Any]], Iterable[str]]

#: The packages every gameday activity lives in (``chaos discover gameday`` lists them).
ACTIVITY_PACKAGES = ("gameday.actions", "gameday.probes")

#: Where an undeclared action is never the fault: gameday's probes, load and report (and
#: Chaos Toolkit add-ons' safeguards). Anything else undeclared may be (a third party's
#: action, a team's own, a journal naming an action of an older gameday).
_NEVER_FAULT_PREFIXES = ("gameday.probes.", "gameday.load.", "gameday.reports.", "chaosaddons.")


class Kind(StrEnum):
    """What an activity does to the system under test."""

    FAULT = "fault"  # injects an impairment; recorded in the fault ledger; has a rollback
    ROLLBACK = "rollback"  # undoes a fault (idempotent)
    ACTION = "action"  # changes no infrastructure (an operator step, a replay of writes)
    PROBE = "probe"  # only reads


@dataclass(frozen=True)
class Spec:
    """One activity's declaration: where it is, its kind, the AWS API actions it may call,
    its rollback (``module.func``, faults only), an optional argument check and a
    one-line note for the README's impairment table."""

    module: str
    func: str
    kind: Kind
    iam: tuple[str, ...] = ()
    rollback: str | None = None
    check: Check | None = None
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.module}.{self.func}"

    @property
    def is_fault(self) -> bool:
        return self.kind is Kind.FAULT

    def problems(self, arguments: Mapping[str, Any]) -> list[str]:
        """What :attr:`check` finds wrong with ``arguments`` (nothing without a check)."""
        return list(self.check(arguments)) if self.check else []


_SPECS: dict[str, Spec] = {}
#: Third-party activities gameday's catalogue uses (they cannot carry a decorator).
_EXTERNAL: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec(
            "chaosaws.route53.probes",
            "get_health_check_status",
            Kind.PROBE,
            ("route53:GetHealthCheckStatus",),
        ),
        Spec("chaosaws.fis.probes", "get_experiment", Kind.PROBE, ("fis:GetExperiment",)),
    )
}


def argument(name: str, validate: Callable[[Any], Any]) -> Check:
    """A check running the activity's own validator on argument ``name`` when the experiment
    gives it a literal value (a ``${variable}`` is checked when the activity runs)."""

    def check(arguments: Mapping[str, Any]) -> list[str]:
        value = arguments.get(name)
        if value is None or (isinstance(value, str) and "${" in value):
            return []
        try:
            validate(value)
        except Exception as exc:
            return [str(exc)]
        return []

    return check


def _register(spec: Spec) -> None:
    if spec.is_fault:
        clash = fault_named(spec.func, load_all=False)
        if clash is not None and clash.module != spec.module:
            raise ValueError(
                f"two faults named {spec.func!r} ({clash.name} and {spec.name}): the fault "
                "ledger records an action by its function name, so it must be unique"
            )
    _SPECS[spec.name] = spec


def _declare(kind: Kind, **fields: Any) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        rollback_name = fields.pop("rollback", None)
        if rollback_name and "." not in rollback_name:
            rollback_name = f"{func.__module__}.{rollback_name}"
        spec = Spec(func.__module__, func.__name__, kind, rollback=rollback_name, **fields)
        _register(spec)
        func.__gameday__ = spec  # type: ignore[attr-defined]
        return func

    return decorate


def fault(
    *, rollback: str, iam: Iterable[str], check: Check | None = None, note: str = ""
) -> Callable[[F], F]:
    """Declare an impairment: undone by ``rollback`` (a function of the same module, or
    ``module.func``), calling the AWS API actions ``iam``."""
    return _declare(Kind.FAULT, rollback=rollback, iam=tuple(iam), check=check, note=note)


def rollback(*, iam: Iterable[str], check: Check | None = None) -> Callable[[F], F]:
    """Declare the rollback of a fault (named by the fault's ``rollback=``)."""
    return _declare(Kind.ROLLBACK, iam=tuple(iam), check=check)


def action(*, iam: Iterable[str] = (), check: Check | None = None) -> Callable[[F], F]:
    """Declare an action that changes no infrastructure (nothing to roll back)."""
    return _declare(Kind.ACTION, iam=tuple(iam), check=check)


def probe(*, iam: Iterable[str] = (), check: Check | None = None) -> Callable[[F], F]:
    """Declare a read-only probe."""
    return _declare(Kind.PROBE, iam=tuple(iam), check=check)


def activity_modules(package: str, path: Iterable[str]) -> list[str]:
    """The activity modules of ``package`` (at ``path``): every module but its private
    (``_name``) helpers, sorted. A new one needs no list to be edited."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(path, f"{package}.")
        if not info.ispkg and not info.name.rpartition(".")[2].startswith("_")
    )


def load() -> None:
    """Import every module of :data:`ACTIVITY_PACKAGES` (their declarations run)."""
    for package_name in ACTIVITY_PACKAGES:
        package = importlib.import_module(package_name)
        for name in package.MODULES:
            importlib.import_module(name)


def _ours(module: str) -> bool:
    return module.startswith(tuple(f"{p}." for p in ACTIVITY_PACKAGES))


def lookup(module: str, func: str, *, import_any: bool = False) -> Spec | None:
    """The declaration of ``module.func`` (None if it has none). Imports a gameday activity
    module not imported yet; any other module only with ``import_any`` (validation and
    ``gameday iam``, which are about to run the experiment's code anyway), never for a
    name read from a file such as a journal."""
    name = f"{module}.{func}"
    if name not in _SPECS and module and (import_any or _ours(module)):
        try:
            importlib.import_module(module)
        except Exception:  # a module that does not import: validation says so on its own
            return None
    return _SPECS.get(name) or _EXTERNAL.get(name)


def specs() -> list[Spec]:
    """Every declared activity (gameday's, then the third-party ones), sorted by name."""
    load()
    return sorted(_SPECS.values(), key=lambda s: s.name) + list(_EXTERNAL.values())


def fault_named(activity: str, *, load_all: bool = True) -> Spec | None:
    """The fault whose function is ``activity`` (how the fault ledger names it)."""
    if load_all:
        load()
    return next((s for s in _SPECS.values() if s.is_fault and s.func == activity), None)


def rollback_of_recorded(activity: str) -> tuple[str, str]:
    """``(module, func)`` of the one rollback a ledger entry of ``activity`` may be undone
    with; :class:`ValueError` when ``activity`` is not a declared fault."""
    spec = fault_named(activity)
    if spec is None or spec.rollback is None:
        raise ValueError(
            f"refusing to revert {activity!r}: not an action gameday injects, so it "
            "has no registered rollback"
        )
    module, _, func = spec.rollback.rpartition(".")
    return module, func


def is_fault(module: str, func: str) -> bool:
    """True when the action ``module.func`` may be the drill's fault (its start is t0) in an
    experiment that names none: a declared fault, never a declared rollback, operator step,
    replay or probe; undeclared, anything but gameday's probes, load and report (and
    Chaos Toolkit add-ons)."""
    spec = lookup(module, func)
    if spec is not None:
        return spec.is_fault
    return not f"{module}.".startswith(_NEVER_FAULT_PREFIXES)


def is_fault_target(target: str | None) -> bool:
    """:func:`is_fault` of a ``"module.func"`` (None: not a python provider, which may be)."""
    module, _, func = (target or "").rpartition(".")
    return is_fault(module, func)


def impairment_table() -> str:
    """The README's impairment table (markdown), one row per declared fault."""
    rows = [
        "| module | action | rollback | IAM actions |",
        "| --- | --- | --- | --- |",
    ]
    for spec in specs():
        if not spec.is_fault:
            continue
        action_cell = f"`{spec.func}`" + (f" ({spec.note})" if spec.note else "")
        rollback_module, _, rollback_func = (spec.rollback or "").rpartition(".")
        rollback_cell = (
            f"`{rollback_func}`"
            if rollback_module == spec.module
            else f"`{rollback_module}.{rollback_func}`"
        )
        iam = ", ".join(f"`{a}`" for a in spec.iam) or "none"
        rows.append(f"| `{spec.module}` | {action_cell} | {rollback_cell} | {iam} |")
    return "\n".join(rows) + "\n"
