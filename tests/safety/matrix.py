"""The safety matrix's parts: tiny drills, the triggers that stop them, and the lab's own
account of whether it is back in its steady state.

Each cell runs one real ``gameday run`` process (the signals are real signals) against a
lab at a high speed, with a one-action experiment whose fault stays in place until the
trigger: a signal, SIGTERM then SIGKILL (then ``gameday recover``), an exception in an
action, a steady-state probe that fails after the method, a CloudWatch alarm stop
condition, or ``gameday abort``. The steady state is read from the lab's event log (its
ground truth: faults applied and not reverted, health-check flips, DNS answers, writer
changes, replication), never from gameday's report or ledger.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.lab import Lab
from gameday.lab.events import active_faults

TRIGGERS = (
    "SIGINT",
    "SIGTERM",
    "SIGHUP",
    "SIGTERM+SIGKILL",
    "exception",
    "probe",
    "stop-condition",
    "abort",
)
FAULTS = ("health-check", "nacl", "replication", "secret", "failover")
ALARM = "gameday-safety-matrix"
CELL_TIMEOUT = 240.0  # a loaded CI machine: preflight and warm-up can take minutes
#: How long a drill may take to write its report after its rollbacks (not asserted on).
FINISH_TIMEOUT = 300.0
STEADY_TIMEOUT = 30.0
KILL_AFTER = 10.0
IMPAIRED_TIMEOUT = 30.0
#: gameday recover / abort: a fresh interpreter importing the CLI (slow on a loaded machine)
COMMAND_TIMEOUT = 180.0
#: AWS seconds an in-drill trigger (an exception, a failed probe) holds the fault before it
#: fires, as long as the other triggers hold theirs: a FIS pause bites 10 AWS s after it
#: starts on the test labs, and the lab's reconciler must have logged it before the drill
#: rolls it back. 15 AWS s (0.25 lab s of margin at speed 20) was too short on a loaded
#: machine (fresh-clone run 11: "the lab never showed the fault").
IN_DRILL_HOLD = 60
#: The user property that carries a column's cells to the session's summary.
MATRIX_PROPERTY = "gameday_safety_matrix"


def _fault_action(fault: str) -> dict[str, Any]:
    calls = {
        "health-check": ("route53", "invert_health_check", {"health_check_id": "${primary_health_check_id}"}),
        "nacl": ("ec2", "block_endpoint", {"region": "${primary_region}", "network_acl_id": "${primary_network_acl_id}"}),
        "replication": ("fis", "pause_replication", {"region": "${primary_region}", "duration": "PT30M", "table_arns": ["${table_arn}"], "role_arn": "${fis_role_arn}"}),
        "secret": ("secretsmanager", "remove_secret_replica", {"secret_id": "${secret_name}", "replica_region": "${secondary_region}", "region": "${primary_region}"}),
        "failover": ("rds", "failover_database", {"global_cluster_id": "${global_cluster_id}", "target_region": "${secondary_region}", "region": "${secondary_region}", "timeout": 2400, "poll_interval": 6}),
    }  # fmt: skip
    module, func, arguments = calls[fault]
    return {
        "type": "action",
        "name": f"inject-{fault}",
        "provider": {
            "type": "python",
            "module": f"gameday.actions.{module}",
            "func": func,
            "arguments": arguments,
        },
    }


def _rollback(fault: str) -> dict[str, Any]:
    """The experiment's declared rollback of ``fault`` (the control reverts it anyway)."""
    calls = {
        "health-check": ("route53", "restore_health_check", {"health_check_id": "${primary_health_check_id}"}),
        "nacl": ("ec2", "unblock_endpoint", {"region": "${primary_region}", "network_acl_id": "${primary_network_acl_id}"}),
        "replication": ("fis", "resume_replication", {"region": "${primary_region}"}),
        "secret": ("secretsmanager", "restore_secret_replica", {"secret_id": "${secret_name}", "replica_region": "${secondary_region}", "region": "${primary_region}"}),
        "failover": ("rds", "switchover_database", {"global_cluster_id": "${global_cluster_id}", "target_region": "${primary_region}", "region": "${primary_region}", "timeout": 2400, "poll_interval": 6}),
    }  # fmt: skip
    module, func, arguments = calls[fault]
    return {
        "type": "action",
        "name": f"undo-{fault}",
        "provider": {
            "type": "python",
            "module": f"gameday.actions.{module}",
            "func": func,
            "arguments": arguments,
        },
    }


