"""Pure rules behind alias records and load balancers: Route 53's alias routing, ELB's
"healthy load balancer" rule over moto's state, health-check configuration validation,
the target health state machine and the lab certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from gameday.lab import tlscert
from gameday.lab.controlplane import elbv2, healthcheckconfig
from gameday.lab.controlplane.route53 import AliasTarget, RecordSet, Zone
from gameday.lab.network.dns import Router
from gameday.lab.network.targethealth import _Target, matches

ELB = "app-1.us-east-1.elb.amazonaws.com."


def _rr(name: str, value: str = "", ttl: int = 5, **routing: object) -> RecordSet:
    values = (value,) if value else ()
    return RecordSet(name=name, type="A", ttl=ttl, values=values, **routing)  # type: ignore[arg-type]


def _alias(dns_name: str, evaluate: bool = True) -> AliasTarget:
    return AliasTarget(dns_name=dns_name, hosted_zone_id="Z", evaluate_target_health=evaluate)


def _view(healthy: bool, addresses: tuple[str, ...] = ("127.0.1.1",)) -> elbv2.LoadBalancerView:
    return elbv2.LoadBalancerView("arn", ELB, addresses, healthy)


def test_failover_alias_follows_the_load_balancers_health() -> None:
    state = {"east": True, "west": True}
    views = {
        "east.elb.": lambda: _view(state["east"], ("127.0.1.1",)),
        "west.elb.": lambda: _view(state["west"], ("127.0.2.1",)),
    }
    router = Router(
        lambda hc: True, load_balancer=lambda n: views[n]() if n in views else None, elb_ttl=60
    )
    records = [
        _rr("a.", failover="PRIMARY", alias=_alias("east.elb.")),
        _rr("a.", failover="SECONDARY", alias=_alias("west.elb.")),
    ]
    assert router.route(records).draw() == (("127.0.1.1",), 60)
    state["east"] = False
    assert router.route(records).draw() == (("127.0.2.1",), 60)
    state["west"] = False  # both unhealthy: the primary, as for plain records
    assert router.route(records).draw() == (("127.0.1.1",), 60)
    # without EvaluateTargetHealth the target's health does not count
    plain = [
        _rr("a.", failover="PRIMARY", alias=_alias("east.elb.", evaluate=False)),
        _rr("a.", failover="SECONDARY", alias=_alias("west.elb.")),
    ]
    state["west"] = True
    assert router.route(plain).pick() == ("127.0.1.1",)


def test_alias_to_a_record_serves_its_answer_ttl_and_health() -> None:
    health = {"p": True, "s": True}
    zone = Zone(
        "Z",
        "lab.",
        True,
        (
            _rr("svc.lab.", "10.0.0.1", ttl=9, failover="PRIMARY", health_check_id="p"),
            _rr("svc.lab.", "10.0.0.2", ttl=4, failover="SECONDARY", health_check_id="s"),
            _rr("loop.lab.", alias=_alias("loop.lab.")),
        ),
    )
    router = Router(health.__getitem__)
    alias = [_rr("www.lab.", alias=_alias("svc.lab."))]
    assert router.route(alias, zone).draw() == (("10.0.0.1",), 9)
    health["p"] = False
    assert router.route(alias, zone).draw() == (("10.0.0.2",), 4)
    # an alias to a group is healthy while one record of it is
    guarded = [
        _rr("x.lab.", failover="PRIMARY", alias=_alias("svc.lab.")),
        _rr("x.lab.", "10.9.9.9", failover="SECONDARY"),
    ]
    assert router.route(guarded, zone).pick() == ("10.0.0.2",)
    health["s"] = False
    assert router.route(guarded, zone).pick() == ("10.9.9.9",)
    # an alias loop answers nothing rather than recursing forever
    assert router.route([_rr("loop.lab.", alias=_alias("loop.lab."))], zone).pick() == ()


def test_latency_prefers_the_clients_region_then_the_lab_order() -> None:
    health = {"e": True, "w": True}
    router = Router(health.__getitem__, regions=("us-east-1", "us-west-2"))
    records = [
        _rr("l.", "1.1.1.1", region="us-east-1", health_check_id="e"),
        _rr("l.", "2.2.2.2", region="us-west-2", health_check_id="w"),
    ]
    assert router.route(records, client_region="us-west-2").pick() == ("2.2.2.2",)
    assert router.route(records, client_region="us-east-1").pick() == ("1.1.1.1",)
    assert router.route(records, client_region="eu-west-1").pick() == ("1.1.1.1",)
    health["w"] = False
    assert router.route(records, client_region="us-west-2").pick() == ("1.1.1.1",)


@mock_aws
def test_a_load_balancer_is_healthy_when_every_target_group_has_a_healthy_target() -> None:
    ec2 = boto3.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    client = boto3.client("elbv2", "us-east-1")
    lb = client.create_load_balancer(Name="rules", Subnets=[subnet])["LoadBalancers"][0]
    groups = []
    for index in range(2):
        tg = client.create_target_group(
            Name=f"rules-{index}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        client.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80 + index,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )
        groups.append(tg)
    board = elbv2.TargetHealthBoard()
    name = "dualstack." + lb["DNSName"].upper() + "."
    view = elbv2.load_balancer(name, board)
    assert view is not None and not view.healthy  # groups without targets are unhealthy
    client.register_targets(TargetGroupArn=groups[0], Targets=[{"Id": "127.0.1.1"}])
    client.register_targets(TargetGroupArn=groups[1], Targets=[{"Id": "127.0.1.2"}])
    assert not elbv2.load_balancer(name, board).healthy  # still initial
    board.publish((groups[0], "127.0.1.1", 80), elbv2.TargetHealth(elbv2.HEALTHY))
    assert not elbv2.load_balancer(name, board).healthy  # the second group has none healthy
    board.publish((groups[1], "127.0.1.2", 80), elbv2.TargetHealth(elbv2.HEALTHY))
    view = elbv2.load_balancer(name, board)
    assert view.healthy and view.addresses == ("127.0.1.1", "127.0.1.2")
    assert elbv2.load_balancer("other-1.us-east-1.elb.amazonaws.com", board) is None


def _spec(healthy: int = 3, unhealthy: int = 2) -> elbv2.TargetSpec:
    return elbv2.TargetSpec(
        "arn",
        "tg",
        "us-east-1",
        "127.0.1.1",
        80,
        "HTTP",
        "/",
        80,
        10,
        5,
        healthy,
        unhealthy,
        "200",
        True,
        True,
    )


def test_target_state_machine_follows_elb() -> None:
    bad = elbv2.TargetHealth(elbv2.UNHEALTHY, "Target.Timeout", "Request timed out")
    target = _Target(_spec())
    assert target.record(True, bad).state == elbv2.HEALTHY  # one success leaves initial
    target.health = target.record(True, bad)
    target.health = target.record(False, bad)
    assert target.health.state == elbv2.HEALTHY  # one failure of two
    target.health = target.record(False, bad)
    assert target.health == bad
    for expected in (elbv2.UNHEALTHY, elbv2.UNHEALTHY, elbv2.HEALTHY):  # three successes
        target.health = target.record(True, bad)
        assert target.health.state == expected
    fresh = _Target(_spec())
    fresh.health = fresh.record(False, bad)
    assert fresh.health.state == elbv2.INITIAL
    assert fresh.record(False, bad) == bad


@pytest.mark.parametrize(
    ("matcher", "status", "ok"),
    [("200", 200, True), ("200", 204, False), ("200,202", 202, True), ("200-299", 299, True)],
)
def test_http_code_matcher(matcher: str, status: int, ok: bool) -> None:
    assert matches(matcher, status) is ok


@pytest.mark.parametrize(
    ("args", "creating", "fragment"),
    [
        ({"request_interval": 15}, True, "Invalid parameter : RequestInterval must be 10 or 30"),
        ({"request_interval": 60}, True, "at 'healthCheckConfig.requestInterval'"),
        ({"failure_threshold": 11}, False, "Value '11' at 'failureThreshold'"),
        ({"type": "HTTP"}, True, "needs an IPAddress or a FullyQualifiedDomainName"),
        ({"type": "HTTP_STR_MATCH", "ip_address": "127.0.0.1"}, True, "needs a SearchString"),
    ],
)
def test_health_check_config_refusals(args: dict, creating: bool, fragment: str) -> None:
    with pytest.raises(healthcheckconfig.HealthCheckConfigError) as raised:
        healthcheckconfig.validate(args, creating=creating)
    assert fragment in str(raised.value)


def test_health_check_config_accepts_what_aws_accepts() -> None:
    for interval in (10, 30, None):
        healthcheckconfig.validate(
            {"type": "TCP", "ip_address": "127.0.0.1", "request_interval": interval},
            creating=True,
        )
    healthcheckconfig.validate({"type": "CALCULATED"}, creating=True)


@pytest.mark.parametrize("backend", ["cryptography", "openssl"])
def test_lab_certificate_loads_and_names_the_regions(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "openssl":
        import shutil

        if shutil.which("openssl") is None:
            pytest.skip("no openssl command")

        def no_cryptography(*args: object) -> tuple[bytes, bytes]:
            raise ImportError("cryptography")

        monkeypatch.setattr(tlscert, "_with_cryptography", no_cryptography)
    made = tlscert.generate(tmp_path, ["127.0.1.1"], ["lab.internal", "*.lab.internal"])
    assert made.key.stat().st_mode & 0o077 == 0
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(made.cert, made.key)  # a usable pair
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(made.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "*.lab.internal" in san.get_values_for_type(x509.DNSName)
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.1.1"]
