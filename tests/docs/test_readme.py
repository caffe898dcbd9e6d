"""The README is true: its commands exist and its minimal experiment runs with `chaos run`."""

from __future__ import annotations

import json
import os
import re
import shutil
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


@pytest.mark.lab
def test_the_minimal_experiment_of_the_readme_runs_with_chaos_run(lab: Lab, tmp_path: Path) -> None:
    block = re.search(
        r"A minimal experiment of your own:\n\n```json\n(.*?)\n```", README, flags=re.DOTALL
    )
    assert block, "the README lost its minimal experiment"
    experiment = tmp_path / "mine.json"
    experiment.write_text(block.group(1))
    ledger = tmp_path / "faults.jsonl"
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent)) or "chaos"
    run = subprocess.run(
        [
            chaos,
            "--no-version-check",
            "run",
            "--journal-path",
            str(tmp_path / "journal.json"),
            str(experiment),
        ],
        env={**os.environ, **lab.env(), "GAMEDAY_FAULT_LEDGER": str(ledger)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "completed"
    assert journal["run"][0]["status"] == "succeeded"
    assert journal["rollbacks"][0]["status"] == "succeeded"
    entries = Ledger(ledger).entries()
    assert entries and all(e.state == "reverted" for e in entries)
