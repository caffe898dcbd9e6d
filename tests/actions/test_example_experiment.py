"""The README-style example experiment runs with plain ``chaos run`` against the lab."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from gameday.faults import Ledger
from gameday.lab import Lab
from tests.lab.helpers import lab_is_the_shared_lab  # noqa: F401  (lab: the worker's shared lab)

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


def test_sigterm_mid_drill_still_rolls_back_with_the_always_strategy(
    lab: Lab, tmp_path: Path
) -> None:
    """Chaos Toolkit skips rollbacks of an interrupted run by default; the README tells
    teams to run drills with --rollback-strategy always, and then SIGTERM mid-fault still
    leaves nothing behind."""
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent)) or "chaos"
    ledger = tmp_path / "faults.jsonl"
    env = {**os.environ, **lab.env(), "GAMEDAY_FAULT_LEDGER": str(ledger)}
    proc = subprocess.Popen(
        [
            chaos,
            "--no-version-check",
            "run",
            "--rollback-strategy",
            "always",
            "--journal-path",
            str(tmp_path / "journal.json"),
            str(EXPERIMENT),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (ledger.exists() and [e.state for e in Ledger(ledger).entries()] == ["applied"]):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # during the experiment's 4 s pause, fault in place
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert [e.state for e in Ledger(ledger).entries()] == ["reverted"]
    route53 = boto3.client(
        "route53",
        endpoint_url=lab.info.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    check = route53.get_health_check(HealthCheckId=lab.info.primary.health_check_id)
    assert check["HealthCheck"]["HealthCheckConfig"]["Inverted"] is False
