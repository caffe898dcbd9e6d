"""Every public activity is discoverable by Chaos Toolkit, documented and fully typed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import pytest
from chaoslib.discovery.discover import discover

import gameday
from gameday import actions, probes

MODULES = [(m, "action") for m in actions.MODULES] + [(m, "probe") for m in probes.MODULES]


@pytest.mark.parametrize("package", [actions, probes])
def test_every_activity_module_is_listed_for_discovery(package: object) -> None:
    """A new module in gameday/actions or gameday/probes cannot be forgotten in MODULES."""
    on_disk = {
        f"{package.__name__}.{info.name}"  # type: ignore[attr-defined]
        for info in pkgutil.iter_modules(package.__path__)  # type: ignore[attr-defined]
        if not info.name.startswith("_")
    }
    assert on_disk == set(package.MODULES)  # type: ignore[attr-defined]


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
    rollbacks = {
        "invert_health_check": "restore_health_check",
        "block_endpoint": "unblock_endpoint",
        "pause_replication": "resume_replication",
        "disrupt_cross_region_connectivity": "restore_cross_region_connectivity",
        "failover_database": "switchover_database",
        "remove_secret_replica": "restore_secret_replica",
        "set_routing_control_state": "restore_routing_control_state",
        "inject_bad_data": "purge_bad_data",
        "restore_database_to_point_in_time": "delete_restored_cluster",
        "cut_over_database": "roll_back_cut_over",
    }
    exported = {n for m in actions.MODULES for n in public_functions(m)}
    assert set(rollbacks) | set(rollbacks.values()) == exported
    assert gameday.__version__
