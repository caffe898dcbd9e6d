"""``gameday demo``: start the lab, show a Route 53 failover happening, stop the lab.

Until the flagship drill lands this is the quickest way to see the lab work end to end:
every step is a real DNS query, a real HTTP request or a plain boto3 call.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
import uuid
from typing import Any

import click
import dns.resolver

from gameday.aws import client
from gameday.lab.config import LabConfig
from gameday.lab.launcher import Lab, LabError

FAILOVER_TIMEOUT = 15.0


def _resolver(lab: Lab) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [lab.info.dns_host]
    resolver.port = lab.info.dns_port
    resolver.cache = None
    return resolver


def _answer(resolver: dns.resolver.Resolver, name: str) -> tuple[list[str], int]:
    answer = resolver.resolve(name, "A", lifetime=2)
    return sorted(a.address for a in answer), answer.rrset.ttl


def _call(
    address: str, port: int, method: str, path: str, body: Any = None
) -> tuple[int, str, Any]:
    conn = http.client.HTTPConnection(address, port, timeout=2)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None)
        response = conn.getresponse()
        return (
            response.status,
            response.getheader("X-Region", "?"),
            json.loads(response.read() or b"null"),
        )
    finally:
        conn.close()


def _wait_for_answer(resolver: dns.resolver.Resolver, name: str, expected: str) -> float:
    started = time.monotonic()
    while _answer(resolver, name)[0] != [expected]:
        if time.monotonic() - started > FAILOVER_TIMEOUT:
            raise LabError(f"DNS did not answer {expected} within {FAILOVER_TIMEOUT:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - started


def run_demo(echo: Any = click.echo) -> None:
    """The demo itself (the lab is always stopped at the end)."""
    with tempfile.TemporaryDirectory(prefix="gameday-demo-") as lab_dir:
        config = LabConfig(lab_dir=lab_dir)
        echo("Starting the lab (moto control plane, two regions, Route 53 data plane) ...")
        started = time.monotonic()
        lab = Lab.start(config)
        try:
            info = lab.info
            echo(
                f"  ready in {time.monotonic() - started:.1f} s: {info.primary.name} at {info.primary.address}, "
                f"{info.secondary.name} at {info.secondary.address}, DNS at {info.dns_host}:{info.dns_port}"
            )
            env = lab.env()
            route53 = client(
                "route53",
                env["AWS_DEFAULT_REGION"],
                endpoint_url=info.endpoint_url,
                secrets={
                    "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
                    "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
                    "aws_session_token": env["AWS_SESSION_TOKEN"],
                },
            )
            resolver = _resolver(lab)
            name = info.record_name
            addresses, ttl = _answer(resolver, name)
            echo(f"\n1. {name} answers {addresses[0]} (TTL {ttl} s): the primary serves.")
            order = f"demo-{uuid.uuid4().hex[:8]}"
            status, region, body = _call(
                addresses[0], info.service_port, "POST", "/orders", {"id": order}
            )
            echo(f"   POST /orders {order} -> {status}, served by {region}")

            interval = config.health_check_interval
            ttl = config.clock.ttl_served(config.ttl)
            echo(
                f"\n2. Impair the primary: route53.update_health_check(Inverted=True) on {info.primary.health_check_id}"
            )
            echo(
                f"   An inverted check flips at its next evaluation: expect at most one interval ({interval:g} s),"
            )
            echo(
                f"   then clients follow once their cached answer expires (TTL {ttl} s). A real outage"
            )
            echo(
                f"   also waits for {config.failure_threshold} failed probes: interval x threshold + TTL = "
                f"{interval * config.failure_threshold + ttl:g} lab s "
                f"(x{config.speed:g} in AWS)."
            )
            route53.update_health_check(HealthCheckId=info.primary.health_check_id, Inverted=True)
            took = _wait_for_answer(resolver, name, info.secondary.address)
            report = route53.get_health_check_status(HealthCheckId=info.primary.health_check_id)
            echo(f"   DNS now answers {info.secondary.address} after {took:.1f} s")
            observations = report["HealthCheckObservations"]
            seen = observations[0]["StatusReport"]["Status"] if observations else "nothing yet"
            echo(
                f"   Route 53's {len(observations)} checkers still see the endpoint: {seen}"
                " (raw, as in AWS);"
            )
            echo(
                "   the inverted verdict is the CloudWatch metric AWS/Route53 HealthCheckStatus = 0"
            )
            status, region, body = _call(
                info.secondary.address, info.service_port, "GET", f"/orders/{order}"
            )
            echo(
                f"   GET /orders/{order} -> {status} from {region} (replicated before the failover)"
            )
            status, region, body = _call(
                info.secondary.address, info.service_port, "POST", "/orders", {"id": order + "-2"}
            )
            echo(f"   POST /orders -> {status} from {region}: {body.get('error', body)}")
            echo(
                "   Reads survive; writes need the database promoted too (failover_global_cluster)."
            )

            echo("\n3. Roll back: Inverted=False")
            rolled_back = time.time()
            route53.update_health_check(HealthCheckId=info.primary.health_check_id, Inverted=False)
            took = _wait_for_answer(resolver, name, info.primary.address)
            echo(f"   DNS answers the primary {info.primary.address} again after {took:.1f} s")
            lab.wait_for_event(
                lambda e: (
                    e["kind"] == "dns"
                    and e["name"] == name
                    and e["answer"] == [info.primary.address]
                ),
                timeout=FAILOVER_TIMEOUT,
                since=rolled_back,
            )

            echo("\nGround truth from the lab's event log:")
            for event in lab.events():
                if event["kind"] in ("health", "dns") and event.get("previous") is not None:
                    stamp = time.strftime("%H:%M:%S", time.localtime(event["time"]))
                    what = (
                        f"health check of {event['region']} -> {'healthy' if event['healthy'] else 'UNHEALTHY'}"
                        if event["kind"] == "health"
                        else f"DNS {event['name']} -> {', '.join(event['answer'])}"
                    )
                    echo(f"   {stamp}.{int(event['time'] % 1 * 1000):03d}  {what}")
        finally:
            lab.stop()
        echo("\nLab stopped; nothing left running.")


@click.command("demo")
def demo() -> None:
    """Start the lab, fail the service over from the primary region to the secondary
    with a plain Route 53 call, show what clients see, roll back and stop the lab."""
    try:
        run_demo()
    except LabError as exc:
        click.echo(f"gameday demo: {exc}", err=True)
        raise SystemExit(2) from exc
