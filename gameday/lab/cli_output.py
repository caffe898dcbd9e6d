"""What ``gameday lab`` prints about a running lab: its summary and its events.

Shared by ``gameday lab up`` (the summary of a ready lab, then its events as they happen)
and ``gameday lab status``.
"""

from __future__ import annotations

import time
from typing import Any

import click

from gameday.lab.api import Lab


def follow(handle: Lab) -> None:
    """Print the lab's events as they happen until the lab stops (or Ctrl-C)."""
    seen = 0
    while handle.running():
        events = handle.events()
        for event in events[seen:]:
            click.echo(format_event(event))
        seen = len(events)
        time.sleep(0.2)


def format_event(event: dict[str, Any]) -> str:
    """One event on one line: its local time to the millisecond, its kind, its fields."""
    stamp = (
        time.strftime("%H:%M:%S", time.localtime(event["time"]))
        + f".{int(event['time'] % 1 * 1000):03d}"
    )
    details = " ".join(
        f"{k}={v}" for k, v in event.items() if k not in ("time", "kind") and v is not None
    )
    return f"{stamp}  {event['kind']:<16} {details}"


def print_summary(handle: Lab) -> None:
    """Where the lab answers (AWS endpoint, DNS, service names) and its regions and clock."""
    info = handle.info
    click.echo(f"  AWS endpoint     {info.endpoint_url}")
    click.echo(f"  DNS              {info.dns_host}:{info.dns_port} (UDP and TCP)")
    click.echo(
        f"  service name     {info.record_name} port {info.service_port} (zone {info.zone_id})"
    )
    click.echo(
        f"  alias name       {info.alias_record_name} (alias records to each region's load balancer)"
    )
    for region in info.regions:
        click.echo(
            f"  {region.name:<16} {region.address}  {region.role:<6}  health check {region.health_check_id}"
        )
    click.echo(
        f"  clock            speed {info.speed:g} (AWS seconds per lab second), "
        f"data tier {info.data_tier}"
    )
    click.echo(f"  try: dig @{info.dns_host} -p {info.dns_port} {info.record_name}")
