"""Which journal activity is the fault: one small rule every part of gameday asks.

An experiment names its impairment in ``extensions[gameday].fault_activity``; when it does
not, the fault is the first *action* the impairment registry says may be one
(:func:`gameday.registry.is_fault`). The drill control (t0 when the fault starts), the
journal reader and the report all ask the registry through here.
"""

from __future__ import annotations

from gameday.registry import is_fault, is_fault_target


def is_fault_module(target: str | None) -> bool:
    """Whether the action ``"module.func"`` can be the impairment (the registry's rule)."""
    return is_fault_target(target)


def is_fault_activity(activity: dict[str, object], named: str | None) -> bool:
    """Whether a Chaos Toolkit activity (its journal or experiment dict) is the fault."""
    if activity.get("type") != "action":
        return False
    if named:
        return activity.get("name") == named
    provider = activity.get("provider")
    if not isinstance(provider, dict):
        return False
    return is_fault(str(provider.get("module", "")), str(provider.get("func", "")))
