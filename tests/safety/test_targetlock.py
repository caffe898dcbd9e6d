"""One drill per target: the lab's lock (a held flock) and the AWS marker (an SSM
parameter, its calls proven against the SSM model with Stubber)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from gameday.drill import DrillError
from gameday.drill.targetlock import AwsMarker, LabLock, parameter_name


def test_a_second_drill_on_the_lab_is_refused_naming_the_first(tmp_path: Path) -> None:
    first = LabLock.take(tmp_path, "region-evacuation")
    first.record(tmp_path / "reports" / "run-1")
    with pytest.raises(DrillError) as refused:
        LabLock.take(tmp_path, "dns-failover")
    message = str(refused.value)
    assert "another drill is running against the lab" in message
    assert "region-evacuation" in message and f"pid {os.getpid()}" in message
    assert "run-1" in message and "gameday abort" in message
    first.release()
    LabLock.take(tmp_path, "dns-failover").release()  # free again once released


def test_a_killed_drill_never_leaves_the_lab_locked(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from gameday.drill.targetlock import LabLock;"
         f"LabLock.take(Path({str(tmp_path)!r}), 'held'); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DrillError, match="held"):
            LabLock.take(tmp_path, "second")
    finally:
        holder.kill()
        holder.wait()
    LabLock.take(tmp_path, "second").release()


def _ssm() -> tuple[object, Stubber]:
    client = boto3.client(
        "ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_the_aws_marker_is_created_atomically_and_released_by_its_owner() -> None:
    ssm, stub = _ssm()
    name = parameter_name("api.example.com.")
    assert name == "/gameday/drill-lock/api.example.com"
    stub.add_response(
        "put_parameter",
        {"Version": 1},
        {"Name": name, "Value": ANY, "Type": "String", "Overwrite": False, "Description": ANY},
    )
    with stub:
        marker = AwsMarker.take(ssm, "api.example.com.", "region-evacuation", 900)
    assert marker.holder["expires"] == pytest.approx(marker.holder["since"] + 900 + 300)
    value = json.dumps(marker.holder)
    stub.add_response(
        "get_parameter", {"Parameter": {"Name": name, "Value": value}}, {"Name": name}
    )
    stub.add_response("delete_parameter", {}, {"Name": name})
    with stub:
        marker.release()
        marker.release()  # idempotent: no second call
    stub.assert_no_pending_responses()


def test_the_aws_marker_refuses_while_another_drill_holds_it() -> None:
    ssm, stub = _ssm()
    name = parameter_name("api.example.com")
    other = {"experiment": "dns-failover", "pid": 42, "host": "ci-7", "since": time.time(),
             "expires": time.time() + 600, "token": "theirs"}  # fmt: skip
    stub.add_client_error("put_parameter", "ParameterAlreadyExists")
    stub.add_response(
        "get_parameter", {"Parameter": {"Name": name, "Value": json.dumps(other)}}, {"Name": name}
    )
    with stub, pytest.raises(DrillError) as refused:
        AwsMarker.take(ssm, "api.example.com", "region-evacuation", None)
    assert "dns-failover" in str(refused.value) and "ci-7" in str(refused.value)
    stub.assert_no_pending_responses()


def test_an_expired_marker_of_a_lost_machine_is_taken_over() -> None:
    ssm, stub = _ssm()
    name = parameter_name("api.example.com")
    stale = {"experiment": "old", "expires": time.time() - 1, "token": "lost"}
    stub.add_client_error("put_parameter", "ParameterAlreadyExists")
    stub.add_response(
        "get_parameter", {"Parameter": {"Name": name, "Value": json.dumps(stale)}}, {"Name": name}
    )
    stub.add_response("delete_parameter", {}, {"Name": name})
    stub.add_response("put_parameter", {"Version": 2}, {"Name": name, "Value": ANY,
                      "Type": "String", "Overwrite": False, "Description": ANY})  # fmt: skip
    with stub:
        AwsMarker.take(ssm, "api.example.com", "new", None)
    stub.assert_no_pending_responses()


def test_a_marker_someone_else_now_holds_is_not_deleted() -> None:
    ssm, stub = _ssm()
    name = parameter_name("api.example.com")
    marker = AwsMarker(ssm, name, {"token": "mine"})
    stub.add_response(
        "get_parameter",
        {"Parameter": {"Name": name, "Value": json.dumps({"token": "theirs"})}},
        {"Name": name},
    )
    with stub:
        marker.release()
    stub.assert_no_pending_responses()
