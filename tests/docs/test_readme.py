"""The README is true: its commands exist and its minimal experiment runs with `chaos run`."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gameday.cli import main
from gameday.faults import Ledger
from gameday.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_gameday_command_in_the_readme_exists() -> None:
    runner = CliRunner()
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL))
    shell = re.sub(r"#.*", "", shell)  # comments are prose
    code = "\n".join([shell, *re.findall(r"`([^`\n]+)`", README)])
    commands = set(re.findall(r"(?:^|\s|\()gameday ((?:[a-z-]+ ?){1,2})", code, flags=re.MULTILINE))
    assert commands, "the README shows no gameday command"
    for command in commands:
        words = [w for w in command.split() if not w.startswith("-")]
        result = runner.invoke(main, [*words, "--help"])
        assert result.exit_code == 0, f"'gameday {command}' from the README: {result.output}"


def test_make_targets_in_the_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"(?:^|`)make ([a-z-]+)", README, flags=re.MULTILINE)):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), f"make {target}"


def _chaos_run(experiment: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent)) or "chaos"
    return subprocess.run(
        [
            chaos,
            "--no-version-check",
            "run",
            "--journal-path",
            str(cwd / "journal.json"),
            str(experiment),
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _minimal_experiment(tmp_path: Path) -> Path:
    block = re.search(
        r"A minimal experiment of your own:\n\n```json\n(.*?)\n```", README, flags=re.DOTALL
    )
    assert block, "the README lost its minimal experiment"
    experiment = tmp_path / "mine.json"
    experiment.write_text(block.group(1))
    return experiment


@pytest.mark.lab
def test_the_minimal_experiment_of_the_readme_runs_with_chaos_run(lab: Lab, tmp_path: Path) -> None:
    experiment = _minimal_experiment(tmp_path)
    ledger = tmp_path / "faults.jsonl"
    env = {**os.environ, **lab.env(), "GAMEDAY_FAULT_LEDGER": str(ledger)}
    run = _chaos_run(experiment, env, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert journal["run"][0]["status"] == "succeeded"
    assert journal["rollbacks"][0]["status"] == "succeeded"
    entries = Ledger(ledger).entries()
    assert entries and all(e.state == "reverted" for e in entries)
    # The hypothesis held for the right reason: before the fault the primary answered under an
    # open NACL, while it held the NACL denied and the primary was silent. A NACL that did
    # nothing would have left it answering there, and the experiment would have deviated.
    before, after = (
        journal["steady_states"][when]["probes"][0]["output"] for when in ("before", "after")
    )
    assert before["allowed"] and before["answered"] and before["in_force"]
    assert not after["allowed"] and not after["answered"] and after["in_force"]


@pytest.mark.lab
def test_the_minimal_experiments_hypothesis_can_fail(lab: Lab, tmp_path: Path) -> None:
    """The primary silent although its NACL lets clients in: the hypothesis does not hold,
    so Chaos Toolkit injects nothing (the steady state is not met before the method)."""
    experiment = _minimal_experiment(tmp_path)
    ledger = tmp_path / "faults.jsonl"
    env = {**os.environ, **lab.env(), "GAMEDAY_FAULT_LEDGER": str(ledger)}
    pid = lab.info.primary.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        run = _chaos_run(experiment, env, tmp_path)
    finally:
        os.kill(pid, signal.SIGCONT)
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["steady_states"]["before"]["steady_state_met"] is False, run.stdout
    probe = journal["steady_states"]["before"]["probes"][0]["output"]
    assert probe["allowed"] and not probe["answered"] and not probe["in_force"]
    assert journal["run"] == [] and Ledger(ledger).entries() == []
