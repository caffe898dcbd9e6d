"""``summary.json`` (versioned, schema in ``summary.schema.json``) and ``junit.xml``.

The summary is the machine-readable result a pipeline or a trend reads; the JUnit file has
one test case per objective (RTO, RPO, steady state before, steady state after, every fault
reverted) so a scheduled drill can gate a pipeline: "missed" is a failure, "unknown" is
skipped with the reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from gameday.reports.clock import Timescale
from gameday.reports.model import Measurement
from gameday.reports.objectives import Objectives
from gameday.rundir.files import write_text

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("summary.schema.json")


@dataclass(frozen=True)
class Summary:
    """The run's result: ``verdict`` is "met", "missed", "incomplete" or "interrupted"."""

    verdict: str
    rto_seconds: float | None
    rpo_seconds: float | None
    lost_write_count: int | None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.data


def _t(value: float | None, t0: float | None, speed: float = 1.0) -> float | None:
    """AWS seconds from ``t0`` to ``value`` (epoch times of a run at ``speed``)."""
    return None if value is None or t0 is None else round((value - t0) * speed, 4)


def summarize(m: Measurement, objectives: Objectives, *, experiment: dict[str, Any], run_dir: str,
              target: str | None) -> Summary:  # fmt: skip
    r, rpo = m.recovery, m.rpo
    data: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "generated_at": time.time(),
        "experiment": {"name": experiment.get("name"), "title": experiment.get("title")},
        "run_dir": run_dir,
        "target": target,
        "regions": {"primary": m.primary, "secondary": m.secondary},
        "roles": {"users_from": m.roles.users_from, "users_to": m.roles.users_to,
                  "writer_before": m.roles.writer_before, "writer_after": m.roles.writer_after,
                  "missing": list(m.roles.missing)},
        "verdict": m.verdict,
        "verdict_text": m.verdict_text,
        "interrupted": m.interrupted,
        "time_scale": {"speed": m.speed, "sentence": Timescale(m.speed).sentence()},
        "rto_seconds": r.rto_s,
        "rto_lab_seconds": r.lab_rto_s,
        "rpo_seconds": rpo.rpo_s if rpo.measured else None,
        "rpo_lab_seconds": rpo.lab_rpo_s if rpo.measured else None,
        "lost_write_count": rpo.lost if rpo.measured else None,
        "objectives": objectives.to_json(),
        "recovery": {
            "outcome": r.outcome,
            "t0": r.t0,
            "recovered_at": r.recovered_at,
            "failed_after_t0": r.failed_after_t0,
            "requests_after_t0": r.requests_after_t0,
            "window_requests": r.window_requests,
            "window_success_ratio": r.window_ratio,
        },
        "phases": [asdict(p) for p in m.phases],
        "cohorts": [
            {
                "cohort": c.cohort,
                "requests": c.requests,
                "outcome": c.recovery.outcome,
                "rto_seconds": c.recovery.rto_s,
                "error_share": c.recovery.error_share,
                "reached_recovery_region_s": c.reached_recovery_region_s,
            }
            for c in m.cohorts
        ],
        "rpo": {
            "measured": rpo.measured,
            "basis": rpo.basis,
            "audited": rpo.audited,
            "lost": rpo.lost,
            "loss_window": None if rpo.oldest_lost is None or rpo.newest_lost is None else {
                "oldest_ack": rpo.oldest_lost.time, "newest_ack": rpo.newest_lost.time,
                "oldest_since_t0_s": _t(rpo.oldest_lost.time, m.t0, m.speed),
                "newest_since_t0_s": _t(rpo.newest_lost.time, m.t0, m.speed),
            },
            "lost_sample": [asdict(w) for w in rpo.lost_sample],
            "non_suffix": rpo.non_suffix,
            "split_brain": rpo.split_brain,
            "duplicates": rpo.duplicates,
            "recovery_only": rpo.recovery_only,
            "lost_reads": rpo.lost_reads,
        },
        "floors": asdict(m.floors),
        "requests": {"total": m.facts.requests, **m.facts.outcomes},
        "steady_state": {"before": asdict(m.before) if m.before else None,
                         "after": asdict(m.after) if m.after else None},
        "clock": asdict(m.clock),
        "findings": [asdict(f) for f in m.findings],
        "results": [asdict(x) for x in m.results],
        "missing": list(m.missing),
    }  # fmt: skip
    return Summary(
        m.verdict, data["rto_seconds"], data["rpo_seconds"], data["lost_write_count"], data
    )


def schema() -> dict[str, Any]:
    """The JSON Schema of ``summary.json`` shipped with the package."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def write_summary(path: Path, summary: Summary) -> None:
    """Write ``summary.json`` (atomically, never through a symbolic link)."""
    write_text(path, json.dumps(summary.to_json(), indent=1, default=str) + "\n")


def junit_xml(m: Measurement, suite: str) -> str:
    """One ``<testcase>`` per check: missed = failure, unknown or an objective not set =
    skipped; an interrupted drill adds a case in error, so a pipeline never reads a
    stopped drill as a passed one."""
    cases = []
    failures = skipped = errors = 0
    cls = quoteattr("gameday." + suite)
    for r in m.results:
        if r.status == "missed":
            failures += 1
            body = f"<failure message={quoteattr(r.detail)}>{escape(r.detail)}</failure>"
        elif r.status in ("unknown", "not-set"):
            skipped += 1
            body = f"<skipped message={quoteattr(r.detail)}/>"
        else:
            body = f"<system-out>{escape(r.detail)}</system-out>"
        cases.append(f"  <testcase classname={cls} name={quoteattr(r.name)}>{body}</testcase>")
    if m.interrupted:
        errors += 1
        why = f"interrupted: {m.interrupted}"
        cases.append(f"  <testcase classname={cls} name=\"drill ran to its end\">"
                     f"<error message={quoteattr(why)} type=\"interrupted\">{escape(why)}</error></testcase>")  # fmt: skip
    head = (
        f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name={quoteattr(suite)} '
        f'tests="{len(cases)}" failures="{failures}" errors="{errors}" skipped="{skipped}">'
    )
    return "\n".join([head, *cases, "</testsuite>", ""])
