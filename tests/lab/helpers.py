"""Small real-traffic helpers for lab tests: DNS queries and HTTP calls on loopback, and the
lab's steady state (what a test that shares a lab must leave behind)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import dns.resolver
import pytest

from gameday.lab import Lab
from gameday.lab.state import LAB_CREDENTIALS
from gameday.lab.varfile import varfile_path
from gameday.probes.dns import dns_answer
from gameday.probes.rds import writer_region
from gameday.probes.replication import replication_lag
from gameday.probes.route53 import health_check_status
from gameday.probes.secretsmanager import secret_available

#: The lab's fake credentials, passed as Chaos Toolkit secrets to the probes.
LAB_SECRETS = {k.lower(): v for k, v in LAB_CREDENTIALS.items()}


def resolve(lab: Lab, name: str | None = None, *, tcp: bool = False) -> tuple[list[str], int]:
    """Ask the lab's DNS server for ``name`` (default: the service record): (addresses, ttl)."""
    info = lab.info
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [info.dns_host]
    resolver.port = info.dns_port
    resolver.cache = None
    answer = resolver.resolve(name or info.record_name, "A", tcp=tcp, lifetime=2)
    return sorted(a.address for a in answer), answer.rrset.ttl


def request(
    address: str, port: int, method: str, path: str, body: Any = None, timeout: float = 2.0
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request: (status, headers, decoded JSON body)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), json.loads(data) if data else None
    finally:
        conn.close()


def wait_until[T](check: Callable[[], T], timeout: float, interval: float = 0.02) -> T:
    """Poll ``check`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


def deny_all_inbound(
    ec2: Any, network_acl_id: str, rule_number: int, cidr: str = "0.0.0.0/0"
) -> None:
    """The blocked-endpoint fault: a deny of all inbound traffic (from ``cidr``) on a NACL."""
    ec2.create_network_acl_entry(
        NetworkAclId=network_acl_id,
        RuleNumber=rule_number,
        Protocol="-1",
        RuleAction="deny",
        Egress=False,
        CidrBlock=cidr,
    )


# -- the steady state of a shared lab ------------------------------------------------------

#: Seconds a lab may take to come back after a test's own rollback: the health checks'
#: failure threshold of probes, a DNS TTL and a promotion, at the lab's speed, with room.
STEADY_TIMEOUT = 20.0


def lab_variables(lab: Lab) -> dict[str, Any]:
    """The lab's var-file configuration (what a drill's probes are given)."""
    return json.loads(varfile_path(lab.dir).read_text())["configuration"]


def steady_state_problems(variables: dict[str, Any], *, replication: bool = True) -> list[str]:
    """What is off the lab's steady state, through the probes a drill uses (empty: steady).

    Steady: both health checks healthy, DNS answering the primary, the original writer, the
    secret replicated to the recovery region and, with ``replication``, a canary write
    reaching the secondary (that one writes an order: leave it out where a test counts the
    stores). :func:`lab_steady_problems` is the cheaper check from the lab's own log.
    """
    c, secrets = variables, LAB_SECRETS
    problems = []
    for role in ("primary", "secondary"):
        status = health_check_status(c[f"{role}_health_check_id"], configuration=c, secrets=secrets)
        if not status["healthy"]:
            problems.append(f"{role} health check unhealthy")
    answer = dns_answer(c["service_name"], nameserver=c["nameserver"])
    primary_address = c["primary_endpoint"].split("//")[1].split(":")[0]
    if answer["addresses"] != [primary_address]:
        problems.append(f"DNS answers {answer['addresses']}")
    writer = writer_region(
        c["global_cluster_id"], c["primary_region"], configuration=c, secrets=secrets
    )
    if writer != c["primary_region"]:
        problems.append(f"writer is {writer}")
    if not secret_available(
        c["secret_name"], c["secondary_region"], configuration=c, secrets=secrets
    ):
        problems.append("secret missing in the recovery region")
    if replication and not problems:
        lag = replication_lag(c["primary_endpoint"], c["secondary_endpoint"], timeout=3)
        if not lag["replicated"]:
            problems.append(f"replication not flowing: {lag}")
    return problems


def wait_for_steady_state(
    variables: dict[str, Any], timeout: float = STEADY_TIMEOUT, *, replication: bool = True
) -> None:
    """Wait for :func:`steady_state_problems` to be empty; fail with what is still off."""
    deadline = time.monotonic() + timeout
    while True:
        problems = steady_state_problems(variables, replication=replication)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the lab is not back in its steady state: " + "; ".join(problems))
        time.sleep(0.2)


def lab_steady_problems(lab: Lab, default_lag: float | None = None) -> list[str]:
    """What is off a lab's steady state, from its own ground truth (empty: steady).

    Cheap enough to run after every test (no AWS call): the original writer, every region
    process alive and running, both regions' health checks last seen healthy, the service
    record answering the primary, no fault the lab applied left unreverted, and (with
    ``default_lag``) the lab-only replication delay back to it.
    """
    info = lab.info
    problems = []
    if info.primary.role != "writer":
        problems.append(
            f"the writer is not the primary ({info.primary.name} is {info.primary.role})"
        )
    for name, alive in lab.liveness()["regions"].items():
        if not alive["alive"] or alive["stopped"]:
            problems.append(f"region {name} is {'stopped' if alive['alive'] else 'not running'}")
    health: dict[str, bool] = {}
    faults: dict[tuple[object, ...], dict[str, Any]] = {}
    lag = None
    for event in lab.events():
        if event["kind"] == "health":
            health[str(event.get("health_check_id"))] = bool(event.get("healthy"))
        elif event["kind"] == "fault":
            key = (event.get("fault"), event.get("region"), event.get("experiment_id"))
            faults[key] = event
        elif event["kind"] == "replication-lag":
            lag = event.get("aws_seconds")
    for region in info.regions:
        if not health.get(region.health_check_id, False):
            problems.append(f"the health check of {region.name} is not healthy")
    problems += [
        f"fault {e.get('fault')} still applied in {e.get('region')}"
        for e in faults.values()
        if e.get("state") == "applied"
    ]
    if default_lag is not None and lag is not None and lag != default_lag:
        problems.append(f"the lab's replication delay is {lag} s, not {default_lag} s")
    if not problems:
        addresses = resolve(lab)[0]
        if addresses != [info.primary.address]:
            problems.append(f"DNS answers {addresses}, not the primary")
    return problems


def wait_for_lab_steady(lab: Lab, timeout: float = STEADY_TIMEOUT, **kwargs: Any) -> None:
    """Wait for :func:`lab_steady_problems` to be empty; fail with what is still off."""
    deadline = time.monotonic() + timeout
    while True:
        problems = lab_steady_problems(lab, **kwargs)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the lab is not back in its steady state: " + "; ".join(problems))
        time.sleep(0.1)


@pytest.fixture(name="lab")
def lab_is_the_shared_lab(shared_lab: Lab) -> Lab:
    """``lab`` as the worker's shared lab, for a module whose tests all leave it in its
    steady state: ``from tests.lab.helpers import lab_is_the_shared_lab  # noqa: F401``."""
    return shared_lab
