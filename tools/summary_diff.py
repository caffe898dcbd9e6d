"""Compare two summary.json files: the same shape, and equal values except timings.

Usage: ``.venv/bin/python tools/summary_diff.py BEFORE AFTER``. Phases are compared by key
(their order follows their times); a value counts as a timing when it is a number or a
string with a digit in it (measured seconds, stamps, paths with a stamp). Prints what
differs; exits 1 when the shape or any other value differs.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def flat(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of ``value`` as (path, leaf); a list also as (path[], its marker)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flat(item, f"{path}.{key}")
    elif isinstance(value, list):
        yield f"{path}[]", "list"
        for index, item in enumerate(value):
            yield from flat(item, f"{path}[{index}]")
    else:
        yield path, value


def load(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data["phases"] = sorted(data.get("phases") or [], key=lambda p: str(p.get("key")))
    return dict(flat(data))


def is_timing(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    return isinstance(value, int | float) or bool(re.search(r"\d", str(value)))


def main() -> int:
    before, after = load(sys.argv[1]), load(sys.argv[2])
    shape = [{re.sub(r"\[\d+\]", "[]", k) for k in side} for side in (before, after)]
    print("shape only before:", sorted(shape[0] - shape[1]))
    print("shape only after:", sorted(shape[1] - shape[0]))
    compared = [k for k in sorted(before.keys() & after.keys()) if not is_timing(before[k])]
    differ = [(k, before[k], after[k]) for k in compared if before[k] != after[k]]
    print(f"non-timing values: {len(compared)} compared, {len(differ)} differ")
    for row in differ:
        print("  ", row)
    return 1 if differ or shape[0] != shape[1] else 0


if __name__ == "__main__":
    sys.exit(main())
