"""``gameday lab ...``: start, inspect and stop the local two-region lab.

A client of :mod:`gameday.lab.api` like the drill: the lab's CLI uses the same door.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from gameday.lab.api import (
    Lab,
    LabAlreadyRunning,
    LabConfig,
    LabConfigError,
    LabError,
    LabInfo,
    RegionSpec,
    active_faults,
    lab_env,
    lab_health,
    read_events,
    served_data,
    shell_exports,
)
from gameday.lab.cli_output import follow, format_event, print_summary
from gameday.lab.config import NUMBER_RANGES

_DIR_HELP = "Lab directory holding its state, logs and event log [env GAMEDAY_LAB_DIR; default .gameday/lab]."


def _lab_dir(lab_dir: str | None) -> str:
    return lab_dir or LabConfig().lab_dir


def _fail(message: str) -> None:
    click.echo(f"gameday lab: {message}", err=True)
    sys.exit(2)


@click.group()
def lab() -> None:
    """The local two-region lab: moto's control plane, one process per region, a real
    Route 53 health checker and DNS server, all on 127.0.0.0/8."""


@lab.command("up")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML or JSON lab config file."
)
@click.option("--primary", help="Primary region name [us-east-1].")
@click.option("--secondary", help="Secondary region name [us-west-2].")
@click.option("--zone", help="Private hosted zone, a DNS name [lab.internal].")
@click.option(
    "--ttl",
    type=int,
    help="TTL in AWS seconds of the service's records in Route 53, 1-86400; served divided "
    "by --speed [10].",
)
@click.option(
    "--speed",
    type=float,
    help="AWS seconds per lab second for every AWS-side duration (health checks, TTLs, "
    "failovers, FIS, replica status), 0.1-200, dividing the TTLs (--ttl and 60) so that "
    "they are served exactly; 1 = real time [10].",
)
@click.option(
    "--data-tier",
    help="The service's data: aurora (an Aurora global database, one writer) or dynamodb "
    "(a DynamoDB global table, every region writes) [aurora].",
)
@click.option("--threshold", type=int, help="Health-check failure threshold, 1-10 [2].")
@click.option(
    "--lag",
    type=float,
    help="Lab-only: baseline delay of the lab's replication links, in AWS seconds (served "
    "divided by --speed), 0-3600 [3].",
)
@click.option(
    "--seed",
    type=int,
    help="Seed of the lab's draws from AWS's documented ranges (failover and resync "
    "durations, checker phases, FIS replication delay), 0-2147483647 [drawn at start].",
)
@click.option("--service-port", type=int, help="Port of the regional APIs (0: pick a free one).")
@click.option(
    "--dns-port", type=int, help="Port of the DNS server, UDP and TCP (0: pick a free one)."
)
@click.option("--endpoint-port", type=int, help="Port of the AWS endpoint (0: pick a free one).")
@click.option("--dir", "lab_dir", help=_DIR_HELP)
@click.option("--detach", is_flag=True, help="Start in the background and return once ready.")
def up(config_file: str | None, lab_dir: str | None, detach: bool, **overrides: Any) -> None:
    """Start the lab (in the foreground until Ctrl-C, or --detach)."""
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops a foreground lab like Ctrl-C
    # and so does SIGINT, even when the lab was started where it is ignored (a background job
    # of a script: `gameday lab up & ... kill -INT $!`)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        config = _build_config(config_file, lab_dir, overrides)
    except LabConfigError as exc:
        _fail(str(exc))
        return
    started = time.monotonic()
    try:
        handle = Lab.start(config)
    except LabAlreadyRunning as exc:
        _already_running(Lab(config.lab_dir), config, str(exc))
        return
    except LabError as exc:
        _fail(str(exc))
        return
    except KeyboardInterrupt:
        click.echo("interrupted while starting: the lab was stopped", err=True)
        sys.exit(130)
    _serve(handle, started, detach)


def _serve(handle: Lab, started: float, detach: bool) -> None:
    """Say the lab is ready and how to use it; then follow its events until Ctrl-C and stop
    it, or, with ``detach``, return and leave it running."""
    try:
        info = handle.info
        click.echo(f"lab ready in {time.monotonic() - started:.1f} s ({info.lab_dir})")
        print_summary(handle)
        click.echo('\nPoint boto3, chaos and gameday at it with:\n  eval "$(gameday lab env)"')
        if detach:
            click.echo("Stop it with: gameday lab down")
            return
        click.echo("Following the lab's events; Ctrl-C stops the lab.\n")
        follow(handle)
    except KeyboardInterrupt:
        if detach:
            sys.exit(130)  # a detached lab keeps running; 'gameday lab down' stops it
    finally:
        if not detach:
            click.echo("stopping the lab ...")
            handle.stop()
            click.echo("lab stopped")


def _already_running(handle: Lab, config: LabConfig, message: str) -> None:
    """A second ``lab up`` in a directory: say what runs there; exit 1 if it was asked
    for other settings (they were not applied), 0 if it is the lab asked for."""
    if not handle.wait_until_ready():
        _fail(message)
    click.echo(f"gameday lab: {handle.describe_running()}")
    running = (handle.state().get("config") or {}) | {"lab_dir": str(handle.dir)}
    wanted = config.to_dict() | {"lab_dir": str(handle.dir)}
    if wanted.get("seed") is None:  # not asked for: the running lab drew its own
        wanted["seed"] = running.get("seed")
    differ = sorted(k for k in wanted.keys() | running.keys() if wanted.get(k) != running.get(k))
    if differ:
        for key in differ:
            click.echo(
                f"  {key}: running with {running.get(key)!r}, asked for {wanted.get(key)!r}",
                err=True,
            )
        _fail(
            "those settings were NOT applied: stop the lab with 'gameday lab down' and start "
            "it again to change them"
        )


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def drawn_values(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lab's draws from AWS's documented ranges so far (``draw`` events)."""
    return [
        {k: e.get(k) for k in ("name", "aws_seconds", "low", "high", "source", "time")}
        for e in events
        if e.get("kind") == "draw"
    ]


