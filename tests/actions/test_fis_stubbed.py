"""FIS actions: every AWS call checked against the FIS service model with Stubber."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import ANY
from chaoslib.exceptions import ActivityFailed

from gameday.actions import fis
from tests.actions.conftest import ACCOUNT, Stubs, ledger_states

ROLE = f"arn:aws:iam::{ACCOUNT}:role/fis"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The actions poll FIS until the experiment runs; no need to wait between stubbed polls."""
    monkeypatch.setattr(fis, "START_POLL", 0.0)


def experiment(exp_id: str, status: str) -> dict:
    return {
        "experiment": {"id": exp_id, "experimentTemplateId": "EXT1", "state": {"status": status}}
    }


def test_pause_creates_the_template_starts_and_resume_stops(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    f = stubs.stub("fis")
    f.add_response("list_experiment_templates", {"experimentTemplates": []}, {})
    f.add_response(
        "create_experiment_template",
        {"experimentTemplate": {"id": "EXT1"}},
        {
            "clientToken": ANY,
            "description": "gameday: pause replication",
            "stopConditions": [{"source": "none"}],
            "roleArn": ROLE,
            "tags": ANY,
            "targets": {
                "tables": {
                    "resourceType": "aws:dynamodb:global-table",
                    "resourceArns": [TABLE],
                    "selectionMode": "ALL",
                }
            },
            "actions": {
                "pause-table-replication": {
                    "actionId": "aws:dynamodb:global-table-pause-replication",
                    "parameters": {"duration": "PT2M"},
                    "targets": {"Tables": "tables"},
                }
            },
        },
    )
    f.add_response(
        "start_experiment",
        experiment("EXP1", "initiating"),
        {"clientToken": ANY, "experimentTemplateId": "EXT1", "tags": ANY},
    )
    f.add_response("get_experiment", experiment("EXP1", "running"), {"id": "EXP1"})
    out = fis.pause_replication(
        region="us-east-1", duration="PT2M", table_arns=[TABLE], role_arn=ROLE
    )
    assert (out["experiment_id"], out["template_id"]) == ("EXP1", "EXT1")
    assert ledger_states(isolated) == [("pause_replication", "applied")]

    f.add_response("get_experiment", experiment("EXP1", "running"), {"id": "EXP1"})
    f.add_response("stop_experiment", experiment("EXP1", "stopping"), {"id": "EXP1"})
    back = fis.resume_replication(region="us-east-1")
    assert back["stopped"] == ["EXP1"]
    assert ledger_states(isolated) == [("pause_replication", "reverted")]
    # idempotent: nothing open, nothing called
    assert fis.resume_replication(region="us-east-1")["stopped"] == []


def test_template_id_and_s3_and_cross_region(stubs: Stubs) -> None:
    stubs.identity()
    f = stubs.stub("fis")
    f.add_response(
        "get_experiment_template", {"experimentTemplate": {"id": "EXT9"}}, {"id": "EXT9"}
    )
    f.add_response(
        "start_experiment",
        experiment("EXP9", "initiating"),
        {"clientToken": ANY, "experimentTemplateId": "EXT9", "tags": ANY},
    )
    f.add_response("get_experiment", experiment("EXP9", "running"), {"id": "EXP9"})
    assert fis.pause_replication(region="us-east-1", template_id="EXT9")["experiment_id"] == "EXP9"

    f.add_response("list_experiment_templates", {"experimentTemplates": []}, {})
    f.add_response(
        "create_experiment_template",
        {"experimentTemplate": {"id": "EXT2"}},
        {
            "clientToken": ANY,
            "description": ANY,
            "stopConditions": ANY,
            "roleArn": ROLE,
            "tags": ANY,
            "targets": {
                "subnets": {
                    "resourceType": "aws:ec2:subnet",
                    "selectionMode": "ALL",
                    "resourceArns": [f"arn:aws:ec2:us-east-1:{ACCOUNT}:subnet/subnet-1"],
                }
            },
            "actions": {
                "disrupt-cross-region": {
                    "actionId": "aws:network:route-table-disrupt-cross-region-connectivity",
                    "parameters": {"duration": "PT1M", "region": "us-west-2"},
                    "targets": {"Subnets": "subnets"},
                }
            },
        },
    )
    f.add_response(
        "start_experiment",
        experiment("EXP2", "initiating"),
        {"clientToken": ANY, "experimentTemplateId": "EXT2", "tags": ANY},
    )
    f.add_response("get_experiment", experiment("EXP2", "running"), {"id": "EXP2"})
    out = fis.disrupt_cross_region_connectivity(
        region="us-east-1",
        destination_region="us-west-2",
        subnet_ids=["subnet-1"],
        duration="PT1M",
        configuration={"gameday_fis_role_arn": ROLE},
    )
    assert out["experiment_id"] == "EXP2"
    f.add_response("get_experiment", experiment("EXP2", "completed"), {"id": "EXP2"})
    # finished by itself: nothing to stop, the ledger entry still closes
    assert fis.restore_cross_region_connectivity(region="us-east-1")["stopped"] == []

    f.add_response("list_experiment_templates", {"experimentTemplates": []}, {})
    f.add_response(
        "create_experiment_template",
        {"experimentTemplate": {"id": "EXT3"}},
        {
            "clientToken": ANY,
            "description": ANY,
            "stopConditions": ANY,
            "roleArn": ROLE,
            "tags": ANY,
            "targets": {
                "buckets": {
                    "resourceType": "aws:s3:bucket",
                    "selectionMode": "ALL",
                    "resourceArns": ["arn:aws:s3:::orders-replicated"],
                }
            },
            "actions": {
                "pause-bucket-replication": {
                    "actionId": "aws:s3:bucket-pause-replication",
                    "parameters": {"duration": "PT5M", "region": "us-west-2"},
                    "targets": {"Buckets": "buckets"},
                }
            },
        },
    )
    f.add_response(
        "start_experiment",
        experiment("EXP3", "initiating"),
        {"clientToken": ANY, "experimentTemplateId": "EXT3", "tags": ANY},
    )
    f.add_response("get_experiment", experiment("EXP3", "running"), {"id": "EXP3"})
    assert (
        fis.pause_replication(
            region="us-east-1",
            bucket_arns=["arn:aws:s3:::orders-replicated"],
            destination_region="us-west-2",
            role_arn=ROLE,
        )["experiment_id"]
        == "EXP3"
    )
    f.add_response("get_experiment", experiment("EXP3", "running"), {"id": "EXP3"})
    f.add_response("stop_experiment", experiment("EXP3", "stopping"), {"id": "EXP3"})
    assert fis.resume_replication(region="us-east-1", experiment_id="EXP3")["stopped"] == ["EXP3"]


def test_bad_input(stubs: Stubs, isolated: Path) -> None:
    with pytest.raises(ActivityFailed, match="ISO 8601"):
        fis.pause_replication(region="us-east-1", duration="5 minutes", template_id="X")
    with pytest.raises(ActivityFailed, match="table_arns"):
        fis.pause_replication(region="us-east-1")
    stubs.identity()
    f = stubs.stub("fis")
    with pytest.raises(ActivityFailed, match="gameday_fis_role_arn"):
        fis.pause_replication(region="us-east-1", table_arns=[TABLE])
    f.add_client_error(
        "get_experiment_template",
        service_error_code="ResourceNotFoundException",
        service_message="no",
        http_status_code=404,
        expected_params={"id": "EXTX"},
    )
    with pytest.raises(ActivityFailed, match="list-experiment-templates"):
        fis.pause_replication(region="us-east-1", template_id="EXTX")
    assert ledger_states(isolated) == []


def test_an_experiment_whose_id_never_reached_the_ledger_is_found_by_its_tag(
    stubs: Stubs, isolated: Path
) -> None:
    """The run died between start_experiment and recording the experiment id: the rollback
    finds the experiment by the fault id it is tagged with, and stops no other run's
    experiment of the same template."""
    from gameday.faults import Ledger, Undo

    ours = Ledger(isolated).begin(
        activity="pause_replication",
        target="fis:us-east-1:template:EXT1",
        arguments={},
        undo=Undo(
            "gameday.actions.fis",
            "resume_replication",
            {"region": "us-east-1", "template_id": "EXT1"},
        ),
    )
    stubs.identity()
    f = stubs.stub("fis")
    running = {"status": "running"}
    f.add_response(
        "list_experiments",
        {
            "experiments": [
                {"id": "EXPOTHER", "state": running, "tags": {"gameday:fault-id": "f" * 32}},
                {"id": "EXPOURS", "state": running, "tags": {"gameday:fault-id": ours}},
            ]
        },
        {"experimentTemplateId": "EXT1"},
    )
    f.add_response("get_experiment", experiment("EXPOURS", "running"), {"id": "EXPOURS"})
    f.add_response("stop_experiment", experiment("EXPOURS", "stopping"), {"id": "EXPOURS"})
    back = fis.resume_replication(region="us-east-1", template_id="EXT1")
    assert (back["stopped"], back["reverted"]) == (["EXPOURS"], [ours])


def test_an_experiment_that_fails_to_start_is_an_error_and_no_fault(
    stubs: Stubs, isolated: Path
) -> None:
    """FIS accepted the start but the experiment failed (role, targets): the drill must not go
    on believing replication is paused, and the ledger must not hold an applied fault."""
    stubs.identity()
    f = stubs.stub("fis")
    f.add_response(
        "get_experiment_template", {"experimentTemplate": {"id": "EXT5"}}, {"id": "EXT5"}
    )
    f.add_response(
        "start_experiment",
        experiment("EXP5", "pending"),
        {"clientToken": ANY, "experimentTemplateId": "EXT5", "tags": ANY},
    )
    f.add_response("get_experiment", experiment("EXP5", "initiating"), {"id": "EXP5"})
    failed = experiment("EXP5", "failed")
    failed["experiment"]["state"]["reason"] = "Unable to assume role"
    f.add_response("get_experiment", failed, {"id": "EXP5"})
    with pytest.raises(
        ActivityFailed, match=r"ended failed before it took effect \(Unable to assume role"
    ):
        fis.pause_replication(region="us-east-1", template_id="EXT5")
    assert ledger_states(isolated) == [("pause_replication", "failed")]
    f.assert_no_pending_responses()
