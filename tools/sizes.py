"""Print the ten largest modules and the ten largest functions of the gameday package.

The project's limits are 500 lines a module and 80 a function (``gameday/``); this shows
how close the largest are. Run: ``.venv/bin/python tools/sizes.py [N]``; exits 1 when a
unit is over its limit.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gameday"
MODULE_LIMIT, FUNCTION_LIMIT = 500, 80


def modules() -> list[tuple[int, str]]:
    """(lines, path) of every module of the package."""
    return [
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(ROOT)))
        for path in PACKAGE.rglob("*.py")
    ]


def functions() -> list[tuple[int, str]]:
    """(lines, path:line qualified name) of every function and method of the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += _walk(tree, str(path.relative_to(ROOT)), "")
    return found


def _walk(node: ast.AST, where: str, prefix: str) -> list[tuple[int, str]]:
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                size = (child.end_lineno or child.lineno) - first + 1
                found.append((size, f"{where}:{child.lineno} {name}"))
            found += _walk(child, where, f"{name}.")
    return found


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    over = 0
    for title, units, limit in (
        ("modules", modules(), MODULE_LIMIT),
        ("functions", functions(), FUNCTION_LIMIT),
    ):
        units.sort(reverse=True)
        print(f"{count} largest {title} (limit {limit} lines):")
        for size, name in units[:count]:
            print(f"  {size:5d}  {name}{'  OVER' if size > limit else ''}")
        over += sum(1 for size, _ in units if size > limit)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