def _draws_json(raw_state: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"seed": raw_state.get("config", {}).get("seed"), "draws": drawn_values(events)}


def _print_draws(raw_state: dict[str, Any], events: list[dict[str, Any]]) -> None:
    draws = drawn_values(events)
    click.echo(
        f"draws (seed {raw_state.get('config', {}).get('seed')}): "
        + (", ".join(f"{d['name']} {d['aws_seconds']:g} AWS s" for d in draws) or "none yet")
    )


def _build_config(
    config_file: str | None, lab_dir: str | None, overrides: dict[str, Any]
) -> LabConfig:
    base = LabConfig.from_file(config_file).to_dict() if config_file else LabConfig().to_dict()
    if lab_dir:
        base["lab_dir"] = lab_dir
    regions = [RegionSpec(**r) for r in base["regions"]]
    for key, index in (("primary", 0), ("secondary", 1)):
        value = overrides.get(key)
        if value:
            regions[index] = RegionSpec(value, regions[index].address)
    base["regions"] = [{"name": r.name, "address": r.address} for r in regions]
    mapping = {
        "zone": "zone",
        "ttl": "ttl",
        "speed": "speed",
        "data_tier": "data_tier",
        "threshold": "failure_threshold",
        "lag": "replication_lag",
        "seed": "seed",
        "service_port": "service_port",
        "dns_port": "dns_port",
        "endpoint_port": "endpoint_port",
    }
    for option, key in mapping.items():
        if overrides.get(option) is not None:
            base[key] = overrides[option]
    return LabConfig.from_dict(base).validate()


@lab.command("down")
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def down(lab_dir: str | None) -> None:
    """Stop the lab and every process it started; leaves no port open.

    Finds the lab's processes even when its state.json was emptied or its directory was
    deleted (their command lines name the directory)."""
    handle = Lab(_lab_dir(lab_dir))
    was_running = handle.running()
    try:
        forced = handle.stop()
    except LabError as exc:
        _fail(str(exc))
        return
    for what in forced:
        click.echo(f"killed leftover {what}")
    if was_running:
        click.echo("lab stopped")
    elif handle.stopped:
        click.echo(f"stopped {len(handle.stopped)} process(es) of a lab whose state was lost")
    elif handle.state_path.exists():
        click.echo("no lab was running; cleaned up what was left")
    else:
        click.echo(f"no lab to stop in {handle.dir}")


