"""The activity registry: one declaration beside an action, everything else derived.

The must-show: a new impairment declared in a temporary module (outside the package, no
other file edited) is validated, gets its IAM actions in ``gameday iam``, is undone by
``gameday recover`` through the rollback it declared, and appears in the README's
impairment table. Also: the README's table is the registry's, and the one fault rule.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from gameday import registry
from gameday.cli import main
from gameday.drill.validate import validate_experiment
from gameday.iam import policy

ROOT = Path(__file__).resolve().parents[1]

#: A whole new impairment: it "injects" by writing a marker file (a real change on disk,
#: through the real write-ahead protocol), its rollback removes it.
NEW_IMPAIRMENT = '''
"""A team's own impairment: a marker file stands for the fault."""

from pathlib import Path
from typing import Any

from gameday import registry
from gameday.activity import inject
from gameday.faults import Undo

__all__ = ["plant_marker", "remove_marker"]


def _check_mode(mode: str) -> None:
    if mode not in ("soft", "hard"):
        raise ValueError(f"`mode` must be 'soft' or 'hard', got {mode!r}")


@registry.fault(
    rollback="remove_marker",
    iam=("s3:PutBucketPolicy",),
    check=registry.argument("mode", _check_mode),
    note="a marker file",
)
def plant_marker(
    path: str, mode: str = "soft", configuration: Any = None, secrets: Any = None
) -> dict[str, Any]:
    """Write the marker at ``path``; roll back with ``remove_marker``."""
    fault_id, _ = inject(
        activity="plant_marker",
        target=f"marker:{path}",
        arguments={"path": path, "mode": mode},
        undo=Undo(__name__, "remove_marker", {"path": path}),
        configuration=configuration,
        apply=lambda _id: Path(path).write_text(mode),
        failure="Could not plant the marker",
    )
    return {"fault_id": fault_id}


@registry.rollback(iam=("s3:DeleteBucketPolicy",))
def remove_marker(path: str, configuration: Any = None, secrets: Any = None) -> dict[str, Any]:
    """Remove the marker (idempotent)."""
    Path(path).unlink(missing_ok=True)
    return {"removed": path}
'''


@pytest.fixture
def new_impairment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module above, importable as ``team_marker_<n>``; forgotten afterwards."""
    name = f"team_marker_{tmp_path.name.replace('-', '_')}"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / f"{name}.py").write_text(textwrap.dedent(NEW_IMPAIRMENT))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    registry.load()  # every gameday declaration in, before the copy we throw away
    monkeypatch.setattr(registry, "_SPECS", dict(registry._SPECS))
    yield importlib.import_module(name)
    sys.modules.pop(name, None)


def _experiment(module: str, mode: str, rollbacks: bool = True) -> dict:
    provider = {"type": "python", "module": module, "func": "plant_marker"}
    rollback = {"type": "python", "module": module, "func": "remove_marker"}
    return {
        "title": "a team's own impairment",
        "description": "plant a marker, remove it",
        "controls": [
            {"name": "gameday", "provider": {"type": "python", "module": "gameday.control"}}
        ],
        "extensions": [{"name": "gameday", "drill": "marker", "objectives": {"rto_seconds": 60}}],
        "method": [
            {
                "type": "action",
                "name": "plant",
                "provider": {**provider, "arguments": {"path": "/tmp/x", "mode": mode}},
            }
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "remove",
                "provider": {**rollback, "arguments": {"path": "/tmp/x"}},
            }
        ]
        if rollbacks
        else [],
    }


def test_a_new_impairment_is_picked_up_everywhere_with_no_other_edit(
    new_impairment: ModuleType, tmp_path: Path
) -> None:
    module = new_impairment.__name__
    # validation: its rollback rule and its own argument check
    assert validate_experiment(_experiment(module, "soft")) == []
    missing = validate_experiment(_experiment(module, "soft", rollbacks=False))
    assert any(f"add {module}.remove_marker to rollbacks" in p for p in missing)
    bad = validate_experiment(_experiment(module, "sideways"))
    assert any("`mode` must be 'soft' or 'hard'" in p for p in bad)

    # gameday iam: the actions it declared, fault and rollback
    actions = {a for s in policy(_experiment(module, "soft"))["Statement"] for a in s["Action"]}
    assert {"s3:PutBucketPolicy", "s3:DeleteBucketPolicy"} <= actions

    # the fault rule: it is the fault when the experiment names none; its rollback is not
    assert registry.is_fault(module, "plant_marker")
    assert not registry.is_fault(module, "remove_marker")

    # gameday recover: injected through the ledger, undone by the rollback it declared
    ledger, marker = tmp_path / "faults.jsonl", tmp_path / "marker"
    new_impairment.plant_marker(str(marker), configuration={"gameday_fault_ledger": str(ledger)})
    assert marker.read_text() == "soft"
    result = CliRunner().invoke(main, ["recover", "--ledger", str(ledger), "--json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)["entries"]
    assert item["activity"] == "plant_marker" and item["outcome"] == "reverted"
    assert not marker.exists()

    # the README's impairment table
    row = (
        f"| `{module}` | `plant_marker` (a marker file) | `remove_marker` | `s3:PutBucketPolicy` |"
    )
    assert row in registry.impairment_table()


def test_a_second_fault_of_the_same_name_is_refused(new_impairment: ModuleType) -> None:
    """The ledger names a fault by its function: two of one name would make recovery guess."""
    with pytest.raises(ValueError, match="two faults named 'plant_marker'"):

        @registry.fault(rollback="x", iam=())
        def plant_marker() -> None: ...


def test_the_readme_table_is_the_registrys() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- impairments:begin -->\n", "<!-- impairments:end -->"
    assert begin in readme and end in readme
    table = readme.split(begin, 1)[1].split(end, 1)[0]
    assert table == registry.impairment_table(), "run .venv/bin/python tools/catalogue.py"


@pytest.mark.parametrize(
    ("module", "func", "fault"),
    [
        ("gameday.actions.ec2", "block_endpoint", True),
        ("gameday.actions.ec2", "unblock_endpoint", False),  # a rollback
        ("gameday.actions.runbook", "operator_step", False),  # a person's step
        ("gameday.actions.replay", "replay_acknowledged_writes", False),  # changes nothing
        ("gameday.probes.dns", "dns_answer", False),
        ("gameday.load.anything", "run", False),  # gameday's load, undeclared
        ("gameday.probes", "anything", False),
        ("gameday.actions.rds", "failover_global_cluster", True),  # an older gameday's name
        ("chaosaws.fis.actions", "start_experiment", True),  # a third party's action
        ("chaosaddons.safeguards", "guard", False),
    ],
)
def test_one_fault_rule(module: str, func: str, fault: bool) -> None:
    """The control, the phases and the report ask this one function."""
    assert registry.is_fault(module, func) is fault
    assert registry.is_fault_target(f"{module}.{func}") is fault
