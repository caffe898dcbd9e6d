"""Probes only read: none of them imports action code (private or public)."""

from __future__ import annotations

import ast
from pathlib import Path

PROBES = Path(__file__).resolve().parents[2] / "gameday" / "probes"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_probe_imports_the_actions_package() -> None:
    offenders = {
        path.name: sorted(n for n in _imports(path) if n.startswith("gameday.actions"))
        for path in sorted(PROBES.glob("*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    # and they share the public helper instead
    assert any("gameday.activity" in _imports(path) for path in PROBES.glob("*.py"))
