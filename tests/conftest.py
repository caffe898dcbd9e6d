"""Shared fixtures: a real lab, started for a test module and always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gameday.lab import Lab, LabConfig

#: The shared lab's fixed global-failover and rebuild durations (AWS seconds; see `lab`).
SHARED_LAB_FAILOVER_SECONDS = 60.0
SHARED_LAB_RESYNC_SECONDS = 20.0
SHARED_LAB_PAUSE_DELAY_SECONDS = 10.0


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write to the user's own state directory: the default fault ledger
    ($XDG_STATE_HOME/gameday/faults.jsonl) of each test is its own (GAMEDAY_FAULT_LEDGER,
    when a test sets it, still wins)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab with the default configuration, for one test module.

    Except three drawn durations, fixed here to keep the suite short: an unplanned global
    failover (60 AWS s; drawn from 60-300 s by default), the old primary's rebuild after
    it (20 AWS s; drawn from 300-1800 s), which every failover-then-failback test would
    otherwise wait out, and the delay before a FIS global-table pause bites (10 AWS s;
    drawn from 0-300 s). tests/lab/test_fidelity.py covers the draws themselves.
    """
    handle = Lab.start(
        LabConfig(
            lab_dir=str(tmp_path_factory.mktemp("lab")),
            failover_seconds=SHARED_LAB_FAILOVER_SECONDS,
            resync_seconds=SHARED_LAB_RESYNC_SECONDS,
            pause_replication_delay_seconds=SHARED_LAB_PAUSE_DELAY_SECONDS,
        )
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def lab_factory(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """Start labs with custom settings for one test; all are stopped afterwards."""
    started: list[Lab] = []

    def start(**settings: object) -> Lab:
        config = LabConfig(lab_dir=str(tmp_path / f"lab{len(started)}"), **settings)  # type: ignore[arg-type]
        handle = Lab.start(config)
        started.append(handle)
        return handle

    try:
        yield start
    finally:
        for handle in started:
            handle.stop()


@pytest.fixture
def lab_env(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 in this process at the module's lab (undone after the test)."""
    env = lab.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
