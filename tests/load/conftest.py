"""Fixtures for the load tests: loopback stand-ins for the lab's regions and DNS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.load.runner import LoadRun
from gameday.load.settings import LoadSettings
from tests.load.load_servers import FailoverDNS, OrdersRegion, region_pair

RECORD = "api.lab.internal"


@pytest.fixture
def regions() -> Iterator[tuple[OrdersRegion, OrdersRegion]]:
    primary, secondary = region_pair()
    yield primary, secondary
    primary.stop()
    secondary.stop()


@pytest.fixture
def dns(regions: tuple[OrdersRegion, OrdersRegion]) -> Iterator[FailoverDNS]:
    server = FailoverDNS(RECORD, regions[0].address, ttl=1)
    yield server
    server.stop()


@pytest.fixture
def make_settings(
    tmp_path: Path, regions: tuple[OrdersRegion, OrdersRegion], dns: FailoverDNS
) -> Callable[..., LoadSettings]:
    """LoadSettings aimed at the in-test regions through the in-test DNS, lab mode on."""
    counter = iter(range(1000))

    def make(**overrides: Any) -> LoadSettings:
        values: dict[str, Any] = {
            "target": RECORD,
            "port": regions[0].port,
            "users": 2,
            "run_time": 20,
            "ledger": tmp_path / f"run{next(counter)}" / "ledger.jsonl",
            "nameserver": dns.nameserver,
            "lab": True,
            "think_min": 0.02,
            "think_max": 0.05,
            "connect_timeout": 1.0,
            "network_timeout": 1.0,
        }
        values.update(overrides)
        return LoadSettings(**values)

    return make


@pytest.fixture
def runs() -> Iterator[list[LoadRun]]:
    """Collects LoadRuns so every process a test started is stopped, pass or fail."""
    started: list[LoadRun] = []
    yield started
    for run in started:
        if run.process is not None:
            run.stop(timeout=10)
