"""The corrupted-data drill against the lab: replication spreads bad data, a restore removes it.

What must hold, compared with the lab's ground truth (its event log, written from the
regions' stores): the bad records were served by both regions before the restore and by
neither after the cut-over; the good writes the report lists as discarded by the restore
are exactly the ones the lab's restore left behind (the sampler's own replication canaries
aside, which are not users' writes); the restore point lies before the corruption; every
AWS call is covered by ``gameday iam``; and after the rollbacks the lab is back in its
steady state, serving its own data with no bad record and no restored cluster left.
"""

from __future__ import annotations

import json

import boto3
import jsonschema
import pytest
from botocore.exceptions import ClientError

from gameday.iam import actions_for
from gameday.lab import Lab
from gameday.lab.api import served_data
from gameday.probes.data import corrupted_records
from gameday.reports.summary import schema
from tests.drills.conftest import wait_for_steady_state
from tests.drills.test_truth_matrix import ROOT, aws_calls, run  # noqa: F401 (fixture)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

NAME = "corrupted-data-replicated"


def outputs(journal: dict, func: str) -> list[dict]:
    return [
        r["output"]
        for r in journal["run"]
        if r["activity"]["provider"].get("func") == func and r["status"] == "succeeded"
    ]


def test_restore_removes_replicated_bad_data_and_reports_what_it_discarded(
    drill_lab: Lab,
    drill_env: dict,
    aws_calls: set[str],  # noqa: F811
) -> None:
    wait_for_steady_state(drill_env["vars"])
    started = drill_lab.events()[-1]["time"]
    outcome = run(NAME, drill_env)
    assert outcome.run_dir is not None, outcome.message
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    assert outcome.verdict == "met", summary["verdict_text"]
    jsonschema.validate(summary, schema())  # the shipped schema knows the restore's keys

    journal = json.loads((outcome.run_dir / "journal.json").read_text())
    before, after = outputs(journal, "corrupted_records")
    assert [r["corrupted"] for r in before["regions"]] == [10, 10]  # replication spread it
    assert [r["corrupted"] for r in after["regions"]] == [0, 0]
    assert summary["corrupted_remaining"] == 0

    truth = {e["kind"]: e for e in drill_lab.events(since=started)
             if e["kind"] in ("pitr-restore-started", "bad-data-found")}  # fmt: skip
    primary = drill_env["vars"]["primary_region"]
    (cut,) = [e for e in drill_lab.events(since=started, kind="cut-over")
              if e["region"] == primary and "discarded" in e]  # fmt: skip
    restore = summary["restore"]
    # RestoreToTime travels as a timestamp of microsecond resolution
    assert restore["restore_point"] == pytest.approx(
        truth["pitr-restore-started"]["restore_time"], abs=1e-6
    )
    assert restore["restore_point"] < truth["bad-data-found"]["first_acked_at"]
    assert restore["corruption_at"] == truth["bad-data-found"]["first_acked_at"]
    lab_discarded = {w["id"] for w in cut["discarded"]}
    reported = {w["id"] for w in restore["discarded"]}
    assert reported == {i for i in lab_discarded if not i.startswith("gameday-canary-")}
    assert summary["discarded_write_count"] == len(reported) > 0
    assert cut["discarded_marked"] == 10
    assert restore["restore_duration_aws_s"] >= 60.0  # the lab's restore floor, AWS seconds

    experiment = json.loads((ROOT / "experiments" / f"{NAME}.json").read_text())
    assert aws_calls <= set(actions_for(experiment)), aws_calls - set(actions_for(experiment))
    assert "restore.html.j2" not in (outcome.run_dir / "report.html").read_text()
    assert "Restore from backup" in (outcome.run_dir / "report.html").read_text()

    # steady state after the rollbacks: own data, no bad record, no restored cluster
    wait_for_steady_state(drill_env["vars"])
    c = drill_env["vars"]
    urls = [c["primary_endpoint"], c["secondary_endpoint"]]
    gone = corrupted_records(urls, "corrupted-drill", wait_for="none", timeout=10)
    assert gone["settled"] and gone["total"] == 0
    home = c["global_cluster_id"]  # what `lab status` shows each region serving
    regions = [c["primary_region"], c["secondary_region"]]
    assert served_data(drill_lab.events(), regions, home) == dict.fromkeys(regions, home)
    rds = boto3.client("rds", region_name=primary, endpoint_url=c["aws_endpoint_url"],
                       aws_access_key_id="lab", aws_secret_access_key="lab")  # fmt: skip
    with pytest.raises(ClientError, match="DBClusterNotFound"):
        rds.describe_db_clusters(DBClusterIdentifier="orders-restored")
