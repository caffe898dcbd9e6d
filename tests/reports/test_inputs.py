"""Bad input: one clear message naming the file (and line), a non-zero exit, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gameday.cli import main
from gameday.reports import ObjectivesError, RunDirError, build_report
from gameday.reports.objectives import Objectives, parse_objectives
from tests.reports.synth import journal, requests, write_run


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        (
            {"objectives": {"rto_seconds": "1m"}},
            "rto_seconds must be a number of seconds, got '1m' (write seconds",
        ),
        ({"objectives": {"rpo_seconds": -5}}, "rpo_seconds must be zero or more seconds, got -5"),
        (
            {"objectives": {"rto_minutes": 1}},
            "unknown key 'rto_minutes' (objectives are in seconds: use 'rto_seconds')",
        ),
        ({"recovery": {"success_threshold": 99}}, "(a percentage? write 0.99)"),
        ({"recovery": {"min_requests": 0}}, "min_requests must be a whole number of at least 1"),
        ({"recovery": {"window_seconds": 0}}, "window_seconds must be more than 0 seconds"),
        ({"rto_minutes": 2}, "objectives has an unknown key 'rto_minutes'"),
        ({"objectives": [60]}, "must be a JSON object"),
    ],
)
def test_objectives_with_wrong_units_or_negative_values_are_refused(extension, message) -> None:
    with pytest.raises(ObjectivesError) as info:
        parse_objectives(extension)
    assert message in str(info.value)


def test_objectives_from_the_extension_and_from_run_json_agree() -> None:
    nested = {"name": "gameday", "objectives": {"rto_seconds": 60, "rpo_seconds": 5},
              "recovery": {"window_seconds": 5, "success_threshold": 0.95, "min_requests": 10}, "load": {"users": 4}}  # fmt: skip
    flat = {
        "rto_seconds": 60,
        "rpo_seconds": 5,
        "window_seconds": 5,
        "success_threshold": 0.95,
        "min_requests": 10,
    }
    assert (
        parse_objectives(nested) == parse_objectives(flat) == Objectives(60.0, 5.0, 5.0, 0.95, 10)
    )
    assert parse_objectives(None) == Objectives()


def _report(run_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    return result.exit_code, result.output


def _assert_nothing_written(run_dir: Path) -> None:
    for name in ("report.html", "summary.json", "junit.xml", "manifest.sha256"):
        assert not (run_dir / name).exists(), name


def test_a_missing_journal(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    (run / "journal.json").unlink()
    code, out = _report(run)
    assert code == 1 and f"{run / 'journal.json'}: missing" in out
    _assert_nothing_written(run)


def test_a_truncated_journal_names_file_and_line(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    text = (run / "journal.json").read_text()
    (run / "journal.json").write_text(text[: len(text) // 2])
    code, out = _report(run)
    assert code == 1 and f"{run / 'journal.json'}:1: is not valid JSON" in out
    _assert_nothing_written(run)


def test_a_missing_ledger(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    (run / "requests.jsonl").unlink()
    code, out = _report(run)
    assert code == 1 and "requests.jsonl: missing: the request ledger is required" in out


def test_a_ledger_line_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    lines = (run / "requests.jsonl").read_text().splitlines(keepends=True)
    lines[41] = "this is not json\n"
    (run / "requests.jsonl").write_text("".join(lines))
    with pytest.raises(RunDirError) as info:
        build_report(run)
    assert str(info.value) == f"{run / 'requests.jsonl'}:42: line is not JSON"
    _assert_nothing_written(run)


def test_a_truncated_ledger_says_so(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    text = (run / "requests.jsonl").read_text()
    (run / "requests.jsonl").write_text(text[:-40])
    code, out = _report(run)
    assert code == 1 and "requests.jsonl:300: the last line is cut off (truncated file)" in out


def test_an_empty_ledger_and_a_record_without_fields(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", journal(10.0), [])
    code, out = _report(run)
    assert code == 1 and "requests.jsonl: is empty: no request was recorded" in out
    (run / "requests.jsonl").write_text('{"start": 1}\n')
    code, out = _report(run)
    assert (
        code == 1
        and "requests.jsonl:1: is not a ledger record: lacks 'end' (it needs start, end, op, ok)"
        in out
    )


def test_bad_objectives_in_run_json_fail_the_report(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "r",
        journal(10.0),
        requests(10, 30),
        run_json={"objectives": {"rto_seconds": -1}},
    )
    code, out = _report(run)
    assert code == 1 and "objectives.rto_seconds must be zero or more seconds, got -1" in out
    _assert_nothing_written(run)


def test_not_a_directory(tmp_path: Path) -> None:
    code, out = _report(tmp_path / "nope")
    assert code == 1 and "is not a directory" in out
