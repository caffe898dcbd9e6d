"""The README-style example experiment runs with plain ``chaos run`` against the lab."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.faults import Ledger
from gameday.lab import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "example-invert-health-check.json"


def test_example_invert_health_check_runs_with_chaos_run(lab: Lab, tmp_path: Path) -> None:
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent)) or "chaos"
    ledger = tmp_path / "faults.jsonl"
    env = {
        **os.environ,
        **lab.env(),
        "GAMEDAY_FAULT_LEDGER": str(ledger),
    }
    journal = tmp_path / "journal.json"
    run = subprocess.run(
        [
            chaos,
            "--no-version-check",
            "--log-file",
            str(tmp_path / "chaos.log"),
            "run",
            "--journal-path",
            str(journal),
            str(EXPERIMENT),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(journal.read_text())
    assert result["status"] == "completed" and result["deviated"] is False
    actions = [r["activity"]["name"] for r in result["run"]]
    assert actions[0] == "invert-primary-health-check"
    assert result["run"][0]["output"]["changed"] is True
    assert result["rollbacks"][0]["status"] == "succeeded"
    # during the fault, Route 53 answered the service name with the secondary
    dns = next(r for r in result["run"] if r["activity"]["name"] == "service-name-answer")
    assert dns["output"]["addresses"] == [lab.info.secondary.address]
    assert [e.state for e in Ledger(ledger).entries()] == ["reverted"]
