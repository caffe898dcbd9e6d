"""CPU seconds per test: which tests the 2-core machine spends its cycles on.

The suite is CPU-bound on 2 cores (its waits stretch when the CPU is busy), so its wall time
follows the CPU its tests burn, not their own durations. Opt in with::

    .venv/bin/python -m pytest -n 6 --dist loadgroup -p tests.cpuprofile

Each worker adds, per test (setup, call and teardown), the CPU seconds of its own process
tree: itself and every live descendant (the labs, the drills, Locust), including the
descendants that ended meanwhile (counted in their parent's ``children`` times). The
totals per test and per module go to ``GAMEDAY_CPU_PROFILE`` (default
``.gameday/cpu-profile.jsonl``), one JSON line per test, and the 25 costliest are printed.
A lab shared between tests is charged to the test during which it burns.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

PATH_ENV = "GAMEDAY_CPU_PROFILE"


def _tree_cpu() -> float:
    """CPU seconds of this process and its descendants so far (ended ones included once
    their parent has reaped them)."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def _path() -> Path:
    return Path(os.environ.get(PATH_ENV) or ".gameday/cpu-profile.jsonl")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    before = _tree_cpu()
    try:
        return (yield)
    finally:
        spent = max(0.0, _tree_cpu() - before)
        path = _path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps({"test": item.nodeid, "cpu_s": round(spent, 2)}) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    path = _path()
    if not path.exists():
        return
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    per_module: dict[str, float] = defaultdict(float)
    for row in rows:
        per_module[row["test"].split("::")[0]] += row["cpu_s"]
    total = sum(per_module.values())
    write = terminalreporter.write_line
    write(f"CPU seconds by test module ({total:.0f} s in all, from {path}):")
    for module, spent in sorted(per_module.items(), key=lambda kv: -kv[1])[:25]:
        write(f"{spent:8.1f} s  {spent / total:5.1%}  {module}")
    write("costliest tests:")
    for row in sorted(rows, key=lambda r: -r["cpu_s"])[:25]:
        write(f"{row['cpu_s']:8.1f} s  {row['test']}")
