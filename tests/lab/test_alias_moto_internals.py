"""Fail loudly when moto changes the internals the lab's load balancers and health-check
validation rely on (``gameday/lab/controlplane/elbv2.py``, ``healthcheckconfig.py``)."""

from __future__ import annotations

import inspect

from moto.elbv2.models import FakeHealthStatus, FakeLoadBalancer, FakeTargetGroup, elbv2_backends
from moto.route53.exceptions import InvalidInput
from moto.route53.models import RecordSet, Route53Backend

from gameday.aws import LAB_ACCOUNT_ID


def test_the_elbv2_internals_the_lab_reads_are_still_there() -> None:
    backend = elbv2_backends[LAB_ACCOUNT_ID]["us-east-1"]
    assert isinstance(backend.load_balancers, dict) and isinstance(backend.target_groups, dict)
    source = inspect.getsource(FakeTargetGroup.__init__)
    for attribute in (
        "self.targets",
        "self.load_balancer_arns",
        "self.health_check_path",
        "self.health_check_port",
        "self.health_check_protocol",
        "self.health_check_interval_seconds",
        "self.health_check_timeout_seconds",
        "self.healthy_threshold_count",
        "self.unhealthy_threshold_count",
        "self.health_check_enabled",
        "self.matcher",
    ):
        assert attribute in source, attribute
    assert "self.dns_name" in inspect.getsource(FakeLoadBalancer.__init__)


def test_the_operations_the_lab_patches_have_the_shapes_it_wraps() -> None:
    assert list(inspect.signature(FakeTargetGroup.health_for).parameters) == [
        "self",
        "target",
        "ec2_backend",
    ]
    assert list(inspect.signature(FakeHealthStatus.__init__).parameters) == [
        "self",
        "instance_id",
        "port",
        "health_port",
        "status",
        "reason",
        "description",
    ]
    assert list(inspect.signature(Route53Backend.create_health_check).parameters) == [
        "self",
        "caller_reference",
        "health_check_args",
    ]
    assert list(inspect.signature(Route53Backend.update_health_check).parameters) == [
        "self",
        "health_check_id",
        "health_check_args",
    ]
    assert InvalidInput("x").code == "InvalidInput"
    record = RecordSet({"AliasTarget": {"DNSName": "x"}, "Region": "us-east-1"})
    assert record.alias_target == {"DNSName": "x"} and record.region == "us-east-1"
