"""Audit evidence and trend: the SHA-256 manifest of a run directory, and the history.

``manifest.sha256`` lists every regular file of the run directory (but itself) in
``sha256sum`` format, so ``sha256sum -c manifest.sha256`` (or :func:`verify_manifest`) shows
any later edit. A name holding a backslash, a newline or a carriage return is escaped the
way GNU ``sha256sum`` does (the line starts with ``\\``), so no file name can write a line
of its own; symbolic links are neither followed nor listed.

History: one JSON line per run in ``history.jsonl`` of the reports folder (the run
directory's grandparent: ``reports/history.jsonl`` for ``reports/<experiment>/<stamp>/``;
beside the run directory when its name is not a UTC stamp).
Re-rendering a run replaces its line, so the trend has one point per run. A line that is
not a :class:`~gameday.rundir.records.HistoryLine` is skipped with a warning naming it:
the trend of other runs never stops this run's report.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from gameday.rundir import HISTORY, MANIFEST
from gameday.rundir.errors import RunDirError
from gameday.rundir.files import (
    MAX_JSONL_BYTES,
    MAX_LEDGER_BYTES,
    iter_jsonl,
    iter_lines,
    open_regular,
    write_atomic,
    write_text,
)
from gameday.rundir.records import HistoryLine

__all__ = [
    "HISTORY", "HistoryLine", "append_history", "history_path", "read_history",
    "sha256_file", "verify_manifest", "write_manifest",
]  # fmt: skip


def sha256_file(path: Path) -> str:
    handle = open_regular(path, MAX_LEDGER_BYTES)
    if handle is None:
        raise RunDirError(path, "vanished while the manifest was written")
    digest = hashlib.sha256()
    with handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _regular_files(run_dir: Path) -> Iterator[str]:
    """Relative POSIX names of the regular files under ``run_dir`` (links not followed),
    but the manifest and temporary files."""
    for folder, dirs, files in os.walk(run_dir, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if (name == MANIFEST and Path(folder) == run_dir) or name.endswith(".tmp"):
                continue
            if stat.S_ISREG(path.lstat().st_mode):
                yield path.relative_to(run_dir).as_posix()


def escape_name(name: str) -> tuple[str, str]:
    """``(prefix, escaped name)`` as GNU sha256sum writes them: ``\\`` before the line when
    the name needed escaping."""
    if not any(c in name for c in "\\\n\r"):
        return "", name
    escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "\\", escaped


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), text)


def write_manifest(run_dir: Path) -> Path:
    """Hash every regular file of ``run_dir`` (recursively, but the manifest) into the
    manifest, written last and never through a link."""
    lines = []
    for name in sorted(_regular_files(run_dir)):
        prefix, escaped = escape_name(name)
        lines.append(f"{prefix}{sha256_file(run_dir / name)}  {escaped}\n")
    return write_text(run_dir / MANIFEST, "".join(lines))


def verify_manifest(run_dir: Path) -> list[str]:
    """Problems found: files changed, missing or added since the manifest was written."""
    target = run_dir / MANIFEST
    handle = open_regular(target, MAX_JSONL_BYTES)
    if handle is None:
        return [f"{target}: no manifest"]
    with handle:
        text = handle.read().decode("utf-8", errors="replace")
    problems = []
    listed = set()
    for line in text.splitlines():
        escaped = line.startswith("\\")
        digest, _, name = line.removeprefix("\\").partition("  ")
        if escaped:
            name = _unescape(name)
        listed.add(name)
        path = run_dir / name
        if not path.is_file() or path.is_symlink():
            problems.append(f"{_shown(name)}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{_shown(name)}: changed since the manifest was written")
    for name in _regular_files(run_dir):
        if name not in listed:
            problems.append(f"{_shown(name)}: added after the manifest")
    return problems


def _shown(name: str) -> str:
    return name if name.isprintable() else repr(name)


_STAMP = re.compile(r"^\d{8}T\d{6}Z")


def history_path(run_dir: Path) -> Path:
    """``<reports>/history.jsonl`` for a run directory ``<reports>/<experiment>/<UTC stamp>``;
    a directory not named like a stamp (a drill measured by hand) keeps its history beside
    it, in its parent, rather than two levels up in some unrelated folder."""
    run_dir = run_dir.resolve()
    if _STAMP.match(run_dir.name):
        return run_dir.parent.parent / HISTORY
    return run_dir.parent / HISTORY


def _lock(path: Path) -> int:
    """An exclusive lock beside ``path`` (``.<name>.lock``, never through a link)."""
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise RunDirError(lock, f"cannot be opened as a lock ({exc.strerror})") from None
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def append_history(run_dir: Path, line: HistoryLine) -> Path:
    """Add (or replace) this run's line, under an exclusive lock (drills may run in
    parallel); the file is replaced whole, never written through a link. Every other line
    is kept as it was, even one that is not a history line (evidence is not deleted)."""
    path = history_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _lock(path)
    try:
        kept = [raw for raw in _raw_lines(path) if _run_dir(raw) != line.run_dir]
        kept.append(json.dumps(line.to_json(), separators=(",", ":")).encode("utf-8"))
        write_atomic(path, b"".join(raw + b"\n" for raw in kept))
    finally:
        os.close(fd)
    return path


def _raw_lines(path: Path) -> Iterator[bytes]:
    handle = open_regular(path, MAX_JSONL_BYTES)
    if handle is None:
        return
    with handle:
        for block, _ in iter_lines(handle, path):
            yield from (raw for raw in block if raw.strip())


def _run_dir(raw: bytes) -> object:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data.get("run_dir") if isinstance(data, dict) else None


def read_history(path: Path, experiment: str | None = None) -> list[HistoryLine]:
    """The history's lines (of one experiment), oldest first; a line that is not a
    history line is skipped with a warning naming the file and line."""
    out = [
        item
        for _, item in iter_jsonl(path, HistoryLine.from_json, what="history line", skip_bad=True)
        if experiment is None or item.experiment == experiment
    ]
    out.sort(key=lambda h: (h.started or 0.0, h.run))
    return out
