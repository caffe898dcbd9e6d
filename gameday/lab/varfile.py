"""The lab's Chaos Toolkit var file: the environment a drill targets, as data.

An environment is a Chaos Toolkit var file (``chaos run --var-file F``): its
``configuration`` holds the names and ids every catalogue experiment reads (regions,
health checks, NACLs, the global cluster, the secret, the table, the allowed account).
The lab writes its own, ``<lab dir>/vars.json``, the moment it becomes ready (before
``state.json`` says ``ready``, so whoever waits for ``ready`` finds the file); a team
writes the same keys for a real non-prod account (``docs`` in the README, and
``experiments/vars/aws.example.json``). :data:`KEYS` is the one list both must carry, a
test holds them equal.

The file holds no secrets: the lab's credentials are fake, and on AWS boto3's normal
credential chain applies.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gameday.aws import LAB_ACCOUNT_ID
from gameday.lab.bootstrap import FIS_ROLE_NAME
from gameday.varkeys import KEYS

__all__ = ["KEYS", "VARFILE_NAME", "lab_variables", "varfile_path", "write_varfile"]

VARFILE_NAME = "vars.json"


def varfile_path(lab_dir: str | os.PathLike[str]) -> Path:
    """Where the lab in ``lab_dir`` writes its var file."""
    return Path(lab_dir) / VARFILE_NAME


def lab_variables(state: dict[str, Any]) -> dict[str, Any]:
    """The var-file configuration of a ready lab, from its ``state.json`` content."""
    primary, secondary = state["regions"][0], state["regions"][1]
    port = int(state["service_port"])
    table = state["table_name"]
    values: dict[str, Any] = {
        "gameday_target": "lab",
        "gameday_allowed_accounts": LAB_ACCOUNT_ID,
        "gameday_lab_dir": state["lab_dir"],
        "aws_region": primary["name"],
        "aws_endpoint_url": state["endpoint_url"],
        "service_name": state["record_name"],
        "service_port": port,
        "service_scheme": "http",
        "nameserver": f"{state['dns_host']}:{state['dns_port']}",
        "hosted_zone_id": state["zone_id"],
        "global_cluster_id": state["global_cluster_id"],
        "secret_name": state["secret_name"],
        "table_name": table,
        "table_arn": f"arn:aws:dynamodb:{primary['name']}:{LAB_ACCOUNT_ID}:table/{table}",
        "fis_role_arn": f"arn:aws:iam::{LAB_ACCOUNT_ID}:role/{FIS_ROLE_NAME}",
    }
    for role, region in (("primary", primary), ("secondary", secondary)):
        values |= {
            f"{role}_region": region["name"],
            f"{role}_endpoint": f"http://{region['address']}:{port}",
            f"{role}_health_check_id": region["health_check_id"],
            f"{role}_subnet_id": region["subnet_id"],
            f"{role}_network_acl_id": region["network_acl_id"],
            f"{role}_db_cluster_arn": region["db_cluster_arn"],
        }
    assert set(values) == set(KEYS), sorted(set(values) ^ set(KEYS))
    return {key: values[key] for key in KEYS}


def write_varfile(lab_dir: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``<lab_dir>/vars.json`` for the lab described by ``state`` (atomically)."""
    path = varfile_path(lab_dir)
    body = json.dumps({"configuration": lab_variables(state)}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vars.", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        handle.write(body)
    os.replace(tmp, path)
    return path
