"""Every catalogue drill, run against the lab with nothing but its var file.

For each drill: the verdict, the measured RTO inside the band the lab's configuration
predicts, the lost writes equal to the lab's ground truth (the writer's store on disk),
every AWS call made covered by ``gameday iam``'s policy for it, and the lab back in its
steady state afterwards (DNS on the primary, both checks healthy, the original writer,
the secret in the recovery region, replication flowing).

Predicted bands, in lab seconds, for the lab's speed (a Route 53 interval ``i`` of 10 s is
``10/speed``; a TTL is served as ``ceil(TTL/speed)`` = ``t``; an Aurora failover takes
``failover_seconds/speed``) and failure threshold ``n``:

* no outage expected (a fault users must not see): RTO below ``i``;
* a black-holed primary: detection takes between ``(n-1)*i`` and ``n*i`` (probes are
  ``i`` apart, the first may come just after the fault), then clients follow within ``t``;
  or the promotion (the 1 s pause and the failover) when it takes longer; plus one probe
  period and 2 s of slack (publication, the sampler, a request's timeout);
* a writer moved while DNS still points at the old region: the next evaluation after the
  health-check change (``<= i``) plus ``t``, plus slack.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from botocore.client import BaseClient

from gameday.drill.runner import RunRequest, run_drill
from gameday.iam import actions_for, iam_prefix
from gameday.lab import Lab
from tests.drills.conftest import lost_in_truth, wait_for_steady_state

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def band(name: str, lab: Lab) -> tuple[float, float]:
    """The RTO the lab's configuration predicts for drill ``name`` (lab seconds)."""
    config = lab.state()["config"]
    # The lab runs AWS's durations `speed` times faster: a 10 s Route 53 interval, TTLs
    # served as ceil(TTL / speed), Aurora failovers in failover_seconds / speed.
    speed = float(config["speed"])
    i, n = 10.0 / speed, config["failure_threshold"]
    t = math.ceil(config["ttl"] / speed)
    failover = float(config.get("failover_seconds", 0.0)) / speed
    outage = ((n - 1) * i, max(n * i + t, 1.0 + failover) + i + 2.0)  # the pause, the call
    return {
        "dns-failover": (0.0, i),
        "region-evacuation": outage,
        "runbook-failover": (outage[0], outage[1] + 2.0),  # + the operator steps' delays
        "database-failover": (0.0, i + t + 2.0),
        "replication-lag-exceeds-rpo": (0.0, i),
        "secondary-missing-secret": (0.0, i),
        "failback": (0.0, i + t + 2.0 + 2.0),  # + the pause before the health check is restored
        "duplicate-replay": (0.0, i + t + 2.0),
    }[name]


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every AWS API action made in this process (``prefix:Operation``), recorded."""
    calls: set[str] = set()
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: dict) -> dict:
        calls.add(f"{iam_prefix(self.meta.service_model)}:{operation_name}")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def run(name: str, env: dict, **kwargs: object):
    path = ROOT / "experiments" / f"{name}.json"
    return run_drill(RunRequest(path, [env["var_file"]], unattended=True, **kwargs))  # type: ignore[arg-type]


EXPECTED = {
    "dns-failover": "met",
    "region-evacuation": "met",
    "database-failover": None,  # loss depends on what was unshipped: judged against truth
    "replication-lag-exceeds-rpo": None,
    "secondary-missing-secret": "met",
    "failback": "met",
    "duplicate-replay": "met",
    "runbook-failover": "met",
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_drill_measures_what_the_lab_did(
    name: str, drill_lab: Lab, drill_env: dict, aws_calls: set[str]
) -> None:
    wait_for_steady_state(drill_env["vars"])
    outcome = run(name, drill_env)
    assert outcome.run_dir is not None, outcome.message
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    if EXPECTED[name]:
        assert outcome.verdict == EXPECTED[name], summary.get("verdict_text")
    assert outcome.exit_code == {"met": 0, "missed": 1}[outcome.verdict]

    low, high = band(name, drill_lab)
    rto = summary["rto_seconds"]
    assert rto is not None and low <= rto <= high, (rto, (low, high), summary["phases"])

    audit = json.loads((outcome.run_dir / "audit.json").read_text())
    writer = audit["writer_region"]
    truth = lost_in_truth(drill_lab, outcome.run_dir, writer)
    assert {w["id"] for w in audit["lost"]} == truth
    assert summary["lost_write_count"] == len(truth)

    experiment = json.loads((ROOT / "experiments" / f"{name}.json").read_text())
    assert aws_calls <= set(actions_for(experiment)), aws_calls - set(actions_for(experiment))

    if name == "replication-lag-exceeds-rpo":  # the decision the runbook must make
        over = json.loads((outcome.run_dir / "run.json").read_text())["replication_lag_over_rpo"]
        assert over["peak_lag_s"] > summary["objectives"]["rpo_seconds"]
        assert over["exceeded_by_s"] == pytest.approx(over["peak_lag_s"] - 2.0)
        notes = (outcome.run_dir / "notes.jsonl").read_text()
        assert "crossed the RPO objective" in notes
        assert "crossed the RPO objective" in (outcome.run_dir / "report.html").read_text()

    run_json = json.loads((outcome.run_dir / "run.json").read_text())
    assert run_json["cleanup"] == []  # the experiment's own rollbacks closed every fault
    assert not [e for e in _open_faults(drill_env)]
    wait_for_steady_state(drill_env["vars"])


def _open_faults(env: dict) -> list:
    from gameday.faults import Ledger

    return [e for e in Ledger(env["ledger"]).entries() if e.open]
