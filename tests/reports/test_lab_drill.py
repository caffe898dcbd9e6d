"""A report rendered from a real lab run: the load runs (both client cohorts) while the
lab holds replication back (its lab-only delay), the existing actions black-hole the primary and fail the database over with
data loss; then the audit, the report, and the comparison with the lab's ground truth.

Must show: the lost ids equal the ids the lab's stores hold as lost, exactly; the measured
DNS change is within one probe interval of the lab's logged DNS change.
"""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest

from gameday.actions import ec2, rds
from gameday.lab import Lab
from gameday.lab.config import LabConfig
from gameday.lab.region.client import RegionClient
from gameday.load.runner import LoadRun
from gameday.load.settings import LoadSettings
from gameday.probes.dns import dns_answer
from gameday.probes.rds import writer_region
from gameday.probes.route53 import health_check_status
from gameday.reports import build_report
from gameday.reports.audit import HttpBatchLookup, acked_writes, audit_writes, write_audit
from gameday.reports.summary import schema

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PROBE_INTERVAL = 0.25  # the sampler's period, seconds
OBJECTIVES = {"rto_seconds": 30, "rpo_seconds": 1}
RECOVERY = {"window_seconds": 5, "success_threshold": 0.95, "min_requests": 20}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).replace(tzinfo=None).isoformat()


class Journal:
    """Records the actions as Chaos Toolkit would (activity, start, end, status)."""

    def __init__(self) -> None:
        self.run: list[dict[str, Any]] = []
        self.rollbacks: list[dict[str, Any]] = []
        self.start = time.time()

    def act(self, name: str, func: Any, *, rollback: bool = False, **kwargs: Any) -> Any:
        started = time.time()
        output = func(**kwargs)
        entry = {
            "activity": {"type": "action", "name": name,
                         "provider": {"type": "python", "module": func.__module__, "func": func.__name__}},
            "status": "succeeded", "start": iso(started), "end": iso(time.time()), "output": output,
        }  # fmt: skip
        (self.rollbacks if rollback else self.run).append(entry)
        return output

    def to_json(self) -> dict[str, Any]:
        extension = {
            "name": "gameday",
            "fault_activity": "block-primary",
            "objectives": OBJECTIVES,
            "recovery": RECOVERY,
        }
        return {
            "status": "completed", "start": iso(self.start), "end": iso(time.time()), "run": self.run,
            "rollbacks": self.rollbacks, "experiment": {"title": "Regional outage with data loss", "extensions": [extension]},
            "steady_states": {"before": {"steady_state_met": True, "probes": []}, "after": {"steady_state_met": True, "probes": []}},
        }  # fmt: skip


class Sampler(threading.Thread):
    """The timeline probes every PROBE_INTERVAL, on a fixed schedule, into samples.jsonl."""

    def __init__(self, path: Path, lab: Lab) -> None:
        super().__init__(daemon=True)
        self.path, self.info = path, lab.info
        self.region_of = {r.address: r.name for r in lab.info.regions}
        self.halt = threading.Event()

    def run(self) -> None:
        info = self.info
        next_at = time.monotonic()
        with self.path.open("a") as out:
            while not self.halt.is_set():
                now = time.time()
                answer = dns_answer(
                    info.record_name, nameserver=info.dns_host, port=info.dns_port, timeout=0.5
                )
                addresses = answer["addresses"]
                region = self.region_of.get(addresses[0]) if len(addresses) == 1 else None
                lines = [
                    (
                        "dns_answer",
                        info.record_name,
                        {"addresses": addresses, "region": region},
                        now,
                    )
                ]
                t = time.time()
                lines.append(
                    (
                        "health_check",
                        info.primary.health_check_id,
                        {"healthy": health_check_status(info.primary.health_check_id)["healthy"]},
                        t,
                    )
                )
                t = time.time()
                lines.append(
                    (
                        "writer_region",
                        info.global_cluster_id,
                        writer_region(info.global_cluster_id, region=info.secondary.name),
                        t,
                    )
                )
                for probe, subject, value, at in lines:
                    out.write(
                        json.dumps(
                            {
                                "time": at,
                                "probe": probe,
                                "subject": subject,
                                "value": value,
                                "ok": True,
                                "error": None,
                            }
                        )
                        + "\n"
                    )
                out.flush()
                next_at += PROBE_INTERVAL
                self.halt.wait(max(0.0, next_at - time.monotonic()))


