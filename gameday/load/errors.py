"""Errors the load generator raises before (or instead of) starting any load.

Each carries one sentence a person can act on; the CLI prints it as is.
"""

from __future__ import annotations


class LoadError(Exception):
    """Base class: the load could not be started or did not behave."""


class InvalidLoadSettings(LoadError, ValueError):
    """A setting is out of range (users, run time, ratios, timeouts, ports)."""


class TargetUnresolvable(LoadError):
    """The target name did not resolve through the configured resolver."""


class NonLoopbackTarget(LoadError):
    """Lab mode refuses any target that resolves outside 127.0.0.0/8 or ::1."""


class LocustfileImportError(LoadError):
    """The locustfile is missing, fails to import, or defines no User class."""


class LoadStartFailed(LoadError):
    """Locust exited, or produced no record, before the deadline."""
