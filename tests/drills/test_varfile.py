"""The lab's var file, the documented AWS var file and the catalogue agree on the keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gameday.lab import Lab
from gameday.lab.varfile import KEYS, varfile_path

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
