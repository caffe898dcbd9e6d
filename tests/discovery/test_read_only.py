"""Discovery is read-only by construction, and ``gameday iam --discover`` covers its calls.

Every AWS call of a discovery run on the lab is seen at botocore's ``before-call`` event
hook of every client made in the process: none may change anything, each must be one
:data:`~gameday.discovery.reader.READ_CALLS` allows, and the printed policy must allow it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from click.testing import CliRunner

from gameday import aws
from gameday.cli import main
from gameday.discovery import discover
from gameday.discovery.reader import READ_CALLS, NotReadOnly, Reader, iam_actions
from gameday.iam import iam_prefix
from gameday.lab import Lab
from tests.discovery.helpers import REACH, lab_configuration

_READ_PREFIXES = ("Describe", "List", "Get")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(service, operation) of every call any client made in this process tries."""
    seen: list[tuple[str, str]] = []
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        service = made.meta.service_model.service_name

        def record(model: Any = None, **_: Any) -> None:
            seen.append((service, model.name))

        made.meta.events.register("before-call", record)
        return made

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    aws.clear_sessions()
    yield seen
    aws.clear_sessions()


@pytest.fixture
def reach(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process reaches the lab; no variable naming a lab resource is set."""
    for name in list(os.environ):
        if name.startswith("GAMEDAY_"):
            monkeypatch.delenv(name)
    env = lab.env()
    for name in REACH:
        monkeypatch.setenv(name, env[name])


@pytest.mark.lab
def test_discovery_makes_only_read_calls(lab: Lab, reach: None, calls: list) -> None:
    found = discover(lab.info.record_name)
    assert found.values == lab_configuration(lab)
    assert calls, "no call was seen: the hook did not work"
    mutating = [c for c in calls if not c[1].startswith(_READ_PREFIXES)]
    assert mutating == []
    assert {c for c in calls} <= {(s, op) for s, ops in READ_CALLS.items() for op in ops}
    policy = json.loads(CliRunner().invoke(main, ["iam", "--discover"]).output)
    allowed = {a for s in policy["Statement"] for a in s["Action"]}
    session = botocore.session.get_session()
    used = {f"{iam_prefix(session.get_service_model(s))}:{op}" for s, op in calls}
    assert used <= allowed


def test_the_reader_refuses_a_mutating_call_before_it_is_sent(calls: list) -> None:
    reader = Reader({"aws_region": "us-east-1"})
    with pytest.raises(NotReadOnly, match="route53:DeleteHealthCheck"):
        reader.call("route53", None, "DeleteHealthCheck", HealthCheckId="x")
    with pytest.raises(NotReadOnly, match="no read calls for s3"):
        reader.client("s3")


def test_every_read_call_is_a_read_and_an_action_botocore_knows() -> None:
    session = botocore.session.get_session()
    for service, operations in READ_CALLS.items():
        model = session.get_service_model(service)
        for operation in operations:
            assert operation.startswith(_READ_PREFIXES), operation
            assert operation in model.operation_names, f"{service}:{operation}"
    known = {
        f"{iam_prefix(m)}:{op}"
        for m in map(session.get_service_model, session.get_available_services())
        for op in m.operation_names
    }
    assert set(iam_actions()) <= known
    result = CliRunner().invoke(main, ["iam", "--discover"])
    assert result.exit_code == 0
    printed = sorted(a for s in json.loads(result.output)["Statement"] for a in s["Action"])
    assert printed == iam_actions()


def test_iam_wants_an_experiment_or_discover() -> None:
    result = CliRunner().invoke(main, ["iam"])
    assert result.exit_code == 2 and "give either EXPERIMENT or --discover" in result.output


def test_discovery_does_not_import_the_lab() -> None:
    """Product code: discovery reaches AWS (or the lab) only through gameday.aws.client."""
    import subprocess
    import sys

    code = (
        "import sys, gameday.discovery, gameday.discovery.cli\n"
        "from gameday.discovery.drills import ruled_out\n"
        "ruled_out(['secret_name'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('gameday.lab')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.mark.lab
def test_names_given_for_the_data_tier_are_used_not_guessed(
    lab: Lab, reach: None, calls: list
) -> None:
    from gameday.discovery import Hints

    info = lab.info
    found = discover(
        info.record_name,
        hints=Hints(global_cluster=info.global_cluster_id, table="nope", secret="nope/nope"),
    )
    assert found.values["global_cluster_id"] == info.global_cluster_id
    assert [(m.what, m.keys) for m in found.missing] == [
        ("DynamoDB global table nope", ("table_name", "table_arn")),
        ("secret nope/nope", ("secret_name",)),
    ]
    # a table's name is looked up directly, never listed
    assert ("dynamodb", "ListTables") not in calls
    assert ("dynamodb", "DescribeTable") in calls
