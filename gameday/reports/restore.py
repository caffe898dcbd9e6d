"""What the corrupted-data drill measures: detection, the restore, what it discarded, what remains.

A drill that restores from backup is judged on other numbers than a failover: nobody was
down, but data was lost on purpose. From the journal's activity outputs (the bad-data
injection, the corrupted-record probes, the restore, its wait and the cut-over) and the
audit (acknowledged writes absent from the data served after the cut-over):

* **time to detect**: from the first bad record's acknowledgement to the end of the first
  probe that saw corrupted records;
* **restore duration**: from the restore request to the cluster being ``available``;
* **restore point vs corruption**: how long before the first bad record the restore point
  lies (it must be before: positive);
* **discarded writes**: the acknowledged good writes the restore threw away (ids, count,
  first and last ack), and the **restore's RPO**: from the restore point to the last of
  them (0 when none was discarded);
* **corrupted records remaining**: what the last probe after the cut-over still saw in all
  regions together (the objective is 0).

Every duration is given in lab seconds and in AWS seconds (lab seconds x the lab's speed,
1 on AWS), and the RPO objective is judged in AWS seconds. Pure functions over records;
:func:`restore_from_journal` only picks the outputs out of a journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from gameday.reports.model import ObjectiveResult
from gameday.reports.objectives import Objectives
from gameday.reports.verdict import verdict
from gameday.rundir import optional_epoch

__all__ = ["Discarded", "RestoreFacts", "RestoreMeasurement", "judge_restore", "measure_restore",
           "restore_from_journal", "restore_run", "with_restore"]  # fmt: skip

_MODULES = {
    "inject": "gameday.actions.baddata.inject_bad_data",
    "probe": "gameday.probes.data.corrupted_records",
    "restore": "gameday.actions.restore.restore_database_to_point_in_time",
    "wait": "gameday.probes.restore.wait_for_restore",
    "cut_over": "gameday.actions.restore.cut_over_database",
}


@dataclass(frozen=True)
class Discarded:
    """One acknowledged good write the restore discarded."""

    id: str
    acked_at: float


@dataclass(frozen=True)
class RestoreFacts:
    """The drill's own observations, as the journal recorded them (epoch seconds)."""

    corruption_at: float | None
    probes: tuple[tuple[float, int | None], ...]  # (probe end, corrupted records seen)
    restore_point: float | None
    requested_at: float | None
    available_at: float | None
    cut_over_at: float | None
    cut_over_end: float | None


@dataclass(frozen=True)
class RestoreMeasurement:
    """The corrupted-data drill's numbers (``*_s`` lab seconds, ``*_aws_s`` AWS seconds)."""

    speed: float
    corruption_at: float | None
    detected_at: float | None
    time_to_detect_s: float | None
    time_to_detect_aws_s: float | None
    restore_point: float | None
    restore_point_before_corruption_s: float | None
    restore_point_before_corruption_aws_s: float | None
    restore_duration_s: float | None
    restore_duration_aws_s: float | None
    cut_over_at: float | None
    corrupted_seen: int | None
    corrupted_remaining: int | None
    discarded: tuple[Discarded, ...]
    discarded_oldest: float | None
    discarded_newest: float | None
    restore_rpo_s: float | None
    restore_rpo_aws_s: float | None

    @property
    def discarded_write_count(self) -> int:
        return len(self.discarded)


def _diff(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else round(later - earlier, 4)


def _aws(value: float | None, speed: float) -> float | None:
    return None if value is None else round(value * speed, 3)


def measure_restore(
    facts: RestoreFacts, discarded: Iterable[Discarded], speed: float | None
) -> RestoreMeasurement:
    """The drill's numbers from its facts and the audit's absent writes (see the module)."""
    k = float(speed or 1.0)
    gone = tuple(sorted(discarded, key=lambda w: w.acked_at))
    before = [(t, n) for t, n in facts.probes if facts.cut_over_at is None or t < facts.cut_over_at]
    after = [
        (t, n)
        for t, n in facts.probes
        if facts.cut_over_end is not None and t >= facts.cut_over_end
    ]
    seen = [(t, n) for t, n in before if n]
    detected = min((t for t, _ in seen), default=None)
    detect = _diff(detected, facts.corruption_at)
    lead = _diff(facts.corruption_at, facts.restore_point)
    took = _diff(facts.available_at, facts.requested_at)
    rpo = None
    if facts.restore_point is not None:
        rpo = max(0.0, round(gone[-1].acked_at - facts.restore_point, 4)) if gone else 0.0
    return RestoreMeasurement(
        speed=k, corruption_at=facts.corruption_at, detected_at=detected,
        time_to_detect_s=detect, time_to_detect_aws_s=_aws(detect, k),
        restore_point=facts.restore_point, restore_point_before_corruption_s=lead,
        restore_point_before_corruption_aws_s=_aws(lead, k),
        restore_duration_s=took, restore_duration_aws_s=_aws(took, k),
        cut_over_at=facts.cut_over_at,
        corrupted_seen=max((n for _, n in seen), default=None),
        corrupted_remaining=after[-1][1] if after else None,
        discarded=gone, discarded_oldest=gone[0].acked_at if gone else None,
        discarded_newest=gone[-1].acked_at if gone else None,
        restore_rpo_s=rpo, restore_rpo_aws_s=_aws(rpo, k),
    )  # fmt: skip


def _epoch(value: Any) -> float | None:
    """The run directory's one time parser (naive ISO = UTC, as chaoslib writes)."""
    return optional_epoch(value or None)


def restore_from_journal(journal: Mapping[str, Any]) -> RestoreFacts | None:
    """The drill's facts from a Chaos Toolkit journal (None: the run restored nothing)."""
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key in _MODULES}
    for item in journal.get("run") or []:
        provider = (item.get("activity") or {}).get("provider") or {}
        name = f"{provider.get('module')}.{provider.get('func')}"
        for key, target in _MODULES.items():
            if name == target and item.get("status") == "succeeded":
                runs[key].append(item)
    if not runs["restore"]:
        return None

    def out(key: str) -> dict[str, Any]:
        return dict(runs[key][0].get("output") or {}) if runs[key] else {}

    cut = runs["cut_over"][0] if runs["cut_over"] else {}
    probes = tuple(
        (float((p.get("output") or {}).get("seen_at") or _epoch(p.get("end")) or 0.0),
         (p.get("output") or {}).get("total"))
        for p in runs["probe"]
    )  # fmt: skip
    return RestoreFacts(
        corruption_at=out("inject").get("first_acked_at"), probes=probes,
        restore_point=out("restore").get("restore_time"),
        requested_at=out("restore").get("requested_at"),
        available_at=out("wait").get("available_at"),
        cut_over_at=_epoch(cut.get("start")), cut_over_end=_epoch(cut.get("end")),
    )  # fmt: skip


