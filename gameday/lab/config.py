"""The lab's configuration: what it emulates, where, and how fast.

Route 53 only accepts a RequestInterval of 10 or 30 seconds. The lab keeps the AWS value
in the control plane (10 s, the "fast" interval) and runs its health checker on a
compressed clock: ``health_check_interval`` lab seconds per 10 control-plane seconds.
With the defaults (1 s interval, threshold 2, TTL 1 s) a failover is seen in about
three seconds instead of about a minute.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gameday.aws import known_regions
from gameday.netutil import is_loopback

#: The RequestInterval the lab writes into the control plane (AWS's fast interval).
CONTROL_PLANE_REQUEST_INTERVAL = 10


class LabConfigError(ValueError):
    """The lab configuration is not usable; the message says what to change."""


@dataclass(frozen=True)
class RegionSpec:
    """One emulated region: its AWS name and the loopback address it serves on."""

    name: str
    address: str


@dataclass(frozen=True)
class LabConfig:
    """Everything a lab is started with (all validated by :meth:`validate`)."""

    regions: tuple[RegionSpec, ...] = (
        RegionSpec("us-east-1", "127.0.1.1"),
        RegionSpec("us-west-2", "127.0.2.1"),
    )
    zone: str = "lab.internal"
    record: str = "api"
    ttl: int = 1
    health_check_interval: float = 1.0
    failure_threshold: int = 2
    replication_lag: float = 0.3
    #: 0 means "pick a free port".
    service_port: int = 0
    dns_port: int = 0
    endpoint_port: int = 0
    secret_name: str = "gameday/orders-db"
    global_cluster: str = "orders-global"
    table_name: str = "orders"
    lab_dir: str = field(default_factory=lambda: os.environ.get("GAMEDAY_LAB_DIR", ".gameday/lab"))

    @property
    def primary(self) -> RegionSpec:
        return self.regions[0]

    @property
    def secondary(self) -> RegionSpec:
        return self.regions[1]

    @property
    def record_name(self) -> str:
        return f"{self.record}.{self.zone}"

    @property
    def time_scale(self) -> float:
        """Lab seconds per control-plane second for health-check intervals."""
        return self.health_check_interval / CONTROL_PLANE_REQUEST_INTERVAL

    def validate(self) -> LabConfig:
        """Raise :class:`LabConfigError` with one actionable sentence if anything is off."""
        if len(self.regions) != 2:
            raise LabConfigError("the lab emulates exactly two regions: a primary and a secondary")
        known = known_regions()  # the one list gameday validates regions against
        for spec in self.regions:
            if spec.name not in known:
                raise LabConfigError(
                    f"unknown AWS region {spec.name!r}: use a real region name such as "
                    "us-east-1 or eu-west-1"
                )
            try:
                address = ipaddress.ip_address(spec.address)
            except ValueError as exc:
                raise LabConfigError(
                    f"region address {spec.address!r} is not an IP address"
                ) from exc
            if not (address.version == 4 and is_loopback(spec.address)):
                raise LabConfigError(
                    f"region address {spec.address} is not on loopback: the lab only binds "
                    "127.0.0.0/8"
                )
        if self.regions[0].name == self.regions[1].name:
            raise LabConfigError("the primary and secondary regions must differ")
        if self.regions[0].address == self.regions[1].address:
            raise LabConfigError("each region needs its own loopback address")
        _positive("ttl", self.ttl, integer=True)
        _positive("health_check_interval", self.health_check_interval)
        _positive("failure_threshold", self.failure_threshold, integer=True)
        if self.failure_threshold > 10:
            raise LabConfigError("failure_threshold must be between 1 and 10, as in Route 53")
        if not isinstance(self.replication_lag, int | float) or self.replication_lag < 0:
            raise LabConfigError(
                f"replication_lag must be a number of seconds >= 0, got {self.replication_lag!r}"
            )
        for name in ("service_port", "dns_port", "endpoint_port"):
            port = getattr(self, name)
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
                raise LabConfigError(
                    f"{name} must be a port number (0 picks a free one), got {port!r}"
                )
        if not self.zone or " " in self.zone or not self.record:
            raise LabConfigError(
                "zone and record must be DNS names, e.g. zone=lab.internal record=api"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["regions"] = [asdict(r) for r in self.regions]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabConfig:
        """Build a config from a plain mapping (a config file or the supervisor's argument)."""
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise LabConfigError(
                f"unknown lab setting(s) {', '.join(unknown)}: known ones are {', '.join(sorted(allowed))}"
            )
        values = dict(data)
        if "regions" in values:
            try:
                values["regions"] = tuple(RegionSpec(**r) for r in values["regions"])
            except TypeError as exc:
                raise LabConfigError("regions must be a list of {name, address} tables") from exc
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LabConfig:
        """Read a TOML or JSON lab config file."""
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise LabConfigError(f"cannot read lab config {p}: {exc.strerror}") from exc
        try:
            data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise LabConfigError(
                f"lab config {p} is not valid {p.suffix.lstrip('.') or 'TOML'}: {exc}"
            ) from exc
        return cls.from_dict(data)


def _positive(name: str, value: Any, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "a positive whole number" if integer else "a positive number of seconds"
        raise LabConfigError(f"{name} must be {kind}, got {value!r}")
