"""Read-only AWS access for discovery: every call it may make, and nothing else.

:data:`READ_CALLS` lists, per boto3 service, the only operations discovery calls (all
``Describe``/``List``/``Get``). :class:`Reader` makes its clients with gameday's one
factory (:func:`gameday.aws.client`) and registers a ``before-call`` hook on each that
refuses any operation outside that list, so discovery is read-only by construction, not
by care. ``gameday iam --discover`` derives its policy from the same list
(:func:`iam_actions`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore import xform_name
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from gameday.aws import client

__all__ = ["READ_CALLS", "NotReadOnly", "Reader", "error_code", "iam_actions"]

#: boto3 service name -> the operations discovery may call.
READ_CALLS: dict[str, tuple[str, ...]] = {
    "sts": ("GetCallerIdentity",),
    "route53": (
        "ListHostedZones",
        "ListResourceRecordSets",
        "GetHealthCheck",
        "ListTagsForResources",
    ),
    "ec2": ("DescribeRegions", "DescribeSubnets", "DescribeNetworkAcls"),
    "elbv2": (
        "DescribeLoadBalancers",
        "DescribeTargetGroups",
        "DescribeTargetHealth",
    ),
    "rds": ("DescribeGlobalClusters",),
    "dynamodb": ("ListTables", "DescribeTable", "ListTagsOfResource"),
    "secretsmanager": ("ListSecrets", "DescribeSecret"),
    "iam": ("GetRole",),
}


class NotReadOnly(RuntimeError):
    """Discovery tried an operation outside :data:`READ_CALLS` (a bug, never run)."""


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (``NoSuchHealthCheck`` ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def iam_actions() -> list[str]:
    """The IAM actions discovery needs (``route53:GetHealthCheck`` ...), sorted."""
    from gameday.iam import iam_prefix

    actions: set[str] = set()
    for service, operations in READ_CALLS.items():
        prefix = iam_prefix(_model(service))
        actions.update(f"{prefix}:{operation}" for operation in operations)
    return sorted(actions)


def _model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


class Reader:
    """Makes read-only clients (one per service and region) for a discovery run."""

    def __init__(self, configuration: Mapping[str, Any] | None = None) -> None:
        self._configuration = dict(configuration or {})
        self._clients: dict[tuple[str, str | None], BaseClient] = {}

    def client(self, service: str, region: str | None = None) -> BaseClient:
        key = (service, region)
        if key not in self._clients:
            if service not in READ_CALLS:
                raise NotReadOnly(f"discovery has no read calls for {service}")
            made = client(service, region, configuration=self._configuration)
            allowed = frozenset(READ_CALLS[service])

            def guard(model: Any = None, **_: Any) -> None:
                if model.name not in allowed:
                    raise NotReadOnly(f"discovery may not call {service}:{model.name}")

            service_id = made.meta.service_model.service_id.hyphenize()
            made.meta.events.register_first(f"before-call.{service_id}", guard)
            self._clients[key] = made
        return self._clients[key]

    def call(self, service: str, region: str | None, operation: str, **kwargs: Any) -> Any:
        """One call of ``operation`` (its PascalCase name, as in :data:`READ_CALLS`)."""
        return getattr(self.client(service, region), xform_name(operation))(**kwargs)

    def pages(
        self, service: str, region: str | None, operation: str, key: str, **kwargs: Any
    ) -> Iterator[Any]:
        """Every item under ``key`` of every page of ``operation``."""
        made = self.client(service, region)
        name = xform_name(operation)
        if made.can_paginate(name):
            for page in made.get_paginator(name).paginate(**kwargs):
                yield from page.get(key, [])
        else:
            yield from getattr(made, name)(**kwargs).get(key, [])
