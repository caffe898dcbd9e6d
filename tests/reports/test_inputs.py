"""Bad input: one clear message naming the file (and line), a non-zero exit, nothing written."""

from __future__ import annotations

import json
import math
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gameday.cli import main
from gameday.reports import ObjectivesError, RunDirError, build_report
from gameday.reports.objectives import Objectives, parse_objectives
from tests.reports.synth import BASE, journal, requests, write_run


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


# -- issue 17, item 8: every malformed artifact gives one message naming the file and line


def _edit_ledger_line(run: Path, number: int, **changes: object) -> None:
    lines = (run / "requests.jsonl").read_text().splitlines(keepends=True)
    record = json.loads(lines[number - 1])
    record.update(changes)
    lines[number - 1] = json.dumps(record) + "\n"
    (run / "requests.jsonl").write_text("".join(lines))


def _edit_journal(run: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads((run / "journal.json").read_text())
    edit(data)
    (run / "journal.json").write_text(json.dumps(data))


def _set_fault_end(data: dict[str, Any]) -> None:
    data["run"][0]["end"] = math.inf  # json.dumps writes Infinity


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("status", "abc", "'status' is 'abc', not a whole number"),
        ("latency_ms", "zz", "'latency_ms' is 'zz', not a finite number"),
        ("region", 5, "'region' is 5, not a string"),
        ("start", math.nan, "'start': nan is not a time"),
        ("ok", "yes", "'ok' is 'yes', not true or false"),
        ("cohort", "jvm", "'cohort' is 'jvm', not one of ttl, sticky"),
    ],
)
def test_a_ledger_value_of_the_wrong_type_names_file_line_and_field(
    tmp_path: Path, field: str, value: object, expected: str
) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    _edit_ledger_line(run, 7, **{field: value})
    code, out = _report(run)
    assert code == 1 and out.count("\n") == 1, out
    assert f"{run / 'requests.jsonl'}:7: is not a ledger record: {expected}" in out
    _assert_nothing_written(run)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("notes.jsonl", '{"time": "x", "text": "t"}\n', "notes.jsonl:1: is not a note: 'time': 'x'"),
        ("notes.jsonl", '{"time": 1e300, "text": "t"}\n', "notes.jsonl:1: is not a note: 'time': 1e+300"),
        ("notes.jsonl", '{"time": 1790000012, "text": "a"}\n{"time": NaN, "text": "t"}\n', "notes.jsonl:2: is not a note: 'time': nan"),
        ("steps.jsonl", '{"time": 1790000012, "step": 3, "event": "x"}\n', "steps.jsonl:1: is not a step event: 'step' is 3"),
        ("samples.jsonl", '{"time": 1790000001, "probe": "replication_lag", "value": "far"}\n',
         "samples.jsonl:1: is not a probe sample: 'value' is 'far', not a finite number"),
        ("lab-events.jsonl", '{"time": "later", "kind": "writer"}\n', "lab-events.jsonl:1: is not a lab event: 'time': 'later'"),
        ("run.json", '{"regions": ["us-east-1"]}', "run.json: 'regions' is ['us-east-1'], not a JSON object"),
        ("run.json", '{"started": "soon"}', "run.json: 'started': 'soon' is not a time"),
        ("run.json", '{"floors": {"ttl_s": -Infinity}}', "run.json: 'ttl_s' is -inf, not a finite number"),
        ("audit.json", '{"checked": 2, "found": 1, "lost": [{"id": "w1", "acked_at": "x"}]}',
         "audit.json: is not an audit result: 'acked_at': 'x' is not a time"),
        ("audit.json", '{"checked": 2, "found": 1, "lost": [], "clock_offset": {"median_s": NaN}}',
         "audit.json: is not an audit result: 'median_s' is nan, not a finite number"),
    ],
)  # fmt: skip
def test_a_malformed_small_artifact_names_file_and_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    (run / name).write_text(text)
    code, out = _report(run)
    assert code == 1 and out.count("\n") == 1 and expected in out, out
    _assert_nothing_written(run)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(experiment=["region-evacuation"]), "journal.json: experiment is not a JSON object"),
        (_set_fault_end, "journal.json: run[0].end: inf is not a time"),
        (lambda d: d.update(rollbacks={"a": 1}), "journal.json: rollbacks is not a JSON list"),
        (lambda d: d["run"][0].update(activity="fail"), "journal.json: run[0].activity is not a JSON object"),
    ],
)  # fmt: skip
def test_a_malformed_journal_names_the_field(tmp_path: Path, edit, expected: str) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    _edit_journal(run, edit)
    code, out = _report(run)
    assert code == 1 and out.count("\n") == 1 and expected in out, out
    _assert_nothing_written(run)


def test_a_fifo_named_samples_is_refused_not_waited_on(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    os.mkfifo(run / "samples.jsonl")  # nobody ever writes to it: reading it would block
    code, out = _report(run)
    assert code == 1 and f"{run / 'samples.jsonl'}: is not a regular file" in out, out
    _assert_nothing_written(run)


def test_a_sparse_two_gigabyte_ledger_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A crash-zeroed tail: real lines, then 2 GB of holes (NUL bytes, no newline). Refused
    at the first line over the bound; peak memory stays far below the file's size."""
    run = write_run(tmp_path / "r", journal(10.0), requests(10, 30))
    with (run / "requests.jsonl").open("r+b") as handle:
        handle.truncate(2 * 1024**3)
    tracemalloc.start()
    try:
        with pytest.raises(RunDirError) as info:
            build_report(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"{run / 'requests.jsonl'}:301: line is longer than 1 MiB (NUL bytes: a crash-zeroed tail?)"
    )
    assert peak < 64 * 1024**2, peak
    _assert_nothing_written(run)


def test_a_region_or_step_named_like_mathtext_is_drawn_as_written(tmp_path: Path) -> None:
    name = "$\\frac{x$"
    run = write_run(
        tmp_path / "r", journal(10.0), requests(10, 30, region=lambda t: name),
        run_json={"regions": {"primary": name, "secondary": "us-west-2"}},
        steps_jsonl=[{"time": BASE + 12, "step": name, "event": "confirmed"}],
    )  # fmt: skip
    code, out = _report(run)
    assert code == 0, out
    assert "$\\frac{x$" in (run / "report.html").read_text()


def test_compare_refuses_a_summary_that_is_not_one(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", journal(10.0), requests(10, 30))
    b = write_run(tmp_path / "b", journal(10.0), requests(10, 30))
    (a / "summary.json").write_text("[1, 2]")
    os.mkfifo(b / "summary.json")
    result = CliRunner().invoke(main, ["report", "--compare", str(a), str(b)])
    assert result.exit_code == 1 and "summary.json: is not a gameday summary" in result.output
    result = CliRunner().invoke(main, ["report", "--compare", str(b), str(a)])
    assert result.exit_code == 1 and f"{b / 'summary.json'}: is not a regular file" in result.output
