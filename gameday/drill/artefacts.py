"""The run files the control writes (the contract with the report), and the cleanup.

``run.json`` (what ran, where, against which objectives and floors), ``faults.jsonl``
(this run's slice of the fault ledger), ``lab-events.jsonl`` (the lab's ground truth over
the run's window); and :func:`revert_open_faults`, which after
the experiment, whatever happened, reverts every fault the method injected that is still
open, and closes (without undoing) what a rollback recorded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from importlib import metadata
from typing import Any

from gameday.drill import rundir as rd
from gameday.drill.safety import run_json_fields as safety_fields
from gameday.drill.state import DrillRun
from gameday.rundir import epoch
from gameday.rundir.files import write_atomic

logger = logging.getLogger("chaostoolkit")


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("gameday", "chaostoolkit-lib", "chaostoolkit-aws", "moto", "locust"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def floors(run: DrillRun) -> dict[str, Any]:
    """The physical floor of a DNS failover, read from Route 53 at run start."""
    from gameday.aws import client

    c = run.configuration
    found: dict[str, Any] = {
        "health_check_interval_s": None,
        "failure_threshold": None,
        "ttl_s": None,
        "lab_speed": None,
    }
    with contextlib.suppress(Exception):
        hc = client("route53", configuration=c).get_health_check(
            HealthCheckId=c["primary_health_check_id"]
        )["HealthCheck"]["HealthCheckConfig"]
        found["health_check_interval_s"] = float(hc.get("RequestInterval", 30))
        found["failure_threshold"] = int(hc.get("FailureThreshold", 3))
    with contextlib.suppress(Exception):
        zone = c["hosted_zone_id"]
        name = str(c["service_name"]).rstrip(".") + "."
        records = client("route53", configuration=c).list_resource_record_sets(
            HostedZoneId=zone, StartRecordName=name
        )["ResourceRecordSets"]
        ttls = [r["TTL"] for r in records if r["Name"] == name and "TTL" in r]
        found["ttl_s"] = float(min(ttls)) if ttls else None
    if c.get("gameday_target") == "lab" and c.get("gameday_lab_dir"):
        # The lab runs AWS's durations `speed` times faster. The floors stay in AWS seconds,
        # as Route 53 holds them; the report converts (gameday.reports.clock).
        from gameday.lab import api

        speed = api.speed(str(c["gameday_lab_dir"]))
        if speed:
            found["lab_speed"] = speed
    return found


def write_run_json(run: DrillRun) -> None:
    assert run.run_dir is not None
    c = run.configuration
    objectives = run.settings.objectives.to_json() if run.settings else None
    load = run.settings.load if run.settings else None
    users = int(os.environ.get("GAMEDAY_USERS") or (load.users if load else 0))
    run.run_json = {
        "schema": 1,
        "experiment": {
            "name": run.settings.name if run.settings else None,
            "title": run.experiment.get("title"),
            "path": str(run.path) if run.path else None,
        },
        "target": "lab" if c.get("gameday_target") == "lab" else "aws",
        "account": run.account,
        "regions": {"primary": c.get("primary_region"), "secondary": c.get("secondary_region")},
        "objectives": objectives,
        "floors": run.run_json.get("floors") or {},
        "versions": versions(),
        "configuration": {k: v for k, v in c.items() if "secret_access" not in k},
        "started": run.started,
        "ended": None,
        "load": {
            "users": users,
            "spawn_rate": float((load.spawn_rate if load else None) or users),
            "sticky_share": float(load.sticky_share) if load else 0.0,
            "profile": load.profile if load else None,
        },
        "error": run.error,
        "cleanup": run.cleanup,
        "pid": os.getpid(),
        **safety_fields(run),
    }
    rd.write_json(run.run_dir / rd.RUN_JSON, run.run_json)


def this_runs_entries(run: DrillRun) -> list[Any]:
    from gameday.faults import Ledger, ledger_path

    ledger = Ledger(ledger_path(run.configuration))
    return [
        entry
        for entry in ledger.entries()
        if entry.pid == os.getpid() and epoch(entry.time) >= run.started - 1
    ]


def revert_open_faults(run: DrillRun) -> None:
    """Revert every fault of this run still open in the ledger; record what was done."""
    from gameday.faults import REVERTED, Ledger, ledger_path
    from gameday.recovery import rollback_for

    ledger = Ledger(ledger_path(run.configuration))
    for entry in reversed(this_runs_entries(run)):
        # A rollback that had nothing of this run to revert (a writer moved back after an
        # operator's own failover, say) records what it did as a fault of its own: undoing
        # that would undo the rollback. Only what the method injected is reverted here.
        begun = epoch(entry.time)
        if not entry.open:
            continue
        if run.rollbacks_started and begun >= run.rollbacks_started:
            # closed, not undone: 'gameday recover' must not undo a rollback either
            ledger.mark(entry.id, REVERTED, by="gameday control: a rollback's own change")
            run.cleanup.append(
                {
                    "id": entry.id,
                    "activity": entry.activity,
                    "target": entry.target,
                    "undo": None,
                    "outcome": "closed (made by a rollback)",
                    "error": None,
                }
            )
            continue
        item = {
            "id": entry.id,
            "activity": entry.activity,
            "target": entry.target,
            "undo": entry.undo.describe(),
            "outcome": "reverted",
            "error": None,
        }
        try:
            func = rollback_for(entry)
            func(**entry.undo.kwargs, configuration=run.configuration, secrets=run.secrets)
            ledger.mark(entry.id, REVERTED, by="gameday control (after the experiment)")
        except Exception as exc:
            item["outcome"], item["error"] = "error", str(exc)
        logger.warning(
            "gameday: fault %s (%s) was still open: %s", entry.id, entry.activity, item["outcome"]
        )
        run.cleanup.append(item)


def write_faults_slice(run: DrillRun) -> None:
    from gameday.faults import ledger_path

    assert run.run_dir is not None
    ids = {entry.id for entry in this_runs_entries(run)}
    path = ledger_path(run.configuration)
    lines = []
    with contextlib.suppress(FileNotFoundError):
        for raw in path.read_bytes().splitlines(keepends=True):
            with contextlib.suppress(ValueError):
                if raw.endswith(b"\n") and json.loads(raw).get("id") in ids:
                    lines.append(raw)
    write_atomic(run.run_dir / rd.FAULTS, b"".join(lines))


def write_lab_events(run: DrillRun, ended: float) -> None:
    assert run.run_dir is not None
    lab_dir = run.configuration.get("gameday_lab_dir")
    if run.configuration.get("gameday_target") != "lab" or not lab_dir:
        return
    from gameday.lab import api

    events = api.events_between(str(lab_dir), run.started - 1, ended + 1)
    body = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    write_atomic(run.run_dir / rd.LAB_EVENTS, body.encode("utf-8"))