@lab.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option(
    "--events",
    "n_events",
    type=click.IntRange(0, 10000),
    default=10,
    show_default=True,
    help="How many recent events to show.",
)
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def status(as_json: bool, n_events: int, lab_dir: str | None) -> None:
    """Show where the lab answers, its regions and processes, the faults in effect now,
    and recent ground-truth events."""
    handle = Lab(_lab_dir(lab_dir))
    if not handle.state_path.exists() or not handle.running():
        if handle.held():
            _fail(
                f"a lab holds {handle.dir} but its state is unreadable or not ready: "
                "wait for it, or stop it with 'gameday lab down'"
            )
        if as_json:
            click.echo(json.dumps({"running": False, "lab_dir": str(handle.dir)}))
        else:
            click.echo(f"no lab running ({handle.dir}); start one with 'gameday lab up'")
        sys.exit(1)
    try:
        info = handle.info
    except LabError as exc:
        _fail(str(exc))
        return
    liveness = handle.liveness()
    events = read_events(Path(info.events_path))
    health = lab_health(events)
    raw_state = handle.state()
    network = {
        "mode": raw_state.get("network_mode", "userland"),
        "detail": raw_state.get("network_mode_detail", ""),
    }
    if as_json:
        data = _status_json(info, liveness, events, network, n_events)
        click.echo(json.dumps(data | _draws_json(raw_state, events), indent=2))
        return
    click.echo(f"lab running (supervisor pid {info.supervisor_pid}, {info.lab_dir})")
    if health["status"] == "degraded":
        click.echo(f"lab health: DEGRADED: {health['reason']}")
    else:
        click.echo("lab health: ok (no lab component failed)")
    click.echo(f"network faults: {network['mode']} ({network['detail']})")
    print_summary(handle)
    for name, cluster in _served(info, events).items():
        click.echo(f"  data {name:<12}  serves {cluster}")
    _print_draws(raw_state, events)
    _print_processes_and_events(liveness, events, n_events)


def _status_json(
    info: LabInfo,
    liveness: dict[str, Any],
    events: list[dict[str, Any]],
    network: dict[str, Any],
    n_events: int,
) -> dict[str, Any]:
    """``gameday lab status --json``: where the lab answers, its parts, faults, events."""
    return {
        "running": True,
        "lab_dir": info.lab_dir,
        "endpoint_url": info.endpoint_url,
        "dns": {"host": info.dns_host, "port": info.dns_port},
        "zone_id": info.zone_id,
        "zone": info.zone_name,
        "record_name": info.record_name,
        "service_port": info.service_port,
        "global_cluster_id": info.global_cluster_id,
        "secret_name": info.secret_name,
        "speed": info.speed,
        "data_tier": info.data_tier,
        "supervisor": {"pid": info.supervisor_pid, "alive": liveness["supervisor"]},
        "regions": [
            {
                "name": r.name,
                "address": r.address,
                "role": r.role,
                "health_check_id": r.health_check_id,
                "subnet_id": r.subnet_id,
                "network_acl_id": r.network_acl_id,
                "vpc_id": r.vpc_id,
                "db_cluster_arn": r.db_cluster_arn,
                **liveness["regions"][r.name],
            }
            for r in info.regions
        ],
        "health": lab_health(events),
        "network": network,
        "active_faults": active_faults(events),
        "data_served": _served(info, events),
        "events": events[-n_events:] if n_events else [],
    }


def _served(info: LabInfo, events: list[dict[str, Any]]) -> dict[str, str]:
    """The data each region serves: its own (the global cluster) or a restored cluster."""
    return served_data(
        events, [r.name for r in info.regions], info.global_cluster_id or "own store"
    )


def _print_processes_and_events(
    liveness: dict[str, Any], events: list[dict[str, Any]], n_events: int
) -> None:
    for name, proc in liveness["regions"].items():
        state = "stopped (SIGSTOP)" if proc["stopped"] else ("alive" if proc["alive"] else "DEAD")
        click.echo(f"  process {name:<9}  pid {proc['pid']}: {state}")
    faults = active_faults(events)
    click.echo(f"active faults: {len(faults) or 'none'}")
    for fault in faults:
        click.echo("  " + format_event(fault))
    if n_events:
        click.echo("recent events:")
        for event in events[-n_events:]:
            click.echo("  " + format_event(event))


