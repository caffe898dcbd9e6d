"""Route 53 actions: every AWS call checked against the service model with Stubber."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import ANY
from chaoslib.exceptions import ActivityFailed

from gameday.actions import route53
from tests.actions.conftest import Stubs, ledger_states

HC = "abcdef01-2345-6789-abcd-ef0123456789"


def health_check(inverted: bool, version: int) -> dict:
    return {
        "HealthCheck": {
            "Id": HC,
            "CallerReference": "ref",
            "HealthCheckConfig": {
                "IPAddress": "192.0.2.10",
                "Port": 443,
                "Type": "HTTPS",
                "ResourcePath": "/health",
                "Inverted": inverted,
            },
            "HealthCheckVersion": version,
        }
    }


def test_invert_then_restore_make_exactly_these_calls(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    r53 = stubs.stub("route53")
    r53.add_response("get_health_check", health_check(False, 7), {"HealthCheckId": HC})
    r53.add_response(
        "update_health_check",
        health_check(True, 8),
        {"HealthCheckId": HC, "HealthCheckVersion": 7, "Inverted": True},
    )
    result = route53.invert_health_check(HC)
    assert result["changed"] and result["previous_inverted"] is False
    assert result["health_check_version"] == 8
    assert ledger_states(isolated) == [("invert_health_check", "applied")]

    r53.add_response("get_health_check", health_check(True, 8), {"HealthCheckId": HC})
    r53.add_response(
        "update_health_check",
        health_check(False, 9),
        {"HealthCheckId": HC, "HealthCheckVersion": 8, "Inverted": False},
    )
    restored = route53.restore_health_check(HC)
    assert restored["changed"] and restored["inverted"] is False
    assert ledger_states(isolated) == [("invert_health_check", "reverted")]


def test_invert_is_idempotent_and_restore_keeps_a_saved_inverted_state(stubs: Stubs) -> None:
    stubs.identity()
    r53 = stubs.stub("route53")
    r53.add_response("get_health_check", health_check(True, 3), {"HealthCheckId": HC})
    assert route53.invert_health_check(HC)["changed"] is False  # no update call queued
    r53.add_response("get_health_check", health_check(True, 3), {"HealthCheckId": HC})
    assert route53.restore_health_check(HC, inverted=True)["changed"] is False


def test_version_mismatch_fails_and_marks_nothing_applied(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    r53 = stubs.stub("route53")
    r53.add_response("get_health_check", health_check(False, 1), {"HealthCheckId": HC})
    r53.add_client_error(
        "update_health_check",
        service_error_code="HealthCheckVersionMismatch",
        service_message="version changed",
        http_status_code=409,
        expected_params={"HealthCheckId": HC, "HealthCheckVersion": 1, "Inverted": True},
    )
    with pytest.raises(ActivityFailed, match="run the action again"):
        route53.invert_health_check(HC)
    assert ledger_states(isolated) == [("invert_health_check", "failed")]


def test_unknown_health_check_fails_before_the_ledger(stubs: Stubs, isolated: Path) -> None:
    stubs.identity()
    stubs.stub("route53").add_client_error(
        "get_health_check",
        service_error_code="NoSuchHealthCheck",
        service_message="nope",
        http_status_code=404,
        expected_params={"HealthCheckId": ANY},
    )
    with pytest.raises(ActivityFailed, match="list-health-checks") as info:
        route53.invert_health_check("nope")
    assert info.value.__cause__ is not None
    assert ledger_states(isolated) == []


def test_a_refused_retry_leaves_the_fault_open_for_the_rollback(
    stubs: Stubs, isolated: Path
) -> None:
    """botocore retries a timed-out update; when the first attempt had landed, the retry is
    refused (the version moved on) although the check *is* inverted: the entry must stay
    open, or neither the rollback nor `gameday recover` would restore the check."""
    stubs.identity()
    r53 = stubs.stub("route53")
    r53.add_response("get_health_check", health_check(False, 4), {"HealthCheckId": HC})
    r53.add_client_error(
        "update_health_check",
        service_error_code="HealthCheckVersionMismatch",
        service_message="version changed",
        http_status_code=409,
        expected_params={"HealthCheckId": HC, "HealthCheckVersion": 4, "Inverted": True},
        response_meta={"RetryAttempts": 1},
    )
    with pytest.raises(ActivityFailed, match="Could not invert"):
        route53.invert_health_check(HC)
    assert ledger_states(isolated) == [("invert_health_check", "pending")]

    r53.add_response("get_health_check", health_check(True, 5), {"HealthCheckId": HC})
    r53.add_response(
        "update_health_check",
        health_check(False, 6),
        {"HealthCheckId": HC, "HealthCheckVersion": 5, "Inverted": False},
    )
    assert route53.restore_health_check(HC)["changed"] is True
    assert ledger_states(isolated) == [("invert_health_check", "reverted")]


def test_restore_leaves_a_check_the_drill_did_not_invert(stubs: Stubs, isolated: Path) -> None:
    """A check inverted on purpose before the drill: the action changes nothing, and its
    rollback (which runs anyway) must not un-invert it."""
    stubs.identity()
    r53 = stubs.stub("route53")
    r53.add_response("get_health_check", health_check(True, 3), {"HealthCheckId": HC})
    assert route53.invert_health_check(HC)["fault_id"] is None
    r53.add_response("get_health_check", health_check(True, 3), {"HealthCheckId": HC})
    restored = route53.restore_health_check(HC)  # no update_health_check queued
    assert (restored["changed"], restored["inverted"], restored["reverted"]) == (False, True, [])
    assert ledger_states(isolated) == []
