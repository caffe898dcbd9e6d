"""FIS in the lab: validation per AWS's actions reference, durations on the lab's clock."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest

from gameday.lab import Lab
from gameday.lab.clock import LabClock
from gameday.lab.controlplane import fis
from tests.lab.helpers import lab_is_the_shared_lab  # noqa: F401  (lab: the worker's shared lab)

BUCKETS = {"b": {"resourceType": "aws:s3:bucket", "resourceArns": ["arn:aws:s3:::orders"]}}


def _s3_pause(**params: str) -> dict:
    return {
        "pause": {
            "actionId": "aws:s3:bucket-pause-replication",
            "parameters": params,
            "targets": {"Buckets": "b"},
        }
    }


def test_the_s3_pause_takes_the_parameters_of_the_actions_reference() -> None:
    fis.validate_template(
        _s3_pause(duration="PT5M", region="us-west-2", destinationBuckets="a,b", prefixes="x/"),
        BUCKETS,
    )
    with pytest.raises(fis.FisValidationError, match="needs parameter"):
        fis.validate_template(_s3_pause(duration="PT5M"), BUCKETS)
    with pytest.raises(fis.FisValidationError, match="unknown parameter"):
        fis.validate_template(
            _s3_pause(duration="PT5M", region="us-west-2", destinationRegion="us-west-2"), BUCKETS
        )
    with pytest.raises(fis.FisValidationError, match="from one minute to 12 hours"):
        fis.validate_template(_s3_pause(duration="PT30S", region="us-west-2"), BUCKETS)


def test_no_action_runs_longer_than_twelve_hours() -> None:
    action = {
        "a": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT12H1S"}, "targets": {}}
    }
    with pytest.raises(fis.FisValidationError, match="12 hours"):
        fis.validate_template(action, {})


#: The shape of AWS's published Aurora global database failover template (FIS template
#: library): one SSM automation action, no targets.
AURORA_GLOBAL_FAILOVER = {
    "aurora-global-failover": {
        "actionId": "aws:ssm:start-automation-execution",
        "parameters": {
            "documentArn": "arn:aws:ssm:us-east-1:123456789012:document/failover",
            "documentParameters": '{"globalClusterIdentifier": "orders-global"}',
            "maxDuration": "PT10M",
        },
    }
}


def test_real_actions_the_lab_does_not_emulate_are_accepted_unknown_ids_are_not() -> None:
    fis.validate_template(AURORA_GLOBAL_FAILOVER, {})
    fis.validate_template(
        {"x": {"actionId": "aws:lambda:invocation-error", "parameters": {"duration": "PT1M"}}}, {}
    )
    with pytest.raises(fis.FisValidationError, match="not a valid action id"):
        fis.validate_template({"x": {"actionId": "aws:lambda:no-such-fault"}}, {})


def test_action_durations_run_on_the_lab_clock() -> None:
    actions = {"w": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}}
    run = fis.plan("e", "us-east-1", 1000.0, actions, {}, LabClock(10))
    assert run.actions[0].end - run.actions[0].start == 6.0


@pytest.mark.lab
def test_aws_published_aurora_failover_template_loads_and_says_it_has_no_effect(
    lab: Lab, lab_env: dict[str, str]
) -> None:
    client = boto3.client("fis", region_name=lab.info.primary.name)
    template = client.create_experiment_template(
        clientToken=str(uuid.uuid4()),
        description="AWS's Aurora global failover template",
        roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}],
        targets={},
        actions=AURORA_GLOBAL_FAILOVER,
    )["experimentTemplate"]["id"]
    since = time.time()
    experiment = client.start_experiment(
        clientToken=str(uuid.uuid4()), experimentTemplateId=template
    )
    event = lab.wait_for_event(lambda e: e["kind"] == "fis-action", timeout=3, since=since)
    assert event["experiment_id"] == experiment["experiment"]["id"]
    assert event["effect"].startswith("no effect in the lab")
    assert lab.info.primary.role == "writer"  # nothing moved
