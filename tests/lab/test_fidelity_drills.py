"""Two faithful behaviours of the lab, seen through whole gameday drills and their reports.

* ``rds.global_db_rpo``: the catalogue's replication-lag drill on a lab whose primary
  cluster sets the parameter; the lag turns into a write stall, in the report's
  Environment section ("write stalls") and in the requests that failed.
* In-region Aurora failover: a drill whose fault is chaostoolkit-aws's
  ``failover_db_cluster`` (the commonest database drill); writes fail for the 30 AWS s a
  reader takes to be promoted, and the report measures it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from gameday.drill.runner import RunRequest, run_drill
from gameday.lab import Lab, LabConfig
from gameday.lab.varfile import varfile_path

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def drill_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    handle = Lab.start(
        LabConfig(
            lab_dir=str(tmp_path_factory.mktemp("drills")),
            failover_seconds=60.0,
            resync_seconds=20.0,
        )
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def drill_env(drill_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The var file alone points the drill at the lab; own ledger and reports dir."""
    for name in list(os.environ):
        if name.startswith(("GAMEDAY_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(tmp_path / "state" / "faults.jsonl"))
    monkeypatch.setenv("GAMEDAY_REPORTS_DIR", str(tmp_path / "reports"))
    return varfile_path(drill_lab.dir)


def _rds(lab: Lab) -> object:
    env = lab.env()
    return boto3.client(
        "rds",
        region_name=lab.info.primary.name,
        endpoint_url=lab.info.endpoint_url,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _lab_events(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "lab-events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_global_db_rpo_turns_the_lag_drill_into_a_write_stall_in_the_report(
    drill_lab: Lab, drill_env: Path
) -> None:
    rds = _rds(drill_lab)
    group = f"orders-{drill_lab.info.primary.name}"
    rds.modify_db_cluster_parameter_group(  # type: ignore[attr-defined]
        DBClusterParameterGroupName=group,
        Parameters=[
            {
                "ParameterName": "rds.global_db_rpo",
                "ParameterValue": "20",
                "ApplyMethod": "immediate",
            }
        ],
    )
    try:
        outcome = run_drill(
            RunRequest(
                ROOT / "experiments" / "replication-lag-exceeds-rpo.json",
                [drill_env],
                unattended=True,
            )
        )
    finally:
        rds.reset_db_cluster_parameter_group(  # type: ignore[attr-defined]
            DBClusterParameterGroupName=group, ResetAllParameters=True
        )
    assert outcome.run_dir is not None, outcome.message
    stalls = [e for e in _lab_events(outcome.run_dir) if e["kind"] == "write-stall"]
    assert any(e["blocked"] for e in stalls), "the lag never blocked a commit"
    assert all(e["rpo_limit_seconds"] == 20 for e in stalls if e["blocked"])
    report = (outcome.run_dir / "report.html").read_text()
    assert "write stalls (rds.global_db_rpo)" in report and "commits blocked" in report
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    # the lag is unavailability now, not only data at risk: writes failed while it held
    assert summary["requests"]["failed"] > 0, summary["requests"]
    assert summary["verdict"] == "missed"


def _in_region_experiment(tmp_path: Path) -> Path:
    """The dns-failover drill's frame with chaostoolkit-aws's failover_db_cluster as its fault."""
    base = json.loads((ROOT / "experiments" / "dns-failover.json").read_text())
    extension = next(e for e in base["extensions"] if e["name"] == "gameday")
    extension.update(drill="in-region-failover", fault_activity="in-region-failover")
    extension["objectives"] = {"rto_seconds": 60, "rpo_seconds": 0}
    # the default profile with writes (the frame's browse profile only reads)
    extension["load"] = {"users": 8, "write_ratio": 0.5}
    extension["observation"] = {"max_seconds": 120}  # AWS s: room for the 30 s and a window
    base.update(
        title="In-region Aurora failover: a reader is promoted, writes wait",
        method=[
            {
                "type": "action",
                "name": "in-region-failover",
                "provider": {
                    "type": "python",
                    "module": "chaosaws.rds.actions",
                    "func": "failover_db_cluster",
                    "arguments": {
                        "db_cluster_identifier": "orders-${primary_region}",
                        "target_db_instance_identifier": "orders-${primary_region}-reader",
                    },
                },
                "pauses": {"after": 4},
            }
        ],
        rollbacks=[
            {
                "type": "action",
                "name": "writer-instance-back",
                "provider": {
                    "type": "python",
                    "module": "chaosaws.rds.actions",
                    "func": "failover_db_cluster",
                    "arguments": {
                        "db_cluster_identifier": "orders-${primary_region}",
                        "target_db_instance_identifier": "orders-${primary_region}-writer",
                    },
                },
            }
        ],
    )
    path = tmp_path / "in-region-failover.json"
    path.write_text(json.dumps(base))
    return path


def test_an_in_region_failover_drill_measures_the_writers_absence(
    drill_lab: Lab, drill_env: Path, tmp_path: Path
) -> None:
    outcome = run_drill(RunRequest(_in_region_experiment(tmp_path), [drill_env], unattended=True))
    assert outcome.run_dir is not None, outcome.message
    events = _lab_events(outcome.run_dir)
    started = next(
        e for e in events if e["kind"] == "in-region-failover" and e["state"] == "started"
    )
    done = next(
        e for e in events if e["kind"] == "in-region-failover" and e["state"] == "completed"
    )
    assert started["writes_refused"] is True
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    rto = summary["rto_seconds"]  # AWS seconds (the report scales the lab's back)
    absent = (float(done["time"]) - float(started["time"])) * drill_lab.info.speed
    assert absent >= 29  # ~30 AWS s without a writer
    # users could not write until the reader was promoted: recovery came no earlier
    assert rto is not None and rto >= absent - 5, summary
