"""The safety matrix: every way a drill can be stopped x every impairment, and after each
cell the lab is back in its steady state by its own account (its event log).

{SIGINT, SIGTERM, SIGHUP, SIGTERM then SIGKILL after 10 s then ``gameday recover``, an
exception inside an action, a failed steady-state probe, a tripped stop condition (a
CloudWatch alarm in ALARM), ``gameday abort``} x {inverted health check, NACL block, paused
replication, removed secret replica, database failover}: 40 cells. Each fault type has its
own lab (fast: speed 60, ttl 60) which its eight cells share and restore; the five run side by
side. The time from the trigger to the lab's steady state is printed per cell and as
median / max, with "cells passed / total".
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gameday.lab import Lab, LabConfig, RegionSpec
from tests.conftest import SHARED_LAB
from tests.safety.matrix import (
    FAULTS,
    FINISH_TIMEOUT,
    STEADY_TIMEOUT,
    TRIGGERS,
    Cell,
    await_steady,
    cell_env,
    create_alarm,
    recover_everything,
    run_cell,
)

pytestmark = [pytest.mark.slow, pytest.mark.lab]

#: As fast as the lab serves its DNS TTLs faithfully (ttl 60 and the load balancers' 60 s
#: alias TTL are 1 lab second each); the cells' assertions do not depend on the speed.
SPEED = 60.0
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


def _faults() -> list[str]:
    """All five, or those named in GAMEDAY_MATRIX_FAULTS (comma-separated) to rerun a column."""
    named = [f for f in os.environ.get("GAMEDAY_MATRIX_FAULTS", "").split(",") if f]
    return [f for f in FAULTS if not named or f in named]


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Lab]]:
    base = tmp_path_factory.mktemp("matrix")
    chosen = _faults()
    with ThreadPoolExecutor(len(chosen)) as pool:
        futures = {f: pool.submit(Lab.start, _config(FAULTS.index(f), f, base)) for f in chosen}
    started = {}
    try:
        for fault, future in futures.items():
            started[fault] = future.result()
        yield started
    finally:
        for handle in started.values():
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


def _summary(cells: list[Cell]) -> str:
    lines = [f"{'fault':<14}{'trigger':<18}{'result':<8}{'to steady (s)':>14}  exit"]
    for c in cells:
        took = f"{c.seconds_to_steady:.2f}" if c.seconds_to_steady is not None else "-"
        lines.append(
            f"{c.fault:<14}{c.trigger:<18}{'ok' if c.passed else 'FAILED':<8}{took:>14}  {c.exit_code}"
        )
        if not c.passed or c.detail:
            lines.append(f"    {c.detail}")
    times = [c.seconds_to_steady for c in cells if c.seconds_to_steady is not None]
    passed = sum(c.passed for c in cells)
    lines.append(f"safety matrix: {passed}/{len(cells)} cells passed")
    if times:
        lines.append(
            f"trigger -> lab steady: median {statistics.median(times):.2f} s, "
            f"max {max(times):.2f} s (lab speed {SPEED:g})"
        )
    return "\n".join(lines)


@pytest.mark.timeout(1500)
def test_every_stop_leaves_the_lab_steady(
    labs: dict[str, Lab], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = Path(os.environ.get("GAMEDAY_MATRIX_DIR") or tmp_path)  # keep the drills' logs
    with ThreadPoolExecutor(len(labs)) as pool:
        columns = {
            fault: pool.submit(_column, lab, fault, work / fault) for fault, lab in labs.items()
        }
    cells = [cell for fault in labs for cell in columns[fault].result()]
    summary = _summary(cells)
    (work / "matrix.txt").write_text(summary + "\n")
    with capsys.disabled():
        print("\n" + summary)
    assert all(c.passed for c in cells), summary
