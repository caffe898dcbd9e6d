"""Checkout workload: place an order, then read it back (read-your-writes).

The pattern a team copies for its own service: subclass ``GamedayUser`` (TTL-honouring
DNS, one ledger line per request), give every write a client-generated id, and call
``self.call(..., op="write", write_id=...)`` so an acknowledged answer becomes an
acknowledged write the audit looks for after the drill. Its own endpoints and its own
definition of "acknowledged" (here: 200 or 201 to ``POST /orders``) go in ``call``.
"""

from __future__ import annotations

from locust import task

from gameday.load.locustfile import GamedayUser, new_write_id


class Customer(GamedayUser):
    """One checkout per task: POST the order, then GET it back from wherever DNS points."""

    @task
    def checkout(self) -> None:
        write_id = new_write_id()
        response = self.call(
            "POST", "/orders", op="write", write_id=write_id,
            json={"id": write_id, "item": "widget", "quantity": 2},
        )  # fmt: skip
        if response is not None and response.status_code in (200, 201):
            self.call("GET", f"/orders/{write_id}", op="read", write_id=write_id)
