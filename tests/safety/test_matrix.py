"""The safety matrix: every way a drill can be stopped x every impairment, and after each
cell the lab is back in its steady state by its own account (its event log).

{SIGINT, SIGTERM, SIGHUP, SIGTERM then SIGKILL after 10 s then ``gameday recover``, an
exception inside an action, a failed steady-state probe, a tripped stop condition (a
CloudWatch alarm in ALARM), ``gameday abort``} x {inverted health check, NACL block, paused
replication, removed secret replica, database failover}: 40 cells. Each fault is a test of
its own (a column), with its own lab which its eight cells share and restore, so pytest-xdist
spreads the five columns over its workers and each lab lives only as long as its column.
The time from the trigger to the lab's steady state is printed per cell and, at the end of
the session, as median / max over every column that ran, with "cells passed / total"
(``tests/conftest.py``, ``pytest_terminal_summary``). ``-k nacl`` runs one column.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.lab import Lab, LabConfig, RegionSpec
from tests.conftest import FAST_SPEED, SHARED_LAB
from tests.safety.matrix import (
    FAULTS,
    FINISH_TIMEOUT,
    MATRIX_PROPERTY,
    STEADY_TIMEOUT,
    TRIGGERS,
    Cell,
    await_steady,
    cell_env,
    create_alarm,
    recover_everything,
    run_cell,
    summary,
)

pytestmark = [pytest.mark.slow, pytest.mark.lab]

#: The suite's fast speed: the cells' assertions do not depend on the speed, but the
#: checkers' connect limit (4 AWS s) shrinks with it and must hold on a loaded machine; and
#: an idle lab costs CPU with it (24% of a core at speed 60, 12% at 20: psutil over 20 s).
SPEED = FAST_SPEED
TTL = 60


def _config(index: int, fault: str, base: Path) -> LabConfig:
    return LabConfig(
        regions=(
            RegionSpec("us-east-1", f"127.0.{120 + index}.1"),
            RegionSpec("us-west-2", f"127.0.{130 + index}.1"),
        ),
        speed=SPEED,
        ttl=TTL,
        # the documented ranges fixed as the shared test lab fixes them: a cell is about
        # the rollback, not about how long AWS takes to rebuild an old primary
        **SHARED_LAB,
        data_tier="dynamodb" if fault == "replication" else "aurora",
        lab_dir=str(base / f"lab-{fault}"),
    )


@pytest.fixture
def column_lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    """The lab of one column (``request.param``: its fault), stopped after the column."""
    fault = request.param
    handle = Lab.start(_config(FAULTS.index(fault), fault, tmp_path))
    try:
        yield handle
    finally:
        handle.stop()


def _column(lab: Lab, fault: str, work: Path) -> list[Cell]:
    variables = json.loads((lab.dir / "vars.json").read_text())["configuration"]
    create_alarm(variables)
    work.mkdir(parents=True, exist_ok=True)
    env = cell_env(work / "state")
    cells = []
    for trigger in TRIGGERS:
        try:
            await_steady(lab, variables, STEADY_TIMEOUT)
        except AssertionError as exc:  # the previous cell left the lab impaired
            cells.append(Cell(fault, trigger, False, None, None, f"not steady before: {exc}"))
            recover_everything(env)
            continue
        cell = run_cell(lab, variables, fault, trigger, work, env)
        if not cell.passed and cell.detail.startswith("the fault was never applied"):
            # the drill stopped before injecting (nothing to roll back, so nothing was
            # tested): run the cell once more, and say so in the summary
            cell.finish(timeout=FINISH_TIMEOUT)
            first = cell.detail
            cell = run_cell(lab, variables, fault, trigger, work, env)
            cell.detail = f"{cell.detail} (retried once: {first})".strip()
        cells.append(cell)
    for cell in cells:  # the drills that were still writing their reports
        cell.finish(timeout=FINISH_TIMEOUT)
    return cells


@pytest.mark.timeout(900)
@pytest.mark.parametrize("column_lab", FAULTS, indirect=True, ids=FAULTS)
def test_every_stop_leaves_the_lab_steady(
    column_lab: Lab, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fault = request.node.callspec.params["column_lab"]
    work = Path(os.environ.get("GAMEDAY_MATRIX_DIR") or tmp_path) / fault  # keep the logs
    cells = _column(column_lab, fault, work)
    table = summary(cells, SPEED)
    (work / "matrix.txt").write_text(table + "\n")
    # the session's summary of every column (tests/conftest.py); it crosses xdist workers
    outcome = {"speed": SPEED, "cells": [c.to_dict() for c in cells]}
    request.node.user_properties.append((MATRIX_PROPERTY, outcome))
    assert all(c.passed for c in cells), table