def judge_restore(results: Sequence[ObjectiveResult], r: RestoreMeasurement,
                  objectives: Objectives) -> tuple[tuple[ObjectiveResult, ...], str, str]:  # fmt: skip
    """The run's results with the RPO judged on the restore, plus corrupted records
    remaining (must be 0); and the verdict they give."""
    limit = objectives.rpo_seconds
    rpo = r.restore_rpo_aws_s
    status = "unknown" if rpo is None or limit is None else ("met" if rpo <= limit else "missed")
    detail = (
        f"the restore discarded {r.discarded_write_count} acknowledged write(s); restore RPO "
        f"{'—' if rpo is None else f'{rpo:.2f} s'} (restore point to the last discarded write)"
    )
    rpo_result = ObjectiveResult("RPO", status, limit, rpo, detail)
    left = r.corrupted_remaining
    remaining = ObjectiveResult(
        "corrupted records remaining",
        "unknown" if left is None else ("met" if left == 0 else "missed"),
        0, left,
        "no probe after the cut-over" if left is None else f"{left} corrupted record(s) still served",
    )  # fmt: skip
    out = (*(rpo_result if x.name == "RPO" else x for x in results), remaining)
    v, text = verdict(out)
    if remaining.status == "missed" and v != "missed":
        v, text = "missed", f"Objectives missed. {remaining.name}: {remaining.detail}."
    return out, v, text


def with_restore(summary: Any, r: RestoreMeasurement | None) -> Any:
    """``summary`` with ``corrupted_remaining``, ``discarded_write_count`` and ``restore``
    (nulls when the run restored nothing); a restore's RPO is the run's RPO."""
    if r is None:
        summary.data.update(corrupted_remaining=None, discarded_write_count=None, restore=None)
        return summary
    body = asdict(r)
    body["discarded"] = [asdict(w) for w in r.discarded]
    body["discarded_write_count"] = r.discarded_write_count
    summary.data.update(
        corrupted_remaining=r.corrupted_remaining, discarded_write_count=r.discarded_write_count,
        restore=body, rpo_seconds=r.restore_rpo_aws_s, lost_write_count=r.discarded_write_count,
    )  # fmt: skip
    return replace(
        summary, rpo_seconds=r.restore_rpo_aws_s, lost_write_count=r.discarded_write_count
    )


def apply_restore(m: Any, results: tuple[ObjectiveResult, ...], v: str, text: str) -> Any:
    """``m`` (a Measurement) with the restore's results and verdict (still "interrupted"
    when the drill was stopped)."""
    if m.interrupted:
        v, text = verdict(results, m.interrupted)
    return replace(m, results=results, verdict=v, verdict_text=text)


def restore_run(
    run_dir: Any, m: Any, objectives: Objectives
) -> tuple[Any, RestoreMeasurement | None]:
    """Read a run directory's journal and audit; ``m`` judged on the restore when it had one."""
    from pathlib import Path

    from gameday.reports.audit import read_audit
    from gameday.rundir import JOURNAL, RunDirError
    from gameday.rundir.files import read_json

    path = Path(run_dir) / JOURNAL
    try:
        facts = restore_from_journal(read_json(path, required=True))
    except (ValueError, TypeError, AttributeError) as exc:
        raise RunDirError(path, f"the restore activities' times or outputs: {exc}") from None
    if facts is None:
        return m, None
    audit = read_audit(Path(run_dir))
    lost = audit.lost if audit is not None else ()
    r = measure_restore(facts, [Discarded(w.id, w.acked_at) for w in lost], m.floors.lab_speed)
    return apply_restore(m, *judge_restore(m.results, r, objectives)), r
