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
