"""Which journal activity is the fault: one small rule every part of gameday asks.

An experiment names its impairment in ``extensions[gameday].fault_activity``; when it does
not, the fault is the first *action* of the method whose provider module is not load,
probe, report, runbook or Chaos Toolkit add-on work. The drill control (t0 while it runs),
the journal reader and the report call :func:`is_fault_module`; an impairment registry can
replace its body without touching its callers.
"""

from __future__ import annotations

#: Modules whose actions are never the impairment when the experiment names none.
NOT_FAULTS = (
    "gameday.load",
    "gameday.probes",
    "gameday.reports",
    "gameday.runbook",
    "chaosaddons",
)


def is_fault_module(module: str | None) -> bool:
    """Whether an action provided by ``module`` (or "module.func") can be the impairment."""
    return not (module or "").startswith(NOT_FAULTS)


def is_fault_activity(activity: dict[str, object], named: str | None) -> bool:
    """Whether a Chaos Toolkit activity (its journal or experiment dict) is the fault."""
    if activity.get("type") != "action":
        return False
    if named:
        return activity.get("name") == named
    provider = activity.get("provider")
    module = provider.get("module") if isinstance(provider, dict) else None
    return is_fault_module(str(module or ""))
