"""One clock: every duration gameday reports is in AWS seconds.

A team writes its objectives, the recovery window and every other duration of a drill in
AWS seconds (what it signs up for in production). The lab runs AWS's durations ``speed``
times faster, so on the lab the drill runs each declared duration at 1/speed, and the
report multiplies every measured duration by ``speed``: the verdict compares AWS seconds
with AWS seconds, and the same drill at two speeds gives the same answer. Against AWS the
speed is 1 and nothing changes. :class:`Timescale` is the one place that converts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: What a drill does not scale, said once in the report and in the README.
NOT_SCALED = (
    "request latencies and requests-per-second rates (per lab second)",
    "the time gameday's own calls take (an action's API calls, the probes' requests and"
    " their per-request timeouts; the waits an experiment declares are scaled)",
    "the load's warm-up count and timeout (its minimum duration is scaled), the audit",
)


@dataclass(frozen=True)
class Timescale:
    """``speed`` AWS seconds per lab second (1 against AWS)."""

    speed: float = 1.0

    @classmethod
    def of(cls, lab_speed: Any) -> Timescale:
        """From run.json's ``floors.lab_speed`` (absent or invalid: 1, an AWS run)."""
        ok = isinstance(lab_speed, int | float) and not isinstance(lab_speed, bool)
        if not ok or not math.isfinite(lab_speed) or lab_speed <= 0:
            return cls(1.0)
        return cls(float(lab_speed))

    @property
    def compressed(self) -> bool:
        return self.speed != 1.0

    def aws(self, lab_seconds: float | None) -> float | None:
        """AWS seconds that ``lab_seconds`` of this run stand for."""
        return None if lab_seconds is None else lab_seconds * self.speed

    def lab(self, aws_seconds: float) -> float:
        """Lab seconds a declared ``aws_seconds`` lasts on this run."""
        return aws_seconds / self.speed

    def beside(self, lab_seconds: float | None) -> float | None:
        """The lab seconds to show beside an AWS figure (None when they are the same)."""
        return lab_seconds if self.compressed else None

    def sentence(self) -> str:
        """How lab time maps to AWS time, and what is not scaled (the report's footnote)."""
        if not self.compressed:
            return "Every duration is in seconds of the target's own clock (AWS seconds)."
        s = f"{self.speed:g}"
        return (
            f"This lab run compresses time {s}x: one lab second stands for {s} AWS seconds. "
            f"Every duration shown is in AWS seconds (lab seconds x {s}, the lab seconds "
            f"beside them); the drill ran its objectives' recovery window, the observation "
            f"window, Chaos Toolkit pauses, the timeouts and polls of activities that wait on "
            f"AWS, the load's think time, timeouts and DNS caching at 1/{s}, as the lab "
            f"runs Route 53, Aurora and FIS. Not scaled: {'; '.join(NOT_SCALED)}."
        )
