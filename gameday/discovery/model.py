"""What discovery found and what it could not find, as data.

A :class:`Discovery` holds the var-file values in :data:`gameday.varkeys.KEYS` order and one
:class:`Missing` per thing it looked for and could not find (its keys are left empty, as
the lab leaves the keys of a data tier it does not run). Bad input that makes the whole
walk meaningless (no zone holds the name, two do, a record without a health check, an
account that is not allowlisted) is a :class:`DiscoveryError` instead: nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TAG_REGION", "TAG_ROLE", "TAG_SERVICE", "Discovery", "DiscoveryError", "Missing"]

#: The tag scheme discovery reads (README "Your first game day on AWS"): on health checks,
#: load balancers, subnets, the global cluster, the table and the secret.
TAG_SERVICE = "gameday:service"  # the service's DNS name, e.g. api.example.com
TAG_REGION = "gameday:region"  # the AWS region a health check watches
TAG_ROLE = "gameday:role"  # primary | secondary, where routing alone does not say


class DiscoveryError(ValueError):
    """Discovery cannot go on; the message names what was looked for. Nothing is written."""


@dataclass(frozen=True)
class Missing:
    """Something discovery looked for and did not find: the keys it leaves empty, why."""

    keys: tuple[str, ...]
    what: str
    why: str


@dataclass
class Discovery:
    """The discovered configuration and what is missing from it."""

    values: dict[str, Any]
    missing: list[Missing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: missing key -> the catalogue drills that use it (filled by :mod:`.drills`).
    ruled_out: dict[str, tuple[str, ...]] = field(default_factory=dict)
