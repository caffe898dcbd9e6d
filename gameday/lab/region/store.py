"""A region's durable orders store (SQLite, WAL) with its change log.

Every mutation, a local write or a replicated one, gets the next local sequence number, so
the replication link can ship "everything after seq N" from whichever region is the writer.
Rows a failed-over region had acknowledged but never shipped are moved aside into
``lost_orders`` when it is demoted (as Aurora keeps the old writer's divergent data out of
the new topology), so ground truth can still name them.

Replicated changes are applied in one of two ways: ``first-writer`` (the Aurora tier: one
writer, so an id already here is the same row) or ``last-writer-wins`` (the DynamoDB tier:
every region writes, and a replicated version of an id replaces the local one only if it
was written later, as DynamoDB global tables reconcile concurrent writes to one item).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    acked_at REAL NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS lost_orders (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    acked_at REAL NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    lost_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deleted_orders (
    id TEXT NOT NULL,
    deleted_at REAL NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL UNIQUE
);
"""

#: The body a deletion ships as in the change log (a tombstone).
TOMBSTONE = {"_deleted": True}


@dataclass(frozen=True)
class Order:
    """One stored order."""

    id: str
    body: dict[str, Any]
    acked_at: float
    origin: str
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "body": self.body,
            "acked_at": self.acked_at,
            "origin": self.origin,
            "seq": self.seq,
        }


class OrderStore:
    """Orders of one region, durable across a crash of the region process."""

    def __init__(self, path: str | Path, region: str) -> None:
        self.region = region
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.max_seq: int = self.current_max_seq()

    def close(self) -> None:
        self._db.close()

    def current_max_seq(self) -> int:
        """The highest seq on disk (another process may have written since this opened)."""
        row = self._db.execute(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM orders), 0), "
            "COALESCE((SELECT MAX(seq) FROM deleted_orders), 0))"
        ).fetchone()
        return int(row[0])

    def ping(self) -> bool:
        """True if the store answers a query (the deep health check's store part)."""
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def get(self, order_id: str) -> Order | None:
        row = self._db.execute(
            "SELECT id, body, acked_at, origin, seq FROM orders WHERE id = ?", (order_id,)
        ).fetchone()
        return _order(row) if row else None

    def put(self, order_id: str, body: dict[str, Any]) -> tuple[Order, bool]:
        """Store a client write; returns the order and whether it was new (idempotent)."""
        existing = self.get(order_id)
        if existing is not None:
            return existing, False
        self.max_seq += 1
        order = Order(order_id, body, time.time(), self.region, self.max_seq)
        self._db.execute(
            "INSERT INTO orders (id, body, acked_at, origin, seq) VALUES (?, ?, ?, ?, ?)",
            (order.id, json.dumps(order.body), order.acked_at, order.origin, order.seq),
        )
        return order, True

    def delete(self, order_id: str) -> bool:
        """Delete a client's order; the deletion ships as a tombstone. False if absent."""
        self._db.execute("BEGIN")
        try:
            gone = self._db.execute("DELETE FROM orders WHERE id = ?", (order_id,)).rowcount
            if gone:
                self.max_seq += 1
                self._db.execute(
                    "INSERT INTO deleted_orders (id, deleted_at, origin, seq) VALUES (?, ?, ?, ?)",
                    (order_id, time.time(), self.region, self.max_seq),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return bool(gone)

    def changes_after(self, seq: int, limit: int) -> list[Order]:
        """Orders and deletions (body :data:`TOMBSTONE`) with a local seq above ``seq``."""
        rows = self._db.execute(
            "SELECT id, body, acked_at, origin, seq FROM orders WHERE seq > ? "
            "UNION ALL SELECT id, ?, deleted_at, origin, seq FROM deleted_orders WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (seq, json.dumps(TOMBSTONE), seq, limit),
        ).fetchall()
        return [_order(r) for r in rows]

    def apply(self, changes: list[dict[str, Any]], merge: str = "first-writer") -> int:
        """Apply replicated orders (idempotent); returns how many changed a row here.

        ``merge="last-writer-wins"``: a change replaces an existing row of the same id only
        if it is newer (acked later; ties go to the origin region's name, so every region
        settles on the same version whatever order the changes arrive in).
        """
        applied = 0
        self._db.execute("BEGIN")
        try:
            for change in changes:
                if change["body"] == TOMBSTONE:
                    applied += self._apply_deletion(change)
                    continue
                if merge == "last-writer-wins":
                    row = self._db.execute(
                        "SELECT acked_at, origin FROM orders WHERE id = ?", (change["id"],)
                    ).fetchone()
                    if row is not None:
                        if (change["acked_at"], change["origin"]) <= (float(row[0]), row[1]):
                            continue
                        self._db.execute("DELETE FROM orders WHERE id = ?", (change["id"],))
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO orders (id, body, acked_at, origin, seq) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        change["id"],
                        json.dumps(change["body"]),
                        change["acked_at"],
                        change["origin"],
                        self.max_seq + 1,
                    ),
                )
                if cursor.rowcount:
                    self.max_seq += 1
                    applied += 1
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return applied

    def _apply_deletion(self, change: dict[str, Any]) -> int:
        """A replicated deletion (inside :meth:`apply`'s transaction); 1 if it removed a row."""
        gone = self._db.execute("DELETE FROM orders WHERE id = ?", (change["id"],)).rowcount
        if gone:
            self.max_seq += 1
            self._db.execute(
                "INSERT INTO deleted_orders (id, deleted_at, origin, seq) VALUES (?, ?, ?, ?)",
                (change["id"], change["acked_at"], change["origin"], self.max_seq),
            )
        return int(bool(gone))

    def discard_after(self, seq: int) -> int:
        """Move this region's own writes with a local seq above ``seq`` (acknowledged here,
        never shipped) into ``lost_orders``; returns how many. Rows replicated in from
        another region are kept: they live on in the region that wrote them."""
        now = time.time()
        self._db.execute("BEGIN")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO lost_orders (id, body, acked_at, origin, seq, lost_at) "
                "SELECT id, body, acked_at, origin, seq, ? FROM orders WHERE seq > ? AND origin = ?",
                (now, seq, self.region),
            )
            moved = self._db.execute(
                "DELETE FROM orders WHERE seq > ? AND origin = ?", (seq, self.region)
            ).rowcount
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return moved

    def _select_in(self, columns: str, ids: list[str]) -> list[tuple[Any, ...]]:
        """Rows of ``orders`` whose id is among ``ids`` (one query per 500 ids)."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {columns} FROM orders WHERE id IN ({marks})"
            rows.extend(self._db.execute(query, chunk))
        return rows

    def get_many(self, ids: list[str]) -> list[Order]:
        """The stored orders among ``ids``."""
        return [_order(r) for r in self._select_in("id, body, acked_at, origin, seq", ids)]

    def existing(self, ids: list[str]) -> list[str]:
        """Which of ``ids`` are in the store."""
        return [r[0] for r in self._select_in("id", ids)]

    def lost(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, acked_at, origin, seq, lost_at FROM lost_orders ORDER BY acked_at"
        ).fetchall()
        return [
            {"id": r[0], "acked_at": r[1], "origin": r[2], "seq": r[3], "lost_at": r[4]}
            for r in rows
        ]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])


def _order(row: tuple[Any, ...]) -> Order:
    return Order(row[0], json.loads(row[1]), float(row[2]), row[3], int(row[4]))
