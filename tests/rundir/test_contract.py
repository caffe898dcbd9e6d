"""The run directory's contract: one set of names, records that agree with their shipped
JSON Schemas, the real writers' lines valid against them, and the layering it relies on."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import gameday
from gameday import rundir
from gameday.rundir import records

PACKAGE = Path(gameday.__file__).parent

#: record class per schema, and how a field of the schema is named in the record
RECORDS = {
    "request": records.LedgerRecord,
    "sample": records.Sample,
    "note": records.Note,
    "step": records.StepEvent,
    "history-line": records.HistoryLine,
}


def _fields(cls: type) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    return list(cls._fields)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(set(rundir.SCHEMAS.values())))
def test_every_shipped_schema_is_a_valid_2020_12_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(rundir.schema(name))


@pytest.mark.parametrize(("name", "cls"), sorted(RECORDS.items()))
def test_each_record_has_exactly_its_schema_fields(name: str, cls: type) -> None:
    assert _fields(cls) == list(rundir.schema(name)["properties"])


def test_run_info_reads_every_field_of_the_run_schema() -> None:
    read = {f.name for f in dataclasses.fields(records.RunInfo)} - {"primary", "secondary"}
    assert read | {"schema", "regions"} == set(rundir.schema("run")["properties"])


def test_the_load_and_the_report_share_one_ledger_record_type() -> None:
    from gameday.load import ledger
    from gameday.reports import measure, runfiles

    assert ledger.LedgerRecord is runfiles.Request is records.LedgerRecord
    assert measure.LedgerRecord is records.LedgerRecord


def test_the_drill_and_the_report_use_the_same_names() -> None:
    from gameday.drill import rundir as drill_rundir
    from gameday.reports import evidence

    for name in ("RUN_JSON", "JOURNAL", "REQUESTS", "SAMPLES", "FAULTS", "LAB_EVENTS", "STEPS",
                 "NOTES", "CONFIRMATIONS", "CURRENT"):  # fmt: skip
        assert getattr(drill_rundir, name) == getattr(rundir, name)
    assert evidence.HISTORY == rundir.HISTORY


def _validate(name: str, data: object) -> None:
    jsonschema.validate(data, rundir.schema(name), cls=jsonschema.Draft202012Validator)


def test_what_the_real_writers_write_is_valid_against_the_schemas(tmp_path: Path) -> None:
    """Lines written by the drill's own code (the sampler, ``gameday note``, the runbook's
    step log, run.json) and by the load's recorder, read back and validated."""
    from gameday.actions.runbook import _record
    from gameday.cli import main
    from gameday.drill.artefacts import write_run_json
    from gameday.drill.sampler import Sampler
    from gameday.drill.state import DrillRun

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / rundir.RUN_JSON).write_text("{}")
    sampler = Sampler(run_dir / rundir.SAMPLES, None, 1.0)  # type: ignore[arg-type]
    sampler._record("replication_lag", "a->b", lambda: (0.25, True))
    sampler._record("health_check", "hc", lambda: ({"healthy": False}, False))
    sampler._record("dns_answer", "svc", lambda: (_ for _ in ()).throw(OSError("no answer")))
    result = CliRunner().invoke(main, ["note", "failing over now", "--run-dir", str(run_dir)])
    assert result.exit_code == 0, result.output
    _record(run_dir, "promote", "confirmed", "by hand")
    write_run_json(
        DrillRun(experiment={"title": "t"}, configuration={}, secrets={}, run_dir=run_dir)
    )
    for name, schema in (
        ("samples.jsonl", "sample"),
        ("notes.jsonl", "note"),
        ("steps.jsonl", "step"),
    ):
        lines = (run_dir / name).read_text().splitlines()
        assert lines
        for line in lines:
            _validate(schema, json.loads(line))
    _validate("run", json.loads((run_dir / rundir.RUN_JSON).read_text()))


def test_a_ledger_record_round_trips_and_validates() -> None:
    record = records.LedgerRecord(1.79e9, 1.79e9 + 0.01, "write", "POST", 201, True, 10.0,
                                  "us-east-1", "127.0.1.1", "w1", None, "sticky")  # fmt: skip
    data = json.loads(record.to_json())
    _validate("request", data)
    assert records.LedgerRecord.from_json(data) == record and record.acknowledged


# -- layering ------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _package_imports(folder: Path) -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE)): _imports(p) for p in folder.rglob("*.py")}


def test_the_contract_imports_nothing_of_the_drill_report_load_or_lab() -> None:
    for module, names in _package_imports(PACKAGE / "rundir").items():
        gameday_imports = {n for n in names if n.startswith("gameday")}
        assert all(n.startswith("gameday.rundir") for n in gameday_imports), (module, names)


def test_load_never_imports_reports_and_the_ledger_recorder_cycle_is_gone() -> None:
    for module, names in _package_imports(PACKAGE / "load").items():
        assert not any(n.startswith("gameday.reports") for n in names), module
    assert not any("recorder" in n for n in _imports(PACKAGE / "load" / "ledger.py"))


def test_reports_never_import_the_drill_the_control_or_the_lab() -> None:
    banned = ("gameday.drill", "gameday.control", "gameday.lab")
    for module, names in _package_imports(PACKAGE / "reports").items():
        assert not any(n.startswith(banned) for n in names), (module, names)
