"""The lab's var file, the documented AWS var file and the catalogue agree on the keys."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from gameday.lab import Lab
from gameday.lab.state import LAB_CREDENTIALS
from gameday.lab.varfile import KEYS, varfile_path
from tests.lab.helpers import lab_is_the_shared_lab  # noqa: F401  (lab: the worker's shared lab)

ROOT = Path(__file__).resolve().parents[2]


def readme_aws_keys() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r'```json\n(\{"configuration": \{\n  "gameday_target": "aws".*?)\n```', readme, re.DOTALL
    )
    assert block, "the README lost its AWS var file"
    return list(json.loads(block.group(1))["configuration"])


def test_documented_aws_var_files_have_exactly_the_lab_keys() -> None:
    example = json.loads((ROOT / "experiments/vars/aws.example.json").read_text())
    assert list(example["configuration"]) == list(KEYS)
    assert readme_aws_keys() == list(KEYS)
    assert example["configuration"]["gameday_target"] == "aws"


def test_every_catalogue_experiment_reads_only_var_file_keys() -> None:
    for path in sorted((ROOT / "experiments").glob("*.json")):
        data = json.loads(path.read_text())
        if not any(e.get("name") == "gameday" for e in data.get("extensions", [])):
            continue
        assert set(data["configuration"]) == set(KEYS), path.name
        used = set(re.findall(r"\$\{(\w+)\}", json.dumps(data)))
        assert used <= set(KEYS), (path.name, used - set(KEYS))


@pytest.mark.lab
def test_lab_up_writes_a_var_file_with_the_same_keys_naming_real_resources(lab: Lab) -> None:
    data = json.loads(varfile_path(lab.dir).read_text())
    configuration = data["configuration"]
    assert list(configuration) == list(KEYS)
    info = lab.info
    assert configuration["gameday_target"] == "lab"
    assert configuration["primary_health_check_id"] == info.primary.health_check_id
    assert configuration["secondary_network_acl_id"] == info.secondary.network_acl_id
    assert configuration["aws_endpoint_url"] == info.endpoint_url
    assert configuration["nameserver"] == f"{info.dns_host}:{info.dns_port}"
    assert configuration["service_port"] == info.service_port


@pytest.mark.lab
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"primary_health_check_id": "00000000-0000-0000-0000-000000000000"}, "cannot be found"),
        ({"primary_network_acl_id": "acl-0000000000000000f"}, "cannot be found"),
        ({"gameday_allowed_accounts": "111122223333", "gameday_target": "aws"}, "not allowlisted"),
    ],
)
def test_unreachable_targets_exit_2_and_inject_nothing(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: dict, message: str
) -> None:
    from click.testing import CliRunner

    from gameday.cli import main

    for name in [n for n in os.environ if n.startswith(("GAMEDAY_", "AWS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(tmp_path / "faults.jsonl"))
    monkeypatch.setenv("GAMEDAY_REPORTS_DIR", str(tmp_path / "reports"))
    data = json.loads(varfile_path(lab.dir).read_text())
    data["configuration"].update(override)
    if data["configuration"]["gameday_target"] == "aws":  # lab endpoint, but not lab mode
        for key, value in LAB_CREDENTIALS.items():
            monkeypatch.setenv(key, value)
    var_file = tmp_path / "env.json"
    var_file.write_text(json.dumps(data))
    result = CliRunner().invoke(
        main, ["run", str(ROOT / "experiments/region-evacuation.json"), "--var-file", str(var_file)]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "faults.jsonl").exists()
    run_dir = next((tmp_path / "reports" / "region-evacuation").iterdir())
    assert message in json.loads((run_dir / "run.json").read_text())["error"]
    assert not (run_dir / "requests.jsonl").exists()  # no load was started either