def _steady_probe(fault: str, primary_region: str) -> dict[str, Any]:
    """A steady-state probe that holds before the fault and fails while it is in place."""
    jsonpath = {"type": "jsonpath", "path": "$.healthy", "expect": True}
    probes = {
        "health-check": ("route53", "health_check_status", {"health_check_id": "${primary_health_check_id}"}, jsonpath),
        "nacl": ("route53", "health_check_status", {"health_check_id": "${primary_health_check_id}"}, jsonpath),
        "replication": ("replication", "replication_lag", {"source_url": "${primary_endpoint}", "target_url": "${secondary_endpoint}", "timeout": 1}, {"type": "jsonpath", "path": "$.replicated", "expect": True}),
        "secret": ("secretsmanager", "secret_available", {"secret_id": "${secret_name}", "region": "${secondary_region}"}, True),
        "failover": ("rds", "writer_region", {"global_cluster_id": "${global_cluster_id}", "region": "${secondary_region}"}, primary_region),
    }  # fmt: skip
    module, func, arguments, tolerance = probes[fault]
    return {
        "type": "probe",
        "name": f"steady-{fault}",
        "tolerance": tolerance,
        "provider": {
            "type": "python",
            "module": f"gameday.probes.{module}",
            "func": func,
            "arguments": arguments,
        },
    }


