"""Bad input and unsafe starts are refused before anything is injected, with one message:
a second drill on a target, an unregistered activity, the emergency stop engaged, and the
small cases of issue 17 (item 9)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gameday.cli import main
from gameday.drill import DrillError
from gameday.drill.commands import _report
from gameday.drill.runner import RunOutcome, RunRequest, load, run_drill
from gameday.drill.targetlock import LabLock

FLAGSHIP = Path("experiments/region-evacuation.json")


@pytest.fixture
def lab_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A var file naming a lab directory (no lab runs: every refusal here comes first)."""
    for name in list(os.environ):
        if name.startswith(("GAMEDAY_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(tmp_path / "state" / "faults.jsonl"))
    monkeypatch.setenv("GAMEDAY_ABORT_FILE", str(tmp_path / "state" / "ABORT"))
    monkeypatch.setenv("GAMEDAY_REPORTS_DIR", str(tmp_path / "reports"))
    template = json.loads(Path("experiments/vars/aws.example.json").read_text())["configuration"]
    config = {**template, "gameday_target": "lab", "gameday_lab_dir": str(tmp_path / "lab"),
              "nameserver": "127.0.0.1:53", "aws_endpoint_url": "http://127.0.0.1:9"}  # fmt: skip
    (tmp_path / "lab").mkdir()
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({"configuration": config}))
    return path


def _ledger_lines(tmp_path: Path) -> int:
    path = tmp_path / "state" / "faults.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_second_drill_against_one_lab_is_refused_before_injecting(
    lab_vars: Path, tmp_path: Path
) -> None:
    running = LabLock.take(tmp_path / "lab", "region-evacuation")  # drill A holds the lab
    try:
        outcome = run_drill(RunRequest(FLAGSHIP, [lab_vars]))
    finally:
        running.release()
    assert outcome.exit_code == 2
    assert "another drill is running against the lab" in outcome.message
    assert "region-evacuation" in outcome.message
    assert _ledger_lines(tmp_path) == 0


def test_the_emergency_stop_file_keeps_drills_from_starting(lab_vars: Path, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "ABORT").touch()
    outcome = run_drill(RunRequest(FLAGSHIP, [lab_vars]))
    assert outcome.exit_code == 2 and "emergency stop is engaged" in outcome.message
    assert _ledger_lines(tmp_path) == 0


def _with_os_system(tmp_path: Path) -> Path:
    experiment = copy.deepcopy(load(FLAGSHIP))
    experiment["method"].insert(0, {"type": "action", "name": "shell", "provider": {
        "type": "python", "module": "os", "func": "system", "arguments": {"command": "true"}}})  # fmt: skip
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(experiment))
    return path


def test_os_system_is_refused_by_gameday_run(lab_vars: Path, tmp_path: Path) -> None:
    with pytest.raises(DrillError, match=r"calls os\.system"):
        run_drill(RunRequest(_with_os_system(tmp_path), [lab_vars]))


def test_os_system_is_refused_by_the_control_under_plain_chaos_run(
    lab_vars: Path, tmp_path: Path
) -> None:
    from chaoslib.experiment import run_experiment

    from gameday.drill.runner import configuration_for

    experiment = load(_with_os_system(tmp_path))
    _, config_vars, secret_vars = configuration_for(experiment, [lab_vars], {})
    settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
    journal = run_experiment(
        experiment, settings=settings, experiment_vars=(config_vars, secret_vars)
    )
    ext = next(e for e in journal["extensions"] if e.get("name") == "gameday")
    assert ext["verdict"] == "incomplete" and "calls os.system" in ext["error"]
    assert journal["run"] == [] and _ledger_lines(tmp_path) == 0


def _cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def test_abort_with_no_drill_running_says_so(tmp_path: Path) -> None:
    result = _cli("abort", env={"GAMEDAY_FAULT_LEDGER": str(tmp_path / "faults.jsonl")})
    assert result.exit_code == 1
    assert "no drill is running on this host" in result.output


def test_abort_signals_each_registered_drill_and_records_it(tmp_path: Path) -> None:
    ledger = tmp_path / "state" / "faults.jsonl"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    script = (
        "import signal, sys, time\n"
        "from pathlib import Path\n"
        "from gameday.drill.abort import register\n"
        f"register(Path({str(run_dir)!r}), 'region-evacuation', 'lab')\n"
        "signal.signal(signal.SIGUSR1, lambda *a: sys.exit(42))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "GAMEDAY_FAULT_LEDGER": str(ledger)}
    drill = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert drill.stdout is not None and drill.stdout.readline().strip() == "ready"
        result = _cli(
            "abort", "--reason", "pager says stop", env={"GAMEDAY_FAULT_LEDGER": str(ledger)}
        )
        assert result.exit_code == 0, result.output
        assert f"pid {drill.pid}" in result.output and "signalled" in result.output
        assert drill.wait(timeout=10) == 42
    finally:
        drill.kill()
        drill.wait()
    request = json.loads((run_dir / "abort-request.json").read_text())
    assert request["reason"] == "pager says stop"


def test_abort_never_signals_a_process_that_reused_a_drills_pid(tmp_path: Path) -> None:
    ledger = tmp_path / "state" / "faults.jsonl"
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        drills = ledger.parent / "drills"
        drills.mkdir(parents=True)
        (drills / f"{bystander.pid}.json").write_text(json.dumps(
            {"pid": bystander.pid, "ticks": 1, "run_dir": None, "since": 0}))  # fmt: skip
        result = _cli("abort", env={"GAMEDAY_FAULT_LEDGER": str(ledger)})
        assert result.exit_code == 1 and bystander.poll() is None
        assert not (drills / f"{bystander.pid}.json").exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_ledger_entry_whose_pid_now_belongs_to_another_process_is_recovered() -> None:
    from gameday.faults import Entry, Undo
    from gameday.recovery import live_writer

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.05)

        def entry(when: float) -> Entry:
            from datetime import UTC, datetime

            stamp = datetime.fromtimestamp(when, UTC).isoformat()
            return Entry("x", stamp, "block_endpoint", "t", {}, Undo("m", "f"), {},
                         pid=bystander.pid, host=os.uname().nodename)  # fmt: skip

        assert live_writer(entry(time.time() + 5))  # written while it ran: a live drill
        assert not live_writer(entry(time.time() - 3600))  # written before it started
    finally:
        bystander.kill()
        bystander.wait()


def test_set_lag_has_the_same_cap_as_lab_up(tmp_path: Path) -> None:
    result = _cli("lab", "set-lag", "1e308", "--dir", str(tmp_path))
    assert result.exit_code != 0 and "AWS seconds from 0 to 3600" in result.output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--users", "100001"], {}, "--users must be between 1 and 100000"),
        ([], {"GAMEDAY_STICKY_SHARE": "5"}, "GAMEDAY_STICKY_SHARE must be a fraction"),
    ],
)
def test_bad_load_input_is_refused_before_preflight(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = _cli("run", str(FLAGSHIP), *args, env=env)
    assert result.exit_code == 2 and message in result.output


def test_a_var_file_holding_a_list_is_one_message(tmp_path: Path) -> None:
    bad = tmp_path / "vars.json"
    bad.write_text("[]")
    result = _cli("run", str(FLAGSHIP), "--var-file", str(bad))
    assert result.exit_code == 2 and "must hold a JSON object" in result.output
    assert "Traceback" not in result.output


def test_no_report_path_is_printed_when_no_report_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _report(RunOutcome(2, "incomplete", tmp_path, "stopped before anything was injected"))
    out = capsys.readouterr().out
    assert "report.html" not in out and f"run directory (no report): {tmp_path}" in out
