"""The Route 53 probe on AWS's exact response shapes (botocore Stubber): the effective
status it computes from configuration + observations, and the metric it compares with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from gameday.probes import route53 as probe

HC = "abcdef01-2345-6789-abcd-ef0123456789"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SUCCESS = "Success: HTTP Status Code 200, OK"
TIMEOUT = (
    "Failure: Connection timed out. The endpoint or the internet connection is down, or "
    "requests are being blocked by your firewall. See https://docs.aws.amazon.com/Route53/"
    "latest/DeveloperGuide/dns-failover-router-firewall-rules.html"
)
CHECKERS = [
    ("us-east-1", "15.177.2.1"),
    ("us-west-1", "15.177.10.1"),
    ("us-west-2", "15.177.18.1"),
    ("eu-west-1", "15.177.26.1"),
    ("ap-southeast-1", "15.177.34.1"),
    ("ap-southeast-2", "15.177.42.1"),
    ("ap-northeast-1", "15.177.50.1"),
    ("sa-east-1", "15.177.58.1"),
]


class Aws:
    """Stubbed route53 and cloudwatch clients handed to the probe instead of real ones."""

    def __init__(self) -> None:
        session = boto3.Session(
            aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
        )
        self.route53 = session.client("route53")
        self.cloudwatch = session.client("cloudwatch")
        self.r53 = Stubber(self.route53)
        self.cw = Stubber(self.cloudwatch)

    def config(self, hc: str = HC, **settings: Any) -> None:
        config = {
            "Type": "HTTP",
            "IPAddress": "192.0.2.10",
            "Port": 80,
            "ResourcePath": "/health",
            "RequestInterval": 10,
            "FailureThreshold": 3,
            "Inverted": False,
            "Disabled": False,
            **settings,
        }
        config = {k: v for k, v in config.items() if v is not None}
        self.r53.add_response(
            "get_health_check",
            {
                "HealthCheck": {
                    "Id": hc,
                    "CallerReference": "ref",
                    "HealthCheckConfig": config,
                    "HealthCheckVersion": 1,
                }
            },
            {"HealthCheckId": hc},
        )

    def observations(self, statuses: list[str], hc: str = HC) -> None:
        self.r53.add_response(
            "get_health_check_status",
            {
                "HealthCheckObservations": [
                    {
                        "Region": region,
                        "IPAddress": address,
                        "StatusReport": {"Status": status, "CheckedTime": NOW},
                    }
                    for (region, address), status in zip(CHECKERS, statuses, strict=False)
                ]
            },
            {"HealthCheckId": hc},
        )

    def metric(self, values: list[float]) -> None:
        stamps = [datetime(2026, 11, 30, 11, 59 - i, tzinfo=UTC) for i in range(len(values))]
        self.cw.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "status",
                        "Label": "HealthCheckStatus",
                        "Timestamps": stamps,
                        "Values": values,
                        "StatusCode": "Complete",
                    }
                ]
            },
            {
                "MetricDataQueries": ANY,
                "StartTime": ANY,
                "EndTime": ANY,
                "ScanBy": "TimestampDescending",
            },
        )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    stubs = Aws()
    clients = {"route53": stubs.route53, "cloudwatch": stubs.cloudwatch}
    monkeypatch.setattr(probe, "connect", lambda service, *args, **kw: clients[service])
    with stubs.r53, stubs.cw:
        yield stubs
    stubs.r53.assert_no_pending_responses()
    stubs.cw.assert_no_pending_responses()


def test_more_than_18_percent_of_checkers_healthy_is_healthy(aws: Aws) -> None:
    aws.config()
    aws.observations([SUCCESS, SUCCESS] + [TIMEOUT] * 6)  # 25%
    aws.metric([1.0])
    out = probe.health_check_status(HC)
    assert out["healthy"] is True and out["healthy_observations"] == 2
    assert out["total_observations"] == 8 and out["agrees_with_metric"] is True
    assert out["observations"][0] == {
        "region": "us-east-1",
        "ip_address": "15.177.2.1",
        "status": SUCCESS,
        "checked_time": NOW.isoformat(),
    }
    assert out["note"] is None


def test_one_checker_of_eight_is_not_enough(aws: Aws) -> None:
    aws.config()
    aws.observations([SUCCESS] + [TIMEOUT] * 7)  # 12.5%
    aws.metric([0.0, 1.0])  # latest first in time order: 11:58 -> 1, 11:59 -> 0
    out = probe.health_check_status(HC)
    assert out["healthy"] is False and out["metric"]["value"] == 0.0
    assert out["agrees_with_metric"] is True


def test_inverted_flips_raw_observations_that_route53_reports_uninverted(aws: Aws) -> None:
    aws.config(Inverted=True)
    aws.observations([SUCCESS] * 8)
    aws.metric([0.0])
    out = probe.health_check_status(HC)
    assert out["healthy"] is False and out["inverted"] is True
    assert out["healthy_observations"] == 8 and out["agrees_with_metric"] is True


def test_disabled_is_healthy_whatever_the_checkers_see(aws: Aws) -> None:
    aws.config(Disabled=True, Inverted=True)
    aws.observations([TIMEOUT] * 8)
    aws.metric([1.0])
    assert probe.health_check_status(HC)["healthy"] is True


def test_a_disagreement_with_the_metric_is_said(aws: Aws) -> None:
    aws.config()
    aws.observations([SUCCESS] * 8)
    aws.metric([0.0])
    out = probe.health_check_status(HC)
    assert out["healthy"] is True and out["agrees_with_metric"] is False
    assert out["note"].startswith("disagreement: computed healthy")


def test_an_unreadable_metric_is_reported_not_fatal(aws: Aws) -> None:
    aws.config()
    aws.observations([SUCCESS] * 8)
    aws.cw.add_client_error("get_metric_data", "AccessDenied", "not allowed", 403)
    out = probe.health_check_status(HC)
    assert out["healthy"] is True and out["agrees_with_metric"] is None
    assert out["metric"]["value"] is None and "AccessDenied" in out["metric"]["error"]
    assert "no HealthCheckStatus datapoint" in out["note"]


def test_calculated_counts_children_against_the_health_threshold(aws: Aws) -> None:
    child_a, child_b = "a" * 36, "b" * 36
    aws.config(
        Type="CALCULATED",
        ChildHealthChecks=[child_a, child_b],
        HealthThreshold=1,
        IPAddress=None,
        Port=None,
        ResourcePath=None,
        RequestInterval=None,
        FailureThreshold=None,
    )
    aws.config(hc=child_a)
    aws.observations([TIMEOUT] * 8, hc=child_a)
    aws.config(hc=child_b)
    aws.observations([SUCCESS] * 8, hc=child_b)
    aws.metric([1.0])
    out = probe.health_check_status(HC)
    assert out["healthy"] is True and out["children"] == {child_a: False, child_b: True}
    assert out["total_observations"] == 0


def test_effective_status_rules() -> None:
    assert probe._effective_status({"Type": "CALCULATED", "HealthThreshold": 0}, [], []) is True
    assert (
        probe._effective_status({"Type": "CALCULATED", "HealthThreshold": 2}, [], [True]) is False
    )
    assert probe._effective_status({"Type": "HTTP"}, []) is False  # nothing observed yet
    assert probe._effective_status({"Type": "CLOUDWATCH_METRIC"}, []) is None


def test_a_bad_metric_period_is_refused() -> None:
    from chaoslib.exceptions import ActivityFailed

    with pytest.raises(ActivityFailed, match="metric_period"):
        probe.health_check_status(HC, metric_period=0)
