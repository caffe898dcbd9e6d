"""The data tier and the secret both regions use, found by where they live.

An Aurora global database whose members sit in both regions, a DynamoDB table whose
replicas do, a secret in the primary replicated to the secondary: each is the one
candidate spanning the two regions, or the one of several tagged ``gameday:service`` with
the service's name, or the one named by the user. What is not found is a :class:`Missing`
with the reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gameday.discovery.model import TAG_SERVICE, Missing
from gameday.discovery.reader import Reader, error_code
from gameday.discovery.route53 import normalise

__all__ = ["Hints", "Span", "fis_role", "global_database", "secret", "table"]


@dataclass(frozen=True)
class Hints:
    """Names the user gave (each skips the search for that resource)."""

    global_cluster: str | None = None
    table: str | None = None
    secret: str | None = None
    fis_role: str = "gameday-fis"


@dataclass(frozen=True)
class Span:
    """The service and its two regions: what every candidate must span."""

    service: str
    primary: str
    secondary: str


def _pick(
    candidates: list[Any],
    name: Callable[[Any], str],
    tags: Callable[[Any], dict[str, str]],
    span: Span,
) -> tuple[Any | None, str]:
    """The one candidate (a tag decides between several); else None and why."""
    if len(candidates) > 1:
        tagged = [c for c in candidates if normalise(tags(c).get(TAG_SERVICE, "")) == span.service]
        if len(tagged) == 1:
            return tagged[0], ""
        names = ", ".join(sorted(name(c) for c in candidates))
        return None, (
            f"several are in both {span.primary} and {span.secondary} ({names}) and "
            f"{'none' if not tagged else 'more than one'} is tagged {TAG_SERVICE}={span.service}"
        )
    if not candidates:
        return None, f"none is in both {span.primary} and {span.secondary}"
    return candidates[0], ""


def _region(arn: str) -> str:
    return arn.split(":")[3]


def global_database(
    reader: Reader, span: Span, hints: Hints, values: dict[str, Any], missing: list[Missing]
) -> None:
    """``global_cluster_id`` and each region's member cluster ARN."""
    keys = ("global_cluster_id", "primary_db_cluster_arn", "secondary_db_cluster_arn")
    found = [
        g
        for g in reader.pages("rds", span.primary, "DescribeGlobalClusters", "GlobalClusters")
        if hints.global_cluster in (None, g["GlobalClusterIdentifier"])
        and {span.primary, span.secondary}
        <= {_region(m["DBClusterArn"]) for m in g.get("GlobalClusterMembers", [])}
    ]
    chosen, why = _pick(
        found,
        lambda g: g["GlobalClusterIdentifier"],
        lambda g: {t["Key"]: t["Value"] for t in g.get("TagList", [])},
        span,
    )
    if chosen is None:
        what = (
            f"Aurora global database {hints.global_cluster}"
            if hints.global_cluster
            else "an Aurora global database"
        )
        missing.append(Missing(keys, what, why))
        values.update(dict.fromkeys(keys, ""))
        return
    values["global_cluster_id"] = chosen["GlobalClusterIdentifier"]
    for member in chosen["GlobalClusterMembers"]:
        for role in ("primary", "secondary"):
            if _region(member["DBClusterArn"]) == getattr(span, role):
                values[f"{role}_db_cluster_arn"] = member["DBClusterArn"]


def table(
    reader: Reader, span: Span, hints: Hints, values: dict[str, Any], missing: list[Missing]
) -> None:
    """``table_name`` and ``table_arn`` (the primary region's replica)."""
    names: Iterable[str] = (
        [hints.table]
        if hints.table
        else reader.pages("dynamodb", span.primary, "ListTables", "TableNames")
    )
    found = []
    for name in names:
        try:
            described = reader.call("dynamodb", span.primary, "DescribeTable", TableName=name)[
                "Table"
            ]
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            continue
        if span.secondary in {r.get("RegionName") for r in described.get("Replicas", [])}:
            found.append(described)

    def tags(described: dict[str, Any]) -> dict[str, str]:
        answer = reader.call(
            "dynamodb", span.primary, "ListTagsOfResource", ResourceArn=described["TableArn"]
        )
        return {t["Key"]: t["Value"] for t in answer.get("Tags", [])}

    chosen, why = _pick(found, lambda t: t["TableName"], tags, span)
    if chosen is None:
        what = f"DynamoDB global table {hints.table}" if hints.table else "a DynamoDB global table"
        missing.append(Missing(("table_name", "table_arn"), what, why))
        values.update(table_name="", table_arn="")
        return
    values.update(table_name=chosen["TableName"], table_arn=chosen["TableArn"])


def secret(
    reader: Reader, span: Span, hints: Hints, values: dict[str, Any], missing: list[Missing]
) -> None:
    """``secret_name``: a secret in the primary with a replica in the secondary."""
    kwargs: dict[str, Any] = (
        {"Filters": [{"Key": "name", "Values": [hints.secret]}]} if hints.secret else {}
    )
    found = []
    for entry in reader.pages(
        "secretsmanager", span.primary, "ListSecrets", "SecretList", **kwargs
    ):
        if hints.secret and entry["Name"] != hints.secret:
            continue
        described = reader.call(
            "secretsmanager", span.primary, "DescribeSecret", SecretId=entry["ARN"]
        )
        replicas = {r.get("Region") for r in described.get("ReplicationStatus", [])}
        if span.secondary in replicas:
            found.append(entry)
    chosen, why = _pick(
        found,
        lambda s: s["Name"],
        lambda s: {t["Key"]: t["Value"] for t in s.get("Tags", [])},
        span,
    )
    if chosen is None:
        what = f"secret {hints.secret}" if hints.secret else "a secret replicated to the secondary"
        missing.append(Missing(("secret_name",), what, why))
        values["secret_name"] = ""
        return
    values["secret_name"] = chosen["Name"]


def fis_role(
    reader: Reader, span: Span, hints: Hints, values: dict[str, Any], missing: list[Missing]
) -> None:
    """``fis_role_arn``: the IAM role FIS experiments run under (by name)."""
    try:
        role = reader.call("iam", None, "GetRole", RoleName=hints.fis_role)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        missing.append(
            Missing(
                ("fis_role_arn",),
                f"IAM role {hints.fis_role}",
                "no such role (FIS experiments run under it; pass --fis-role)",
            )
        )
        values["fis_role_arn"] = ""
        return
    values["fis_role_arn"] = role["Arn"]
