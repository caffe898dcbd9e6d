"""The suite's xdist scheduling (tests/scheduling.py): units from the workers' plan, the
costliest first, a module's lab tests kept together."""

from __future__ import annotations

import pytest

from tests import scheduling


def test_the_queue_hands_out_the_costliest_unit_first() -> None:
    costs = {"test:a": 0.1, "module:tests/lab/test_x.py": 20.0, "test:slow": 30.0}
    queue = scheduling._CostliestFirst(lambda unit, _: costs[unit])
    for unit in costs:
        queue[unit] = {unit: False}
    order = [queue.popitem(last=False)[0] for _ in range(len(costs))]
    assert order == ["test:slow", "module:tests/lab/test_x.py", "test:a"]


@pytest.fixture(scope="module")
def _module_resource() -> str:
    return "shared by the module"


def test_a_test_with_a_module_scoped_fixture_is_a_module_unit(
    request: pytest.FixtureRequest, _module_resource: str
) -> None:
    assert scheduling._unit(request.node) == "module:tests/test_scheduling.py"


def test_a_test_without_one_is_its_own_unit(request: pytest.FixtureRequest) -> None:
    assert scheduling._unit(request.node) == "test:" + request.node.nodeid


@pytest.mark.xdist_group("together")
def test_an_explicit_group_wins(request: pytest.FixtureRequest, _module_resource: str) -> None:
    assert scheduling._unit(request.node) == "group:together"


@pytest.mark.lab
def test_a_lab_test_costs_more_than_a_unit_test_and_less_than_a_lab_start(
    request: pytest.FixtureRequest,
) -> None:
    cost = scheduling._cost(request.node)
    assert scheduling.UNIT_TEST_COST < cost == scheduling.LAB_TEST_COST < scheduling.LAB_START_COST


class _Item:
    """What the planner reads of a collected test."""

    def __init__(self, nodeid: str, *, shared: bool = True, slow: bool = False) -> None:
        self.nodeid = nodeid
        self.fixturenames = ["shared_lab"] if shared else ["tmp_path"]
        self._marks = {"lab", "slow"} if slow else {"lab"}

    def get_closest_marker(self, name: str) -> object:
        return name if name in self._marks else None


def test_the_shared_labs_tests_form_a_few_units_of_about_equal_cost() -> None:
    items = [
        *(_Item(f"tests/drills/test_truth.py::drill[{i}]", slow=True) for i in range(8)),
        *(_Item(f"tests/lab/test_a.py::t{i}") for i in range(14)),
        *(_Item(f"tests/lab/test_b.py::t{i}") for i in range(9)),
        _Item("tests/lab/test_b.py::own_lab", shared=False),
        *(_Item(f"tests/actions/test_c.py::t{i}", slow=i == 0) for i in range(3)),
    ]
    units = scheduling.shared_lab_units(items)  # type: ignore[arg-type]
    assert "tests/lab/test_b.py::own_lab" not in units
    assert len(units) == len(items) - 1
    loads: dict[str, float] = {}
    for item in items:
        if item.nodeid in units:
            unit = units[item.nodeid]
            loads[unit] = loads.get(unit, 0.0) + scheduling._cost(item)  # type: ignore[arg-type]
    assert set(loads) == {f"shared:{i}" for i in range(scheduling.SHARED_LAB_UNITS)}
    # nine slow tests and 26 lab tests over four units: apart by less than one slow test
    assert max(loads.values()) - min(loads.values()) < scheduling.SLOW_COST
    assert units == scheduling.shared_lab_units(list(reversed(items)))  # type: ignore[arg-type]


def test_a_shared_lab_test_is_in_its_block_unless_a_group_says_otherwise(
    request: pytest.FixtureRequest,
) -> None:
    shared = {request.node.nodeid: "shared:2"}
    assert scheduling._unit(request.node, shared) == "shared:2"
    assert scheduling._unit(request.node, {}) == "test:" + request.node.nodeid
