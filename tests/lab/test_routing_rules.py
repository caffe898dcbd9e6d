"""Pure rules of the lab: NACL evaluation, FIS timelines and validation, Route 53 routing."""

from __future__ import annotations

import pytest

from gameday.lab.controlplane import fis
from gameday.lab.controlplane.route53 import RecordSet
from gameday.lab.network.dns import route
from gameday.lab.network.netacl import Rule, allowed, connection_allowed

ALLOW_ALL = [
    Rule(100, "-1", "allow", False, "0.0.0.0/0"),
    Rule(100, "-1", "allow", True, "0.0.0.0/0"),
]


def test_nacl_first_match_in_rule_number_order_decides() -> None:
    assert connection_allowed(ALLOW_ALL, client="127.0.0.1", client_port=50000, service_port=8080)
    deny = Rule(10, "-1", "deny", False, "0.0.0.0/0")
    assert not connection_allowed(
        [*ALLOW_ALL, deny], client="127.0.0.1", client_port=50000, service_port=8080
    )
    allow_first = Rule(5, "6", "allow", False, "127.0.0.0/8", 8080, 8080)
    assert connection_allowed(
        [*ALLOW_ALL, deny, allow_first], client="127.0.0.1", client_port=50000, service_port=8080
    )
    # the early allow is for another port: the deny wins again
    other_port = Rule(5, "6", "allow", False, "127.0.0.0/8", 9090, 9090)
    assert not connection_allowed(
        [*ALLOW_ALL, deny, other_port], client="127.0.0.1", client_port=50000, service_port=8080
    )


def test_nacl_matches_cidr_protocol_and_direction() -> None:
    deny_other_net = Rule(10, "-1", "deny", False, "10.0.0.0/8")
    assert allowed(
        [*ALLOW_ALL, deny_other_net], egress=False, protocol="6", address="127.0.0.1", port=80
    )
    deny_udp = Rule(10, "17", "deny", False, "0.0.0.0/0", 0, 65535)
    assert allowed([*ALLOW_ALL, deny_udp], egress=False, protocol="6", address="127.0.0.1", port=80)
    deny_egress = Rule(10, "tcp", "deny", True, "0.0.0.0/0", 1024, 65535)
    assert not connection_allowed(
        [*ALLOW_ALL, deny_egress], client="127.0.0.1", client_port=50000, service_port=80
    )
    assert not allowed(
        [], egress=False, protocol="6", address="127.0.0.1", port=80
    )  # the implicit * rule


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT5S", 5), ("PT1.5S", 1.5), ("PT2M", 120), ("PT1H30M", 5400)]
)
def test_fis_durations(text: str, seconds: float) -> None:
    assert fis.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5s", "PT", "P1D", "PTS", "", "PT-1S"])
def test_fis_rejects_malformed_durations(text: str) -> None:
    with pytest.raises(fis.FisValidationError):
        fis.parse_duration(text)


def _pause(name: str, duration: str, after: list[str] | None = None) -> dict:
    action = {
        "actionId": "aws:dynamodb:global-table-pause-replication",
        "parameters": {"duration": duration},
        "targets": {"Tables": "t"},
    }
    if after:
        action["startAfter"] = after
    return {name: action}


TABLES = {
    "t": {
        "resourceType": "aws:dynamodb:global-table",
        "resourceArns": ["arn"],
        "selectionMode": "ALL",
    }
}


def test_fis_template_validation() -> None:
    fis.validate_template(_pause("a", "PT1M"), TABLES)
    with pytest.raises(fis.FisValidationError, match="not a valid action id"):
        fis.validate_template({"a": {"actionId": "aws:nope", "targets": {}}}, TABLES)
    with pytest.raises(fis.FisValidationError, match="does not define"):
        fis.validate_template(_pause("a", "PT1M"), {})
    with pytest.raises(fis.FisValidationError, match="needs parameter"):
        fis.validate_template({"a": {"actionId": "aws:fis:wait", "parameters": {}}}, {})
    wrong_type = {"t": {**TABLES["t"], "resourceType": "aws:ec2:subnet"}}
    with pytest.raises(fis.FisValidationError, match="resourceType"):
        fis.validate_template(_pause("a", "PT1M"), wrong_type)


def test_fis_timeline_sequences_actions_and_stops_at_once() -> None:
    actions = {**_pause("first", "PT10S"), **_pause("second", "PT5S", after=["first"])}
    run = fis.plan("e", "us-east-1", 1000.0, actions, {})
    t_run = run.running_from
    assert [run.status(t) for t in (1000.0, 1000.15, t_run, t_run + 14.9, t_run + 15)] == [
        "pending",
        "initiating",
        "running",
        "running",
        "completed",
    ]
    assert [a.name for a in run.active(t_run + 1)] == ["first"]
    assert [a.name for a in run.active(t_run + 11)] == ["second"]
    run.stopped_at = t_run + 12
    assert run.active(t_run + 12) == []
    assert run.status(t_run + 12) == "stopping" and run.status(t_run + 13) == "stopped"
    assert run.action_status(run.actions[0], t_run + 13)[0] == "completed"
    assert run.action_status(run.actions[1], t_run + 13)[0] == "stopped"


def _rr(value: str, **routing: object) -> RecordSet:
    return RecordSet(name="api.lab.internal.", type="A", ttl=5, values=(value,), **routing)  # type: ignore[arg-type]


def test_failover_routing() -> None:
    records = [
        _rr("1.1.1.1", failover="PRIMARY", health_check_id="p"),
        _rr("2.2.2.2", failover="SECONDARY", health_check_id="s"),
    ]
    health = {"p": True, "s": True}
    assert route(records, health.__getitem__).pick() == ("1.1.1.1",)
    health["p"] = False
    assert route(records, health.__getitem__).pick() == ("2.2.2.2",)
    health["s"] = False  # both unhealthy: Route 53 answers the primary
    assert route(records, health.__getitem__).pick() == ("1.1.1.1",)


def test_weighted_routing_skips_unhealthy_sets() -> None:
    records = [
        _rr("1.1.1.1", set_identifier="a", weight=50, health_check_id="a"),
        _rr("2.2.2.2", set_identifier="b", weight=50, health_check_id="b"),
    ]
    health = {"a": True, "b": True}
    seen = {route(records, health.__getitem__).pick()[0] for _ in range(200)}
    assert seen == {"1.1.1.1", "2.2.2.2"}
    health["a"] = False
    assert {route(records, health.__getitem__).pick()[0] for _ in range(50)} == {"2.2.2.2"}
    health["b"] = False  # none healthy: all count as healthy
    assert {route(records, health.__getitem__).pick()[0] for _ in range(200)} == {
        "1.1.1.1",
        "2.2.2.2",
    }
