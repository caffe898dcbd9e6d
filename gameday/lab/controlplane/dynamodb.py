"""DynamoDB in the lab's control plane: the orders table as a global table.

moto 5.2.5 creates single-region tables only: ``describe_table`` shows no ``Replicas`` and
``ListGlobalTables`` / ``DescribeGlobalTable`` are not implemented. The lab creates the
table in each region (bootstrap) and then declares the set a global table here, so that

* ``describe_table`` in any member region shows ``GlobalTableVersion`` ``2019.11.21`` and
  ``Replicas`` (every other member region, ``ACTIVE``), as AWS shows them;
* ``list_global_tables`` lists it with its ``ReplicationGroup`` and ``describe_global_table``
  describes it (``GlobalTableNotFoundException`` for any other name).

The lab's replication of the table's items (in the ``dynamodb`` data tier) is the region
processes' link, paused by FIS ``aws:dynamodb:global-table-pause-replication``.
"""

from __future__ import annotations

import threading
from typing import Any

from gameday.aws import LAB_ACCOUNT_ID

#: The version AWS reports for global tables created the current way.
GLOBAL_TABLE_VERSION = "2019.11.21"

_lock = threading.Lock()
#: table name -> member regions, as declared by :func:`make_global`.
_GLOBAL: dict[str, tuple[str, ...]] = {}


def make_global(table_name: str, regions: list[str]) -> None:
    """Declare the same-named tables of ``regions`` one global table."""
    with _lock:
        _GLOBAL[table_name] = tuple(regions)


def replica_regions(table_name: str) -> tuple[str, ...]:
    """The member regions of a global table (empty for a regional table)."""
    with _lock:
        return _GLOBAL.get(table_name, ())


# -- moto internals (pinned: server.PINNED_MOTO_VERSION; checked by tests/lab/test_tiers.py)


def _table(region: str, name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[LAB_ACCOUNT_ID][region].tables.get(name)


def install() -> None:
    """Patch ``Table.describe`` and add the two global-table read operations."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    describe = Table.describe

    def describe_with_replicas(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
        result = describe(self, base_key)
        members = replica_regions(self.name)
        if self.region_name in members:
            result[base_key]["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
            result[base_key]["Replicas"] = [
                {"RegionName": r, "ReplicaStatus": "ACTIVE"}
                for r in members
                if r != self.region_name
            ]
        return result

    def group(name: str) -> list[dict[str, str]]:
        return [{"RegionName": r} for r in replica_regions(name)]

    def list_global_tables(self: Any) -> Any:
        region = self.region
        with _lock:
            names = sorted(n for n, members in _GLOBAL.items() if region in members)
        return ActionResult(
            {"GlobalTables": [{"GlobalTableName": n, "ReplicationGroup": group(n)} for n in names]}
        )

    def describe_global_table(self: Any) -> Any:
        name = self.body["GlobalTableName"]
        if self.region not in replica_regions(name):
            raise DynamodbException(
                "com.amazonaws.dynamodb.v20120810#GlobalTableNotFoundException",
                f"Global table not found: Global table with name: '{name}' does not exist.",
            )
        table = _table(self.region, name)
        return ActionResult(
            {
                "GlobalTableDescription": {
                    "GlobalTableName": name,
                    "GlobalTableArn": f"arn:aws:dynamodb::{LAB_ACCOUNT_ID}:global-table/{name}",
                    "GlobalTableStatus": "ACTIVE",
                    "CreationDateTime": table.created_at if table is not None else None,
                    "ReplicationGroup": [
                        {"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in replica_regions(name)
                    ],
                }
            }
        )

    Table.describe = describe_with_replicas
    DynamoHandler.list_global_tables = list_global_tables
    DynamoHandler.describe_global_table = describe_global_table
