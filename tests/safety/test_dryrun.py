"""``gameday run --dry-run`` resolves every target and says what would be injected and how
it is rolled back, making no state-changing AWS call (counted at botocore)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from click.testing import CliRunner

from gameday.cli import main
from gameday.drill.runner import RunRequest, plan_drill
from gameday.lab import Lab
from gameday.lab.varfile import varfile_path

pytestmark = pytest.mark.lab

READ_ONLY = ("Get", "Describe", "List")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every AWS operation this process calls (a spy: the call still goes through)."""
    seen: list[str] = []
    original = BaseClient._make_api_call

    def spy(self: Any, operation: str, params: Any) -> Any:
        seen.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    return seen


def test_a_dry_run_resolves_and_describes_changing_nothing(
    lab: Lab, calls: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "faults.jsonl"
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(ledger))
    monkeypatch.setenv("GAMEDAY_REPORTS_DIR", str(tmp_path / "reports"))
    plan = plan_drill(
        RunRequest(Path("experiments/region-evacuation.json"), [varfile_path(lab.dir)])
    )
    assert plan.problems == []
    assert {"GetCallerIdentity", "GetHealthCheck", "DescribeNetworkAcls"} <= set(calls)
    assert [c for c in calls if not c.startswith(READ_ONLY)] == []
    faults = [s for s in plan.steps if s.kind == "fault"]
    assert [s.name for s in faults] == ["block-primary-endpoint", "fail-database-over-to-secondary"]
    assert "gameday.actions.ec2.unblock_endpoint" in (faults[0].rollback or "")
    assert "network_acl_id='acl-" in faults[0].call  # the variable resolved
    text = plan.render()
    assert "nothing is changed" in text and "unblock-primary-endpoint" in text
    assert not ledger.exists() and not (tmp_path / "reports").exists()


def test_the_dry_run_command(lab: Lab, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "experiments/dns-failover.json", "--dry-run", "--var-file",
         str(varfile_path(lab.dir))],
        env={"GAMEDAY_FAULT_LEDGER": str(tmp_path / "faults.jsonl")},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fault 'invert-primary-health-check'" in result.output
    assert "restore_health_check" in result.output
