"""The measurement's result records: frozen dataclasses every later stage reads.

They live apart from the code that computes them so that the analysis, the findings, the
verdict, the summary and the charts all import one module and none imports another's
internals (no import cycle held together by lazy imports).

Units: every ``*_s`` duration below is in **AWS seconds** (see :mod:`gameday.reports.clock`);
where a lab run compresses time, the lab seconds stand beside it in a ``lab_*`` field.
Epoch times (``time``) are wall-clock unix seconds, as written in the run directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gameday.reports.measure import LedgerFacts, SteadyState, WriteMark
from gameday.reports.recovery import Recovery


@dataclass(frozen=True)
class SkewClock:
    """How the ledger was put on the journal's clock (the load's clock skew)."""

    offset_s: float  # added to every ledger time
    source: str  # "audit" | "none"
    measured_s: float | None = None
    samples: int = 0
    suspected: str | None = None  # a skew suspected from run bounds but not corrected


@dataclass(frozen=True)
class Roles:
    """Who did what in this drill, told from what happened (not from fixed names).

    ``users_from``: the region serving users just before the fault; ``users_to``: the region
    serving them once recovered (None when users did not move); the writer before the fault
    and after the drill's promotion. ``missing`` says which of them could not be told.
    """

    users_from: str | None
    users_to: str | None
    writer_before: str | None
    writer_after: str | None
    missing: tuple[str, ...] = ()

    @property
    def moved(self) -> bool:
        return self.users_to is not None and self.users_to != self.users_from


@dataclass(frozen=True)
class Event:
    """A moment the drill saw, from the best source that saw it."""

    time: float
    source: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    key: str
    label: str
    time: float | None
    source: str
    since_t0_s: float | None = None  # AWS seconds
    lab_since_t0_s: float | None = None  # lab seconds, on a compressed lab run


@dataclass(frozen=True)
class CohortSummary:
    cohort: str
    requests: int
    recovery: Recovery
    reached_recovery_region_s: float | None  # first request served there, since t0 (AWS s)


@dataclass(frozen=True)
class Rpo:
    measured: bool
    rpo_s: float | None  # AWS seconds
    basis: str
    audited: int = 0
    lost: int = 0
    oldest_lost: WriteMark | None = None
    newest_lost: WriteMark | None = None
    lost_sample: tuple[WriteMark, ...] = ()
    non_suffix: int = 0  # acked after the oldest lost write (same region, before promotion), kept
    split_brain: int = 0
    split_brain_sample: tuple[WriteMark, ...] = ()
    duplicates: int = 0
    duplicate_sample: tuple[tuple[str, str], ...] = ()
    recovery_only: int | None = None  # None: the old region was not audited
    lost_reads: int = 0
    lab_rpo_s: float | None = None


@dataclass(frozen=True)
class Floors:
    """The physical floors, in AWS seconds (as configured in Route 53)."""

    interval_s: float | None
    threshold: int | None
    ttl_s: float | None
    dns_floor_s: float | None  # interval x threshold + ttl
    lab_speed: float | None
    replication_lag_before_s: float | None  # last sample before t0
    replication_lag_max_before_s: float | None  # max in the steady window before t0
    #: (AWS seconds since t0, lag) for lag samples after the fault *toward the region users
    #: moved to*, while it was still a reader: what failing over then would have lost.
    replication_lag_after: tuple[tuple[float, float], ...] = ()
    lag_subject: str | None = None  # "writer->reader" of the lag samples used


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # "high" | "medium" | "info"
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectiveResult:
    """One judged check (also one JUnit test case)."""

    name: str
    status: str  # "met" | "missed" | "unknown" | "not-set"
    objective: Any
    measured: Any
    detail: str


@dataclass(frozen=True)
class Measurement:
    t0: float | None
    fault_activity: str | None
    roles: Roles
    clock: SkewClock
    recovery: Recovery  # durations in AWS seconds (lab seconds beside)
    cohorts: tuple[CohortSummary, ...]
    phases: tuple[Phase, ...]
    rpo: Rpo
    floors: Floors
    before: SteadyState | None
    after: SteadyState | None
    findings: tuple[Finding, ...]
    results: tuple[ObjectiveResult, ...]
    verdict: str
    verdict_text: str
    missing: tuple[str, ...]
    facts: LedgerFacts
    speed: float = 1.0
    interrupted: str | None = None

    @property
    def primary(self) -> str | None:
        """The region users left (kept for callers that knew it by this name)."""
        return self.roles.users_from

    @property
    def secondary(self) -> str | None:
        """The region users moved to (None when they did not move)."""
        return self.roles.users_to
