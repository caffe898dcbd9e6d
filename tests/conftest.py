"""Shared fixtures: real labs, started once where tests can share them, and always stopped.

Which lab fixture to use (see tests/README.md, "How to write a lab test that stays fast"):

* ``shared_lab``: one default lab per pytest-xdist worker, kept from one test to the next
  test that uses it (stopped when the next test does not). A test
  that uses it must leave it in its steady state (drills roll back; a test that injects a
  fault reverts it): after the test, the lab is checked and, if it is not back within
  :data:`STEADY_TIMEOUT`, that test fails and the lab is restarted for the next one.
* ``lab``: a default lab for one test module (tests that count events or stores from the
  lab's start, or change it in ways its steady state does not cover). Checked the same way.
* ``lab_factory``: labs with custom settings for one test (the costliest: a start each).
* ``fast_speed``: the lab speed for tests whose assertion does not depend on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gameday.lab import Lab, LabConfig
from gameday.lab.config import START_TIMEOUT_ENV
from tests import scheduling
from tests.lab.helpers import STEADY_TIMEOUT, wait_for_lab_steady, wait_for_steady_state
from tests.safety.matrix import MATRIX_PROPERTY

#: A lab speed (AWS seconds per lab second) for tests whose assertion holds at any speed:
#: twice the default. Not faster: the health checkers' connect limit (4 AWS s) shrinks with
#: it, and on a loaded 2-core machine a probe must not miss it for want of CPU.
FAST_SPEED = 20.0

__all__ = ["FAST_SPEED", "STEADY_TIMEOUT", "wait_for_lab_steady", "wait_for_steady_state"]


def pytest_configure(config: pytest.Config) -> None:
    scheduling.register(config)
    # The suite runs more workers than cores (it waits more than it computes), so at its
    # busiest moments a lab's start waits for the CPU: give every lab the tests start (in
    # this process and the gameday commands it runs) three minutes instead of 45 s. A lab
    # that cannot start still fails with its cause, only later.
    os.environ.setdefault(START_TIMEOUT_ENV, "180")


#: The safety matrix's cells as its columns report them (tests/safety/test_matrix.py); the
#: reports reach this process from every xdist worker.
_MATRIX_CELLS: list[dict[str, object]] = []
_MATRIX_SPEEDS: set[float] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == MATRIX_PROPERTY and report.when == "call":
            _MATRIX_CELLS.extend(value["cells"])
            _MATRIX_SPEEDS.add(value["speed"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The safety matrix over every column that ran: each cell, "cells passed / total" and
    the median / max time from the trigger to the lab's steady state."""
    if not _MATRIX_CELLS:
        return
    from tests.safety.matrix import Cell, summary

    (speed,) = _MATRIX_SPEEDS  # every column runs at the matrix's one speed
    terminalreporter.section("safety matrix")
    terminalreporter.write_line(summary([Cell.from_dict(c) for c in _MATRIX_CELLS], speed))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the item (the steady-state check reads the call's)."""
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


#: The shared lab's fixed global-failover and rebuild durations (AWS seconds; see `lab`).
SHARED_LAB_FAILOVER_SECONDS = 60.0
SHARED_LAB_RESYNC_SECONDS = 20.0
SHARED_LAB_PAUSE_DELAY_SECONDS = 10.0
#: The settings of ``lab`` and ``shared_lab`` (see ``lab``).
SHARED_LAB = {
    "failover_seconds": SHARED_LAB_FAILOVER_SECONDS,
    "resync_seconds": SHARED_LAB_RESYNC_SECONDS,
    "pause_replication_delay_seconds": SHARED_LAB_PAUSE_DELAY_SECONDS,
}


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never write to the user's own state directory: the default fault ledger
    ($XDG_STATE_HOME/gameday/faults.jsonl) of each test is its own (GAMEDAY_FAULT_LEDGER,
    when a test sets it, still wins)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def _start(lab_dir: Path, **settings: object) -> Lab:
    return Lab.start(LabConfig(lab_dir=str(lab_dir), **settings))  # type: ignore[arg-type]


def _restart(handle: Lab) -> None:
    """Stop ``handle``'s lab and start a fresh one (:data:`SHARED_LAB`) in its directory."""
    handle.stop()
    handle.__dict__.update(_start(handle.dir, **SHARED_LAB).__dict__)


class SharedLab:
    """This worker's shared default lab: started when a test asks for it, kept while the
    tests that follow ask for it too, stopped before one that does not (an idle lab still
    probes its regions every lab second: it must not eat the CPU the other tests need)."""

    def __init__(self) -> None:
        self.handle: Lab | None = None
        self.starts = 0

    def get(self, tmp_path_factory: pytest.TempPathFactory) -> Lab:
        if self.handle is None:
            self.handle = _start(tmp_path_factory.mktemp("shared-lab"), **SHARED_LAB)
            self.starts += 1
        return self.handle

    def stop(self) -> None:
        if self.handle is not None:
            handle, self.handle = self.handle, None
            handle.stop()


_SHARED = SharedLab()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the shared lab once the next test of this worker does not use it."""
    if nextitem is None or "shared_lab" not in getattr(nextitem, "fixturenames", ()):
        _SHARED.stop()


def pytest_sessionfinish() -> None:
    _SHARED.stop()


@pytest.fixture
def shared_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """A default lab shared by consecutive tests of this worker that leave it in its steady
    state (checked after each test): no lab start for a test that follows another one."""
    return _SHARED.get(tmp_path_factory)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab with the default configuration, for one test module.

    Except three drawn durations, fixed here to keep the suite short (:data:`SHARED_LAB`):
    an unplanned global failover (60 AWS s; drawn from 60-300 s by default), the old
    primary's rebuild after it (20 AWS s; drawn from 300-1800 s), which every
    failover-then-failback test would otherwise wait out, and the delay before a FIS
    global-table pause bites (10 AWS s; drawn from 0-300 s). tests/lab/test_fidelity.py
    covers the draws themselves. ``shared_lab`` uses the same settings.
    """
    handle = _start(tmp_path_factory.mktemp("lab"), **SHARED_LAB)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(autouse=True)
def _shared_lab_left_steady(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used a shared lab: the lab must be back in its steady state.

    If it is not within :data:`STEADY_TIMEOUT`, the test that left it so fails (unless it
    failed already) and the lab is restarted, so its neighbours start from a clean lab.
    """
    yield
    if "shared_lab" in request.fixturenames:
        handle = _SHARED.handle  # the function-scoped fixture is torn down already
    elif "lab" in request.fixturenames:
        handle = request.getfixturevalue("lab")  # module-scoped: still up
    else:
        return
    if handle is None:
        return
    try:
        wait_for_lab_steady(handle, default_lag=LabConfig().replication_lag)
    except AssertionError as problem:
        _restart(handle)
        report = getattr(request.node, "_report_call", None)
        if report is None or report.passed:
            pytest.fail(f"this test left the shared lab dirty (restarted for the next): {problem}")


@pytest.fixture
def steady_lab(shared_lab: Lab) -> Lab:
    """The worker's shared lab, checked to be in its steady state before the test too."""
    wait_for_lab_steady(shared_lab)
    return shared_lab


@pytest.fixture
def fast_speed() -> float:
    """:data:`FAST_SPEED`, for ``lab_factory(speed=fast_speed, ttl=60)`` (the lab refuses a
    speed that would distort its TTLs: at 20, a TTL must be a multiple of 20 seconds)."""
    return FAST_SPEED


@pytest.fixture
def lab_factory(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    """Start labs with custom settings for one test; all are stopped afterwards."""
    started: list[Lab] = []

    def start(**settings: object) -> Lab:
        handle = _start(tmp_path / f"lab{len(started)}", **settings)
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


@pytest.fixture
def shared_lab_env(shared_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 in this process at the worker's shared lab (undone after the test)."""
    env = shared_lab.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
