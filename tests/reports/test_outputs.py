"""The report's outputs never follow links, the manifest escapes names, and a bad history
line never breaks a later report (issue 17, items 3 and 5)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from gameday.cli import main
from gameday.reports import build_report
from gameday.reports.evidence import history_path, read_history, verify_manifest
from tests.reports.synth import journal, requests, write_run

STAMP = "20261130T143000Z"
OUTPUTS = ("report.html", "summary.json", "junit.xml", "manifest.sha256")


def _run(tmp_path: Path) -> Path:
    return write_run(tmp_path / "reports" / "drill" / STAMP, journal(10.0), requests(10, 30))


def _report(run_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", OUTPUTS)
def test_a_link_planted_at_an_output_is_replaced_never_written_through(
    tmp_path: Path, name: str
) -> None:
    run = _run(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    (run / name).symlink_to(victim)
    code, out = _report(run)
    assert code == 0, out
    assert victim.read_text() == "do not touch\n"
    assert (run / name).is_file() and not (run / name).is_symlink()
    assert verify_manifest(run) == []


def test_a_link_planted_at_the_history_is_replaced_never_written_through(tmp_path: Path) -> None:
    run = _run(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    history = history_path(run)
    history.symlink_to(victim)
    code, out = _report(run)
    assert code == 0, out
    assert victim.read_text() == "do not touch\n"
    assert not history.is_symlink() and [h.run for h in read_history(history)] == [STAMP]


def test_a_link_planted_at_the_history_lock_is_refused(tmp_path: Path) -> None:
    run = _run(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    history_path(run).with_name(".history.jsonl.lock").symlink_to(victim)
    code, out = _report(run)
    assert code == 1 and ".history.jsonl.lock: cannot be opened as a lock" in out, out
    assert victim.read_text() == "do not touch\n"


def test_links_inside_the_run_directory_are_neither_followed_nor_hashed(tmp_path: Path) -> None:
    run = _run(tmp_path)
    outside = tmp_path / "outside"
    outside.write_text("secret\n")
    (run / "extra").symlink_to(outside)
    build_report(run)
    names = [line.split("  ", 1)[1] for line in (run / "manifest.sha256").read_text().splitlines()]
    assert "extra" not in names and "requests.jsonl" in names


def test_a_file_name_with_a_newline_cannot_write_a_line_of_its_own(tmp_path: Path) -> None:
    """sha256sum's own escaping: the line starts with a backslash, the newline is ``\\n``."""
    run = _run(tmp_path)
    forged = "x\n" + "0" * 64 + "  evil"  # would be a line of its own, unescaped
    (run / forged).write_text("payload")
    (run / "back\\slash").write_text("b")
    build_report(run)
    lines = (run / "manifest.sha256").read_text().splitlines()
    assert not any(line.startswith("0" * 64) for line in lines)
    files = sorted(p.name for p in run.iterdir())
    assert len(lines) == len(files) - 1  # every file but the manifest, one line each
    assert sum(line.startswith("\\") for line in lines) == 2
    assert verify_manifest(run) == []
    (run / forged).write_text("changed")
    assert verify_manifest(run) == [f"{forged!r}: changed since the manifest was written"]


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_the_escaped_manifest_is_what_sha256sum_checks(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / "a\nb").write_text("payload")
    (run / "c\\d").write_text("payload")
    build_report(run)
    check = subprocess.run(
        ["sha256sum", "--strict", "-c", "manifest.sha256"], cwd=run, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


BAD_LINES = [
    '{"experiment":"drill","run":"zz","run_dir":"/nowhere","started":"yesterday","verdict":"met"}',
    "[1,2]",
    "not json",
    '{"experiment":"drill","run":"x","run_dir":"/r","verdict":"met","rto_seconds":"fast"}',
]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_a_bad_history_line_is_skipped_with_a_warning_and_never_breaks_later_reports(
    tmp_path: Path, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    clean = build_report(_run(tmp_path / "clean"), history=False)
    first = _run(tmp_path)
    history = history_path(first)
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_text(bad + "\n")
    with caplog.at_level(logging.WARNING, logger="gameday.rundir"):
        code, out = _report(first)
    assert code == 0, out
    assert f"{history}:1: " in caplog.text and "(line skipped)" in caplog.text
    assert json.loads((first / "summary.json").read_text())["verdict"] == clean.verdict
    second = write_run(tmp_path / "reports" / "drill" / "20261201T000000Z", journal(10.0),
                       requests(10, 30))  # fmt: skip
    code, out = _report(second)
    assert code == 0, out
    assert [h.run for h in read_history(history)] == [STAMP, "20261201T000000Z"]
    assert history.read_text().splitlines()[0] == bad  # kept as it was: evidence is not deleted


def test_without_html_the_pipeline_files_are_written_and_the_page_comes_later(
    tmp_path: Path,
) -> None:
    """``gameday run --no-html``: summary.json, junit.xml and a manifest that checks; an
    older report.html goes (it would contradict the new summary); ``gameday report`` renders
    the page from the same files."""
    run = _run(tmp_path)
    build_report(run)
    assert (run / "report.html").is_file()
    summary = build_report(run, history=False, html=False)
    assert not (run / "report.html").exists()
    assert json.loads((run / "summary.json").read_text())["verdict"] == summary.verdict
    assert (run / "junit.xml").is_file() and verify_manifest(run) == []
    code, out = _report(run)
    assert code == 0, out
    assert (run / "report.html").is_file() and verify_manifest(run) == []
