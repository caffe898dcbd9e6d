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
