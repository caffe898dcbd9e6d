"""Shared helpers for the discovery tests: the environment discovery sees, and the files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from gameday.lab import Lab
from gameday.lab.varfile import varfile_path

#: What ``gameday lab env`` exports that says how to reach the lab (endpoint, credentials,
#: lab mode and directory, resolver). Everything else it exports names the lab's resources
#: (GAMEDAY_PRIMARY_HEALTH_CHECK_ID ...): discovery must find those itself, so the tests
#: never hand them over.
REACH = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "GAMEDAY_LAB",
    "GAMEDAY_LAB_DIR",
    "GAMEDAY_NAMESERVER",
)


def reach_env(lab: Lab) -> dict[str, str]:
    """The lab's reaching variables only, over a process environment without GAMEDAY_*."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_", "AWS_"))}
    lab_env = lab.env()
    return base | {k: lab_env[k] for k in REACH if k in lab_env}


def discover_cli(
    lab: Lab, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``gameday discover <the lab's service name> --out OUT ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", "discover", lab.info.record_name, "--out", str(out),
         *args],
        env=env or reach_env(lab), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def configuration(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())["configuration"]


def lab_configuration(lab: Lab) -> dict[str, Any]:
    return configuration(varfile_path(lab.dir))
