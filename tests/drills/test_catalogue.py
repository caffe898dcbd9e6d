"""The drill catalogue without a lab: validation, listing, IAM policies, bad input.

Every catalogue experiment must pass ``chaos validate`` (Chaos Toolkit's own command, in
a subprocess) and ``gameday validate``; ``gameday iam`` must name only API actions that
exist in botocore's service models; bad input exits 2 with one message and injects
nothing (the fault ledger stays empty).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
from click.testing import CliRunner

from gameday import registry
from gameday.cli import main
from gameday.drill.runner import RunOutcome, RunRequest
from gameday.iam import CONTROL_ACTIONS, PREFLIGHT_ACTIONS, actions_for, iam_prefix

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = [
    "dns-failover",
    "region-evacuation",
    "database-failover",
    "replication-lag-exceeds-rpo",
    "secondary-missing-secret",
    "failback",
    "duplicate-replay",
    "runbook-failover",
    "corrupted-data-replicated",
]
CHAOS = Path(sys.executable).with_name("chaos")


def experiment_path(name: str) -> Path:
    return ROOT / "experiments" / f"{name}.json"


def load(name: str) -> dict:
    return json.loads(experiment_path(name).read_text())


@pytest.mark.parametrize("name", CATALOGUE)
def test_chaos_validate_accepts_every_catalogue_experiment(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_", "AWS_"))}
    done = subprocess.run(
        [str(CHAOS), "--no-log-file", "validate", str(experiment_path(name))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "look valid" in done.stdout + done.stderr


def test_gameday_validate_accepts_the_whole_catalogue() -> None:
    result = CliRunner().invoke(main, ["validate", *(str(experiment_path(n)) for n in CATALOGUE)])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok") == len(CATALOGUE)


def test_gameday_list_shows_every_drill_with_its_objectives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {item["name"]: item for item in json.loads(result.output)}
    assert set(listed) == set(CATALOGUE)
    for item in listed.values():
        assert item["description"] and item["objectives"]


def test_one_experiment_mixes_chaostoolkit_aws_and_gameday_activities() -> None:
    modules = {
        activity["provider"]["module"].split(".")[0] for activity in load("dns-failover")["method"]
    }
    assert {"chaosaws", "gameday"} <= modules


def _service_models() -> dict[str, set[str]]:
    """IAM prefix -> operation names, from botocore's bundled service models."""
    session = botocore.session.get_session()
    models: dict[str, set[str]] = {}
    for service in session.get_available_services():
        model = session.get_service_model(service)
        models.setdefault(iam_prefix(model), set()).update(model.operation_names)
    return models


def test_every_iam_action_exists_in_botocore_service_models() -> None:
    models = _service_models()
    names = set(CONTROL_ACTIONS) | set(PREFLIGHT_ACTIONS.values())
    for spec in registry.specs():
        names.update(spec.iam)
    unknown = []
    for name in sorted(names):
        prefix, operation = name.split(":", 1)
        if operation not in models.get(prefix, set()):
            unknown.append(name)
    # iam:PassRole is an IAM permission without an API operation of its own.
    assert unknown == ["iam:PassRole"]


@pytest.mark.parametrize("name", CATALOGUE)
def test_gameday_iam_prints_a_policy_for_each_drill(name: str) -> None:
    result = CliRunner().invoke(main, ["iam", str(experiment_path(name))])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output)
    printed = sorted(a for s in policy["Statement"] for a in s["Action"])
    assert printed == actions_for(load(name))
    assert "sts:GetCallerIdentity" in printed


def test_iam_policy_follows_the_activities() -> None:
    evacuation = set(actions_for(load("region-evacuation")))
    assert {"ec2:CreateNetworkAclEntry", "rds:FailoverGlobalCluster"} <= evacuation
    assert "secretsmanager:RemoveRegionsFromReplication" not in evacuation
    secret = set(actions_for(load("secondary-missing-secret")))
    assert "secretsmanager:RemoveRegionsFromReplication" in secret
    assert "ec2:CreateNetworkAclEntry" not in secret


# -- bad input: exit 2, one message, nothing injected ---------------------------------


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger" / "faults.jsonl"
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(path))
    monkeypatch.setenv("GAMEDAY_REPORTS_DIR", str(tmp_path / "reports"))
    for name in list(os.environ):
        if name.startswith("GAMEDAY_") and name not in (
            "GAMEDAY_FAULT_LEDGER",
            "GAMEDAY_REPORTS_DIR",
        ):
            monkeypatch.delenv(name)
    return path


def _broken(tmp_path: Path, change) -> Path:
    data = load("dns-failover")
    change(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["extensions"][0]["objectives"].update(rto_seconds="1m"), "rto_seconds"),
        (lambda d: d["extensions"][0].pop("objectives"), "objectives"),
        (lambda d: d["extensions"][0]["objectives"].update(rto_minutes=1), "rto_minutes"),
        (lambda d: d.pop("rollbacks"), "no rollback"),
        (
            lambda d: d["method"][0]["provider"].update(func="invert_everything"),
            "invert_everything",
        ),
        (lambda d: d["method"][0]["provider"]["arguments"].update(colour="red"), "arguments"),
        (
            lambda d: d["method"][0]["provider"]["arguments"].update(health_check_id="${nope}"),
            "nope",
        ),
        (lambda d: d.pop("controls"), "control"),
    ],
)
def test_bad_experiments_exit_2_with_one_clear_message_and_inject_nothing(
    tmp_path: Path, ledger: Path, change, message: str
) -> None:
    path = _broken(tmp_path, change)
    validated = CliRunner().invoke(main, ["validate", str(path)])
    assert validated.exit_code == 2
    assert message in validated.output
    ran = CliRunner().invoke(
        main, ["run", str(path), "--var-file", str(ROOT / "experiments/vars/aws.example.json")]
    )
    assert ran.exit_code == 2
    assert message in ran.output
    assert not ledger.exists()
    assert not (tmp_path / "reports").exists()


def test_undefined_variables_exit_2_before_anything_runs(tmp_path: Path, ledger: Path) -> None:
    ran = CliRunner().invoke(main, ["run", str(experiment_path("region-evacuation"))])
    assert ran.exit_code == 2
    assert "variable(s) without a value" in ran.output
    assert "primary_network_acl_id" in ran.output
    assert not ledger.exists()


def test_no_html_reaches_the_drill(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gameday.drill import runner

    asked: list[RunRequest] = []

    def run_drill(request: RunRequest, watch: object = None) -> RunOutcome:
        asked.append(request)
        return RunOutcome(0, "met", None, "stubbed")

    monkeypatch.setattr(runner, "run_drill", run_drill)
    for args, html in (([], True), (["--no-html"], False)):
        ran = CliRunner().invoke(main, ["run", "dns-failover", *args])
        assert ran.exit_code == 0, ran.output
        assert asked.pop().html is html


def test_unknown_experiment_and_missing_var_file_exit_2(tmp_path: Path, ledger: Path) -> None:
    ran = CliRunner().invoke(main, ["run", "no-such-drill"])
    assert ran.exit_code == 2 and "no experiment 'no-such-drill'" in ran.output
    ran = CliRunner().invoke(
        main, ["run", "dns-failover", "--var-file", str(tmp_path / "nope.json")]
    )
    assert ran.exit_code == 2 and "no var file" in ran.output


def test_note_and_step_done_need_a_running_drill(tmp_path: Path, ledger: Path) -> None:
    for args in (["note", "hello"], ["step", "done"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2
        assert "no drill is running" in result.output