def experiment(fault: str, trigger: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A one-fault drill that holds its fault until ``trigger`` (or ends by itself for the
    in-drill triggers: an exception, a failed probe)."""
    hold = IN_DRILL_HOLD if trigger in ("exception", "probe") else 60
    method = [{**_fault_action(fault), "pauses": {"after": hold}}]
    if trigger == "exception":
        bad = _rollback("health-check")  # an action that raises: NoSuchHealthCheck
        bad["name"] = "an-action-that-raises"
        bad["provider"]["arguments"] = {"health_check_id": "no-such-health-check"}
        method.append(bad)
    ext: dict[str, Any] = {
        "name": "gameday",
        "drill": f"matrix-{fault}",
        "fault_activity": f"inject-{fault}",
        "objectives": {"rto_seconds": 600, "rpo_seconds": 600},
        "recovery": {"window_seconds": 1, "success_threshold": 0.5, "min_requests": 1},
        "load": {"users": 1, "warmup": {"min_successes": 2, "max_error_ratio": 0.5, "timeout_seconds": 30}},
        "observation": {"max_seconds": 1},
        "sampling": {"interval_seconds": 0.5},
    }  # fmt: skip
    if trigger == "stop-condition":
        ext["stop_conditions"] = {"cloudwatch_alarms": [ALARM]}
    doc: dict[str, Any] = {
        "version": "1.0.0",
        "title": f"safety matrix: {fault} x {trigger}",
        "description": "One fault held until the trigger; the lab must end steady.",
        "configuration": {k: {"type": "env", "key": f"UNUSED_{k.upper()}", "default": None} for k in variables},
        "method": method,
        "rollbacks": [_rollback(fault)],
        "extensions": [ext],
        "controls": [{"name": "gameday", "provider": {"type": "python", "module": "gameday.control"}}],
    }  # fmt: skip
    if trigger == "probe":
        doc["steady-state-hypothesis"] = {
            "title": "the fault is not in place",
            "probes": [_steady_probe(fault, variables["primary_region"])],
        }
    return doc


# -- the lab's own state ----------------------------------------------------------------


def lab_problems(lab: Lab, variables: dict[str, Any]) -> list[str]:
    """How the lab, by its own event log, differs from its steady state (empty: steady)."""
    events = lab.events()
    problems = [
        f"fault still applied: {e.get('fault')} ({e.get('source')}, {e.get('region')})"
        for e in active_faults(events)
    ]
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        kind = event.get("kind")
        if kind == "health":
            last[("health", str(event.get("health_check_id")))] = event
        elif kind == "dns" and event.get("name") == variables["service_name"].rstrip("."):
            last[("dns", "")] = event
        elif kind in ("writer", "replication"):
            last[(kind, "")] = event
    for role in ("primary", "secondary"):
        health = last.get(("health", variables[f"{role}_health_check_id"]))
        if health and (not health.get("healthy") or health.get("inverted")):
            problems.append(f"{role} health check unhealthy or inverted: {health}")
    dns = last.get(("dns", ""))
    primary_address = variables["primary_endpoint"].split("//")[1].split(":")[0]
    if dns and dns.get("answer") != [primary_address]:
        problems.append(f"DNS answers {dns.get('answer')}, not the primary {primary_address}")
    writer = last.get(("writer", ""))
    if writer and writer.get("region") != variables["primary_region"]:
        problems.append(f"the writer is {writer.get('region')}")
    replication = last.get(("replication", ""))
    if replication and replication.get("state") != "flowing":
        problems.append(f"replication {replication.get('state')}: {replication.get('reason')}")
    return problems


def await_steady(lab: Lab, variables: dict[str, Any], timeout: float) -> float:
    """Wall time when the lab first reports its steady state; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        problems = lab_problems(lab, variables)
        if not problems:
            return time.time()
        if time.monotonic() > deadline:
            raise AssertionError("the lab is not steady: " + "; ".join(problems))
        time.sleep(0.05)


def await_impaired(lab: Lab, variables: dict[str, Any], timeout: float) -> list[str]:
    """The lab's own account of the fault once it shows one (AssertionError if it never does)."""
    deadline = time.monotonic() + timeout
    while True:
        problems = lab_problems(lab, variables)
        if problems:
            return problems
        if time.monotonic() > deadline:
            raise AssertionError("the lab never showed the fault")
        time.sleep(0.02)


# -- running one cell -------------------------------------------------------------------


@dataclass
class Cell:
    """One cell's outcome (``exit_code`` is filled in once its process has ended)."""

    fault: str
    trigger: str
    passed: bool
    seconds_to_steady: float | None
    exit_code: int | None
    detail: str = ""
    process: Any = None
    log: Any = None

    def finish(self, timeout: float) -> None:
        """Wait for the drill's process (it may still be writing its report)."""
        if self.process is None:
            return
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # stop it as an operator would: it rolls back
            self.process.terminate()
            try:
                self.exit_code = self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.exit_code = self.process.wait()
            self.passed, self.detail = False, "the drill did not end"
        if self.log is not None:
            self.log.close()
        self.process = self.log = None

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON (what crosses from an xdist worker to the session summary)."""
        return {name: getattr(self, name) for name in OUTCOME_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        return cls(**{name: data[name] for name in OUTCOME_FIELDS})


#: The fields of a cell's outcome (the rest is its running process and log).
OUTCOME_FIELDS = ("fault", "trigger", "passed", "seconds_to_steady", "exit_code", "detail")


def summary(cells: list[Cell], speed: float) -> str:
    """The table of ``cells``, "cells passed / total" and the median / max time to steady."""
    lines = [f"{'fault':<14}{'trigger':<18}{'result':<8}{'to steady (s)':>14}  exit"]
    for c in cells:
        took = f"{c.seconds_to_steady:.2f}" if c.seconds_to_steady is not None else "-"
        lines.append(
            f"{c.fault:<14}{c.trigger:<18}{'ok' if c.passed else 'FAILED':<8}{took:>14}  {c.exit_code}"
        )
        if not c.passed or c.detail:
            lines.append(f"    {c.detail}")
    times = [c.seconds_to_steady for c in cells if c.seconds_to_steady is not None]
    passed = sum(c.passed for c in cells)
    lines.append(f"safety matrix: {passed}/{len(cells)} cells passed")
    if times:
        lines.append(
            f"trigger -> lab steady: median {statistics.median(times):.2f} s, "
            f"max {max(times):.2f} s (lab speed {speed:g})"
        )
    return "\n".join(lines)


def _applied_count(ledger: Path) -> int:
    try:
        return sum(1 for line in ledger.read_text().splitlines() if '"state": "applied"' in line)
    except OSError:
        return 0


def _gameday(*args: str) -> list[str]:
    return [sys.executable, "-m", "gameday.cli", *args]


def run_cell(
    lab: Lab, variables: dict[str, Any], fault: str, trigger: str, work: Path, env: dict[str, str]
) -> Cell:
    """Run one cell up to the lab's steady state and the target's release; never raises
    for a failed cell (the result says why). The drill's process may still be writing
    its report: :meth:`Cell.finish` waits for it."""
    path = work / f"{fault}-{trigger}.json"
    path.write_text(json.dumps(experiment(fault, trigger, variables)))
    ledger = Path(env["GAMEDAY_FAULT_LEDGER"])
    before = _applied_count(ledger)
    log = (work / f"{fault}-{trigger}.log").open("w")
    # --no-html: the cells assert on the lab, never on the page (rendering its charts was
    # about 1 CPU-s of each cell's drill)
    command = _gameday("run", str(path), "--var-file", str(lab.dir / "vars.json"),
                       "--out", str(work / "reports"), "--unattended", "--no-html")  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    cell = Cell(fault, trigger, False, None, None, process=proc, log=log)
    try:
        cell.seconds_to_steady = _drive(lab, variables, trigger, proc, ledger, before, env)
        cell.passed = True
    except (AssertionError, subprocess.TimeoutExpired) as exc:
        cell.detail = str(exc)[:400]
        cell.finish(timeout=FINISH_TIMEOUT)
    return cell


def _await_release(lab: Lab, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the drill released the lab's drill lock (its rollbacks are done) or ended."""
    from gameday.drill import DrillError
    from gameday.drill.targetlock import LabLock

    deadline = time.monotonic() + timeout
    while True:
        try:
            LabLock.take(lab.dir, "safety matrix probe").release()
            return
        except DrillError:
            if proc.poll() is not None:
                return
        if time.monotonic() > deadline:
            raise AssertionError("the drill kept the lab locked")
        time.sleep(0.05)


def _drive(
    lab: Lab,
    variables: dict[str, Any],
    trigger: str,
    proc: subprocess.Popen[bytes],
    ledger: Path,
    before: int,
    env: dict[str, str],
) -> float:
    deadline = time.monotonic() + CELL_TIMEOUT
    while _applied_count(ledger) <= before:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the fault was never applied (exit {proc.poll()})")
        time.sleep(0.02)
    await_impaired(lab, variables, IMPAIRED_TIMEOUT)
    fired = time.time()
    if trigger in ("SIGINT", "SIGTERM", "SIGHUP"):
        proc.send_signal(getattr(signal, trigger))
    elif trigger == "SIGTERM+SIGKILL":
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=KILL_AFTER)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        recovered = subprocess.run(_gameday("recover", "--ledger", str(ledger)), env=env,
                                   capture_output=True, text=True, timeout=COMMAND_TIMEOUT)  # fmt: skip
        if recovered.returncode != 0:
            raise AssertionError(f"gameday recover failed: {recovered.stdout}{recovered.stderr}")
    elif trigger == "stop-condition":
        set_alarm(variables, "ALARM")
    elif trigger == "abort":
        aborted = subprocess.run(_gameday("abort", "--reason", "safety matrix"), env=env,
                                 capture_output=True, text=True, timeout=COMMAND_TIMEOUT)  # fmt: skip
        if aborted.returncode != 0:
            raise AssertionError(f"gameday abort failed: {aborted.stdout}{aborted.stderr}")
    steady = await_steady(lab, variables, STEADY_TIMEOUT)
    _await_release(lab, proc, max(1.0, deadline - time.monotonic()))
    if trigger == "stop-condition":
        set_alarm(variables, "OK")
    left = _open_entries(ledger)
    if left:
        raise AssertionError(f"ledger entries left open: {left}")
    return steady - fired


