"""Browsing workload: clients read orders they placed when they arrived.

Each user places three orders when it starts (acknowledged writes, audited like any
other), then only reads them back, as a customer checking an order's status does. A
region that can serve reads (a replica) serves this workload fully, so it shows the DNS
part of a failover on its own. Run by the drill control when an experiment's gameday
extension says ``"load": {"profile": "load/browse.py"}``; by hand::

    gameday load run --locustfile load/browse.py --users 8 --run-time 60s
"""

from __future__ import annotations

import random

from locust import task

from gameday.load.locustfile import GamedayUser, new_write_id


class Browser(GamedayUser):
    """Places a few orders, then reads them back."""

    def on_start(self) -> None:
        self.mine: list[str] = []
        for _ in range(3):
            write_id = new_write_id()
            response = self.call(
                "POST", "/orders", op="write", write_id=write_id,
                json={"id": write_id, "item": "book", "quantity": 1},
            )  # fmt: skip
            if response is not None and response.status_code in (200, 201):
                self.mine.append(write_id)

    @task
    def check_order(self) -> None:
        if not self.mine:
            self.on_start()
            return
        write_id = random.choice(self.mine)
        self.call("GET", f"/orders/{write_id}", op="read", write_id=write_id)
