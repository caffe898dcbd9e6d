"""Audit evidence and trend: the SHA-256 manifest of a run directory, and the history.

``manifest.sha256`` lists every file of the run directory (but itself) in ``sha256sum``
format, so ``sha256sum -c manifest.sha256`` (or :func:`verify_manifest`) shows any later edit.

History: one JSON line per run in ``history.jsonl`` of the reports folder (the run
directory's grandparent: ``reports/history.jsonl`` for ``reports/<experiment>/<stamp>/``;
beside the run directory when its name is not a UTC stamp).
Re-rendering a run replaces its line, so the trend has one point per run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.reports.runfiles import MANIFEST

HISTORY = "history.jsonl"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(run_dir: Path) -> Path:
    """Hash every file of ``run_dir`` (recursively, but the manifest) into the manifest."""
    lines = []
    for path in sorted(
        p
        for p in run_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST and not p.name.endswith(".tmp")
    ):
        lines.append(f"{sha256_file(path)}  {path.relative_to(run_dir).as_posix()}\n")
    target = run_dir / MANIFEST
    target.write_text("".join(lines), encoding="utf-8")
    return target


def verify_manifest(run_dir: Path) -> list[str]:
    """Problems found: files changed, missing or added since the manifest was written."""
    target = run_dir / MANIFEST
    if not target.exists():
        return [f"{target}: no manifest"]
    problems = []
    listed = set()
    for line in target.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed.add(name)
        path = run_dir / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: changed since the manifest was written")
    for path in run_dir.rglob("*"):
        if (
            path.is_file()
            and path.name != MANIFEST
            and path.relative_to(run_dir).as_posix() not in listed
        ):
            problems.append(f"{path.relative_to(run_dir).as_posix()}: added after the manifest")
    return problems


@dataclass(frozen=True)
class HistoryLine:
    experiment: str
    run: str  # the run directory's name (its UTC stamp)
    run_dir: str
    started: float | None
    verdict: str
    rto_seconds: float | None
    rpo_seconds: float | None
    lost_write_count: int | None
    target: str | None


_STAMP = re.compile(r"^\d{8}T\d{6}Z")


def history_path(run_dir: Path) -> Path:
    """``<reports>/history.jsonl`` for a run directory ``<reports>/<experiment>/<UTC stamp>``;
    a directory not named like a stamp (a drill measured by hand) keeps its history beside
    it, in its parent, rather than two levels up in some unrelated folder."""
    run_dir = run_dir.resolve()
    if _STAMP.match(run_dir.name):
        return run_dir.parent.parent / HISTORY
    return run_dir.parent / HISTORY


def append_history(run_dir: Path, line: HistoryLine) -> Path:
    """Add (or replace) this run's line, under an exclusive lock (drills may run in parallel)."""
    path = history_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        kept = [
            raw
            for raw in handle.read().splitlines()
            if raw.strip() and _run_dir(raw) != line.run_dir
        ]
        kept.append(json.dumps(line.__dict__, separators=(",", ":")))
        handle.seek(0)
        handle.truncate()
        handle.write("\n".join(kept) + "\n")
    return path


def _run_dir(raw: str) -> str | None:
    try:
        return json.loads(raw).get("run_dir")
    except ValueError:
        return None


def read_history(path: Path, experiment: str | None = None) -> list[HistoryLine]:
    """The history's lines (of one experiment), oldest first; unreadable lines are skipped."""
    if not path.exists():
        return []
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            data: dict[str, Any] = json.loads(raw)
            item = HistoryLine(**{k: data.get(k) for k in HistoryLine.__dataclass_fields__})
        except (ValueError, TypeError):
            continue
        if experiment is None or item.experiment == experiment:
            out.append(item)
    out.sort(key=lambda h: (h.started or 0.0, h.run))
    return out
