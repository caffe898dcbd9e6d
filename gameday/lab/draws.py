"""Durations AWS documents as a range, drawn per lab from a seeded generator.

Where AWS gives a number the lab uses it. Where AWS gives a range ("typically minutes",
"up to 5 minutes") a single constant would let a verdict rest on whichever end the lab
picked, and a lab picks the flattering end too easily. So each such quantity is drawn
from the documented range (:data:`RANGES`, uniform: the documentation gives no shape),
from a generator seeded per lab (``LabConfig.seed``: settable, drawn at ``lab up`` when
not given). Each quantity has its own stream (seeded by the lab's seed and its name), so
the n-th draw of one never depends on how often another was drawn: the same seed gives
the same values in the same order. A value the lab's configuration fixes (a team's own
measurement, or a test's) replaces the draw and says so (``fixed``).

Every draw is a ``draw`` event in the lab's event log (name, value in AWS seconds, the
range, its source), which ``gameday lab status`` lists and a drill's run directory keeps.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class DocumentedRange:
    """A quantity AWS documents as a range, in AWS seconds."""

    low: float
    high: float
    #: What AWS says, and where.
    source: str


RANGES: dict[str, DocumentedRange] = {
    # Aurora User Guide, "Using switchover or failover in an Amazon Aurora global
    # database" / disaster recovery for global databases: a failover "typically" completes
    # within minutes; no upper bound is promised.
    "global_failover_seconds": DocumentedRange(
        60.0,
        300.0,
        "Aurora User Guide, global database failover: typically within minutes",
    ),
    # Aurora User Guide, recovering an old primary after an unplanned failover: its
    # storage volume is rebuilt from the new primary ("minutes to hours" by volume size)
    # before it leaves pending-resync.
    "resync_seconds": DocumentedRange(
        300.0,
        1800.0,
        "Aurora User Guide, global database failover: the old primary's volume is rebuilt "
        "(minutes to hours)",
    ),
    # FIS actions reference, aws:dynamodb:global-table-pause-replication: items may
    # continue to be replicated for up to 5 minutes after the action begins.
    "pause_replication_delay_seconds": DocumentedRange(
        0.0,
        300.0,
        "FIS actions reference, aws:dynamodb:global-table-pause-replication: replication may "
        "continue for up to 5 minutes after the action starts",
    ),
}


class Emitter(Protocol):
    """Where a draw is recorded (the lab's :class:`gameday.lab.events.EventLog`)."""

    def emit(self, kind: str, **fields: object) -> object: ...


def new_seed() -> int:
    """A fresh seed for a lab that was not given one."""
    return secrets.randbelow(2**31)


class Draws:
    """The lab's seeded draws: one independent stream per quantity."""

    def __init__(
        self, seed: int, events: Emitter | None = None, fixed: dict[str, float] | None = None
    ) -> None:
        self.seed = seed
        self._events = events
        self._streams: dict[str, random.Random] = {}
        #: quantities the lab's configuration fixes (a team's own measurement, a test)
        self._fixed = {k: v for k, v in (fixed or {}).items() if v is not None}

    @classmethod
    def for_lab(cls, config: Any, events: Emitter | None) -> Draws:
        """A lab's draws: its seed (or a new one) and what its configuration fixes."""
        seed = config.seed if config.seed is not None else new_seed()
        return cls(seed, events, config.fixed_draws())

    def stream(self, name: str) -> random.Random:
        """The generator of one quantity (its own, seeded by the lab's seed and ``name``)."""
        if name not in self._streams:
            self._streams[name] = random.Random(f"{self.seed}:{name}")
        return self._streams[name]

    def draw(self, name: str, **context: object) -> float:
        """The next value of a documented range (AWS seconds), recorded as a ``draw`` event."""
        documented = RANGES[name]
        value = round(self.stream(name).uniform(documented.low, documented.high), 3)
        fixed = name in self._fixed
        if fixed:
            value = float(self._fixed[name])
        if self._events is not None:
            self._events.emit(
                "draw",
                name=name,
                aws_seconds=value,
                fixed=fixed,
                low=documented.low,
                high=documented.high,
                seed=self.seed,
                source=documented.source,
                **context,
            )
        return value
