"""Bounded reads and link-safe writes (gameday.rundir.files), on real files, FIFOs and links."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from gameday.rundir.errors import RunDirError
from gameday.rundir.files import (
    append_jsonl,
    create,
    iter_jsonl,
    open_regular,
    read_json,
    read_jsonl,
    write_atomic,
)
from gameday.rundir.records import Note


def test_a_fifo_is_refused_at_once_even_with_no_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "samples.jsonl"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []
    reader = threading.Thread(target=lambda: outcome.append(_refusal(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=30)  # a bound on a hang, not a timing: the refusal needs no wait
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], RunDirError)
    assert str(outcome[0]) == f"{fifo}: is not a regular file (a FIFO, a device or a folder?)"


def _refusal(path: Path) -> BaseException | None:
    try:
        read_jsonl(path)
    except RunDirError as exc:
        return exc
    return None


def test_a_directory_or_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="is not a regular file"):
        read_json(tmp_path, required=True)
    with pytest.raises(RunDirError, match="is not a regular file"):
        open_regular(Path("/dev/zero"), 1024)


def test_a_file_over_its_bound_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    with path.open("wb") as handle:
        handle.truncate(3 * 1024**2)
    with pytest.raises(RunDirError) as info:
        read_json(path, required=True, max_bytes=1024**2)
    assert str(info.value) == f"{path}: is 3 MiB, over the 1 MiB a run file may be"


def test_a_line_over_the_bound_is_refused_after_one_block(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(b'{"time": 1790000000, "text": "a"}\n' + b"x" * (3 * 1024**2))
    with pytest.raises(RunDirError) as info:
        read_jsonl(path)
    assert str(info.value) == f"{path}:2: line is longer than 1 MiB"


def test_one_policy_for_a_torn_last_line_live_or_finished(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    path.write_text('{"time": 1790000000, "step": "a", "event": "started"}\n{"time": 17')
    assert len(read_jsonl(path, live=True)) == 1  # still being written
    with pytest.raises(RunDirError) as info:
        read_jsonl(path)
    assert str(info.value) == f"{path}:2: the last line is cut off (truncated file)"


def test_skip_bad_warns_with_the_same_message_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('[1,2]\n{"time": "x", "text": "a"}\nnope\n{"time": 1790000000, "text": "b"}\n')
    with caplog.at_level(logging.WARNING, logger="gameday.rundir"):
        found = list(iter_jsonl(path, Note.from_json, what="note", skip_bad=True))
    assert [(n, note.text) for n, note in found] == [(4, "b")]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}:1: line is not a JSON object (line skipped)",
        f"{path}:2: is not a note: 'time': 'x' is not a time (unix seconds or ISO 8601) (line skipped)",
        f"{path}:3: line is not JSON (line skipped)",
    ]


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    return victim


def test_write_atomic_replaces_a_planted_link_and_leaves_its_target(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "summary.json"
    out.symlink_to(victim)
    write_atomic(out, b"{}\n")
    assert victim.read_text() == "untouched\n"
    assert not out.is_symlink() and out.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_appends_and_created_files_refuse_a_planted_link(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    for name in ("notes.jsonl", "requests.jsonl"):
        (tmp_path / name).symlink_to(victim)
    with pytest.raises(RunDirError, match="is a symbolic link: gameday does not write through one"):
        append_jsonl(tmp_path / "notes.jsonl", {"time": 1, "text": "x"})
    with pytest.raises(RunDirError, match="is a symbolic link"):
        create(tmp_path / "requests.jsonl")
    assert victim.read_text() == "untouched\n"


def test_gameday_note_refuses_a_linked_notes_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gameday.cli import main

    victim = _victim(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text("{}")
    (run_dir / "notes.jsonl").symlink_to(victim)
    result = CliRunner().invoke(main, ["note", "hello", "--run-dir", str(run_dir)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "notes.jsonl: is a symbolic link: gameday does not write through one" in result.output
    assert victim.read_text() == "untouched\n"