def _open_entries(ledger: Path) -> list[str]:
    from gameday.faults import Ledger

    return [f"{e.activity} {e.state}" for e in Ledger(ledger).entries() if e.open]


def _cloudwatch(variables: dict[str, Any]) -> Any:
    from gameday.aws import client

    return client(
        "cloudwatch",
        variables["primary_region"],
        endpoint_url=variables["aws_endpoint_url"],
        secrets={"aws_access_key_id": "gameday-lab", "aws_secret_access_key": "gameday-lab"},
    )


def create_alarm(variables: dict[str, Any]) -> None:
    _cloudwatch(variables).put_metric_alarm(
        AlarmName=ALARM, MetricName="Errors", Namespace="GamedayMatrix", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    set_alarm(variables, "OK")


def set_alarm(variables: dict[str, Any], state: str) -> None:
    _cloudwatch(variables).set_alarm_state(
        AlarmName=ALARM, StateValue=state, StateReason="gameday safety matrix"
    )


def recover_everything(env: dict[str, str]) -> None:
    """Put the lab back after a failed cell (so one failure does not fail the column)."""
    subprocess.run(_gameday("recover", "--include-live", "--ledger", env["GAMEDAY_FAULT_LEDGER"]),
                   env=env, capture_output=True, timeout=120)  # fmt: skip


def cell_env(state_dir: Path) -> dict[str, str]:
    """A child environment with its own state directory (ledger, drill registry)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMEDAY_", "AWS_"))}
    env["XDG_STATE_HOME"] = str(state_dir)
    env["GAMEDAY_FAULT_LEDGER"] = str(state_dir / "gameday" / "faults.jsonl")
    env["GAMEDAY_ABORT_FILE"] = str(state_dir / "ABORT")
    return env
