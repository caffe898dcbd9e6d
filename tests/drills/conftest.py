"""Fixtures for drills against a real lab: its var file, a fresh fault ledger and reports
directory per test, the lab's ground truth (stores, events) and its steady state."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gameday.lab import Lab
from gameday.lab.varfile import varfile_path
from gameday.reports.audit import acked_writes
from tests.lab.helpers import LAB_SECRETS, wait_for_steady_state

__all__ = ["LAB_SECRETS", "lost_in_truth", "stored_ids", "wait_for_steady_state"]


@pytest.fixture
def drill_lab(shared_lab: Lab) -> Lab:
    """The worker's shared lab (tests/conftest.py): each drill leaves it in its steady
    state (checked after every test), so drills spread over the workers freely."""
    return shared_lab


@pytest.fixture
def drill_env(drill_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A clean per-test environment: own fault ledger and reports dir, no lab env vars
    (the var file alone must be enough), and the lab's variables."""
    import os

    for name in list(os.environ):
        if name.startswith(("GAMEDAY_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(tmp_path / "state" / "faults.jsonl"))
    monkeypatch.setenv("GAMEDAY_REPORTS_DIR", str(tmp_path / "reports"))
    var_file = varfile_path(drill_lab.dir)
    return {
        "var_file": var_file,
        "vars": json.loads(var_file.read_text())["configuration"],
        "reports": tmp_path / "reports",
        "ledger": tmp_path / "state" / "faults.jsonl",
    }


def stored_ids(lab: Lab, region: str) -> set[str]:
    """Ground truth: the order ids in ``region``'s store (read-only, straight from disk)."""
    path = Path(lab.dir) / f"region-{region}.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT id FROM orders")}


def lost_in_truth(lab: Lab, run_dir: Path, writer: str) -> set[str]:
    """Acknowledged writes absent from the writer's store."""
    acked = {w.id for w in acked_writes(run_dir / "requests.jsonl")}
    return acked - stored_ids(lab, writer)
