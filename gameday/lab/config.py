"""The lab's configuration: what it emulates, where, and how fast.

The control plane holds AWS's own values (a 10 s ``RequestInterval``, the records' TTL,
the Aurora failover durations below, FIS durations as written in a template) and the lab
runs every AWS-side duration ``speed`` times faster (:mod:`gameday.lab.clock`). With the
defaults (speed 10, threshold 2, TTL 10 s) a health check probes every lab second, the
DNS serves a 1 s TTL, and an outage is routed around in about three lab seconds, which
stand for about thirty in AWS. ``speed = 1`` rehearses in real time.

Every setting is checked by :meth:`LabConfig.validate` before anything starts: numbers
are finite and within :data:`NUMBER_RANGES` (a NaN interval would make the health
checker spin, an infinite one never fail over, a TTL past 2^31 break every DNS answer),
names are DNS names or the identifiers AWS accepts, and every key has its type.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gameday.aws import known_regions
from gameday.lab.clock import (
    DEFAULT_SPEED,
    LabClock,
    LabClockError,
    check_speed,
    faithful_speeds,
)
from gameday.lab.controlplane.route53 import ELB_ALIAS_TTL
from gameday.netutil import is_loopback
from gameday.numbers import number_problem

#: The RequestInterval the lab writes into the control plane (AWS's fast interval).
CONTROL_PLANE_REQUEST_INTERVAL = 10

#: The service's data tier: ``aurora`` (one writer, storage replication, global-database
#: failover) or ``dynamodb`` (a global table: every region writes, replication both ways).
DATA_TIERS = ("aurora", "dynamodb")

#: Aurora global database, in AWS seconds (switchover; an unplanned failover's duration and
#: the old primary's rebuild are drawn per lab from documented ranges, :mod:`.draws`,
#: unless ``failover_seconds`` / ``resync_seconds`` are set). AWS presents Aurora Global Database's
#: cross-Region recovery as taking about a minute (an RTO "typically under a minute" in the
#: Aurora User Guide's overview and the product page), and documents FailoverGlobalCluster /
#: SwitchoverGlobalCluster as operations that run for a while, reported through the global
#: cluster's ``FailoverState`` (pending, then failing-over or switching-over) and member
#: ``SynchronizationStatus`` (User Guide: "Using switchover or failover in an Amazon Aurora
#: global database"; API reference: FailoverState). The lab uses one minute for both by
#: default; set ``failover_seconds`` / ``switchover_seconds`` to what your own account shows.
DEFAULT_SWITCHOVER_SECONDS = 60.0
#: Numeric settings that may be None: drawn per lab (the durations from AWS's documented
#: range, :mod:`.draws`; the seed itself at ``lab up``).
OPTIONAL_NUMBERS = (
    "failover_seconds",
    "resync_seconds",
    "pause_replication_delay_seconds",
    "seed",
)


#: The largest seed (a 31-bit number, as ``gameday lab up --seed`` takes it).
MAX_SEED = 2**31 - 1

#: Overrides the seconds a lab may take to start (a loaded CI machine needs longer).
START_TIMEOUT_ENV = "GAMEDAY_LAB_START_TIMEOUT"
#: Seconds a lab may take to start unless ``GAMEDAY_LAB_START_TIMEOUT`` says otherwise.
DEFAULT_START_TIMEOUT = 45.0


def start_timeout() -> float:
    """Seconds a lab may take to become ready: ``GAMEDAY_LAB_START_TIMEOUT`` (a positive
    number) or :data:`DEFAULT_START_TIMEOUT`. Each of the supervisor's start-up waits (the
    regions healthy, the targets and health checks evaluated) gets two thirds of it."""
    text = os.environ.get(START_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_START_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and 1 <= value <= 3600):
        raise LabConfigError(
            f"{START_TIMEOUT_ENV}={text!r} is not a number of seconds from 1 to 3600: fix or unset it"
        )
    return value


#: key -> (low, high, whole number?, unit): the documented range of every numeric setting.
NUMBER_RANGES: dict[str, tuple[float, float, bool, str]] = {
    "ttl": (1, 86400, True, "seconds"),
    # 0.1 runs AWS 10x slower; past 200 a 10 s interval would be shorter than 0.05 s
    "speed": (0.1, 200.0, False, "AWS seconds per lab second"),
    "failover_seconds": (1.0, 3600.0, False, "AWS seconds"),
    "switchover_seconds": (1.0, 3600.0, False, "AWS seconds"),
    "resync_seconds": (1.0, 86400.0, False, "AWS seconds"),
    "in_region_failover_seconds": (1.0, 600.0, False, "AWS seconds"),
    "pause_replication_delay_seconds": (0.0, 300.0, False, "AWS seconds"),
    "seed": (0, MAX_SEED, True, ""),
    "failure_threshold": (1, 10, True, ""),
    "replication_lag": (0.0, 3600.0, False, "AWS seconds"),
    "writer_lease": (0.05, 600.0, False, "lab seconds"),
    "service_port": (0, 65535, True, ""),
    "dns_port": (0, 65535, True, ""),
    "endpoint_port": (0, 65535, True, ""),
}

#: One DNS label (RFC 1035 letters-digits-hyphens, as Route 53 private zones take them).
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
#: key -> (pattern, what it must look like): AWS's own rules for these names.
_NAMES: dict[str, tuple[re.Pattern[str], str]] = {
    "secret_name": (
        re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$"),
        "1-512 letters, digits or /_+=.@- (a Secrets Manager name)",
    ),
    "global_cluster": (
        re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$"),
        "1-63 letters, digits or hyphens starting with a letter (an RDS identifier)",
    ),
    "table_name": (
        re.compile(r"^[A-Za-z0-9_.-]{3,255}$"),
        "3-255 letters, digits or _.- (a DynamoDB table name)",
    ),
}


def dns_name_problem(name: Any) -> str | None:
    """Why ``name`` is not a DNS name (dot-separated labels, 253 characters at most)."""
    if not isinstance(name, str) or not name:
        return f"a DNS name such as lab.internal, got {name!r}"
    labels = name.removesuffix(".").split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return (
            "a DNS name: dot-separated labels of letters, digits and inner hyphens, "
            f"at most 63 characters each, got {name!r}"
        )
    return None


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
    #: The service records' TTL in Route 53 (AWS seconds; served divided by ``speed``).
    ttl: int = 10
    #: AWS seconds per lab second for every AWS-side duration (1 = real time).
    speed: float = DEFAULT_SPEED
    failure_threshold: int = 2
    #: Lab-only: the baseline delay of the lab's replication links, in AWS seconds like every
    #: duration a user writes (served divided by ``speed``: 0.3 lab s at the default speed).
    replication_lag: float = 3.0
    data_tier: str = "aurora"
    #: AWS seconds of an unplanned global failover (None: drawn per failover, 60-300 s).
    failover_seconds: float | None = None
    switchover_seconds: float = DEFAULT_SWITCHOVER_SECONDS
    #: AWS seconds an old primary takes to rebuild after an unplanned failover (None:
    #: drawn per failover, 300-1800 s); a switchback is refused meanwhile.
    resync_seconds: float | None = None
    #: AWS seconds of an in-region Aurora failover (a reader promoted): "typically within
    #: 30 seconds" (Aurora User Guide, high availability), so the lab takes all 30.
    in_region_failover_seconds: float = 30.0
    #: AWS seconds before a FIS global-table pause takes effect (None: drawn per action,
    #: 0-300 s: "items may continue to be replicated for up to 5 minutes").
    pause_replication_delay_seconds: float | None = None
    #: The seed of the lab's draws (:mod:`gameday.lab.draws`); None: one is drawn at start.
    seed: int | None = None
    #: Lab seconds a writer's lease lasts: how long a writer cut off from the control plane
    #: (frozen, say) may still acknowledge writes after a failover (the fence window).
    writer_lease: float = 1.0
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
    def clock(self) -> LabClock:
        """The lab's clock (every AWS-side duration goes through it)."""
        return LabClock(self.speed)

    @property
    def time_scale(self) -> float:
        """Lab seconds per AWS second (``1 / speed``)."""
        return 1 / self.speed

    @property
    def health_check_interval(self) -> float:
        """Lab seconds between two probes of a check with the control plane's interval."""
        return self.clock.health_check_interval(CONTROL_PLANE_REQUEST_INTERVAL)

    def validate(self) -> LabConfig:
        """Raise :class:`LabConfigError` with one actionable sentence if anything is off."""
        if not isinstance(self.regions, tuple | list) or len(self.regions) != 2:
            raise LabConfigError("the lab emulates exactly two regions: a primary and a secondary")
        known = known_regions()  # the one list gameday validates regions against
        for spec in self.regions:
            if not isinstance(spec.name, str) or not isinstance(spec.address, str):
                raise LabConfigError(
                    f"each region needs a name and an address as strings, got {spec!r}"
                )
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
        try:
            check_speed(self.speed)
        except LabClockError as exc:
            raise LabConfigError(str(exc)) from exc
        self._check_ttls()
        if self.data_tier not in DATA_TIERS:
            raise LabConfigError(
                f"data_tier must be one of {', '.join(DATA_TIERS)}, got {self.data_tier!r}"
            )
        for key, (low, high, integer, unit) in NUMBER_RANGES.items():
            if key in OPTIONAL_NUMBERS and getattr(self, key) is None:
                continue
            problem = number_problem(getattr(self, key), low, high, integer=integer, unit=unit)
            if problem:
                raise LabConfigError(f"{key} must be {problem}")
        for key in ("zone", "record"):
            problem = dns_name_problem(getattr(self, key))
            if problem:
                raise LabConfigError(f"{key} must be {problem}")
        if len(self.record_name) > 253:
            raise LabConfigError(f"{self.record_name!r} is longer than a DNS name may be (253)")
        for key, (pattern, wanted) in _NAMES.items():
            value = getattr(self, key)
            if not isinstance(value, str) or not pattern.match(value):
                raise LabConfigError(f"{key} must be {wanted}, got {value!r}")
        if not isinstance(self.lab_dir, str) or not self.lab_dir or "\0" in self.lab_dir:
            raise LabConfigError(f"lab_dir must be a directory path, got {self.lab_dir!r}")
        return self

    def fixed_draws(self) -> dict[str, float | None]:
        """The documented ranges this configuration fixes instead of drawing."""
        return {"pause_replication_delay_seconds": self.pause_replication_delay_seconds}

    def _check_ttls(self) -> None:
        """Refuse a speed at which the lab's own TTLs would be served distorted."""
        if number_problem(self.ttl, *NUMBER_RANGES["ttl"][:2], integer=True, unit=""):
            return  # the range check below says what is wrong with it
        ttls = [self.ttl, ELB_ALIAS_TTL]
        clock = self.clock
        for ttl in ttls:
            problem = clock.ttl_problem(ttl)
            if problem:
                speeds = ", ".join(f"{s:g}" for s in faithful_speeds(ttls))
                raise LabConfigError(
                    f"speed {self.speed:g} would distort DNS TTLs ({problem}): with ttl "
                    f"{self.ttl} and the load balancers' {ELB_ALIAS_TTL} s, use a speed that "
                    f"divides both (whole speeds: {speeds}), or another ttl"
                )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["regions"] = [asdict(r) for r in self.regions]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabConfig:
        """Build a config from a plain mapping (a config file or the supervisor's argument).

        Raises :class:`LabConfigError` for anything but a mapping of known keys; the
        values' types and ranges are :meth:`validate`'s job."""
        if not isinstance(data, dict):
            raise LabConfigError(
                f"a lab config must be a table of settings (e.g. ttl = 1), got {type(data).__name__}"
            )
        allowed = {f.name for f in fields(cls)}
        if "health_check_interval" in data:
            raise LabConfigError(
                "health_check_interval was replaced by speed (AWS seconds per lab second, "
                "for every AWS duration): health_check_interval = 1 is speed = 10"
            )
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise LabConfigError(
                f"unknown lab setting(s) {', '.join(unknown)}: known ones are {', '.join(sorted(allowed))}"
            )
        values = dict(data)
        if "regions" in values:
            regions = values["regions"]
            if not isinstance(regions, list | tuple) or not all(
                isinstance(r, dict) for r in regions
            ):
                raise LabConfigError("regions must be a list of {name, address} tables")
            try:
                values["regions"] = tuple(RegionSpec(**r) for r in regions)
            except TypeError as exc:
                raise LabConfigError("regions must be a list of {name, address} tables") from exc
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> LabConfig:
        """Read a TOML or JSON lab config file."""
        p = Path(path)
        try:
            text = p.read_bytes().decode("utf-8")
        except OSError as exc:
            raise LabConfigError(f"cannot read lab config {p}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise LabConfigError(
                f"lab config {p} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
            ) from exc
        try:
            data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise LabConfigError(
                f"lab config {p} is not valid {p.suffix.lstrip('.') or 'TOML'}: {exc}"
            ) from exc
        return cls.from_dict(data)
