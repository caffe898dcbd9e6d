"""Which catalogue drills a missing var-file key rules out.

A drill is ruled out when it uses (``${name}``) a key discovery left empty: its preflight
would refuse it. Read from the catalogue's own experiments, so a new drill is covered the
day it lands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

__all__ = ["drills_using", "ruled_out"]


def drills_using(catalogue: Path | None = None) -> dict[str, set[str]]:
    """Catalogue drill name -> the var-file keys it uses."""
    from gameday.drill.commands import catalogue_dir
    from gameday.drill.preflight import referenced_variables

    folder = catalogue or catalogue_dir()
    used = {}
    for path in sorted(folder.glob("*.json")):
        experiment = json.loads(path.read_text())
        if any(e.get("name") == "gameday" for e in experiment.get("extensions", [])):
            used[path.stem] = referenced_variables(experiment)
    return used


def ruled_out(keys: Iterable[str], catalogue: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Each of ``keys`` -> the catalogue drills that use it (sorted)."""
    used = drills_using(catalogue)
    return {key: tuple(sorted(d for d, names in used.items() if key in names)) for key in keys}