@lab.command("env")
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def env(lab_dir: str | None) -> None:
    """Print 'export NAME=value' lines that point boto3, chaos and gameday at the lab.

    Every value is quoted for the shell, so 'eval "$(gameday lab env)"' sets exactly
    these variables (including GAMEDAY_FAULT_LEDGER, the fault ledger every shell shares)."""
    handle = Lab(_lab_dir(lab_dir))
    if not handle.running():
        _fail(f"no lab running ({handle.dir}); start one with 'gameday lab up --detach'")
    for line in shell_exports(lab_env(handle.info)):
        click.echo(line)


def _signal_region(lab_dir: str | None, region: str, sig: signal.Signals, verb: str) -> None:
    handle = Lab(_lab_dir(lab_dir))
    if not handle.running():
        _fail(f"no lab running ({handle.dir}); start one with 'gameday lab up --detach'")
    try:
        target = handle.info.region(region)
    except LabError as exc:
        _fail(str(exc))
        return
    if not target.pid or not handle.liveness()["regions"][region]["alive"]:
        _fail(
            f"region {region} is not running (it was killed); start it again with 'gameday lab restart-region {region}'"
        )
        return
    os.kill(target.pid, sig)
    click.echo(f"{verb} region {region} (pid {target.pid})")


@lab.command("kill-region")
@click.argument("region")
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def kill_region(region: str, lab_dir: str | None) -> None:
    """Kill REGION's process (SIGKILL): a hard regional outage. Connections are refused."""
    _signal_region(lab_dir, region, signal.SIGKILL, "killed")


@lab.command("stop-region")
@click.argument("region")
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def stop_region(region: str, lab_dir: str | None) -> None:
    """Freeze REGION's process (SIGSTOP): a hung region. Requests time out."""
    _signal_region(lab_dir, region, signal.SIGSTOP, "stopped")


@lab.command("resume-region")
@click.argument("region")
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def resume_region(region: str, lab_dir: str | None) -> None:
    """Resume a region frozen with stop-region (SIGCONT)."""
    _signal_region(lab_dir, region, signal.SIGCONT, "resumed")


@lab.command("restart-region")
@click.argument("region")
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def restart_region(region: str, lab_dir: str | None) -> None:
    """Start a killed REGION again with its durable store, in the role the global
    database gives it now (a reader after a failover)."""
    handle = Lab(_lab_dir(lab_dir))
    if not handle.running():
        _fail(f"no lab running ({handle.dir}); start one with 'gameday lab up --detach'")
    try:
        reply = handle.restart_region(region)
    except LabError as exc:
        _fail(str(exc))
        return
    click.echo(f"region {region} is back (pid {reply['pid']}, {reply['role']})")


@lab.command("set-lag")
@click.argument("seconds", type=float)
@click.option("--dir", "lab_dir", help=_DIR_HELP)
def set_lag(seconds: float, lab_dir: str | None) -> None:
    """LAB-ONLY: delay the lab's replication by SECONDS AWS seconds (served at 1/speed).

    Not an AWS fault (no AWS call delays Aurora's storage replication): a lab knob to
    rehearse a lagging replica. Recorded in the lab's events as lab_only."""
    low, high = NUMBER_RANGES["replication_lag"][:2]  # the same cap as 'lab up --lag'
    if not low <= seconds <= high:
        _fail(f"lag must be a number of AWS seconds from {low:g} to {high:g}, got {seconds:g}")
    handle = Lab(_lab_dir(lab_dir))
    if not handle.running():
        _fail(f"no lab running ({handle.dir}); start one with 'gameday lab up --detach'")
    try:
        reply = handle.set_lag(seconds)
    except LabError as exc:
        _fail(str(exc))
        return
    click.echo(
        f"lab-only replication delay set to {seconds:g} AWS s "
        f"({reply['lab_seconds']:g} lab s; not an AWS fault)"
    )
