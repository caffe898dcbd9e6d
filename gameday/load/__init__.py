"""Load for drills: Locust as a subprocess, a TTL-honouring resolver, and the request ledger.

Importing this package never imports gevent or locust (only :mod:`gameday.load.locustfile`,
which runs inside Locust, does). Its names are imported on first use (PEP 562), so the
Locust process, which imports ``gameday.load.locustfile`` and through it this package, does
not pay for the runner it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gameday.load.errors import (
        InvalidLoadSettings,
        LoadError,
        LoadStartFailed,
        LocustfileImportError,
        NonLoopbackTarget,
        TargetUnresolvable,
    )
    from gameday.load.runner import LoadResult, LoadRun, run_load
    from gameday.load.settings import LoadSettings, validate

_HOMES = {
    "InvalidLoadSettings": "gameday.load.errors",
    "LoadError": "gameday.load.errors",
    "LoadStartFailed": "gameday.load.errors",
    "LocustfileImportError": "gameday.load.errors",
    "NonLoopbackTarget": "gameday.load.errors",
    "TargetUnresolvable": "gameday.load.errors",
    "LoadResult": "gameday.load.runner",
    "LoadRun": "gameday.load.runner",
    "LoadSettings": "gameday.load.settings",
    "run_load": "gameday.load.runner",
    "validate": "gameday.load.settings",
}

__all__ = [
    "InvalidLoadSettings",
    "LoadError",
    "LoadResult",
    "LoadRun",
    "LoadSettings",
    "LoadStartFailed",
    "LocustfileImportError",
    "NonLoopbackTarget",
    "TargetUnresolvable",
    "run_load",
    "validate",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
