"""Route 53 ARC: the lab cannot emulate it, so every call is proven with Stubber."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from gameday.actions import arc
from tests.actions.conftest import Stubs, ledger_states

CLUSTER = "arn:aws:route53-recovery-control::123456789012:cluster/abc"
CONTROL = "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/r"
EP1 = "https://host-aaaaaa.us-east-1.example.com/v1"
EP2 = "https://host-bbbbbb.ap-southeast-2.example.com/v1"


def describe(stubs: Stubs) -> None:
    stubs.stub("route53-recovery-control-config").add_response(
        "describe_cluster",
        {
            "Cluster": {
                "ClusterArn": CLUSTER,
                "ClusterEndpoints": [
                    {"Endpoint": EP1, "Region": "us-east-1"},
                    {"Endpoint": EP2, "Region": "ap-southeast-2"},
                ],
            }
        },
        {"ClusterArn": CLUSTER},
    )


def test_set_off_tries_endpoints_in_turn_then_restore_on(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    describe(stubs)
    first, second = (
        stubs.stub("route53-recovery-cluster", EP1),
        stubs.stub("route53-recovery-cluster", EP2),
    )
    arn = {"RoutingControlArn": CONTROL}
    first.add_response(
        "get_routing_control_state",
        {"RoutingControlArn": CONTROL, "RoutingControlState": "On"},
        arn,
    )
    first.add_client_error(
        "update_routing_control_state",
        service_error_code="InternalServerException",
        http_status_code=500,
        expected_params={**arn, "RoutingControlState": "Off"},
    )
    second.add_response("update_routing_control_state", {}, {**arn, "RoutingControlState": "Off"})
    out = arc.set_routing_control_state(CONTROL, "off", CLUSTER)
    assert out == {
        "routing_control_arn": CONTROL,
        "state": "Off",
        "previous_state": "On",
        "changed": True,
        "fault_id": out["fault_id"],
    }
    assert ledger_states(isolated) == [("set_routing_control_state", "applied")]

    describe(stubs)
    first.add_response(
        "get_routing_control_state",
        {"RoutingControlArn": CONTROL, "RoutingControlState": "Off"},
        arn,
    )
    first.add_response("update_routing_control_state", {}, {**arn, "RoutingControlState": "On"})
    assert arc.restore_routing_control_state(CONTROL, CLUSTER)["state"] == "On"
    assert ledger_states(isolated) == [("set_routing_control_state", "reverted")]


def test_bad_state_and_conflict(stubs: Stubs, isolated: Path) -> None:
    with pytest.raises(ActivityFailed, match="'On' or 'Off'"):
        arc.set_routing_control_state(CONTROL, "maybe", CLUSTER)
    stubs.identity()
    describe(stubs)
    first = stubs.stub("route53-recovery-cluster", EP1)
    arn = {"RoutingControlArn": CONTROL}
    first.add_response(
        "get_routing_control_state",
        {"RoutingControlArn": CONTROL, "RoutingControlState": "On"},
        arn,
    )
    first.add_client_error(
        "update_routing_control_state",
        service_error_code="ConflictException",
        http_status_code=409,
        expected_params={
            **arn,
            "RoutingControlState": "Off",
            "SafetyRulesToOverride": ["arn:rule"],
        },
    )
    with pytest.raises(ActivityFailed, match="safety rule"):
        arc.set_routing_control_state(CONTROL, "Off", CLUSTER, ["arn:rule"])
    assert ledger_states(isolated) == [("set_routing_control_state", "failed")]


def test_no_endpoint_answering_leaves_the_change_open(stubs: Stubs, isolated: Path) -> None:
    """Every endpoint answered 500: the change may have been made on one of them, so the
    entry stays open for the rollback and `gameday recover`."""
    stubs.identity()
    describe(stubs)
    first, second = (
        stubs.stub("route53-recovery-cluster", EP1),
        stubs.stub("route53-recovery-cluster", EP2),
    )
    arn = {"RoutingControlArn": CONTROL}
    first.add_response(
        "get_routing_control_state",
        {"RoutingControlArn": CONTROL, "RoutingControlState": "On"},
        arn,
    )
    for stub in (first, second):
        stub.add_client_error(
            "update_routing_control_state",
            service_error_code="InternalServerException",
            http_status_code=500,
            expected_params={**arn, "RoutingControlState": "Off"},
        )
    with pytest.raises(ActivityFailed, match="any of the 2 cluster endpoints"):
        arc.set_routing_control_state(CONTROL, "Off", CLUSTER)
    assert ledger_states(isolated) == [("set_routing_control_state", "pending")]


def test_restore_leaves_a_control_the_drill_did_not_change(stubs: Stubs, isolated: Path) -> None:
    """A standby's control is Off on purpose: setting it Off changes nothing, and the
    rollback must not turn it On."""
    stubs.identity()
    first = stubs.stub("route53-recovery-cluster", EP1)
    off = {"RoutingControlArn": CONTROL, "RoutingControlState": "Off"}
    for call in (arc.set_routing_control_state, arc.restore_routing_control_state):
        describe(stubs)
        first.add_response("get_routing_control_state", off, {"RoutingControlArn": CONTROL})
        if call is arc.set_routing_control_state:
            assert call(CONTROL, "Off", CLUSTER)["changed"] is False
        else:  # no update_routing_control_state queued
            assert call(CONTROL, CLUSTER) == {
                "routing_control_arn": CONTROL,
                "state": "Off",
                "changed": False,
                "reverted": [],
            }
    assert ledger_states(isolated) == []
