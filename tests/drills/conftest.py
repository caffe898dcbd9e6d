"""Fixtures for drills against a real lab: its var file, a fresh fault ledger and reports
directory per test, the lab's ground truth (stores, events) and its steady state."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from gameday.lab import Lab
from gameday.lab.state import LAB_CREDENTIALS
from gameday.lab.varfile import varfile_path
from gameday.probes.dns import dns_answer
from gameday.probes.rds import writer_region
from gameday.probes.replication import replication_lag
from gameday.probes.route53 import health_check_status
from gameday.probes.secretsmanager import secret_available
from gameday.reports.audit import acked_writes

STEADY_TIMEOUT = 20.0
#: The lab's fake credentials, passed as Chaos Toolkit secrets (the tests' own probes;
#: the drills themselves get them from the control in lab mode).
LAB_SECRETS = {k.lower(): v for k, v in LAB_CREDENTIALS.items()}


@pytest.fixture(scope="module")
def drill_lab(lab: Lab) -> Lab:
    """The module's lab (tests/conftest.py); each drill leaves it in its steady state."""
    return lab


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


def wait_for_steady_state(variables: dict, timeout: float = STEADY_TIMEOUT) -> None:
    """DNS on the primary, both checks healthy, the original writer, the secret in the
    recovery region, replication flowing; fails with what is still off."""
    c = {k: v for k, v in variables.items()}
    deadline = time.monotonic() + timeout
    while True:
        problems = []
        for role in ("primary", "secondary"):
            status = health_check_status(
                c[f"{role}_health_check_id"], configuration=c, secrets=LAB_SECRETS
            )
            if not status["healthy"]:
                problems.append(f"{role} health check unhealthy")
        answer = dns_answer(c["service_name"], nameserver=c["nameserver"])
        primary_address = c["primary_endpoint"].split("//")[1].split(":")[0]
        if answer["addresses"] != [primary_address]:
            problems.append(f"DNS answers {answer['addresses']}")
        writer = writer_region(
            c["global_cluster_id"], c["primary_region"], configuration=c, secrets=LAB_SECRETS
        )
        if writer != c["primary_region"]:
            problems.append(f"writer is {writer}")
        if not secret_available(
            c["secret_name"], c["secondary_region"], configuration=c, secrets=LAB_SECRETS
        ):
            problems.append("secret missing in the recovery region")
        if not problems:
            lag = replication_lag(c["primary_endpoint"], c["secondary_endpoint"], timeout=3)
            if not lag["replicated"]:
                problems.append(f"replication not flowing: {lag}")
        if not problems:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the lab is not back in its steady state: " + "; ".join(problems))
        time.sleep(0.2)
