"""A fault that cuts the writer off is never held in place while the audit waits on it.

The audit reads every acknowledged write back from the writer region. When the fault itself
cuts that region off (a blocked endpoint and no failover), the drill rolls back first and
audits afterwards, and the audit is still exact. Before, the audit waited on the blocked
region with the fault in place (3 x 10 s, then failed), which the safety matrix caught.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gameday.drill.runner import RunRequest, run_drill
from gameday.lab import Lab
from tests.drills.conftest import lost_in_truth, wait_for_steady_state

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _block(func: str, name: str) -> dict[str, Any]:
    return {
        "type": "action",
        "name": name,
        "provider": {
            "type": "python",
            "module": "gameday.actions.ec2",
            "func": func,
            "arguments": {
                "region": "${primary_region}",
                "network_acl_id": "${primary_network_acl_id}",
            },
        },
    }


def _experiment(variables: dict[str, Any]) -> dict[str, Any]:
    """The primary's endpoint blocked for 10 AWS s, nothing failed over: the writer (the
    primary) does not answer when the method ends."""
    return {
        "version": "1.0.0",
        "title": "the writer is cut off at the audit",
        "description": "A blocked primary, no failover.",
        "configuration": {
            k: {"type": "env", "key": f"UNUSED_{k.upper()}", "default": None} for k in variables
        },
        "method": [{**_block("block_endpoint", "block-primary"), "pauses": {"after": 10}}],
        "rollbacks": [_block("unblock_endpoint", "unblock-primary")],
        "extensions": [
            {
                "name": "gameday",
                "drill": "audit-after-rollback",
                "fault_activity": "block-primary",
                "objectives": {"rto_seconds": 600, "rpo_seconds": 600},
                "recovery": {"window_seconds": 1, "success_threshold": 0.5, "min_requests": 1},
                "load": {"users": 2, "write_ratio": 0.5},
                "observation": {"max_seconds": 1},
            }
        ],
        "controls": [
            {"name": "gameday", "provider": {"type": "python", "module": "gameday.control"}}
        ],
    }


def test_a_cut_off_writer_is_audited_after_the_rollbacks(
    drill_lab: Lab, drill_env: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    variables = drill_env["vars"]
    wait_for_steady_state(variables)
    path = tmp_path / "cut-off-writer.json"
    path.write_text(json.dumps(_experiment(variables)))

    outcome = run_drill(RunRequest(path, [drill_env["var_file"]], unattended=True))

    run_dir = outcome.run_dir
    assert run_dir is not None, outcome.message
    run_json = json.loads((run_dir / "run.json").read_text())
    assert run_json["cleanup"] == [], run_json["cleanup"]  # no audit error, every fault closed
    assert "the audit waits until the rollbacks have run" in caplog.text
    audit = json.loads((run_dir / "audit.json").read_text())
    assert audit["writer_region"] == variables["primary_region"]
    assert {w["id"] for w in audit["lost"]} == lost_in_truth(
        drill_lab, run_dir, audit["writer_region"]
    )
    # the audit began once the rollback had lifted the block (the journal's own times)
    journal = json.loads((run_dir / "journal.json").read_text())
    (unblock,) = journal["rollbacks"]
    assert unblock["status"] == "succeeded" and unblock["output"]["removed"]
    lifted = datetime.fromisoformat(unblock["end"]).replace(tzinfo=UTC).timestamp()
    assert lifted <= audit["audited_at"] - audit["duration_s"]
    wait_for_steady_state(variables)
