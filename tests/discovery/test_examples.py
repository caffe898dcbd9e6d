"""The examples are checked: the reference stack by cfn-lint, the workflow by actionlint,
the reference stack's outputs against the var file's keys, the drill script's exit codes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode

from gameday.discovery.model import TAG_REGION, TAG_ROLE, TAG_SERVICE
from gameday.varkeys import ENVIRONMENT_KEYS, KEYS

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "examples" / "reference-stack"
CI = ROOT / "examples" / "ci"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing: `make install` installs it (the [test] extra)"
    return str(path)


def test_the_reference_stack_is_cfn_lint_clean() -> None:
    run = subprocess.run(
        [_tool("cfn-lint"), *map(str, sorted(STACK.glob("*.yaml")))],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_scheduled_drill_workflow_is_actionlint_clean() -> None:
    run = subprocess.run(
        [_tool("actionlint"), *map(str, sorted(CI.glob("*.yml")))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def _pascal(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def test_the_reference_stacks_outputs_are_the_var_files_account_keys() -> None:
    template, problems = decode(str(STACK / "service.yaml"))
    assert not problems and template
    expected = [_pascal(k) for k in KEYS if k not in ENVIRONMENT_KEYS]
    assert sorted(template["Outputs"]) == sorted(expected)
    text = "\n".join(p.read_text() for p in STACK.glob("*.yaml"))
    for tag in (TAG_SERVICE, TAG_REGION, TAG_ROLE):
        assert f'"{tag}"' in text, tag


def test_the_workflow_runs_the_drill_unattended_and_keeps_the_run_directory() -> None:
    workflow = yaml.safe_load((CI / "gameday-drill.yml").read_text())
    steps = workflow["jobs"]["drill"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps)
    assert 'gameday run "$EXPERIMENT" --var-file envs/staging.json --unattended' in script
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "always()"
    assert "steps.drill.outputs.run-dir" in uploads[0]["with"]["path"]


@pytest.mark.parametrize("code", [0, 1, 2])
def test_the_drill_script_exits_as_gameday_run_does(code: int, tmp_path: Path) -> None:
    """gameday-drill.sh with a stand-in `gameday` on PATH that exits ``code`` for `run`."""
    fake = tmp_path / "bin" / "gameday"
    fake.parent.mkdir()
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\n[ "$1" = run ] && exit {code}\nexit 0\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    ledger = tmp_path / "faults.jsonl"
    ledger.write_text("")
    env = {
        **os.environ,
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "GAMEDAY_VAR_FILE": "staging.json",
        "GAMEDAY_REPORTS": str(tmp_path / "reports"),
        "GAMEDAY_FAULT_LEDGER": str(ledger),
    }
    run = subprocess.run([str(CI / "gameday-drill.sh"), "dns-failover"], env=env, timeout=30)
    assert run.returncode == code
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [
        f"run dns-failover --var-file staging.json --unattended --out {tmp_path / 'reports'}",
        "recover",
    ]


def test_the_timer_and_the_crontab_schedule_the_same_drill() -> None:
    timer = (CI / "systemd" / "gameday-drill@.timer").read_text()
    calendar = next(
        line.split("=", 1)[1] for line in timer.splitlines() if line.startswith("OnCalendar=")
    )
    analyze = shutil.which("systemd-analyze")
    if analyze:  # systemd's own parser, where the machine has it
        run = subprocess.run([analyze, "calendar", calendar], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    assert calendar == "Mon *-*-* 06:17:00 UTC"
    cron = [line for line in (CI / "crontab").read_text().splitlines() if line[:1].isdigit()]
    assert len(cron) == 1 and cron[0].split()[:5] == ["17", "6", "*", "*", "1"]
    assert "gameday-drill.sh region-evacuation" in cron[0]
    service = (CI / "systemd" / "gameday-drill@.service").read_text()
    assert "ExecStart=/opt/gameday/examples/ci/gameday-drill.sh %i" in service
