"""How ``make test`` spreads the suite over pytest-xdist workers without starting labs twice.

The suite waits far more than it computes (Route 53 intervals, failovers, Chaos Toolkit
pauses), so it runs on more workers than cores. Two rules decide who runs what:

* **A module-scoped fixture is a shared lab**: every test of a module that uses one (the
  ``lab`` of ``tests/conftest.py``, a module's own) runs on the same worker, one after the
  other, so the module starts its lab once. Tests that use no module-scoped fixture are
  spread one by one. An explicit ``@pytest.mark.xdist_group("name")`` wins: use it to split
  a long module into parts that each start their own lab.
* **The worker's shared lab runs its tests in a few blocks**: the tests that use
  ``shared_lab`` (tests/conftest.py; ``drill_lab``, the modules that import
  ``lab_is_the_shared_lab``) form :data:`SHARED_LAB_UNITS` units of about equal cost
  (:func:`shared_lab_units`). The shared lab stops before a test that does not use it; spread
  one by one among the other tests, its 64 tests started it 16 times in a fresh-clone run.
  Each of them leaves the lab steady (checked after every test), so none depends on which
  tests ran before it on that lab.
* **Heaviest first**: each unit of work gets an estimated cost (a lab start, a slow drill,
  a lab test) and the queue hands out the costliest units first, so no long drill module
  starts last and keeps one worker busy while the others idle.

The workers know the fixtures and marks, the controller only node ids: each worker writes
its plan (node id -> unit, cost) to a file the controller named, and the scheduler reads
it. Without the plan (an older xdist, a plain ``-n`` run with another ``--dist``) xdist's
own scheduling applies unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

#: Estimated seconds, only to order the queue (never asserted): a lab's start and stop, a
#: slow lab drill, a lab test, and anything else.
LAB_START_COST = 8.0
SLOW_COST = 30.0
LAB_TEST_COST = 2.0
UNIT_TEST_COST = 0.1
#: Fixtures that start a lab for one test.
PER_TEST_LAB_FIXTURES = frozenset({"lab_factory", "column_lab"})  # column_lab: the safety matrix
#: The worker's shared lab, and how many units its tests form: few enough that it starts a
#: few times a session, enough that no block holds up the end of the run (whole modules in a
#: block left the truth matrix's eight drills to one worker, alone for the last 35 s).
SHARED_LAB_FIXTURE = "shared_lab"
SHARED_LAB_UNITS = 4

_PLAN_KEY = "gameday_schedule_plan"


def _module_scoped(item: pytest.Item) -> bool:
    """True if ``item`` uses a module-scoped fixture (a lab shared by its module)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs[-1].scope == "module" for defs in info.name2fixturedefs.values() if defs)


def _cost(item: pytest.Item) -> float:
    if item.get_closest_marker("slow"):
        cost = SLOW_COST
    elif item.get_closest_marker("lab"):
        cost = LAB_TEST_COST
    else:
        cost = UNIT_TEST_COST
    if PER_TEST_LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
        cost += LAB_START_COST
    return cost


def shared_lab_units(items: list[pytest.Item]) -> dict[str, str]:
    """``node id -> "shared:N"`` for every test that uses the worker's shared lab.

    The costliest test first, each into the unit with the least cost so far (a unit runs its
    tests in collection order); the same answer on every worker, which all collect the same
    items."""
    shared = [item for item in items if SHARED_LAB_FIXTURE in getattr(item, "fixturenames", ())]
    loads = [0.0] * SHARED_LAB_UNITS
    units: dict[str, str] = {}
    for item in sorted(shared, key=lambda item: (-_cost(item), item.nodeid)):
        lightest = loads.index(min(loads))
        loads[lightest] += _cost(item)
        units[item.nodeid] = f"shared:{lightest}"
    return units


def _unit(item: pytest.Item, shared: dict[str, str] | None = None) -> str:
    groups = sorted(str(m.args[0]) for m in item.iter_markers("xdist_group") if m.args)
    if groups:
        return "group:" + "_".join(groups)
    if shared and item.nodeid in shared:
        return shared[item.nodeid]
    if _module_scoped(item):
        return "module:" + item.nodeid.split("::", 1)[0]
    return "test:" + item.nodeid


class WorkerPlan:
    """Worker side: after collection, write every test's unit and cost for the scheduler."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    @pytest.hookimpl(trylast=True)  # after xdist added its @group suffixes to the node ids
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        shared = shared_lab_units(items)
        plan = {item.nodeid: [_unit(item, shared), _cost(item)] for item in items}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".plan")
        with os.fdopen(fd, "w") as out:
            json.dump(plan, out)
        os.replace(tmp, self.path)  # every worker collects the same: last one wins


class _CostliestFirst(OrderedDict):
    """xdist's work queue, handing out the costliest unit on ``popitem(last=False)``."""

    def __init__(self, cost: Callable[[str, dict[str, bool]], float]) -> None:
        super().__init__()
        self._cost = cost

    def popitem(self, last: bool = True) -> tuple[str, dict[str, bool]]:
        if last or not self:
            return super().popitem(last)
        unit = max(self, key=lambda key: self._cost(key, self[key]))
        return unit, self.pop(unit)


class CostOrderedScheduling(LoadGroupScheduling):
    """xdist's loadgroup scheduling with the workers' units, costliest unit first."""

    def __init__(self, config: pytest.Config, log: Any, plan_path: Path) -> None:
        super().__init__(config, log)
        self.plan_path = plan_path
        self._plan: dict[str, list[Any]] | None = None
        self.workqueue = _CostliestFirst(self._unit_cost)

    def _load_plan(self) -> dict[str, list[Any]]:
        if self._plan is None:
            try:
                self._plan = json.loads(self.plan_path.read_text())
            except (OSError, ValueError):
                self._plan = {}
        return self._plan

    def _split_scope(self, nodeid: str) -> str:
        entry = self._load_plan().get(nodeid)
        return str(entry[0]) if entry else super()._split_scope(nodeid)

    def _unit_cost(self, unit: str, nodeids: dict[str, bool]) -> float:
        plan = self._load_plan()
        cost = sum(float(plan.get(n, (unit, UNIT_TEST_COST))[1]) for n in nodeids)
        return cost + (0.0 if unit.startswith("test:") else LAB_START_COST)


class Controller:
    """Controller side: name the plan file for the workers, schedule from it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gameday-xdist-"))
        self.plan_path = self.dir / "plan.json"

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_PLAN_KEY] = str(self.plan_path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "loadgroup":
            return None
        return CostOrderedScheduling(config, log, self.plan_path)

    def pytest_unconfigure(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def register(config: pytest.Config) -> None:
    """Install the controller or worker half (called from tests/conftest.py)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if _PLAN_KEY in workerinput:
            config.pluginmanager.register(WorkerPlan(workerinput[_PLAN_KEY]), "gameday-plan")
    elif config.getoption("numprocesses", None):
        config.pluginmanager.register(Controller(), "gameday-scheduler")
