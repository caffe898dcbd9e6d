"""Actions, rollbacks and probes against the two-region lab, checked on real traffic and DNS.

Also: a process that injected faults and was killed with SIGKILL leaves ledger entries
that ``gameday recover`` reverts, bringing the lab back to its steady state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gameday.actions import ec2, route53
from gameday.lab import Lab
from gameday.probes.dns import dns_answer
from gameday.probes.http import endpoint_available
from gameday.probes.route53 import health_check_status
from tests.lab.helpers import (
    lab_is_the_shared_lab,  # noqa: F401  (lab: the worker's shared lab)
    wait_until,
)

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll until ``check`` is truthy (15 s by default: failovers take a few seconds)."""
    return wait_until(check, timeout)


def answer(lab: Lab) -> list[str]:
    info = lab.info
    return dns_answer(info.record_name, nameserver=info.dns_host, port=info.dns_port)["addresses"]


def health_url(lab: Lab, index: int) -> str:
    return f"http://{lab.info.regions[index].address}:{lab.info.service_port}/health"


def steady(lab: Lab) -> bool:
    return (
        answer(lab) == [lab.info.primary.address]
        and endpoint_available(health_url(lab, 0), timeout=1.0)["available"]
    )


def test_invert_health_check_fails_dns_over_and_restore_brings_it_back(
    lab: Lab, lab_env: dict[str, str], isolated: Path
) -> None:
    info = lab.info
    hc = info.primary.health_check_id
    wait_for(lambda: steady(lab))
    before = health_check_status(hc)
    assert before["healthy"] is True and before["total_observations"] >= 1
    assert dns_answer(info.record_name, nameserver=info.dns_host, port=info.dns_port)["ttl"] >= 0

    assert route53.invert_health_check(hc)["changed"] is True
    wait_for(lambda: answer(lab) == [info.secondary.address])
    assert health_check_status(hc)["healthy"] is False
    # the application itself is fine: only Route 53's verdict changed
    assert endpoint_available(health_url(lab, 0))["available"] is True

    assert route53.restore_health_check(hc)["changed"] is True
    wait_for(lambda: answer(lab) == [info.primary.address])
    assert health_check_status(hc)["healthy"] is True


def test_block_endpoint_black_holes_the_primary_and_unblock_lets_it_answer(
    lab: Lab, lab_env: dict[str, str], isolated: Path
) -> None:
    info = lab.info
    wait_for(lambda: steady(lab))
    blocked = ec2.block_endpoint(region=info.primary.name, subnet_id=info.primary.subnet_id)
    assert blocked["network_acl_id"] == info.primary.network_acl_id
    try:
        down = wait_for(
            lambda: (
                (r := endpoint_available(health_url(lab, 0), timeout=0.5))["error"] == "timeout"
                and r
            )
        )
        assert down["status"] is None  # dropped, not refused
        wait_for(lambda: answer(lab) == [info.secondary.address])
        served = endpoint_available(health_url(lab, 1))
        assert served["available"] and served["region"] == info.secondary.name
    finally:
        removed = ec2.unblock_endpoint(region=info.primary.name, subnet_id=info.primary.subnet_id)
    assert removed["removed"] == [blocked["rule_number"]]
    wait_for(lambda: endpoint_available(health_url(lab, 0), timeout=1.0)["available"])
    wait_for(lambda: answer(lab) == [info.primary.address])


INJECTOR = """
import sys, time
from gameday.actions import ec2, route53
region, subnet, hc = sys.argv[1:4]
route53.invert_health_check(hc)
ec2.block_endpoint(region=region, subnet_id=subnet)
print("injected", flush=True)
time.sleep(120)
"""


def test_sigkilled_drill_is_recovered_by_gameday_recover(
    lab: Lab, lab_env: dict[str, str], isolated: Path, tmp_path: Path
) -> None:
    info = lab.info
    wait_for(lambda: steady(lab))
    env = {**os.environ, "GAMEDAY_FAULT_LEDGER": str(isolated)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            INJECTOR,
            info.primary.name,
            info.primary.subnet_id,
            info.primary.health_check_id,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "injected", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    wait_for(lambda: answer(lab) == [info.secondary.address])  # faults are in place

    gameday = [sys.executable, "-m", "gameday.cli"]
    dry = subprocess.run(
        [*gameday, "recover", "--dry-run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0 and "Would revert 2" in dry.stdout, dry.stdout + dry.stderr
    done = subprocess.run(
        [*gameday, "recover"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("reverted") == 2
    wait_for(lambda: steady(lab), timeout=20)
    again = subprocess.run(
        [*gameday, "recover"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert "Nothing to recover" in again.stdout
