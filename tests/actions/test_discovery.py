"""Every public activity is discoverable by Chaos Toolkit, documented and fully typed."""

from __future__ import annotations

import importlib
import inspect
import typing

import pytest
from chaoslib.discovery.discover import discover

import gameday
from gameday import actions, probes, registry

MODULES = [(m, "action") for m in actions.MODULES] + [(m, "probe") for m in probes.MODULES]


@pytest.mark.parametrize("package", [actions, probes])
def test_every_public_activity_is_declared_in_the_registry(package: object) -> None:
    """Every exported function of gameday/actions and gameday/probes carries a registry
    declaration of its own kind (probes read; actions are faults, rollbacks or steps), so
    validation, IAM, recovery and the fault rule know it."""
    for module_name in package.MODULES:  # type: ignore[attr-defined]
        module = importlib.import_module(module_name)
        for name in module.__all__:
            spec = registry.lookup(module_name, name)
            assert spec is not None, f"{module_name}.{name} has no gameday.registry decorator"
            is_probe = spec.kind is registry.Kind.PROBE
            assert is_probe == (package is probes), spec


def public_functions(module_name: str) -> dict[str, typing.Callable[..., object]]:
    module = importlib.import_module(module_name)
    return {
        name: func
        for name, func in inspect.getmembers(module, inspect.isfunction)
        if func.__module__ == module_name and not name.startswith("_")
    }


def test_chaos_toolkit_discover_lists_every_public_function() -> None:
    found = discover("gameday", discover_system=False, download_and_install=False)
    listed = {(a["mod"], a["name"], a["type"]) for a in found["activities"]}
    expected = {
        (module, name, kind) for module, kind in MODULES for name in public_functions(module)
    }
    assert expected <= listed
    assert len(expected) >= 20
    assert found["extension"]["name"] == "gameday"


@pytest.mark.parametrize(("module_name", "kind"), MODULES)
def test_every_activity_is_exported_documented_and_typed(module_name: str, kind: str) -> None:
    module = importlib.import_module(module_name)
    funcs = public_functions(module_name)
    assert funcs, module_name
    assert sorted(module.__all__) == sorted(funcs), "every public function is in __all__"
    for name, func in funcs.items():
        doc = inspect.getdoc(func) or ""
        assert len(doc) > 40, f"{module_name}.{name} needs a docstring"
        hints = typing.get_type_hints(func)
        sig = inspect.signature(func)
        for param in sig.parameters:
            assert param in hints, f"{module_name}.{name}({param}) has no type hint"
        assert "return" in hints, f"{module_name}.{name} has no return type"
        params = list(sig.parameters)
        assert params[-2:] == ["configuration", "secrets"], f"{name} ends with config, secrets"
        assert sig.parameters["configuration"].default is None


def test_every_action_has_its_rollback_and_probes_are_not_actions() -> None:
    exported = {f"{m}.{n}" for m in actions.MODULES for n in public_functions(m)}
    declared = {s.name: s for s in registry.specs() if s.name in exported}
    assert set(declared) == exported
    for spec in declared.values():
        if spec.is_fault:
            assert spec.rollback in exported, spec
    rollbacks = {s.rollback for s in declared.values() if s.is_fault}
    undeclared = [
        s.name
        for s in declared.values()
        if s.kind is registry.Kind.ROLLBACK and s.name not in rollbacks
    ]
    assert undeclared == []  # every rollback undoes some fault
    assert gameday.__version__
