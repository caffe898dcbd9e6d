"""Load for drills: Locust as a subprocess, a TTL-honouring resolver, and the request ledger.

Importing this package never imports gevent or locust (only :mod:`gameday.load.locustfile`,
which runs inside Locust, does).
"""

from gameday.load.errors import (
    InvalidLoadSettings,
    LoadError,
    LoadStartFailed,
    LocustfileImportError,
    NonLoopbackTarget,
    TargetUnresolvable,
)
from gameday.load.runner import LoadResult, LoadRun, LoadSettings, run_load, validate

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