def floors(lab: Lab) -> dict[str, Any]:
    """Interval, threshold and TTL read from Route 53 (AWS seconds) and the lab's speed."""
    info = lab.info
    r53 = boto3.client("route53")
    config = r53.get_health_check(HealthCheckId=info.primary.health_check_id)["HealthCheck"][
        "HealthCheckConfig"
    ]
    records = r53.list_resource_record_sets(HostedZoneId=info.zone_id)["ResourceRecordSets"]
    ttl = next(r["TTL"] for r in records if r["Name"].rstrip(".") == info.record_name)
    speed = 1 / LabConfig().time_scale  # the fixture's lab runs the default configuration
    return {"health_check_interval_s": float(config["RequestInterval"]), "failure_threshold": config["FailureThreshold"],
            "ttl_s": float(ttl), "lab_speed": speed}  # fmt: skip


def test_a_real_lab_drill_measures_what_the_lab_logged(lab: Lab, lab_env: dict[str, str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    info = lab.info
    primary, secondary = info.primary, info.secondary
    run_dir = tmp_path / "reports" / "regional-outage" / "20261130T150000Z"
    run_dir.mkdir(parents=True)
    monkeypatch.setenv("GAMEDAY_FAULT_LEDGER", str(run_dir / "faults.jsonl"))
    started = time.time()
    run_floors = floors(lab)
    load = LoadRun(LoadSettings(
        target=info.record_name, port=info.service_port, nameserver=f"{info.dns_host}:{info.dns_port}",
        lab=True, users=6, run_time=120, think_min=0.02, think_max=0.05, connect_timeout=1.0,
        network_timeout=1.0, ledger=run_dir / "requests.jsonl", extra_args=("--sticky-share", "0.34"),
    ))  # fmt: skip
    journal = Journal()
    sampler = Sampler(run_dir / "samples.jsonl", lab)
    try:
        load.start()
        load.wait_until_producing(min_records=50, timeout=30)
        sampler.start()
        time.sleep(3.0)  # steady state before the fault, as a drill observes it
        # No AWS fault delays Aurora's storage replication (issue 11): the unshipped writes
        # come from the lab-only replication delay, named as such in the journal.
        journal.act("lab-only-replication-delay", lab.set_lag, seconds=1200)
        time.sleep(2.0)  # writes the primary acknowledges now are not shipped
        journal.act(
            "block-primary", ec2.block_endpoint, region=primary.name, subnet_id=primary.subnet_id
        )
        lab.wait_for_event(
            lambda e: e["kind"] == "dns" and e["answer"] == [secondary.address],
            timeout=10,
            since=started,
        )
        time.sleep(
            1.5
        )  # the operator decides to fail the database over: writes are refused meanwhile
        journal.act("fail-over-database", rds.failover_database, global_cluster_id=info.global_cluster_id,
                    target_region=secondary.name, timeout=20, poll_interval=0.05)  # fmt: skip
        time.sleep(RECOVERY["window_seconds"] + 4.0)  # a full recovery window, observed
        journal.act(
            "unblock-primary",
            ec2.unblock_endpoint,
            rollback=True,
            region=primary.name,
            subnet_id=primary.subnet_id,
        )
        journal.act("lab-only-replication-delay-off", lab.set_lag, rollback=True,
                    seconds=LabConfig().replication_lag)  # fmt: skip
        time.sleep(1.0)
    finally:
        sampler.halt.set()
        result = load.stop()
        sampler.join(timeout=5)
    lost_in_lab = {o["id"] for o in RegionClient(primary.control_port).lost()}
    audit = audit_writes(acked_writes(run_dir / "requests.jsonl"),
                         HttpBatchLookup(f"http://{secondary.address}:{info.service_port}"),
                         writer_region=secondary.name,
                         old_lookup=HttpBatchLookup(f"http://{primary.address}:{info.service_port}"),
                         old_region=primary.name)  # fmt: skip
    journal.act("fail-back", rds.switchover_database, rollback=True, global_cluster_id=info.global_cluster_id,
                target_region=primary.name, timeout=40, poll_interval=0.05)  # fmt: skip
    write_audit(run_dir, audit)
    events = lab.events(since=started)
    (run_dir / "lab-events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run_dir / "journal.json").write_text(json.dumps(journal.to_json(), default=str))
    (run_dir / "run.json").write_text(json.dumps({
        "schema": 1, "experiment": {"name": "regional-outage", "title": "Regional outage with data loss", "path": None},
        "target": "lab", "account": "123456789012", "regions": {"primary": primary.name, "secondary": secondary.name},
        "objectives": {**OBJECTIVES, **RECOVERY}, "floors": run_floors, "versions": {}, "configuration": {},
        "started": started, "ended": time.time(), "load": {"users": 6, "spawn_rate": 6, "sticky_share": 0.34},
    }))  # fmt: skip
    assert result.complete, result

    summary = build_report(run_dir)
    data = summary.to_json()
    jsonschema.validate(data, schema())
    print(f"\nlab drill: {summary.verdict}; RTO {summary.rto_seconds}; RPO {summary.rpo_seconds}; "
          f"lost {summary.lost_write_count} (lab: {len(lost_in_lab)})")  # fmt: skip

    # the lost ids are exactly the ones the lab's old writer moved aside
    assert lost_in_lab, "the drill lost nothing: replication was not paused long enough"
    assert {w.id for w in audit.lost} == lost_in_lab
    assert summary.lost_write_count == len(lost_in_lab)
    # the service record's DNS change is the lab's own logged change (ground truth first)
    speed = run_floors["lab_speed"]
    dns_event = next(e for e in events if e["kind"] == "dns" and e["name"] == info.record_name
                     and e["answer"] == [secondary.address] and e.get("previous"))  # fmt: skip
    phases = {p["key"]: p for p in data["phases"]}
    assert phases["dns-change"]["time"] == pytest.approx(dns_event["time"])
    # the probe saw it at its first sample after the change: the sample before was taken
    # before the lab changed the record (compared with the samples' own times, which a
    # busy machine spaces more than the nominal interval, not with that interval)
    seen = phases["dns-probe"]["time"]
    taken = sorted(json.loads(x)["time"] for x in (run_dir / "samples.jsonl").read_text().splitlines()
                   if json.loads(x)["probe"] == "dns_answer")  # fmt: skip
    assert max(t for t in taken if t < seen) < dns_event["time"]
    # TTL clients follow within the served TTL + one health-check interval (lab seconds)
    ttl_lab = math.ceil(run_floors["ttl_s"] / speed)
    interval_lab = run_floors["health_check_interval_s"] / speed
    assert 0 <= phases["dns-shift"]["time"] - dns_event["time"] <= ttl_lab + interval_lab
    writer_event = next(
        e for e in events if e["kind"] == "writer" and e["region"] == secondary.name
    )
    assert phases["promotion"]["time"] == pytest.approx(writer_event["time"])  # the lab's log
    # RPO: the later of t0 and the newest lost ack before the promotion, minus the oldest
    t0 = data["recovery"]["t0"]
    newest = max(w.acked_at for w in audit.lost if w.acked_at <= writer_event["time"])
    assert summary.rpo_seconds == pytest.approx((max(t0, newest) - audit.lost[0].acked_at) * speed)
    cohorts = {c["cohort"]: c for c in data["cohorts"]}
    assert (
        cohorts["ttl"]["rto_seconds"] is not None
        and cohorts["sticky"]["reached_recovery_region_s"] is None
    )
    codes = {f["code"] for f in data["findings"]}
    assert {"lost-writes", "sticky-never-moved", "writes-refused-after-dns"} <= codes
    assert summary.verdict == "missed"  # RPO objective 1 s against seconds of paused replication
    assert (
        next(r for r in data["results"] if r["name"] == "every fault reverted")["status"] == "met"
    )
    html = (run_dir / "report.html").read_text()
    assert "Objectives missed" in html
    assert all(w.id in html for w in audit.lost[:20])  # the sample of lost writes is shown
