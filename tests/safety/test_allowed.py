"""Only registered activities inject: anything else needs an explicit allow, and both
validate and the control refuse it before anything runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from gameday.drill.allowed import activity_problems
from gameday.drill.runner import load
from gameday.drill.validate import validate_experiment

PATH = Path("experiments/region-evacuation.json")


def _with(action: dict[str, Any], allow: list[str] | None = None) -> dict[str, Any]:
    experiment = copy.deepcopy(load(PATH))
    experiment["method"].insert(0, action)
    if allow is not None:
        ext = next(e for e in experiment["extensions"] if e.get("name") == "gameday")
        ext["allow_activities"] = allow
    return experiment


OS_SYSTEM = {"type": "action", "name": "shell", "provider": {"type": "python", "module": "os",
             "func": "system", "arguments": {"command": "true"}}}  # fmt: skip
PROCESS = {"type": "action", "name": "drain", "provider": {"type": "process", "path": "echo",
           "arguments": "draining now"}}  # fmt: skip


def test_the_catalogue_needs_no_allow() -> None:
    for path in sorted(Path("experiments").glob("*.json")):
        assert activity_problems(load(path)) == [], path


def test_os_system_is_refused_by_validate_until_allowed() -> None:
    problems = validate_experiment(_with(OS_SYSTEM), PATH)
    assert any("calls os.system, which is not a gameday or chaostoolkit-aws" in p for p in problems)
    assert activity_problems(_with(OS_SYSTEM, ["os.system"])) == []


def test_a_private_helper_of_an_activity_module_is_not_an_activity() -> None:
    helper = copy.deepcopy(OS_SYSTEM)
    helper["provider"].update(module="gameday.actions.ec2", func="_acl_entries", arguments={})
    assert activity_problems(_with(helper))


def test_chaostoolkit_aws_activities_are_known() -> None:
    probe = {"type": "probe", "name": "hc", "provider": {"type": "python",
             "module": "chaosaws.route53.probes", "func": "get_health_check_status",
             "arguments": {"check_id": "x"}}}  # fmt: skip
    assert activity_problems(_with(probe)) == []


def test_a_process_needs_an_allow_and_string_arguments_are_fine() -> None:
    problems = validate_experiment(_with(PROCESS), PATH)
    assert any("runs the process 'echo'" in p for p in problems)
    assert not any("AttributeError" in p for p in problems)
    assert activity_problems(_with(PROCESS, ["process:echo"])) == []


@pytest.mark.parametrize("allow", ["os.system", [1, 2]])
def test_a_malformed_allow_list_is_one_message(allow: Any) -> None:
    experiment = _with(OS_SYSTEM)
    next(e for e in experiment["extensions"] if e.get("name") == "gameday")["allow_activities"] = (
        allow
    )
    assert any(
        "allow_activities must be a list of names" in p for p in activity_problems(experiment)
    )
