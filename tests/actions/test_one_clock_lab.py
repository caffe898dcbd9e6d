"""On the lab, an action's ``timeout`` is AWS seconds: waited at 1/speed, reported as written.

The shared lab runs at speed 10 with a 60 AWS s global failover. A failover given 30 AWS s
must give up after about 3 seconds of this machine's clock (it waited 30 before the one
clock reached the actions), say "30 s" (what the experiment wrote), and leave its fault
open for the rollback, which waits for the failover and the rebuild and brings the writer
back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday import faults
from gameday.actions import rds as rds_actions
from gameday.lab import Lab
from gameday.lab.varfile import varfile_path

pytestmark = pytest.mark.lab


def test_a_failover_timeout_is_aws_seconds_on_the_lab(
    steady_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configuration = json.loads(varfile_path(steady_lab.dir).read_text())["configuration"]
    ledger = tmp_path / "faults.jsonl"
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(ledger))
    speed = steady_lab.state()["config"]["speed"]
    gcid = configuration["global_cluster_id"]
    primary, secondary = configuration["primary_region"], configuration["secondary_region"]

    started = time.monotonic()
    with pytest.raises(ActivityFailed, match="did not finish within 30 s"):
        rds_actions.failover_database(
            global_cluster_id=gcid, target_region=secondary, timeout=30, poll_interval=2,
            configuration=configuration,
        )  # fmt: skip
    waited = time.monotonic() - started
    # 30 AWS s at speed 10 is 3 s here; the failover itself takes 60 AWS s (6 s)
    assert waited < 30 / speed * 4, waited
    (entry,) = faults.Ledger(ledger).entries()
    assert entry.state == faults.APPLIED  # unfinished: the rollback must bring the writer back

    back = rds_actions.switchover_database(
        global_cluster_id=gcid, target_region=primary, timeout=2400, poll_interval=2,
        configuration=configuration,
    )  # fmt: skip
    assert back["completed"] and back["reverted"] == [entry.id]
    # AWS seconds: the failover's remaining time, the rebuild and the switchover (60 + 20 +
    # 60 AWS s on the shared lab, less the 30 already waited), not the seconds waited here
    assert back["elapsed_seconds"] > 60
